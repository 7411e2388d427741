"""`segmint assign`: new customers into existing segments without refitting, and how well that works.

The stored model is the nearest-centroid rule the segment step itself used to assign everyone, so
a newcomer lands exactly where a customer with the same vector landed in the fit. Its quality on
customers it has never seen is measured the way a classifier's is: the centroids and radii are
re-estimated from 80% of the segmented customers, the other 20% are assigned by them, and accuracy
and per-segment recall against their actual segments are reported.
"""

from __future__ import annotations

import csv
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, UNASSIGNED, BoolArray, IntArray
from segmint.agent.segment.build import row_keys
from segmint.agent.segment.cluster import similarity
from segmint.agent.segment.model import RADIUS_SLACK, SegmentModel, SpaceModel


@dataclass
class Assignment:
    """Segments for a batch of customers.

    Attributes:
        labels: segment id (0 = Unassigned).
        membership: 0-1 typicality within the segment (0 when Unassigned).
        nearest: nearest segment id, also for the Unassigned.
    """

    labels: IntArray
    membership: F32
    nearest: IntArray


def assign(model: SegmentModel, vectors: npt.NDArray[np.floating], has_text: BoolArray,
           behaviour: npt.NDArray[np.floating]) -> Assignment:
    """Place customers with the stored model (no refit).

    Args:
        model: the run's segment model (`segment_store.load_model`).
        vectors: (n x d) unit text vectors of the customers (rows without text ignored).
        has_text: whether each customer has text.
        behaviour: (n x 4) recency_days, orders, revenue, n_events.
    """
    labels, member, near = model.predict(vectors, has_text, behaviour)
    return Assignment(labels, member, near)


def write_assignment(path: Path, user_ids: list[str], result: Assignment,
                     names: dict[int, str] | None = None) -> Path:
    """Write `user_id, segment_id, segment_name, membership, nearest_segment_id` as CSV, atomically.

    The rows go to a temporary file beside `path`, which then replaces it: a reader never sees a
    half-written list, and a failed write leaves any earlier file as it was.
    """
    names = names or {}
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["user_id", "segment_id", "segment_name", "membership", "nearest_segment_id"])
            for uid, sid, m, near in zip(user_ids, result.labels.tolist(), result.membership.tolist(),
                                         result.nearest.tolist(), strict=True):
                name = names.get(sid, "Unassigned" if sid == UNASSIGNED else "")
                w.writerow([uid, sid, name, round(m, 6), near])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def holdout_report(model: SegmentModel, vectors: npt.NDArray[np.floating], has_text: BoolArray,
                   behaviour: npt.NDArray[np.floating], labels: IntArray, *,
                   test_share: float = 0.2, seed: int = 0, max_customers: int = 100_000
                   ) -> dict[str, Any]:
    """Held-out accuracy and per-segment recall of the nearest-centroid newcomer model.

    Args:
        model: the fitted model (its spaces define how rows are embedded).
        vectors, has_text, behaviour: the customers the model was fitted on.
        labels: their segment ids from the fit (0 = Unassigned).
        test_share: share of customers held out (chosen by a seeded hash of each row).
        seed: seeds the split.
        max_customers: per space, at most this many customers take part (a seeded subset).

    Returns:
        n_train, n_test, accuracy, per_segment_recall {id: recall}, macro_recall, and the same
        accuracy for customers with a segment only (`accuracy_assigned`).
    """
    if not 0 < test_share < 1:
        raise ValueError("test_share must be between 0 and 1")
    has_text = np.asarray(has_text, dtype=bool)
    truth: list[IntArray] = []
    pred: list[IntArray] = []
    n_train = 0
    for space in model.spaces:
        rows = np.flatnonzero(has_text if space.kind == "interest" else ~has_text)
        if len(rows) == 0:
            continue
        source = vectors if space.kind == "interest" else behaviour
        keys = row_keys(np.asarray(source if len(rows) == len(source) else source[rows]),
                        seed + 7919)
        if len(rows) > max_customers:
            # A bounded, seeded subset is plenty for an accuracy estimate and keeps a million
            # customers from being embedded at once.
            keep = np.sort(np.argsort(keys, kind="stable")[:max_customers])
            rows, keys = rows[keep], keys[keep]
        X = space.embed(source[rows])
        y = np.asarray(labels)[rows]
        # The keys' low bits are uniform: a fixed threshold on them holds out test_share.
        test = (keys & np.uint64(0xFFFFFFFF)) < np.uint64(int(test_share * 2**32))
        p = _refit_predict(space, X[~test], y[~test], X[test])
        truth.append(y[test])
        pred.append(p)
        n_train += int((~test).sum())
    t = np.concatenate(truth) if truth else np.zeros(0, np.int64)
    p = np.concatenate(pred) if pred else np.zeros(0, np.int64)
    recall = {int(s): round(float((p[t == s] == s).mean()), 6) for s in np.unique(t)}
    seg_recall = [v for s, v in recall.items() if s != UNASSIGNED]
    assigned = t != UNASSIGNED
    return {
        "n_train": n_train,
        "n_test": len(t),
        "accuracy": round(float((t == p).mean()), 6) if len(t) else None,
        "accuracy_assigned": round(float((t[assigned] == p[assigned]).mean()), 6)
        if assigned.any() else None,
        "macro_recall": round(float(np.mean(seg_recall)), 6) if seg_recall else None,
        "per_segment_recall": recall,
    }


def _refit_predict(space: SpaceModel, X_train: F32, y_train: IntArray, X_test: F32) -> IntArray:
    """Centroids and radii from the training customers only, then assign the test customers."""
    ids = np.array(sorted(s for s in np.unique(y_train) if s != UNASSIGNED), dtype=np.int64)
    if len(ids) == 0:
        return np.full(len(X_test), UNASSIGNED, dtype=np.int64)
    C = np.stack([X_train[y_train == s].mean(axis=0) for s in ids]).astype(np.float32)
    if space.metric == "cosine":
        C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    S_train = similarity(X_train, C, space.metric)
    radius = np.array([S_train[y_train == s, j].min() for j, s in enumerate(ids)]) - RADIUS_SLACK
    S = similarity(X_test, C, space.metric)
    best = S.argmax(axis=1)
    ok = S[np.arange(len(X_test)), best] >= radius[best]
    return np.where(ok, ids[best], UNASSIGNED)
