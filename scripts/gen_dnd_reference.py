#!/usr/bin/python3
"""Reference files for tests/dnd (needs Debian's python3-numpy and python3-h5py).

Written by other tools than equivar, so the dnd readers are checked against
independent writers; the values follow closed forms the tests recompute:
  data.h5:/data        float32 (7, 5): i * 5 + j + 0.5
  data.h5:/group/ints  int64 (6,): 10 * i - 20
  data.npy             float64 (5, 3, 2): flat index k -> k / 4 - 3
  table.csv            header line, then 6 x 3 numbers: row i, col j -> i - 2 * j + 0.25
  stats.npz-like .npy files: NumPy results for percentile / median / histogram / unique
  qr_<m>x<n>.npy       float64: Q (m x k) then R (k x n) raveled, k = min(m, n), of
                       A[i, j] = ref(i * n + j) + 30 * (i == j), signs chosen so diag(R) >= 0
  det.npy              float64: det of A_n[i, j] = ref(i * n + j) for n = 1..9, then of
                       the 6 x 6 matrices det_perm (ref with a zero diagonal) and det_big
                       (ref * 1e40: a result near 1e244)
where ref(k) = ((k * 37 + 11) % 23) - 9 + 0.25 * (k % 4) (tests/dnd/dnd_test_util.h).
"""
import os
import numpy as np
import h5py

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "dnd")
os.makedirs(out, exist_ok=True)

i, j = np.meshgrid(np.arange(7), np.arange(5), indexing="ij")
with h5py.File(os.path.join(out, "data.h5"), "w") as f:
    f["data"] = (i * 5 + j + 0.5).astype(np.float32)
    f["group/ints"] = (10 * np.arange(6) - 20).astype(np.int64)

np.save(os.path.join(out, "data.npy"), (np.arange(30) / 4 - 3).reshape(5, 3, 2).astype(np.float64))

with open(os.path.join(out, "table.csv"), "w") as f:
    f.write("a,b,c\n")
    for r in range(6):
        f.write(",".join(repr(r - 2 * c + 0.25) for c in range(3)) + "\n")

# Statistics of the test array x[k] = ((k * 37 + 11) % 23) - 9 + 0.25 * (k % 4), k < 61
k = np.arange(61)
x = ((k * 37 + 11) % 23) - 9 + 0.25 * (k % 4)
q = np.array([0, 10, 25, 50, 75, 90, 100], dtype=np.float64)
np.save(os.path.join(out, "stats_percentile.npy"), np.percentile(x, q))
np.save(os.path.join(out, "stats_median.npy"), np.array([np.median(x)]))
hist, _ = np.histogram(x, bins=7, range=(-9, 14))
np.save(os.path.join(out, "stats_histogram.npy"), hist.astype(np.int64))
np.save(os.path.join(out, "stats_unique.npy"), np.unique(x))
np.save(os.path.join(out, "stats_sorted.npy"), np.sort(x))


def ref(k):
    return ((k * 37 + 11) % 23) - 9 + 0.25 * (k % 4)


# QR with the sign convention of eq_dnd_qr (diag(R) >= 0).
for m, n in [(11, 4), (5, 5), (9, 2), (13, 7), (3, 7), (4, 9), (2, 5), (6, 1)]:
    a = ref(np.arange(m * n, dtype=np.float64)).reshape(m, n)
    for d in range(min(m, n)):
        a[d, d] += 30
    q, r = np.linalg.qr(a)
    s = np.where(np.diag(r) < 0, -1.0, 1.0)
    q, r = q * s, r * s[:, None]
    np.save(os.path.join(out, "qr_%dx%d.npy" % (m, n)), np.concatenate([q.ravel(), r.ravel()]))

dets = [np.linalg.det(ref(np.arange(n * n, dtype=np.float64)).reshape(n, n)) for n in range(1, 10)]
perm = ref(np.arange(36, dtype=np.float64)).reshape(6, 6)
np.fill_diagonal(perm, 0)
dets.append(np.linalg.det(perm))
dets.append(np.linalg.det(ref(np.arange(36, dtype=np.float64)).reshape(6, 6) * 1e40))
np.save(os.path.join(out, "det.npy"), np.array(dets))
