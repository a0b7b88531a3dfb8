# SPDX-License-Identifier: MIT
"""The firmware resource of the admin API (issue 4): streaming multipart upload with
max_firmware_size, deduplication by SHA-256, the non-ESP refusal and force=true, list,
get with the jobs using it, delete with 409 while a job is active; and the upload
mistakes users make (over the limit, cut short, wrong content type, a text field)."""

import hashlib
import os
import socket
import ssl
import time
import uuid

import pytest

import admin as admin_mod
import checks
import images
from conftest import start_server

LIMIT = 1024 * 1024     # max_firmware_size of this module's server


@pytest.fixture(scope="module")
def otad():
    srv = start_server(name="otad-firmware", config={"admind": {"max_firmware_size": "1M"}})
    yield srv
    srv.finish()


def multipart(parts):
    """parts: (name, filename or None, bytes); returns (body, content type)."""
    boundary = "----e2e" + uuid.uuid4().hex
    out = b""
    for name, filename, data in parts:
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out += ("--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)).encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=" + boundary


def upload(admin, data, filename="fw.bin", query=""):
    body, ctype = multipart([("file", filename, data)])
    return admin.request("POST", "/admin/firmware" + query, body=body,
                         headers={"Content-Type": ctype})


_err = checks.api_error


def fw_dir(srv):
    return os.path.join(checks.state_dir(srv), "firmware")


def leftovers(srv):
    return [n for n in os.listdir(fw_dir(srv)) if n.startswith(".upload-")]


def raw(srv, head, chunks=(), timeout=10):
    """Sends head and body chunks over TLS (ignoring a server that stops reading);
    returns (status, headers dict, body, seconds until the answer)."""
    s = socket.create_connection(("127.0.0.1", srv.admin_port), timeout=timeout)
    ss = admin_mod._ctx().wrap_socket(s)
    t0 = time.monotonic()
    data = b""
    try:
        ss.sendall(head)
        for c in chunks:
            ss.sendall(c)
    except (OSError, ssl.SSLError):
        pass
    try:
        while b"\r\n\r\n" not in data:
            got = ss.recv(65536)
            if not got:
                break
            data += got
        elapsed = time.monotonic() - t0
        hdr, _, body = data.partition(b"\r\n\r\n")
        lines = hdr.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (ln.partition(":") for ln in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            got = ss.recv(65536)
            if not got:
                break
            body += got
        return int(lines[0].split()[1]), headers, body, elapsed
    finally:
        ss.close()


def auth(srv):
    import base64
    return "Authorization: Basic %s\r\n" % base64.b64encode(
        ("%s:%s" % (srv.user, srv.password)).encode()).decode()


def test_upload_get_list_and_dedupe(otad, admin):
    img = images.esp8266_image(version="4.0.1", build="Feb 01 2027 01:01:01")
    r = upload(admin, img, filename="Sketch.ino.bin")
    assert r.status == 201, r
    fw = r.json()
    assert r.header("Location") == "/admin/firmware/%d" % fw["id"]
    assert fw["duplicate"] is False and fw["size"] == len(img)
    assert fw["sha256"] == hashlib.sha256(img).hexdigest()
    assert fw["md5"] == hashlib.md5(img).hexdigest()
    assert fw["format"] == "esp8266" and fw["version"] == "4.0.1"
    assert fw["build"] == "Feb 01 2027 01:01:01" and fw["board"] == "NodeMCU"
    assert fw["filename"] == "Sketch.ino.bin" and fw["uploaded_by"] == "admin"
    # the same image again: the same row, stored once
    r = upload(admin, img, filename="again.bin")
    assert r.status == 200, r
    again = r.json()
    assert again["id"] == fw["id"] and again["duplicate"] is True
    assert again["filename"] == "Sketch.ino.bin"
    assert len(checks.stored_copies(otad, img)) == 1

    got = admin.request("GET", "/admin/firmware/%d" % fw["id"]).json()
    assert got["sha256"] == fw["sha256"] and got["jobs"] == [] and got["deleted_at"] is None
    lst = admin.request("GET", "/admin/firmware").json()
    assert [f["id"] for f in lst["firmware"]].count(fw["id"]) == 1
    assert lst["total"] == len(lst["firmware"])
    lst = admin.request("GET", "/admin/firmware?format=esp8266&limit=1").json()
    assert lst["limit"] == 1 and len(lst["firmware"]) == 1
    _err(admin.request("GET", "/admin/firmware/99999"), 404, "firmware.not_found")


def test_non_esp_refused_unless_forced(otad, admin):
    junk = b"#!/bin/sh\necho this is not firmware\n" * 50
    msg = _err(upload(admin, junk, filename="script.sh"), 422, "firmware.unknown_format")
    assert "E9" in msg and "1F 8B" in msg and "force=true" in msg
    assert checks.stored_copies(otad, junk) == []
    r = upload(admin, junk, filename="script.sh", query="?force=true")
    assert r.status == 201, r
    assert r.json()["format"] == "unknown"
    assert len(checks.stored_copies(otad, junk)) == 1


def test_upload_mistakes(otad, admin, workdir):
    img = images.esp8266_image(version="4.0.2", size=64 * 1024)
    # a text field instead of a file (curl -F file=fw.bin, the @ forgotten)
    body, ctype = multipart([("file", None, b"fw.bin")])
    msg = _err(admin.request("POST", "/admin/firmware", body=body,
                             headers={"Content-Type": ctype}), 400, "upload.not_a_file")
    assert "@" in msg
    # no "file" field at all
    body, ctype = multipart([("image", "fw.bin", img)])
    _err(admin.request("POST", "/admin/firmware", body=body,
                       headers={"Content-Type": ctype}), 400, "upload.no_file")
    # the wrong content type: curl --data-binary @fw.bin
    with open(os.path.join(workdir, "fw.bin"), "wb") as f:
        f.write(img)
    res = admin_mod.run_curl(
        "curl -v --insecure -u admin:%s --data-binary @fw.bin "
        "-H 'Content-Type: application/octet-stream' https://127.0.0.1:%d/admin/firmware"
        % (otad.password, otad.admin_port), cwd=workdir)
    assert res.status == 415, res.describe()
    assert res.json()["error"]["code"] == "upload.content_type"
    assert "-F file=@" in res.json()["error"]["message"]
    # a body cut short: Content-Length honest, closing boundary missing
    body, ctype = multipart([("file", "fw.bin", img)])
    cut = body[:len(body) // 2]
    _err(admin.request("POST", "/admin/firmware", body=cut,
                       headers={"Content-Type": ctype}), 400, "upload.truncated")
    assert checks.stored_copies(otad, img) == []
    # the client goes away mid-body: nothing stored, no temporary left
    head = ("POST /admin/firmware HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (auth(otad), ctype, len(body))).encode()
    s = admin_mod._ctx().wrap_socket(socket.create_connection(
        ("127.0.0.1", otad.admin_port), timeout=5))
    s.sendall(head + body[:len(body) // 2])
    time.sleep(0.2)
    s.close()
    deadline = time.monotonic() + 3
    while leftovers(otad) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(otad) == []
    assert admin.request("GET", "/admin/firmware?limit=1").status == 200


def test_over_the_limit_is_413_without_reading_it(otad, admin):
    before = admin.request("GET", "/admin/firmware").json()["total"]
    # a declared length past the limit: answered at once, the body never read
    body, ctype = multipart([("file", "big.bin", b"\xe9" * 1024)])
    head = ("POST /admin/firmware HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (auth(otad), ctype, 200 * 1024 * 1024)).encode()
    status, headers, resp, elapsed = raw(otad, head, [body[:4096]])
    assert status == 413, resp
    assert b"firmware.too_large" in resp and b"max_firmware_size" in resp
    assert elapsed < 2.0, "413 took %.1f s" % elapsed
    # chunked (no length): refused once the file part passes the limit
    img = images.esp8266_image(version="9.9.9", size=LIMIT + 64 * 1024)
    body, ctype = multipart([("file", "big.bin", img)])
    head = ("POST /admin/firmware HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % (auth(otad), ctype)).encode()
    chunks = [b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
              for i in range(0, len(body), 65536)] + [b"0\r\n\r\n"]
    status, headers, resp, _ = raw(otad, head, chunks)
    assert status == 413, resp
    assert b"firmware.too_large" in resp
    assert checks.stored_copies(otad, img) == []
    assert admin.request("GET", "/admin/firmware").json()["total"] == before
    # exactly the limit is fine
    img = images.esp8266_image(version="9.9.8", size=LIMIT)
    assert upload(admin, img).status == 201


def test_delete_and_409_while_a_job_uses_it(otad, admin, workdir):
    dev = admin.create_device()                     # offline: the job stays active
    img = images.esp8266_image(version="5.0.0", build="Mar 03 2027 03:03:03")
    fw = upload(admin, img).json()
    # the legacy upload of the same image makes a job on the same firmware row
    r = admin.ota_start(img, token=dev["token"])
    assert r.status == 201, r
    job = r.json()["job"]
    assert job["firmware_id"] == fw["id"]
    msg = _err(admin.request("DELETE", "/admin/firmware/%d" % fw["id"]), 409,
               "firmware.in_use")
    assert str(job["id"]) in msg
    got = admin.request("GET", "/admin/firmware/%d" % fw["id"]).json()
    assert [j["id"] for j in got["jobs"]] == [job["id"]]
    assert got["jobs"][0]["state"] == "active"
    assert len(checks.stored_copies(otad, img)) == 1

    assert admin.ota_stop().status == 200
    r = admin.request("DELETE", "/admin/firmware/%d" % fw["id"])
    assert r.status == 204, r
    assert checks.stored_copies(otad, img) == []
    # the stopped job still names it: the row stays, marked deleted
    got = admin.request("GET", "/admin/firmware/%d" % fw["id"]).json()
    assert got["deleted_at"] is not None and got["jobs"][0]["id"] == job["id"]
    lst = admin.request("GET", "/admin/firmware").json()
    assert fw["id"] not in [f["id"] for f in lst["firmware"]]
    _err(admin.request("DELETE", "/admin/firmware/%d" % fw["id"]), 404,
         "firmware.not_found")
    # uploading it again brings it back
    r = upload(admin, img)
    assert r.status == 201 and r.json()["id"] == fw["id"], r
    assert len(checks.stored_copies(otad, img)) == 1
    assert admin.request("GET", "/admin/firmware/%d" % fw["id"]).json()["deleted_at"] is None

    # firmware no job ever used: the row goes too
    other = upload(admin, images.esp8266_image(version="5.0.1")).json()
    assert admin.request("DELETE", "/admin/firmware/%d" % other["id"]).status == 204
    _err(admin.request("GET", "/admin/firmware/%d" % other["id"]), 404,
         "firmware.not_found")
