"""A command that leads to no download within sent_timeout goes back to queued and
counts an attempt; at the attempt limit the delivery fails (issue 6, pacing)."""
import pytest

import lifecycle as lc
from conftest import start_server
from lifecycle import Device


@pytest.fixture(scope="module")
def quick():
    srv = start_server(name="otad-sent-timeout", config={"admind": {"sent_timeout": "1"}})
    yield srv
    srv.stop()
    srv.cleanup()


def test_missed_command_is_requeued_then_fails(quick):
    """The device stays online and ignores every command: each is requeued after
    sent_timeout and sent again (a new ticket), three attempts, then failed."""
    admin = quick.admin()
    dev = Device(quick, admin).connect()
    fw = lc.upload(admin, lc.new_image(), token=dev.token)
    job_id = fw["job"]["id"]
    urls = [dev.wait_ota() for _ in range(3)]
    assert None not in urls and len(set(urls)) == 3, urls
    assert lc.download_status(urls[0]) in (403, 404)    # a requeued ticket is dead
    d = lc.wait_delivery(admin, job_id, dev.id, "failed", timeout=5)
    assert d["state"] == "failed" and d["attempts"] == 3, d
    assert d["last_error"] == ("no download within 1 s of the command; attempt 3 of 3, "
                               "giving up"), d
    assert dev.wait_ota(timeout=2.0) is None    # and nothing more
    dev.close()
