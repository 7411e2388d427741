"""Stable segment ids across runs, and the report of what changed.

A re-run clusters from scratch, so its cluster numbers mean nothing by themselves. Each new cluster
is matched to the previous run's segment it shares most customers with (Hungarian matching on the
Jaccard overlap of members seen in both runs); a match keeps the old id. Without shared customers
(another shop, a fresh export with new ids) clusters are matched on centroid similarity instead.
Ids are never reused: new clusters get ids above every id handed out before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, IntArray

# A new cluster keeps an old id only if they share at least this Jaccard overlap of members.
MIN_JACCARD = 0.3
# Without shared members, centroids (unit vectors) must be at least this similar.
MIN_CENTROID_COSINE = 0.9
# An old segment "feeds" a new cluster when it supplies at least this share of either one.
FEED_SHARE = 0.2
# Below this many shared customers the member overlap says too little; centroids decide.
MIN_SHARED = 20


@dataclass
class PreviousSegments:
    """What the previous run left, aligned to the current run's customers.

    Attributes:
        labels: previous segment id per current customer; -1 for customers that are new.
            0 (Unassigned) counts as no segment.
        kinds: previous segment id -> kind (`interest` / `behaviour`).
        centroids: previous segment id -> centroid in the raw space of its kind.
        next_id: the smallest id never handed out so far.
    """

    labels: IntArray
    kinds: dict[int, str]
    centroids: dict[int, F32] = field(default_factory=dict)
    next_id: int = 1


@dataclass
class Transition:
    """What happened to one segment between two runs.

    `status` is `kept` (same id, about the same members), `merged` (the segment absorbed members of
    other previous segments), `split` (a new segment carved out of a previous one), `new` or
    `retired` (a previous segment with no successor keeping its id).
    """

    id: int
    status: str
    previous: list[int]
    current: list[int]
    jaccard: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready record."""
        return {"id": self.id, "status": self.status, "previous": self.previous,
                "current": self.current, "jaccard": self.jaccard}


def match_ids(
    labels: IntArray,
    centroids: F32,
    sizes: IntArray,
    kind: str,
    previous: PreviousSegments | None,
    next_id: int,
) -> tuple[IntArray, int]:
    """Ids for clusters 0..K-1 of one kind.

    Args:
        labels: cluster (0..K-1) per current customer, -1 for unassigned.
        centroids: (K x d) cluster centroids in the raw space of this kind.
        sizes: customers per cluster (ties in id order are broken by size, largest first).
        kind: `interest` or `behaviour`; only previous segments of the same kind are candidates.
        previous: the previous run, or None.
        next_id: first id free for new clusters.

    Returns:
        (id per cluster, the next free id after this kind).
    """
    k = len(centroids)
    ids = np.full(k, -1, dtype=np.int64)
    if previous is not None:
        old_ids = sorted(i for i, kd in previous.kinds.items() if kd == kind and i > 0)
        if old_ids and k:
            from scipy.optimize import linear_sum_assignment

            score = _match_score(labels, centroids, k, old_ids, previous)
            rows, cols = linear_sum_assignment(-score)
            for r, c in zip(rows, cols, strict=True):
                if score[r, c] > 0:
                    ids[r] = old_ids[c]
    # Fresh ids: largest cluster first, so a first run numbers segments by size.
    for c in sorted(np.flatnonzero(ids < 0), key=lambda c: (-int(sizes[c]), int(c))):
        ids[c] = next_id
        next_id += 1
    return ids, next_id


