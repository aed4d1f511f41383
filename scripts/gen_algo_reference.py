#!/usr/bin/python3
"""Reference outputs of scikit-learn for equivar's algorithms (tests/algo).

Run with Debian's python3 (python3-sklearn 1.2, numpy, scipy):
    /usr/bin/python3 scripts/gen_algo_reference.py [outdir]
Writes small .npy files (a few KB each) into tests/data/algo/. CI does not
run this script; the files it writes are committed.
"""
import os
import sys

import numpy as np
from sklearn import cluster, decomposition, linear_model, metrics, naive_bayes, neighbors
from sklearn import preprocessing
from sklearn.metrics import pairwise

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "algo")
os.makedirs(OUT, exist_ok=True)


def save(name, a):
    a = np.ascontiguousarray(a)
    if a.dtype == np.int32 or a.dtype == np.int64:
        a = a.astype(np.int64)
    elif a.dtype != np.float32:
        a = a.astype(np.float64)
    np.save(os.path.join(OUT, name + ".npy"), a)


rng = np.random.default_rng(20261126)


def blobs(n, d, k, spread=0.6, scale=6.0):
    centres = rng.normal(0, scale, size=(k, d))
    lab = rng.integers(0, k, size=n)
    return centres[lab] + rng.normal(0, spread, size=(n, d)), lab


# ---------------------------------------------------------------- k-means
X, _ = blobs(97, 4, 3)
save("kmeans_X", X)
init = X[[5, 40, 77]] + 0.5  # explicit, deliberately off-centre start
save("kmeans_init", init)
km = cluster.KMeans(n_clusters=3, init=init, n_init=1, max_iter=300, tol=1e-4,
                    algorithm="lloyd").fit(X)
save("kmeans_centers", km.cluster_centers_)
save("kmeans_labels", km.labels_)
save("kmeans_inertia", np.array([km.inertia_]))
save("kmeans_n_iter", np.array([km.n_iter_]))
# the best of many k-means++ restarts: every initialisation of equivar must
# reach this optimum on well-separated blobs
best = cluster.KMeans(n_clusters=3, init="k-means++", n_init=20, random_state=0).fit(X)
save("kmeans_best_inertia", np.array([best.inertia_]))
# a capped run: max_iter=2 from the same start
km2 = cluster.KMeans(n_clusters=3, init=init, n_init=1, max_iter=2, tol=0.0,
                     algorithm="lloyd").fit(X)
save("kmeans_maxiter2_centers", km2.cluster_centers_)
save("kmeans_maxiter2_inertia", np.array([km2.inertia_]))
Xq = X[:11] + rng.normal(0, 1.0, size=(11, 4))
save("kmeans_Xq", Xq)
save("kmeans_predict", km.predict(Xq))



# k-medians / k-medoids as HeAT defines them (no scikit-learn estimator):
# Manhattan assignment, coordinate-wise median update, k-medoids then snaps
# each centre to its closest member row; scikit-learn's stopping rule.
def kmed(X, C, medoids, max_iter=300, tol=1e-4):
    tol_abs = tol * X.var(axis=0).mean()
    old, strict, C = None, False, C.copy()
    for it in range(max_iter):
        lab = np.abs(X[:, None, :] - C[None]).sum(2).argmin(1)
        newC = C.copy()
        for c in range(len(C)):
            members = X[lab == c]
            if len(members):
                newC[c] = np.median(members, axis=0)
                if medoids:
                    newC[c] = members[np.abs(members - newC[c]).sum(1).argmin()]
        shift = ((newC - C) ** 2).sum()
        C = newC
        if old is not None and (lab == old).all():
            strict = True
            break
        if shift <= tol_abs:
            break
        old = lab
    lab = np.abs(X[:, None, :] - C[None]).sum(2).argmin(1)
    inertia = np.abs(X - C[lab]).sum()
    return C, lab, inertia, it + 1


for name, med in (("kmedians", False), ("kmedoids", True)):
    C, lab, inertia, it = kmed(X, init, med)
    save(name + "_centers", C)
    save(name + "_labels", lab)
    save(name + "_inertia", np.array([inertia]))
    save(name + "_n_iter", np.array([it]))

# spectral clustering of two interleaved half moons (k-means fails there)
from sklearn.datasets import make_moons
Xm, ym = make_moons(120, noise=0.04, random_state=3)
save("spectral_X", Xm)
save("spectral_truth", ym)
sc = cluster.SpectralClustering(2, affinity="rbf", gamma=20.0, random_state=0).fit(Xm)
save("spectral_labels", sc.labels_)
save("spectral_ari_kmeans", np.array([metrics.adjusted_rand_score(
    ym, cluster.KMeans(2, n_init=10, random_state=0).fit(Xm).labels_)]))

