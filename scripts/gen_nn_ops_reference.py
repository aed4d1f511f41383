#!/usr/bin/python3
"""Writes PyTorch reference tensors for tests/nn_ops/test_nn_reference.c.

Run with Debian's python3 and python3-torch:
    /usr/bin/python3 scripts/gen_nn_ops_reference.py
Each case <name> writes tests/data/nn_ops/<name>.<tensor>.npy (float32, or
bool for masks): the inputs, the output-gradient seed `dy`, the output `y`
and the gradient `d<input>` of every differentiable input. Computed in
float64 and stored as float32.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "nn_ops")
torch.manual_seed(1234)


def save(case, name, t):
    a = t.detach().numpy()
    if a.dtype != np.bool_:
        a = a.astype(np.float32)
    np.save(os.path.join(OUT, f"{case}.{name}.npy"), a)


def rand(*shape):
    # Round through float32 so the C side sees exactly these values.
    return torch.randn(*shape, dtype=torch.float32).double().requires_grad_(True)


def run(case, fn, inputs, consts=None):
    """inputs: dict name -> leaf tensor; fn(**inputs, **consts) -> output."""
    consts = consts or {}
    y = fn(**inputs, **consts)
    dy = torch.randn(y.shape, dtype=torch.float32).double()
    y.backward(dy)
    for k, v in inputs.items():
        save(case, k, v)
        save(case, "d" + k, v.grad if v.grad is not None else torch.zeros_like(v))
    for k, v in consts.items():
        if isinstance(v, torch.Tensor):
            save(case, k, v)
    save(case, "dy", dy)
    save(case, "y", y)


def main():
    os.makedirs(OUT, exist_ok=True)
    run("linear", lambda x, w, b: F.linear(x, w, b), dict(x=rand(3, 5, 8), w=rand(6, 8), b=rand(6)))
    run("conv_a", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
        dict(x=rand(4, 6, 9, 9), w=rand(8, 3, 3, 3), b=rand(8)))
    run("conv_b", lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
        dict(x=rand(3, 4, 10, 8), w=rand(6, 4, 3, 2), b=rand(6)))
    run("conv_c", lambda x, w: F.conv2d(x, w, None, stride=2),
        dict(x=rand(4, 8, 8, 8), w=rand(16, 8, 1, 1)))
    run("convt_a", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=3),
        dict(x=rand(2, 6, 5, 4), w=rand(6, 2, 3, 3), b=rand(6)))
    run("convt_b", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(1, 2), padding=(0, 1), dilation=(2, 1)),
        dict(x=rand(2, 3, 4, 5), w=rand(3, 4, 2, 3), b=rand(4)))
    run("maxpool", lambda x: F.max_pool2d(x, 3, 2, 1), dict(x=rand(2, 3, 9, 9)))
    run("avgpool_pad", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=True), dict(x=rand(2, 3, 7, 8)))
    run("avgpool_nopad", lambda x: F.avg_pool2d(x, (3, 2), (2, 1), (1, 1), count_include_pad=False),
        dict(x=rand(2, 3, 7, 8)))
    run("adaptive", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), dict(x=rand(2, 3, 7, 9)))
    run("nearest", lambda x: F.interpolate(x, size=(9, 7), mode="nearest"), dict(x=rand(2, 3, 5, 4)))
    run("nearest2x", lambda x: F.interpolate(x, size=(10, 8), mode="nearest"), dict(x=rand(2, 3, 5, 4)))
    run("bilinear", lambda x: F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=False),
        dict(x=rand(2, 3, 5, 4)))
    run("bilinear_ac", lambda x: F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=True),
        dict(x=rand(2, 3, 5, 4)))
    run("bilinear_down", lambda x: F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=False),
        dict(x=rand(2, 3, 7, 8)))

    for case, shape, training in (("bn4d", (4, 5, 3, 3), True), ("bn2d", (8, 5), True), ("bn_eval", (4, 5, 3, 3), False),
                                   ("bn_planes", (3, 5, 4, 6), True)):
        rm = torch.randn(5, dtype=torch.float32).double()
        rv = torch.rand(5, dtype=torch.float32).double() + 0.5
        save(case, "rm_in", rm)
        save(case, "rv_in", rv)
        rm2, rv2 = rm.clone(), rv.clone()
        run(case, lambda x, w, b: F.batch_norm(x, rm2, rv2, w, b, training=training, momentum=0.1, eps=1e-5),
            dict(x=rand(*shape), w=rand(5), b=rand(5)))
        save(case, "rm_out", rm2)
        save(case, "rv_out", rv2)

    run("layernorm", lambda x, w, b: F.layer_norm(x, (10,), w, b, 1e-5),
        dict(x=rand(4, 6, 10), w=rand(10), b=rand(10)))

    def attention(q, k, v, mask=None, scale=None):
        s = q @ k.transpose(-1, -2) * (scale if scale else q.shape[-1] ** -0.5)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
        return torch.softmax(s, -1) @ v

    qkv = lambda: dict(q=rand(2, 3, 7, 8), k=rand(2, 3, 9, 8), v=rand(2, 3, 9, 5))
    run("attn", attention, qkv())
    bmask = torch.rand(7, 9) > 0.3
    bmask[:, 0] = True  # no fully masked row (PyTorch would give NaN there)
    run("attn_bool", attention, qkv(), dict(mask=bmask, scale=0.5))
    run("attn_float", attention, qkv(), dict(mask=torch.randn(2, 1, 7, 9, dtype=torch.float32).double()))


if __name__ == "__main__":
    main()
