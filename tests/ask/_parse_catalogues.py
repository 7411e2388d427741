"""Catalogues of three kinds of shop for the parser tests, and short builders of expected specs.

- GIFTS: a UK gift shop like UCI Online Retail: purchases and returns only, `country`, the real
  Online Retail product words (tests/ask/online_retail_words.txt: "vip", "summer", "first",
  "new" and "back" are product words there too), as_of 2011-12-09.
- SAMPLE: the sample shop: every event type, age_band / gender / region / top_category, segments
  named after single products ("Coffee") and with several words ("Active · Pencils"), as_of
  2026-06-30.
- GROCER: a grocer like The Complete Journey whose customers are households: demographics, grocery
  product words, as_of 2018-01-01.

Expected specs are written from docs/definitions.md, never from the parser's output.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from segmint.agent.core.schema import NUMERIC_FEATURES
from segmint.agent.query import Catalogue, Condition, Measure, QuerySpec, Window

WITHOUT_LTV = [f for f in NUMERIC_FEATURES if f not in ("expected_purchases", "p_alive", "expected_spend",
                                                         "expected_value")]
WORDS_FILE = Path(__file__).with_name("online_retail_words.txt")


def online_retail_words() -> frozenset[str]:
    """The product words of Online Retail (the file's lines after its comment)."""
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


GIFTS = Catalogue(
    numeric=WITHOUT_LTV, text=["country"],
    attribute_values={"country": ["United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands",
                                  "Belgium", "Switzerland"]},
    segments={"0": "Unassigned", "1": "High-value · Christmas decorations",
              "2": "Lunch bags", "3": "Pencils"},
    has_segments=True, as_of=date(2011, 12, 9), product_words=online_retail_words(),
    event_types=frozenset({"purchase", "return"}))
SAMPLE = Catalogue(
    numeric=list(NUMERIC_FEATURES), text=["top_category", "age_band", "gender", "region"],
    attribute_values={"top_category": ["Coffee", "Tea", "Running", "Yoga"],
                      "age_band": ["18-24", "25-34", "35-44", "45-54", "55+"],
                      "gender": ["female", "male", "non-binary"],
                      "region": ["London", "Scotland", "Wales", "South East"]},
    segments={"0": "Unassigned", "1": "Coffee", "2": "Running", "3": "Active · Pencils", "4": "Yoga"},
    has_segments=True, as_of=date(2026, 6, 30),
    product_words=frozenset("""coffee beans espresso grinder tea green loose leaf teapot running shoes trail
        socks yoga mat mats block cat food litter dog lead flour bread yarn wool knitting needles pencils
        notebook baby monitor nappies""".split()),
    event_types=frozenset({"search", "view", "cart", "purchase", "return"}))
GROCER = Catalogue(
    numeric=WITHOUT_LTV, text=["age", "income", "home_ownership", "marital_status", "household_size"],
    attribute_values={"age": ["19-24", "25-34", "35-44", "45-54", "55-64", "65+"],
                      "income": ["Under 15K", "15-24K", "25-34K", "35-49K", "50-74K", "75-99K"],
                      "home_ownership": ["Homeowner", "Renter", "Probable Renter"],
                      "marital_status": ["Married", "Unmarried"], "household_size": ["1", "2", "5+"]},
    has_segments=False, as_of=date(2018, 1, 1),
    product_words=frozenset("""frozen pizza cheese cheeses milk fluid bananas soft drinks beer diapers
        disposable cat dog food dry eggs bread yogurt coffee ground chicken beef""".split()),
    event_types=frozenset({"purchase"}))
SHOPS = {"gifts": GIFTS, "sample": SAMPLE, "grocer": GROCER}


def term(key: str, negate: bool = False) -> Condition:
    return Condition(kind="term", term=key, negate=negate)


def field(name: str, op: str, value: Any, negate: bool = False) -> Condition:
    return Condition.model_validate(
        {"kind": "field", "field": name, "op": op, "value": value, "negate": negate})


def attr(name: str, value: Any, negate: bool = False) -> Condition:
    op = "in" if isinstance(value, list) else "="
    return Condition.model_validate(
        {"kind": "field", "field": name, "op": op, "value": value, "negate": negate})


def ev(event: str = "purchase", product: str | None = None, **extra: Any) -> Condition:
    return Condition.model_validate({"kind": "events", "event": event, "product": product, **extra})


def cohort(which: str, window: Window) -> Condition:
    return Condition(kind="cohort", cohort=which, window=window)


def dates(start: str | None, end: str | None) -> Window:
    return Window(start=date.fromisoformat(start) if start else None,
                  end=date.fromisoformat(end) if end else None)


def last(n: int, unit: str) -> Window:
    return Window.model_validate({"last": n, "unit": unit})


def period(which: str, unit: str) -> Window:
    return Window.model_validate({"period": which, "unit": unit})


def measure(agg: str, name: str | None = None, window: Window | None = None) -> Measure:
    return Measure.model_validate({"agg": agg, "field": name, "window": window})


def spec(*groups: list[Condition], **extra: Any) -> QuerySpec:
    return QuerySpec.model_validate({"any_of": [list(g) for g in groups], **extra})


def same(got: QuerySpec, expected: QuerySpec) -> bool:
    """Equal as queries: the order of AND-ed conditions and of OR-ed groups, and the words a
    window was read from (`said`), do not count."""
    return _canonical(got) == _canonical(expected)


def _canonical(s: QuerySpec) -> Any:
    def cond(c: Condition) -> str:
        data = c.model_dump(exclude={"window": {"said"}})
        if isinstance(data.get("value"), int | float):
            data["value"] = float(data["value"])
        return repr(sorted(data.items()))

    m = s.measure.model_dump(exclude={"window": {"said"}}) if s.measure else None
    groups = sorted(tuple(sorted(cond(c) for c in g)) for g in s.any_of)
    rank = cond(s.rank_by) if s.rank_by else None
    return (s.kind, groups, s.sort_by, rank, s.descending if s.sort_by or rank else None, s.limit,
            repr(m), s.group_by, s.groups)
