"""Clusterers: group reduced customer vectors, and the refinement that turns groups into centroids.

Every clusterer follows `Clusterer` (`fit_predict(Z)` returns one label per row, -1 for noise) and
is built by name from `CLUSTERERS`. The segment step (`segmint.agent.segment.fit`) picks them:
`hdbscan` finds how many segments there are and leaves out what belongs nowhere; `ward` then
draws that many groups; `spectral-kmeans` takes over when the spectrum shows nearly disconnected
groups; `kmeans` (FAISS) runs when the user asks for exactly K segments.

`refine` then moves from the reduced space back to the customers' own vectors: spherical Lloyd
iterations seeded by the cluster labels. The segment model that results is a nearest-centroid
rule, so the labels of the fit and the assignment of anyone later are one and the same function
(BERTopic's `transform` disagreeing with its `fit` is a top complaint of its users).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, FloatArray, IntArray
from segmint.agent.core.registry import Registry
from segmint.agent.segment._vectors import knn_affinity, normalise_rows

__all__ = ["CLUSTERERS", "NOISE", "Clusterer", "HDBSCANClusterer", "KMeansClusterer", "Refined",
           "SpectralKMeansClusterer", "WardClusterer", "default_min_cluster_size", "kmeans_plus_plus",
           "refine", "refine_fixed", "similarity"]

NOISE = -1
# Neighbours per customer in the connectivity graph that bounds Ward's merges (keeps it near
# linear in the sample size instead of quadratic).
WARD_NEIGHBORS = 15
# Rows that Ward itself merges (see `WardClusterer`).
WARD_SAMPLE = 4000


class Clusterer(Protocol):
    """Labels rows; -1 marks noise."""

    def fit_predict(self, Z: FloatArray) -> IntArray:
        """Cluster `Z` and return labels 0..K-1 (or -1)."""
        ...


def default_min_cluster_size(n: int) -> int:
    """Smallest group worth a segment among `n` customers: 1% of them, at least 8.

    A segment below 1% of a shop is rarely worth a campaign, and the floor keeps tiny shops from
    producing segments of two or three customers.
    """
    return max(8, round(0.01 * n))


@dataclass
class HDBSCANClusterer:
    """scikit-learn's HDBSCAN with parameters named by role.

    Args:
        min_cluster_size: the smallest group that counts as a segment.
        min_samples: neighbourhood size for the density estimate; small values keep the noise
            share low (3 measured best on the real datasets).
        selection: `eom` (excess of mass, HDBSCAN's default) or `leaf`.
        jitter: standard deviation of seeded Gaussian noise added to the rows first, a floor on
            the scale of structure HDBSCAN may split on (0 disables it).
        seed: seeds the jitter.
    """

    min_cluster_size: int = 8
    min_samples: int = 3
    selection: str = "eom"
    jitter: float = 0.0
    seed: int = 0
    max_cluster_size: int | None = None
    probabilities_: npt.NDArray[np.float64] = field(init=False, repr=False)

    def fit_predict(self, Z: FloatArray) -> IntArray:
        """Cluster rows of `Z`."""
        if len(Z) < max(self.min_cluster_size, 2):
            self.probabilities_ = np.zeros(len(Z))
            return np.full(len(Z), NOISE, dtype=np.int64)
        from sklearn.cluster import HDBSCAN
        model = HDBSCAN(
            min_cluster_size=self.min_cluster_size,
            min_samples=min(self.min_samples, len(Z) - 1),
            cluster_selection_method=self.selection,
            max_cluster_size=self.max_cluster_size,
            copy=True,
        )
        Z = np.asarray(Z, dtype=np.float64)
        if self.jitter > 0:
            Z = Z + self.jitter * np.random.default_rng(self.seed).standard_normal(Z.shape)
        labels = model.fit_predict(Z).astype(np.int64)
        self.probabilities_ = np.asarray(model.probabilities_, dtype=np.float64)
        return labels


@dataclass
class KMeansClusterer:
    """FAISS k-means with exactly `k` clusters (no noise).

    Args:
        k: number of clusters.
        seed: seeds initialisation.
        spherical: keep centroids on the unit sphere (for cosine spaces).
        n_init: restarts; the best objective wins.
    """

    k: int
    seed: int = 0
    spherical: bool = True
    n_init: int = 3
    centroids_: F32 = field(init=False, repr=False)

    def fit_predict(self, Z: FloatArray) -> IntArray:
        """Cluster rows of `Z` into `k` groups."""
        import faiss

        Z = np.ascontiguousarray(Z, dtype=np.float32)
        k = min(self.k, len(Z))
        if k < 1:
            raise ValueError("k-means needs k >= 1 and at least one row")
        km = faiss.Kmeans(Z.shape[1], k, niter=25, nredo=self.n_init, spherical=self.spherical,
                          seed=self.seed, verbose=False, max_points_per_centroid=100_000,
                          min_points_per_centroid=1)
        km.train(Z)
        self.centroids_ = np.array(km.centroids, dtype=np.float32)
        _, idx = km.index.search(Z, 1)
        return idx.ravel().astype(np.int64)


def kmeans_plus_plus(Z: FloatArray, k: int, seed: int = 0, *, max_iter: int = 50) -> IntArray:
    """Spherical k-means with k-means++ seeding, in numpy.

    Used on spectral embeddings of well-separated groups, whose rows within a group coincide:
    random seeding (FAISS) then often puts two centroids into one group and leaves another
    without, while k-means++ never seeds a point that is already covered.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n = len(Z)
    k = min(k, n)
    rng = np.random.default_rng(seed)
    centres = [int(rng.integers(n))]
    d2 = np.sum((Z - Z[centres[0]]) ** 2, axis=1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:
            break
        nxt = int(rng.choice(n, p=d2 / total))
        centres.append(nxt)
        d2 = np.minimum(d2, np.sum((Z - Z[nxt]) ** 2, axis=1))
    C = Z[centres]
    labels = (Z @ C.T).argmax(axis=1)
    for _ in range(max_iter):
        C = np.stack([Z[labels == c].mean(axis=0) if (labels == c).any() else C[c]
                      for c in range(len(C))])
        C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
        new = (Z @ C.T).argmax(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


@dataclass
class SpectralKMeansClusterer:
    """Spherical k-means with k-means++ seeding (`kmeans_plus_plus`), for spectral embeddings.

    Args:
        k: number of clusters.
        seed: seeds the k-means++ draws.
    """

    k: int
    seed: int = 0

    def fit_predict(self, Z: FloatArray) -> IntArray:
        """Cluster rows of `Z` into at most `k` groups."""
        return kmeans_plus_plus(Z, self.k, self.seed)


@dataclass
class WardClusterer:
    """Ward linkage on a kNN connectivity graph of unit rows, for exactly `k` groups (no noise).

    scikit-learn merges in a Python loop (about 2 ms a merge), so Ward sees the first `sample`
    rows (pass them in random order) and every later row joins the nearest of its groups' means.

    Args:
        k: number of groups.
        n_neighbors: neighbours per row in the connectivity graph that bounds the merges.
        sample: rows Ward itself merges.
    """

    k: int
    n_neighbors: int = WARD_NEIGHBORS
    sample: int = WARD_SAMPLE

    def fit_predict(self, Z: FloatArray) -> IntArray:
        """Group rows of `Z` (unit rows: the rest join by cosine similarity)."""
        X = np.asarray(Z, dtype=np.float32)
        head = X[:self.sample]
        connectivity = knn_affinity(head, min(self.n_neighbors, len(head) - 1))
        from sklearn.cluster import AgglomerativeClustering
        ward = AgglomerativeClustering(n_clusters=self.k, linkage="ward", connectivity=connectivity)
        labels = ward.fit_predict(head).astype(np.int64)
        if len(X) > len(head):
            centroids = normalise_rows(np.stack([head[labels == c].mean(axis=0)
                                                 for c in range(self.k)]))
            rest = similarity(X[len(head):], centroids, "cosine").argmax(axis=1).astype(np.int64)
            labels = np.concatenate([labels, rest])
        return labels


# No command-line option picks a clusterer: the segment step does, by these names.
CLUSTERERS: Registry[Clusterer] = Registry("clusterer", "")
CLUSTERERS.register("hdbscan")(HDBSCANClusterer)
CLUSTERERS.register("kmeans")(KMeansClusterer)
CLUSTERERS.register("spectral-kmeans")(SpectralKMeansClusterer)
CLUSTERERS.register("ward")(WardClusterer)


def similarity(X: F32, C: F32, metric: str) -> F32:
    """Similarity of every row to every centroid: cosine for unit rows, -squared distance else."""
    if metric == "cosine":
        return X @ C.T
    d2 = (X * X).sum(axis=1)[:, None] - 2.0 * (X @ C.T) + (C * C).sum(axis=1)[None, :]
    return -np.maximum(d2, 0.0)


def _centroids(X: F32, labels: IntArray, k: int, metric: str, previous: F32 | None) -> F32:
    import scipy.sparse as sp

    kept = labels >= 0
    counts = np.bincount(labels[kept], minlength=k).astype(np.float32)
    # A one-hot sparse product sums each cluster's rows in one BLAS-like pass (np.add.at is
    # unbuffered and about 50x slower on 100k rows).
    onehot = sp.csr_matrix((np.ones(int(kept.sum()), dtype=np.float32),
                            (labels[kept], np.flatnonzero(kept))), shape=(k, len(X)))
    sums = np.asarray(onehot @ X, dtype=np.float64)
    C = (sums / np.maximum(counts, 1.0)[:, None]).astype(np.float32)
    if previous is not None:
        C[counts == 0] = previous[counts == 0]
    if metric == "cosine":
        C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    return C


@dataclass
class Refined:
    """Centroids in the customers' own space and every row's nearest one.

    Attributes:
        centroids: (K x d), one per surviving cluster.
        labels: nearest centroid per row (0..K-1).
        best: similarity to that centroid.
        second: similarity to the runner-up (-inf when K == 1).
        core: rows the clusterer itself put in the cluster they end up in.
    """

    centroids: F32
    labels: IntArray
    best: F32
    second: F32
    core: npt.NDArray[np.bool_]


def refine(X: F32, labels: IntArray, *, metric: str = "cosine", max_iter: int = 10) -> Refined:
    """Lloyd iterations in the original space, seeded by cluster labels (noise ignored).

    Clusters that lose every member are dropped, so K can shrink by a few.

    Args:
        X: rows in the space centroids live in (unit rows for `cosine`).
        labels: the clusterer's labels; -1 rows do not seed centroids.
        metric: `cosine` (spherical k-means) or `euclidean`.
        max_iter: Lloyd iterations at most; stops early when labels no longer change.
    """
    k = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    if k == 0:
        raise ValueError("refine needs at least one cluster")
    seeds = labels.copy()
    C = _centroids(X, seeds, k, metric, None)
    current = seeds
    for _ in range(max_iter):
        new = similarity(X, C, metric).argmax(axis=1).astype(np.int64)
        if np.array_equal(new, current):
            break
        current = new
        C = _centroids(X, current, k, metric, C)
    keep = np.flatnonzero(np.bincount(current, minlength=k) > 0)
    C = C[keep]
    while True:
        S = similarity(X, C, metric)
        final = S.argmax(axis=1).astype(np.int64)
        # The last update can leave two centroids equal (customers with identical vectors);
        # the second then holds no one: drop it, as a cluster that lost every member.
        used = np.bincount(final, minlength=len(C)) > 0
        if used.all():
            break
        keep, C = keep[used], C[used]
    best = S[np.arange(len(X)), final]
    if C.shape[0] > 1:
        second = np.partition(S, -2, axis=1)[:, -2]
    else:
        second = np.full(len(X), -np.inf, dtype=np.float32)
    remap = np.full(k, NOISE, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    seed_kept = np.where(seeds >= 0, remap[np.maximum(seeds, 0)], NOISE)
    core = (seed_kept >= 0) & (seed_kept == final)
    return Refined(C.astype(np.float32), final, best.astype(np.float32),
                   second.astype(np.float32), core)


def refine_fixed(centroids: F32, X: F32, metric: str) -> tuple[IntArray, F32, F32]:
    """Nearest of fixed centroids for every row: (labels, best similarity, runner-up)."""
    S = similarity(X, centroids, metric)
    labels = S.argmax(axis=1).astype(np.int64)
    best = S[np.arange(len(X)), labels]
    second = (np.partition(S, -2, axis=1)[:, -2] if centroids.shape[0] > 1
              else np.full(len(X), -np.inf, dtype=np.float32))
    return labels, best.astype(np.float32), second.astype(np.float32)
