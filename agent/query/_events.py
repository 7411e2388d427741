"""SQL over `activity` for what customers did: which rows an events condition or a windowed
measure reads, and what its threshold counts (docs/definitions.md "Questions").

Every value is a bound parameter; names come from the whitelists here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from segmint.agent.query.errors import SpecError
from segmint.agent.query.spec import Condition
from segmint.agent.query.windows import Period

__all__ = ["ItemMatches", "MatchKey", "RowFilter", "condition_types", "customers", "customers_column",
           "event_of", "events_sql", "evidence_sql", "match_key", "matched_products_sql",
           "measure_expr", "passes_zero", "product_phrase", "rank_sql", "threshold_values", "window_sql"]

# The items each product phrase of a spec matched (agent/ask/_matches.py), by `match_key`.
MatchKey = tuple[str, str, str]  # the phrase, exact or meaning, the event type
ItemMatches = Mapping[MatchKey, Sequence[int]]

# What a threshold counts over the matching rows `a` (docs/definitions.md "Questions").
_MEASURES = {
    "events": "count(*)",
    "orders": "(count(DISTINCT a.order_key) + count(*) FILTER (WHERE a.order_key IS NULL))",
    "spend": "coalesce(round(sum(a.amount), 6), 0)",  # money to 1e-6, as the users table
    "units": "coalesce(sum(a.quantity), 0)",
    "days": "count(DISTINCT CAST(a.ts AS DATE))",
}
_MONEY = ("spend", "units")
_ITEM_COUNTS = ("search", "view", "cart", "purchase", "return", "any")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
        "!=": operator.ne}


def product_phrase(c: Condition) -> str | None:
    """The product words of a condition: an events condition's product or an interest."""
    if c.kind == "events":
        return c.product
    return c.interest if c.kind == "interest" else None


def match_key(c: Condition) -> MatchKey:
    """The key of a condition's product phrase in `ItemMatches`: the words, how to match them,
    and the event type (a phrase matches the items of that type's events)."""
    return (" ".join((product_phrase(c) or "").lower().split()), c.match, event_of(c))


def customers_column(event: str) -> str:
    """The `items` column of an event type's distinct customers (the type is one of a fixed set)."""
    if event not in _ITEM_COUNTS:
        raise SpecError(f"unknown event type '{event}'")
    return f"customers_{event}"


def event_of(c: Condition) -> str:
    """The event type a condition is about ("any" for an interest)."""
    return c.event or "any"


class RowFilter:
    """The WHERE clause over `activity a` that picks a condition's (or a measure's) rows.

    Args:
        types: the event types read (None: every type).
        items: the items of its product phrase (None: any product).
        period: its window (None: all time).
    """

    def __init__(self, types: Sequence[str] | None, items: Sequence[int] | None,
                 period: Period | None) -> None:
        self.types, self.items, self.period = types, items, period

    def sql(self, params: list[Any]) -> str:
        """The clause, appending its parameters in order."""
        parts = []
        if self.types is not None:
            params.extend(self.types)
            parts.append(f"a.event_type IN ({', '.join('?' for _ in self.types)})")
        if self.items is not None:
            params.append(list(self.items))
            parts.append("a.item IN (SELECT unnest(CAST(? AS INTEGER[])))")
        if self.period is not None:
            parts.append(window_sql("a.ts", self.period, params))
        return " AND ".join(parts) or "TRUE"


def window_sql(column: str, period: Period, params: list[Any]) -> str:
    """`column` inside the period ([start, end))."""
    if period.start is None:
        params.append(period.end)
        return f"{column} < ?"
    params.extend((period.start, period.end))
    return f"{column} >= ? AND {column} < ?"


def condition_types(event: str, measure: str | None) -> tuple[str, ...] | None:
    """The event types an events condition reads.

    Spend and units of purchases are net of returns: they read purchase and return rows, as the
    customer's revenue does. Orders are placed by purchases (or, for returns, by return rows).

    Raises:
        SpecError: money or orders of event types that carry none (views, searches, carts).
    """
    if measure in _MONEY or measure == "orders":
        if event in ("view", "search", "cart"):
            raise SpecError(f"{measure} counts purchases and returns, not {event} events")
        if event == "return":
            return ("return",)
        return ("purchase", "return") if measure in _MONEY else ("purchase",)
    return None if event == "any" else (event,)


def measure_expr(measure: str, event: str) -> str:
    """What a threshold counts over the rows `a`; refunds and returned units count positive."""
    expr = _MEASURES[measure]
    return f"-{expr}" if event == "return" and measure in _MONEY else expr


def threshold_values(c: Condition) -> list[float]:
    """The numbers of an events threshold.

    Raises:
        SpecError: a value that is not a finite number.
    """
    values = c.value if isinstance(c.value, list) else [c.value]
    for v in values:
        if not (isinstance(v, int | float) and math.isfinite(v)):
            raise SpecError(f"an events threshold needs a number, not {v!r}")
    return [float(v) for v in values if isinstance(v, int | float)]


def passes_zero(op: str, values: Sequence[float]) -> bool:
    """Whether a customer with no such events (0) passes the threshold ("spent less than 100")."""
    if op == "between":
        return values[0] <= 0 <= values[1]
    if op == "in":
        return 0 in values
    return _OPS[op](0.0, values[0])


