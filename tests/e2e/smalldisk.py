"""An otad whose state directory is a small tmpfs (the database copied in), so
that a test can fill its disk: uploads that find it full, transitions that
cannot be stored, jobs too big for what is left."""
import errno
import os
import shutil
import subprocess

import pytest

import checks
import conftest


class SmallDiskServer(conftest.OtadServer):
    """An otad whose state directory is a tmpfs of `size`."""

    def __init__(self, size="16m", **kw):
        super().__init__(**kw)
        self.size = size

    def configure(self):
        super().configure()
        state = checks.state_dir(self)
        keep = state + ".orig"
        shutil.copytree(state, keep)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % self.size,
                            "tmpfs", state], stderr=subprocess.PIPE)
        if r.returncode != 0:
            shutil.rmtree(keep)
            pytest.skip("cannot mount a tmpfs (%s)" % r.stderr.decode().strip())
        self.mounted = state
        for name in os.listdir(keep):
            src = os.path.join(keep, name)
            (shutil.copytree if os.path.isdir(src) else shutil.copy2)(
                src, os.path.join(state, name))
        shutil.rmtree(keep)

    def stop(self):
        left = super().stop()
        if getattr(self, "mounted", None):
            subprocess.run(["umount", "-l", self.mounted])
            self.mounted = None
        return left

    # -- the disk ---------------------------------------------------------------------
    def filler(self):
        return os.path.join(checks.state_dir(self), "filler")

    def free_bytes(self):
        st = os.statvfs(checks.state_dir(self))
        return st.f_bavail * st.f_frsize

    def fill(self, keep=0):
        """Leaves keep bytes free (0: none at all)."""
        want = self.free_bytes() - keep
        chunk = b"\xa5" * 65536
        with open(self.filler(), "ab") as f:
            try:
                while want > 0:
                    n = f.write(chunk[:min(len(chunk), want)])
                    f.flush()
                    want -= n
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        if keep == 0:
            assert self.free_bytes() == 0, self.free_bytes()

    def free(self):
        try:
            os.unlink(self.filler())
        except FileNotFoundError:
            pass


def small_disk(name, size):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if conftest.TEST_DATABASE == "postgresql":
        pytest.skip("the database is PostgreSQL's, not on the state directory's disk")
    return conftest.start_server(cls=SmallDiskServer, name=name, size=size)