# ---------------------------------------------------------------- PCA
n, d = 83, 6
base = rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) * np.array([5, 3, 2, 1, 1, 1.0])
X = base + 0.1 * rng.normal(size=(n, d)) + np.array([10, -3, 0, 2, 5, 1.0])
save("pca_X", X)
p = decomposition.PCA(n_components=3, svd_solver="full").fit(X)
save("pca_components", p.components_)
save("pca_explained_variance", p.explained_variance_)
save("pca_explained_variance_ratio", p.explained_variance_ratio_)
save("pca_singular_values", p.singular_values_)
save("pca_mean", p.mean_)
save("pca_transform", p.transform(X))
save("pca_inverse", p.inverse_transform(p.transform(X)))
pw = decomposition.PCA(n_components=3, svd_solver="full", whiten=True).fit(X)
save("pca_whiten_transform", pw.transform(X))
ip = decomposition.IncrementalPCA(n_components=3, batch_size=20).fit(X)
save("ipca_explained_variance", ip.explained_variance_)
save("ipca_components", ip.components_)

# ---------------------------------------------------------------- regression
n, d = 100, 8
X = rng.normal(size=(n, d)) * np.array([1, 2, 0.5, 1, 3, 1, 1, 0.2]) + 1.5
w = np.array([2.0, 0, -1.5, 0, 0.7, 0, 0, 4.0])
y = X @ w + 0.3 + 0.2 * rng.normal(size=n)
save("reg_X", X)
save("reg_y", y)
las = linear_model.Lasso(alpha=0.1, tol=1e-12, max_iter=100000).fit(X, y)
save("lasso_coef", las.coef_)
save("lasso_intercept", np.array([las.intercept_]))
las0 = linear_model.Lasso(alpha=0.05, fit_intercept=False, tol=1e-12, max_iter=100000).fit(X, y)
save("lasso_nointercept_coef", las0.coef_)
Y2 = np.stack([y, X @ rng.normal(size=d) - 2.0 + 0.1 * rng.normal(size=n)], axis=1)
save("reg_Y2", Y2)
lr = linear_model.LinearRegression().fit(X, Y2)
save("linreg_coef", lr.coef_)
save("linreg_intercept", lr.intercept_)
rd = linear_model.Ridge(alpha=3.0).fit(X, Y2)
save("ridge_coef", rd.coef_)
save("ridge_intercept", rd.intercept_)
save("ridge_predict", rd.predict(X[:7]))

# multinomial logistic regression (the linear probe)
Xc, lab = blobs(120, 5, 4, spread=2.5, scale=2.0)
save("logreg_X", Xc)
save("logreg_y", lab)
lg = linear_model.LogisticRegression(C=0.5, tol=1e-10, max_iter=10000,
                                     multi_class="multinomial").fit(Xc, lab)
save("logreg_coef", lg.coef_)
save("logreg_intercept", lg.intercept_)
save("logreg_proba", lg.predict_proba(Xc[:13]))
save("logreg_predict", lg.predict(Xc))
# scikit-learn's lbfgs stops on its ftol test with a gradient of ~1e-6; the
# same objective minimised to a gradient of 1e-12 by SciPy, from its answer
from scipy.optimize import minimize
from scipy.special import logsumexp
nK, nd, nn = 4, Xc.shape[1], len(lab)
Yoh = np.eye(nK)[lab]


def objective(theta):
    W, b = theta[:nK * nd].reshape(nK, nd), theta[nK * nd:]
    Z = Xc @ W.T + b
    lse = logsumexp(Z, axis=1)
    f = (lse - (Z * Yoh).sum(1)).mean() + 0.5 / (0.5 * nn) * (W ** 2).sum()
    P = np.exp(Z - lse[:, None])
    gW = (P - Yoh).T @ Xc / nn + W / (0.5 * nn)
    return f, np.concatenate([gW.ravel(), (P - Yoh).mean(0)])


res = minimize(objective, np.concatenate([lg.coef_.ravel(), lg.intercept_]), jac=True,
               method="L-BFGS-B", options={"gtol": 1e-13, "ftol": 0, "maxiter": 10000})
