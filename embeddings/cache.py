"""Persistent text-vector cache, keyed by (encoder fingerprint, text hash).

Layout: ``<SEGMINT_CACHE_DIR>/vectors/<fingerprint digest>/`` holds ``meta.json`` and shards.
A shard is two ``.npy`` files written once and never modified: ``<id>.vecs.npy`` (float32,
n x dim) and ``<id>.keys.npy`` (n x 16-byte BLAKE2b digests). Each file is written to a temp
name, fsynced, then renamed; the keys file is renamed last and is what makes a shard visible.
A killed process therefore leaves at most an orphaned vectors file, never a half-readable shard;
concurrent writers (two workspaces on one catalogue) each add their own shards without locks.
Many small shards are merged into one by ``compact``; readers tolerate shards vanishing under
them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segmint.embeddings.encoders import Encoder, cache_dir

KEY_BYTES = 16
KEY_DTYPE = np.dtype(f"S{KEY_BYTES}")
# Encoded vectors are written every this many texts, so a killed run keeps most of its work.
WRITE_EVERY = 16_384
COMPACT_AT_SHARDS = 32


def text_key(text: str) -> bytes:
    """The 16-byte BLAKE2b digest of a text's UTF-8 bytes (lone surrogates kept verbatim)."""
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=KEY_BYTES).digest()


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """Keys for many texts, as a fixed-width bytes array."""
    return np.array([text_key(t) for t in texts], dtype=KEY_DTYPE)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class VectorCache:
    """Vectors of one encoder, persisted across runs and workspaces.

    Args:
        fingerprint: the encoder's fingerprint; one directory per fingerprint.
        dim: vector dimension (checked against what is stored).
        root: cache root; default ``SEGMINT_CACHE_DIR`` (``~/.cache/segmint``).
    """

    def __init__(self, fingerprint: str, dim: int, root: Path | None = None) -> None:
        self.fingerprint = fingerprint
        self.dim = dim
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
        self.path = (root or cache_dir()) / "vectors" / digest
        self.path.mkdir(parents=True, exist_ok=True)
        meta = self.path / "meta.json"
        if meta.exists():
            stored = json.loads(meta.read_text())
            if stored.get("fingerprint") != fingerprint or stored.get("dim") != dim:
                raise ValueError(f"vector cache {self.path} belongs to {stored}, not {fingerprint}")
        else:
            tmp = self.path / f".meta.{uuid.uuid4().hex}.tmp"
            tmp.write_text(json.dumps({"fingerprint": fingerprint, "dim": dim}))
            os.replace(tmp, meta)
        self._keys = np.empty(0, dtype=KEY_DTYPE)
        self._shard_of = np.empty(0, dtype=np.int32)
        self._row_of = np.empty(0, dtype=np.int64)
        self._shards: list[Path] = []
        self._loaded: frozenset[str] = frozenset()

    @classmethod
    def for_encoder(cls, encoder: Encoder, root: Path | None = None) -> VectorCache:
        """The cache for an encoder's fingerprint and dimension."""
        return cls(encoder.fingerprint, encoder.dim, root)

    def _shard_names(self) -> list[str]:
        return sorted(p.name[: -len(".keys.npy")] for p in self.path.glob("*.keys.npy"))

    def _refresh(self) -> None:
        """(Re)build the sorted key index when the set of shards on disk changed."""
        for _attempt in range(5):
            names = self._shard_names()
            if frozenset(names) == self._loaded:
                return
            try:
                keys = [np.load(self.path / f"{n}.keys.npy", allow_pickle=False) for n in names]
            except FileNotFoundError:
                # A concurrent compaction removed a shard between listing and reading.
                time.sleep(0.05)
                continue
            all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=KEY_DTYPE)
            shard_of = np.repeat(np.arange(len(names), dtype=np.int32), [len(k) for k in keys])
            row_of = np.concatenate([np.arange(len(k)) for k in keys]) if keys else np.empty(0)
            # Stable sort + keeping the first of equal keys dedupes texts that two writers
            # embedded at the same time.
            order = np.argsort(all_keys, kind="stable")
            sorted_keys = all_keys[order]
            first = np.ones(len(sorted_keys), dtype=bool)
            first[1:] = sorted_keys[1:] != sorted_keys[:-1]
            order = order[first]
            self._keys = sorted_keys[first]
            self._shard_of = shard_of[order]
            self._row_of = row_of[order].astype(np.int64)
            self._shards = [self.path / f"{n}.vecs.npy" for n in names]
            self._loaded = frozenset(names)
            return
        raise RuntimeError(f"vector cache {self.path} kept changing while being read")

    def __len__(self) -> int:
        self._refresh()
        return len(self._keys)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Find stored vectors.

        Args:
            keys: ``text_keys(...)`` of the texts wanted.

        Returns:
            ``(found, vectors)``: a bool mask over ``keys`` and a float32 array
            ``(len(keys), dim)`` holding the stored vectors where found (zeros elsewhere).
        """
        for _attempt in range(3):
            try:
                return self._lookup(keys)
            except FileNotFoundError:
                # A concurrent compaction replaced the shards this index points into.
                self._loaded = frozenset()
        return self._lookup(keys)

    def _lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._refresh()
        vectors = np.zeros((len(keys), self.dim), dtype=np.float32)
        if len(self._keys) == 0 or len(keys) == 0:
            return np.zeros(len(keys), dtype=bool), vectors
        pos = np.searchsorted(self._keys, keys)
        pos_clipped = np.minimum(pos, len(self._keys) - 1)
        found = self._keys[pos_clipped] == keys
        hit = np.flatnonzero(found)
        shard = self._shard_of[pos_clipped[hit]]
        rows = self._row_of[pos_clipped[hit]]
        for s in np.unique(shard):
            sel = shard == s
            stored = np.load(self._shards[s], mmap_mode="r", allow_pickle=False)
            # Reading rows in file order turns random access into one forward pass.
            r = rows[sel]
            order = np.argsort(r)
            vectors[hit[sel][order]] = stored[r[order]]
        return found, vectors

    def put(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store vectors for keys as one new shard (atomic; concurrent writers are fine)."""
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"expected vectors of shape {(len(keys), self.dim)}, got {vectors.shape}")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        _atomic_save(self.path / f"{name}.vecs.npy", vectors)
        _atomic_save(self.path / f"{name}.keys.npy", np.asarray(keys, dtype=KEY_DTYPE))
        if len(self._shard_names()) >= COMPACT_AT_SHARDS:
            self.compact()

    def compact(self) -> None:
        """Merge all shards into one, then delete the merged ones and orphaned files."""
        self._refresh()
        old = list(self._loaded)
        if len(old) <= 1:
            self._remove_orphans()
            return
        found, vectors = self.lookup(self._keys)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        _atomic_save(self.path / f"{name}.vecs.npy", vectors[found])
        _atomic_save(self.path / f"{name}.keys.npy", self._keys[found])
        for n in old:
            for suffix in (".keys.npy", ".vecs.npy"):
                with contextlib.suppress(FileNotFoundError):
                    (self.path / f"{n}{suffix}").unlink()
        self._remove_orphans()
        self._refresh()

    def _remove_orphans(self) -> None:
        live = set(self._shard_names())
        cutoff = time.time() - 3600
        for p in self.path.glob("*.vecs.npy"):
            # Leave recent orphans alone: a concurrent writer may be about to add their keys.
            if p.name[: -len(".vecs.npy")] not in live and p.stat().st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()


