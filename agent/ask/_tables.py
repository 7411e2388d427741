"""A table answer's rows, in the order asked, and its sentence (docs/definitions.md "Numbers and
tables"): the groups named in the question in that order ("France vs Germany"), else calendar
periods in time order unless a ranking was asked ("which month had the most ..."), else by value
with the winner first (and the top N when asked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segmint.agent.ask._describe import fmt_value
from segmint.agent.query import COHORTS, Catalogue, MeasureQuery, QuerySpec

__all__ = ["table_rows", "table_text"]

SHOWN_ROWS = 6  # the sentence lists this many rows; the JSON has them all
_GROUP_WORDS = {"segment": "segment", "product": "product", "term": "group", "week": "week", "month": "month",
                "weekday": "day of the week", "hour": "hour of the day",
                "quarter": "quarter", "year": "year", "first_purchase_month": "month of first purchase",
                "first_purchase_quarter": "quarter of first purchase",
                "first_purchase_year": "year of first purchase"}


def table_rows(raw: list[tuple[Any, ...]], spec: QuerySpec, cat: Catalogue, mq: MeasureQuery,
               labels: Mapping[str, str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The rows `[{"group", "value", "customers"}]` in the order asked, and how many customers
    were left out for having no value of the grouping (no country, never purchased); `labels`
    names groups shown by another name (glossary terms by their label)."""
    rows: list[dict[str, Any]] = []
    left_out = 0
    for key, value, customers in raw:
        if key is None:
            left_out += int(customers or 0)
            continue
        name = (labels or {}).get(str(key), str(key))
        if spec.group_by == "segment":
            name = f"{key} · {cat.segments.get(str(key), '')}".rstrip(" ·")
        elif spec.group_by == "weekday":  # "1 Monday": the number orders the days
            name = str(key).split(" ", 1)[-1]
        rows.append({"group": name, "value": None if value is None else float(value),
                     "customers": int(customers or 0), "_key": str(key)})
    if spec.groups:
        rows = [_pick(rows, asked, mq) for asked in spec.groups]
    elif mq.chronological and spec.sort_by != "value":
        rows.sort(key=lambda r: r["_key"])
    else:
        sign = -1 if spec.descending else 1
        rows.sort(key=lambda r: (r["value"] is None, sign * (r["value"] or 0), r["group"]))
    if spec.limit and not spec.groups:
        rows = rows[: spec.limit]
    return [{k: r[k] for k in ("group", "value", "customers")} for r in rows], left_out


def _pick(rows: list[dict[str, Any]], asked: str, mq: MeasureQuery) -> dict[str, Any]:
    """The row of one group asked for: by value, by name, or "id · name" (case-insensitive);
    a group with no customers is a row of 0 customers."""
    want = asked.strip().lower()
    for r in rows:
        names = {r["_key"].lower(), r["group"].lower(), r["group"].split(" · ")[-1].lower()}
        if want in names:
            return r
    empty = 0.0 if mq.measure.agg == "count" else None
    return {"group": asked, "value": empty, "customers": 0, "_key": asked}


def table_text(rows: list[dict[str, Any]], spec: QuerySpec, mq: MeasureQuery, label: str,
               currency: str, left_out: int) -> str:
    """The table in a sentence: the winner of a ranking, the comparison asked, or the periods."""
    by = _GROUP_WORDS.get(spec.group_by or "", (spec.group_by or "").replace("_", " "))
    title = f"{label[0].upper() + label[1:]} by {by}"

    counted = mq.measure.agg == "count"

    def value(r: dict[str, Any]) -> str:
        shown = fmt_value(mq.measure, r["value"], currency)
        n = r["customers"]
        return shown if counted else f"{shown} ({n:,} customer{'' if n == 1 else 's'})"

    def cell(r: dict[str, Any]) -> str:
        return f"{r['group']} {value(r)}"

    if not rows:
        return f"{title}: no group has any customer."
    listed = "; ".join(cell(r) for r in rows[:SHOWN_ROWS])
    more = f"; and {len(rows) - SHOWN_ROWS:,} more" if len(rows) > SHOWN_ROWS else ""
    text = f"{title}: {listed}{more}."
    valued = [r for r in rows if r["value"] is not None]
    if spec.groups and len(valued) >= 2:
        top = max(valued, key=lambda r: r["value"])
        low = min(valued, key=lambda r: r["value"])
        if top["value"] != low["value"]:
            text += f" {top['group']} is highest, {low['group']} lowest."
    elif not spec.groups and (not mq.chronological or spec.sort_by == "value") and valued:
        word = ("most" if spec.descending else "fewest") if counted else (
            "highest" if spec.descending else "lowest")
        what = "of these customers" if counted else label
        winner = f"{valued[0]['group']} has the {word} {what}: {value(valued[0])}."
        if spec.group_by == "product" and mq.measure.agg in ("count", "share"):
            winner = f"{valued[0]['group']} was bought by the {word} of these customers: {value(valued[0])}."
        text = winner if len(rows) == 1 else f"{winner} {text}"
    if left_out:
        without = "who never purchased" if spec.group_by in COHORTS else f"without a {by}"
        text += f" {left_out:,} customers {without} are not shown."
    return text
