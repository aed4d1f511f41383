#!/usr/bin/python3
"""NumPy reference values for tests/dnd/test_dnd_stats.c (cov) and
tests/dnd/test_dnd_fft.c (numpy.fft). Needs Debian's python3-numpy.

Inputs follow closed forms the tests recompute in C:
  ref(k)  = ((k * 37 + 11) % 23) - 9 + 0.25 * (k % 4)   (dnd_test_util.h ref_value)
  ref2(k) = ((k * 13 + 5) % 17) - 8 + 0.5 * (k % 2)
cov: m = ref(k) over a (4, 7) array, y = ref2(k) over (2, 7).
fft: for each length L in LENGTHS, z = ref(k) + 1j * ref2(k) over an (L, 3)
array (k: C-order flat index) and r = ref(k) over (L, 3); transforms along
axis 0, stacked over L along axis 0; complex values as (..., 2) float64.
"""
import os
import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "dnd")
os.makedirs(out, exist_ok=True)


def ref(n):
    k = np.arange(n)
    return ((k * 37 + 11) % 23) - 9 + 0.25 * (k % 4)


def ref2(n):
    k = np.arange(n)
    return ((k * 13 + 5) % 17) - 8 + 0.5 * (k % 2)


def save(name, a):
    np.save(os.path.join(out, name), np.ascontiguousarray(a, dtype=np.float64))


def cplx(a):
    return np.stack([a.real, a.imag], axis=-1)


# ---- cov
m = ref(28).reshape(4, 7)
y = ref2(14).reshape(2, 7)
save("cov_m.npy", np.cov(m))
save("cov_m_cols.npy", np.cov(m, rowvar=False))
save("cov_m_bias.npy", np.cov(m, bias=True))
save("cov_m_ddof2.npy", np.cov(m, ddof=2))
save("cov_m_y.npy", np.cov(m, y))
save("cov_row0.npy", np.array([np.cov(m[0])]))

# ---- fft
LENGTHS = [1, 2, 7, 8, 12, 100]
f, fi, rf, irf = [], [], [], []
for L in LENGTHS:
    z = (ref(3 * L) + 1j * ref2(3 * L)).reshape(L, 3)
    r = ref(3 * L).reshape(L, 3)
    f.append(cplx(np.fft.fft(z, axis=0)))
    fi.append(cplx(np.fft.ifft(z, axis=0)))
    rf.append(cplx(np.fft.rfft(r, axis=0)))
    # irfft of the first L // 2 + 1 rows of z, back to length L
    irf.append(np.fft.irfft(z[: L // 2 + 1], n=L, axis=0))
save("fft_fft.npy", np.concatenate(f))
save("fft_ifft.npy", np.concatenate(fi))
save("fft_rfft.npy", np.concatenate(rf))
save("fft_irfft.npy", np.concatenate(irf))
# n (crop / zero-pad) and norm, on the L = 12 input
z = (ref(36) + 1j * ref2(36)).reshape(12, 3)
r = ref(36).reshape(12, 3)
save("fft_n_pad.npy", cplx(np.fft.fft(z, n=17, axis=0)))
save("fft_n_crop.npy", cplx(np.fft.fft(z, n=5, axis=0)))
save("fft_ortho.npy", cplx(np.fft.fft(z, axis=0, norm="ortho")))
save("fft_ifft_forward.npy", cplx(np.fft.ifft(z, axis=0, norm="forward")))
save("fft_rfft_n9.npy", cplx(np.fft.rfft(r, n=9, axis=0)))
save("fft_irfft_default.npy", np.fft.irfft(z, axis=0))  # n = 2 * (12 - 1)
save("fft_irfft_n7.npy", np.fft.irfft(z, n=7, axis=0, norm="ortho"))
