#!/usr/bin/python3
"""PyTorch peer of build/bench/conv_bench: F.conv2d forward and backward at
torchvision ResNet-18's layer shapes (batch 64, 64x64 input), wall clock,
best of `reps` after a warm-up. Prints `layer=<tag> fwd_gflops=.. bwd_gflops=..`
(backward counts input and weight gradients, conv1 only the weight's) and a
weighted total over the network's convolutions.

    /usr/bin/python3 bench/peers/conv_torch.py [threads] [batch] [reps]
"""
import sys
import time

import torch
import torch.nn.functional as F

LAYERS = [  # tag, cin, cout, k, stride, pad, hin, count in ResNet-18
    ("conv1", 3, 64, 7, 2, 3, 64, 1), ("l1_3x3", 64, 64, 3, 1, 1, 16, 4),
    ("l2_3x3s2", 64, 128, 3, 2, 1, 16, 1), ("l2_3x3", 128, 128, 3, 1, 1, 8, 3),
    ("l2_ds", 64, 128, 1, 2, 0, 16, 1), ("l3_3x3s2", 128, 256, 3, 2, 1, 8, 1),
    ("l3_3x3", 256, 256, 3, 1, 1, 4, 3), ("l3_ds", 128, 256, 1, 2, 0, 8, 1),
    ("l4_3x3s2", 256, 512, 3, 2, 1, 4, 1), ("l4_3x3", 512, 512, 3, 1, 1, 2, 3),
    ("l4_ds", 256, 512, 1, 2, 0, 4, 1),
]


def best(fn, reps):
    fn()
    t = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    torch.set_num_threads(threads)
    total_flop = total_time = 0.0
    with torch.no_grad():
        pass
    for tag, cin, cout, k, s, p, hin, count in LAYERS:
        need_dx = tag != "conv1"
        x = torch.randn(batch, cin, hin, hin).requires_grad_(need_dx)
        w = torch.randn(cout, cin, k, k).requires_grad_(True)
        with torch.no_grad():
            y = F.conv2d(x, w, None, s, p)
        dy = torch.randn_like(y)
        flop = 2.0 * batch * y.shape[1] * y.shape[2] * y.shape[3] * cin * k * k

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, None, s, p)

        yg = F.conv2d(x, w, None, s, p)
        inputs = (x, w) if need_dx else (w,)

        def bwd():
            torch.autograd.grad(yg, inputs, dy, retain_graph=True)

        tf, tb = best(fwd, reps), best(bwd, reps)
        nb = 2 if need_dx else 1
        print(f"layer={tag} fwd_gflops={flop / tf / 1e9:.2f} bwd_gflops={nb * flop / tb / 1e9:.2f}")
        total_flop += count * flop * (1 + nb)
        total_time += count * (tf + tb)
    print(f"total_gflops={total_flop / total_time / 1e9:.2f}")


if __name__ == "__main__":
    main()