def _match_score(labels: IntArray, centroids: F32, k: int, old_ids: list[int],
                 previous: PreviousSegments) -> npt.NDArray[np.float64]:
    """(K x old) scores; zero where a pair must not match."""
    jac, shared = _jaccard(labels, k, old_ids, previous.labels)
    if shared >= MIN_SHARED:
        return np.where(jac >= MIN_JACCARD, jac, 0.0)
    score = np.zeros((k, len(old_ids)))
    norms = np.linalg.norm(centroids, axis=1) + 1e-12
    for j, old in enumerate(old_ids):
        c_old = previous.centroids.get(old)
        if c_old is None or c_old.shape[0] != centroids.shape[1]:
            continue
        sims = centroids @ c_old / (norms * (np.linalg.norm(c_old) + 1e-12))
        score[:, j] = np.where(sims >= MIN_CENTROID_COSINE, sims, 0.0)
    return score


def _jaccard(labels: IntArray, k: int, old_ids: list[int], prev: IntArray
             ) -> tuple[npt.NDArray[np.float64], int]:
    """Jaccard overlap of members between clusters and old segments, over customers in both runs.

    Returns:
        ((K x old) overlaps, how many customers are in a cluster now and an old segment before).
    """
    present = prev >= 0
    cur, old = labels[present], prev[present]
    col = np.searchsorted(old_ids, old)
    col = np.where((col < len(old_ids)) & (np.asarray(old_ids)[np.minimum(col, len(old_ids) - 1)] == old),
                   col, -1)
    cur_tot = np.bincount(cur[cur >= 0], minlength=k).astype(np.float64)
    old_tot = np.bincount(col[col >= 0], minlength=len(old_ids)).astype(np.float64)
    both = (cur >= 0) & (col >= 0)
    inter = np.zeros((k, len(old_ids)))
    np.add.at(inter, (cur[both], col[both]), 1.0)
    union = cur_tot[:, None] + old_tot[None, :] - inter
    jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return jac, int(both.sum())


def transitions(
    labels: IntArray,
    previous: PreviousSegments | None,
    current_kinds: dict[int, str],
) -> list[Transition]:
    """What was kept, merged, split, new or retired between the previous run and this one.

    Args:
        labels: final segment id per current customer (0 = Unassigned).
        previous: the previous run (None: everything is new).
        current_kinds: current segment id -> kind (Unassigned excluded).
    """
    cur_ids = sorted(i for i in current_kinds if i > 0)
    if previous is None:
        return [Transition(i, "new", [], [i]) for i in cur_ids]
    old_ids = sorted(i for i in previous.kinds if i > 0)
    prev = previous.labels
    seen = (prev >= 0) & (labels >= 0)
    cur_size = {i: int(((labels == i) & (prev >= 0)).sum()) for i in cur_ids}
    old_size = {j: int(((prev == j) & (labels >= 0)).sum()) for j in old_ids}
    inter: dict[tuple[int, int], int] = {}
    pairs, counts = np.unique(np.stack([labels[seen], prev[seen]]), axis=1, return_counts=True)
    for (c, j), n in zip(pairs.T.tolist(), counts.tolist(), strict=True):
        if c > 0 and j > 0:
            inter[(c, j)] = n

    def feeds(c: int, j: int) -> bool:
        n = inter.get((c, j), 0)
        return n > 0 and (n >= FEED_SHARE * max(cur_size[c], 1)
                          or n >= FEED_SHARE * max(old_size[j], 1))

    out: list[Transition] = []
    for c in cur_ids:
        sources = [j for j in old_ids if feeds(c, j)]
        if c in previous.kinds:
            n = inter.get((c, c), 0)
            union = cur_size[c] + old_size.get(c, 0) - n
            jac = round(n / union, 4) if union else None
            status = "merged" if len([j for j in sources if j != c]) >= 1 else "kept"
            out.append(Transition(c, status, sorted(set(sources) | {c}), [c], jac))
        elif any(j in cur_ids for j in sources) or len(sources) == 1:
            out.append(Transition(c, "split", sources, [c]))
        elif len(sources) >= 2:
            out.append(Transition(c, "merged", sources, [c]))
        else:
            out.append(Transition(c, "new", [], [c]))
    for j in old_ids:
        if j not in current_kinds:
            out.append(Transition(j, "retired", [j], [c for c in cur_ids if feeds(c, j)]))
    return out
