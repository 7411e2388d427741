"""The fitted segment model: per space, centroids, radii and membership quantiles.

It is all `segmint assign` needs to place new customers without refitting, and it is also how the
segment step itself assigns every customer, so the two never disagree. Stored as one `.npz` file
(arrays plus a JSON header) in the run's side-file directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import F32, BoolArray, IntArray
from segmint.agent.segment._vectors import center_normalise, normalise_rows

MODEL_FILE = "segment_model.npz"
FORMAT_VERSION = 1
BEHAVIOUR_COLUMNS = ("recency_days", "orders", "revenue", "n_events")
# Customers who never bought have no recency; they are placed as if their last purchase were ten
# years ago: beyond any real lapse, and the same constant in every run.
NEVER_BOUGHT_RECENCY_DAYS = 3650.0
_CHUNK = 65_536
RADIUS_SLACK = 1e-4
# Z for the outlier fence of a segment's reach: 7 keeps planted outliers out of 10 tight blobs
# and costs amazon_user_histories 0.007 ARI; 4 costs it 0.015, no fence lets stray customers in.
RADIUS_Z = 7.0


def behaviour_features(raw: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Log-scaled RFM: log1p of recency_days, orders and n_events; signed log1p of revenue.

    Args:
        raw: (n x 4) recency_days (NaN = never bought), orders, revenue, n_events.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(BEHAVIOUR_COLUMNS):
        raise ValueError(f"behaviour needs {len(BEHAVIOUR_COLUMNS)} columns: {BEHAVIOUR_COLUMNS}")
    rec = np.where(np.isfinite(raw[:, 0]), np.maximum(raw[:, 0], 0.0), NEVER_BOUGHT_RECENCY_DAYS)
    orders = np.maximum(np.nan_to_num(raw[:, 1]), 0.0)
    revenue = np.nan_to_num(raw[:, 2])
    events = np.maximum(np.nan_to_num(raw[:, 3]), 0.0)
    return np.stack([np.log1p(rec), np.log1p(orders),
                     np.sign(revenue) * np.log1p(np.abs(revenue)), np.log1p(events)], axis=1)


def _radius(sims: npt.NDArray[np.floating]) -> float:
    """The least similarity at which a customer still belongs to a segment.

    The segment's reach is what the clusterer put in it, but a clusterer also absorbs a few
    stray customers at the edges, and one of them would stretch a plain minimum to take in
    anything; so the reach is cut at a robust outlier fence: median - Z x (scaled MAD).
    """
    med = float(np.median(sims))
    mad = 1.4826 * float(np.median(np.abs(sims - med)))
    fence = med - RADIUS_Z * mad
    # The slack absorbs float differences between this and FAISS's own dot products.
    return max(float(sims.min()), fence) - RADIUS_SLACK


@dataclass
class SpaceModel:
    """Nearest-centroid model of one space (`interest` text vectors or `behaviour` RFM).

    Attributes:
        kind: `interest` or `behaviour`.
        metric: `cosine` (interest) or `euclidean` (behaviour, on standardised features).
        shift: subtracted before comparing (the fit sample's mean).
        scale: divides after the shift (behaviour only; ones for interest).
        centroids: (K x d) in the model space.
        radius: per segment, the least similarity at which a customer still joins it.
        quantiles: (K x Q) similarity quantiles of each segment's core members (membership).
        ids: stable segment id per centroid.
        raw_centroids: (K x d_raw) centroids in the raw space, for matching later runs.
    """

    kind: str
    metric: str
    shift: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    centroids: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    radius: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    quantiles: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    ids: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    raw_centroids: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @classmethod
    def for_kind(cls, kind: str, sample: npt.NDArray[np.floating]) -> SpaceModel:
        """An unfitted model whose shift/scale come from the fit sample."""
        if kind == "interest":
            dim = sample.shape[1]
            return cls(kind, "cosine", normalise_rows(sample).astype(np.float64).mean(axis=0),
                       np.ones(dim))
        feats = behaviour_features(sample)
        # A floor on the spread: a feature that is constant in the sample must not blow up.
        return cls(kind, "euclidean", feats.mean(axis=0), np.maximum(feats.std(axis=0), 1e-3))

    @property
    def n_segments(self) -> int:
        """Number of centroids."""
        return int(self.centroids.shape[0])

    def embed(self, raw: npt.NDArray[np.floating]) -> F32:
        """Raw rows (unit text vectors, or the 4 RFM columns) in the model space."""
        if self.metric == "cosine":
            return center_normalise(normalise_rows(raw), self.shift)
        return ((behaviour_features(raw) - self.shift) / self.scale).astype(np.float32)

    def set_centroids(self, centroids: F32, labels: IntArray, best: F32, core: BoolArray,
                      clustered: BoolArray, n_quantiles: int, *, fence: bool = True) -> None:
        """Store refined centroids with each one's radius and membership quantiles.

        Args:
            centroids: (K x d) refined centroids.
            labels: nearest centroid per sample row.
            best: similarity to it.
            core: rows the clusterer put in the segment they ended in.
            clustered: rows the clusterer did not leave as noise.
            n_quantiles: quantile points kept per segment.
            fence: whether a segment has a radius at all; without one everyone is assigned.
        """
        k = len(centroids)
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.radius = np.zeros(k, dtype=np.float32)
        self.quantiles = np.zeros((k, n_quantiles), dtype=np.float32)
        probs = np.linspace(0.0, 1.0, n_quantiles)
        for c in range(k):
            mine = labels == c
            # Every customer the clusterer kept and that lands here defines the segment's reach,
            # so the sample itself is assigned by the same rule as everyone else.
            reach = best[mine & clustered] if (mine & clustered).any() else best[mine]
            typical = best[mine & core] if (mine & core).sum() >= 2 else best[mine]
            self.radius[c] = _radius(reach) if fence else -np.inf
            self.quantiles[c] = np.quantile(typical, probs)
        self.ids = np.arange(1, k + 1, dtype=np.int64)

    def assign_clusters(self, raw: npt.NDArray[np.floating]
                        ) -> tuple[IntArray, F32, IntArray, BoolArray]:
        """Nearest centroid (FAISS) for raw rows.

        Returns:
            (centroid index, membership 0-1, nearest centroid index, within radius).
        """
        import faiss

        index = (faiss.IndexFlatIP if self.metric == "cosine" else faiss.IndexFlatL2)(
            self.centroids.shape[1])
        index.add(self.centroids)
        n = len(raw)
        cluster = np.zeros(n, dtype=np.int64)
        best = np.zeros(n, dtype=np.float32)
        for lo in range(0, n, _CHUNK):
            X = self.embed(raw[lo:lo + _CHUNK])
            d, i = index.search(np.ascontiguousarray(X, dtype=np.float32), 1)
            cluster[lo:lo + _CHUNK] = i[:, 0]
            best[lo:lo + _CHUNK] = d[:, 0] if self.metric == "cosine" else -d[:, 0]
        ok = best >= self.radius[cluster]
        member = np.zeros(n, dtype=np.float32)
        probs = np.linspace(0.0, 1.0, self.quantiles.shape[1])
        for c in np.unique(cluster):
            sel = cluster == c
            member[sel] = np.interp(best[sel], self.quantiles[c], probs, left=0.0, right=1.0)
        return cluster, member, cluster.copy(), ok

    def predict(self, raw: npt.NDArray[np.floating]) -> tuple[IntArray, F32, IntArray]:
        """Segment id (0 = Unassigned), membership and nearest segment id for raw rows."""
        cluster, member, near, ok = self.assign_clusters(raw)
        return (np.where(ok, self.ids[cluster], 0), np.where(ok, member, 0.0).astype(np.float32),
                self.ids[near])


@dataclass
class SegmentModel:
    """All spaces' models plus the id counter; what `segmint assign` loads."""

    spaces: list[SpaceModel]
    next_id: int = 1
    params: dict[str, Any] = field(default_factory=dict)

    def space(self, kind: str) -> SpaceModel | None:
        """The model of one kind, if that kind had customers."""
        return next((s for s in self.spaces if s.kind == kind), None)

    def predict(self, vectors: npt.NDArray[np.floating], has_text: BoolArray,
                behaviour: npt.NDArray[np.floating]) -> tuple[IntArray, F32, IntArray]:
        """Segment id, membership and nearest segment for customers, as the fit would place them.

        Customers of a kind the model never saw (e.g. text customers when the fit had none) are
        Unassigned.
        """
        n = len(has_text)
        has_text = np.asarray(has_text, dtype=bool)
        labels = np.zeros(n, dtype=np.int64)
        member = np.zeros(n, dtype=np.float32)
        near = np.zeros(n, dtype=np.int64)
        for kind, rows in (("interest", np.flatnonzero(has_text)),
                           ("behaviour", np.flatnonzero(~has_text))):
            space = self.space(kind)
            if space is None or len(rows) == 0:
                continue
            raw = vectors[rows] if kind == "interest" else behaviour[rows]
            labels[rows], member[rows], near[rows] = space.predict(raw)
        return labels, member, near

    def save(self, path: Path) -> Path:
        """Write the model to `path` (a `.npz` file)."""
        arrays: dict[str, npt.NDArray[Any]] = {}
        meta: dict[str, Any] = {"format": FORMAT_VERSION, "next_id": self.next_id,
                                "params": self.params, "spaces": []}
        for i, s in enumerate(self.spaces):
            meta["spaces"].append({"kind": s.kind, "metric": s.metric})
            for name in ("shift", "scale", "centroids", "radius", "quantiles", "ids",
                         "raw_centroids"):
                arrays[f"{i}_{name}"] = getattr(s, name)
        arrays["meta"] = np.frombuffer(json.dumps(meta, default=str).encode(), dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez(fh, allow_pickle=False, **arrays)
        return path

    @classmethod
    def load(cls, path: Path) -> SegmentModel:
        """Read a model written by `save`.

        Raises:
            ValueError: when the file is not a segment model of a known format.
        """
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"{path}: segment model format {meta.get('format')} is not "
                                 f"{FORMAT_VERSION}; re-run `segmint run`")
            spaces = []
            for i, sm in enumerate(meta["spaces"]):
                spaces.append(SpaceModel(
                    sm["kind"], sm["metric"], data[f"{i}_shift"], data[f"{i}_scale"],
                    data[f"{i}_centroids"], data[f"{i}_radius"], data[f"{i}_quantiles"],
                    data[f"{i}_ids"], data[f"{i}_raw_centroids"]))
        return cls(spaces=spaces, next_id=int(meta["next_id"]), params=meta["params"])