save("logreg_coef_tight", res.x[:nK * nd].reshape(nK, nd))
save("logreg_intercept_tight", res.x[nK * nd:] - res.x[nK * nd:].mean())

# ---------------------------------------------------------------- kNN, naive Bayes
Xt, yt = blobs(90, 5, 3, spread=2.0, scale=2.0)
Xq = rng.normal(0, 2.5, size=(21, 5))
save("knn_X", Xt)
save("knn_y", yt)
save("knn_Xq", Xq)
for metric in ("euclidean", "cosine"):
    for weights in ("uniform", "distance"):
        kn = neighbors.KNeighborsClassifier(n_neighbors=7, metric=metric, weights=weights,
                                            algorithm="brute").fit(Xt, yt)
        save("knn_%s_%s_proba" % (metric, weights), kn.predict_proba(Xq))
        save("knn_%s_%s_predict" % (metric, weights), kn.predict(Xq))
# the SSL papers' protocol (Wu et al. 2018, DINO): cosine similarity, k
# neighbours, votes weighted by exp(sim / T)
T, k = 0.1, 7
a = Xq / np.linalg.norm(Xq, axis=1, keepdims=True)
b = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
sim = a @ b.T
idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
votes = np.zeros((len(Xq), 3))
for i in range(len(Xq)):
    for j in idx[i]:
        votes[i, yt[j]] += np.exp(sim[i, j] / T)
save("knn_ssl_proba", votes / votes.sum(axis=1, keepdims=True))

nb = naive_bayes.GaussianNB().fit(Xt, yt)
save("gnb_theta", nb.theta_)
save("gnb_var", nb.var_)
save("gnb_prior", nb.class_prior_)
save("gnb_proba", nb.predict_proba(Xq))
nb2 = naive_bayes.GaussianNB()
nb2.partial_fit(Xt[:40], yt[:40], classes=[0, 1, 2])
nb2.partial_fit(Xt[40:], yt[40:])
save("gnb_partial_var", nb2.var_)
save("gnb_partial_theta", nb2.theta_)

# ---------------------------------------------------------------- preprocessing
n, d = 37, 5
X = rng.normal(size=(n, d)) * np.array([1, 10, 0.1, 1, 3]) + np.array([0, 5, -2, 0, 1])
X[:, 3] = 2.5  # a constant column
X[4, 4] = 40.0  # an outlier for the robust scaler
save("pre_X", X)
for name, sc in (("standard", preprocessing.StandardScaler()),
                 ("minmax", preprocessing.MinMaxScaler()),
                 ("maxabs", preprocessing.MaxAbsScaler()),
                 ("robust", preprocessing.RobustScaler())):
    save("pre_%s_transform" % name, sc.fit_transform(X))
for norm in ("l1", "l2", "max"):
    save("pre_normalizer_%s" % norm, preprocessing.Normalizer(norm=norm).fit_transform(X))

# ---------------------------------------------------------------- spatial
A = rng.normal(size=(23, 4))
B = rng.normal(size=(9, 4))
save("sp_A", A)
save("sp_B", B)
save("sp_rbf", pairwise.rbf_kernel(A, B, gamma=0.3))
save("sp_manhattan", pairwise.manhattan_distances(A, B))
save("sp_euclidean", pairwise.euclidean_distances(A, B))

# ---------------------------------------------------------------- metrics
yt = rng.integers(0, 4, size=53)
yp = np.where(rng.random(53) < 0.7, yt, rng.integers(0, 5, size=53))
save("met_true", yt)
save("met_pred", yp)
save("met_scores", np.array([
    metrics.accuracy_score(yt, yp),
    metrics.normalized_mutual_info_score(yt, yp),
    metrics.adjusted_rand_score(yt, yp),
]))
Yt = rng.normal(size=(41, 3)) * np.array([1, 5, 0.3])
Yp = Yt + 0.4 * rng.normal(size=(41, 3))
save("met_Ytrue", Yt)
save("met_Ypred", Yp)
save("met_r2", np.array([
    metrics.r2_score(Yt, Yp),  # per-dimension average (uniform_average)
    1 - ((Yt - Yp) ** 2).sum() / ((Yt - Yt.mean()) ** 2).sum(),  # one global mean
]))
X, lab = blobs(60, 3, 3, spread=1.5, scale=3.0)
save("met_sil_X", X)
save("met_sil_labels", lab)
save("met_silhouette", np.array([metrics.silhouette_score(X, lab)]))

print("wrote", len(os.listdir(OUT)), "files to", os.path.abspath(OUT))
