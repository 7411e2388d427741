"""The eval shops' raw input files read with pandas, and the documented definitions applied to them.

Nothing here imports segmint: the files are read as a shop exported them and the definitions of
docs/definitions.md (and the time-window and product rules of the issue 14 design) are applied
directly:

- a purchase row is an event of type purchase that is not a return; a return is a row of type
  return or with a negative quantity or amount; as_of is the latest accepted event;
- orders are distinct order ids over purchase rows (plus one per purchase row without an id),
  revenue the amount of purchase and return rows, recency / tenure whole days to as_of, aov
  revenue / orders;
- "in the last N days/weeks/months": timestamp > as_of - N x (1, 7, 30) days; this / previous
  calendar month, quarter, year; a named month, quarter, year or season is the calendar period;
  "since D" is on or after D; "between A and B" includes both days;
- a product phrase matches whole words of product texts and categories, singular or plural, in
  any case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
SEASONS = {"spring": (3, 6), "summer": (6, 9), "autumn": (9, 12), "fall": (9, 12)}
PERIOD_CODES = {"month": "M", "quarter": "Q", "year": "Y"}
Mask = pd.Series


@dataclass
class Raw:
    """One shop's accepted events in canonical columns, its per-customer attributes and segments.

    Attributes:
        events: user_id, ts, event_type (purchase, return, view, ...), text, category, product_id,
            order_id, quantity, amount.
        attributes: text attributes per user_id (index), from --attr or --users.
        segments: each customer's segment id (from the workspace: clustering is not re-derived).
        segment_names: segment id -> name.
    """

    events: pd.DataFrame
    attributes: pd.DataFrame
    segments: pd.Series = field(default_factory=lambda: pd.Series(dtype=str))
    segment_names: dict[str, str] = field(default_factory=dict)


def _canonical(events: pd.DataFrame) -> pd.DataFrame:
    """Mark returns (type return, or a negative quantity or amount) and order the columns."""
    ev = events.copy()
    ev["event_type"] = ev["event_type"].str.lower()
    negative = (ev["quantity"] < 0) | (ev["amount"] < 0)
    ev.loc[negative, "event_type"] = "return"
    for col in ("text", "category", "product_id", "order_id"):
        if col not in ev:
            ev[col] = None
    cols = ["user_id", "ts", "event_type", "text", "category", "product_id", "order_id", "quantity",
            "amount"]
    return ev[cols].reset_index(drop=True)


def most_frequent(events: pd.DataFrame, column: str) -> pd.Series:
    """Each user's most frequent non-empty value of `column` (ties: the smallest value)."""
    known = events[events[column].notna() & (events[column] != "")]
    counts = known.groupby(["user_id", column]).size().rename("n").reset_index()
    counts = counts.sort_values(["user_id", "n", column], ascending=[True, False, True])
    return counts.drop_duplicates("user_id").set_index("user_id")[column]


