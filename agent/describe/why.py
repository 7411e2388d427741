"""Why a customer is where they are, in plain words: the reason every list and answer carries
(docs/definitions.md "Why").

`describe_customer` states what the customer's numbers are (revenue, orders, last order, risk);
`segment_reasons` adds why their segment fits them: the products they bought that contain the
segment's phrases ("bought HOT WATER BOTTLE TEA AND SYMPATHY ×3, CHOCOLATE HOT WATER BOTTLE"), how
typical they are of it, and "loosely placed" below `LOOSE`; customers whose purchases contain none
of its phrases are named with what they bought most, and that is said too.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import duckdb

from segmint.agent.core.sql import table_names
from segmint.agent.describe.phrases import normalise, words_sql

__all__ = ["LOOSE", "MAX_PRODUCTS", "Reason", "describe_customer", "money", "segment_reasons"]

LOOSE = 0.1  # typicality below which a member is "loosely placed" (the least typical tenth)
MAX_PRODUCTS = 3
MAX_TEXT_CHARS = 80
TERMS_PER_SEGMENT = 10


def money(value: float, currency: str = "") -> str:
    """An amount as every text shows it: '£3,120.00', '-£1,126.00', never '£-0.00'."""
    # A sum of sales and refunds that cancel can land a hair below zero (float order).
    shown = 0.0 if abs(value) < 0.005 else value
    return f"{'-' if shown < 0 else ''}{currency}{abs(shown):,.2f}"


def describe_customer(features: dict[str, Any], currency: str = "", *,
                      reason: Reason | None = None) -> str:
    """A short reason in plain words, e.g. 'revenue £3,120.00, 12 orders, last order 142 days ago'.

    Args:
        features: the customer's users-table row (revenue, orders, recency_days, ...).
        currency: symbol for money.
        reason: why their segment fits them (`segment_reasons`), appended after a semicolon.
    """
    parts = []
    revenue = features.get("revenue")
    if revenue is not None:
        parts.append(f"revenue {money(revenue, currency)}")
    orders = features.get("orders") or 0
    parts.append(f"{orders} order{'s' if orders != 1 else ''}")
    recency = features.get("recency_days")
    if recency is not None:
        parts.append(f"last order {recency} day{'s' if recency != 1 else ''} ago")
    elif features.get("n_events"):
        parts.append(f"no purchase yet, {features['n_events']} events")
    if features.get("risk_reason"):  # only risky customers have one (agent/scores/risk.py)
        parts.append(f"risky: {features['risk_reason']}")
    text = ", ".join(parts)
    return f"{text}; {reason.text()}" if reason is not None else text


@dataclass
class Reason:
    """Why a customer's segment fits them.

    Attributes:
        segment_id: their segment (0: Unassigned).
        segment_name: its name (the nearest segment's for the Unassigned).
        kind: the segment's kind (`interest`, `behaviour`, `unassigned`).
        typicality: how typical they are of it (0-1; the share of its core members further out).
        products: (text, times bought) of their purchases, best evidence first.
        matched: whether `products` contain the segment's phrases (else: what they bought most).
    """

    segment_id: str
    segment_name: str
    kind: str
    typicality: float
    products: list[tuple[str, int]] = field(default_factory=list)
    matched: bool = False

    @property
    def loose(self) -> bool:
        """Loosely placed: less typical than `LOOSE`, or nothing bought says the segment."""
        return self.kind != "unassigned" and (self.typicality < LOOSE or (
            self.kind == "interest" and bool(self.products) and not self.matched))

    def bought(self) -> str:
        """Their products in words: 'bought HOT WATER BOTTLE ×3, CHOCOLATE HOT WATER BOTTLE'."""
        shown = [(t if len(t) <= MAX_TEXT_CHARS else t[:MAX_TEXT_CHARS - 1].rstrip() + "…")
                 + (f" ×{n}" if n > 1 else "") for t, n in self.products]
        return "bought " + ", ".join(shown) if shown else "no purchase with a product text"

    def text(self) -> str:
        """The reason in words."""
        name = f"“{self.segment_name}”"
        if self.kind == "unassigned":
            return f"not close enough to any segment (nearest: {name}); {self.bought()}"
        how = "by purchase behaviour, " if self.kind == "behaviour" else ""
        where = f"loosely placed in {name}" if self.loose else f"in {name}"
        text = f"{where} ({how}typicality {self.typicality:.2f}): {self.bought()}"
        if self.kind == "interest" and self.products and not self.matched:
            text += " (none of it contains the segment's phrases)"
        return text

    def to_json(self) -> dict[str, Any]:
        """The reason as facts (`segmint user --json`)."""
        return {"segment_id": self.segment_id, "typicality": round(self.typicality, 4),
                "loosely_placed": self.loose, "matched_segment_phrases": self.matched,
                "products": [{"text": t, "times": n} for t, n in self.products]}


def segment_reasons(con: duckdb.DuckDBPyConnection, user_ids: list[str]) -> dict[str, Reason]:
    """Why each customer's segment fits them (see the module docstring), in one pass.

    Args:
        con: a workspace connection with `users`, `events` and named `segments`.
        user_ids: the customers (ids as stored).

    Returns:
        Per customer id found in `users`, the reason.
    """
    segments = _segment_facts(con)
    terms = [(sid, rank, normalise(t)) for sid, (_, _, top) in segments.items()
             for rank, t in enumerate(top[:TERMS_PER_SEGMENT])]
    name = f"_segmint_why_{uuid.uuid4().hex[:8]}"
    # Temp tables from bound lists, not registered Arrow tables: building those imports pandas
    # through pyarrow, most of a cold `segmint user` (bench/RESULTS.md "Cold start").
    con.execute(f"CREATE TEMP TABLE {name}_ids AS SELECT unnest(?::VARCHAR[]) AS user_id", [user_ids])
    con.execute(f"CREATE TEMP TABLE {name}_terms AS SELECT unnest(?::VARCHAR[]) AS seg, "
                f"unnest(?::BIGINT[]) AS rank, unnest(?::VARCHAR[]) AS key",
                [[t[0] for t in terms], [t[1] for t in terms], [t[2] for t in terms]])
    try:
        people = con.execute(f"""
            SELECT u.user_id, CAST(coalesce(u.segment_id, 0) AS VARCHAR),
                   CAST(u.nearest_segment_id AS VARCHAR), coalesce(u.membership, 0)
            FROM users u SEMI JOIN {name}_ids USING (user_id)""").fetchall()
        rows = con.execute(f"""
            WITH who AS (
                SELECT u.user_id, CAST(CASE WHEN coalesce(u.segment_id, 0) = 0
                       THEN u.nearest_segment_id ELSE u.segment_id END AS VARCHAR) AS seg
                FROM users u SEMI JOIN {name}_ids USING (user_id)
            ),
            bought AS (
                SELECT e.user_id, e.text,
                       count(DISTINCT coalesce(e.order_id, CAST(e.ts AS VARCHAR))) AS times
                FROM events e SEMI JOIN who USING (user_id)
                WHERE e.event_type = 'purchase' AND e.text IS NOT NULL GROUP BY 1, 2
            ),
            words AS (
                SELECT text, {words_sql("text")} AS w FROM (SELECT DISTINCT text FROM bought)
            ),
            ranked AS (
                SELECT b.user_id, b.text, b.times,
                       min(t.rank) FILTER (WHERE contains(ws.w, ' ' || t.key || ' ')) AS rank
                FROM bought b JOIN who USING (user_id) JOIN words ws USING (text)
                LEFT JOIN {name}_terms t ON t.seg = who.seg
                GROUP BY 1, 2, 3
            )
            -- each customer's first products by (term rank, times bought, text): one aggregate,
            -- a third quicker than a window over all their products
            SELECT user_id, min_by(row(text, times, rank IS NOT NULL),
                                   row(coalesce(rank, {1 << 30}), -times, text), {MAX_PRODUCTS}),
                   bool_or(rank IS NOT NULL)
            FROM ranked GROUP BY user_id""").fetchall()
    finally:
        con.execute(f"DROP TABLE {name}_ids")
        con.execute(f"DROP TABLE {name}_terms")
    products: dict[str, list[tuple[str, int, bool, bool]]] = {}
    for uid, firsts, any_match in rows:
        products[str(uid)] = [(str(text), int(times), bool(matched), bool(any_match))
                              for text, times, matched in firsts]
    out = {}
    for uid, sid, nearest, typicality in people:
        seg = segments.get(sid)
        shown = segments.get(nearest) if sid == "0" else seg
        mine = products.get(str(uid), [])
        any_match = bool(mine) and mine[0][3]
        # With a match, only the matching products are evidence; without, what they bought most.
        kept = [(t, n) for t, n, m, _ in mine if m or not any_match]
        out[str(uid)] = Reason(sid, shown[0] if shown else str(nearest), seg[1] if seg else "unassigned",
                               float(typicality), kept, any_match)
    return out


def _segment_facts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str, list[str]]]:
    """Per segment id: its name, kind and top phrases, read without parsing the whole profile
    (decoding every segment's facts was most of a cold export's reasons: bench/RESULTS.md
    "Cold start")."""
    if "segments" not in table_names(con):
        return {}
    rows = con.execute("SELECT segment_id, name, kind, json_extract(facts, '$.top_terms') "
                       "FROM segments").fetchall()
    return {str(sid): (str(name), str(kind), list(json.loads(top)) if top else [])
            for sid, name, kind, top in rows}
