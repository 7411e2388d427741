"""Segment profiles: the facts a marketer needs per segment, computed in DuckDB.

Every number a description may use comes from here, so the verifier can check text against it.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from segmint.agent.core.records import SegmentProfile
from segmint.agent.llm.privacy import MIN_TEXT_CUSTOMERS, MIN_VALUE_CUSTOMERS
from segmint.agent.query import Catalogue, Condition, QuerySpec, compile_spec
from segmint.agent.query.glossary import Glossary

# Terms whose share per segment is part of the facts (docs/definitions.md names).
PROFILE_TERMS = ("lapsed", "at_risk", "new_customers", "one_time_buyers", "high_spenders",
                 "low_spenders", "active", "frequent")
STAT_FIELDS = ("recency_days", "orders", "revenue", "aov")
MIN_ITEM_SHARE = 0.05  # an item must be bought by at least 5% of members to count as "theirs"
TOKEN_STOP = frozenset("""
and the for with set of in to a an on by from de x cm mm pack pcs size new style this that
your you our it its is are be or as at vintage
""".split())


def profile_segments(
    con: duckdb.DuckDBPyConnection,
    glossary: Glossary,
    cat: Catalogue,
    *,
    representatives: dict[str, list[str]] | None = None,
    top_n: int = 5,
    terms: dict[str, list[str]] | None = None,
    products: dict[str, list[dict[str, Any]]] | None = None,
) -> list[SegmentProfile]:
    """Profile every segment in `users.segment_id`.

    Args:
        con: a workspace connection whose `users` table has a `segment_id` column.
        glossary: for the term shares.
        cat: the field catalogue (attributes to profile).
        representatives: per segment, customers nearest its centre (from the clusterer); when
            absent, members with the highest `membership` are used if that column exists.
        top_n: how many categories, products, terms and attribute values to keep.
        terms: per segment, its distinctive phrases (agent/describe/phrases.py); a segment
            without any gets the words of c-TF-IDF over its texts instead.
        products: per segment, the products it is promoted (agent/describe/offers.py
            `items_by_segment`), so its profile lists the same products, in the same order;
            without them, products by lift.

    Returns:
        One profile per segment, largest first.
    """
    base = _base_stats(con)
    shares = _term_shares(con, glossary, cat)
    cats = _item_lift(con, "category", "category", top_n)
    if products is None:
        bought = _item_lift(con, "product_id", "product_id", top_n, purchases_only=True)
    else:
        bought = {seg: [{"product_id": i["product_id"], "buyers": i["buyers"],
                         "share": round(i["buyers_share"], 4), "lift": round(i["lift"], 2),
                         "text": i["text"], "text_customers": i["text_customers"]}
                        for i in items[:top_n]] for seg, items in products.items()}
    # c-TF-IDF words only where a segment has no phrases of what its members bought.
    words = distinctive_terms(con, top_n * 2) if set(base) - set(terms or {}) else {}
    attrs = {a: _attribute_lift(con, a, top_n) for a in cat.text if a != "top_category"}
    reps = representatives or _representatives(con)
    profiles = []
    for seg, stats in base.items():
        profiles.append(SegmentProfile(
            id=seg, size=stats["size"], share=stats["share"], revenue_share=stats["revenue_share"],
            median={f: stats[f"median_{f}"] for f in STAT_FIELDS},
            mean={f: stats[f"mean_{f}"] for f in STAT_FIELDS},
            term_shares=shares.get(seg, {}),
            top_categories=cats.get(seg, []), top_products=bought.get(seg, []),
            top_terms=(terms or {}).get(seg) or words.get(seg, []),
            representatives=reps.get(seg, [])[:5],
            attributes={a: v.get(seg, []) for a, v in attrs.items() if v.get(seg)},
        ))
    return sorted(profiles, key=lambda p: (-p.size, p.id))


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
          ) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _clean(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), 6)


def _base_stats(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    stats = ", ".join(
        f"median({f}) AS median_{f}, avg({f}) AS mean_{f}" for f in STAT_FIELDS
    )
    rows = _rows(con, f"""
        SELECT CAST(segment_id AS VARCHAR) AS seg, count(*) AS size,
               count(*) / sum(count(*)) OVER () AS share,
               sum(revenue) / nullif(sum(sum(revenue)) OVER (), 0) AS revenue_share, {stats}
        FROM users WHERE segment_id IS NOT NULL GROUP BY 1""")
    return {r["seg"]: {k: (_clean(v) if k not in ("seg", "size") else v) for k, v in r.items()}
            | {"size": int(r["size"])} for r in rows}


def _term_shares(con: duckdb.DuckDBPyConnection, glossary: Glossary, cat: Catalogue
                 ) -> dict[str, dict[str, float]]:
    exprs, params = [], []
    keys = [k for k in PROFILE_TERMS if k in glossary.terms]
    for key in keys:
        compiled = compile_spec(QuerySpec(any_of=[[Condition(kind="term", term=key)]]), cat,
                                glossary, con)
        exprs.append(f"avg(CASE WHEN {compiled.where} THEN 1.0 ELSE 0.0 END) AS \"{key}\"")
        params.extend(compiled.params)
    if not exprs:
        return {}
    rows = _rows(con, f"SELECT CAST(segment_id AS VARCHAR) AS seg, {', '.join(exprs)} "
                      "FROM users u WHERE segment_id IS NOT NULL GROUP BY 1", params)
    return {r["seg"]: {k: round(float(r[k]), 4) for k in keys} for r in rows}


def _item_lift(con: duckdb.DuckDBPyConnection, column: str, label: str, top_n: int, *,
               purchases_only: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Items members engage with unusually often: share of members, and lift over all customers."""
    where = "e.event_type = 'purchase'" if purchases_only else "TRUE"
    rows = _rows(con, f"""
        WITH members AS (
            SELECT user_id, CAST(segment_id AS VARCHAR) AS seg FROM users
            WHERE segment_id IS NOT NULL
        ),
        sizes AS (SELECT seg, count(*) AS n FROM members GROUP BY seg),
        total AS (SELECT count(*) AS n FROM members),
        touched AS (
            SELECT DISTINCT e.user_id, e.{column} AS item FROM events e
            WHERE e.{column} IS NOT NULL AND {where}
        ),
        per_seg AS (
            SELECT m.seg, t.item, count(*) AS buyers FROM touched t JOIN members m USING (user_id)
            GROUP BY 1, 2
        ),
        overall AS (SELECT item, sum(buyers) AS buyers FROM per_seg GROUP BY item),
        text_counts AS (
            SELECT {column} AS item, text, count(*) AS n FROM events
            WHERE {column} IS NOT NULL AND text IS NOT NULL GROUP BY 1, 2
        ),
        text_holders AS (  -- how many customers share a text: a prompt shows it only if enough do
            SELECT text, count(DISTINCT user_id) AS customers FROM events
            WHERE text IS NOT NULL GROUP BY 1
        ),
        texts AS (  -- the most frequent text of an item; ties go to the first in sort order
            SELECT item, text, h.customers AS text_customers
            FROM text_counts JOIN text_holders h USING (text)
            QUALIFY row_number() OVER (PARTITION BY item ORDER BY n DESC, text) = 1
        )
        SELECT p.seg, p.item, texts.text, texts.text_customers, p.buyers, p.buyers / s.n AS share,
               (p.buyers / s.n) / (o.buyers / total.n) AS lift
        FROM per_seg p JOIN sizes s USING (seg) JOIN overall o USING (item)
        LEFT JOIN texts USING (item), total
        WHERE p.buyers / s.n >= {MIN_ITEM_SHARE} AND p.buyers >= 2
        QUALIFY row_number() OVER (PARTITION BY p.seg ORDER BY round(lift, 1) DESC, share DESC, p.item)
            <= {top_n}
        ORDER BY p.seg, lift DESC, share DESC, p.item""")
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        item = {label: r["item"], "buyers": int(r["buyers"]), "share": round(r["share"], 4),
                "lift": round(r["lift"], 2)}
        if column == "product_id":
            item["text"] = r["text"]
            item["text_customers"] = int(r["text_customers"] or 0)
        out.setdefault(r["seg"], []).append(item)
    return out


