# SPDX-License-Identifier: MIT
"""The device resource of the admin API (issue 4): create, bulk import (JSON and
CSV), list with filters and paging, get with hardware info and delivery history,
update name and tags, rotate the token, delete; ?tag= on the legacy upload; every
action in the audit log."""

import uuid

import admin as admin_mod
import blynk
import checks
import images


_err = checks.api_error


def _tag():
    return "t" + uuid.uuid4().hex[:8]


def test_create_get_patch_delete(otad, admin):
    tag = _tag()
    r = admin.json_request("POST", "/admin/devices",
                           {"name": "porch", "tags": [tag, "outdoor", tag]})
    assert r.status == 201, r
    dev = r.json()
    assert r.header("Location") == "/admin/devices/%d" % dev["id"]
    assert dev["tags"] == [tag, "outdoor"] and len(dev["token"]) == 32
    assert dev["created_at"].endswith("Z")

    r = admin.request("GET", "/admin/devices/%d" % dev["id"])
    assert r.status == 200, r
    got = r.json()
    assert got["name"] == "porch" and got["online"] is False
    assert got["deliveries"] == [] and "token" not in got
    assert got["last_seen"] is None and got["address"] is None

    r = admin.json_request("PATCH", "/admin/devices/%d" % dev["id"],
                           {"name": "front porch", "tags": "a, b"})
    assert r.status == 200, r
    assert r.json()["name"] == "front porch" and r.json()["tags"] == ["a", "b"]
    r = admin.json_request("PATCH", "/admin/devices/%d" % dev["id"], {"tags": []})
    assert r.status == 200 and r.json()["tags"] == [] and r.json()["name"] == "front porch"

    r = admin.request("DELETE", "/admin/devices/%d" % dev["id"])
    assert r.status == 204 and r.body == b"", r
    _err(admin.request("GET", "/admin/devices/%d" % dev["id"]), 404, "device.not_found")
    _err(admin.request("DELETE", "/admin/devices/%d" % dev["id"]), 404, "device.not_found")
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login(dev["token"]) == blynk.INVALID_TOKEN


def test_device_errors(otad, admin):
    dev = admin.create_device()
    path = "/admin/devices/%d" % dev["id"]
    _err(admin.json_request("POST", "/admin/devices", {"tags": ["x"]}), 400,
         "device.name_missing")
    _err(admin.json_request("POST", "/admin/devices", {"name": "x", "token": "short"}),
         400, "device.bad_token")
    _err(admin.json_request("POST", "/admin/devices", {"name": "x", "tags": ["a b"]}),
         400, "device.bad_tags")
    _err(admin.json_request("POST", "/admin/devices", {"name": "x", "colour": "red"}),
         400, "request.unknown_field")
    _err(admin.request("POST", "/admin/devices", body=b"{not json",
                       headers={"Content-Type": "application/json"}), 400,
         "request.bad_json")
    _err(admin.json_request("POST", "/admin/devices",
                            {"name": "twin", "token": dev["token"]}), 409,
         "device.token_exists")
    msg = _err(admin.json_request("PATCH", path, {}), 400, "device.nothing_to_change")
    assert "/token" in msg
    _err(admin.json_request("PATCH", path, {"token": "abcdefgh1"}), 400,
         "request.unknown_field")
    _err(admin.json_request("PATCH", "/admin/devices/999999", {"name": "x"}), 404,
         "device.not_found")
    _err(admin.request("GET", "/admin/devices?limit=ten"), 400, "request.bad_paging")
    _err(admin.request("GET", "/admin/devices?online=maybe"), 400, "request.bad_filter")
    _err(admin.request("PUT", path), 405, "method_not_allowed")


def test_rotate_token(otad, admin):
    dev = admin.create_device()
    r = admin.json_request("POST", "/admin/devices/%d/token" % dev["id"])
    assert r.status == 200, r
    new = r.json()["token"]
    assert new != dev["token"] and len(new) == 32
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login(dev["token"]) == blynk.INVALID_TOKEN
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login(new) == blynk.OK
    # an imported token (a device flashed with it already)
    mine = "imported-" + uuid.uuid4().hex
    r = admin.json_request("POST", "/admin/devices/%d/token" % dev["id"], {"token": mine})
    assert r.status == 200 and r.json()["token"] == mine, r
    other = admin.create_device()
    _err(admin.json_request("POST", "/admin/devices/%d/token" % other["id"],
                            {"token": mine}), 409, "device.token_exists")
    _err(admin.json_request("POST", "/admin/devices/999999/token"), 404,
         "device.not_found")


