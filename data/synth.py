"""The sample shop: a deterministic generator of realistic e-commerce event logs.

Every customer gets a planted persona (new parents, home bakers, gamers... from
``personas.yaml``) or ``mixed`` for the ~5% noise customers who wander the whole shop,
a value tier, a purchase cadence and a lifecycle (never bought, new, one-time, lapsed,
at risk, active repeat) whose purchase dates agree with the docs/definitions.md definitions
relative to the shop's end date. Events are searches, views, carts, purchases grouped
into orders, and returns (negative quantity).

Generation is vectorised with numpy per chunk of customers and streamed to the output
file, so a million customers (~20M events) fit in bounded memory. The same
``(n_users, seed, chunk_users, end)`` always gives the same rows.
"""

from __future__ import annotations

import os
import secrets
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from segmint.agent.core.schema import CANONICAL_COLUMNS, EVENT_TYPES

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_END = date(2026, 6, 30)
WINDOW_DAYS = 365
DAY = 86_400
# Purchases stop one day short of the window so the search/view lead-up of an order
# still falls inside it.
LAST_DAY = WINDOW_DAYS - 2

SEARCH, VIEW, CART, PURCHASE, RETURN = range(5)  # indices into EVENT_TYPES

# The canonical event columns (docs/definitions.md), less `amount`: ingest derives it from price x quantity.
COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_COLUMNS if c != "amount")
EVENT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("event_type", pa.string()),
        ("text", pa.string()),
        ("product_id", pa.string()),
        ("order_id", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.int64()),
        ("price", pa.float64()),
    ]
)
LABEL_SCHEMA = pa.schema([("user_id", pa.string()), ("label", pa.string())])
USER_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("age_band", pa.string()),
        ("gender", pa.string()),
        ("region", pa.string()),
        ("signup_date", pa.date32()),
    ]
)

MIXED_LABEL = "mixed"
MIXED_SHARE = 0.05
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55+")
GENDERS: tuple[str, ...] = ("female", "male", "non-binary")
# Region is deliberately independent of persona: a fairness audit should flag age and
# gender skews, and stay quiet on region.
REGIONS: tuple[str, ...] = (
    "London",
    "South East",
    "South West",
    "Midlands",
    "North West",
    "North East",
    "Scotland",
    "Wales",
    "Northern Ireland",
)
REGION_SHARES: tuple[float, ...] = (0.16, 0.17, 0.10, 0.16, 0.13, 0.12, 0.08, 0.05, 0.03)
# Real customer tables have holes; the audit computes shares over known values.
MISSING_AGE = 0.02
MISSING_GENDER = 0.03

TIERS: tuple[str, ...] = ("low", "mid", "high")
TIER_SHARES: tuple[float, ...] = (0.55, 0.32, 0.13)
_TIER_ORDER_RATE = np.array([0.7, 1.0, 1.6])
_TIER_EXTRA_LINES = np.array([0.15, 0.35, 0.7])
_TIER_EXTRA_QTY = np.array([0.1, 0.25, 0.6])
# Exponent on the product price in the choice weights: low spenders lean to cheap items.
_TIER_PRICE_TILT = (-0.4, 0.0, 0.5)
_POPULARITY_EXPONENT = 0.6
_TYPO_WEIGHT = 0.25
_DISCOUNT_SHARE = 0.18
_DISCOUNTS = np.array([0.10, 0.15, 0.20, 0.25])
_SEARCH_BEFORE_ORDER = 0.5
_SESSION_SEARCH = 0.65
_SESSION_EXTRA_VIEWS = 0.9
_SESSION_CART = 0.15
# Relative traffic per hour of day (UTC), evening-heavy like most web shops.
_HOUR_WEIGHTS = np.array(
    [
        *(1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0),
        *(3.2, 3.1, 3.0, 3.0, 3.1, 3.4, 4.0, 4.6, 5.0, 4.6, 3.4, 2.0),
    ]
)
_ORDER_BASE = 1_000_000


@dataclass(frozen=True)
class Lifecycle:
    """A planted purchase history shape; day numbers count back from the end date (0 = last day).

    Attributes:
        name: Identifier.
        share: Share of customers with this lifecycle.
        kind: ``none`` (never buys), ``one`` (one order), ``few`` (1-3 orders, all recent)
            or ``repeat`` (2+ orders at the persona's cadence).
        last: Inclusive range of the day of the last order.
        first: Inclusive range of the day of the first order.
        browse_rate: Mean number of browsing sessions (before engagement scaling).
    """

    name: str
    share: float
    kind: str
    last: tuple[int, int]
    first: tuple[int, int]
    browse_rate: float


