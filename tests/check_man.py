#!/usr/bin/env python3
"""otad.conf(5) documents every configuration key (issue 19).

Reads the key table of common/cfg.c (the K(section, name, kind, member,
default) lines) and docs/man/otad.conf.5.scd, and fails, naming them, when a
key of the table has no "*name* = default" entry under its "## [section]"
heading with the table's default (an empty default reads "(none)" or
"(all)"), or when the page documents a key the table does not have.  A key
added to cfg.c later fails the unit suite until the page describes it.
Exits 0 when they agree, 1 otherwise."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, "common", "cfg.c")
PAGE = os.path.join(ROOT, "docs", "man", "otad.conf.5.scd")
KEY = re.compile(r'\bK\(\s*"(\w+)",\s*"(\w+)",\s*\w+,\s*[\w.]+,\s*"([^"]*)"\s*\)')
HEADING = re.compile(r"^## \[(\w+)\]\s*$")
ENTRY = re.compile(r"^\*(\w+)\* = (.*?)\s*$")


def table_keys():
    with open(CFG) as f:
        keys = {(s, n): d for s, n, d in KEY.findall(f.read())}
    if len(keys) < 10:
        sys.exit("check_man: read only %d keys from %s: has the K() table changed?"
                 % (len(keys), CFG))
    return keys


def page_keys():
    keys, section = {}, None
    with open(PAGE) as f:
        for line in f:
            m = HEADING.match(line)
            if m:
                section = m.group(1)
            elif line.startswith("# "):
                section = None
            elif section is not None and ENTRY.match(line):
                name, default = ENTRY.match(line).groups()
                keys[(section, name)] = default
    return keys


def main():
    table, page = table_keys(), page_keys()
    problems = []
    for (section, name), default in sorted(table.items()):
        if (section, name) not in page:
            problems.append("[%s] %s (default %r) is not in %s: add a \"*%s* = ...\" "
                            "entry under \"## [%s]\"" % (section, name, default,
                                                         os.path.relpath(PAGE, ROOT),
                                                         name, section))
            continue
        shown = page[(section, name)]
        if shown != default and not (default == "" and shown in ("(none)", "(all)")):
            problems.append("[%s] %s: the page says %r, cfg.c's default is %r"
                            % (section, name, shown, default))
    for section, name in sorted(set(page) - set(table)):
        problems.append("[%s] %s is documented but common/cfg.c has no such key"
                        % (section, name))
    for p in problems:
        print("check_man: " + p)
    if problems:
        return 1
    print("check_man: %d keys documented" % len(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