def test_import_json_and_csv(otad, admin):
    tag = _tag()
    tok = "flashed-" + uuid.uuid4().hex
    r = admin.json_request("POST", "/admin/devices/import", {"devices": [
        {"name": "imp-a", "token": tok, "tags": [tag]},
        {"name": "imp-b", "tags": tag + ",second"}]})
    assert r.status == 201, r
    obj = r.json()
    assert obj["imported"] == 2
    assert obj["devices"][0]["token"] == tok and len(obj["devices"][1]["token"]) == 32
    assert obj["devices"][1]["tags"] == [tag, "second"]
    with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
        assert c.login(tok) == blynk.OK

    csv = ('name,tags,token\r\nimp-c,"%s,csv",\r\n\r\n"imp ""d""",%s,csv-%s\r\n'
           % (tag, tag, uuid.uuid4().hex)).encode()
    r = admin.request("POST", "/admin/devices/import", body=csv,
                      headers={"Content-Type": "text/csv"})
    assert r.status == 201, r
    devs = r.json()["devices"]
    assert [d["name"] for d in devs] == ["imp-c", 'imp "d"']
    assert devs[0]["tags"] == [tag, "csv"] and devs[1]["token"].startswith("csv-")
    r = admin.request("GET", "/admin/devices?tag=" + tag)
    assert r.json()["total"] == 4, r


def test_import_is_all_or_nothing(otad, admin):
    before = admin.devices()["total"]
    dup = admin.create_device()["token"]
    msg = _err(admin.json_request("POST", "/admin/devices/import", [
        {"name": "ok-1"}, {"name": "dup", "token": dup}]), 409, "device.token_exists")
    assert "Device 2" in msg and "Nothing was imported" in msg
    msg = _err(admin.request("POST", "/admin/devices/import",
                             body=b"name,token\nfine,\n,abcdefghij\n",
                             headers={"Content-Type": "text/csv"}), 400,
               "device.name_missing")
    assert "CSV line 3" in msg
    _err(admin.request("POST", "/admin/devices/import", body=b"model,serial\nx,y\n",
                       headers={"Content-Type": "text/csv"}), 400, "import.bad_format")
    _err(admin.request("POST", "/admin/devices/import", body=b'name\n"open\n',
                       headers={"Content-Type": "text/csv"}), 400, "import.bad_format")
    _err(admin.request("POST", "/admin/devices/import", body=b"<devices/>",
                       headers={"Content-Type": "application/xml"}), 415,
         "import.content_type")
    _err(admin.json_request("POST", "/admin/devices/import", []), 400, "import.empty")
    assert admin.devices()["total"] == before + 1


def test_list_filters_and_paging(otad, admin):
    tag = _tag()
    devs = [admin.json_request("POST", "/admin/devices",
                               {"name": "f%d" % i, "tags": [tag]}).json()
            for i in range(3)]
    with blynk.device("127.0.0.1", otad.hwd_port, devs[1]["token"],
                      mcu="7.7.7", dev="ESP32-DevKit"):
        admin.wait_device(devs[1]["id"], lambda d: d["fw_version"] == "7.7.7")
        r = admin.request("GET", "/admin/devices?tag=%s&online=true" % tag)
        assert [d["id"] for d in r.json()["devices"]] == [devs[1]["id"]]
        assert r.json()["total"] == 1
        r = admin.request("GET", "/admin/devices?tag=%s&online=false&limit=1&offset=1"
                          % tag)
        obj = r.json()
        assert obj["total"] == 2 and [d["id"] for d in obj["devices"]] == [devs[2]["id"]]
        r = admin.request("GET", "/admin/devices?fw_version=7.7.7&board=ESP32-DevKit")
        assert [d["id"] for d in r.json()["devices"]] == [devs[1]["id"]], r
        got = admin.request("GET", "/admin/devices/%d" % devs[1]["id"]).json()
        assert got["online"] is True and got["address"].startswith("127.0.0.1")
        assert got["board"] == "ESP32-DevKit" and got["last_seen"].endswith("Z")
    r = admin.request("GET", "/admin/devices?tag=%s&limit=2&offset=1" % tag)
    obj = r.json()
    assert obj["total"] == 3 and obj["limit"] == 2 and obj["offset"] == 1
    assert [d["id"] for d in obj["devices"]] == [devs[1]["id"], devs[2]["id"]]
    r = admin.request("GET", "/admin/devices?tag=no-such-tag-here")
    assert r.json() == {"devices": [], "total": 0, "offset": 0, "limit": None,
                        "next": None}


