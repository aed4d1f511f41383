#!/usr/bin/python3
"""Reference files for tests/render (run with Debian's /usr/bin/python3).

sample.zip: a ZIP written by Python's zipfile (an independent writer) with a
stored entry, a deflated entry, a directory and a nested path; the test
checks eq_zip against the contents listed here.
rotations.txt: scipy's extrinsic "xyz" Euler angles -> quaternion (x, y, z, w)
and matrix, and slerp midpoints, for test_render_scene.
"""
import os
import zipfile

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "render")
os.makedirs(out, exist_ok=True)

with zipfile.ZipFile(os.path.join(out, "sample.zip"), "w") as z:
    z.writestr(zipfile.ZipInfo("readme.txt"), b"stored entry\n", compress_type=zipfile.ZIP_STORED)
    z.writestr("models/", b"")
    z.writestr("models/cube/cube.obj", b"v 0 0 0\n" * 40 + b"f 1 2 3\n", compress_type=zipfile.ZIP_DEFLATED)
    z.writestr("models/cube/cube.mtl", b"newmtl a\nKd 1 0 0\n", compress_type=zipfile.ZIP_DEFLATED)

rng = np.random.default_rng(0)
angles = rng.uniform(-np.pi / 2, np.pi / 2, size=(6, 3))
with open(os.path.join(out, "rotations.txt"), "w") as f:
    f.write("# rx ry rz | qx qy qz qw | m00 .. m22 (scipy from_euler('xyz'))\n")
    for a in angles:
        r = Rotation.from_euler("xyz", a)
        q = r.as_quat()
        if q[3] < 0:
            q = -q
        f.write(" ".join("%.17g" % v for v in list(a) + list(q) + list(r.as_matrix().ravel())) + "\n")
    f.write("# slerp: angles1 | angles2 | t | qx qy qz qw\n")
    for i in range(0, 6, 2):
        r = Rotation.from_euler("xyz", angles[i:i + 2])
        for t in (0.25, 0.5):
            q = Slerp([0, 1], r)([t]).as_quat()[0]
            if q[3] < 0:
                q = -q
            f.write("S " + " ".join("%.17g" % v for v in list(angles[i]) + list(angles[i + 1]) + [t] + list(q)) + "\n")