# Day ranges keep a margin of two days from every docs/definitions.md threshold so a customer's
# class does not flip with the exact as_of (the latest event) or the time of day.
LIFECYCLES: tuple[Lifecycle, ...] = (
    Lifecycle("browser", 0.12, "none", (0, LAST_DAY), (0, LAST_DAY), 3.0),
    Lifecycle("new", 0.07, "few", (0, 20), (0, 28), 1.5),
    Lifecycle("one_time_recent", 0.06, "one", (33, 88), (33, 88), 2.0),
    Lifecycle("one_time_lapsed", 0.22, "one", (93, LAST_DAY), (93, LAST_DAY), 2.0),
    Lifecycle("lapsed_repeat", 0.13, "repeat", (93, 330), (94, LAST_DAY), 2.5),
    Lifecycle("at_risk", 0.10, "repeat", (47, 88), (48, LAST_DAY), 2.5),
    Lifecycle("active_repeat", 0.30, "repeat", (0, 40), (33, LAST_DAY), 3.5),
)
LIFECYCLE_SHARES: dict[str, float] = {lc.name: lc.share for lc in LIFECYCLES}
# Chances that a "new" customer has placed 1, 2 or 3 orders so far.
NEW_ORDER_COUNTS: tuple[float, float, float] = (0.6, 0.3, 0.1)


@dataclass(frozen=True)
class Persona:
    """One planted customer type and its corner of the catalogue.

    Attributes:
        name: Label written to the labels file.
        category: Category of every product of this persona.
        price_level: ``low``, ``mid`` or ``high`` (descriptive).
        weight: Relative share of customers.
        cadence_days: Typical days between orders of an engaged repeat customer.
        return_rate: Share of purchased lines returned.
        age: Weights over ``AGE_BANDS``.
        gender: Weights over ``GENDERS``.
        related: Names of personas these customers sometimes browse.
        products: ``(title, list price)`` pairs, best sellers first.
        queries: Hand-written search queries.
        typos: Machine-made misspellings of ``queries``.
    """

    name: str
    category: str
    price_level: str
    weight: float
    cadence_days: float
    return_rate: float
    age: tuple[float, ...]
    gender: tuple[float, ...]
    related: tuple[str, ...]
    products: tuple[tuple[str, float], ...]
    queries: tuple[str, ...]
    typos: tuple[str, ...]


@dataclass(frozen=True)
class SynthResult:
    """What :func:`generate` wrote.

    Attributes:
        events_path: The events file.
        labels_path: ``user_id,label`` with the planted persona (or ``mixed``).
        users_path: ``user_id,age_band,gender,region,signup_date``.
        n_users: Customers generated.
        n_events: Event rows written.
    """

    events_path: Path
    labels_path: Path
    users_path: Path
    n_users: int
    n_events: int

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        """The three files written: events, labels, users."""
        return (self.events_path, self.labels_path, self.users_path)


# --------------------------------------------------------------------------- catalogue


def _parse_product(line: str) -> tuple[str, float]:
    title, sep, price = line.rpartition(" | ")
    if not sep or not title.strip():
        raise ValueError(f"product line {line!r} is not 'Title | price'")
    return title.strip(), float(price)


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour(ch: str, rng: np.random.Generator) -> str:
    for row in _KEYBOARD_ROWS:
        i = row.find(ch.lower())
        if i >= 0:
            options = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return options[int(rng.integers(len(options)))]
    return ch


def make_typo(query: str) -> str:
    """Misspell a query the way people do: swap, drop, double or fat-finger one letter.

    The mistake depends only on the query text, so the catalogue is the same on every run.

    Args:
        query: A search query.

    Returns:
        A misspelt variant (the query itself if it has no letter to damage).
    """
    letters = [i for i, ch in enumerate(query) if ch.isalpha()]
    if len(letters) < 3:
        return query
    rng = np.random.default_rng(zlib.crc32(query.encode()))
    i = letters[int(rng.integers(1, len(letters)))]
    op = int(rng.integers(4))
    if op == 0 and i + 1 < len(query) and query[i + 1].isalpha() and query[i + 1] != query[i]:
        return query[:i] + query[i + 1] + query[i] + query[i + 2 :]
    if op == 1:
        return query[:i] + query[i + 1 :]
    if op == 2:
        return query[:i] + query[i] + query[i:]
    return query[:i] + _neighbour(query[i], rng) + query[i + 1 :]


def _check_text(text: str, where: str) -> None:
    # JSON Lines output splices catalogue text between quotes without escaping.
    if not text or any(ch in text for ch in '"\\') or not text.isprintable():
        raise ValueError(f"{where}: {text!r} must be non-empty printable text without '\"' or '\\'")


