#!/usr/bin/python3
"""Peer for bench/augment.sh: two-view VICReg augmentation with torchvision +
PIL (Debian's python3-torchvision), source images/s.

Same work as `equivar bench-augment`: decoded RGB sources of SRC x SRC px in
memory, two views per source (view 1: blur p=1.0, solarize p=0; view 2: blur
p=0.1, solarize p=0.2), RandomResizedCrop(0.08-1, bilinear), flip 0.5,
ColorJitter(0.4, 0.4, 0.2, 0.1) p=0.8, grayscale 0.2, GaussianBlur(kernel
10 % of size made odd, sigma 0.1-2), ToTensor, Normalize, and collated to a
float NCHW batch. With --procs 2 two processes split the work (as DataLoader
workers would).
Prints images per second of wall time and per second of CPU time (the
processes' own CPU time while timing).
usage: augment_torchvision.py SIZE SRC PROCS SECONDS
"""
import multiprocessing as mp
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image


def pipeline(size, blur_p, sol_p):
    k = size // 10
    k = k + 1 if k % 2 == 0 else k
    k = max(k, 3)
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0), interpolation=T.InterpolationMode.BILINEAR),
        T.RandomHorizontalFlip(0.5),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        T.RandomGrayscale(0.2),
        T.RandomApply([T.GaussianBlur(k, sigma=(0.1, 2.0))], p=blur_p),
        T.RandomSolarize(128, p=sol_p),
        T.ToTensor(),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])


def work(args):
    size, src, seconds, seed = args
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    imgs = [Image.fromarray(rng.integers(0, 255, (src, src, 3), dtype=np.uint8)) for _ in range(64)]
    t1, t2 = pipeline(size, 1.0, 0.0), pipeline(size, 0.1, 0.2)
    batch = 32
    for i in range(2):  # warm-up
        torch.stack([t1(im) for im in imgs[:batch]]), torch.stack([t2(im) for im in imgs[:batch]])
    done, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        ims = imgs[(done % 64):(done % 64) + batch] or imgs[:batch]
        torch.stack([t1(im) for im in ims])
        torch.stack([t2(im) for im in ims])
        done += len(ims)
    return done, time.perf_counter() - t0, time.process_time() - c0


def main():
    size, src, procs, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    if procs == 1:
        res = [work((size, src, seconds, 0))]
    else:
        with mp.get_context("fork").Pool(procs) as pool:
            res = pool.map(work, [(size, src, seconds, s) for s in range(procs)])
    rate = sum(d / t for d, t, _ in res)
    cpu_rate = sum(d for d, _, _ in res) / sum(c for _, _, c in res)
    print(f"img/s={rate:.1f} img/cpu-s={cpu_rate:.1f}")


if __name__ == "__main__":
    main()
