#!/usr/bin/python3
"""Reference files for tests/image: small PNG/JPEG files of several kinds and
the pixels PIL decodes from them (.npy, uint8 HWC). Needs Debian's python3-pil
and python3-numpy; run with /usr/bin/python3. CI does not run it."""
import os
import numpy as np
from PIL import Image

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "image")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(5)

def smooth(h, w, c):
    y, x = np.mgrid[0:h, 0:w]
    chans = [128 + 100 * np.sin(x / (3 + k) + y / (5 + 2 * k) + k) for k in range(c)]
    a = np.stack(chans, -1) + rng.normal(0, 8, (h, w, c))
    return np.clip(a, 0, 255).astype(np.uint8)

def save(name, img, decoded_mode, **kw):
    path = os.path.join(out, name)
    img.save(path, **kw)
    dec = np.asarray(Image.open(path).convert(decoded_mode))
    np.save(path + ".npy", dec)

rgb = smooth(19, 23, 3)
save("rgb_q90.jpg", Image.fromarray(rgb), "RGB", quality=90)
save("rgb_q75_444.jpg", Image.fromarray(rgb), "RGB", quality=75, subsampling=0)
save("grey.jpg", Image.fromarray(rgb[..., 0]), "L", quality=85)
save("progressive.jpg", Image.fromarray(rgb), "RGB", quality=80, progressive=True)
# Decoding an RGB JPEG straight to grey: PIL decodes RGB, then convert("L").
path = os.path.join(out, "rgb_q90.jpg")
np.save(path + ".L.npy", np.asarray(Image.open(path).convert("L")))
save("rgb.png", Image.fromarray(rgb), "RGB")
rgba = smooth(13, 17, 4)
save("rgba.png", Image.fromarray(rgba, "RGBA"), "RGBA")
# 16-bit: equivar keeps the high byte (libpng's strip_16); PIL's convert("L")
# of an I;16 image clips instead, so the reference is the high byte.
g16 = smooth(11, 9, 1)[..., 0].astype(np.uint16) * 257 + 3
Image.fromarray(g16).save(os.path.join(out, "grey16.png"))
np.save(os.path.join(out, "grey16.png.npy"), (np.asarray(Image.open(os.path.join(out, "grey16.png"))) >> 8).astype(np.uint8))
# 16-bit RGB (PIL cannot write it: a minimal PNG writer); PIL reads it as
# "RGB" keeping the high byte of each sample.
import struct, zlib
def png16(path, a):
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
a16 = smooth(6, 5, 3).astype(np.uint16) * 257 + 100
png16(os.path.join(out, "rgb16.png"), a16)
np.save(os.path.join(out, "rgb16.png.npy"), np.asarray(Image.open(os.path.join(out, "rgb16.png")).convert("RGB")))
assert (np.load(os.path.join(out, "rgb16.png.npy")) == (a16 >> 8)).all()
pal = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)
save("palette.png", pal, "RGB")
la = Image.fromarray(smooth(7, 10, 2), "LA")
save("grey_alpha.png", la, "RGBA")
print("wrote", sorted(os.listdir(out)))
