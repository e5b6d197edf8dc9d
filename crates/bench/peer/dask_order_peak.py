"""Peak live results of a graph run in dask.order's order.

Reads a graph as lines `key<TAB>dep<TAB>dep...` (keys in Python repr) on stdin, orders it
with dask.order.order, runs that order on paper (a result is held from its task until its
last dependent has run; tasks nothing depends on are held to the end) and prints the peak.
"""
import ast
import sys

from dask.order import order


def task(*args):
    return None


def main():
    deps = {}
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        fields = line.split("\t")
        key = ast.literal_eval(fields[0])
        deps[key] = [ast.literal_eval(d) for d in fields[1:]]
    dsk = {k: (task, *ds) for k, ds in deps.items()}
    priority = order(dsk)
    readers = {k: 0 for k in deps}
    for ds in deps.values():
        for d in set(ds):
            readers[d] += 1
    targets = {k for k, n in readers.items() if n == 0}
    live = peak = 0
    for k in sorted(deps, key=priority.__getitem__):
        live += 1
        peak = max(peak, live)
        for d in set(deps[k]):
            readers[d] -= 1
            if readers[d] == 0 and d not in targets:
                live -= 1
    print(peak)


if __name__ == "__main__":
    main()
