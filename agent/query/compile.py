"""Compile a QuerySpec into parameterised SQL (docs/definitions.md "Questions").

Only this package writes SQL for questions, from whitelisted field names and bound parameters; no
text from a question or an LLM is ever placed in SQL. The customers a spec selects are a WHERE
clause over `users u`; conditions on what customers did read `activity a`
(agent/query/_events.py); numbers and tables are built on that clause (agent/query/measures.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from segmint.agent.core.records import read_latest_run
from segmint.agent.core.sql import fetch_one
from segmint.agent.query._events import (
    ItemMatches,
    events_sql,
    match_key,
    product_phrase,
    rank_sql,
    window_sql,
)
from segmint.agent.query.catalogue import Catalogue
from segmint.agent.query.errors import SpecError
from segmint.agent.query.glossary import Glossary, percentile_thresholds
from segmint.agent.query.spec import Condition, QuerySpec, Window
from segmint.agent.query.windows import Period, resolve_window

__all__ = ["CompiledQuery", "SpecError", "compile_spec", "reference_time"]


@dataclass(frozen=True)
class EventsMeasure:
    """A measure's events condition, resolved: its window and matched items.

    Attributes:
        condition: the events condition.
        period: its window, resolved (None: all time).
        items: the items its product phrase matched (None: any product).
    """

    condition: Condition
    period: Period | None
    items: Sequence[int] | None


@dataclass
class CompiledQuery:
    """SQL for the customers a spec selects, its parameters, and what it resolved.

    Attributes:
        where: a predicate on `users u`.
        params: its parameters, in order.
        order: the ORDER BY of the customers.
        order_value: the expression they are ordered by (before the user id that breaks ties).
        order_params: the parameters of `order_value` (a ranking by what customers did), which
            follow `params` wherever the order is used after the WHERE clause.
        descending: the direction of `order_value` (None: ordered by user id alone).
        limit: at most this many customers (None: all).
        thresholds: the percentile thresholds of glossary terms, by (field, percentile).
        averages: per field compared with "average" ("spent more than average"), its mean over
            the customers with an order, as this run of the question read it.
        as_of: the reference time windows were resolved against (None when none was needed).
        events_measure: the measure's events condition, resolved (a spec whose measure has one).
    """

    where: str
    params: list[Any]
    order: str
    limit: int | None
    thresholds: dict[tuple[str, float], float]
    as_of: datetime | None = None
    averages: dict[str, float] = field(default_factory=dict)
    order_value: str = "u.user_id"
    order_params: list[Any] = field(default_factory=list)
    descending: bool | None = None
    events_measure: EventsMeasure | None = None
    _periods: dict[str, Period] = field(default_factory=dict, repr=False)

    def order_of(self, value: str, user_id: str) -> str:
        """The ORDER BY of the customers with `value` standing for `order_value` and `user_id` for
        the id ("u.order__" and "u.user_id" over a table that computed the value once)."""
        if self.descending is None:
            return user_id
        return f"{value} {'DESC' if self.descending else 'ASC'} NULLS LAST, {user_id}"

    def period(self, window: Window) -> Period:
        """The actual period of one of the spec's windows (resolved once, against `as_of`)."""
        key = window.model_dump_json()
        if key not in self._periods:
            if self.as_of is None:
                raise SpecError("this workspace has no reference time yet; run `segmint run` first")
            self._periods[key] = resolve_window(window, self.as_of)
        return self._periods[key]


