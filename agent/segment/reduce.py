"""Reducers: map customer vectors into a space where density clustering works.

HDBSCAN straight on 384-d sentence vectors finds little but noise (distances concentrate), so the
segment step clusters a reduced copy of the vectors. The default is a spectral embedding of the
cosine k-nearest-neighbour graph (the eigenvectors UMAP itself starts from): on the datasets in
`bench/RESULTS.md` it recovers known groups as well as UMAP does, is deterministic for a seed, needs
no new dependency and costs well under a second per thousand customers. PCA is kept as the plain
baseline.

Every reducer follows `Reducer` (scikit-learn style: `fit`, `transform`, fitted attributes end in
`_`), so the segment step does not care which one it gets; `REDUCERS` builds one by its
`--reducer` name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, FloatArray
from segmint.agent.core.registry import Registry
from segmint.agent.segment._vectors import knn, knn_affinity, normalise_rows
from segmint.agent.segment.reduce_autoencoder import AutoencoderReducer

__all__ = ["REDUCERS", "IdentityReducer", "PCAReducer", "Reducer", "SpectralReducer", "make_reducer"]


class Reducer(Protocol):
    """Maps vectors (n x d) to a lower-dimensional space (n x m)."""

    def fit(self, X: FloatArray) -> Self:
        """Learn the mapping from `X`."""
        ...

    def transform(self, X: FloatArray) -> FloatArray:
        """Map new rows with the learnt mapping."""
        ...

    def fit_transform(self, X: FloatArray) -> FloatArray:
        """`fit(X)` then the coordinates of `X` itself."""
        ...


@dataclass
class SpectralReducer:
    """Spectral embedding of the cosine kNN graph, rows normalised (Ng-Jordan-Weiss).

    The leading eigenvectors of the normalised affinity D^-1/2 A D^-1/2 are nearly constant inside
    each well-connected group of customers, so groups become tight, separated clumps that HDBSCAN
    finds easily. New rows are placed by averaging the coordinates of their nearest fitted rows.

    Args:
        n_components: dimensions of the embedding.
        n_neighbors: neighbours per customer in the graph.
        seed: seeds the eigensolver's start vector.
        max_components: eigenvectors computed by `fit` (at least `n_components`); the embedding
            can then be re-cut to any width up to it with `set_components` without refitting.
        diffusion_time: eigenvectors are weighted by eigenvalue ** diffusion_time before rows
            are normalised (diffusion-map coordinates), so directions that separate little count
            little; 0 gives the plain Ng-Jordan-Weiss embedding.
    """

    n_components: int = 24
    n_neighbors: int = 10
    seed: int = 0
    max_components: int | None = None
    diffusion_time: float = 2.0
    train_: F32 = field(init=False, repr=False)
    embedding_: F32 = field(init=False, repr=False)
    eigenvalues_: npt.NDArray[np.float64] = field(init=False, repr=False)
    eigenvectors_: npt.NDArray[np.float64] = field(init=False, repr=False)

    def fit(self, X: FloatArray) -> Self:
        """Build the graph over unit rows `X` and compute its leading eigenvectors."""
        import scipy.sparse as sp
        from scipy.sparse.linalg import eigsh

        X = normalise_rows(X)
        n = len(X)
        if n < 3:
            raise ValueError(f"spectral embedding needs at least 3 rows, got {n}")
        k = min(self.n_neighbors, n - 1)
        A = knn_affinity(X, k)
        deg = np.asarray(A.sum(axis=1)).ravel()
        d_inv_sqrt = sp.diags(1.0 / np.sqrt(deg))
        M = (d_inv_sqrt @ A @ d_inv_sqrt).astype(np.float64)
        m = min(max(self.n_components, self.max_components or 0), n - 2)
        if n <= 200:
            # ARPACK needs m < n - 1 and is slower than a dense solve at this size anyway.
            values, vectors = np.linalg.eigh(M.toarray())
            values, vectors = values[-m:], vectors[:, -m:]
        else:
            v0 = np.random.default_rng(self.seed).standard_normal(n)
            # Largest algebraic eigenvalues of the normalised affinity: far faster than
            # scikit-learn's shift-invert Laplacian solve (0.7 s vs 19 s on 4.3k customers).
            values, vectors = eigsh(M, k=m, which="LA", tol=1e-4, v0=v0, maxiter=n * 20)
        order = np.argsort(-values, kind="stable")
        values, vectors = values[order], vectors[:, order]
        # Eigenvectors have no intrinsic sign; fix one so runs agree bit for bit.
        flip = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
        vectors = vectors * np.where(flip == 0, 1.0, flip)
        self.eigenvalues_ = values
        self.eigenvectors_ = vectors
        self.train_ = X
        self.set_components(self.n_components)
        return self

    def eigengap(self, low: int = 2) -> tuple[int, float]:
        """The width after which the spectrum drops the most (at least `low`), and the drop.

        Well-separated groups give eigenvalues near 1, one per group, then a drop: the position
        of the largest drop estimates how many groups there are, its size how clearly.
        """
        values = self.eigenvalues_
        if len(values) <= low:
            return len(values), 0.0
        gaps = values[low - 1:-1] - values[low:]
        at = int(np.argmax(gaps))
        return at + low, float(gaps[at])

    def set_components(self, n_components: int) -> F32:
        """Use the leading `n_components` eigenvectors (at most as many as were computed).

        Returns:
            The new embedding of the fitted rows.
        """
        self.n_components = max(1, min(n_components, self.eigenvectors_.shape[1]))
        m = self.n_components
        weights = np.clip(self.eigenvalues_[:m], 0.0, None) ** self.diffusion_time
        self.embedding_ = normalise_rows(self.eigenvectors_[:, :m] * weights)
        return self.embedding_

    def transform(self, X: FloatArray) -> F32:
        """Coordinates of new rows: similarity-weighted mean of their neighbours' coordinates."""
        sims, idx = knn(self.train_, self.n_neighbors, queries=normalise_rows(X))
        w = np.maximum(sims, 0.0) + 1e-6
        Z = np.einsum("nk,nkd->nd", w, self.embedding_[idx]) / w.sum(axis=1, keepdims=True)
        return normalise_rows(Z)

    def fit_transform(self, X: FloatArray) -> F32:
        """Fit, then return the embedding of the fitted rows."""
        return self.fit(X).embedding_


