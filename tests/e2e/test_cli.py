# SPDX-License-Identifier: MIT
"""The `otad` command as a client of admind's admin API (issue 19): push with and without
--watch against devices that really update, the exit statuses and sentences a person sees,
--json for scripts, devices/jobs/stop, the login choices (password, API token, config
file, pinned key), and `otad backup` while uploads and deliveries run, restored into a new
state directory that a new otad serves with every device, image, job and delivery.
"""
import json
import os
import re
import subprocess
import threading
import time
import uuid

import pytest

import lifecycle as lc
from conftest import BINARIES, OtadServer, start_server
from ini import rewrite_ini
from lifecycle import Device, NEW_BUILD, NEW_VERSION

CLI_TIMEOUT = 60


@pytest.fixture(scope="module")
def image():
    return lc.new_image()


@pytest.fixture(scope="module")
def image_file(tmp_path_factory, image):
    path = tmp_path_factory.mktemp("fw") / "fw.bin"
    path.write_bytes(image)
    return str(path)


@pytest.fixture
def home(tmp_path):
    """An empty HOME, so that no client.conf of the machine is read."""
    d = tmp_path / "home"
    d.mkdir()
    return str(d)


def cli_env(srv, home, password=True, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTAD_")}
    env["HOME"] = home
    env.pop("XDG_CONFIG_HOME", None)
    if password:
        env["OTAD_PASSWORD"] = srv.password
    env.update(extra)
    return env


def url(srv):
    return "https://127.0.0.1:%d" % srv.admin_port


def otad_cmd(srv, home, *args, tls=("--insecure",), password=True, env=None,
             with_url=True, timeout=CLI_TIMEOUT):
    """Runs otad ARGS against srv; the CompletedProcess (text)."""
    argv = [BINARIES["otad"]] + list(args)
    if with_url:
        argv += ["--url", url(srv)] + list(tls)
    e = cli_env(srv, home, password=password)
    e.update(env or {})
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=e, timeout=timeout)


def otad_bg(srv, home, *args):
    argv = [BINARIES["otad"]] + list(args) + ["--url", url(srv), "--insecure"]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(srv, home))


def tagged_devices(srv, admin, n, **kw):
    tag = "cli-" + uuid.uuid4().hex[:8]
    devs = []
    for _ in range(n):
        d = Device(srv, admin, **kw)
        r = admin.json_request("PATCH", "/admin/devices/%d" % d.id, {"tags": [tag]})
        assert r.status == 200, r
        devs.append(d)
    return tag, devs


def newest_job(admin):
    jobs = admin.request("GET", "/admin/jobs?limit=1").json()["jobs"]
    return jobs[0]


# -- push ---------------------------------------------------------------------

def test_push_says_what_it_read_and_how_many_devices(otad, admin, home, image_file):
    tag, devs = tagged_devices(otad, admin, 2)
    r = otad_cmd(otad, home, "push", image_file, "--tag", tag, "--max-parallel", "5",
                 "--attempts", "2")
    assert r.returncode == 0, r
    out = r.stdout
    assert "esp8266" in out and "version %s" % NEW_VERSION in out, out
    assert "build %s" % NEW_BUILD in out and "board NodeMCU" in out, out
    assert re.search(r"job \d+ created: it reaches 2 devices with the tag", out), out
    assert "at most 5 at a time, 2 attempts each" in out, out
    # a plain line per tenth of the upload when stdout is no terminal
    assert "uploading fw.bin: 100%" in out, out
    job = newest_job(admin)
    assert job["target_kind"] == "tag" and job["target"] == tag, job
    assert job["deliveries"] == 2 and job["max_parallel"] == 5, job
    assert job["attempt_limit"] == 2 and job["state"] == "active", job
    assert "job %d created" % job["id"] in out
    admin.request("POST", "/admin/jobs/%d/stop" % job["id"])


