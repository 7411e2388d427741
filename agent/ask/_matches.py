"""Interest matching: which customers searched for, viewed or bought something a phrase names.

The matches are data handed to the compiler (`compile_spec(..., matches=...)`), which binds them as
a parameter list: nothing is registered on the connection.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np

from segmint.agent.core.records import read_latest_run
from segmint.agent.core.runtime import offline_models
from segmint.agent.query import QuerySpec
from segmint.embeddings import VectorCache, embed_texts, make_encoder

SEMANTIC_MIN_COSINE = 0.55  # calibrated on Online Retail and the sample shop: precise, not greedy


def interest_matches(con: duckdb.DuckDBPyConnection, spec: QuerySpec) -> dict[str, list[str]]:
    """The user ids matching each interest phrase of a spec.

    A text matches a phrase lexically (it contains every word of the phrase, plural or not) or by
    meaning (cosine of the workspace's own text encoder at least SEMANTIC_MIN_COSINE). A phrase
    with no word of two letters or more matches no one (and has no entry).
    """
    phrases = sorted({c.interest for g in spec.any_of for c in g
                      if c.kind == "interest" and c.interest})
    matches: dict[str, list[str]] = {}
    for phrase in phrases:
        words = [_stem(w) for w in re.findall(r"[\w'-]+", phrase.lower()) if len(w) > 1]
        if not words:
            continue
        clauses = " AND ".join("lower(text) LIKE ?" for _ in words)
        similar = _texts_by_meaning(con, phrase)
        rows = con.execute(
            f"SELECT DISTINCT user_id FROM events WHERE ({clauses}) OR text IN (SELECT unnest(?))",
            [*(f"%{_like_escape(w)}%" for w in words), similar]).fetchall()
        matches[phrase] = [r[0] for r in rows]
    return matches


def _texts_by_meaning(con: duckdb.DuckDBPyConnection, phrase: str) -> list[str]:
    """Distinct texts of the workspace whose meaning is close to the phrase (cached vectors)."""
    run = read_latest_run(con)
    texts = [r[0] for r in con.execute(
        "SELECT DISTINCT text FROM events WHERE text IS NOT NULL AND length(trim(text)) > 0"
    ).fetchall()]
    if run is None or not run.embedder or not texts:
        return []
    offline_models()
    encoder = make_encoder(run.embedder)
    vectors, _ = embed_texts(texts, encoder, VectorCache.for_encoder(encoder))
    query = encoder.encode([phrase])[0]
    scores = vectors @ query
    return [texts[i] for i in np.flatnonzero(scores >= SEMANTIC_MIN_COSINE)]


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _like_escape(word: str) -> str:
    return word.replace("%", "").replace("_", "")
