"""Fitting one space of the segment step on a bounded sample (see `segmint.agent.segment.build`).

Interest vectors: centred, embedded spectrally; the spectrum's largest drop gives the starting
width. A decisive drop (nearly disconnected groups) is clustered by spectral k-means; otherwise
HDBSCAN finds how many groups there are (the width is re-cut to the number found until the two
agree, and giant clusters on a continuum are refused) and Ward linkage in the centred space draws
that many groups. With `k`, FAISS k-means. Behaviour (RFM): k-means.
The groups then become a nearest-centroid `SpaceModel` through `refine`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, BoolArray, IntArray
from segmint.agent.segment.cluster import CLUSTERERS, NOISE, Clusterer, Refined, refine, similarity
from segmint.agent.segment.model import SpaceModel
from segmint.agent.segment.reduce import Reducer, SpectralReducer, make_reducer

INTEREST, BEHAVIOUR = "interest", "behaviour"
# Log-RFM is a continuum (silhouette falls steadily from k=3 on Online Retail and the sample
# shop, and HDBSCAN latches onto the integer lattice of order counts), so the number of behaviour
# segments is a marketing choice rather than a property of the data: six recency x value groups,
# like a classic RFM grid; --segments overrides it.
BEHAVIOUR_K = 6
# The spectral width follows the number of clusters found (see _match_width), within these bounds.
MIN_COMPONENTS, MAX_COMPONENTS, WIDTH_ROUNDS = 2, 40, 4
# HDBSCAN is scale-free: on well-separated groups the spectral rows of a group coincide up to the
# eigensolver's round-off, and it would split groups along that round-off (5 clean blobs -> 19
# clusters). A seeded jitter this small (rows have unit length) hides structure below its scale;
# 1e-3 to 3e-3 measured equally well on the real data, 1e-2 starts merging real groups.
JITTER = 2e-3
INTERNAL_SEED = 0
# An eigengap this large means the kNN graph is nearly disconnected into that many groups (clean
# synthetic blobs: 0.43; the sample shop's 20 personas: 0.095; real shops: below 0.06).
DECISIVE_GAP = 0.2
# Below this the drop is noise (Online Retail: 0.02 at width 2) and the default width is used.
MEANINGFUL_GAP = 0.04
# No HDBSCAN cluster may hold more than this share of the sample when it can be avoided.
MAX_SEGMENT_SHARE = 0.25
# Silhouette and DBCV are quadratic; this many customers per space are enough to read them.
QUALITY_SAMPLE = 2000
ASSIGN_CHUNK = 65_536
# Membership is the share of a segment's core members that are less typical than the customer;
# these quantiles of core similarity are what the model keeps to compute it.
N_QUANTILES = 21
# Customers whose Lloyd iterations settle the centroids after the fit (see `_polish`).
POLISH_SAMPLE = 200_000


@dataclass
class SegmentParams:
    """Settings of the segment step (the CLI's `--segments`, `--min-segment-size`, `--seed`).

    Attributes:
        k: exact number of segments per space (FAISS k-means); None lets HDBSCAN decide.
        min_segment_size: smallest segment, in customers; None: 1% of the customers, at least 8.
        seed: picks the fit sample (when there are more customers than `fit_sample`) and the
            k-means start (with `k`); nothing else is random.
        fit_sample: at most this many customers per space are clustered; the rest are assigned.
        reducer: `spectral` (default), `pca`, `none`, or any `Reducer` (e.g. a UMAP wrapper)
            for interest vectors.
        n_components: dimensions of the reduced space to start from (it then follows the
            number of clusters found).
        n_neighbors: neighbours per customer in the spectral graph.
        min_samples: HDBSCAN's density neighbourhood.
    """

    k: int | None = None
    min_segment_size: int | None = None
    seed: int = 0
    fit_sample: int = 10_000
    reducer: str | Reducer = "spectral"
    n_components: int = 24
    n_neighbors: int = 10
    min_samples: int = 5

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ValueError(f"--segments must be at least 1, got {self.k}")
        if self.min_segment_size is not None and self.min_segment_size < 2:
            raise ValueError(f"--min-segment-size must be at least 2, got {self.min_segment_size}")
        if self.fit_sample < 50:
            raise ValueError(f"fit_sample must be at least 50, got {self.fit_sample}")


def row_keys(X: npt.NDArray[Any], seed: int) -> npt.NDArray[np.uint64]:
    """A seeded pseudo-random 64-bit key per row that depends only on the row's bytes.

    Sorting by it gives a sample and an order that are the same whatever order the customers
    come in, so labels are a function of the data and the seed alone.
    """
    X = np.ascontiguousarray(X)
    words = X.view(np.uint8).reshape(len(X), -1)
    pad = (-words.shape[1]) % 4
    if pad:
        words = np.pad(words, ((0, 0), (0, pad)))
    words = words.view(np.uint32)
    rng = np.random.default_rng([seed, 0x5E6])
    mult = rng.integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    with np.errstate(over="ignore"):
        h = np.empty(len(X), dtype=np.uint64)
        # Row blocks that fit in cache; uint64 arithmetic wraps, so the sum is exact mod 2**64.
        for lo in range(0, len(X), 8192):
            block = words[lo:lo + 8192].astype(np.uint64)
            h[lo:lo + 8192] = (block * mult).sum(axis=1, dtype=np.uint64)
        h += np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        # splitmix64 finaliser: spreads the sum's bits over the whole key.
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def fit_space(kind: str, raw: npt.NDArray[np.floating], p: SegmentParams, min_size: int,
               n_total: int) -> tuple[SpaceModel | None, dict[str, Any], IntArray]:
    """Fit one space's nearest-centroid model on a bounded sample of its rows.

    Returns:
        (the model or None when the space is too small, fit facts, rows in canonical order).
    """
    n = len(raw)
    # The seed picks which customers are fitted; the order they are processed in and every
    # numerical choice after that (eigensolver start, jitter) do not depend on it, so on shops
    # that fit in one sample the result is the same for every seed.
    order = np.argsort(row_keys(np.asarray(raw), p.seed), kind="stable")
    sample = order[: min(n, p.fit_sample)]
    sample = sample[np.argsort(row_keys(np.asarray(raw[sample]), INTERNAL_SEED), kind="stable")]
    m = len(sample)
    # The minimum size is in customers; the sample holds a fraction of them.
    mcs = max(2, int(np.ceil(min_size * m / n)))
    info: dict[str, Any] = {"customers": n, "sample": m, "min_cluster_size": mcs}
    if n < min_size and p.k is None:
        info.update(clusters=0, reason="fewer customers than the minimum segment size")
        return None, info, order
    space = SpaceModel.for_kind(kind, raw[sample])
    X = space.embed(raw[sample])
    if p.k is not None or kind == BEHAVIOUR:
        # K is per space, but a space never gets more segments than minimum-size groups fit in.
        k = max(1, min(p.k or BEHAVIOUR_K, n // min_size if n >= min_size else 1, m))
        found = _kmeans(X, k, kind, p, info)
        clustered = found >= 0
    else:
        found, clustered = _density(X, mcs, p, info)
    info["clusters"] = int(found.max()) + 1 if found.size else 0
    info["sample_noise_share"] = round(float((~clustered).mean()), 6) if m else 0.0
    if info["clusters"] == 0:
        # No density structure at all: one segment holds everyone rather than none.
        found = np.zeros(m, dtype=np.int64)
        clustered = np.ones(m, dtype=bool)
        info["reason"] = "no clusters found; one segment"
    ref = refine(X, found, metric=space.metric)
    if n > m:
        ref, clustered = _polish(space, raw, order, ref, info)
    # Behaviour segments cover everyone: an extreme spender is a VIP, not an outlier.
    space.set_centroids(ref.centroids, ref.labels, ref.best, ref.core, clustered, N_QUANTILES,
                        fence=kind == INTEREST)
    info["segments"] = space.n_segments
    info["sample_unassigned_share"] = round(
        float((ref.best < space.radius[ref.labels]).mean()), 6)
    info["share_of_all"] = round(n / max(n_total, 1), 6)
    return space, info, order


def _polish(space: SpaceModel, raw: npt.NDArray[np.floating], order: IntArray, ref: Refined,
            info: dict[str, Any]) -> tuple[Refined, BoolArray]:
    """Lloyd iterations on a larger sample than the clusterer saw, seeded by its centroids.

    The fit sample decides how many groups there are and roughly where; the centroids of up to
    POLISH_SAMPLE customers then settle borders that a 10,000-customer sample leaves to chance
    (seed-to-seed ARI on overlapping synthetic customers: 20,000 from 0.88-0.94 to 0.91-0.98;
    200,000 from 0.83-0.87 to 0.93-1.0). Cost stays bounded: a few matrix products per iteration.
    """
    rows = order[: min(len(order), POLISH_SAMPLE)]
    Xp = space.embed(raw[rows])
    start = similarity(Xp, ref.centroids, space.metric).argmax(axis=1).astype(np.int64)
    polished = refine(Xp, start, metric=space.metric)
    info["polish_sample"] = len(rows)
    return polished, np.ones(len(rows), dtype=bool)


def _kmeans(X: F32, k: int, kind: str, p: SegmentParams, info: dict[str, Any]) -> IntArray:
    """Exactly k groups: FAISS k-means on the customers' own (centred) vectors or RFM.

    No reducer here: asked for K groups, spherical k-means in the full space beat k-means on the
    spectral embedding on amazon_user_histories with the true K (ARI 0.75 vs 0.67).
    """
    info["k"] = k
    return CLUSTERERS.create("kmeans", k=k, seed=p.seed, spherical=kind == INTEREST).fit_predict(X)


def _density(X: F32, mcs: int, p: SegmentParams, info: dict[str, Any]) -> tuple[IntArray, BoolArray]:
    """HDBSCAN on the reduced sample; the number of groups is found, not given.

    HDBSCAN on the spectral embedding is good at telling how many groups there are but draws
    their borders from a few hundred density estimates, so small changes in the graph move
    whole groups (amazon_user_histories: ARI 0.54-0.75 over neighbour counts). Ward with that K
    in the customers' own (centred) space, refined by Lloyd iterations later, is deterministic
    and draws borders from every customer: ARI 0.75-0.78 for any K from 20 to 28 there.

    Returns:
        (group per row, seeding the centroids; whether the row counts towards its segment's
        reach).
    """
    found = _density_groups(X, mcs, p, info)
    if found.max() < 1 or info.get("clusterer") != "hdbscan":
        return found, found >= 0
    # Ward's groups are the segments, so their own members (not HDBSCAN's, drawn in another
    # space) set each segment's reach; the robust fence still leaves out the strays. Ward sees
    # a bounded prefix of the (canonically ordered, hence random) sample; the Lloyd iterations
    # that follow then use every row of it.
    groups = CLUSTERERS.create("ward", k=int(found.max()) + 1).fit_predict(X)
    info["partition"] = "ward"
    return groups, groups >= 0


def _density_groups(X: F32, mcs: int, p: SegmentParams, info: dict[str, Any]) -> IntArray:
    """HDBSCAN's groups (noise -1), on the spectral embedding unless another reducer is set."""
    m = len(X)
    hdbscan = partial(CLUSTERERS.create, "hdbscan", min_cluster_size=mcs,
                      min_samples=p.min_samples, jitter=JITTER, seed=INTERNAL_SEED)
    if m <= max(MIN_COMPONENTS + 2, 3 * p.n_neighbors) or p.reducer == "none":
        return hdbscan().fit_predict(X)
    reducer = (make_reducer(p.reducer, seed=INTERNAL_SEED, n_components=p.n_components,
                            n_neighbors=p.n_neighbors) if isinstance(p.reducer, str) else p.reducer)
    if not isinstance(reducer, SpectralReducer):
        return hdbscan().fit_predict(reducer.fit_transform(X))
    reducer.max_components = MAX_COMPONENTS
    reducer.fit(X)
    width, gap = reducer.eigengap(MIN_COMPONENTS)
    info["eigengap_width"], info["eigengap"] = width, round(gap, 6)
    if gap < MEANINGFUL_GAP:
        # A flat spectrum (a continuum of interests) says nothing about K; start from the
        # default width rather than from a drop that is noise (Online Retail: 0.02 at 2).
        width = p.n_components
    Z = reducer.set_components(width)
    if gap >= DECISIVE_GAP:
        # The graph falls apart into `width` nearly disconnected groups: spectral clustering
        # with that K is exact there, while HDBSCAN would split groups along round-off.
        info["clusterer"] = "spectral-kmeans"
        info["spectral_components"] = width
        found = CLUSTERERS.create("spectral-kmeans", k=width, seed=INTERNAL_SEED).fit_predict(Z)
        width = int(found.max()) + 1
        # Groups below the minimum size are not segments; their customers go the noise way.
        small = np.bincount(found, minlength=width) < mcs
        found = np.where(small[found], NOISE, found)
        return np.unique(found, return_inverse=True)[1].astype(np.int64) - int(small.any())
    info["clusterer"] = "hdbscan"
    return _match_width(reducer, hdbscan, _hdbscan(hdbscan, Z, info), info)


def _hdbscan(hdbscan: Callable[..., Clusterer], Z: F32, info: dict[str, Any]) -> IntArray:
    """HDBSCAN (built by `hdbscan(**overrides)`), refusing giant clusters.

    On a continuum of interests HDBSCAN's excess-of-mass choice can stop at two or three giant
    clusters (Online Retail: 53% in one). Such a segment tells a marketer nothing, so when one
    cluster holds more than MAX_SEGMENT_SHARE of the sample, HDBSCAN picks again with giants
    refused, i.e. among their sub-clusters (kept if it still finds two or more).
    """
    found = hdbscan().fit_predict(Z)
    biggest = np.bincount(found[found >= 0]).max() if (found >= 0).any() else 0
    cap = int(MAX_SEGMENT_SHARE * len(Z))
    if biggest > cap:
        again = hdbscan(max_cluster_size=cap).fit_predict(Z)
        if again.max() + 1 >= 2:
            info["max_cluster_size"] = cap
            return again
    return found


def _match_width(reducer: SpectralReducer, hdbscan: Callable[..., Clusterer], found: IntArray,
                 info: dict[str, Any]) -> IntArray:
    """Re-cut the spectral embedding to as many dimensions as clusters found, until they agree.

    Spectral clustering separates K groups best with K eigenvectors: with too few, groups share
    directions and merge; with too many, noise directions split them (amazon_user_histories: 16
    dims -> 19 clusters, 32 -> 31, true 24). The eigenvectors are computed once, so each round
    costs one HDBSCAN.
    """
    widths = [reducer.n_components]
    for _ in range(WIDTH_ROUNDS):
        k = int(found.max()) + 1
        if k < 2 or k == reducer.n_components or k in widths:
            break
        widths.append(reducer.n_components)
        Z = reducer.set_components(max(MIN_COMPONENTS, k))
        if reducer.n_components == widths[-1]:
            break
        found = _hdbscan(hdbscan, Z, info)
    info["spectral_components"] = reducer.n_components
    return found
