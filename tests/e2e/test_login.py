# SPDX-License-Identifier: MIT
"""A device created through the admin API logs in over the Blynk protocol, reports its
hardware info and shows up online in GET /admin/devices (issue 2 item 7, test 1)."""

import uuid

import blynk
import conftest


def connect(otad):
    return blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect()


def test_created_device_logs_in_and_shows_online(otad, admin):
    dev = admin.create_device()
    assert len(dev["token"]) == 32, "generated token %r is not 32 characters" % dev["token"]
    assert dev["name"].startswith("e2e-")
    with connect(otad) as c:
        assert c.login(dev["token"]) == 200
        assert c.send_info(mcu="0.1.0", build="Nov 23 2026 10:00:00") == 200
        assert c.ping() == 200
        d = admin.wait_device(dev["id"], lambda d: d.get("online") is True
                              and d.get("fw_version") == "0.1.0"
                              and d.get("build") == "Nov 23 2026 10:00:00")
        assert d is not None, "device %d missing from GET /admin/devices" % dev["id"]
        assert d.get("online") is True, "device not online: %r" % d
        assert d.get("name") == dev["name"]
        assert d.get("fw_version") == "0.1.0", d
        assert d.get("build") == "Nov 23 2026 10:00:00", d
        assert d.get("buff_in") == 1024 and d.get("h_beat") == 45, d
    d = admin.wait_device(dev["id"], lambda d: d.get("online") is False)
    assert d.get("online") is False, "device still online after disconnecting: %r" % d


def test_device_list_shape(otad, admin):
    dev = admin.create_device()
    obj = admin.devices()
    assert isinstance(obj.get("total"), int) and obj["total"] >= len(obj["devices"]), obj
    ids = [d["id"] for d in obj["devices"]]
    assert dev["id"] in ids
    d = next(d for d in obj["devices"] if d["id"] == dev["id"])
    assert d["online"] is False
    for key in ("id", "name", "online", "fw_version", "build"):
        assert key in d, "device object lacks %r: %r" % (key, d)
    assert "token" not in d or d["token"] != dev["token"], \
        "the token must be shown once, at creation: %r" % d


def test_given_token_is_used(otad, admin):
    token = uuid.uuid4().hex
    dev = admin.create_device(token=token)
    assert dev["token"] == token
    with connect(otad) as c:
        assert c.login(token) == 200


def test_demo_token_from_init_logs_in(otad):
    with connect(otad) as c:
        assert c.login(otad.demo_token) == 200
        assert c.send_info() == 200


def test_legacy_login_command(otad, admin):
    """LOGIN (2) is the same as HW_LOGIN (29), PROTOCOL.md 1.2."""
    dev = admin.create_device()
    with connect(otad) as c:
        assert c.login(dev["token"], cmd=blynk.LOGIN) == 200
        assert c.ping() == 200


def test_second_login_gets_4(otad, admin):
    dev = admin.create_device()
    with connect(otad) as c:
        assert c.login(dev["token"]) == 200
        mid = c.send(blynk.HW_LOGIN, dev["token"].encode(), msg_id=5)
        assert c.wait_response(mid) == blynk.ALREADY_REGISTERED


def test_two_connections_same_token(otad, admin):
    dev = admin.create_device()
    with connect(otad) as a, connect(otad) as b:
        assert a.login(dev["token"]) == 200
        assert b.login(dev["token"]) == 200
        assert a.ping() == 200
        assert b.ping() == 200


def test_sigterm_stops_all_daemons():
    srv = conftest.start_server(name="otad-sigterm")
    try:
        left = srv.stop()
        assert srv.proc.returncode is not None
        assert left == [], "; ".join(left) + "\n" + srv.log_tail()
    finally:
        srv.stop()
        srv.cleanup()
