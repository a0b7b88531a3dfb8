"""Issue 18, firmware: nodes sharing one PostgreSQL database serve every image from
every node.  An image uploaded on node B is stored once in the database (firmware_data,
1 MiB chunks, in the upload's transaction) and copied into node A's firmware directory,
verified, before A's admind grants its download; a damaged copy in the database is
never served, and the log says why.  Each test uses its own devices and images.
"""
import os
import re
import time

import pytest

import lifecycle as lc
from conftest import start_server
from lifecycle import Device, NEW_VERSION, NEW_BUILD

CHUNK = 1024 * 1024
SIZE = 2 * CHUNK + 12345                # three chunks, the last one short


@pytest.fixture(scope="module")
def cluster(postgres):
    """Nodes a and b on one fresh database: (postgres, database name, a, b)."""
    db = postgres.create_database()
    uri = postgres.uri(db)
    a = start_server(database=uri, node="a", name="node-a")
    try:
        b = start_server(database=uri, node="b", name="node-b")
    except BaseException:
        a.finish()
        raise
    yield postgres, db, a, b
    b.finish()
    a.finish()


def image(seed):
    return lc.new_image(size=SIZE, seed=seed)


def upload_on_b(cluster, seed):
    """A new image of SIZE bytes uploaded on node B: (its bytes, the firmware)."""
    img = image(seed)
    return img, lc.upload_firmware(cluster[3].admin(), img)


def fw_dir(srv):
    return os.path.join(srv.dir, "state", "firmware")


def fw_file(srv, sha256):
    return os.path.join(fw_dir(srv), sha256)


def chunks(postgres, db, sha256):
    """[(seq, length)] of the image's rows in firmware_data."""
    return [(int(s), int(n)) for s, n in postgres.psql(
        "SELECT seq, length(data) FROM firmware_data WHERE sha256 = '%s' ORDER BY seq"
        % sha256, db)]


def row_versions(postgres, db, sha256):
    """How many chunk rows the image has, and the sum of their row versions (xmin):
    unchanged when nothing was written to them."""
    return postgres.psql("SELECT count(*), sum(xmin::text::bigint) FROM firmware_data "
                         "WHERE sha256 = '%s'" % sha256, db)


def ota_on_a(cluster, fw):
    """A new device of the cluster with a job for fw created on node B, logged in on
    node A: (device, job, the URL of its ota command)."""
    _, _, a, b = cluster
    dev = Device(a, b.admin())                  # the device row is the cluster's
    job = lc.create_job(b.admin(), fw["id"], devices=[dev.id])
    dev.connect()                               # logs in on node A
    url = dev.wait_ota()
    assert url is not None, "the device on node A got no ota command"
    assert ":%d/" % a.fw_port in url, url
    return dev, job, url


def on_node(url, srv):
    """The download URL with srv's fwstore port: the same ticket on another node."""
    return re.sub(r":\d+/", ":%d/" % srv.fw_port, url, count=1)


def log_lines(srv, pattern):
    with open(srv.log_path, encoding="utf-8", errors="replace") as f:
        return [line for line in f if re.search(pattern, line)]


