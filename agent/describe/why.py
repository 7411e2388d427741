"""Why a customer is where they are, in plain words: the reason every list and answer carries
(docs/definitions.md "Why").

`describe_customer` states what the customer's numbers are (revenue, orders, last order, risk);
`segment_reasons` adds why their segment fits them: the products they bought that contain the
segment's phrases ("bought HOT WATER BOTTLE TEA AND SYMPATHY ×3, CHOCOLATE HOT WATER BOTTLE"), how
typical they are of it, and "loosely placed" below `LOOSE`; customers whose purchases contain none
of its phrases are named with what they bought most, and that is said too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from segmint.agent.core.records import Segment, read_segments
from segmint.agent.core.schema import SEGMENT_EVIDENCE
from segmint.agent.core.sql import table_names
from segmint.agent.describe.phrases import normalise, words_sql

__all__ = ["LOOSE", "MAX_PRODUCTS", "Reason", "describe_customer", "money", "segment_reasons",
           "write_segment_evidence"]

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

    Reads the run's `segment_evidence` rows (`write_segment_evidence`); a workspace written
    before that table existed gets the same evidence computed from its events.

    Args:
        con: a workspace connection with `users`, `events` and named `segments`.
        user_ids: the customers (ids as stored).

    Returns:
        Per customer id found in `users`, the reason.
    """
    tables = table_names(con)
    stored = SEGMENT_EVIDENCE.name in tables
    # With stored evidence only the names and kinds are read: parsing every segment's profile
    # was most of a cold export's reasons (bench/RESULTS.md "Cold start").
    profiles: list[Segment] = []
    if not stored:
        profiles = read_segments(con)
        segments = {str(s.id): (str(s.name), s.kind) for s in profiles}
    elif "segments" in tables:
        segments = {str(sid): (str(name), str(kind)) for sid, name, kind in con.execute(
            "SELECT segment_id, name, kind FROM segments").fetchall()}
    else:
        segments = {}
    people = con.execute("""
        SELECT u.user_id, CAST(coalesce(u.segment_id, 0) AS VARCHAR),
               CAST(u.nearest_segment_id AS VARCHAR), coalesce(u.membership, 0)
        FROM users u WHERE u.user_id IN (SELECT unnest(?::VARCHAR[]))""", [user_ids]).fetchall()
    if stored:
        rows = con.execute(f"SELECT user_id, products, matched FROM {SEGMENT_EVIDENCE.name} "
                           "WHERE user_id IN (SELECT unnest(?::VARCHAR[]))", [user_ids]).fetchall()
    else:
        # A temp table of the ids, not a bound list: joined twice, the list is unnested twice and
        # the plan takes half again as long (measured on Online Retail, every customer).
        ids = f"_segmint_why_{uuid.uuid4().hex[:8]}"
        con.execute(f"CREATE TEMP TABLE {ids} AS SELECT unnest(?::VARCHAR[]) AS user_id", [user_ids])
        try:
            rows = con.execute(_evidence_sql(f"SEMI JOIN {ids} USING (user_id)", from_activity=False),
                               _term_lists(profiles)).fetchall()
        finally:
            con.execute(f"DROP TABLE {ids}")
    products: dict[str, list[tuple[str, int, bool]]] = {}
    matched: dict[str, bool] = {}
    for uid, firsts, any_match in rows:
        products[str(uid)] = [(str(p["text"]), int(p["times"]), bool(p["matched"])) for p in firsts]
        matched[str(uid)] = bool(any_match)
    out = {}
    for uid, sid, nearest, typicality in people:
        seg = segments.get(sid)
        shown = segments.get(nearest) if sid == "0" else seg
        any_match = matched.get(str(uid), False)
        # With a match, only the matching products are evidence; without, what they bought most.
        kept = [(t, n) for t, n, m in products.get(str(uid), []) if m or not any_match]
        out[str(uid)] = Reason(sid, shown[0] if shown else str(nearest), seg[1] if seg else "unassigned",
                               float(typicality), kept, any_match)
    return out


