"""FAISS index over customer vectors, saved in the workspace, for lookalike queries.

Vectors are unit length, so inner product is cosine similarity. Small shops get an exact
``IndexFlatIP``; from ``EXACT_UP_TO`` customers on, an IVF index with 8-bit scalar quantization
(a quarter of the memory, recall close to exact with the probes chosen below).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

IndexKind = Literal["auto", "flat", "ivf", "hnsw"]
EXACT_UP_TO = 100_000
FORMAT_VERSION = 1


def choose_kind(n: int) -> Literal["flat", "ivf"]:
    """Exact search up to ``EXACT_UP_TO`` vectors, IVF beyond."""
    return "flat" if n <= EXACT_UP_TO else "ivf"


def _build_faiss(vectors: np.ndarray, kind: str, seed: int) -> Any:
    import faiss

    n, dim = vectors.shape
    # The branches build unrelated FAISS classes (the SWIG stubs give them no common interface).
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    elif kind == "ivf":
        # sqrt(n) lists, 40 training points each, 10 k-means iterations: on 200k customers the
        # build took 2.5 s instead of 25 s (2 sqrt(n) lists, 64 points, 25 iterations) at the same
        # recall@10 against exact search (0.72 vs 0.72, bench/RESULTS.md "Long tail").
        nlist = max(1, min(int(math.sqrt(n)), n // 39))
        index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, size=min(n, nlist * 40), replace=False))]
        index.cp.seed = seed
        index.cp.niter = 10
        index.train(sample)
        faiss.extract_index_ivf(index).nprobe = min(nlist, max(16, nlist // 16))
    else:
        raise ValueError(f"unknown index kind {kind!r}; use auto, flat, ivf or hnsw")
    index.add(vectors)
    return index


class UserIndex:
    """Customer vectors plus a FAISS index over them.

    Customers whose vector is all zeros (no text) are left out: every similarity with them
    would be 0, which says nothing.

    Attributes:
        user_ids: ids of the indexed customers, row order of ``vectors``.
        vectors: float32 (n x dim) unit vectors.
        kind: ``flat``, ``ivf`` or ``hnsw``.
        fingerprint: the encoder fingerprint the vectors came from (informational).
    """

    def __init__(
        self,
        user_ids: list[str],
        vectors: np.ndarray,
        index: Any,
        kind: str,
        fingerprint: str = "",
    ) -> None:
        self.user_ids = user_ids
        self.vectors = vectors
        self.kind = kind
        self.fingerprint = fingerprint
        self._index = index
        self._row = {u: i for i, u in enumerate(user_ids)}

    @classmethod
    def build(
        cls,
        user_ids: Sequence[str],
        vectors: np.ndarray,
        kind: IndexKind = "auto",
        fingerprint: str = "",
        seed: int = 0,
    ) -> UserIndex:
        """Index customer vectors.

        Args:
            user_ids: one id per row of ``vectors``.
            vectors: float32 (n x dim), L2-normalised (zero rows are skipped).
            kind: ``auto`` (by size, see ``choose_kind``), ``flat``, ``ivf`` or ``hnsw``.
            fingerprint: encoder fingerprint, kept in the saved metadata.
            seed: seed for the IVF training sample and k-means.

        Returns:
            The index.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(user_ids) != vectors.shape[0]:
            raise ValueError(f"{len(user_ids)} user ids for vectors of shape {vectors.shape}")
        keep = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
        ids = [str(user_ids[int(i)]) for i in keep]
        if len(set(ids)) != len(ids):
            raise ValueError("user ids must be unique")
        # Every row kept (every customer has text): the index shares the caller's array rather
        # than holding a copy (1.5 GB at a million customers).
        kept = vectors if len(keep) == len(vectors) else np.ascontiguousarray(vectors[keep])
        chosen = choose_kind(len(kept)) if kind == "auto" else kind
        if chosen == "ivf" and len(kept) < 39:
            chosen = "flat"
        return cls(ids, kept, _build_faiss(kept, chosen, seed), chosen, fingerprint)

    def __len__(self) -> int:
        return len(self.user_ids)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._row

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Nearest indexed customers of arbitrary query vectors.

        Args:
            queries: float32 (m x dim) unit vectors.
            k: neighbours per query.

        Returns:
            ``(scores, rows)``, each (m x k); ``rows`` index ``user_ids``; -1 pads when fewer
            than k customers exist.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self.user_ids)))
        if not self.user_ids:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, rows = self._index.search(queries, k)
        return scores, rows

    def similar(self, user_id: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` customers most similar to ``user_id`` (itself excluded), best first.

        Args:
            user_id: an indexed customer.
            k: how many lookalikes.

        Returns:
            ``[(user_id, cosine similarity), ...]``.

        Raises:
            KeyError: the customer is unknown or has no text history (not indexed).
        """
        if user_id not in self._row:
            raise KeyError(user_id)
        row = self._row[user_id]
        scores, rows = self.search(self.vectors[row : row + 1], k + 1)
        result = [
            (self.user_ids[int(r)], float(s))
            for s, r in zip(scores[0], rows[0], strict=True)
            if r >= 0 and r != row
        ]
        return result[:k]

    def save(self, path: str | Path) -> Path:
        """Write the index to directory ``path`` (replaced as a whole, never half-written).

        Files: ``index.faiss``, ``vectors.npy``, ``user_ids.json``, ``meta.json``.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.mkdir()
        import faiss

        try:
            faiss.write_index(self._index, str(tmp / "index.faiss"))
            np.save(tmp / "vectors.npy", self.vectors, allow_pickle=False)
            (tmp / "user_ids.json").write_text(json.dumps(self.user_ids, ensure_ascii=False))
            meta = {
                "format": FORMAT_VERSION,
                "kind": self.kind,
                "n": len(self.user_ids),
                "dim": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0,
                "fingerprint": self.fingerprint,
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
            if target.exists():
                os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
        return target

    @classmethod
    def load(cls, path: str | Path) -> UserIndex:
        """Read an index written by ``save``.

        Raises:
            FileNotFoundError: no index at ``path``.
        """
        source = Path(path)
        meta_path = source / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"no customer index at {source}")
        meta = json.loads(meta_path.read_text())
        user_ids = [str(u) for u in json.loads((source / "user_ids.json").read_text())]
        vectors = np.load(source / "vectors.npy", mmap_mode="r", allow_pickle=False)
        import faiss

        index = faiss.read_index(str(source / "index.faiss"))
        return cls(user_ids, vectors, index, str(meta["kind"]), str(meta.get("fingerprint", "")))


def similar(index_path: str | Path, user_id: str, k: int = 10) -> list[tuple[str, float]]:
    """Lookalikes of one customer from an index saved at ``index_path``.

    Args:
        index_path: directory written by ``UserIndex.save``.
        user_id: the customer.
        k: how many.

    Returns:
        ``[(user_id, score), ...]`` best first, the customer itself excluded.
    """
    return UserIndex.load(index_path).similar(user_id, k)
