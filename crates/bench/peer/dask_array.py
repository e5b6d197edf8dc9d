"""The array workloads of `cargo xtask bench --only array`, on Dask Array (threads) or NumPy.

usage: python dask_array.py ENGINE WORKLOAD N
  ENGINE: dask-threads | numpy;  WORKLOAD: xT | mean-std | slice | matmul | rechunk | chain
  N: the side of the square array (matmul: the side of each matrix)
prints one tab-separated line: engine, workload, seconds (the compute alone), peak RSS bytes
of this process (ru_maxrss), and the result's sum.
Each run is its own process, so the peak belongs to one workload.
"""
import resource
import sys
import time

import numpy as np

engine, workload, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
C = 1000


def dask_graph():
    import dask
    import dask.array as da

    if workload == "xT":
        x = da.random.random((n, n), chunks=(C, C))
        return [(x + x.T).sum(axis=0)]
    if workload == "mean-std":
        x = da.random.random((n, n), chunks=(C, C))
        return [x.mean(axis=0), x.std()]
    if workload == "slice":
        x = da.random.random((n, n), chunks=(C, C))
        return [x[::2, ::3].sum()]
    if workload == "matmul":
        a = da.random.random((n, n), chunks=(C, C))
        b = da.random.random((n, n), chunks=(C, C))
        return [(a @ b).sum()]
    if workload == "rechunk":
        x = da.random.random((n, n), chunks=(C, n))
        return [x.rechunk((n, C)).sum()]
    if workload == "chain":
        x = da.random.random((n, n), chunks=(C, C))
        return [(da.sqrt(x * x + 1) * 2 - x).sum()]
    raise SystemExit(f"unknown workload {workload}")


def numpy_run():
    rng = np.random.default_rng(42)
    if workload == "matmul":
        a, b = rng.random((n, n)), rng.random((n, n))
        start = time.perf_counter()
        return start, [(a @ b).sum()]
    x = rng.random((n, n))
    start = time.perf_counter()
    if workload == "xT":
        return start, [(x + x.T).sum(axis=0)]
    if workload == "mean-std":
        return start, [x.mean(axis=0), x.std()]
    if workload == "slice":
        return start, [x[::2, ::3].sum()]
    if workload == "rechunk":
        # NumPy has no chunks: a C-ordered copy of the transpose moves the same bytes.
        return start, [np.ascontiguousarray(x.T).sum()]
    if workload == "chain":
        return start, [(np.sqrt(x * x + 1) * 2 - x).sum()]
    raise SystemExit(f"unknown workload {workload}")


if engine == "dask-threads":
    import dask

    outs = dask_graph()
    start = time.perf_counter()
    results = dask.compute(*outs, scheduler="threads")
else:
    # NumPy's time excludes making its input: it starts from data in memory.
    start, results = numpy_run()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
total = float(sum(np.sum(r) for r in results))
print(f"{engine}\t{workload}\t{seconds:.4f}\t{peak}\t{total:.6g}")
