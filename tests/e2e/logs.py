# SPDX-License-Identifier: MIT
"""The end of a log file, for a failing test's report."""


def tail(path, title, lines):
    """The last lines of the file at path under a "--- title path" header."""
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no %s)" % title
    return "--- %s %s (last %d lines)\n%s" % (title, path, lines, "\n".join(data[-lines:]))
