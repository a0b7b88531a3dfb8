#!/usr/bin/env python3
"""admind's files call each other one way only (docs/ARCHITECTURE.md).

Reads the symbol tables (nm) of each directory's object files in the build
directory given as the argument: which file defines each function, which
files use it.  Any set of files that call each other in a circle, directly
or through others, fails the check with the circle printed.  Exits 0 when
there is none, 1 when there is one."""

import glob
import os
import subprocess
import sys

# admind's layers are the ones the delivery lifecycle's truth rests on.  The
# other directories still have circles (hwd's connection and its peers,
# common's HTTP files, fwstore's download and send): not checked yet.
DIRS = ("admind",)


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True)
    defined, used = set(), set()
    for line in out.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] == "T":
            defined.add(f[2])
        elif len(f) == 2 and f[0] == "U":
            used.add(f[1])
    return defined, used


def call_graph(build, d):
    defs, uses = {}, {}
    for obj in glob.glob(os.path.join(build, d, "*.p", "*.c.o")):
        name = os.path.basename(obj)[:-2]
        defs[name], uses[name] = symbols(obj)
    owner = {s: f for f, ss in defs.items() for s in ss}
    return {f: {owner[s] for s in uses[f] if owner.get(s, f) != f} for f in defs}


def circles(graph):
    """The strongly connected sets of more than one file (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    build = sys.argv[1]
    bad = 0
    for d in DIRS:
        graph = call_graph(build, d)
        if not graph:
            print("%s: no object files under %s" % (d, build))
            bad = 1
        for group in circles(graph):
            bad = 1
            print("%s: these files call each other in a circle:" % d)
            for f in group:
                print("  %s -> %s" % (f, ", ".join(sorted(graph[f] & set(group)))))
    if not bad:
        print("no call circles between the files of %s" % ", ".join(DIRS))
    return bad


if __name__ == "__main__":
    sys.exit(main())
