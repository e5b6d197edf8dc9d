"""Dask's side of rask's row-moving benchmark, on the peer dataset (`dask_frame.py` writes it).

usage: python dask_moves.py DATA_DIR
prints one tab-separated line per query: engine, query, seconds (median of 3), checksum
"""
import os
import sys
import time

import dask
import dask.dataframe as dd


def timed(query, fn, runs=3):
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"dask-threads\t{query}\t{times[len(times) // 2]:.6f}\t{float(result):.6f}", flush=True)


def main(root):
    facts = os.path.join(root, "facts", "*.parquet")
    with dask.config.set(scheduler="threads"):
        timed("shuffle", lambda: dd.read_parquet(facts, columns=["key", "x"]).shuffle("key", npartitions=20).x.sum().compute())
        def hash_join():
            a = dd.read_parquet(facts, columns=["id", "x"])
            b = dd.read_parquet(facts, columns=["id", "y"])
            m = a.merge(b, on="id", shuffle_method="tasks")
            return (m.x * m.y).sum().compute()
        timed("hash_join", hash_join)
        timed("groupby_split_out", lambda: len(dd.read_parquet(facts, columns=["id", "x"]).groupby("id").x.sum(split_out=4)))
        timed("set_index_loc", lambda: dd.read_parquet(facts, columns=["id", "x"]).set_index("id").loc[1_000_000:2_000_000].x.sum().compute())


if __name__ == "__main__":
    main(sys.argv[1])