def wait_log(srv, pattern, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not log_lines(srv, pattern) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log_lines(srv, pattern)


def test_the_firmware_directory_starts_empty_on_a(cluster):
    _, _, a, _ = cluster
    assert os.listdir(fw_dir(a)) == []


def test_an_upload_on_b_reaches_a_device_on_a(cluster):
    postgres, db, a, b = cluster
    img, fw = upload_on_b(cluster, "b-to-a")
    sha = fw["sha256"]
    assert chunks(postgres, db, sha) == [(0, CHUNK), (1, CHUNK), (2, 12345)]
    assert os.path.exists(fw_file(b, sha)) and not os.path.exists(fw_file(a, sha))

    dev, job, url = ota_on_a(cluster, fw)
    r = dev.download(url)
    assert r.status == 200 and r.body == img, r
    with open(fw_file(a, sha), "rb") as f:
        assert f.read() == img
    assert wait_log(a, r"firmware %s: %d bytes copied from the database to .*, verified"
                    % (sha, SIZE)), a.log_tail()
    # the ticket works on node B's fwstore too
    r = dev.download(on_node(url, b))
    assert r.status == 200 and r.body == img, r
    dev.reboot(NEW_VERSION, NEW_BUILD)
    d = lc.wait_delivery(b.admin(), job["id"], dev.id, "succeeded")
    assert d["state"] == "succeeded" and d["attempts"] == 1, d
    assert lc.delivery_of(a.admin(), job["id"], dev.id)["state"] == "succeeded"
    dev.close()


def test_a_reupload_adds_nothing(cluster):
    postgres, db, a, b = cluster
    img, first = upload_on_b(cluster, "twice")
    rows = row_versions(postgres, db, first["sha256"])
    again = lc.upload_firmware(a.admin(), img)
    assert again["id"] == first["id"] and again["duplicate"] is True
    assert row_versions(postgres, db, first["sha256"]) == rows
    assert rows[0][0] == "3"
    assert postgres.psql("SELECT count(*) FROM firmware WHERE sha256 = '%s'"
                         % first["sha256"], db) == [["1"]]


def test_the_legacy_upload_stores_the_chunks_with_its_job(cluster):
    postgres, db, a, b = cluster
    img = image("legacy")
    dev = Device(a, b.admin())
    started = lc.upload(b.admin(), img, token=dev.token)   # POST /admin/ota/start
    sha = started["firmware"]["sha256"]
    assert [n for _, n in chunks(postgres, db, sha)] == [CHUNK, CHUNK, 12345]
    dev.connect()
    url = dev.wait_ota()
    assert url is not None and ":%d/" % a.fw_port in url, url
    r = dev.download(url)
    assert r.status == 200 and r.body == img, r
    dev.close()


def test_a_damaged_copy_is_refused_and_the_log_says_why(cluster):
    postgres, db, a, b = cluster
    img, fw = upload_on_b(cluster, "damaged")
    sha = fw["sha256"]
    postgres.psql("UPDATE firmware_data SET data = overlay(data placing '\\xdeadbeef'::bytea "
                  "from 1000) WHERE sha256 = '%s' AND seq = 1" % sha, db)
    dev, _, url = ota_on_a(cluster, fw)
    r = dev.download(url)
    assert r.status == 500 and r.body == b"firmware unavailable\n", r
    assert not os.path.exists(fw_file(a, sha))
    assert [f for f in os.listdir(fw_dir(a))
            if f.startswith(".upload-")] == []
    lines = wait_log(a, r"sha256 %s\): the database's copy is damaged, its bytes have "
                     r"the SHA-256 [0-9a-f]{64}; this node does not serve the image" % sha)
    assert lines, a.log_tail()

    # asked again at once, node A neither reads the copy again nor logs it again
    assert dev.download(url).status == 500
    assert len(log_lines(a, r"sha256 %s\): the database's copy is damaged" % sha)) == 1

    # an upload of the same image again repairs the copy: the same ticket works
    # once node A looks at the database again (within seconds)
    again = lc.upload_firmware(b.admin(), img)
    assert again["id"] == fw["id"] and again["duplicate"] is True
    lc.download_until_served(dev, url, img, timeout=15)
    with open(fw_file(a, sha), "rb") as f:
        assert f.read() == img
    dev.close()


def test_a_missing_chunk_is_refused(cluster):
    postgres, db, a, b = cluster
    _, fw = upload_on_b(cluster, "missing")
    sha = fw["sha256"]
    postgres.psql("DELETE FROM firmware_data WHERE sha256 = '%s' AND seq = 2" % sha, db)
    dev, _, url = ota_on_a(cluster, fw)
    r = dev.download(url)
    assert r.status == 500, r
    assert wait_log(a, r"sha256 %s\): the database's copy is damaged, chunk 2 is missing "
                    r"after %d of %d bytes" % (sha, 2 * CHUNK, SIZE)), a.log_tail()
    dev.close()


def test_chunks_that_cannot_be_read_now_ask_the_device_to_retry(cluster):
    """The database fails the read (here: the table's owner took its own right to read
    it): 503 with Retry-After, the delivery unchanged; served once it reads again."""
    postgres, db, a, _ = cluster
    img, fw = upload_on_b(cluster, "unreadable")
    dev, job, url = ota_on_a(cluster, fw)
    postgres.psql("REVOKE SELECT ON firmware_data FROM otad", db)
    try:
        r = dev.download(url)
    finally:
        postgres.psql("GRANT SELECT ON firmware_data TO otad", db)
    assert r.status == 503 and r.header("Retry-After") == "5", r
    assert r.body == b"Try again later.\n", r
    assert wait_log(a, r"sha256 %s\): not copied from the database to this node \(see "
                    r"above\); its downloads are answered 503" % fw["sha256"]), a.log_tail()
    assert lc.delivery_of(a.admin(), job["id"], dev.id)["state"] == "sent"
    assert not os.path.exists(fw_file(a, fw["sha256"]))
    r = dev.download(url)
    assert r.status == 200 and r.body == img, r
    dev.close()


def test_chunks_that_cannot_be_stored_leave_no_firmware(cluster):
    postgres, db, a, b = cluster
    img = image("refused")
    postgres.psql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN RAISE EXCEPTION 'refused by the test'; END$$;"
        "CREATE TRIGGER refuse BEFORE INSERT ON firmware_data "
        "FOR EACH ROW EXECUTE FUNCTION refuse()", db)
    try:
        r = b.admin().request(
            "POST", "/admin/firmware", body=_multipart(img),
            headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    finally:
        postgres.psql("DROP TRIGGER refuse ON firmware_data; DROP FUNCTION refuse()", db)
    assert r.status == 500, r
    assert r.json()["error"]["message"].startswith("The firmware could not be saved"), r
    assert postgres.psql("SELECT count(*) FROM firmware WHERE size = %d AND filename = "
                         "'refused.bin'" % SIZE, db) == [["0"]]
    assert wait_log(b, r"firmware data put: .*refused by the test"), b.log_tail()
    # the same upload goes through once the database takes it
    fw = lc.upload_firmware(b.admin(), img, filename="refused.bin")
    assert fw["duplicate"] is False
    assert len(chunks(postgres, db, fw["sha256"])) == 3


def test_deleting_an_image_deletes_its_chunks(cluster):
    postgres, db, a, b = cluster
    _, fw = upload_on_b(cluster, "deleted")
    assert os.path.exists(fw_file(b, fw["sha256"]))
    assert len(chunks(postgres, db, fw["sha256"])) == 3
    r = b.admin().request("DELETE", "/admin/firmware/%d" % fw["id"])
    assert r.status == 204, r
    assert chunks(postgres, db, fw["sha256"]) == []
    assert not os.path.exists(fw_file(b, fw["sha256"]))


def _multipart(img, filename="refused.bin"):
    return (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
            filename.encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
            img + b"\r\n--xyz--\r\n")