@dataclass
class PCAReducer:
    """Principal components (the baseline the benchmark compares against).

    Args:
        n_components: dimensions kept.
        seed: seeds the randomized solver.
    """

    n_components: int = 10
    seed: int = 0
    mean_: npt.NDArray[np.float64] = field(init=False, repr=False)
    components_: npt.NDArray[np.float64] = field(init=False, repr=False)

    def fit(self, X: FloatArray) -> Self:
        """Learn the leading principal directions of `X`."""
        m = min(self.n_components, X.shape[0], X.shape[1])
        from sklearn.decomposition import PCA
        pca = PCA(m, random_state=self.seed).fit(np.asarray(X, dtype=np.float64))
        self.mean_, self.components_ = pca.mean_, pca.components_
        return self

    def transform(self, X: FloatArray) -> F32:
        """Project rows onto the learnt components."""
        return ((np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T).astype(np.float32)

    def fit_transform(self, X: FloatArray) -> F32:
        """Fit, then project `X`."""
        return self.fit(X).transform(X)


@dataclass
class IdentityReducer:
    """No reduction: for spaces that are already small (the 4 behaviour features)."""

    def fit(self, X: FloatArray) -> Self:
        """Nothing to learn."""
        return self

    def transform(self, X: FloatArray) -> F32:
        """`X` as float32."""
        return np.asarray(X, dtype=np.float32)

    def fit_transform(self, X: FloatArray) -> F32:
        """`X` as float32."""
        return self.transform(X)


REDUCERS: Registry[Reducer] = Registry("reducer", "--reducer")


@REDUCERS.register("spectral")
def _spectral(*, seed: int = 0, n_components: int | None = None,
              n_neighbors: int | None = None) -> Reducer:
    return SpectralReducer(n_components=n_components or 24, n_neighbors=n_neighbors or 10, seed=seed)


@REDUCERS.register("pca")
def _pca(*, seed: int = 0, n_components: int | None = None, n_neighbors: int | None = None) -> Reducer:
    return PCAReducer(n_components=n_components or 10, seed=seed)


@REDUCERS.register("none")
def _identity(*, seed: int = 0, n_components: int | None = None,
              n_neighbors: int | None = None) -> Reducer:
    return IdentityReducer()


# An option only: bench/RESULTS.md "Autoencoder reducer".
@REDUCERS.register("autoencoder")
def _autoencoder(*, seed: int = 0, n_components: int | None = None,
                 n_neighbors: int | None = None) -> Reducer:
    return AutoencoderReducer(n_components=min(n_components or 16, 16), seed=seed)


def make_reducer(name: str, *, seed: int = 0, n_components: int | None = None,
                 n_neighbors: int | None = None) -> Reducer:
    """A reducer by name: `spectral` (default), `pca`, `none` or `autoencoder` (see `REDUCERS`).

    Args:
        name: a registered reducer.
        seed: seeds the reducer's solver or training.
        n_components: dimensions of the reduced space (each reducer has its own default).
        n_neighbors: neighbours per customer in the spectral graph.

    Raises:
        ValueError: on an unknown name.
    """
    if name not in REDUCERS:
        *first, last = REDUCERS.names()
        raise ValueError(f"unknown reducer {name!r}; use {', '.join(first)} or {last}")
    return REDUCERS.create(name, seed=seed, n_components=n_components, n_neighbors=n_neighbors)
