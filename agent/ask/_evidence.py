"""Why each selected customer is in an answer: their snapshot (describe_customer) and the evidence
of what they did that the question asked about ("bought DAIRY MAID TRADITIONAL TEAPOT on
2011-11-05", "spent £1,234.00 in the last 90 days"), as every sample row and export carries it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from segmint.agent.ask._describe import VERBS, money, rank_words
from segmint.agent.ask._matches import ProductMatch
from segmint.agent.describe.why import describe_customer
from segmint.agent.query import CompiledQuery, QuerySpec, event_of, evidence_sql, match_key, product_phrase

__all__ = ["add_reasons"]

_MEASURE_WORDS = {"events": "{} event{}", "orders": "{} order{}", "spend": "spent {}{}",
                  "units": "{} unit{}", "days": "on {} day{}"}


def add_reasons(con: duckdb.DuckDBPyConnection, spec: QuerySpec, compiled: CompiledQuery,
                found: Mapping[tuple[str, str], ProductMatch], rows: list[dict[str, Any]],
                currency: str) -> None:
    """Set `why` on each customer row: the snapshot, then the evidence of each condition it
    passed on events or its first/last purchase (negated conditions have no event to show)."""
    if not rows:
        return
    ids = [str(r["user_id"]) for r in rows]
    evidence: dict[str, list[str]] = {uid: [] for uid in ids}
    conditions = {c.model_dump_json(): c for g in spec.any_of for c in g if not c.negate}
    ranked = None if spec.rank_by is None else spec.rank_by.model_dump_json()
    if spec.rank_by is not None and ranked is not None:
        conditions.setdefault(ranked, spec.rank_by)
    for key, c in conditions.items():
        if c.kind in ("events", "interest"):
            period = None if c.window is None else compiled.period(c.window)
            phrase = product_phrase(c)
            items = None if phrase is None else list(getattr(found.get(match_key(c)), "items", []))
            params: list[Any] = []
            sql = evidence_sql(c, period, items, params, ranked=key == ranked)
            did = VERBS[event_of(c)][0]
            for uid, last, product, measure in con.execute(sql, [*params, ids]).fetchall():
                parts = []
                if key == ranked:  # the number the list is ordered by, named as in the definition
                    shown = (money(float(measure), currency) if c.measure == "spend"
                             else f"{float(measure):,.0f}")
                    evidence[uid].append(f"{rank_words(c, compiled, found)}: {shown}")
                    continue
                if last is not None:
                    parts.append(did.format(product or "something") + f" on {last:%Y-%m-%d}")
                if measure is not None and c.measure is not None:
                    value = float(measure)
                    shown = money(value, currency) if c.measure == "spend" else f"{value:,.0f}"
                    plural = "" if c.measure == "spend" or shown == "1" else "s"
                    parts.append(_MEASURE_WORDS[c.measure].format(shown, plural)
                                 + ("" if period is None else f" {period.phrase}"))
                evidence[uid].append(", ".join(parts))
    cohorts = [c for c in conditions.values() if c.kind == "cohort"]
    for row in rows:
        extra = [e for e in evidence[str(row["user_id"])] if e]
        for c in cohorts:
            when = row.get(c.cohort or "")
            if when is not None:
                extra.append(f"{'first' if c.cohort == 'first_purchase' else 'last'} purchase "
                             f"{when:%Y-%m-%d}")
        row["why"] = "; ".join([describe_customer(row, currency), *extra])
