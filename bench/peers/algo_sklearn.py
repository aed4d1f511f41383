#!/usr/bin/python3
"""scikit-learn peer of bench/algo.sh: the same cases as bench/algo_bench.c
on data of the same shapes and distribution (uniform float32), timed the
same way (median of reps; fit only, data generation excluded).

    /usr/bin/python3 bench/peers/algo_sklearn.py <case> [scale] [reps]

Threads: whatever OMP_NUM_THREADS / OPENBLAS_NUM_THREADS say (algo.sh sets
them). Prints "seconds=<median> iters=<n>".
"""
import sys
import time
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.neighbors import KNeighborsClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)
case = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
rng = np.random.default_rng(0)


def data(n, d):
    return rng.random((int(n * scale), d), dtype=np.float32)


times, iters = [], 0
reps += 1  # the first run is a warm-up, as in algo_bench.c
if case == "kmeans":
    X = data(1_000_000, 32)
    init = X[rng.choice(len(X), 8, replace=False)]
    for _ in range(reps):
        t = time.perf_counter()
        km = KMeans(8, init=init, n_init=1, max_iter=30, tol=0, algorithm="lloyd").fit(X)
        times.append(time.perf_counter() - t)
        iters = km.n_iter_
elif case in ("lasso1", "lasso10"):
    X = data(2_000_000, 32)
    y = 2 * X[:, 0] - 3 * X[:, 5] + X[:, 17] + 0.1 * X[:, 31]
    for _ in range(reps):
        t = time.perf_counter()
        m = Lasso(alpha=0.001, max_iter=10 if case == "lasso10" else 1, tol=0).fit(X, y)
        times.append(time.perf_counter() - t)
        iters = m.n_iter_
elif case in ("pca_full", "pca_rand"):
    X = data(200_000, 256)
    for _ in range(reps):
        t = time.perf_counter()
        PCA(16, svd_solver="full" if case == "pca_full" else "randomized", random_state=0).fit(X)
        times.append(time.perf_counter() - t)
elif case == "knn":
    X = data(100_000, 128)
    y = np.arange(len(X)) % 10
    Q = data(10_000, 128)
    for _ in range(reps):
        t = time.perf_counter()
        KNeighborsClassifier(20, algorithm="brute").fit(X, y).predict(Q)
        times.append(time.perf_counter() - t)
else:
    sys.exit("algo_sklearn.py: unknown case " + case)
print("seconds=%.4f iters=%d" % (float(np.median(times[1:])), iters))
