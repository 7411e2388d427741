"""One call from the events table to customer vectors: documents, cached encoding, pooling."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from segmint.embeddings.cache import EmbedStats, VectorCache, embed_texts
from segmint.embeddings.documents import CustomerDocuments, DocumentConfig, build_documents
from segmint.embeddings.encoders import Encoder
from segmint.embeddings.pooling import pool_users
from segmint.embeddings.specs import make_encoder, split_spec
from segmint.embeddings.tail import (
    FIT_RARE,
    FIT_TEXTS,
    STATIC_BLOCK,
    TailPolicy,
    aligned,
    fit_alignment,
    fit_rows,
    normalise_documents,
    static_rows,
)

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(frozen=True)
class CustomerVectors:
    """Pooled customer vectors.

    Attributes:
        user_ids: every customer in ``events``, sorted; row order of ``vectors``.
        vectors: float32 (users x dim), unit rows; all-zero rows where ``has_text`` is False.
        has_text: bool per customer.
        fingerprint: the encoder's fingerprint.
        documents: the customer documents the vectors were pooled from.
        stats: what the text embedding step did (texts, cached, embedded, seconds).
        seconds: wall seconds of ``documents``, ``encode`` (cache included) and ``pool``.
    """

    user_ids: list[str]
    vectors: np.ndarray
    has_text: np.ndarray
    fingerprint: str
    documents: CustomerDocuments
    stats: EmbedStats
    seconds: dict[str, float] = field(default_factory=dict)


def embed_customers(
    con: duckdb.DuckDBPyConnection,
    encoder: Encoder | str = "minilm",
    *,
    config: DocumentConfig | None = None,
    use_cache: bool = True,
    cache_root: Path | None = None,
    tail: TailPolicy | None = None,
    static: Encoder | str = "minilm-static",
    pool: Callable[[sp.csr_matrix, np.ndarray], np.ndarray] = pool_users,
) -> CustomerVectors:
    """Embed every customer in the ``events`` table.

    Distinct texts are encoded once, and only those the persistent cache has not seen for this
    encoder; customer vectors are the normalised weighted sums of their text vectors.

    Args:
        con: DuckDB connection with the ``events`` table.
        encoder: an encoder or an ``--embedder`` spec string (its ``+`` options set ``tail``).
        config: document weighting (event types, recency half-life...).
        use_cache: read and write the persistent vector cache.
        cache_root: cache root instead of ``SEGMINT_CACHE_DIR``.
        tail: long-tail ways to apply (`segmint.embeddings.tail`); default: the spec's options.
        static: the static encoder of ``tail.static_below`` and ``tail.static_queries``.
        pool: what turns (weights, text vectors) into unit customer vectors: `pool_users`, or
            an engine's spread copy of it (`segmint.agent.run.ray_engine`).

    Returns:
        The customer vectors (customers without text included, as zero rows).
    """
    spec_tail = split_spec(encoder)[1] if isinstance(encoder, str) else TailPolicy()
    enc = make_encoder(encoder) if isinstance(encoder, str) else encoder
    tail = tail or spec_tail
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    documents = build_documents(con, config)
    if tail.normalise:
        documents = normalise_documents(documents)
    seconds["documents"] = time.perf_counter() - start
    cache = VectorCache.for_encoder(enc, cache_root) if use_cache else None
    start = time.perf_counter()
    text_vectors, stats = _encode(documents, enc, cache, tail, static)
    seconds["encode"] = time.perf_counter() - start
    start = time.perf_counter()
    vectors = pool(documents.weights, text_vectors)
    seconds["pool"] = time.perf_counter() - start
    return CustomerVectors(
        user_ids=documents.user_ids,
        vectors=vectors,
        has_text=documents.has_text & (np.linalg.norm(vectors, axis=1) > 0),
        fingerprint=enc.fingerprint,
        documents=documents,
        stats=stats,
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )


def _encode(documents: CustomerDocuments, enc: Encoder, cache: VectorCache | None,
            tail: TailPolicy, static: Encoder | str) -> tuple[np.ndarray, EmbedStats]:
    """Text vectors: the full model for all texts, or for all but those the static model takes."""
    texts = documents.texts
    bound = static_rows(documents, tail)
    if len(bound) < max(tail.min_static, 1):
        return embed_texts(texts, enc, cache)
    start = time.perf_counter()
    # The full model encodes the other texts and a sample of the static-bound ones: both fit the
    # map.
    sampled = fit_rows(bound, min(FIT_RARE, max(1, len(bound) // 10)))
    to_static = np.setdiff1d(bound, sampled, assume_unique=True)
    full_rows = np.setdiff1d(np.arange(len(texts)), to_static, assume_unique=True)
    vectors = np.zeros((len(texts), enc.dim), dtype=np.float32)
    vectors[full_rows], full = embed_texts([texts[i] for i in full_rows], enc, cache)
    static_enc = make_encoder(static) if isinstance(static, str) else static
    # The static model encodes only what the map is fitted on and what it maps, block by block:
    # its vectors of a million texts at once would be 1.5 GB more at the run's peak.
    fit = fit_rows(full_rows, FIT_TEXTS)
    w = fit_alignment(static_enc.encode([texts[i] for i in fit]), vectors[fit])
    for lo in range(0, len(to_static), STATIC_BLOCK):
        rows = to_static[lo:lo + STATIC_BLOCK]
        vectors[rows] = aligned(static_enc.encode([texts[i] for i in rows]), w)
    stats = EmbedStats(len(texts), full.cached, full.embedded, time.perf_counter() - start,
                       static=len(to_static))
    return vectors, stats
