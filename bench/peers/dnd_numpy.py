#!/usr/bin/python3
"""NumPy / SciPy peer of bench/dnd_bench.c: `dnd_numpy.py <case> [reps]` prints
value=<best seconds, or microseconds per call> for the same case and sizes
(float32 data; EQ_BENCH_SCALE scales the sizes as in the C driver)."""
import os
import sys
import time

import numpy as np
from scipy.spatial.distance import cdist

case = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
scale = float(os.environ.get("EQ_BENCH_SCALE", "1"))
rng = np.random.default_rng(0)


def best(fn):
    t = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


if case.startswith("mean") or case.startswith("std"):
    x = rng.random((int(2000000 * scale), 64), dtype=np.float32)
    axis = int(case[-1])
    f = np.mean if case.startswith("mean") else np.std
    v = best(lambda: f(x, axis=axis))
elif case.startswith("cdist"):
    x = rng.random((int(20000 * scale), 18), dtype=np.float32)
    if case == "cdist_exact":
        v = best(lambda: cdist(x, x))
    else:
        def quad():
            xx = np.einsum("ij,ij->i", x, x)
            d = xx[:, None] + xx[None, :] - 2 * (x @ x.T)
            np.maximum(d, 0, out=d)
            np.sqrt(d, out=d)
        v = best(quad)
elif case.startswith("matmul"):
    n = int(4096 * scale)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    v = best(lambda: a @ b)
elif case.startswith("resplit"):
    # One process: a resplit is a copy of the array.
    x = rng.random((int(20000000 * scale), 8), dtype=np.float32)
    v = best(lambda: x.copy())
elif case in ("getitem", "getitem_split0", "add1"):
    x = rng.random((10, 10), dtype=np.float32)
    calls = 200000
    if case == "add1":
        def loop():
            for _ in range(calls):
                x + 1
    else:
        def loop():
            for _ in range(calls):
                x[0]
    v = best(loop) / calls * 1e6
elif case in ("fft0", "fft1"):
    n = int(2048 * scale)
    z = rng.random((n, n)) + 1j * rng.random((n, n))
    v = best(lambda: np.fft.fft(z, axis=int(case[-1])))
else:
    sys.exit("dnd_numpy.py: unknown case " + case)
print("value=%.6g" % v)