@dataclass(frozen=True)
class EmbedStats:
    """What one ``embed_texts`` call did (``static``: texts left to the static tail model)."""

    texts: int
    cached: int
    embedded: int
    seconds: float
    static: int = 0


def embed_texts(
    texts: Sequence[str], encoder: Encoder, cache: VectorCache | None = None
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for texts, embedding only those the cache has never seen.

    Args:
        texts: texts to embed (duplicates are embedded once).
        encoder: the encoder; it is not even loaded when every text is cached.
        cache: the persistent cache; ``None`` embeds everything without storing.

    Returns:
        ``(vectors, stats)``: float32 ``(len(texts), encoder.dim)`` and counts/seconds.
    """
    start = time.perf_counter()
    texts = list(texts)
    if cache is None:
        vectors = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), np.float32)
        return vectors, EmbedStats(len(texts), 0, len(texts), time.perf_counter() - start)
    keys = text_keys(texts)
    found, vectors = cache.lookup(keys)
    missing = np.flatnonzero(~found)
    # The same text twice in one call is embedded once.
    uniq_keys, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)
    todo = missing[first]
    # Fresh vectors go straight into their rows: at a million texts a second array of them
    # would be 1.5 GB more at the run's peak.
    for s in range(0, len(todo), WRITE_EVERY):
        part = todo[s : s + WRITE_EVERY]
        vectors[part] = encoder.encode([texts[i] for i in part])
        cache.put(uniq_keys[s : s + len(part)], vectors[part])
    if len(todo) < len(missing):
        vectors[missing] = vectors[todo[inverse]]
    stats = EmbedStats(len(texts), int(found.sum()), len(todo), time.perf_counter() - start)
    return vectors, stats
