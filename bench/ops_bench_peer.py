#!/usr/bin/python3
"""PyTorch / NumPy timings of the cases of bench/ops_bench.c (same sizes),
printed as `case=<name> us=<median microseconds per call>`. Tuning aid for
the general ops, not a suite. Run: /usr/bin/python3 bench/ops_bench_peer.py
(set OMP_NUM_THREADS to match the ops_bench run; torch follows it)."""
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


def median_us(f, reps=9):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[reps // 2] * 1e6


x = torch.randn(1 << 22)
y = torch.randn(1 << 22)
m = torch.randn(1 << 20, 64)
lg = torch.randn(4096, 1000, requires_grad=True)
tg = torch.zeros(4096, dtype=torch.long)
a = torch.randn(1024, 1024)
bm = torch.randn(256, 64, 64)
tiny = np.random.randn(4).astype(np.float32)


def tiny_add():
    for _ in range(1000):
        tiny + 1


cases = [
    ("tiny_add_scalar_x1000 (numpy)", tiny_add),
    ("relu_4M", lambda: torch.relu(x)), ("exp_4M", lambda: torch.exp(x)),
    ("sigmoid_4M", lambda: torch.sigmoid(x)), ("tanh_4M", lambda: torch.tanh(x)),
    ("gelu_4M", lambda: F.gelu(x)), ("gelu_tanh_4M", lambda: F.gelu(x, approximate="tanh")),
    ("silu_4M", lambda: F.silu(x)), ("sqrt_4M", lambda: torch.sqrt(x)),
    ("add_4M", lambda: x + y), ("mul_4M", lambda: x * y), ("sum_all_4M", lambda: x.sum()),
    ("mean_axis1_1Mx64", lambda: m.mean(1)), ("std_axis1_1Mx64", lambda: m.std(1, unbiased=False)),
    ("sum_axis0_1Mx64", lambda: m.sum(0)), ("softmax_4096x1000", lambda: F.softmax(lg, 1)),
    ("cross_entropy_fwd_bwd_4096x1000", lambda: F.cross_entropy(lg, tg).backward()),
    ("matmul_1024", lambda: a @ a), ("bmm_256x64x64", lambda: bm @ bm),
]
for name, f in cases:
    print(f"case={name} us={median_us(f):.3f}", flush=True)
