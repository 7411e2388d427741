"""Recommendations: products to promote to a segment, and to one customer the products tied to
what they bought (docs/cli.md `recommend`, docs/definitions.md "Recommendations").

A segment's products come from its campaign plan (agent/describe/offers.py): the same list its
suggested action, its brief and the web page name, with the reason when the list is empty.

For one customer, only products related to what they bought are offered: a product is related to
one of theirs when customers who bought theirs bought it at least `MIN_RELATED_LIFT` times as
often as the shop does (and two or more did). A typical member gets the products their segment
promotes that are related to their own purchases; a loosely placed member (agent/describe/why.py)
or one in the Unassigned group gets the products most related to their own purchases, and the
document says so. Each item names the customer's product it is related to (`because`).
"""

from __future__ import annotations

import contextlib
import difflib
import math
from typing import Any

import duckdb

from segmint.agent.act.customers import normalise_user_id
from segmint.agent.core.errors import InputError
from segmint.agent.core.records import read_segment, read_segments
from segmint.agent.core.sql import fetch_one
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.offers import (
    DEFAULT_LIMIT,
    MIN_BUYERS,
    MIN_BUYERS_SHARE,
    segment_items,
    segment_plan,
)
from segmint.agent.describe.why import segment_reasons
from segmint.agent.query import catalogue
from segmint.agent.query.glossary import load_glossary

__all__ = ["DEFAULT_LIMIT", "MIN_BUYERS_SHARE", "MIN_RELATED_LIFT", "recommend_segment",
           "recommend_user", "related_items", "resolve_segment", "segment_items"]

MIN_RELATED_LIFT = 1.5
MAX_OWN_PRODUCTS = 50  # a customer's most bought products that relatedness starts from
MAX_CO_BUYERS = 500  # per product of theirs, the co-buyers counted (a deterministic sample)


def resolve_segment(con: duckdb.DuckDBPyConnection, ref: str) -> tuple[str, str]:
    """A segment named by id or by name (case-insensitive; close spellings accepted).

    Returns:
        The segment's id and name.

    Raises:
        InputError: no segment has that id or a name close to it.
    """
    segments = read_segments(con)
    if not segments:
        raise InputError("this workspace has no segments yet", field="--segment", kind="option",
                         fix="run `segmint run` first")
    known = {str(s.id): str(s.name) for s in sorted(segments, key=lambda s: s.id)}
    key = ref.strip()
    if key in known:
        return key, known[key]
    by_name = {n.lower(): i for i, n in known.items()}
    sid = by_name.get(key.lower())
    if sid is None:
        close = difflib.get_close_matches(key.lower(), list(by_name), n=1, cutoff=0.75)
        sid = by_name[close[0]] if close else None
    if sid is None:
        sample = ", ".join(f"{i} ({n})" for i, n in list(known.items())[:8])
        raise InputError(f"no segment '{key}'", field="--segment", kind="option",
                         fix=f"use an id or name from `segmint segments`, e.g. {sample}")
    return sid, known[sid]


def recommend_segment(workspace: Workspace, segment: str, *, limit: int = DEFAULT_LIMIT
                      ) -> dict[str, Any]:
    """The `segmint recommend --segment` document: products to promote to a segment, the goal
    its plan sets, and why the list is empty when it is.

    Raises:
        InputError: unknown segment.
    """
    with contextlib.closing(workspace.reader()) as con:
        sid, name = resolve_segment(con, segment)
        found = read_segment(con, sid)
        shares = found.profile.term_shares if found is not None and found.profile else {}
        size = _segment_size(con, sid)
        plan = segment_plan(con, sid, size, shares, load_glossary(), catalogue(con), limit=limit)
    return {"segment": {"id": sid, "name": name, "size": size}, "user_id": None,
            "items": plan.items, "min_buyers_share": MIN_BUYERS_SHARE, "plan": plan.to_json(),
            "reason": plan.reason or None}