def test_cursor_paging(otad, admin):
    """?after= pages by id: each page's "next" is the following page's cursor, a device
    added or deleted between pages neither repeats nor hides the others, cursor pages
    carry no total, and a cursor that is no id is refused with how to page."""
    tag = _tag()
    devs = [admin.json_request("POST", "/admin/devices",
                               {"name": "c%d" % i, "tags": [tag]}).json()["id"]
            for i in range(5)]
    first = admin.request("GET", "/admin/devices?tag=%s&limit=2" % tag).json()
    assert [d["id"] for d in first["devices"]] == devs[:2]
    assert first["total"] == 5 and first["next"] == devs[1]
    assert admin.request("DELETE", "/admin/devices/%d" % devs[2]).status == 204
    late = admin.json_request("POST", "/admin/devices",
                              {"name": "late", "tags": [tag]}).json()["id"]
    seen, after, pages = [d["id"] for d in first["devices"]], first["next"], 1
    while after is not None:
        page = admin.request("GET", "/admin/devices?tag=%s&limit=2&after=%d"
                             % (tag, after)).json()
        assert page["total"] is None
        seen += [d["id"] for d in page["devices"]]
        after, pages = page["next"], pages + 1
    assert seen == [devs[0], devs[1], devs[3], devs[4], late] and pages == 3
    r = admin.request("GET", "/admin/devices?q=c%d&after=0" % 3)
    assert r.status == 200 and r.json()["next"] is None
    r = admin.request("GET", "/admin/devices?after=seven")
    assert r.status == 400 and r.json()["error"]["code"] == "request.bad_paging"
    assert "next" in r.json()["error"]["message"]


def test_legacy_start_by_tag_and_history(otad, admin, workdir):
    tag = _tag()
    tagged = [admin.json_request("POST", "/admin/devices",
                                 {"name": "tg%d" % i, "tags": [tag]}).json()
              for i in range(2)]
    other = admin.create_device()
    img = images.esp8266_image(version="3.1.4", build="Jan 02 2027 03:04:05")
    checks.write_seed_image(workdir, img)
    line = ("curl -v -F file=@%s --insecure -u admin:%s "
            "https://127.0.0.1:%d/admin/ota/start?tag=%s"
            % (checks.SEED_FILE, otad.password, otad.admin_port, tag))
    res = admin_mod.run_curl(line, cwd=workdir)
    assert res.status == 201, res.describe()
    obj = res.json()
    assert obj["devices_targeted"] == 2, obj
    assert obj["job"]["target_kind"] == "tag", obj
    job = admin.request("GET", "/admin/jobs/%d" % obj["job"]["id"]).json()
    assert job.get("target", job.get("job", {}).get("target")) == tag, job
    with blynk.device("127.0.0.1", otad.hwd_port, tagged[0]["token"]) as c:
        assert c.wait_for_ota(timeout=5) is not None
    got = admin.request("GET", "/admin/devices/%d" % tagged[0]["id"]).json()
    assert len(got["deliveries"]) == 1
    h = got["deliveries"][0]
    assert h["job_id"] == obj["job"]["id"] and h["fw_version"] == "3.1.4"
    assert h["firmware_id"] == obj["firmware"]["id"] and h["state"] != "queued"
    assert admin.request("GET", "/admin/devices/%d" % other["id"]).json()["deliveries"] == []
    admin.ota_stop()

    res = admin_mod.run_curl(line.replace(tag, "nobody-has-this"), cwd=workdir)
    assert res.status == 404 and res.json()["error"]["code"] == "tag.no_devices", \
        res.describe()
    res = admin_mod.run_curl(line + "&token=" + tagged[0]["token"], cwd=workdir)
    assert res.status == 400, res.describe()
    assert res.json()["error"]["code"] == "request.conflicting_targets"


