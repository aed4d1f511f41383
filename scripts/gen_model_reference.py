#!/usr/bin/python3
"""PyTorch reference data for equivar's nn / optim / checkpoint tests.

Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3);
CI does not run it. Writes into tests/data/models/:

  optim_ref.safetensors     SGD (momentum, Nesterov), AdamW and LARS on two
                            small parameters with fixed gradients, 5 steps
  <case>.safetensors        for each reduced-width backbone: initial weights
                            (init.*), input, target, forward outputs (out.*),
                            every parameter gradient (grad.*), buffers after one
                            training forward (after1.*), eval-mode logits with
                            those buffers (eval.logits), and, for some cases,
                            parameters and buffers after 5 SGD / AdamW steps
                            (sgd5.*, adamw5.*) with the loss of each step
  names_<model>.txt         "name dtype shape" of every tensor of the full-size
                            torchvision / timm state dict (checked for names,
                            shapes and count only)

Usage:
  scripts/gen_model_reference.py            regenerate everything
  scripts/gen_model_reference.py --verify-load FILE MODEL [KW=V ...]
      load an equivar-written safetensors file into the PyTorch model
      (torchvision resnet*/ reduced ResNet / timm-layout ViT) with strict=True
      and print its parameter count (keys starting with 'optim.' dropped).

The safetensors format is read and written by the small functions below
(Debian has no python3-safetensors).
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "models")

# ---------------------------------------------------------------- safetensors

_DT = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
       torch.uint8: "U8", torch.bool: "BOOL", torch.float16: "F16", torch.bfloat16: "BF16"}
_DT_BACK = {v: k for k, v in _DT.items()}


def st_save(path, tensors, metadata=None):
    header, chunks, pos = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(data)]}
        chunks.append(data)
        pos += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
    os.replace(path + ".tmp", path)


def st_load(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        dt = _DT_BACK[e["dtype"]]
        buf = bytearray(blob[base + b:base + end])
        t = torch.frombuffer(buf, dtype=dt) if end > b else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta

# ---------------------------------------------------------------- models


class ResNetW(nn.Module):
    """torchvision.models.ResNet with a configurable base width and the
    small-image stem; identical module names and initialisation."""

    def __init__(self, block, layers, width=64, num_classes=1000, small_stem=False, zero_init_residual=False):
        super().__init__()
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self._norm_layer = nn.BatchNorm2d
        if small_stem:
            self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    _make_layer = torchvision.models.resnet.ResNet._make_layer

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        fmap = x
        pooled = torch.flatten(self.avgpool(x), 1)
        return fmap, pooled, self.fc(pooled)


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5
        x = (a.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """timm's VisionTransformer (class token, learned positions, pre-norm,
    token pooling) with timm's module names and default initialisation."""

    def __init__(self, image=224, patch=16, dim=192, depth=12, heads=3, mlp=768, num_classes=1000):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, dim)
        n = (image // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return x, x[:, 0], self.head(x[:, 0])


def build(model, **kw):
    if model in ("resnet18", "resnet34", "resnet50"):
        return getattr(torchvision.models, model)(num_classes=int(kw.get("num_classes", 1000)))
    if model.startswith("resnet"):
        depth = int(model[6:8])
        block, layers = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]),
                         50: (Bottleneck, [3, 4, 6, 3])}[depth]
        return ResNetW(block, layers, width=int(kw.get("width", 64)), num_classes=int(kw.get("num_classes", 1000)),
                       small_stem=model.endswith("-small"))
    if model.startswith("vit"):
        args = {k: int(v) for k, v in kw.items()}
        return ViT(**args)
    raise SystemExit(f"unknown model {model}")

# ---------------------------------------------------------------- generators


def no_decay(name, p):
    return p.ndim <= 1 or name in ("cls_token", "pos_embed")


def param_groups(model, wd):
    decay = [p for n, p in model.named_parameters() if not no_decay(n, p)]
    rest = [p for n, p in model.named_parameters() if no_decay(n, p)]
    return [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]


