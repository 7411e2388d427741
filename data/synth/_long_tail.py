"""The long-tail catalogue (``segmint synth --catalogue long-tail``): a shop shaped like a real one.

Real shops sell tens of thousands of products and see far more distinct search queries, most of
them typed once. This catalogue keeps the personas of ``personas.yaml`` (their planted interests
are still the labels) and widens each one:

- **products**: about ``PRODUCTS_PER_CUSTOMER`` per customer, each a persona's hand-written title
  with a made-up brand in front and a variant (colour, size, pack) behind it; popularity within a
  persona falls as a Zipf law (``rank ** -ZIPF_EXPONENT``), so a few sell to thousands and most
  to a handful;
- **queries**: a ``HEAD_QUERY_SHARE`` of searches use the persona's hand-written queries (the
  shop's head terms, typed by many); the rest are assembled per search from the words of one of
  the persona's products, with filler words and typos, so nearly every one is unique.

Everything depends only on the number of customers and the seed, like the default catalogue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.agent.core.arrays import IntArray
from segmint.data.synth._personas import make_typo
from segmint.data.synth._shop import Persona

DEFAULT = "default"
LONG_TAIL = "long-tail"
CATALOGUES: tuple[str, ...] = (DEFAULT, LONG_TAIL)

PRODUCTS_PER_CUSTOMER = 0.3
ZIPF_EXPONENT = 1.0
HEAD_QUERY_SHARE = 0.3
# Misspellings kept per word: a query's typo is one of these, so the same word is not always
# misspelt the same way (as with real typing) while the generator stays vectorised.
TYPO_VARIANTS = 4
_TYPO_SHARE = 0.4
_FILLER_SHARE = 0.5
_BRAND_SHARE = 0.2
_MAX_WORDS = 3
_FILLERS: tuple[str, ...] = (
    "cheap", "best", "buy", "uk", "sale", "deals", "near me", "reviews", "gift", "2026", "online",
    "discount", "top rated", "free delivery", "offer", "new", "black friday", "for sale", "price",
    "next day", "set", "large", "small", "mini", "pro",
)
_VARIANTS: tuple[str, ...] = (
    "", ", Black", ", White", ", Grey", ", Navy", ", Green", ", Red", ", Oak", " (Large)",
    " (Small)", " (Twin Pack)", " (Value Pack)", " - 2026 Edition", " - Refurbished", ", Eco",
    " (Gift Box)",
)
_ONSETS = ("b", "br", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "st", "t", "v", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "io")
_CODAS = ("", "n", "r", "x", "l", "m", "s", "th", "k")
_STOPWORDS = frozenset({"and", "with", "for", "the", "of", "in", "to", "a", "x", "set", "pack"})
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")


def brand_names(n: int, seed: int) -> list[str]:
    """``n`` distinct made-up brand names (two or three syllables), the same for the same seed."""
    rng = np.random.default_rng([seed, 17])
    names: dict[str, None] = {}
    while len(names) < n:
        parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(int(rng.integers(2, 4)))]
        names.setdefault(("".join(parts) + str(rng.choice(_CODAS))).capitalize(), None)
    return list(names)


def _persona_products(
    p: Persona, n: int, brands: list[str], rng: np.random.Generator
) -> tuple[tuple[str, float], ...]:
    """``n`` distinct branded variants of the persona's titles, best sellers first."""
    n_base, n_var = len(p.products), len(_VARIANTS)
    space = n_base * len(brands) * n_var
    if n > space:
        raise ValueError(f"{p.name}: {n} products asked, only {space} distinct titles possible")
    # A random walk through the (base, brand, variant) space: each base title keeps its share and
    # its rank (best-selling hand-written titles stay near the top), brands and variants mix.
    picks = rng.choice(space, size=n, replace=False)
    base = picks % n_base
    rest = picks // n_base
    brand, variant = rest % len(brands), rest // len(brands)
    order = np.argsort(base + rng.random(n) * n_base * 0.5, kind="stable")
    price_factor = np.exp(rng.normal(0.0, 0.25, n))
    out = []
    for i in order:
        title, price = p.products[int(base[i])]
        out.append((f"{brands[int(brand[i])]} {title}{_VARIANTS[int(variant[i])]}",
                    round(float(price * price_factor[i]), 2)))
    return tuple(out)