def events_sql(c: Condition, period: Period | None, matches: ItemMatches, params: list[Any]) -> str:
    """The predicate on `users u` of an events (or interest) condition, without its negation.

    With no threshold, the customer has at least one matching event. With one, the customer's
    measure over the matching events passes it, a customer without such events counting 0: when 0
    passes ("spent less than 100"), the customers who fail are excluded instead of the passers
    selected, so those with no events are in.

    Raises:
        SpecError: a threshold on something the event type does not carry.
    """
    event = event_of(c)
    phrase = product_phrase(c)
    items = None if phrase is None else list(matches.get(match_key(c), ()))
    rows = RowFilter(condition_types(event, c.measure), items, period)
    where = rows.sql(params)
    select = f"SELECT a.uid FROM activity a WHERE {where} GROUP BY a.uid"
    if c.op is None or c.measure is None:
        return f"u.user_id IN ({customers(select)})"
    values = threshold_values(c)
    expr = measure_expr(c.measure, event)
    if c.measure == "orders":  # distinct orders per customer, counted in two steps (quicker)
        select = (f"SELECT a.uid FROM (SELECT a.uid, a.order_key, count(*) AS n FROM activity a "
                  f"WHERE {where} GROUP BY a.uid, a.order_key) a GROUP BY a.uid")
        expr = ("(count(*) FILTER (WHERE a.order_key IS NOT NULL) "
                "+ coalesce(sum(a.n) FILTER (WHERE a.order_key IS NULL), 0))")
    if c.op == "between":
        test = f"{expr} BETWEEN ? AND ?"
    elif c.op == "in":
        test = f"{expr} IN ({', '.join('?' for _ in values)})"
    else:
        test = f"{expr} {c.op} ?"
    params.extend(values)
    if passes_zero(c.op, values):
        return f"u.user_id NOT IN ({customers(f'{select} HAVING NOT ({test})')})"
    return f"u.user_id IN ({customers(f'{select} HAVING {test}')})"


def rank_sql(c: Condition, period: Period | None, matches: ItemMatches, params: list[Any]) -> str:
    """A customer's measure over an events condition's events, as an expression on `users u`
    (0 for a customer without any): what a spec's `rank_by` orders the customers by."""
    event = event_of(c)
    phrase = product_phrase(c)
    items = None if phrase is None else list(matches.get(match_key(c), ()))
    where = RowFilter(condition_types(event, c.measure), items, period).sql(params)
    return (f"coalesce((SELECT {measure_expr(c.measure or 'events', event)} FROM activity a "
            f"WHERE {where} AND a.uid = (SELECT k.uid FROM customer_keys k "
            "WHERE k.user_id = u.user_id)), 0)")


def customers(uids: str) -> str:
    """The user ids of a query of `activity.uid`s."""
    return f"SELECT k.user_id FROM customer_keys k WHERE k.uid IN ({uids})"


def matched_products_sql(c: Condition, period: Period | None, items: Sequence[int],
                         params: list[Any]) -> str:
    """Each matched item with its distinct customers among the condition's own events (its event
    type, its window), most customers first."""
    event = event_of(c)
    if period is None:  # all time: the counts kept with each item (agent/ingest/activity.py)
        params.append(list(items))
        column = customers_column(event)
        return (f"SELECT item, product_id, text, {column} FROM items "
                f"WHERE item IN (SELECT unnest(CAST(? AS INTEGER[]))) AND {column} > 0 "
                f"ORDER BY {column} DESC, text, item")
    rows = RowFilter(None if event == "any" else (event,), items, period).sql(params)
    return ("SELECT i.item, i.product_id, i.text, count(DISTINCT a.uid) AS customers "
            f"FROM activity a JOIN items i ON i.item = a.item WHERE {rows} "
            "GROUP BY ALL ORDER BY customers DESC, i.text, i.item")


def evidence_sql(c: Condition, period: Period | None, items: Sequence[int] | None,
                 params: list[Any], *, ranked: bool = False) -> str:
    """Per customer of a list (the last parameter, appended by the caller), the evidence of an
    events condition: its latest matching event's time and product, and the threshold's measure
    (or, when `ranked`, the measure the customers are ranked by).

    Columns: user_id, last (timestamp), product (text), measure (NULL without a threshold).
    """
    event = event_of(c)
    own = [] if event == "any" else [event]
    row_params: list[Any] = []
    rows = RowFilter(condition_types(event, c.measure), items, period).sql(row_params)
    mine = f"a.event_type IN ({', '.join('?' for _ in own)})" if own else "TRUE"
    params.extend(own * 2)  # the two FILTERs come first in the text, then the rows' WHERE
    params.extend(row_params)
    shown = c.measure is not None and (c.op is not None or ranked)
    measure = measure_expr(c.measure or "events", event) if shown else "NULL"
    return (f"SELECT k.user_id, max(a.ts) FILTER (WHERE {mine}) AS last, "
            f"arg_max(coalesce(i.text, i.product_id, i.category), a.ts) FILTER (WHERE {mine}) "
            f"AS product, {measure} AS measure "
            "FROM activity a JOIN customer_keys k ON k.uid = a.uid "
            f"LEFT JOIN items i ON i.item = a.item WHERE {rows} "
            "AND a.uid IN (SELECT uid FROM customer_keys WHERE user_id IN "
            "(SELECT unnest(CAST(? AS VARCHAR[])))) GROUP BY k.user_id")