def model_case(name, model, x, target, trajectories):
    torch.manual_seed(1)
    sd0 = {k: v.clone() for k, v in model.state_dict().items()}
    out = {"input": x, "target": target}
    out.update({"init." + k: v for k, v in sd0.items()})
    model.train()
    fmap, pooled, logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    out.update({"out.feature_map": fmap, "out.pooled": pooled, "out.logits": logits, "out.loss": loss.reshape(1)})
    for k, p in model.named_parameters():
        out["grad." + k] = p.grad.clone()
    for k, v in model.state_dict().items():
        if "running" in k or "num_batches" in k:
            out["after1." + k] = v.clone()  # state_dict() aliases the live tensors
    model.eval()  # inference with the running statistics just updated
    with torch.no_grad():
        out["eval.logits"] = model(x)[2]
    model.train()
    for opt_name in trajectories:
        model.load_state_dict(sd0)
        model.zero_grad(set_to_none=True)
        if opt_name == "sgd5":
            opt = torch.optim.SGD(param_groups(model, 5e-4), lr=0.05, momentum=0.9)
        else:
            opt = torch.optim.AdamW(param_groups(model, 0.05), lr=2e-3)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = F.cross_entropy(model(x)[2], target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out[opt_name + ".losses"] = torch.tensor(losses)
        out.update({opt_name + "." + k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(sd0)
    st_save(os.path.join(OUT, name + ".safetensors"), out)
    print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, loss {out['out.loss'].item():.5f}")


def lars_reference(params, grads_per_step, lr, wd, momentum, eta, exclude):
    """The LARS of the VICReg / Barlow Twins reference code."""
    mus = [torch.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for p, g, mu, ex in zip(params, grads, mus, exclude):
            dp = g.clone()
            if not ex:
                dp = dp.add(p, alpha=wd)
                pn, un = torch.norm(p), torch.norm(dp)
                q = torch.where(pn > 0.0, torch.where(un > 0, (eta * pn / un), torch.ones_like(pn)), torch.ones_like(pn))
                dp = dp.mul(q)
            mu.mul_(momentum).add_(dp)
            p.add_(mu, alpha=-lr)
    return params


def optim_case():
    g = torch.Generator().manual_seed(3)
    w0 = torch.randn(3, 4, generator=g)
    b0 = torch.randn(3, generator=g)
    grads = [(torch.randn(3, 4, generator=g), torch.randn(3, generator=g)) for _ in range(5)]
    out = {"w0": w0, "b0": b0}
    for s, (gw, gb) in enumerate(grads):
        out[f"gw{s}"], out[f"gb{s}"] = gw, gb
    configs = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        "sgd_damp": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, dampening=0.3),
        "sgd_plain": lambda ps: torch.optim.SGD(ps, lr=0.1),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-6),
    }
    for name, make in configs.items():
        w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
        wd = 0.01 if name == "adamw" else 1e-3 if name != "sgd_damp" else 0.0
        opt = make([{"params": [w], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}])
        for gw, gb in grads:
            w.grad, b.grad = gw.clone(), gb.clone()
            opt.step()
        out[name + ".w"], out[name + ".b"] = w.detach(), b.detach()
    w, b = lars_reference([w0.clone(), b0.clone()], grads, lr=0.2, wd=1e-2, momentum=0.9, eta=0.02,
                          exclude=[False, True])
    out["lars.w"], out["lars.b"] = w, b
    # cosine schedule with warm-up, clipping
    out["clip.norm"] = torch.tensor([math.sqrt(sum(float((t ** 2).sum()) for t in grads[0]))], dtype=torch.float64)
    gw, gb = grads[0][0].clone(), grads[0][1].clone()
    pw, pb = nn.Parameter(w0.clone()), nn.Parameter(b0.clone())
    pw.grad, pb.grad = gw, gb
    torch.nn.utils.clip_grad_norm_([pw, pb], 1.5)
    out["clip.gw"], out["clip.gb"] = pw.grad, pb.grad
    st_save(os.path.join(OUT, "optim_ref.safetensors"), out)
    print("optim_ref: ok")


def names_case(model, path, **kw):
    m = build(model, **kw)
    with open(os.path.join(OUT, path), "w") as f:
        for k, v in m.state_dict().items():
            f.write(f"{k} {_DT[v.dtype]} {','.join(map(str, v.shape)) or '-'}\n")
    print(f"{path}: {len(m.state_dict())} tensors, {sum(p.numel() for p in m.parameters())} parameters")


def sincos_table(grid, dim):
    """MAE's get_2d_sincos_pos_embed with a zero CLS row, written out."""
    def one_d(d, pos):
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2.0))
        out = pos.reshape(-1, 1).double() * omega.reshape(1, -1)
        return torch.cat([torch.sin(out), torch.cos(out)], 1)
    hh, ww = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    emb = torch.cat([one_d(dim // 2, ww), one_d(dim // 2, hh)], 1)  # MAE: first half from the w grid
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), emb], 0).float().reshape(1, -1, dim)


