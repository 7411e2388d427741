"""A 2-D map of customers for the web app: each dot a customer, placed by its behaviour vector.

Segment centres are laid out by classical MDS of their cosine distances; each customer sits at the
similarity-weighted average of the centres it is close to, plus its own offset from its segment's
centre (the first two principal directions of those offsets), so a segment's spread stays visible.
This costs O(customers x segments) and no iterative embedding, so it answers in well under a
second for any shop. Big shops are sampled (deterministically) before anything is read.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from segmint.agent.core.workspace import Workspace

MAX_POINTS = 4000
CENTRE_SAMPLE = 50_000
TEMPERATURE = 0.01  # softmax temperature on cosine similarities to the segment centres
SPREAD = 0.08  # offsets are scaled to this share of the median distance between centres


@dataclass
class CustomerMap:
    """Plotted customers (column lists) and segment centres."""

    user_ids: list[str]
    x: list[float]
    y: list[float]
    segment_ids: list[str]
    centres: dict[str, tuple[float, float]]
    total: int
    without_vectors: int

    def to_json(self) -> dict[str, Any]:
        """Columns rather than records: a few thousand points stay small on the wire."""
        return {
            "user_id": self.user_ids, "x": self.x, "y": self.y, "segment_id": self.segment_ids,
            "centres": [{"id": k, "x": v[0], "y": v[1]} for k, v in self.centres.items()],
            "total": self.total, "shown": len(self.user_ids),
            "without_vectors": self.without_vectors,
            "method": "segment-centre MDS with per-customer offsets",
        }


def classical_mds(distances: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS: coordinates whose distances best match `distances`.

    Args:
        distances: symmetric (k x k) matrix.
        dims: output dimensions.

    Returns:
        (k x dims) coordinates; missing dimensions (k <= dims) are zeros.
    """
    k = distances.shape[0]
    out = np.zeros((k, dims))
    if k < 2:
        return out
    j = np.eye(k) - np.ones((k, k)) / k
    b = -0.5 * j @ (distances**2) @ j
    values, vectors = np.linalg.eigh(b)
    order = np.argsort(values)[::-1][:dims]
    for col, idx in enumerate(order):
        if values[idx] > 1e-12:
            out[:, col] = vectors[:, idx] * np.sqrt(values[idx])
    return out


def project(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, dict[Any, np.ndarray]]:
    """Place customers in 2-D by their similarity to segment centres (deterministic).

    Args:
        vectors: (n x d) unit vectors.
        labels: (n,) segment ids; 0 is Unassigned and gets no centre of its own.

    Returns:
        (n x 2) coordinates and each real segment's centre position.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    segs = [s for s in sorted(set(labels.tolist()), key=str) if str(s) != "0"]
    if not segs or len(vectors) == 0:
        return np.zeros((len(vectors), 2)), {}
    centres = np.stack([vectors[labels == s].mean(axis=0) for s in segs])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    sims = np.clip(centres @ centres.T, -1.0, 1.0)
    pos = classical_mds(np.sqrt(np.maximum(2.0 - 2.0 * sims, 0.0)))
    scale = float(np.median(_pairwise(pos))) if len(segs) > 1 else 1.0
    scale = scale if scale > 1e-9 else 1.0
    logits = (vectors @ centres.T) / TEMPERATURE
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    xy = weights @ pos
    own = {s: i for i, s in enumerate(segs)}
    rows = np.array([own.get(s, -1) for s in labels.tolist()])
    nearest = np.where(rows >= 0, rows, np.argmax(logits, axis=1))
    offsets = vectors - centres[nearest]
    if len(vectors) > 2:
        centred = offsets - offsets.mean(axis=0)
        # The two main directions from the (d x d) covariance: cheaper than an SVD of n x d.
        step = max(1, len(centred) // 5000)
        _, directions = np.linalg.eigh(centred[::step].T @ centred[::step])
        flat = centred @ directions[:, ::-1][:, :2]
        if flat.shape[1] < 2:
            flat = np.pad(flat, ((0, 0), (0, 2 - flat.shape[1])))
        std = float(np.sqrt((flat**2).sum(axis=1).mean())) or 1.0
        xy = xy + flat / std * SPREAD * scale
    return xy, {s: pos[i] for i, s in enumerate(segs)}


def _pairwise(pos: np.ndarray) -> np.ndarray:
    diff = pos[:, None, :] - pos[None, :, :]
    dist = np.sqrt((diff**2).sum(axis=-1))
    return dist[np.triu_indices(len(pos), k=1)]


_CACHE: dict[tuple[str, tuple[int, int, int]], CustomerMap] = {}
_LOCK = threading.Lock()


def customer_map(workspace: Workspace, max_points: int = MAX_POINTS, seed: int = 0) -> CustomerMap:
    """The workspace's customer map, computed once per version of its database.

    Args:
        workspace: a workspace with a completed run (customer vectors in its side files).
        max_points: most customers plotted; bigger shops are sampled uniformly with `seed`.
        seed: sampling seed (the same seed gives the same map).

    Returns:
        The map; empty when the run stored no customer vectors.
    """
    key = (f"{workspace.db_path}:{max_points}:{seed}", workspace.version())
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        # One BLAS thread: the matrices are small, and threads fighting over busy cores cost ~10x.
        with threadpool_limits(limits=1):
            result = _compute(workspace, max_points, seed)
        _CACHE.clear()
        _CACHE[key] = result
        return result


def _compute(workspace: Workspace, max_points: int, seed: int) -> CustomerMap:
    with contextlib.closing(workspace.reader()) as con:
        seg_of = {str(u): str(s) for u, s in con.execute(
            "SELECT user_id, coalesce(segment_id, 0) FROM users").fetchall()}
    index_dir = workspace.current_files() / "user_index"
    if not (index_dir / "vectors.npy").exists():
        return CustomerMap([], [], [], [], {}, len(seg_of), len(seg_of))
    ids = [str(u) for u in json.loads((index_dir / "user_ids.json").read_text())]
    vectors = np.load(Path(index_dir / "vectors.npy"), mmap_mode="r", allow_pickle=False)
    rng = np.random.default_rng(seed)
    n = len(ids)
    fit_rows = np.sort(rng.choice(n, size=min(n, CENTRE_SAMPLE), replace=False))
    shown = np.sort(rng.choice(len(fit_rows), size=min(len(fit_rows), max_points), replace=False))
    fit_vectors = np.asarray(vectors[fit_rows], dtype=np.float32)
    labels = np.array([seg_of.get(ids[int(i)], "0") for i in fit_rows], dtype=object)
    xy, centres = project(fit_vectors, labels)
    xy = xy[shown]
    mid = xy.mean(axis=0) if len(xy) else np.zeros(2)
    return CustomerMap(
        user_ids=[ids[int(fit_rows[i])] for i in shown],
        x=[round(float(v), 4) for v in xy[:, 0] - mid[0]],
        y=[round(float(v), 4) for v in xy[:, 1] - mid[1]],
        segment_ids=[str(labels[i]) for i in shown],
        centres={str(k): (round(float(v[0] - mid[0]), 4), round(float(v[1] - mid[1]), 4))
                 for k, v in centres.items()},
        total=len(seg_of),
        without_vectors=max(len(seg_of) - n, 0),
    )