def write_segment_evidence(con: duckdb.DuckDBPyConnection) -> None:
    """Write `segment_evidence`: every customer's first products by how well they say the
    customer's segment, what `segment_reasons` reads (run after the segments are named).

    Args:
        con: the run's connection with `users`, `activity`, `items` and named `segments`.
    """
    SEGMENT_EVIDENCE.create(con)
    con.execute(f"INSERT INTO {SEGMENT_EVIDENCE.name} {_evidence_sql('', from_activity=True)}",
                _term_lists(read_segments(con)))


def _term_lists(segments: Iterable[Segment]) -> list[list[Any]]:
    """The segments' phrases as the three bound lists of `_evidence_sql`'s `terms`."""
    terms = [(str(s.id), rank, normalise(t)) for s in segments
             for rank, t in enumerate((s.profile.top_terms if s.profile else [])[:TERMS_PER_SEGMENT])]
    return [[t[0] for t in terms], [t[1] for t in terms], [t[2] for t in terms]]


# What each customer bought, keyed by `cust`: (cust, text, times bought = distinct orders).
# From `activity` (integer keys; every customer, as the run writes it): 6.8 s against 12.5 s for
# grouping the events by their text ids, on the 1M-customer sample shop; from `events`, for the
# few customers of a workspace written before `segment_evidence` (tests/describe/test_why.py
# checks that both give the same rows).
_BOUGHT_FROM_ACTIVITY = """
        bought AS (
            SELECT a.uid AS cust, i.text,
                   count(DISTINCT CASE WHEN a.order_key IS NULL THEN epoch_us(a.ts)
                                       ELSE -a.order_key END) AS times
            FROM activity a JOIN items i USING (item)
            WHERE a.event_type = 'purchase' AND i.text IS NOT NULL AND i.customers_purchase > 0
            GROUP BY 1, 2
        )"""
_BOUGHT_FROM_EVENTS = """
        bought AS (
            SELECT e.user_id AS cust, e.text,
                   count(DISTINCT coalesce(e.order_id, CAST(e.ts AS VARCHAR))) AS times
            FROM events e SEMI JOIN who ON who.cust = e.user_id
            WHERE e.event_type = 'purchase' AND e.text IS NOT NULL GROUP BY 1, 2
        )"""


def _evidence_sql(who: str, *, from_activity: bool) -> str:
    """SQL: per customer of `users` (filtered by `who`) with a purchase that has a text, their first
    `MAX_PRODUCTS` products by (rank of the first segment phrase they contain, times bought, text),
    each with whether it contains one, and whether any does. Binds the three `_term_lists`, then
    whatever `who` binds. The Unassigned are judged against their nearest segment."""
    keyed = ("JOIN customer_keys k USING (user_id)", "k.uid") if from_activity else ("", "u.user_id")
    return f"""
        WITH terms AS (
            SELECT unnest(?::VARCHAR[]) AS seg, unnest(?::BIGINT[]) AS rank,
                   unnest(?::VARCHAR[]) AS key
        ),
        who AS (
            SELECT {keyed[1]} AS cust, u.user_id, CAST(CASE WHEN coalesce(u.segment_id, 0) = 0
                   THEN u.nearest_segment_id ELSE u.segment_id END AS VARCHAR) AS seg
            FROM users u {keyed[0]} {who}
        ),{_BOUGHT_FROM_ACTIVITY if from_activity else _BOUGHT_FROM_EVENTS},
        words AS (
            SELECT text, {words_sql("text")} AS w FROM (SELECT DISTINCT text FROM bought)
        ),
        ranked AS (
            SELECT b.cust, b.text, b.times,
                   min(t.rank) FILTER (WHERE contains(ws.w, ' ' || t.key || ' ')) AS rank
            FROM bought b JOIN who USING (cust) JOIN words ws USING (text)
            LEFT JOIN terms t ON t.seg = who.seg
            GROUP BY 1, 2, 3
        )
        -- each customer's first products in one aggregate: a third quicker than a window over
        -- all their products
        SELECT any_value(who.user_id) AS user_id,
               min_by({{'text': r.text, 'times': r.times, 'matched': r.rank IS NOT NULL}},
                      row(coalesce(r.rank, {1 << 30}), -r.times, r.text), {MAX_PRODUCTS}) AS products,
               bool_or(r.rank IS NOT NULL) AS matched
        FROM ranked r JOIN who USING (cust) GROUP BY r.cust"""