def test_actions_are_audited(otad, admin):
    dev = admin.create_device(name="audited")
    admin.json_request("PATCH", "/admin/devices/%d" % dev["id"], {"tags": ["x"]})
    admin.json_request("POST", "/admin/devices/%d/token" % dev["id"])
    admin.request("DELETE", "/admin/devices/%d" % dev["id"])
    rows = checks.db_rows(otad, "SELECT kind, actor, remote FROM events"
                          " WHERE device_id = ? ORDER BY id", (dev["id"],))
    kinds = [k for k, _, _ in rows]
    for k in ("device.created", "device.updated", "device.token_rotated",
              "device.deleted"):
        assert k in kinds, rows
    assert all(a == "admin" and r.startswith("127.0.0.1") for _, a, r in rows
               if k.startswith("device.")), rows


def test_delete_and_rotate_close_the_devices_connections(otad, admin):
    """A deleted device, or one whose token was rotated (it leaked), does not stay
    connected on the old credentials: hwd closes every connection it has."""
    dev = admin.create_device()
    one = blynk.device("127.0.0.1", otad.hwd_port, dev["token"])
    two = blynk.device("127.0.0.1", otad.hwd_port, dev["token"])
    bystander = admin.create_device()
    other = blynk.device("127.0.0.1", otad.hwd_port, bystander["token"])
    clients = [one, two, other]
    try:
        r = admin.json_request("POST", "/admin/devices/%d/token" % dev["id"])
        assert r.status == 200, r
        assert one.closes_within(5) and two.closes_within(5)
        assert other.ping(timeout=3) == blynk.OK
        with blynk.BlynkClient("127.0.0.1", otad.hwd_port).connect() as c:
            assert c.login(dev["token"]) == blynk.INVALID_TOKEN
        again = blynk.device("127.0.0.1", otad.hwd_port, r.json()["token"])
        clients.append(again)
        r = admin.request("DELETE", "/admin/devices/%d" % dev["id"])
        assert r.status == 204, r
        assert again.closes_within(5)
        assert other.ping(timeout=3) == blynk.OK
        got = admin.request("GET", "/admin/devices/%d" % bystander["id"]).json()
        assert got["online"] is True
    finally:
        for c in clients:
            c.close()


def test_device_ids_are_never_reused(otad, admin):
    first = admin.create_device()
    newest = admin.create_device()
    assert admin.request("DELETE", "/admin/devices/%d" % newest["id"]).status == 204
    later = admin.create_device()
    assert later["id"] > newest["id"] > first["id"]


def test_search_by_name_tag_or_id(otad, admin):
    """?q= finds text in the name or the tags (any case), or the exact id, with the
    other filters and paging: what an operator types to find one device of thousands."""
    mark = uuid.uuid4().hex[:8]
    porch = admin.json_request("POST", "/admin/devices",
                               {"name": "Porch-%s" % mark, "tags": ["outdoor"]}).json()
    attic = admin.json_request("POST", "/admin/devices",
                               {"name": "attic", "tags": ["Floor-%s" % mark]}).json()
    admin.create_device()
    r = admin.request("GET", "/admin/devices?q=%s" % mark.upper())
    assert r.status == 200, r
    assert sorted(d["id"] for d in r.json()["devices"]) == [porch["id"], attic["id"]]
    assert r.json()["total"] == 2
    r = admin.request("GET", "/admin/devices?q=porch-%s&tag=outdoor" % mark).json()
    assert [d["id"] for d in r["devices"]] == [porch["id"]]
    r = admin.request("GET", "/admin/devices?q=%s&limit=1&offset=1" % mark).json()
    assert r["total"] == 2 and [d["id"] for d in r["devices"]] == [attic["id"]]
    r = admin.request("GET", "/admin/devices?q=%d" % attic["id"]).json()
    assert attic["id"] in [d["id"] for d in r["devices"]]
    r = admin.request("GET", "/admin/devices?q=no-such-%s" % mark).json()
    assert r["total"] == 0 and r["devices"] == []
