"""One call from the events table to customer vectors: documents, cached encoding, pooling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from segmint.embeddings.cache import EmbedStats, VectorCache, embed_texts
from segmint.embeddings.documents import CustomerDocuments, DocumentConfig, build_documents
from segmint.embeddings.encoders import Encoder
from segmint.embeddings.pooling import pool_users
from segmint.embeddings.specs import make_encoder


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
    """

    user_ids: list[str]
    vectors: np.ndarray
    has_text: np.ndarray
    fingerprint: str
    documents: CustomerDocuments
    stats: EmbedStats


def embed_customers(
    con: duckdb.DuckDBPyConnection,
    encoder: Encoder | str = "minilm",
    *,
    config: DocumentConfig | None = None,
    use_cache: bool = True,
    cache_root: Path | None = None,
) -> CustomerVectors:
    """Embed every customer in the ``events`` table.

    Distinct texts are encoded once, and only those the persistent cache has not seen for this
    encoder; customer vectors are the normalised weighted sums of their text vectors.

    Args:
        con: DuckDB connection with the ``events`` table.
        encoder: an encoder or an ``--embedder`` spec string.
        config: document weighting (event types, recency half-life...).
        use_cache: read and write the persistent vector cache.
        cache_root: cache root instead of ``SEGMINT_CACHE_DIR``.

    Returns:
        The customer vectors (customers without text included, as zero rows).
    """
    enc = make_encoder(encoder) if isinstance(encoder, str) else encoder
    documents = build_documents(con, config)
    cache = VectorCache.for_encoder(enc, cache_root) if use_cache else None
    text_vectors, stats = embed_texts(documents.texts, enc, cache)
    vectors = pool_users(documents.weights, text_vectors)
    return CustomerVectors(
        user_ids=documents.user_ids,
        vectors=vectors,
        has_text=documents.has_text & (np.linalg.norm(vectors, axis=1) > 0),
        fingerprint=enc.fingerprint,
        documents=documents,
        stats=stats,
    )
