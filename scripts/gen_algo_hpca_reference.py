#!/usr/bin/python3
"""scikit-learn references for the hierarchical PCA test (tests/algo/test_pca.c):
low-rank data wider than the per-rank truncation, so the hierarchical solver
really truncates at the leaves of its merge tree.

Run with Debian's python3 (python3-sklearn, numpy):
    /usr/bin/python3 scripts/gen_algo_hpca_reference.py
Writes tests/data/algo/hpca_*.npy (a few KB each); CI does not run it.
"""
import os

import numpy as np
from sklearn import decomposition

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "algo")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def save(name, a):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a, dtype=np.float64))


# 61 samples of 24 features with exact rank 3 around a mean of 5
n, d = 61, 24
X = rng.normal(size=(n, 3)) @ (rng.normal(size=(3, d)) * np.array([4.0, 2.0, 1.0])[:, None]) + 5.0
save("hpca_X", X)
p = decomposition.PCA(n_components=3, svd_solver="full").fit(X)
save("hpca_components", p.components_)
save("hpca_explained_variance", p.explained_variance_)
save("hpca_singular_values", p.singular_values_)
