"""The segment step: customer vectors -> segments with stable ids, membership scores and an
explicit Unassigned group.

Customers with text get *interest* segments from their pooled text vectors; customers without any
text get *behaviour* segments from log-scaled RFM (recency, orders, revenue, events). Per space:

1. a bounded sample is drawn by a seeded hash of each row (input order never matters);
2. interest: the sample's vectors are centred and embedded spectrally (kNN graph); the spectrum's
   largest drop gives the starting width. A decisive drop (nearly disconnected groups) is
   clustered by spectral k-means; otherwise HDBSCAN finds the groups and the width is re-cut to
   the number found until the two agree. Giant clusters on a continuum are refused.
   With `k`, FAISS k-means gives exactly k. Behaviour: k-means on standardised log-RFM;
3. `refine` turns the groups into centroids in the customers' own space (spherical Lloyd). The
   model is nearest-centroid, with a radius per segment: the reach of what the clusterer put in
   it, cut at a robust outlier fence;
4. everyone, the sample included, is assigned through FAISS by that model: their nearest segment
   when within its radius, else Unassigned (id 0). Fit and predict are the same function, so
   `segmint assign` puts a customer exactly where the fit would.

Cost: the fit is bounded by the sample size; assignment is linear in the number of customers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, UNASSIGNED, BoolArray, IntArray
from segmint.agent.segment._vectors import normalise_rows
from segmint.agent.segment.cluster import NOISE, default_min_cluster_size
from segmint.agent.segment.evaluate import label_free_quality
from segmint.agent.segment.fit import (
    ASSIGN_CHUNK,
    BEHAVIOUR,
    INTEREST,
    QUALITY_SAMPLE,
    SegmentParams,
    fit_space,
    row_keys,
)
from segmint.agent.segment.model import SegmentModel, SpaceModel, behaviour_features
from segmint.agent.segment.stable_ids import PreviousSegments, Transition, match_ids, transitions

__all__ = ["BEHAVIOUR", "INTEREST", "UNASSIGNED", "SegmentInfo", "SegmentParams", "SegmentResult",
           "build_segments", "previous_from_result", "row_keys"]


@dataclass
class SegmentInfo:
    """One segment: id, kind and size, plus where it lies.

    Attributes:
        id: stable id (0 is the Unassigned group).
        kind: `interest`, `behaviour` or `unassigned`.
        size: customers in it.
        share: size / all customers.
        centroid: mean raw vector of its members (unit length for interest), for matching later
            runs and for lookalike searches; empty for Unassigned.
        radius: least similarity to the centroid at which a customer still joins.
    """

    id: int
    kind: str
    size: int
    share: float
    centroid: F32
    radius: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (without the centroid)."""
        return {"id": self.id, "kind": self.kind, "size": self.size, "share": round(self.share, 6),
                "radius": None if self.radius is None else round(self.radius, 6)}


@dataclass
class SegmentResult:
    """Everything the segment step produced.

    Attributes:
        labels: segment id per customer, in input order (0 = Unassigned).
        membership: 0-1 per customer: how typical they are of their segment (share of its core
            members further from the centre); 0 for Unassigned.
        nearest: nearest segment id per customer, also for the Unassigned.
        segments: one entry per segment, Unassigned (id 0) first.
        noise_share: share of customers in Unassigned.
        transitions: what changed against the previous run.
        model: the nearest-centroid model (what `segmint assign` loads).
        fit: per space, what the fit did (sample size, clusters found, noise in the sample...).
        quality: per space, label-free quality (silhouette, DBCV) on a sample.
        seconds: time per phase.
        holdout: the newcomer model's held-out accuracy (filled by `segment_step`).
    """

    labels: IntArray
    membership: F32
    nearest: IntArray
    segments: list[SegmentInfo]
    noise_share: float
    transitions: list[Transition]
    model: SegmentModel
    fit: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)

    @property
    def n_segments(self) -> int:
        """Segments, not counting Unassigned."""
        return sum(1 for s in self.segments if s.id != UNASSIGNED)

    def summary(self) -> dict[str, Any]:
        """The run facts for `segmint run --json` / `segmint segments --json`."""
        return {
            "segments": self.n_segments,
            "noise_share": round(self.noise_share, 6),
            "sizes": {str(s.id): s.size for s in self.segments},
            "fit": self.fit,
            "quality": self.quality,
            "newcomer_model": self.holdout,
            "transitions": [t.to_json() for t in self.transitions],
            "seconds": self.seconds,
        }