def generate():
    os.makedirs(OUT, exist_ok=True)
    st_save(os.path.join(OUT, "sincos_g4_d16.safetensors"), {"pos_embed": sincos_table(4, 16)})
    torch.manual_seed(0)
    optim_case()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(7)
    x16 = torch.randn(2, 3, 16, 16, generator=g)
    x32 = torch.randn(2, 3, 32, 32, generator=g)
    t = torch.tensor([3, 7])
    torch.manual_seed(10)
    model_case("resnet18s_w2", build("resnet18-small", width=2, num_classes=10), x16, t, ["sgd5", "adamw5"])
    # Trajectories only where float32 itself is stable: with the ImageNet stem
    # at 32 px (layer4 at 1x1, BatchNorm over 2 values) and for the
    # bottleneck net at 16 px, PyTorch's own float32 and float64 runs part
    # ways by step 3 (loss differences 1e-3 to 0.25 even at lr 0.005), so
    # 5-step comparisons there would test rounding noise, not the code.
    torch.manual_seed(11)
    model_case("resnet18_w2", ResNetW(BasicBlock, [2, 2, 2, 2], width=2, num_classes=10), x32, t, [])
    torch.manual_seed(12)
    model_case("resnet50s_w2", build("resnet50-small", width=2, num_classes=10), x16, t, [])
    torch.manual_seed(13)
    vit = ViT(image=16, patch=4, dim=16, depth=2, heads=2, mlp=32, num_classes=10)
    with torch.no_grad():  # timm's std .02 leaves GELU and softmax near-linear: scale up so they are tested
        for name, p in vit.named_parameters():
            if p.ndim > 1 and "patch_embed" not in name:
                p.mul_(10)
    model_case("vit_d16", vit, x16, t, ["sgd5", "adamw5"])
    names_case("resnet18", "names_resnet18.txt")
    names_case("resnet34", "names_resnet34.txt")
    names_case("resnet50", "names_resnet50.txt")
    names_case("vit", "names_vit_tiny.txt", image=224, patch=16, dim=192, depth=12, heads=3, mlp=768)
    names_case("vit", "names_vit_small.txt", image=224, patch=16, dim=384, depth=12, heads=6, mlp=1536)


def verify_load(path, model, kw):
    sd, meta = st_load(path)
    sd = {k: v for k, v in sd.items() if not k.startswith("optim.")}
    m = build(model, **kw)
    m.load_state_dict(sd, strict=True)
    print(f"loaded {path} into {model} with strict=True: {len(sd)} tensors, "
          f"{sum(p.numel() for p in m.parameters())} parameters; metadata {meta}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--verify-load":
        verify_load(sys.argv[2], sys.argv[3], dict(a.split("=", 1) for a in sys.argv[4:]))
    else:
        generate()