def _persona_from(raw: dict[str, Any]) -> Persona:
    products = tuple(_parse_product(str(p)) for p in raw["products"])
    queries = tuple(str(q) for q in raw["queries"])
    return Persona(
        name=str(raw["name"]),
        category=str(raw["category"]),
        price_level=str(raw["price_level"]),
        weight=float(raw["weight"]),
        cadence_days=float(raw["cadence_days"]),
        return_rate=float(raw["return_rate"]),
        age=tuple(float(x) for x in raw["age"]),
        gender=tuple(float(x) for x in raw["gender"]),
        related=tuple(str(r) for r in raw["related"]),
        products=products,
        queries=queries,
        typos=(),
    )


def _with_typos(personas: list[Persona]) -> tuple[Persona, ...]:
    taken = {t for p in personas for t, _ in p.products} | {q for p in personas for q in p.queries}
    out = []
    for p in personas:
        typos = []
        for q in p.queries:
            typo = make_typo(q)
            if typo not in taken:
                taken.add(typo)
                typos.append(typo)
        out.append(Persona(**{**p.__dict__, "typos": tuple(typos)}))
    return tuple(out)


def _validate(personas: Sequence[Persona]) -> None:
    names = [p.name for p in personas]
    if len(set(names)) != len(names) or MIXED_LABEL in names:
        raise ValueError(f"persona names must be unique and not {MIXED_LABEL!r}: {names}")
    if len({p.category for p in personas}) != len(personas):
        raise ValueError("each persona needs its own category")
    seen: dict[str, str] = {}
    for p in personas:
        if len(p.age) != len(AGE_BANDS) or len(p.gender) != len(GENDERS):
            raise ValueError(f"{p.name}: age needs {len(AGE_BANDS)} weights, gender {len(GENDERS)}")
        if not p.products or not p.queries or not set(p.related) <= set(names):
            raise ValueError(f"{p.name}: needs products, queries and known related personas")
        if not p.weight > 0 or not p.cadence_days > 0 or not 0 <= p.return_rate < 1:
            raise ValueError(f"{p.name}: weight and cadence_days > 0, 0 <= return_rate < 1")
        for text in [t for t, _ in p.products] + list(p.queries):
            _check_text(text, p.name)
            if text in seen:
                raise ValueError(f"{text!r} appears in both {seen[text]} and {p.name}")
            seen[text] = p.name
        if any(price <= 0 for _, price in p.products):
            raise ValueError(f"{p.name}: prices must be positive")


def load_personas(path: Path | None = None) -> tuple[Persona, ...]:
    """Read and validate a persona catalogue.

    Args:
        path: A YAML file shaped like the packaged ``personas.yaml``; the packaged file
            when None.

    Returns:
        The personas in file order, each with its machine-made typos filled in.

    Raises:
        ValueError: If the catalogue is inconsistent (duplicate texts, unknown related
            persona, wrong number of weights...).
    """
    if path is None:
        text = resources.files("segmint.data").joinpath("personas.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = yaml.safe_load(text)
    personas = [_persona_from(r) for r in raw["personas"]]
    _validate(personas)
    return _with_typos(personas)


def _grouped_cdf(weights: Sequence[npt.ArrayLike]) -> FloatArray:
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
class _Catalogue:
    personas: tuple[Persona, ...]
    persona_p: FloatArray
    cadence: FloatArray  # per persona, plus the mean for mixed customers
    return_rate: FloatArray
    product_persona: IntArray
    product_price: FloatArray
    product_cdf: FloatArray  # groups: tier * P + persona
    product_end: IntArray  # exclusive end of each group, as a product index
    query_cdf: FloatArray  # groups: persona; index is into the query vocabulary
    query_end: IntArray
    related_flat: IntArray
    related_start: IntArray
    related_len: IntArray
    age_cdf: FloatArray  # groups: persona, then the population for mixed customers
    gender_cdf: FloatArray
    text_vocab: pa.Array  # product titles, then queries
    product_ids: pa.Array
    categories: pa.Array
    labels: pa.Array  # persona names, then "mixed"

    @property
    def n_personas(self) -> int:
        return len(self.personas)

    @property
    def n_products(self) -> int:
        return len(self.product_price)


def _product_weights(prices: FloatArray, tilt: float) -> FloatArray:
    rank = np.arange(1, len(prices) + 1, dtype=np.float64)
    relative = prices / np.median(prices)
    weights: FloatArray = rank**-_POPULARITY_EXPONENT * relative**tilt
    return weights


def _build_catalogue(personas: tuple[Persona, ...]) -> _Catalogue:
    index = {p.name: i for i, p in enumerate(personas)}
    n_p = len(personas)
    prices = [np.array([pr for _, pr in p.products]) for p in personas]
    sizes = np.array([len(p.products) for p in personas])
    product_cdf = _grouped_cdf([_product_weights(pr, t) for t in _TIER_PRICE_TILT for pr in prices])
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
    return _Catalogue(
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
    )


@lru_cache(maxsize=1)
def _default_catalogue() -> _Catalogue:
    return _build_catalogue(load_personas())


def _sample(rng: np.random.Generator, cdf: FloatArray, end: IntArray, group: IntArray) -> IntArray:
    """Draw one item per row from that row's group; returns indices into the flat items."""
    idx = np.searchsorted(cdf, group + rng.random(len(group)), side="right").astype(np.int64)
    # Guards the float edge where group + u rounds up to group + 1.
    out: IntArray = np.minimum(idx, end[group] - 1)
    return out


# --------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class _Users:
    label: IntArray  # persona index, or n_personas for mixed customers
    stray: FloatArray  # chance that a session or order is about a related persona
    lifecycle: IntArray
    tier: IntArray
    engagement: FloatArray
    n_orders: IntArray
    last_day: IntArray
    first_day: IntArray
    act_end: IntArray  # browsing happens between these days
    act_start: IntArray

    @property
    def n(self) -> int:
        return len(self.label)


def _uniform_days(rng: np.random.Generator, lo: IntArray, hi: IntArray) -> IntArray:
    """Integer day in [lo, hi] per row (hi >= lo)."""
    out: IntArray = lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)
    return np.minimum(out, hi)


