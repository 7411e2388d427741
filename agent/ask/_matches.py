"""Product matching: which items (agent/ingest/activity.py) a question's product words name.

By default a phrase matches exactly (docs/definitions.md "Products in a question"): its words are
whole words of an item's text or category, in any case, singular or plural ("teapots" matches
TEAPOT and TEAPOTS, "cherries" CHERRY, "boxes" BOX, never "tea" TEASPOON); a phrase of several
words matches them next to each other in order, also written together or hyphenated ("cake stand"
matches CAKE STAND, CAKESTAND and CAKE-STAND). The same holds for the text of a search. Matching
by meaning (the workspace's own encoder) happens only when the condition asks for it, or when the
exact match finds nothing, and the match says so. The items are data handed to the compiler,
which binds them as a parameter list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

# The encoders (embeddings.specs and its backends) load when `embeddings.make_encoder` is first
# read (agent/core/lazy.py): only a match by meaning needs them (bench/RESULTS.md "Cold start").
from segmint import embeddings
from segmint.agent.core.patterns import compiled
from segmint.agent.core.records import read_latest_run
from segmint.agent.core.runtime import offline_models
from segmint.agent.query import (
    ItemMatches,
    MatchKey,
    QuerySpec,
    condition_types,
    customers_column,
    event_of,
    match_key,
    product_phrase,
)
from segmint.embeddings.cache import VectorCache, embed_texts, text_keys
from segmint.embeddings.encoders import Encoder

__all__ = ["SEMANTIC_MIN_COSINE", "ProductMatch", "interest_matches", "phrase_pattern",
           "product_matches", "word_forms"]

SEMANTIC_MIN_COSINE = 0.55  # calibrated on Online Retail and the sample shop: precise, not greedy
# A phrase must land in the space of the run's text vectors, not come from the run's backend: the
# packaged model through sentence-transformers (torch: seconds to start) is read with the same
# model through ONNX, which reproduces its vectors (cosine >= 0.999, `segmint.embeddings.specs`).
SAME_SPACE = {"minilm-st": "minilm"}
# Letters and digits of any script make up words; everything else separates them.
_WORDS = compiled(r"[^\W_]+")
_NOT_WORD = r"[\W_]"  # not a letter or digit, in any script
_SIBILANT = ("ss", "x", "z", "ch", "sh", "o")
_ARTICLES = {"a", "an", "the", "any", "some"}


@dataclass
class ProductMatch:
    """The items one product phrase matched.

    Attributes:
        phrase: the words as asked.
        items: the matching items' keys.
        by_meaning: the items were chosen by meaning, not word for word.
        fallback: by meaning because nothing matched word for word (not because it was asked).
    """

    phrase: str
    items: list[int]
    by_meaning: bool = False
    fallback: bool = False


def word_forms(word: str) -> set[str]:
    """The singular and plural forms a (lower-case) word matches.

    "teapots" -> teapot, teapots; "cherries" -> cherry, cherries; "boxes" -> box, boxes;
    "glasses" -> glass, glasses; "cases" -> case, cases (the "es" of a plural is dropped only after
    ss, x, z, ch, sh and o).
    """
    singular = {word}
    if len(word) > 4 and word.endswith("ies"):
        singular.add(word[:-3] + "y")
    if len(word) > 3 and word.endswith("es") and word[:-2].endswith(_SIBILANT):
        singular.add(word[:-2])
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        singular.add(word[:-1])
    forms = set(singular)
    for s in singular:
        forms.add(s + "s")
        if s.endswith(_SIBILANT) or s.endswith("s"):
            forms.add(s + "es")
        if len(s) > 1 and s.endswith("y") and s[-2] not in "aeiou":
            forms.add(s[:-1] + "ies")
    return forms


def phrase_pattern(phrase: str) -> str | None:
    """The pattern a lower-case text matches when it contains the phrase word for word.

    Returns None for a phrase without a word of two characters or more (it matches nothing).
    """
    words = _WORDS.findall(phrase.lower())
    while len(words) > 1 and words[0] in _ARTICLES:  # "a cake stand" is a cake stand
        words = words[1:]
    if not any(len(w) > 1 for w in words):
        return None
    parts = ["(?:" + "|".join(sorted(word_forms(w), key=len, reverse=True)) + ")" for w in words]
    # Words of a phrase may be apart by a space, a hyphen or a comma, or written together.
    body = f"{_NOT_WORD}{{0,3}}".join(parts)
    return f"(?:^|{_NOT_WORD}){body}(?:{_NOT_WORD}|$)"


def product_matches(con: duckdb.DuckDBPyConnection, spec: QuerySpec) -> dict[MatchKey, ProductMatch]:
    """The items each product phrase of a spec matches, by `match_key`.

    Exact matching reads the items' texts and categories in SQL; the encoder is loaded only for a
    phrase asked by meaning or one that matched nothing word for word.
    """
    conditions = [c for c in spec.conditions() if product_phrase(c)]
    out: dict[MatchKey, ProductMatch] = {}
    for c in conditions:
        key = match_key(c)
        if key in out:
            continue
        phrase = product_phrase(c) or ""
        types = condition_types(event_of(c), c.measure)
        exact = [] if c.match == "meaning" else _exact_items(con, phrase, types)
        if exact:
            out[key] = ProductMatch(phrase, exact)
        else:
            out[key] = ProductMatch(phrase, _items_by_meaning(con, phrase), by_meaning=True,
                                    fallback=c.match == "exact")
    return out


def interest_matches(con: duckdb.DuckDBPyConnection, spec: QuerySpec) -> ItemMatches:
    """The items of each product phrase of a spec, as `compile_spec` takes them."""
    return {key: m.items for key, m in product_matches(con, spec).items()}


def _exact_items(con: duckdb.DuckDBPyConnection, phrase: str, types: Sequence[str] | None) -> list[int]:
    """Items matching the phrase word for word that events of `types` name (a search text
    "espresso beans" is no product bought: the purchase condition falls back to meaning).

    The texts are matched here rather than in SQL: a pattern bound as a parameter would be
    compiled again for every row, and the items are few (one per product).
    """
    pattern = phrase_pattern(phrase)
    if pattern is None:
        return []
    regex = re.compile(pattern)
    named = " OR ".join(f"{customers_column(t)} > 0" for t in types or ("any",))
    rows = con.execute(
        "SELECT item, lower(coalesce(text, '')), lower(coalesce(category, '')) FROM items "
        f"WHERE {named} ORDER BY item").fetchall()
    return [int(item) for item, text, category in rows if regex.search(text) or regex.search(category)]


def _items_by_meaning(con: duckdb.DuckDBPyConnection, phrase: str) -> list[int]:
    """Items whose text is close in meaning to the phrase (the run's cached text vectors, the
    phrase by the cheapest encoder of their space); none when the workspace has no encoder or no
    texts."""
    run = read_latest_run(con)
    rows = con.execute("SELECT item, text FROM items WHERE text IS NOT NULL "
                       "AND length(trim(text)) > 0 ORDER BY item").fetchall()
    if run is None or not run.embedder or not rows or phrase_pattern(phrase) is None:
        return []
    texts = sorted({r[1] for r in rows})
    offline_models()
    stored = embeddings.make_encoder(run.embedder)
    same = SAME_SPACE.get(embeddings.resolve_spec(embeddings.split_spec(run.embedder)[0]))
    encoder = stored if same is None else embeddings.make_encoder(same)
    scores = _text_vectors(texts, stored, encoder) @ encoder.encode([phrase])[0]
    close = {texts[i] for i in np.flatnonzero(scores >= SEMANTIC_MIN_COSINE)}
    return [int(item) for item, text in rows if text in close]


def _text_vectors(texts: list[str], stored: Encoder, encoder: Encoder) -> np.ndarray:
    """Vectors of texts: the run's own (its encoder's cache, `stored` is never loaded), and for
    texts the cache lacks, `encoder`'s (encoded once, then cached under its own fingerprint)."""
    found, vectors = VectorCache.for_encoder(stored).lookup(text_keys(texts))
    missing = np.flatnonzero(~found)
    if len(missing):
        vectors[missing], _ = embed_texts([texts[i] for i in missing], encoder,
                                          VectorCache.for_encoder(encoder))
    return vectors
