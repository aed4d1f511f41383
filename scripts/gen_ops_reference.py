#!/usr/bin/python3
"""Writes PyTorch reference values for the general ops (tests/ops/) into
tests/data/ops/: inputs, outputs and input gradients of L = sum(out * w).

Run with Debian's python3 (python3-torch): /usr/bin/python3 scripts/gen_ops_reference.py
CI does not run it; the small .npy files it writes are committed.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "ops")
rng = np.random.default_rng(20261126)


def save(name, arr):
    arr = np.ascontiguousarray(arr)
    np.save(os.path.join(OUT, name + ".npy"), arr)


def t(arr, grad=True):
    return torch.tensor(arr, requires_grad=grad)


def weighted_grads(out, inputs, name):
    """Saves d sum(out * w) / d input for each input, w = name_w."""
    w = rng.standard_normal(out.shape).astype(np.float32)
    save(name + "_w", w)
    (out * torch.tensor(w)).sum().backward()
    for k, x in enumerate(inputs):
        save(f"{name}_g{k}", x.grad.numpy())


def unary():
    x = rng.uniform(-3, 3, 48).astype(np.float32)
    x[:4] = [0.0, -0.0, 1e-3, -1e-3]
    pos = rng.uniform(0.05, 4, 48).astype(np.float32)
    unit = rng.uniform(-0.95, 0.95, 48).astype(np.float32)
    save("unary_x", x)
    save("unary_pos", pos)
    save("unary_unit", unit)
    ops = {
        "neg": (torch.neg, "x"), "exp": (torch.exp, "x"), "log": (torch.log, "pos"),
        "sqrt": (torch.sqrt, "pos"), "rsqrt": (torch.rsqrt, "pos"), "abs": (torch.abs, "x"),
        "tanh": (torch.tanh, "x"), "sigmoid": (torch.sigmoid, "x"), "relu": (torch.relu, "x"),
        "gelu": (lambda v: F.gelu(v), "x"), "gelu_tanh": (lambda v: F.gelu(v, approximate="tanh"), "x"),
        "silu": (F.silu, "x"), "square": (torch.square, "x"), "sin": (torch.sin, "x"),
        "cos": (torch.cos, "x"), "log1p": (torch.log1p, "pos"), "expm1": (torch.expm1, "x"),
        "reciprocal": (torch.reciprocal, "pos"), "floor": (torch.floor, "x"), "ceil": (torch.ceil, "x"),
        "round": (torch.round, "x"), "trunc": (torch.trunc, "x"), "sign": (torch.sign, "x"),
        "tan": (torch.tan, "unit"), "asin": (torch.asin, "unit"), "acos": (torch.acos, "unit"),
        "atan": (torch.atan, "x"), "sinh": (torch.sinh, "x"), "cosh": (torch.cosh, "x"),
        "log2": (torch.log2, "pos"), "log10": (torch.log10, "pos"), "exp2": (torch.exp2, "x"),
    }
    # Values and gradients in float64 from the float32 inputs: the float32
    # results are compared with the exact ones (PyTorch's own float32 GELU
    # forms lose relative accuracy to cancellation for negative x).
    inputs = {"x": x, "pos": pos, "unit": unit}
    for name, (fn, src) in ops.items():
        v = t(inputs[src].astype(np.float64))
        out = fn(v)
        save("unary_" + name, out.detach().numpy())
        if out.requires_grad and name not in ("floor", "ceil", "round", "trunc", "sign", "tan", "asin",
                                              "acos", "atan", "sinh", "cosh", "log2", "log10", "exp2"):
            weighted_grads(out, [v], "unary_" + name)
    # A wide range through the vectorised float32 paths (fast exp/tanh/CDF).
    wide = np.concatenate([rng.uniform(-30, 30, 1000), [0.0, 1e-6, -1e-6, 80.0, -80.0, 88.5, -86.0]]).astype(np.float32)
    save("wide_x", wide)
    tw = torch.tensor(wide, dtype=torch.float64)
    for name, fn in {"exp": torch.exp, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu,
                     # x sigmoid(2u) = 0.5 x (1 + tanh u): exact where 1 + tanh u cancels
                     "gelu_tanh": lambda v: v * torch.sigmoid(2 * 0.7978845608028654 * (v + 0.044715 * v ** 3))}.items():
        save("wide_" + name, fn(tw).numpy())
    # GELU far in the tails, against x * Phi(x) in float64 through SciPy's
    # erfc (1 + erf cancels there, in PyTorch's float32 and float64 alike).
    from scipy.special import erfc
    tails = np.array([-12, -8, -6, -5, -4, -3, 3, 5, 8], dtype=np.float32)
    save("gelu_tails_x", tails)
    t64 = tails.astype(np.float64)
    save("gelu_tails", 0.5 * t64 * erfc(-t64 / np.sqrt(2.0)))


def binary():
    a = rng.uniform(0.3, 2.5, (3, 1, 4)).astype(np.float32)
    b = rng.uniform(0.3, 2.5, (2, 4)).astype(np.float32)
    b[0, 1] = a[1, 0, 1]  # a tie for maximum/minimum
    save("binary_a", a)
    save("binary_b", b)
    ops = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
           "maximum": torch.maximum, "minimum": torch.minimum, "atan2": torch.atan2}
    for name, fn in ops.items():
        va, vb = t(a), t(b)
        out = fn(va, vb)
        save("binary_" + name, out.detach().numpy())
        weighted_grads(out, [va, vb], "binary_" + name)
    # Python-style integer and float division/modulo with negative operands.
    ia = np.array([7, -7, 7, -7, 0, 5, -9, 13], dtype=np.int32)
    ib = np.array([2, 2, -2, -2, 3, -3, 4, -5], dtype=np.int32)
    save("int_a", ia)
    save("int_b", ib)
    ta, tb = torch.tensor(ia), torch.tensor(ib)
    save("int_floor_divide", torch.div(ta, tb, rounding_mode="floor").numpy())
    save("int_remainder", torch.remainder(ta, tb).numpy())
    save("int_fmod", torch.fmod(ta, tb).numpy())
    fa, fb = ta.float() * 1.5, tb.float()
    save("float_floor_divide", torch.div(fa, fb, rounding_mode="floor").numpy())
    save("float_remainder", torch.remainder(fa, fb).numpy())
    save("float_fmod", torch.fmod(fa, fb).numpy())


def reductions():
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    save("red_x", x)
    cases = {
        "sum_02": lambda v: v.sum(dim=(0, 2)),
        "mean_1k": lambda v: v.mean(dim=1, keepdim=True),
        "var_0": lambda v: v.var(dim=0, unbiased=True),
        "std_all": lambda v: v.std(unbiased=False),
        "prod_1": lambda v: v.prod(dim=1),
        "max_2": lambda v: v.max(dim=2).values,
        "min_0": lambda v: v.min(dim=0).values,
        "amax_all": lambda v: v.max(),
        "cumsum_1": lambda v: v.cumsum(dim=1),
        "cumprod_2": lambda v: v.cumprod(dim=2),
    }
    for name, fn in cases.items():
        v = t(x)
        out = fn(v)
        save("red_" + name, out.detach().numpy())
        weighted_grads(out.reshape(out.shape), [v], "red_" + name)
    save("red_argmax_1", torch.tensor(x).argmax(dim=1).numpy())
    save("red_argmin_2", torch.tensor(x).argmin(dim=2).numpy())


def matmul():
    cases = {"mm": ((3, 4), (4, 5)), "bmm": ((2, 3, 4), (2, 4, 5)), "bshared": ((2, 3, 4), (4, 5)),
             "bcast": ((2, 1, 3, 4), (3, 4, 2)), "mv": ((3, 4), (4,)), "vm": ((4,), (4, 5)), "dot": ((4,), (4,))}
    for name, (sa, sb) in cases.items():
        a = rng.standard_normal(sa).astype(np.float32)
        b = rng.standard_normal(sb).astype(np.float32)
        save(f"mm_{name}_a", a)
        save(f"mm_{name}_b", b)
        va, vb = t(a), t(b)
        out = torch.matmul(va, vb)
        save(f"mm_{name}", out.detach().numpy())
        weighted_grads(out, [va, vb], f"mm_{name}")


def softmax_losses():
    x = (rng.standard_normal((4, 6)) * 3).astype(np.float32)
    save("sm_x", x)
    for name, fn in {"softmax_1": lambda v: F.softmax(v, dim=1), "log_softmax_0": lambda v: F.log_softmax(v, dim=0),
                     "l2n_1": lambda v: F.normalize(v, dim=1, eps=1e-12)}.items():
        v = t(x)
        out = fn(v)
        save("sm_" + name, out.detach().numpy())
        weighted_grads(out, [v], "sm_" + name)
    # Cross entropy [N, C] with an ignored target and label smoothing.
    logits = (rng.standard_normal((5, 4)) * 2).astype(np.float32)
    target = np.array([1, 0, 3, 255, 2], dtype=np.int64)  # 255: ignore_index
    save("ce_logits", logits)
    save("ce_target", target)
    for name, ls in {"ce_plain": 0.0, "ce_smooth": 0.1}.items():
        v = t(logits)
        out = F.cross_entropy(v, torch.tensor(target), label_smoothing=ls, ignore_index=255)
        out.backward()
        save(name, out.detach().numpy())
        save(name + "_g0", v.grad.numpy())
    # [N, C, d] logits with [N, d] targets.
    logits3 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    target3 = rng.integers(0, 3, (2, 4)).astype(np.int64)
    save("ce3_logits", logits3)
    save("ce3_target", target3)
    v = t(logits3)
    out = F.cross_entropy(v, torch.tensor(target3), label_smoothing=0.2)
    out.backward()
    save("ce3", out.detach().numpy())
    save("ce3_g0", v.grad.numpy())
    # Regression losses.
    inp = rng.standard_normal((3, 5)).astype(np.float32)
    tgt = rng.standard_normal((3, 5)).astype(np.float32)
    save("reg_input", inp)
    save("reg_target", tgt)
    for name, fn in {"mse": lambda a, b: F.mse_loss(a, b),
                     "smooth_l1": lambda a, b: F.smooth_l1_loss(a, b, beta=0.5)}.items():
        va, vb = t(inp), t(tgt)
        out = fn(va, vb)
        out.backward()
        save("reg_" + name, out.detach().numpy())
        save(f"reg_{name}_g0", va.grad.numpy())
        save(f"reg_{name}_g1", vb.grad.numpy())


def indexing():
    x = rng.standard_normal((3, 4)).astype(np.float32)
    index = np.array([[3, 0], [1, 1], [2, 3]], dtype=np.int64)
    save("gather_x", x)
    save("gather_index", index)
    v = t(x)
    out = torch.gather(v, 1, torch.tensor(index))
    save("gather", out.detach().numpy())
    weighted_grads(out, [v], "gather")
    sel = np.array([2, 0, 2], dtype=np.int64)
    save("isel_index", sel)
    v = t(x)
    out = torch.index_select(v, 1, torch.tensor(sel))
    save("isel", out.detach().numpy())
    weighted_grads(out, [v], "isel")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    unary()
    binary()
    reductions()
    matmul()
    softmax_losses()
    indexing()
    print("wrote", len(os.listdir(OUT)), "files to", os.path.normpath(OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