def _purchase_plan(
    rng: np.random.Generator, cat: _Catalogue, label: IntArray, lifecycle: IntArray, tier: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Number of orders and days of the last and first order for each customer."""
    n = len(label)
    n_orders = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    for code, lc in enumerate(LIFECYCLES):
        rows = np.flatnonzero(lifecycle == code)
        m = len(rows)
        lo = np.full(m, lc.last[0], dtype=np.int64)
        d_last = _uniform_days(rng, lo, np.full(m, lc.last[1], dtype=np.int64))
        f_lo = np.maximum(d_last + (lc.kind == "repeat"), lc.first[0])
        d_first = _uniform_days(rng, np.maximum(f_lo, d_last), np.full(m, lc.first[1]))
        if lc.kind == "none":
            count = np.zeros(m, dtype=np.int64)
        elif lc.kind == "one":
            count, d_first = np.ones(m, dtype=np.int64), d_last
        elif lc.kind == "few":
            r = rng.random(m)
            count = 1 + (r < 1 - NEW_ORDER_COUNTS[0]) + (r < NEW_ORDER_COUNTS[2])
        else:
            span = (d_first - d_last).astype(np.float64)
            rate = span / cat.cadence[label[rows]] * _TIER_ORDER_RATE[tier[rows]]
            count = 2 + np.minimum(rng.poisson(rate), 40)
        d_first = np.where(count > 1, d_first, d_last)
        n_orders[rows], last[rows], first[rows] = count, d_last, d_first
    return n_orders, last, first


def _activity_window(
    rng: np.random.Generator, n_orders: IntArray, last: IntArray, first: IntArray
) -> tuple[IntArray, IntArray]:
    """Days between which a customer browses: around their purchases, or anywhere for browsers."""
    n = len(n_orders)
    buyer = n_orders > 0
    anchor_end = np.where(buyer, last, rng.integers(0, LAST_DAY + 1, n))
    anchor_start = np.where(buyer, first, anchor_end)
    after = np.rint(rng.exponential(15.0, n)).astype(np.int64)
    before = np.rint(rng.exponential(np.where(buyer, 15.0, 40.0))).astype(np.int64)
    act_end = np.maximum(anchor_end - after, 0)
    act_start = np.minimum(anchor_start + before, LAST_DAY)
    return act_end, act_start


def _draw_users(rng: np.random.Generator, cat: _Catalogue, n: int) -> _Users:
    n_p = cat.n_personas
    label = rng.choice(n_p, size=n, p=cat.persona_p).astype(np.int64)
    label = np.where(rng.random(n) < MIXED_SHARE, n_p, label)
    shares = np.array([lc.share for lc in LIFECYCLES])
    lifecycle = rng.choice(len(LIFECYCLES), size=n, p=shares / shares.sum()).astype(np.int64)
    tier = rng.choice(len(TIERS), size=n, p=np.array(TIER_SHARES)).astype(np.int64)
    n_orders, last, first = _purchase_plan(rng, cat, label, lifecycle, tier)
    act_end, act_start = _activity_window(rng, n_orders, last, first)
    return _Users(
        label=label,
        stray=rng.beta(1.2, 16.0, n),
        lifecycle=lifecycle,
        tier=tier,
        engagement=rng.gamma(2.0, 0.5, n),
        n_orders=n_orders,
        last_day=last,
        first_day=first,
        act_end=act_end,
        act_start=act_start,
    )


def _interest(rng: np.random.Generator, cat: _Catalogue, users: _Users, who: IntArray) -> IntArray:
    """The persona a session or order is about: mostly the customer's own."""
    m = len(who)
    label = users.label[who]
    mixed = label == cat.n_personas
    own = np.where(mixed, 0, label)
    pick = (rng.random(m) * cat.related_len[own]).astype(np.int64)
    related = cat.related_flat[cat.related_start[own] + pick]
    stray = rng.random(m) < users.stray[who]
    anywhere = rng.integers(0, cat.n_personas, m)
    out: IntArray = np.where(mixed, anywhere, np.where(stray, related, own))
    return out


def _time_of_day(rng: np.random.Generator, m: int) -> IntArray:
    hours = rng.choice(24, size=m, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    out: IntArray = hours * 3600 + rng.integers(0, 3600, m)
    return out


def _day_start(t_end: int, day: IntArray) -> IntArray:
    out: IntArray = t_end - (day + 1) * DAY
    return out


def _segment_index(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For rows expanded by ``counts``: the parent of each row and its position in the parent."""
    parent = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pos: IntArray = np.arange(len(parent), dtype=np.int64) - starts[parent]
    return parent, pos


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class _Events:
    user: IntArray
    ts: IntArray  # epoch seconds
    etype: IntArray
    text: IntArray  # index into the text vocabulary
    product: IntArray  # -1: none
    order: IntArray  # order number, -1: none
    qty: IntArray  # only meaningful for cart, purchase, return
    price: FloatArray  # NaN: none

    @staticmethod
    def concat(parts: Sequence[_Events]) -> _Events:
        return _Events(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _Events.__dataclass_fields__)
        )

    def take(self, idx: IntArray) -> _Events:
        return _Events(*(getattr(self, f)[idx] for f in _Events.__dataclass_fields__))


def _product_events(
    user: IntArray,
    ts: IntArray,
    etype: int,
    product: IntArray,
    cat: _Catalogue,
    *,
    order: IntArray | None = None,
    qty: IntArray | None = None,
    price: FloatArray | None = None,
) -> _Events:
    """Events about a product; without ``price`` the list price is shown."""
    m = len(user)
    return _Events(
        user=user,
        ts=ts,
        etype=np.full(m, etype, dtype=np.int64),
        text=product,
        product=product,
        order=np.full(m, -1, dtype=np.int64) if order is None else order,
        qty=np.ones(m, dtype=np.int64) if qty is None else qty,
        price=cat.product_price[product] if price is None else price,
    )


def _search_events(
    rng: np.random.Generator, cat: _Catalogue, user: IntArray, ts: IntArray, persona: IntArray
) -> _Events:
    m = len(user)
    query = _sample(rng, cat.query_cdf, cat.query_end, persona)
    return _Events(
        user=user,
        ts=ts,
        etype=np.full(m, SEARCH, dtype=np.int64),
        text=cat.n_products + query,
        product=np.full(m, -1, dtype=np.int64),
        order=np.full(m, -1, dtype=np.int64),
        qty=np.zeros(m, dtype=np.int64),
        price=np.full(m, np.nan),
    )


def _order_events(
    rng: np.random.Generator, cat: _Catalogue, users: _Users, t_end: int, order_base: int
) -> tuple[_Events, int]:
    """Orders with their lead-up (search, view, cart) and returns; also the order count."""
    o_user, o_pos = _segment_index(users.n_orders)
    n_o = len(o_user)
    nk = users.n_orders[o_user]
    lo, hi = users.last_day[o_user], users.first_day[o_user]
    day = np.where(o_pos == 0, lo, np.where(o_pos == nk - 1, hi, _uniform_days(rng, lo, hi)))
    o_ts = _day_start(t_end, day) + _time_of_day(rng, n_o)
    o_persona = _interest(rng, cat, users, o_user)
    o_number = order_base + np.arange(n_o, dtype=np.int64)
    tier_o = users.tier[o_user]

    line_order, _ = _segment_index(1 + rng.poisson(_TIER_EXTRA_LINES[tier_o]))
    l_tier = tier_o[line_order]
    group = l_tier * cat.n_personas + o_persona[line_order]
    product = _sample(rng, cat.product_cdf, cat.product_end, group) - l_tier * cat.n_products
    # A product appears once per order (more of it is quantity, not another line).
    _, keep = np.unique(line_order * cat.n_products + product, return_index=True)
    line_order, product, l_tier = line_order[keep], product[keep], l_tier[keep]
    n_l = len(line_order)
    l_user, l_ts = o_user[line_order], o_ts[line_order]
    qty = 1 + rng.poisson(_TIER_EXTRA_QTY[l_tier])
    discount = np.where(rng.random(n_l) < _DISCOUNT_SHARE, rng.choice(_DISCOUNTS, n_l), 0.0)
    unit = np.round(cat.product_price[product] * (1.0 - discount), 2)
    order = o_number[line_order]

    cart_ts = l_ts - rng.integers(60, 1800, n_l)
    view_ts = cart_ts - rng.integers(20, 900, n_l)
    searched = np.flatnonzero(rng.random(n_o) < _SEARCH_BEFORE_ORDER)
    returned = rng.random(n_l) < cat.return_rate[cat.product_persona[product]]
    r_ts = l_ts + rng.integers(2 * DAY, 31 * DAY, n_l)
    back = np.flatnonzero(returned & (r_ts < t_end))
    parts = [
        _search_events(
            rng,
            cat,
            o_user[searched],
            o_ts[searched] - rng.integers(2800, 4000, len(searched)),
            o_persona[searched],
        ),
        _product_events(l_user, view_ts, VIEW, product, cat),
        _product_events(l_user, cart_ts, CART, product, cat, qty=qty, price=unit),
        _product_events(l_user, l_ts, PURCHASE, product, cat, order=order, qty=qty, price=unit),
        _product_events(
            l_user[back],
            r_ts[back],
            RETURN,
            product[back],
            cat,
            order=order[back],
            qty=-qty[back],
            price=unit[back],
        ),
    ]
    return _Events.concat(parts), n_o


def _browse_events(rng: np.random.Generator, cat: _Catalogue, users: _Users, t_end: int) -> _Events:
    """Sessions that end without a purchase: a search, a few views, maybe an abandoned cart."""
    rate = np.array([lc.browse_rate for lc in LIFECYCLES])[users.lifecycle] * users.engagement
    n_sessions = rng.poisson(rate)
    # Everyone on the customer list left at least one trace in the log.
    n_sessions = np.where((users.n_orders == 0) & (n_sessions == 0), 1, n_sessions)
    s_user, _ = _segment_index(n_sessions)
    n_s = len(s_user)
    s_persona = _interest(rng, cat, users, s_user)
    s_tier = users.tier[s_user]
    has_search = (rng.random(n_s) < _SESSION_SEARCH).astype(np.int64)
    n_views = 1 + rng.poisson(_SESSION_EXTRA_VIEWS, n_s)
    has_cart = (rng.random(n_s) < _SESSION_CART).astype(np.int64)

    e_sess, pos = _segment_index(has_search + n_views + has_cart)
    n_e = len(e_sess)
    etype = np.where(
        pos < has_search[e_sess],
        SEARCH,
        np.where(pos < (has_search + n_views)[e_sess], VIEW, CART),
    )
    gaps = np.where(pos == 0, 0, rng.integers(15, 300, n_e))
    elapsed = np.cumsum(gaps)
    offset = elapsed - elapsed[np.flatnonzero(pos == 0)][e_sess]
    duration = np.zeros(n_s, dtype=np.int64)
    np.maximum.at(duration, e_sess, offset)
    day = _uniform_days(rng, users.act_end[s_user], users.act_start[s_user])
    start = np.minimum(_day_start(t_end, day) + _time_of_day(rng, n_s), t_end - 1 - duration)
    ts = start[e_sess] + offset

    group = s_tier[e_sess] * cat.n_personas + s_persona[e_sess]
    product = _sample(rng, cat.product_cdf, cat.product_end, group) - s_tier[e_sess] * cat.n_products
    # The abandoned cart holds the last product looked at.
    is_cart = etype == CART
    product = np.where(is_cart, np.roll(product, 1), product)
    query = cat.n_products + _sample(rng, cat.query_cdf, cat.query_end, s_persona[e_sess])
    is_search = etype == SEARCH
    return _Events(
        user=s_user[e_sess],
        ts=ts,
        etype=etype.astype(np.int64),
        text=np.where(is_search, query, product),
        product=np.where(is_search, -1, product),
        order=np.full(n_e, -1, dtype=np.int64),
        qty=np.ones(n_e, dtype=np.int64),
        price=np.where(is_search, np.nan, cat.product_price[product]),
    )


# --------------------------------------------------------------------------- chunk -> tables


@dataclass(frozen=True)
class _Chunk:
    events: pa.Table
    labels: pa.Table
    users: pa.Table
    n_orders: int


def _user_ids(first: int, n: int, width: int) -> pa.Array:
    numbers = pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64))
    out: pa.Array = pc.utf8_lpad(pc.cast(numbers, pa.string()), width=width, padding="0")
    return out


def _events_table(cat: _Catalogue, ev: _Events, ids: pa.Array) -> pa.Table:
    no_product = ev.product < 0
    no_qty = (ev.etype == SEARCH) | (ev.etype == VIEW)
    persona = np.where(no_product, 0, cat.product_persona[np.maximum(ev.product, 0)])
    columns = [
        ids.take(pa.array(ev.user)),
        pa.array(ev.ts * 1_000_000, type=pa.timestamp("us")),
        pa.array(EVENT_TYPES, pa.string()).take(pa.array(ev.etype)),
        cat.text_vocab.take(pa.array(ev.text)),
        cat.product_ids.take(pa.array(ev.product, mask=no_product)),
        pc.cast(pa.array(ev.order, mask=ev.order < 0), pa.string()),
        cat.categories.take(pa.array(persona, mask=no_product)),
        pa.array(ev.qty, mask=no_qty, type=pa.int64()),
        pa.array(ev.price, mask=np.isnan(ev.price), type=pa.float64()),
    ]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def _users_table(
    rng: np.random.Generator, cat: _Catalogue, users: _Users, ids: pa.Array, end: date
) -> pa.Table:
    n = users.n
    age = _sample(rng, cat.age_cdf, np.arange(1, cat.n_personas + 2) * len(AGE_BANDS), users.label)
    gender = _sample(rng, cat.gender_cdf, np.arange(1, cat.n_personas + 2) * len(GENDERS), users.label)
    region = rng.choice(len(REGIONS), size=n, p=np.array(REGION_SHARES) / sum(REGION_SHARES))
    new = users.lifecycle == [lc.name for lc in LIFECYCLES].index("new")
    lead = np.where(new, rng.integers(0, 4, n), np.rint(rng.exponential(300.0, n)).astype(np.int64))
    signup_day = users.act_start + np.minimum(lead, 2500)
    end_days = (end - date(1970, 1, 1)).days
    return pa.Table.from_arrays(
        [
            ids,
            pa.array(AGE_BANDS).take(pa.array(age % len(AGE_BANDS), mask=rng.random(n) < MISSING_AGE)),
            pa.array(GENDERS).take(pa.array(gender % len(GENDERS), mask=rng.random(n) < MISSING_GENDER)),
            pa.array(REGIONS).take(pa.array(region)),
            pa.array((end_days - signup_day).astype(np.int32), type=pa.date32()),
        ],
        schema=USER_SCHEMA,
    )


def _make_chunk(
    cat: _Catalogue,
    seed: int,
    index: int,
    first_user: int,
    n: int,
    order_base: int,
    end: date,
    width: int,
) -> _Chunk:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))
    t_end = ((end - date(1970, 1, 1)).days + 1) * DAY
    users = _draw_users(rng, cat, n)
    orders, n_orders = _order_events(rng, cat, users, t_end, order_base)
    ev = _Events.concat([orders, _browse_events(rng, cat, users, t_end)])
    ev = ev.take(np.lexsort((ev.etype, ev.ts, ev.user)))
    ids = _user_ids(first_user, n, width)
    labels = pa.Table.from_arrays([ids, cat.labels.take(pa.array(users.label))], schema=LABEL_SCHEMA)
    return _Chunk(_events_table(cat, ev, ids), labels, _users_table(rng, cat, users, ids, end), n_orders)


# --------------------------------------------------------------------------- writers


class _Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


def _iso_timestamps(table: pa.Table) -> pa.Table:
    # Text formats carry ISO-8601 ("2026-06-30T18:04:11"), the most portable spelling.
    i = table.schema.get_field_index("timestamp")
    if i < 0:
        return table
    iso = pc.strftime(table.column(i).cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    return table.set_column(i, "timestamp", iso)


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


class _CsvSink:
    def __init__(self, path: Path, schema: pa.Schema, gzip: bool) -> None:
        self._stream: Any = (
            pa.CompressedOutputStream(str(path), "gzip") if gzip else pa.OSFile(str(path), "wb")
        )
        text_schema = _iso_timestamps(schema.empty_table()).schema
        self._writer = pacsv.CSVWriter(self._stream, text_schema)
        self._writer.write_table(text_schema.empty_table())

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(_iso_timestamps(table))

    def close(self) -> None:
        self._writer.close()
        self._stream.close()


class _JsonlSink:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, table: pa.Table) -> None:
        table = _iso_timestamps(table)
        pieces: list[Any] = []
        for i, name in enumerate(table.column_names):
            col = table.column(name).combine_chunks()
            value = col.cast(pa.string())
            if pa.types.is_string(col.type):
                value = pc.binary_join_element_wise('"', value, '"', "")
            pieces += [("{" if i == 0 else ",") + f'"{name}":', value.fill_null("null")]
        lines = pc.binary_join_element_wise(*pieces, "}\n", "")
        # The values are already contiguous JSON text: write the data buffer as is.
        if len(lines):
            offsets = np.frombuffer(
                lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
            )
            data = lines.buffers()[2]
            self._file.write(memoryview(data)[offsets[0] : offsets[-1]])

    def close(self) -> None:
        self._file.close()


_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".csv.gz", "csv.gz"),
    (".parquet", "parquet"),
    (".csv", "csv"),
    (".jsonl", "jsonl"),
)


def output_format(path: Path) -> str:
    """The events format implied by a file name.

    Args:
        path: Output file name.

    Returns:
        One of ``parquet``, ``csv``, ``csv.gz``, ``jsonl``.

    Raises:
        ValueError: For any other suffix.
    """
    name = Path(path).name.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    raise ValueError(
        f"cannot tell the output format of {str(path)!r}: name it .parquet, .csv, .csv.gz or .jsonl"
    )


def _open_sink(path: Path, fmt: str, schema: pa.Schema) -> _Sink:
    if fmt == "parquet":
        return _ParquetSink(path, schema)
    if fmt == "jsonl":
        return _JsonlSink(path)
    return _CsvSink(path, schema, gzip=fmt == "csv.gz")


@contextmanager
def _atomic(finals: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary siblings of ``finals``, moved over them only if the block succeeds."""
    # Named, not mkstemp'd: the writers create the files, so they get the usual
    # umask permissions instead of mkstemp's 0600.
    tag = f"{os.getpid()}.{secrets.token_hex(4)}"
    temps = [final.with_name(f".{final.name}.{tag}.tmp") for final in finals]
    try:
        yield temps
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in zip(temps, finals, strict=True):
        os.replace(tmp, final)


# --------------------------------------------------------------------------- entry point


def side_paths(out: Path) -> tuple[Path, Path]:
    """The labels and users files that go with an events file.

    Args:
        out: The events file.

    Returns:
        ``(out + ".labels.csv", out + ".users.csv")``.
    """
    out = Path(out)
    return out.with_name(out.name + ".labels.csv"), out.with_name(out.name + ".users.csv")


def generate(
    n_users: int,
    out: Path,
    seed: int = 0,
    *,
    chunk_users: int = 50_000,
    end: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Write a sample shop: events, planted labels and customer attributes.

    Args:
        n_users: Customers to generate (each gets ~20 events on average).
        out: Events file; the format follows the suffix (``.parquet``, ``.csv``,
            ``.csv.gz``, ``.jsonl``). ``out.labels.csv`` and ``out.users.csv`` are
            written next to it.
        seed: Non-negative seed; the output depends only on ``n_users``, ``seed``,
            ``chunk_users`` and ``end``.
        chunk_users: Customers generated and written per step (bounds memory).
        end: Last day of the shop's one-year window (default 2026-06-30); no event is
            later than the end of that day.
        progress: Called as ``progress(users_done, n_users)`` after each chunk.

    Returns:
        The paths written and the counts.

    Raises:
        ValueError: On a negative ``n_users`` or ``seed``, ``chunk_users < 1`` or an
            unknown file suffix.
    """
    if n_users < 0 or seed < 0 or chunk_users < 1:
        raise ValueError("n_users and seed must be >= 0 and chunk_users >= 1")
    out = Path(out)
    fmt = output_format(out)
    end = date(end.year, end.month, end.day) if end is not None else DEFAULT_END
    labels_path, users_path = side_paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cat = _default_catalogue()
    width = max(7, len(str(n_users)))
    n_events = 0
    with _atomic([labels_path, users_path, out]) as (tmp_labels, tmp_users, tmp_events), ExitStack() as stack:
        sinks: list[_Sink] = []
        for path, kind, schema in (
            (tmp_events, fmt, EVENT_SCHEMA),
            (tmp_labels, "csv", LABEL_SCHEMA),
            (tmp_users, "csv", USER_SCHEMA),
        ):
            sinks.append(_open_sink(path, kind, schema))
            stack.callback(sinks[-1].close)
        order_base = _ORDER_BASE
        for index, first in enumerate(range(0, n_users, chunk_users)):
            n = min(chunk_users, n_users - first)
            chunk = _make_chunk(cat, seed, index, first, n, order_base, end, width)
            for sink, table in zip(sinks, (chunk.events, chunk.labels, chunk.users), strict=True):
                sink.write(table)
            order_base += chunk.n_orders
            n_events += chunk.events.num_rows
            if progress is not None:
                progress(first + n, n_users)
    return SynthResult(out, labels_path, users_path, n_users, n_events)