def distinctive_terms(con: duckdb.DuckDBPyConnection, top_n: int) -> dict[str, list[str]]:
    """c-TF-IDF over each segment's texts: words frequent in the segment and rare elsewhere.

    A word counts only when at least MIN_TEXT_CUSTOMERS members used it: a word one customer typed
    (a name in a search) is personal, not a trait of the segment (docs/definitions.md, privacy).
    """
    stop = ", ".join(f"'{w}'" for w in sorted(TOKEN_STOP))
    rows = _rows(con, f"""
        WITH docs AS (
            SELECT DISTINCT e.user_id, e.text, CAST(u.segment_id AS VARCHAR) AS seg
            FROM events e JOIN users u USING (user_id)
            WHERE e.text IS NOT NULL AND u.segment_id IS NOT NULL
        ),
        tokens AS (
            SELECT seg, user_id,
                   unnest(regexp_split_to_array(lower(text), '[^a-z]+')) AS tok FROM docs
        ),
        counts AS (
            SELECT seg, tok, count(*) AS tf, count(DISTINCT user_id) AS users FROM tokens
            WHERE length(tok) >= 3 AND tok NOT IN ({stop}) GROUP BY 1, 2
        ),
        per_class AS (SELECT seg, sum(tf) AS words FROM counts GROUP BY seg),
        freq AS (SELECT tok, sum(tf) AS f FROM counts GROUP BY tok),
        avg_words AS (SELECT avg(words) AS a FROM per_class)
        SELECT c.seg, c.tok,
               (c.tf / p.words) * ln(1 + avg_words.a / freq.f) AS score
        FROM counts c JOIN per_class p USING (seg) JOIN freq USING (tok), avg_words
        WHERE c.tf >= 2 AND c.users >= {MIN_TEXT_CUSTOMERS}
        QUALIFY row_number() OVER (PARTITION BY c.seg ORDER BY score DESC, c.tok) <= {top_n}
        ORDER BY c.seg, score DESC, c.tok""")
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["seg"], []).append(r["tok"])
    return out


