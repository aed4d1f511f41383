#!/usr/bin/python3
"""Reference files for tests/dnd/test_dnd_hsvd.c and test_dnd_lanczos.c
(needs Debian's python3-numpy). Each matrix is stored with NumPy's singular
values / eigenvalues of it, so the tests compare against an independent SVD.

  hsvd_lowrank.npy   (37, 23) float64, exact rank 4
  hsvd_full.npy      (37, 23) float64, full rank, singular values 0.7^i
  hsvd_thin.npy      (9, 3)   float64, full rank (fewer columns than ranks)
  *_s.npy            numpy.linalg.svd(A, compute_uv=False)
  lanczos_sym.npy    (40, 40) symmetric, eigenvalues well separated at the top
  lanczos_sym_w.npy  numpy.linalg.eigvalsh (ascending)
"""
import os
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "dnd")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261127)


def save(name, a):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a, dtype=np.float64))


def orth(m, k):
    q, _ = np.linalg.qr(rng.normal(size=(m, k)))
    return q


low = rng.normal(size=(37, 4)) @ rng.normal(size=(4, 23))
save("hsvd_lowrank", low)
save("hsvd_lowrank_s", np.linalg.svd(low, compute_uv=False))

full = orth(37, 23) @ np.diag(3.0 * 0.7 ** np.arange(23)) @ orth(23, 23).T
save("hsvd_full", full)
save("hsvd_full_s", np.linalg.svd(full, compute_uv=False))

thin = rng.normal(size=(9, 3))
save("hsvd_thin", thin)
save("hsvd_thin_s", np.linalg.svd(thin, compute_uv=False))

q = orth(40, 40)
w = np.concatenate([[9.0, 7.5, 6.0, 5.0], rng.uniform(-1, 1, size=36)])
sym = q @ np.diag(w) @ q.T
sym = (sym + sym.T) / 2
save("lanczos_sym", sym)
save("lanczos_sym_w", np.linalg.eigvalsh(sym))