def load_online_retail(path: Path) -> Raw:
    """UCI Online Retail run with the README's mapping and `--attr country=Country`."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw = raw[raw["CustomerID"].str.strip() != ""]
    qty = pd.to_numeric(raw["Quantity"])
    ev = pd.DataFrame({
        "user_id": raw["CustomerID"].str.replace(r"\.0$", "", regex=True),
        "ts": pd.to_datetime(raw["InvoiceDate"]), "event_type": "purchase",
        "text": raw["Description"], "product_id": raw["StockCode"], "order_id": raw["InvoiceNo"],
        "quantity": qty, "amount": qty * pd.to_numeric(raw["UnitPrice"]), "country": raw["Country"]})
    attributes = pd.DataFrame({"country": most_frequent(ev, "country")})
    return Raw(_canonical(ev), attributes)


def load_sample(events: Path, users: Path) -> Raw:
    """The sample shop (`segmint synth`): typed events and its users file (joined on user_id)."""
    raw = pd.read_parquet(events)
    qty = raw["quantity"].astype(float).fillna(1.0)
    ev = pd.DataFrame({
        "user_id": raw["user_id"].astype(str), "ts": pd.to_datetime(raw["timestamp"]),
        "event_type": raw["event_type"].astype(str), "text": raw["text"],
        "category": raw["category"], "product_id": raw["product_id"], "order_id": raw["order_id"],
        "quantity": qty, "amount": raw["price"].astype(float) * qty})
    ev = _canonical(ev)
    attributes = pd.read_csv(users, dtype=str).drop_duplicates("user_id").set_index("user_id")
    attributes["top_category"] = most_frequent(ev, "category")
    return Raw(ev, attributes)


def load_journey(events: Path, users: Path, columns: dict[str, str]) -> Raw:
    """The Complete Journey subset (tests/completejourney.py): every line a purchase."""
    raw = pd.read_parquet(events)
    src = {canon: raw[col] for canon, col in columns.items()}
    ev = pd.DataFrame({
        "user_id": src["user_id"], "ts": pd.to_datetime(src["timestamp"]), "event_type": "purchase",
        "text": src["text"], "category": src["category"], "product_id": src["product_id"],
        "order_id": src["order_id"], "quantity": pd.to_numeric(src["quantity"]),
        "amount": pd.to_numeric(src["amount"])})
    attributes = pd.read_csv(users, dtype=str)
    attributes = attributes.rename(columns={columns["user_id"]: "user_id"}).set_index("user_id")
    return Raw(_canonical(ev), attributes)


def customer_features(ev: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The documented per-customer features, one row per user with an accepted event."""
    users = pd.Index(sorted(ev["user_id"].unique()), name="user_id")
    buy = ev[ev["event_type"] == "purchase"]
    money = ev[ev["event_type"].isin(["purchase", "return"])]
    ret = ev[ev["event_type"] == "return"]
    with_id = buy[buy["order_id"].notna() & (buy["order_id"] != "")]
    orders = (with_id.groupby("user_id")["order_id"].nunique()
              .add(buy[~buy.index.isin(with_id.index)].groupby("user_id").size(), fill_value=0))
    out = pd.DataFrame(index=users)
    out["orders"] = orders.reindex(users).fillna(0)
    # Money sums are rounded to 1e-6 so that a customer whose revenue equals a percentile (one
    # £24.99 item) is compared as the exact amount it is, not as float noise either side of it.
    out["revenue"] = money.groupby("user_id")["amount"].sum().round(6).reindex(users).fillna(0.0)
    out["first_purchase"] = buy.groupby("user_id")["ts"].min().reindex(users)
    out["last_purchase"] = buy.groupby("user_id")["ts"].max().reindex(users)
    out["recency_days"] = np.floor((as_of - out["last_purchase"]) / DAY)
    out["tenure_days"] = np.floor((as_of - out["first_purchase"]) / DAY)
    out["aov"] = (out["revenue"] / out["orders"]).where(out["orders"] > 0)
    out["units"] = buy.groupby("user_id")["quantity"].sum().reindex(users).fillna(0.0)
    out["units_per_order"] = (out["units"] / out["orders"]).where(out["orders"] > 0)
    out["products_bought"] = buy.groupby("user_id")["product_id"].nunique().reindex(users).fillna(0)
    for kind in ("view", "search"):
        out[f"n_{kind}"] = ev[ev["event_type"] == kind].groupby("user_id").size().reindex(users).fillna(0)
    out["returns"] = ret.groupby("user_id").size().reindex(users).fillna(0)
    out["returned_amount"] = -ret.groupby("user_id")["amount"].sum().round(6).reindex(users).fillna(0.0)
    return out


def singular(word: str) -> str:
    """The singular of an English plural as shop texts write it (teapots, boxes, berries)."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and re.search(r"(ss|x|z|ch|sh)es$", w):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def word_pattern(word: str) -> str:
    """A regex for one word, singular or plural."""
    s = re.escape(singular(word))
    if singular(word).endswith("y"):
        return f"(?:{s}|{re.escape(singular(word)[:-1])}ies)"
    return f"{s}(?:s|es)?"


@cache
def phrase_regex(phrase: str) -> re.Pattern[str]:
    """Whole words of `phrase`, in order, each singular or plural, separated by non-letters."""
    words = re.findall(r"[a-z0-9]+", phrase.lower())
    body = r"[^a-z0-9]+".join(word_pattern(w) for w in words)
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])", re.I)


def window_mask(ts: pd.Series, w: dict[str, Any], as_of: pd.Timestamp) -> Mask:
    """Which timestamps fall inside a window spec (see the module docstring)."""
    if "last" in w:
        return ts > as_of - UNIT_DAYS[w.get("unit", "day")] * int(w["last"]) * DAY
    if "this" in w or "previous" in w:
        period = as_of.to_period(PERIOD_CODES[w.get("this") or w["previous"]])
        period = period if "this" in w else period - 1
        return (ts >= period.start_time) & (ts < (period + 1).start_time)
    for unit in ("month", "quarter", "year"):
        if unit in w:
            period = pd.Period(str(w[unit]), freq=PERIOD_CODES[unit])
            return (ts >= period.start_time) & (ts < (period + 1).start_time)
    if "season" in w:
        name, year = str(w["season"]).split()
        first, stop = SEASONS[name]
        return (ts >= pd.Timestamp(int(year), first, 1)) & (ts < pd.Timestamp(int(year), stop, 1))
    lo = pd.Timestamp(str(w.get("since", w.get("between", ["1970-01-01"])[0])))
    hi = pd.Timestamp(str(w["between"][1])) + DAY if "between" in w else pd.Timestamp(
        str(w.get("before", "2200-01-01")))
    return (ts >= lo) & (ts < hi)


COMPARE: dict[str, Callable[[pd.Series, Any], Mask]] = {
    ">": lambda s, v: s > v, ">=": lambda s, v: s >= v, "<": lambda s, v: s < v,
    "<=": lambda s, v: s <= v, "=": lambda s, v: s == v, "!=": lambda s, v: s != v,
    "between": lambda s, v: (s >= v[0]) & (s <= v[1]), "in": lambda s, v: s.isin(v),
}



def compare(values: pd.Series, op: str, value: Any) -> Mask:
    """`values op value`, where a missing value never passes (docs/definitions.md)."""
    return COMPARE[op](values, value) & values.notna()
