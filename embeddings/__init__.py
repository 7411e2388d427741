"""segmint.embeddings: customer documents, text encoders, vector cache, pooling, FAISS index.

Typical use (what the pipeline does)::

    from segmint.embeddings import embed_customers, UserIndex

    cv = embed_customers(con, "minilm")               # con holds the `events` table
    index = UserIndex.build(cv.user_ids, cv.vectors, fingerprint=cv.fingerprint)
    index.save(workspace / "user_index")
    UserIndex.load(workspace / "user_index").similar("17850", k=10)
"""

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
from segmint.embeddings.specs import DEFAULT_SPEC, ENCODERS, known_specs, make_encoder, resolve_spec
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
    "text_key",
]
