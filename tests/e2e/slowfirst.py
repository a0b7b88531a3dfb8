"""The longest modules first.  scripts/test.sh runs the suite on two pytest-xdist
workers (-n 2 --dist loadfile: a module stays on one worker, with its server); a
long module handed out last would leave one worker running alone at the end.
Each takes 15 s or more on the 2-core test machine, longest first; a new module
that long belongs here too.  conftest.py imports the hook."""

import os

LONGEST = ("test_schedule.py", "test_lifecycle_random.py", "test_delivery_truth.py",
           "test_durability.py", "test_faults.py", "test_hostile_devices.py",
           "test_webhooks.py", "test_package.py", "test_bench_quick.py", "test_web.py",
           "test_consent.py", "test_operator.py", "test_cluster_adopt.py",
           "test_cluster.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(
        os.path.basename(item.nodeid.split("::")[0]), len(LONGEST)))