def previous_from_result(result: SegmentResult, old_user_ids: list[str] | None = None,
                         new_user_ids: list[str] | None = None) -> PreviousSegments:
    """A finished result as the `previous` of a re-run, without going through a workspace.

    Args:
        result: the earlier run.
        old_user_ids: its customers (row order of `result.labels`); None with `new_user_ids`
            None means the re-run has the very same customers in the same order.
        new_user_ids: the re-run's customers.
    """
    if (old_user_ids is None) != (new_user_ids is None):
        raise ValueError("give both old and new user ids, or neither")
    if old_user_ids is None or new_user_ids is None:
        labels = result.labels.copy()
    else:
        pos = {u: i for i, u in enumerate(old_user_ids)}
        labels = np.array([result.labels[pos[u]] if u in pos else -1 for u in new_user_ids],
                          dtype=np.int64)
    return PreviousSegments(labels=labels, kinds={s.id: s.kind for s in result.segments},
                            centroids={s.id: s.centroid for s in result.segments if s.id},
                            next_id=result.model.next_id)


def build_segments(
    vectors: npt.NDArray[np.floating],
    has_text: BoolArray,
    behaviour: npt.NDArray[np.floating],
    *,
    k: int | None = None,
    min_segment_size: int | None = None,
    seed: int = 0,
    previous: PreviousSegments | None = None,
    params: SegmentParams | None = None,
    assign: Callable[[SpaceModel, npt.NDArray[np.floating]], Any] | None = None,
) -> SegmentResult:
    """Segment every customer.

    Args:
        vectors: (n x d) L2-normalised customer vectors, rows of customers without text ignored.
        has_text: per customer, whether `vectors` carries their interests.
        behaviour: (n x 4) raw recency_days (NaN when never bought), orders, revenue, n_events.
        k: exact number of segments per space (overrides `params.k`).
        min_segment_size: smallest segment in customers (overrides `params.min_segment_size`).
        seed: seed (overrides `params.seed`).
        previous: the previous run's segments, aligned to these customers, for stable ids.
        params: further settings.
        assign: runs a fitted space's nearest-centroid pass over all its rows (an engine's
            `assign`, e.g. Ray tasks); default `SpaceModel.assign_clusters` in this process.

    Returns:
        Labels, membership, segments, transitions, the model and fit facts.
    """
    base = params or SegmentParams()
    p = SegmentParams(**{**base.__dict__, "k": k if k is not None else base.k,
                         "min_segment_size": min_segment_size if min_segment_size is not None
                         else base.min_segment_size, "seed": seed})
    n = len(has_text)
    has_text = np.asarray(has_text, dtype=bool)
    if vectors.shape[0] != n or behaviour.shape[0] != n:
        raise ValueError("vectors, has_text and behaviour must have one row per customer")
    min_size = p.min_segment_size or default_min_cluster_size(n)
    labels = np.full(n, UNASSIGNED, dtype=np.int64)
    membership = np.zeros(n, dtype=np.float32)
    nearest = np.full(n, UNASSIGNED, dtype=np.int64)
    spaces: list[SpaceModel] = []
    fit: dict[str, dict[str, Any]] = {}
    quality: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    next_id = max(previous.next_id if previous else 1, 1)
    for kind, rows in ((INTEREST, np.flatnonzero(has_text)), (BEHAVIOUR, np.flatnonzero(~has_text))):
        if len(rows) == 0:
            continue
        start = time.perf_counter()
        # No copy of a million vectors when everyone is in this space; rows are normalised
        # chunk by chunk where they are used.
        source = vectors if kind == INTEREST else behaviour
        raw = source if len(rows) == n else source[rows]
        space, info, order = fit_space(kind, raw, p, min_size, n)
        fit[kind] = info
        seconds[f"fit_{kind}"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        if space is None:
            continue
        cluster, member, near, ok = (assign or SpaceModel.assign_clusters)(space, raw)
        full = np.full(n, NOISE, dtype=np.int64)
        full[rows] = np.where(ok, cluster, NOISE)
        sizes = np.bincount(cluster[ok], minlength=space.n_segments)
        raw_centroids = _raw_centroids(kind, raw, np.where(ok, cluster, NOISE), space.n_segments)
        ids, next_id = match_ids(full, raw_centroids, sizes, kind, previous, next_id)
        space.ids = ids
        space.raw_centroids = raw_centroids
        spaces.append(space)
        labels[rows] = np.where(ok, ids[cluster], UNASSIGNED)
        membership[rows] = np.where(ok, member, 0.0)
        nearest[rows] = ids[near]
        seconds[f"assign_{kind}"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        probe = np.sort(order[:QUALITY_SAMPLE])
        quality[kind] = label_free_quality(space.embed(raw[probe]), labels[rows][probe],
                                           sample_size=QUALITY_SAMPLE, seed=p.seed)
        seconds[f"quality_{kind}"] = round(time.perf_counter() - start, 3)
    # A reducer object (e.g. an autoencoder) is recorded by its class name: the model file is JSON.
    reducer = p.reducer if isinstance(p.reducer, str) else type(p.reducer).__name__
    model = SegmentModel(spaces=spaces, next_id=next_id, params={**p.__dict__, "reducer": reducer})
    segments = _segment_infos(labels, model)
    kinds = {s.id: s.kind for s in segments if s.id != UNASSIGNED}
    return SegmentResult(
        labels=labels, membership=membership, nearest=nearest, segments=segments,
        noise_share=float((labels == UNASSIGNED).mean()) if n else 0.0,
        transitions=transitions(labels, previous, kinds), model=model, fit=fit, quality=quality,
        seconds=seconds,
    )


def _raw_centroids(kind: str, raw: npt.NDArray[np.floating], cluster: IntArray, k: int) -> F32:
    """Mean raw vector per cluster (-1 rows left out; unit length for interest), comparable
    across runs whatever each run's centring; computed chunk by chunk."""
    import scipy.sparse as sp

    sums: npt.NDArray[np.float64] | None = None
    for lo in range(0, len(raw), ASSIGN_CHUNK):
        part = raw[lo:lo + ASSIGN_CHUNK]
        feats = normalise_rows(part) if kind == INTEREST else behaviour_features(part)
        c = cluster[lo:lo + ASSIGN_CHUNK]
        keep = np.flatnonzero(c >= 0)
        ind = sp.csr_matrix((np.ones(len(keep)), (c[keep], keep)), shape=(k, len(part)))
        add = np.asarray(ind @ feats, dtype=np.float64)
        sums = add if sums is None else sums + add
    if sums is None:
        return np.zeros((k, raw.shape[1] if raw.ndim == 2 else 0), dtype=np.float32)
    counts = np.bincount(cluster[cluster >= 0], minlength=k)
    C = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    return normalise_rows(C) if kind == INTEREST else C


def _segment_infos(labels: IntArray, model: SegmentModel) -> list[SegmentInfo]:
    n = max(len(labels), 1)
    out = [SegmentInfo(UNASSIGNED, "unassigned", int((labels == UNASSIGNED).sum()),
                       float((labels == UNASSIGNED).sum()) / n, np.zeros(0, dtype=np.float32))]
    for space in model.spaces:
        for c, sid in enumerate(space.ids):
            size = int((labels == sid).sum())
            out.append(SegmentInfo(int(sid), space.kind, size, size / n, space.raw_centroids[c],
                                   float(space.radius[c])))
    return sorted(out, key=lambda s: (s.id != UNASSIGNED, -s.size, s.id))
