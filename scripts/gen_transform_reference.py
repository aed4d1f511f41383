#!/usr/bin/python3
"""Reference outputs for tests/transforms: torchvision's tensor functional ops
(torchvision 0.14, Debian's python3-torchvision) on small images, written to
tests/data/transforms/ as .npy plus cases.json describing each call.
Run with /usr/bin/python3; CI does not run it."""
import json
import os

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "transforms")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
torch.set_num_threads(1)


def smooth(h, w, c, seed):
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    chans = [128 + 110 * np.sin(x / (2.5 + k) + y / (4 + 1.5 * k) + 2 * k) for k in range(c)]
    a = np.stack(chans, -1) + r.normal(0, 18, (h, w, c))
    return np.clip(a, 0, 255).astype(np.uint8)


sources = {"a": smooth(29, 37, 3, 1), "b": smooth(40, 24, 3, 2)}
for k, v in sources.items():
    np.save(os.path.join(out, f"src_{k}.npy"), v)


def tensor(name):
    return torch.from_numpy(sources[name]).permute(2, 0, 1).float() / 255.0


cases = []


def add(name, src, op, result, **args):
    np.save(os.path.join(out, name + ".npy"), result.detach().numpy().astype(np.float32))
    cases.append(dict(name=name, src=src, op=op, **args))


BIL = InterpolationMode.BILINEAR
# Resized crops: shrink, enlarge, mixed, whole image, with and without flip.
for i, (src, top, left, h, w, oh, ow, flip) in enumerate([
        ("a", 2, 3, 25, 30, 11, 13, 0), ("a", 5, 7, 8, 10, 20, 24, 0), ("b", 0, 0, 40, 24, 16, 16, 1),
        ("b", 10, 4, 17, 19, 32, 9, 1), ("a", 0, 0, 29, 37, 29, 37, 0), ("a", 1, 1, 27, 35, 7, 5, 1)]):
    r = F.resized_crop(tensor(src), top, left, h, w, [oh, ow], BIL, antialias=True)
    if flip:
        r = F.hflip(r)
    add(f"crop{i}", src, "resized_crop", r, top=top, left=left, height=h, width=w, out_h=oh, out_w=ow, flip=flip)

for f in [0.55, 1.3]:
    add(f"brightness_{f}", "a", "brightness", F.adjust_brightness(tensor("a"), f), factor=f)
for f in [0.6, 1.4]:
    add(f"contrast_{f}", "a", "contrast", F.adjust_contrast(tensor("a"), f), factor=f)
for f in [0.0, 0.7, 1.35]:
    add(f"saturation_{f}", "b", "saturation", F.adjust_saturation(tensor("b"), f), factor=f)
for f in [-0.45, -0.1, 0.03, 0.25]:
    add(f"hue_{f}", "a", "hue", F.adjust_hue(tensor("a"), f), factor=f)
add("grayscale", "b", "grayscale", F.rgb_to_grayscale(tensor("b"), 3))
add("solarize", "a", "solarize", F.solarize(tensor("a"), 0.5), threshold=0.5)
mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
add("normalize", "a", "normalize", F.normalize(tensor("a"), mean, std), mean=mean, std=std)
for k, s in [(7, 1.3), (5, 0.6), (23, 2.0), (3, 0.1)]:
    add(f"blur_{k}_{s}", "a", "blur", F.gaussian_blur(tensor("a"), [k, k], [s, s]), kernel=k, sigma=s)
# Geometric: rotate and affine, bilinear, zero fill.
for ang in [30.0, -45.0, 90.0, 7.5]:
    add(f"rotate_{ang}", "a", "affine", F.rotate(tensor("a"), ang, BIL), angle=ang, tx=0.0, ty=0.0, scale=1.0)
for ang, tx, ty, sc in [(0.0, 3.0, -2.0, 1.0), (-20.0, 2.5, 1.5, 1.1), (12.0, -4.0, 0.0, 0.8)]:
    add(f"affine_{ang}_{tx}_{ty}_{sc}", "b", "affine",
        F.affine(tensor("b"), ang, [tx, ty], sc, [0.0, 0.0], BIL), angle=-ang, tx=tx, ty=ty, scale=sc)
# (F.affine's angle turns clockwise, F.rotate's counter-clockwise; equivar's
# angle is counter-clockwise everywhere, so the affine cases store -angle.)

# Whole VICReg-style pipelines with fixed parameters, composed in the order
# equivar uses (crop, flip, b, c, s, h, grey, blur, solarize, normalise).
for i, p in enumerate([
        dict(src="a", top=3, left=2, height=20, width=26, size=16, flip=1, b=0.2, c=-0.3, s=0.15, h=0.05,
             grey=0, sigma=0.9, kernel=3, solarize=0),
        dict(src="b", top=0, left=1, height=38, width=22, size=20, flip=0, b=-0.35, c=0.25, s=-0.2, h=-0.08,
             grey=1, sigma=0.0, kernel=3, solarize=1),
        dict(src="a", top=5, left=5, height=10, width=12, size=24, flip=0, b=0.0, c=0.0, s=0.0, h=0.0,
             grey=0, sigma=1.7, kernel=5, solarize=1)]):
    t = F.resized_crop(tensor(p["src"]), p["top"], p["left"], p["height"], p["width"], [p["size"]] * 2, BIL,
                       antialias=True)
    if p["flip"]:
        t = F.hflip(t)
    t = F.adjust_brightness(t, 1 + p["b"])
    t = F.adjust_contrast(t, 1 + p["c"])
    t = F.adjust_saturation(t, 1 + p["s"])
    t = F.adjust_hue(t, p["h"])
    if p["grey"]:
        t = F.rgb_to_grayscale(t, 3)
    if p["sigma"] > 0:
        t = F.gaussian_blur(t, [p["kernel"]] * 2, [p["sigma"]] * 2)
    if p["solarize"]:
        t = F.solarize(t, 0.5)
    t = F.normalize(t, mean, std)
    add(f"pipeline{i}", p["src"], "pipeline", t, **{k: v for k, v in p.items() if k != "src"})

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
print(len(cases), "cases in", out)
