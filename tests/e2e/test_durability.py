"""Durability (DESIGN.md section 4.7): kill -9 any daemon at any stage of an OTA and,
after `otad run` restarts it, the job goes on with nothing lost, nothing sent twice
that should not be, and every state true.
"""
import os
import subprocess
import time

import pytest

import lifecycle as lc
from lifecycle import (Device, NEW_BUILD, NEW_VERSION, download_until_served,
                       login_until_accepted)


@pytest.fixture(scope="module")
def image():
    return lc.new_image(seed="durability")








def wait_admin(admin, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if admin.request("GET", "/admin/health", user=None).status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "admind did not come back"
        time.sleep(0.1)


def test_admind_killed_after_the_command(otad, admin, image):
    dev = login_until_accepted(Device(otad, admin))
    fw = lc.upload(admin, image, token=dev.token)
    url = dev.wait_ota()
    lc.kill9(otad, "admind")
    wait_admin(admin)
    # hwd re-sent its online list: the device is online again, and the
    # command it already has is not sent a second time
    got = admin.wait_device(dev.id, lambda d: d["online"])
    assert got["online"], got
    assert dev.wait_ota(timeout=1.5) is None
    download_until_served(dev, url, image)
    dev.reboot(NEW_VERSION, NEW_BUILD)
    d = lc.wait_delivery(admin, fw["job"]["id"], dev.id, "succeeded")
    assert d["state"] == "succeeded" and d["attempts"] == 1, d
    dev.close()


def test_hwd_killed_after_the_command(otad, admin, image):
    dev = login_until_accepted(Device(otad, admin))
    fw = lc.upload(admin, image, token=dev.token)
    url = dev.wait_ota()
    lc.kill9(otad, "hwd")
    dev.close()
    login_until_accepted(dev)                   # the device reconnects
    again = dev.wait_ota()                      # and is told again, same ticket
    assert again == url
    download_until_served(dev, url, image)
    dev.reboot(NEW_VERSION, NEW_BUILD)
    d = lc.wait_delivery(admin, fw["job"]["id"], dev.id, "succeeded")
    assert d["state"] == "succeeded" and d["attempts"] == 1, d
    dev.close()


def test_fwstore_killed_mid_download(otad, admin):
    big = lc.new_image(size=4 * 1024 * 1024, seed="big")
    dev = login_until_accepted(Device(otad, admin))
    fw = lc.upload(admin, big, token=dev.token)
    url = dev.wait_ota()
    host, port, path = __import__("esphttp").split_url(url)
    import socket
    s = socket.create_connection((host, port))
    s.sendall(__import__("esphttp").esp8266_request(url))
    s.recv(65536)                               # the download is under way
    lc.kill9(otad, "fwstore")
    s.close()
    download_until_served(dev, url, big)        # the device tries again
    dev.reboot(NEW_VERSION, NEW_BUILD)
    d = lc.wait_delivery(admin, fw["job"]["id"], dev.id, "succeeded")
    assert d["state"] == "succeeded", d
    dev.close()


def test_admind_killed_while_the_device_reboots(otad, admin, image):
    dev = login_until_accepted(Device(otad, admin))
    fw = lc.upload(admin, image, token=dev.token)
    url = dev.wait_ota()
    assert dev.download(url).body == image
    assert lc.wait_delivery(admin, fw["job"]["id"], dev.id,
                            "downloaded")["state"] == "downloaded"
    dev.close()
    lc.kill9(otad, "admind", wait_back=False)
    dev.version, dev.build = NEW_VERSION, NEW_BUILD
    login_until_accepted(dev)                   # 19 while admind is away
    wait_admin(admin)
    d = lc.wait_delivery(admin, fw["job"]["id"], dev.id, "succeeded", timeout=15)
    assert d["state"] == "succeeded", d
    dev.close()


def test_admind_killed_during_an_upload_stores_nothing(otad, admin, workdir):
    path = os.path.join(workdir, "fw.bin")
    with open(path, "wb") as f:
        f.write(lc.new_image(size=8 * 1024 * 1024, seed="upload-kill"))
    before = admin.request("GET", "/admin/jobs").json()["total"]
    curl = subprocess.Popen(["curl", "-sS", "--limit-rate", "2M", "--insecure",
                             "-u", "admin:" + otad.password, "-F", "file=@" + path,
                             "https://127.0.0.1:%d/admin/ota/start" % otad.admin_port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    lc.kill9(otad, "admind")
    curl.wait(timeout=20)
    assert curl.returncode != 0                 # the client saw the failure
    wait_admin(admin)
    assert admin.request("GET", "/admin/jobs").json()["total"] == before
    fwdir = os.path.join(otad.dir, "state", "firmware")
    assert not [n for n in os.listdir(fwdir) if n.startswith(".upload-")]


def test_admind_killed_mid_download(otad, admin):
    """fwstore finishes a transfer it already started while admind is away."""
    big = lc.new_image(size=2 * 1024 * 1024, seed="mid")
    dev = login_until_accepted(Device(otad, admin))
    fw = lc.upload(admin, big, token=dev.token)
    url = dev.wait_ota()
    import socket
    import esphttp
    host, port, _ = esphttp.split_url(url)
    s = socket.create_connection((host, port))
    s.sendall(esphttp.esp8266_request(url))
    data = s.recv(65536)
    lc.kill9(otad, "admind", wait_back=False)
    assert lc.read_body(s, data) == big
    dev.close()
    dev.version, dev.build = NEW_VERSION, NEW_BUILD
    login_until_accepted(dev)                   # 19 until admind is back
    wait_admin(admin)
    d = lc.wait_delivery(admin, fw["job"]["id"], dev.id, "succeeded", timeout=15)
    assert d["state"] == "succeeded", d
    dev.close()