def long_tail_personas(personas: tuple[Persona, ...], n_users: int, seed: int) -> tuple[Persona, ...]:
    """The personas with their products widened to the long-tail catalogue's size.

    Args:
        personas: the packaged personas (their products are the base titles).
        n_users: customers of the shop; products number about ``PRODUCTS_PER_CUSTOMER`` each.
        seed: the shop's seed.

    Returns:
        The same personas, each with ``weight``-proportional branded products.
    """
    rng = np.random.default_rng([seed, 23])
    weights = np.array([p.weight for p in personas])
    total = max(len(personas), round(PRODUCTS_PER_CUSTOMER * n_users))
    per = np.maximum(1, np.round(total * weights / weights.sum()).astype(np.int64))
    brands = brand_names(max(50, int(per.max()) // 8 + 1), seed)
    return tuple(replace(p, products=_persona_products(p, int(k), brands, rng))
                 for p, k in zip(personas, per, strict=True))


def _content_words(title: str) -> list[str]:
    return [w for w in _WORD.findall(title.lower()) if w not in _STOPWORDS]


@dataclass(frozen=True)
class QueryWords:
    """Per product, the word ids a tail query may use, and the word vocabulary with typos.

    Word ``w`` is ``vocab[w * (1 + TYPO_VARIANTS)]``; its misspellings follow it.
    """

    vocab: pa.Array
    words: IntArray  # products x max words, -1 padded; the brand is not among them
    counts: IntArray
    brand: IntArray  # word id of each product's brand
    fillers: IntArray  # word ids of the filler words


def query_words(titles: list[str]) -> QueryWords:
    """Index the words of every product title for tail-query assembly.

    Args:
        titles: product titles (brand first, as ``long_tail_personas`` writes them).

    Returns:
        The word index.
    """
    ids: dict[str, int] = {}

    def wid(word: str) -> int:
        return ids.setdefault(word, len(ids))

    fillers = np.array([wid(f) for f in _FILLERS], dtype=np.int64)
    rows, brand = [], []
    for t in titles:
        first, _, rest = t.partition(" ")
        brand.append(wid(first.lower()))
        rows.append([wid(w) for w in _content_words(rest)])
    width = max((len(r) for r in rows), default=1) or 1
    words = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        words[i, :len(r)] = r
    spelled = []
    for w in ids:
        spelled.append(w)
        spelled.extend(make_typo(w, variant=v) for v in range(1, TYPO_VARIANTS + 1))
    return QueryWords(pa.array(spelled, pa.string()), words,
                      np.array([len(r) for r in rows], dtype=np.int64),
                      np.array(brand, dtype=np.int64), fillers)


def tail_queries(rng: np.random.Generator, qw: QueryWords, product: IntArray) -> pa.Array:
    """One freshly typed query per row, about that row's product.

    1 to ``_MAX_WORDS`` consecutive words of the title, sometimes the brand in front, sometimes
    a filler word before or after, sometimes one word misspelt.

    Args:
        rng: the chunk's generator.
        qw: the catalogue's word index.
        product: the product each query is about.

    Returns:
        The queries, lower case.
    """
    m = len(product)
    count = np.maximum(qw.counts[product], 1)
    k = np.minimum(rng.integers(1, _MAX_WORDS + 1, m), count)
    start = (rng.random(m) * (count - k + 1)).astype(np.int64)
    stride = 1 + TYPO_VARIANTS
    typo_slot = np.where(rng.random(m) < _TYPO_SHARE, rng.integers(0, _MAX_WORDS, m), -1)
    typo_of = rng.integers(1, stride, m)
    slots = []
    for s in range(_MAX_WORDS):
        col = np.minimum(start + s, qw.words.shape[1] - 1)
        word = qw.words[product, col]
        absent = (s >= k) | (word < 0)
        spelled = np.where(typo_slot == s, word * stride + typo_of, word * stride)
        slots.append(pa.array(np.maximum(spelled, 0), mask=absent))
    brand = pa.array(qw.brand[product] * stride, mask=rng.random(m) >= _BRAND_SHARE)
    filler_word = qw.fillers[rng.integers(0, len(qw.fillers), m)] * stride
    has_filler = rng.random(m) < _FILLER_SHARE
    before = rng.random(m) < 0.3
    pre = pa.array(filler_word, mask=~(has_filler & before))
    post = pa.array(filler_word, mask=~(has_filler & ~before))
    parts = [qw.vocab.take(ix) for ix in (pre, brand, *slots, post)]
    out: pa.Array = pc.binary_join_element_wise(*parts, " ", null_handling="skip")
    return out