def test_push_needs_a_target_that_has_devices(otad, admin, home, image_file):
    before = admin.request("GET", "/admin/jobs?limit=1").json()["total"]
    r = otad_cmd(otad, home, "push", image_file)
    assert r.returncode == 2, r
    assert "--device ID, --token T, --tag NAME or --all" in r.stderr, r.stderr
    r = otad_cmd(otad, home, "push", image_file, "--tag", "no such tag")
    assert r.returncode == 2, r
    assert r.stderr.startswith('otad: no device has the tag "no such tag"; nothing was '
                               'uploaded.'), r.stderr
    assert r.stdout == ""
    r = otad_cmd(otad, home, "push", image_file, "--all", "--max-parallel", "0")
    assert r.returncode == 2, r
    assert "--max-parallel 0: give a whole number from 1 to 100000" in r.stderr, r.stderr
    r = otad_cmd(otad, home, "push", image_file, "--device", "1,abc")
    assert r.returncode == 2 and '"abc" is no device id' in r.stderr, r
    r = otad_cmd(otad, home, "push", image_file, "--all", "--tag", "x")
    assert r.returncode == 2 and "with one of --device ID" in r.stderr, r
    assert admin.request("GET", "/admin/jobs?limit=1").json()["total"] == before


def test_push_by_device_token_and_ids(otad, admin, home, image_file):
    a, b, c = Device(otad, admin), Device(otad, admin), Device(otad, admin)
    r = otad_cmd(otad, home, "push", image_file, "--token", a.token, "--token", b.token)
    assert r.returncode == 0 and "it reaches 2 devices" in r.stdout, r
    job = newest_job(admin)
    assert sorted(d["device_id"] for d in lc.deliveries(admin, job["id"])) == [a.id, b.id]
    r = otad_cmd(otad, home, "push", image_file, "--device", "%d,%d" % (a.id, b.id),
                 "--device", str(c.id), "--failure-threshold", "20", "--force")
    assert r.returncode == 0 and "it reaches 3 devices" in r.stdout, r
    assert "pausing when over 20 % fail" in r.stdout, r.stdout
    job = newest_job(admin)
    assert job["force"] is True and job["failure_threshold"] == 20, job
    assert sorted(d["device_id"] for d in lc.deliveries(admin, job["id"])) == \
        sorted([a.id, b.id, c.id])
    admin.request("POST", "/admin/jobs/%d/stop" % job["id"])


def wait_watching(p):
    """The output up to the line that says the watch began, then a moment for the
    snapshot, so that what follows reaches it as live events."""
    seen = ""
    while "watching job" not in seen:
        line = p.stdout.readline()
        assert line, "otad ended before it watched: %r" % seen
        seen += line
    time.sleep(0.5)
    return seen