def _attribute_lift(con: duckdb.DuckDBPyConnection, attribute: str, top_n: int
                    ) -> dict[str, list[dict[str, Any]]]:
    """Attribute values over-represented in each segment, most over-represented first; only values
    at least MIN_VALUE_CUSTOMERS customers hold (a one-customer country is no trait of a group)."""
    col = f'"{attribute}"'
    rows = _rows(con, f"""
        WITH known AS (
            SELECT CAST(segment_id AS VARCHAR) AS seg, {col} AS value FROM users
            WHERE segment_id IS NOT NULL AND {col} IS NOT NULL
        ),
        seg_n AS (SELECT seg, count(*) AS n FROM known GROUP BY seg),
        pop AS (SELECT value, count(*) AS holders, count(*) / (SELECT count(*) FROM known) AS share
                FROM known GROUP BY 1)
        SELECT k.seg, k.value, any_value(pop.holders) AS customers, count(*) / any_value(s.n) AS share,
               (count(*) / any_value(s.n)) / any_value(pop.share) AS lift
        FROM known k JOIN seg_n s USING (seg) JOIN pop USING (value)
        WHERE pop.holders >= {MIN_VALUE_CUSTOMERS}
        GROUP BY k.seg, k.value
        QUALIFY row_number() OVER (PARTITION BY k.seg ORDER BY lift DESC, k.value) <= {top_n}
        ORDER BY k.seg, lift DESC, k.value""")
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["seg"], []).append(
            {"value": r["value"], "share": round(r["share"], 4), "lift": round(r["lift"], 2),
             "customers": int(r["customers"])})
    return out


def _representatives(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    cols = {r[0] for r in con.execute("DESCRIBE users").fetchall()}
    order = "membership DESC, user_id" if "membership" in cols else "revenue DESC, user_id"
    rows = con.execute(f"""
        SELECT CAST(segment_id AS VARCHAR), user_id FROM users WHERE segment_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY segment_id ORDER BY {order}) <= 5
        ORDER BY 1, {order}""").fetchall()
    out: dict[str, list[str]] = {}
    for seg, uid in rows:
        out.setdefault(seg, []).append(uid)
    return out
