"""segmint.embeddings: customer documents, text encoders, vector cache, pooling, FAISS index.

Typical use (what the pipeline does)::

    from segmint.embeddings import embed_customers, UserIndex

    cv = embed_customers(con, "minilm")               # con holds the `events` table
    index = UserIndex.build(cv.user_ids, cv.vectors, fingerprint=cv.fingerprint)
    index.save(workspace / "user_index")
    UserIndex.load(workspace / "user_index").similar("17850", k=10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

# Each name loads its module on first use (agent/core/lazy.py): `segmint user` reads the index
# without loading the encoders.
if TYPE_CHECKING:
    from segmint.embeddings.cache import EmbedStats, VectorCache, embed_texts, text_key
    from segmint.embeddings.customers import CustomerVectors, embed_customers
    from segmint.embeddings.documents import (
        DEFAULT_EVENT_WEIGHTS,
        CustomerDocuments,
        DocumentConfig,
        build_documents,
    )
    from segmint.embeddings.encoders import Encoder, SentenceTransformerEncoder, cache_dir
    from segmint.embeddings.index import UserIndex, choose_kind, similar
    from segmint.embeddings.pooling import normalize_rows, pool_users
    from segmint.embeddings.specs import (
        DEFAULT_SPEC,
        ENCODERS,
        known_specs,
        make_encoder,
        resolve_spec,
        split_spec,
    )
    from segmint.embeddings.tail import TailPolicy

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "DEFAULT_SPEC",
    "ENCODERS",
    "CustomerDocuments",
    "CustomerVectors",
    "DocumentConfig",
    "EmbedStats",
    "Encoder",
    "SentenceTransformerEncoder",
    "TailPolicy",
    "UserIndex",
    "VectorCache",
    "build_documents",
    "cache_dir",
    "choose_kind",
    "embed_customers",
    "embed_texts",
    "known_specs",
    "make_encoder",
    "normalize_rows",
    "pool_users",
    "resolve_spec",
    "similar",
    "split_spec",
    "text_key",
]

lazy_package(__name__, {
    "cache": ("EmbedStats", "VectorCache", "embed_texts", "text_key"),
    "customers": ("CustomerVectors", "embed_customers"),
    "documents": ("DEFAULT_EVENT_WEIGHTS", "CustomerDocuments", "DocumentConfig", "build_documents"),
    "encoders": ("Encoder", "SentenceTransformerEncoder", "cache_dir"),
    "index": ("UserIndex", "choose_kind", "similar"),
    "pooling": ("normalize_rows", "pool_users"),
    "specs": ("DEFAULT_SPEC", "ENCODERS", "known_specs", "make_encoder", "resolve_spec", "split_spec"),
    "tail": ("TailPolicy",),
})
