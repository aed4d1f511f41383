#!/usr/bin/python3
"""Reference files for tests/dnd (needs Debian's python3-numpy and python3-h5py).

Written by other tools than equivar, so the dnd readers are checked against
independent writers; the values follow closed forms the tests recompute:
  data.h5:/data        float32 (7, 5): i * 5 + j + 0.5
  data.h5:/group/ints  int64 (6,): 10 * i - 20
  data.npy             float64 (5, 3, 2): flat index k -> k / 4 - 3
  table.csv            header line, then 6 x 3 numbers: row i, col j -> i - 2 * j + 0.25
  stats.npz-like .npy files: NumPy results for percentile / median / histogram / unique
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