def related_items(con: duckdb.DuckDBPyConnection, user_id: str) -> dict[str, dict[str, Any]]:
    """Products related to what a customer bought (see the module docstring), by product key.

    Each item: product_id, text, because (the customer's product it is most related to),
    buyers_share (of that product's other buyers, the share who also bought it), lift (that share
    over the shop's), buyers, population_share and score (buyers_share x log2 lift); `related`
    repeats buyers, buyers_share and lift (a segment's item keeps its own numbers beside them).
    """
    rows = con.execute(f"""
        WITH bought AS (
            SELECT DISTINCT user_id, coalesce(product_id, text) AS item FROM events
            WHERE event_type = 'purchase' AND coalesce(product_id, text) IS NOT NULL
        ),
        mine AS (  -- their most bought products, each under the text they bought it as most
            SELECT item, sum(n) AS n, first(text ORDER BY n DESC, text) AS own_text FROM (
                SELECT coalesce(product_id, text) AS item, text, count(*) AS n FROM events
                WHERE user_id = ? AND event_type = 'purchase'
                  AND coalesce(product_id, text) IS NOT NULL GROUP BY 1, 2)
            GROUP BY item ORDER BY n DESC, item LIMIT {MAX_OWN_PRODUCTS}
        ),
        owned AS (
            SELECT DISTINCT coalesce(product_id, text) AS item FROM events
            WHERE user_id = ? AND event_type = 'purchase'
        ),
        co AS (  -- for each product of theirs, a deterministic sample of its other buyers
            SELECT b.item AS mine, b.user_id FROM bought b SEMI JOIN mine USING (item)
            WHERE b.user_id <> ?
            QUALIFY row_number() OVER (PARTITION BY b.item ORDER BY hash(b.user_id), b.user_id)
                <= {MAX_CO_BUYERS}
        ),
        co_n AS (SELECT mine, count(*) AS n FROM co GROUP BY 1),
        pairs AS (
            SELECT co.mine, b.item, count(*) AS buyers FROM co JOIN bought b USING (user_id)
            ANTI JOIN owned o ON o.item = b.item GROUP BY 1, 2
        ),
        pop AS (SELECT item, count(*) AS n FROM bought GROUP BY 1),
        total AS (SELECT count(*) AS n FROM users),
        texts AS (
            SELECT item, first(text ORDER BY n DESC, text) AS text, any_value(product_id) AS pid
            FROM (SELECT coalesce(product_id, text) AS item, text, product_id, count(*) AS n
                  FROM events WHERE event_type = 'purchase' AND text IS NOT NULL GROUP BY 1, 2, 3)
            GROUP BY 1
        ),
        scored AS (
            SELECT p.item, p.mine, p.buyers, p.buyers / c.n AS share, pop.n / total.n AS pop_share
            FROM pairs p JOIN co_n c USING (mine) JOIN pop USING (item), total
            WHERE p.buyers >= {MIN_BUYERS}
              AND p.buyers / c.n >= {MIN_RELATED_LIFT} * pop.n / total.n
        )
        SELECT s.item, t.pid, t.text, coalesce(m.own_text, s.mine) AS because, s.buyers, s.share,
               s.pop_share
        FROM scored s LEFT JOIN texts t USING (item) JOIN mine m ON m.item = s.mine
        QUALIFY row_number() OVER (PARTITION BY s.item ORDER BY
                                   s.share * log2(s.share / s.pop_share) DESC, s.mine) = 1
        """, [user_id, user_id, user_id]).fetchall()
    out = {}
    for item, pid, text, because, buyers, share, pop_share in rows:
        lift = float(share) / float(pop_share)
        tie = {"buyers": int(buyers), "buyers_share": round(float(share), 6), "lift": round(lift, 4)}
        out[str(item)] = {
            "product_id": None if pid is None else str(pid), "text": text, "because": because,
            "score": round(float(share) * math.log2(lift), 6), **tie,
            "population_share": round(float(pop_share), 6), "related": tie}
    return out


def recommend_user(workspace: Workspace, user_id: str, *, limit: int = DEFAULT_LIMIT
                   ) -> dict[str, Any]:
    """The `segmint recommend --user` document: products related to what the customer bought
    (see the module docstring), with the basis and, in `note`, why that basis.

    Raises:
        InputError: unknown customer, or a workspace without segments.
    """
    uid = normalise_user_id(user_id)
    with contextlib.closing(workspace.reader()) as con:
        row = fetch_one(con.execute(
            "SELECT segment_id, nearest_segment_id FROM users WHERE user_id = ?", [uid]))
        if row is None:
            raise InputError(f"customer '{user_id}' not found in {workspace.path}", field="--user",
                             kind="option", fix="check the id (ids are compared as text)")
        member = row[0] not in (None, 0)
        seg = row[0] if member else row[1]
        if seg is None:
            raise InputError("this workspace has no segments yet", field="--user", kind="option",
                             fix="run `segmint run` first")
        sid, name = resolve_segment(con, str(seg))
        reason = segment_reasons(con, [uid]).get(uid)
        (bought,) = fetch_one(con.execute(
            "SELECT count(*) FROM events WHERE user_id = ? AND event_type = 'purchase'", [uid])) or (0,)
        related = related_items(con, uid)
        promoted = segment_items(con, sid, limit=None)
        size = _segment_size(con, sid)
    typicality = reason.typicality if reason is not None else 0.0
    loose = not member or (reason is not None and reason.loose)
    items: list[dict[str, Any]] = []
    if not loose:
        keys = [i["product_id"] or i["text"] for i in promoted]
        items = [promoted[k] | {"because": related[key]["because"], "related": related[key]["related"]}
                 for k, key in enumerate(keys) if key in related][:limit]
    basis, note = "segment", f"what “{name}” promotes, among products tied to what they bought"
    if loose or not items:
        items = sorted(related.values(), key=lambda i: (-i["score"], str(i["text"])))[:limit]
        basis = "own history"
        if not member:
            note = f"not placed in a segment (nearest: “{name}”): products tied to what they bought"
        elif loose:
            note = (f"loosely placed in “{name}” (typicality {typicality:.2f}): products tied to "
                    "what they bought, not the segment's")
        else:
            note = f"nothing “{name}” promotes is tied to what they bought: their own history"
    if not bought:
        items, basis = promoted[:limit], "segment"
        note = f"no purchase yet: what “{name}” promotes"
    elif not related:
        note = "no product is tied to what they bought (too few other customers bought the same)"
    return {"segment": {"id": sid, "name": name, "size": size, "via": "member" if member else "nearest"},
            "user_id": uid, "items": items, "min_buyers_share": MIN_BUYERS_SHARE, "basis": basis,
            "typicality": round(typicality, 4), "loosely_placed": loose, "note": note}


def _segment_size(con: duckdb.DuckDBPyConnection, sid: str) -> int:
    (n,) = fetch_one(con.execute(
        "SELECT count(*) FROM users WHERE CAST(segment_id AS VARCHAR) = ?", [sid])) or (0,)
    return int(n)
