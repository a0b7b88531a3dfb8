# SPDX-License-Identifier: MIT
"""Assertions shared by the end-to-end tests: what a device and a curl user must see."""

import os
import re

import blynk
import esphttp
import images

SEED_FILE = "Template_ESP8266.ino.nodemcu.bin"
OLD_INFO = dict(blynk.DEFAULT_INFO)                       # what the device runs now


def otad_key(srv, key, fallback=""):
    """[otad] key from the server's otad.conf."""
    from ini import read_ini
    return read_ini(srv.conf).get("otad", {}).get(key) or fallback


def state_dir(srv):
    """state_dir from the server's otad.conf."""
    return otad_key(srv, "state_dir", os.path.join(srv.dir, "state"))


def on_postgresql(srv):
    """Whether the server keeps its state in PostgreSQL ([otad] database)."""
    return bool(otad_key(srv, "database"))


def db_rows(srv, sql, params=()):
    """The rows of sql (with ? parameters: integers or text) in the server's
    database, read as an operator would, with sqlite3 or psql, while otad runs."""
    uri = otad_key(srv, "database")
    if not uri:
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state_dir(srv), "otad.db"),
                             uri=True)
        try:
            return [tuple(r) for r in db.execute(sql, params).fetchall()]
        finally:
            db.close()
    import pg
    values = iter(params)
    text = re.sub(r"\?", lambda m: _sql_literal(next(values)), sql)
    return [tuple(int(v) if v is not None and re.fullmatch(r"-?\d+", v) else v
                  for v in row) for row in pg.psql(["-d", uri], text)]


def _sql_literal(v):
    if isinstance(v, int):
        return str(v)
    return "'%s'" % str(v).replace("'", "''")


def api_error(r, status, code):
    """r is the API's error: status, {"error": {"code": code, "message": ...}}; the
    message."""
    assert r.status == status, "expected %d %s, got %r" % (status, code, r)
    e = r.json().get("error")
    assert isinstance(e, dict) and e.get("code") == code and e.get("message"), r
    return e["message"]


def metrics(srv, host="127.0.0.1"):
    """GET /metrics (no login: an allowed address is enough) as {name: value}."""
    import admin
    r = admin.Admin(host, srv.admin_port, user=None).request("GET", "/metrics")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r
    values = {}
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def stored_copies(srv, img):
    """Files under the server's state directory whose bytes are exactly img."""
    found = []
    for root, _, files in os.walk(state_dir(srv)):
        for name in files:
            p = os.path.join(root, name)
            try:
                if os.path.getsize(p) == len(img):
                    with open(p, "rb") as f:
                        if f.read() == img:
                            found.append(p)
            except OSError:
                pass
    return found


def write_seed_image(workdir, img):
    path = os.path.join(workdir, SEED_FILE)
    with open(path, "wb") as f:
        f.write(img)
    return path


def check_upload_answer(res, img, targeted=None):
    """The seed curl line's answer: exit 0, 2xx, the JSON of the contract."""
    assert res.returncode == 0, "curl failed\n" + res.describe()
    assert res.status in (200, 201), "expected 201 (or 200)\n" + res.describe()
    obj = res.json()
    d = images.digests(img)
    tag = images.parse_tag(img)
    assert isinstance(obj.get("job"), dict) and isinstance(obj["job"].get("id"), int), \
        "no job.id in %r" % obj
    fw = obj.get("firmware")
    assert isinstance(fw, dict), "no firmware object in %r" % obj
    assert fw.get("sha256") == d["sha256"], "firmware.sha256 %r != %s" % (fw.get("sha256"), d["sha256"])
    assert fw.get("md5") == d["md5"], "firmware.md5 %r != %s" % (fw.get("md5"), d["md5"])
    assert fw.get("size") == d["size"], "firmware.size %r != %d" % (fw.get("size"), d["size"])
    assert fw.get("format") == "esp8266", "firmware.format %r" % fw.get("format")
    assert fw.get("version") == tag["mcu"], "firmware.version %r != %r" % (fw.get("version"), tag["mcu"])
    assert fw.get("build") == tag["build"], "firmware.build %r != %r" % (fw.get("build"), tag["build"])
    assert isinstance(obj.get("devices_targeted"), int), "devices_targeted %r" % obj
    if targeted is not None:
        assert obj["devices_targeted"] == targeted, \
            "devices_targeted %r, expected %d" % (obj["devices_targeted"], targeted)
    msg = obj.get("message")
    assert isinstance(msg, str) and len(msg) > 10, "no message sentence in %r" % obj
    return obj


def check_ota_frame(f, fw_host, fw_port, buff_in=1024):
    """One INTERNAL frame carrying the whole `ota\\0<url>`; returns the URL."""
    assert f is not None, "no ota frame arrived"
    assert f.cmd == blynk.INTERNAL
    assert f.msg_id != 0, "msg_id 0 makes every client drop the connection"
    assert f.body[:4] == b"ota\0", f
    assert len(f.body) <= buff_in, "ota body %d bytes > buff-in %d" % (len(f.body), buff_in)
    url = blynk.ota_url(f)
    assert "\0" not in url, "NUL inside the URL: %r" % f.body
    m = re.fullmatch(r"http://([^/:]+|\[[^\]]+\]):(\d+)/ota/([A-Za-z0-9_~.-]+)", url)
    assert m, "ota URL %r is not http://host:port/ota/<ticket>" % url
    assert (m.group(1), int(m.group(2))) == (fw_host, fw_port), \
        "ota URL %r does not point at fwstore %s:%d" % (url, fw_host, fw_port)
    return url


def check_download(url, img):
    """ESP8266httpUpdate's request for url gets exactly img with the right headers."""
    r = esphttp.esp8266_get(url, timeout=15)
    d = images.digests(img)
    assert r.status == 200, "GET %s -> %r\n%r" % (url, r, r.body[:300])
    cl = r.all("Content-Length")
    assert cl == [str(len(img))], "Content-Length %r, image is %d bytes" % (cl, len(img))
    assert r.header("Content-Type") == "application/octet-stream", r
    assert r.header("Transfer-Encoding") is None, "chunked is never sent to a device: %r" % r
    md5 = r.header("x-MD5")
    assert md5 is not None, "no x-MD5 header: %r" % r
    assert re.fullmatch(r"[0-9a-f]{32}", md5), "x-MD5 %r is not 32 lowercase hex" % md5
    assert md5 == d["md5"], "x-MD5 %s != md5 of the upload %s" % (md5, d["md5"])
    sha = r.header("X-SHA256")
    assert sha == d["sha256_b64"], "X-SHA256 %r != %s" % (sha, d["sha256_b64"])
    assert len(r.body) == len(img), "body %d bytes, image %d" % (len(r.body), len(img))
    assert r.body == img, "body differs from the uploaded image"
    # Edgent's client reads headers only while bytes are buffered (PROTOCOL.md 2.3)
    assert b"\r\n\r\n" in r.first_chunk, \
        "status line and headers did not arrive in one piece: %r" % r.first_chunk[:300]
    return r
