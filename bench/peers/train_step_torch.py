#!/usr/bin/python3
"""PyTorch peer of bench/train_step.c: one training step (forward,
cross-entropy, backward, SGD momentum 0.9) on 64 images of 3x64x64 with a
128-class head, in PyTorch's best CPU configuration here (docs: /work/shared
peers.md): 2 threads, channels_last for the ResNet, and from
bench/peers/torch_best.sh the OpenMP OpenBLAS first on the library path and
glibc's malloc on transparent huge pages.

  /usr/bin/python3 bench/peers/train_step_torch.py <resnet18|vit-tiny> [batch] [steps] [warmup]

Prints `model=<m> batch=<b> median_s=<s> images_per_s=<v>`."""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = ((q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, image=64, patch=8, dim=192, depth=6, heads=3, mlp=768, num_classes=128):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def main():
    name = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 64, 64)
    y = torch.arange(batch) * 37 % 128
    if name == "resnet18":
        model = torchvision.models.resnet18(num_classes=128).to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    else:
        model = ViT()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for s in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if s >= warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"model={name} batch={batch} median_s={med:.4f} images_per_s={batch / med:.2f}")


if __name__ == "__main__":
    main()
