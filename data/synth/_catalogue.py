"""The catalogue as arrays: products, queries and attribute weights per persona, ready for
vectorised sampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from segmint.agent.core.arrays import F64, IntArray
from segmint.data.synth._long_tail import (
    DEFAULT,
    LONG_TAIL,
    ZIPF_EXPONENT,
    QueryWords,
    long_tail_personas,
    query_words,
)
from segmint.data.synth._personas import load_personas
from segmint.data.synth._shop import MIXED_LABEL, Persona

# Exponent on the product price in the choice weights: low spenders lean to cheap items.
_TIER_PRICE_TILT = (-0.4, 0.0, 0.5)
_POPULARITY_EXPONENT = 0.6
_TYPO_WEIGHT = 0.25


def _grouped_cdf(weights: Sequence[npt.ArrayLike]) -> F64:
    # Group g's cumulative weights are shifted into (g, g + 1], so one searchsorted call
    # samples every row from its own group.
    parts = []
    for g, w in enumerate(weights):
        arr = np.asarray(w, dtype=np.float64)
        cum = np.cumsum(arr) / arr.sum()
        cum[-1] = 1.0
        parts.append(g + cum)
    return np.concatenate(parts)


@dataclass(frozen=True)
class Catalogue:
    """The personas' products, queries and attribute weights as flat arrays with grouped CDFs."""

    personas: tuple[Persona, ...]
    persona_p: F64
    cadence: F64  # per persona, plus the mean for mixed customers
    return_rate: F64
    product_persona: IntArray
    product_price: F64
    product_cdf: F64  # groups: tier * P + persona
    product_end: IntArray  # exclusive end of each group, as a product index
    query_cdf: F64  # groups: persona; index is into the query vocabulary
    query_end: IntArray
    related_flat: IntArray
    related_start: IntArray
    related_len: IntArray
    age_cdf: F64  # groups: persona, then the population for mixed customers
    gender_cdf: F64
    text_vocab: pa.Array  # product titles, then queries
    product_ids: pa.Array
    categories: pa.Array
    labels: pa.Array  # persona names, then "mixed"
    # Long-tail catalogue only: the words tail queries are assembled from (None: head queries only).
    query_words: QueryWords | None = None

    @property
    def n_personas(self) -> int:
        return len(self.personas)

    @property
    def n_products(self) -> int:
        return len(self.product_price)


def _product_weights(prices: F64, tilt: float, exponent: float) -> F64:
    rank = np.arange(1, len(prices) + 1, dtype=np.float64)
    relative = prices / np.median(prices)
    weights: F64 = rank**-exponent * relative**tilt
    return weights


def _build_catalogue(
    personas: tuple[Persona, ...],
    popularity_exponent: float = _POPULARITY_EXPONENT,
    words: QueryWords | None = None,
) -> Catalogue:
    index = {p.name: i for i, p in enumerate(personas)}
    n_p = len(personas)
    prices = [np.array([pr for _, pr in p.products]) for p in personas]
    sizes = np.array([len(p.products) for p in personas])
    product_cdf = _grouped_cdf(
        [_product_weights(pr, t, popularity_exponent) for t in _TIER_PRICE_TILT for pr in prices]
    )
    q_weights = [[1.0] * len(p.queries) + [_TYPO_WEIGHT] * len(p.typos) for p in personas]
    q_sizes = np.array([len(w) for w in q_weights])
    persona_p = np.array([p.weight for p in personas])
    persona_p = persona_p / persona_p.sum()
    age = np.array([p.age for p in personas], dtype=np.float64)
    gender = np.array([p.gender for p in personas], dtype=np.float64)
    age = age / age.sum(axis=1, keepdims=True)
    gender = gender / gender.sum(axis=1, keepdims=True)
    related = [[index[r] for r in p.related] for p in personas]
    cadence = np.array([p.cadence_days for p in personas])
    titles = [t for p in personas for t, _ in p.products]
    queries = [q for p in personas for q in (*p.queries, *p.typos)]
    pids = [f"P{i + 1:02d}{j + 1:03d}" for i, p in enumerate(personas) for j in range(len(p.products))]
    return Catalogue(
        personas=personas,
        persona_p=persona_p,
        cadence=np.append(cadence, cadence.mean()),
        return_rate=np.array([p.return_rate for p in personas]),
        product_persona=np.repeat(np.arange(n_p), sizes),
        product_price=np.concatenate(prices),
        product_cdf=product_cdf,
        product_end=np.cumsum(np.tile(sizes, len(_TIER_PRICE_TILT))),
        query_cdf=_grouped_cdf(q_weights),
        query_end=np.cumsum(q_sizes),
        related_flat=np.array([r for rel in related for r in rel], dtype=np.int64),
        related_start=np.cumsum([0] + [len(r) for r in related[:-1]]).astype(np.int64),
        related_len=np.array([len(r) for r in related], dtype=np.int64),
        age_cdf=_grouped_cdf([*age, persona_p @ age]),
        gender_cdf=_grouped_cdf([*gender, persona_p @ gender]),
        text_vocab=pa.array(titles + queries, pa.string()),
        product_ids=pa.array(pids, pa.string()),
        categories=pa.array([p.category for p in personas], pa.string()),
        labels=pa.array([p.name for p in personas] + [MIXED_LABEL], pa.string()),
        query_words=words,
    )


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue of the packaged ``personas.yaml`` (built once per process)."""
    return _build_catalogue(load_personas())


@lru_cache(maxsize=2)
def make_catalogue(kind: str, n_users: int, seed: int) -> Catalogue:
    """The catalogue a shop is drawn from.

    Args:
        kind: ``default`` (the packaged personas' ~1,300 texts) or ``long-tail`` (see
            `segmint.data.synth._long_tail`).
        n_users: customers of the shop (the long-tail catalogue grows with it).
        seed: the shop's seed (the long-tail catalogue's titles depend on it).

    Raises:
        ValueError: an unknown kind.
    """
    if kind == DEFAULT:
        return default_catalogue()
    if kind != LONG_TAIL:
        raise ValueError(f"unknown catalogue {kind!r}; use {DEFAULT} or {LONG_TAIL}")
    personas = long_tail_personas(load_personas(), n_users, seed)
    titles = [t for p in personas for t, _ in p.products]
    return _build_catalogue(personas, ZIPF_EXPONENT, query_words(titles))


def sample_groups(rng: np.random.Generator, cdf: F64, end: IntArray, group: IntArray) -> IntArray:
    """Draw one item per row from that row's group; returns indices into the flat items."""
    idx = np.searchsorted(cdf, group + rng.random(len(group)), side="right").astype(np.int64)
    # Guards the float edge where group + u rounds up to group + 1.
    out: IntArray = np.minimum(idx, end[group] - 1)
    return out