def push_watch(srv, admin, home, image, image_file, flash_ok, *options):
    """otad push --watch for a new device that updates (or comes back on its old
    build) once the watch is open: the device, exit status and output."""
    dev = Device(srv, admin).connect()
    p = otad_bg(srv, home, "push", image_file, "--device", str(dev.id), "--watch",
                *options)
    try:
        head = wait_watching(p)
        dev.update(image, timeout=20, flash_ok=flash_ok)
        out, err = p.communicate(timeout=CLI_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
        dev.close()
    return dev, p.returncode, head + out, err


def test_push_watch_follows_an_update_to_success(otad, admin, home, image, image_file):
    dev, rc, out, err = push_watch(otad, admin, home, image, image_file, True)
    assert rc == 0, (out, err)
    assert "watching job" in out, out
    # each change as it happened (stdout is no terminal: a line each)
    for state in ("sent", "downloading", "downloaded", "succeeded"):
        assert "device %d: %s\n" % (dev.id, state) in out, out
    assert re.search(r"job \d+ finished: every delivery ended", out), out
    assert "1 succeeded" in out.splitlines()[-1], out
    job = newest_job(admin)
    assert job["state"] == "finished" and job["counts"] == {"succeeded": 1}, job


def test_push_watch_prints_the_failure_and_exits_1(otad, admin, home, image, image_file):
    # the device comes back on its old build: the one attempt failed
    dev, rc, out, err = push_watch(otad, admin, home, image, image_file, False,
                                   "--attempts", "1")
    assert rc == 1, (out, err)
    job = newest_job(admin)
    d = lc.delivery_of(admin, job["id"], dev.id)
    assert d["state"] == "failed", d
    assert "device %d failed: %s" % (dev.id, d["last_error"]) in out, out
    assert "came back on build" in d["last_error"]
    assert "1 failed" in out.splitlines()[-1], out


def test_watch_goes_on_across_a_restart_of_admind(otad, admin, home, image, image_file):
    dev = Device(otad, admin).connect()
    p = otad_bg(otad, home, "push", image_file, "--device", str(dev.id), "--watch")
    try:
        head = wait_watching(p)
        url = dev.wait_ota(timeout=20)
        assert url is not None
        lc.kill9(otad, "admind")
        lc.download_until_served(dev, url, image)     # fwstore asks admind again
        dev.close()
        dev.version, dev.build = NEW_VERSION, NEW_BUILD
        lc.login_until_accepted(dev)                  # "rebooted" into the image
        out, err = p.communicate(timeout=CLI_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
        dev.close()
    out = head + out
    assert p.returncode == 0, (out, err)
    assert "lost the event stream (otad-admind restarting?); taking it again" in out, out
    assert "1 succeeded" in out.splitlines()[-1], out


def test_status_exits_1_while_a_daemon_is_away(otad, admin, home):
    lc.kill9(otad, "fwstore", wait_back=False)     # `otad run` starts it again
    r = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = otad_cmd(otad, home, "status")
        if "NOT CONNECTED" in r.stdout:
            break
        time.sleep(0.05)
    assert r.returncode == 1 and "otad-fwstore  NOT CONNECTED: no downloads" in r.stdout, r
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = otad_cmd(otad, home, "status")
        if r.returncode == 0:
            break
        time.sleep(0.2)
    assert r.returncode == 0 and "otad-fwstore  connected" in r.stdout, r


def test_watch_of_an_ended_job_says_so_at_once(otad, admin, home, image_file):
    dev = Device(otad, admin)
    r = otad_cmd(otad, home, "push", image_file, "--device", str(dev.id))
    job = newest_job(admin)
    assert otad_cmd(otad, home, "stop", str(job["id"])).returncode == 0
    r = otad_cmd(otad, home, "watch", str(job["id"]), timeout=15)
    assert r.returncode == 1, r           # its delivery was canceled, not done
    assert "job %d is stopped" % job["id"] in r.stdout, r.stdout
    assert "1 canceled" in r.stdout, r.stdout


# -- errors a person sees ----------------------------------------------------

def test_wrong_password_exits_2_with_the_servers_sentence(otad, home):
    r = otad_cmd(otad, home, "devices", env={"OTAD_PASSWORD": "wrong-" + uuid.uuid4().hex})
    assert r.returncode == 2, r
    assert r.stderr.startswith("otad: Wrong user or password."), r.stderr
    assert "--user, OTAD_PASSWORD" in r.stderr, r.stderr
    assert r.stdout == ""


def test_no_server_exits_2_saying_what_to_do(otad, home):
    from conftest import free_ports
    port = free_ports(1)[0]
    r = otad_cmd(otad, home, "status", "--url", "https://127.0.0.1:%d" % port,
                 with_url=False)
    assert r.returncode == 2, r
    assert ("cannot connect to https://127.0.0.1:%d" % port) in r.stderr, r.stderr
    assert "is otad-admind running? (--url)" in r.stderr, r.stderr


def test_self_signed_certificate_needs_pin_or_insecure(otad, home):
    r = otad_cmd(otad, home, "jobs", tls=())
    assert r.returncode == 2, r
    assert "certificate is not trusted" in r.stderr and "--pin" in r.stderr, r.stderr


def test_pin_printed_by_init_is_accepted_and_another_refused(otad, home):
    m = re.search(r"certificate pin:\s+(sha256:[0-9a-f]{64})", otad.init_output)
    assert m, otad.init_output
    r = otad_cmd(otad, home, "jobs", tls=("--pin", m.group(1)))
    assert r.returncode == 0, r
    r = otad_cmd(otad, home, "jobs", tls=("--pin", "sha256:" + "ab" * 32))
    assert r.returncode == 2, r
    assert "public key is not the one --pin names" in r.stderr, r.stderr
    r = otad_cmd(otad, home, "jobs", tls=("--pin", "sha256:abc"))
    assert r.returncode == 2 and "is not a pin" in r.stderr, r


def test_no_password_and_no_terminal_exits_2(otad, home):
    r = otad_cmd(otad, home, "devices", password=False)
    assert r.returncode == 2, r
    assert "no password for admin: set OTAD_PASSWORD" in r.stderr, r.stderr


def test_server_refusal_is_the_servers_sentence(otad, home):
    r = otad_cmd(otad, home, "jobs", "999999")
    assert r.returncode == 2, r
    assert r.stderr.strip() == "otad: There is no job 999999; GET /admin/jobs lists them.", \
        r.stderr


def test_not_an_esp_image_says_to_use_force(otad, home, tmp_path):
    blob = tmp_path / "notes.txt"
    blob.write_bytes(b"not firmware\n" * 100)
    r = otad_cmd(otad, home, "push", str(blob), "--all")
    assert r.returncode == 2, r
    assert "otad: otad push --force sends it anyway" in r.stderr, r.stderr
    assert r.stderr.startswith("otad: "), r.stderr
    assert "job" not in r.stdout and "created" not in r.stdout, r.stdout


def run_on_terminal(argv, env, answer=None, timeout=30):
    """argv with a terminal for stdin, stdout and stderr (its controlling one);
    answer is typed when a prompt ending in ": " shows. Exit status, output."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env)
    out, typed = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:                    # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if answer is not None and not typed and out.rstrip(b" ").endswith(b":"):
            os.write(fd, answer.encode() + b"\n")
            typed = True
    if time.monotonic() >= deadline:
        os.kill(pid, 9)                    # never a test that waits for ever
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def test_terminal_upload_bar_and_password_prompt(otad, admin, home, image_file):
    dev = Device(otad, admin)
    argv = [BINARIES["otad"], "push", image_file, "--device", str(dev.id), "--url",
            url(otad), "--insecure"]
    rc, out = run_on_terminal(argv, cli_env(otad, home, password=False),
                              answer=otad.password)
    assert rc == 0, out
    assert "password for admin at %s: " % url(otad) in out, out
    assert otad.password not in out, "the password was echoed: %r" % out
    # one line redrawn in place: bar, percent, bytes, rate, time left
    assert re.search(r"\rfw\.bin \[#{24}\] 100%  64\.0 KiB / 64\.0 KiB  \S+ \S+/s  "
                     r"0:00 left", out), out
    assert "\r\x1b[Kuploaded fw.bin: 64.0 KiB in" in out, out
    assert "uploading fw.bin:" not in out        # the plain lines are for pipes
    job = newest_job(admin)
    assert "job %d created: it reaches 1 device" % job["id"] in out
    admin.request("POST", "/admin/jobs/%d/stop" % job["id"])
    rc, out = run_on_terminal(argv, cli_env(otad, home, password=False), answer="wrong")
    assert rc == 2 and "Wrong user or password" in out, out


def test_terminal_watch_draws_the_job_bar(otad, admin, home, image, image_file):
    dev = Device(otad, admin).connect()
    argv = [BINARIES["otad"], "push", image_file, "--device", str(dev.id), "--watch",
            "--url", url(otad), "--insecure"]
    result = {}
    t = threading.Thread(target=lambda: result.update(
        zip(("rc", "out"), run_on_terminal(argv, cli_env(otad, home), timeout=40))))
    t.start()
    try:
        dev.update(image, timeout=20)
    finally:
        t.join(45)
        dev.close()
    assert result.get("rc") == 0, result
    out = result["out"]
    assert "\r\x1b[K[%s] 1/1 ended  succeeded 1" % ("#" * 24) in out, out
    assert out.rstrip().endswith("job %d: 1 delivery, 1 succeeded" % newest_job(admin)["id"])


def test_too_large_image_gets_the_servers_sentence(otad, home, tmp_path):
    huge = tmp_path / "huge.bin"
    huge.write_bytes(os.urandom(17 * 1024 * 1024))     # max_firmware_size: 16M
    r = otad_cmd(otad, home, "push", str(huge), "--all")
    assert r.returncode == 2, r
    assert "larger than max_firmware_size" in r.stderr, r.stderr
    assert "uploaded huge.bin" not in r.stdout, r.stdout


# -- logins ------------------------------------------------------------------

def test_api_token_from_the_environment(otad, admin, home):
    r = admin.json_request("POST", "/admin/tokens", {"name": "cli-" + uuid.uuid4().hex[:6]})
    assert r.status == 201, r
    token = r.json()["token"]
    r = otad_cmd(otad, home, "devices", "--json", password=False, env={"OTAD_TOKEN": token})
    assert r.returncode == 0, r
    assert json.loads(r.stdout)["total"] == admin.devices()["total"]
    r = otad_cmd(otad, home, "devices", "--api-token", "not-" + token, password=False)
    assert r.returncode == 2, r


def test_config_file_and_its_mode_warning(otad, admin, home):
    conf = os.path.join(home, ".config", "otad")
    os.makedirs(conf)
    path = os.path.join(conf, "client.conf")
    with open(path, "w") as f:
        f.write("url = %s\nuser = admin\npassword = %s\ninsecure = yes\n"
                % (url(otad), otad.password))
    os.chmod(path, 0o644)
    r = otad_cmd(otad, home, "devices", "--json", password=False, with_url=False)
    assert r.returncode == 0, r
    assert "holds a secret and every user can read it; chmod 600" in r.stderr, r.stderr
    os.chmod(path, 0o600)
    r = otad_cmd(otad, home, "devices", password=False, with_url=False)
    assert r.returncode == 0 and r.stderr == "", r
    with open(path, "a") as f:
        f.write("colour = blue\n")
    r = otad_cmd(otad, home, "devices", password=False, with_url=False)
    assert r.returncode == 2 and 'unknown key "colour"' in r.stderr, r


# -- listings ------------------------------------------------------------------

def test_json_output_is_the_apis(otad, admin, home, image_file):
    dev = Device(otad, admin)
    assert otad_cmd(otad, home, "push", image_file, "--device", str(dev.id)).returncode == 0
    job = newest_job(admin)
    devices = json.loads(otad_cmd(otad, home, "devices", "--json").stdout)
    assert devices == admin.devices() or devices["total"] == admin.devices()["total"]
    jobs = json.loads(otad_cmd(otad, home, "jobs", "--json").stdout)
    assert jobs["jobs"][0]["id"] == job["id"]
    one = json.loads(otad_cmd(otad, home, "jobs", str(job["id"]), "--json").stdout)
    assert one["job"]["id"] == job["id"]
    assert one["deliveries"]["deliveries"][0]["device_id"] == dev.id
    status = json.loads(otad_cmd(otad, home, "status", "--json").stdout)
    assert status["health"]["hwd_connected"] is True, status
    assert status["devices"] == admin.devices()["total"]
    assert job["id"] in [j["id"] for j in status["active_jobs"]["jobs"]]
    pushed = otad_cmd(otad, home, "push", image_file, "--device", str(dev.id), "--json")
    obj = json.loads(pushed.stdout)
    assert obj["firmware"]["version"] == NEW_VERSION and obj["job"]["deliveries"] == 1
    admin.request("POST", "/admin/jobs/%d/stop" % obj["job"]["id"])


def test_devices_jobs_status_and_stop(otad, admin, home, image_file):
    tag, devs = tagged_devices(otad, admin, 2)
    r = otad_cmd(otad, home, "devices", "--tag", tag)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "ONLINE"], lines
    assert len(lines) == 3, lines
    names = {admin.device(d.id)["name"] for d in devs}
    assert {ln.split()[1] for ln in lines[1:]} == names
    assert otad_cmd(otad, home, "push", image_file, "--tag", tag).returncode == 0
    job = newest_job(admin)
    r = otad_cmd(otad, home, "jobs")
    assert re.search(r"^%d\s+active\s+fw\.bin %s\s+tag %s" % (job["id"], NEW_VERSION, tag),
                     r.stdout, re.M), r.stdout
    r = otad_cmd(otad, home, "status")
    assert r.returncode == 0, r
    assert "otad-hwd      connected (2 workers)" in r.stdout and "otad-fwstore  connected" in r.stdout
    assert re.search(r"^devices: %d, \d+ online$" % admin.devices()["total"], r.stdout,
                     re.M), r.stdout
    r = otad_cmd(otad, home, "jobs", str(job["id"]))
    assert r.returncode == 0 and "deliveries 2: queued 2" in r.stdout, r.stdout
    r = otad_cmd(otad, home, "stop", str(job["id"]))
    assert r.returncode == 0, r
    assert r.stdout.strip() == "job %d stopped; 2 pending deliveries canceled" % job["id"]
    assert lc.job(admin, job["id"])["state"] == "stopped"
    r = otad_cmd(otad, home, "stop", str(job["id"]))
    assert r.returncode == 2, r
    assert "Job %d is stopped; it cannot be stopped." % job["id"] in r.stderr
    r = otad_cmd(otad, home, "stop", "abc")
    assert r.returncode == 2 and '"abc" is no job id' in r.stderr, r


# -- backup and restore ----------------------------------------------------------

class RestoredServer(OtadServer):
    """An otad whose state_dir is a restored backup; ready when token logs in."""

    def __init__(self, state_dir, token, **kw):
        super().__init__(**kw)
        self.restored = state_dir
        self.token = token

    def configure(self):
        super().configure()
        rewrite_ini(self.conf, {"otad": {"state_dir": self.restored}})
        self.demo_token = self.token


def api_view(admin):
    """Every device, image, job and delivery as the API shows them."""
    devices = {d["id"]: d["name"] for d in admin.devices()["devices"]}
    fws = admin.request("GET", "/admin/firmware").json()["firmware"]
    firmware = {f["id"]: (f["sha256"], f["size"]) for f in fws}
    jobs = {}
    for j in lc.jobs(admin):
        ds = lc.deliveries(admin, j["id"])
        jobs[j["id"]] = (j["firmware_id"], j["target_kind"], j["deliveries"],
                         sorted((d["id"], d["device_id"]) for d in ds))
    return devices, firmware, jobs


def test_backup_while_otad_works_restores_everything(otad, admin, home, image, tmp_path):
    # deliveries in flight: devices that update while the backup runs
    tag, devs = tagged_devices(otad, admin, 3)
    for d in devs:
        d.connect()
    fw_id = lc.upload_firmware(admin, image)["id"]
    job = lc.create_job(admin, fw_id, tag=tag)
    before = api_view(admin)

    big = lc.new_image(version="9.9.%d" % os.getpid(), size=6 * 1024 * 1024)
    uploaded = {}
    threads = [threading.Thread(target=lambda: uploaded.update(
        fw=lc.upload_firmware(admin, big, filename="big.bin")))]
    threads += [threading.Thread(target=d.update, args=(image, 20)) for d in devs]
    for t in threads:
        t.start()
    backup_dir = str(tmp_path / "backup")
    r = otad_cmd(otad, home, "backup", "-c", otad.conf, backup_dir, with_url=False)
    for t in threads:
        t.join(60)
    for d in devs:
        d.close()
    assert r.returncode == 0, r
    assert "backup of " in r.stdout and "MANIFEST" in r.stdout, r.stdout
    manifest = json.load(open(os.path.join(backup_dir, "MANIFEST")))
    assert manifest["otad_version"] and manifest["schema_version"] >= 1
    paths = {f["path"] for f in manifest["files"]}
    assert "otad.db" in paths
    sha = before[1][fw_id][0]
    assert "firmware/" + sha in paths
    assert not os.path.exists(os.path.join(backup_dir, "otad.db-wal"))
    # the copy holds token hashes: its owner's alone
    assert os.stat(backup_dir).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(backup_dir, "otad.db")).st_mode & 0o777 == 0o600

    # a backup that does not match its MANIFEST is refused, nothing written
    state = str(tmp_path / "state")
    r = otad_cmd(otad, home, "restore", backup_dir, state, with_url=False)
    assert r.returncode == 0, r
    assert "every file matched its SHA-256" in r.stdout
    r = otad_cmd(otad, home, "restore", backup_dir, state, with_url=False)
    assert r.returncode == 2 and "is not empty" in r.stderr, r

    srv = start_server(RestoredServer, state_dir=state, token=devs[0].token)
    try:
        restored = api_view(srv.admin())
    finally:
        srv.finish()
    r_devices, r_firmware, r_jobs = restored
    b_devices, b_firmware, b_jobs = before
    for dev_id, name in b_devices.items():
        assert r_devices.get(dev_id) == name, (dev_id, restored)
    for fid, what in b_firmware.items():
        assert r_firmware.get(fid) == what, (fid, restored)
    for jid, what in b_jobs.items():
        assert r_jobs.get(jid) == what, (jid, restored)
    # the upload that ran beside the backup: in it whole, or not at all
    fw = uploaded.get("fw")
    assert fw is not None
    if fw["id"] in r_firmware:
        assert r_firmware[fw["id"]] == (fw["sha256"], len(big))
        assert "firmware/" + fw["sha256"] in paths


def test_restore_refuses_a_damaged_backup(otad, home, tmp_path):
    backup_dir = str(tmp_path / "b")
    r = otad_cmd(otad, home, "backup", "-c", otad.conf, backup_dir, with_url=False)
    assert r.returncode == 0, r
    with open(os.path.join(backup_dir, "otad.db"), "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xff")
    state = str(tmp_path / "s")
    r = otad_cmd(otad, home, "restore", backup_dir, state, with_url=False)
    assert r.returncode == 2, r
    assert "does not match the MANIFEST" in r.stderr and "nothing was restored" in r.stderr
    assert not os.path.exists(os.path.join(state, "otad.db"))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_restore_gives_the_files_to_the_owner(otad, home, tmp_path):
    import pwd
    nobody = pwd.getpwnam("nobody")
    backup_dir = str(tmp_path / "b")
    assert otad_cmd(otad, home, "backup", "-c", otad.conf, backup_dir,
                    with_url=False).returncode == 0
    state = str(tmp_path / "s")
    r = otad_cmd(otad, home, "restore", "--owner", "nobody", backup_dir, state,
                 with_url=False)
    assert r.returncode == 0, r
    for root, dirs, files in os.walk(state):
        for name in dirs + files + [""]:
            st = os.stat(os.path.join(root, name))
            assert st.st_uid == nobody.pw_uid, (root, name)
    assert os.stat(os.path.join(state, "otad.db")).st_mode & 0o777 == 0o600
    r = otad_cmd(otad, home, "restore", "--owner", "no-such-user-x", backup_dir,
                 str(tmp_path / "t"), with_url=False)
    assert r.returncode == 2 and "--owner no-such-user-x: no such user" in r.stderr, r