def reference_time(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The as_of of the workspace's latest run (None before any run)."""
    run = read_latest_run(con)
    return None if run is None else run.as_of


def compile_spec(spec: QuerySpec, cat: Catalogue, glossary: Glossary,
                 con: duckdb.DuckDBPyConnection, matches: ItemMatches | None = None, *,
                 as_of: datetime | None = None) -> CompiledQuery:
    """Turn a validated spec into a WHERE clause over `users u` with bound parameters.

    Args:
        spec: the query.
        cat: what the workspace has (the whitelist of fields, the segments).
        glossary: the business terms the spec may name.
        con: the workspace's connection (percentile thresholds and as_of are read from it).
        matches: the items each product phrase matched (agent/ask/_matches.py), by
            `match_key`; a phrase without an entry matches nothing.
        as_of: the reference time windows resolve against (default: the latest run's).

    Raises:
        SpecError: unknown field, term or segment; a window after the data; an events condition
            on a workspace built before event questions.
    """
    pairs = {(f.field, f.percentile) for group in spec.any_of for c in group
             if c.kind == "term" and c.term in glossary.terms
             for f in glossary.terms[c.term].filters if f.percentile is not None}
    thresholds = percentile_thresholds(con, pairs)
    conditions = spec.conditions()
    needs_time = any(c.window is not None for c in conditions) or (
        spec.measure is not None and spec.measure.window is not None) or spec.group_by in PERIODS
    compiled = CompiledQuery("TRUE", [], "u.user_id", spec.limit, thresholds,
                             (as_of or reference_time(con)) if needs_time else None,
                             averages=_averages(spec, cat, con))
    if any(c.kind in ("events", "interest") for c in conditions):
        require_activity(con)
    params: list[Any] = []
    groups = []
    for group in spec.any_of:
        parts = [_condition_sql(c, cat, glossary, compiled, matches or {}, params) for c in group]
        groups.append("(" + " AND ".join(parts) + ")" if parts else "TRUE")
    compiled.where = " OR ".join(groups) if groups else "TRUE"
    compiled.params = params
    # "value" orders a table's rows (or ranks groups) by their number, not the customers.
    by_value = spec.sort_by == "value" and (spec.group_by is not None or spec.measure is not None)
    if spec.measure is not None and spec.measure.events is not None:
        e = spec.measure.events
        # a phrase that matched nothing sums nothing (as `rank_sql` ranks by nothing)
        items = None if product_phrase(e) is None else list((matches or {}).get(match_key(e), ()))
        compiled.events_measure = EventsMeasure(
            e, None if e.window is None else compiled.period(e.window), items)
    if spec.rank_by is not None:
        r = spec.rank_by
        period = None if r.window is None else compiled.period(r.window)
        compiled.order_value = rank_sql(r, period, matches or {}, compiled.order_params)
    elif spec.sort_by is not None and not by_value:
        if spec.sort_by not in cat.numeric:
            raise SpecError(f"cannot sort by '{spec.sort_by}'")
        compiled.order_value = f'u."{spec.sort_by}"'
    if compiled.order_value != "u.user_id":
        compiled.descending = spec.descending
        compiled.order = compiled.order_of(compiled.order_value, "u.user_id")
    return compiled


# Calendar periods of the events a table may be grouped by (agent/query/measures.py).
# "weekday" and "hour" are cycles, not periods: every Monday (or every 14:00) of the window is one group.
PERIODS = ("week", "month", "quarter", "year", "weekday", "hour")


def require_activity(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse event questions on a workspace built before `activity` existed.

    Raises:
        SpecError: no `activity` table.
    """
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'activity'").fetchall():
        raise SpecError("this workspace was built before questions about events; "
                        "run `segmint run` again to answer them")


def _condition_sql(c: Condition, cat: Catalogue, glossary: Glossary, compiled: CompiledQuery,
                   matches: ItemMatches, params: list[Any]) -> str:
    if c.kind == "term":
        term = glossary.terms.get(c.term or "")
        if term is None:
            raise SpecError(f"unknown term '{c.term}'")
        parts = []
        for f in term.filters:
            value = f.value if f.percentile is None else compiled.thresholds[(f.field, f.percentile)]
            params.append(value)
            parts.append(f'coalesce(u."{_numeric(f.field, cat)}" {f.op} ?, false)')
        sql = "(" + " AND ".join(parts) + ")"
    elif c.kind == "field":
        sql = _field_sql(c.model_copy(update={"value": compiled.averages[c.field or ""]})
                         if c.value == AVERAGE else c, cat, params)
    elif c.kind in ("events", "interest"):
        period = None if c.window is None else compiled.period(c.window)
        sql = events_sql(c, period, matches, params)
    elif c.kind == "cohort" and c.window is not None:  # a cohort always has one (Condition)
        column = "u.first_purchase" if c.cohort == "first_purchase" else "u.last_purchase"
        sql = f"coalesce({window_sql(column, compiled.period(c.window), params)}, false)"
    else:  # segment
        if not cat.has_segments:
            raise SpecError("this workspace has no segments yet")
        if c.segment not in cat.segments:
            raise SpecError(f"unknown segment '{c.segment}'")
        params.append(c.segment)
        sql = "coalesce(CAST(u.segment_id AS VARCHAR) = ?, false)"
    return f"NOT ({sql})" if c.negate else sql


def _field_sql(c: Condition, cat: Catalogue, params: list[Any]) -> str:
    name = c.field or ""
    if name not in cat.fields:
        raise SpecError(f"unknown field '{name}'")
    col = f'u."{name}"'
    numeric = name in cat.numeric
    values: list[Any] = list(c.value) if isinstance(c.value, list) else [c.value]
    for v in values:
        if numeric and not (isinstance(v, int | float) and math.isfinite(v)):
            raise SpecError(f"'{name}' needs a number, not {v!r}")
    if not numeric:
        col = f"lower({col})"
        values = [str(v).lower() for v in values]
    if c.op == "between":
        params.extend(values)
        return f"coalesce({col} BETWEEN ? AND ?, false)"
    if c.op == "in":
        params.extend(values)
        return f"coalesce({col} IN ({', '.join('?' for _ in values)}), false)"
    params.append(values[0])
    return f"coalesce({col} {c.op} ?, false)"


# A field compared with this value is compared with its mean ("spent more than average").
AVERAGE = "average"
# Per-order ratios, averaged over customers as their total over their orders (the shop's average
# order value is its revenue over its orders; docs/definitions.md "Customer features"): field ->
# the users column divided by orders.
POOLED = {"aov": "revenue", "units_per_order": "units"}


def _averages(spec: QuerySpec, cat: Catalogue, con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """The mean of every field a condition compares with "average", over the customers with an
    order (as the glossary's percentiles are; docs/definitions.md "Numbers and tables")."""
    names = sorted({_numeric(c.field or "", cat) for g in spec.any_of for c in g
                    if c.kind == "field" and c.value == AVERAGE})
    if not names:
        return {}
    means = [f'sum("{POOLED[n]}") / nullif(sum(orders), 0)' if n in POOLED else f'avg("{n}")'
             for n in names]
    row = fetch_one(con.execute("SELECT " + ", ".join(means) + " FROM users WHERE orders >= 1"))
    return {n: float("nan") if v is None else round(float(v), 6)
            for n, v in zip(names, row or [None] * len(names), strict=True)}


def _numeric(name: str, cat: Catalogue) -> str:
    if name not in cat.numeric:
        raise SpecError(f"unknown numeric field '{name}'")
    return name
