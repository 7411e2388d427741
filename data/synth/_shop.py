"""The shape of the sample shop: its time window, file schemas, customer attributes, lifecycles
and personas (the planted types of customers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from segmint.agent.core.schema import CANONICAL_COLUMNS

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
