"""Recommendations: products that sell unusually well in a segment, and for one customer the ones
their segment buys that they have not (docs/cli.md `recommend`).

For a product and a segment:

- `buyers_share`: distinct members who bought the product / members of the segment (all members,
  buyers or not), so it is the true share of the segment that bought it;
- `population_share`: the same over every customer of the shop;
- `lift`: buyers_share / population_share (how much more the segment buys it than the shop);
- `score`: buyers_share x log2(lift): reach within the segment weighted by how distinctive it is.

Only products bought by at least `MIN_BUYERS_SHARE` of the segment (and by two members or more)
with a lift above 1 are recommended. A product's text is its most frequent text on purchase rows,
exactly as stored (ties: the smallest text).
"""

from __future__ import annotations

import contextlib
import difflib
import math
from typing import Any

import duckdb

from segmint.agent.act.customers import normalise_user_id
from segmint.agent.core.errors import InputError
from segmint.agent.core.records import read_segments
from segmint.agent.core.sql import fetch_one
from segmint.agent.core.workspace import Workspace

MIN_BUYERS_SHARE = 0.05
MIN_BUYERS = 2
DEFAULT_LIMIT = 10


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


def segment_items(con: duckdb.DuckDBPyConnection, segment_id: str, *,
                  min_share: float = MIN_BUYERS_SHARE, limit: int | None = DEFAULT_LIMIT
                  ) -> list[dict[str, Any]]:
    """Products the segment buys unusually often, best first.

    Args:
        con: a workspace connection (`users.segment_id`, `events`).
        segment_id: the segment's id.
        min_share: the smallest share of members that must have bought a product.
        limit: how many products (None: all that qualify).

    Returns:
        Items with product_id, text, score, buyers_share, lift, buyers, population_share.
    """
    cap = "" if limit is None else f"LIMIT {int(limit)}"
    cur = con.execute(f"""
        WITH members AS (
            SELECT user_id, CAST(segment_id AS VARCHAR) = ? AS inside FROM users
        ),
        sizes AS (
            SELECT count(*) FILTER (WHERE inside) AS seg_n, count(*) AS all_n FROM members
        ),
        bought AS (
            SELECT DISTINCT user_id, product_id FROM events
            WHERE event_type = 'purchase' AND product_id IS NOT NULL
        ),
        counts AS (
            SELECT b.product_id, count(*) FILTER (WHERE m.inside) AS buyers, count(*) AS all_buyers
            FROM bought b JOIN members m USING (user_id) GROUP BY 1
        ),
        text_holders AS (  -- customers sharing a text: a prompt shows it only if enough do
            SELECT text, count(DISTINCT user_id) AS customers FROM events
            WHERE text IS NOT NULL GROUP BY 1
        ),
        texts AS (
            SELECT product_id, first(text ORDER BY n DESC, text) AS text FROM (
                SELECT product_id, text, count(*) AS n FROM events
                WHERE event_type = 'purchase' AND product_id IS NOT NULL AND text IS NOT NULL
                GROUP BY 1, 2
            ) GROUP BY 1
        )
        SELECT c.product_id, t.text, h.customers, c.buyers, c.buyers / s.seg_n AS buyers_share,
               c.all_buyers / s.all_n AS population_share,
               (c.buyers / s.seg_n) / (c.all_buyers / s.all_n) AS lift
        FROM counts c CROSS JOIN sizes s LEFT JOIN texts t USING (product_id)
        LEFT JOIN text_holders h ON h.text = t.text
        WHERE s.seg_n > 0 AND c.buyers >= {MIN_BUYERS} AND c.buyers / s.seg_n >= ?
          AND (c.buyers / s.seg_n) > (c.all_buyers / s.all_n)
        ORDER BY (c.buyers / s.seg_n) * log2((c.buyers / s.seg_n) / (c.all_buyers / s.all_n)) DESC,
                 c.product_id
        {cap}""", [str(segment_id), float(min_share)])
    return [_item(r) for r in cur.fetchall()]


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    product_id, text, text_customers, buyers, share, pop_share, lift = row
    return {
        "product_id": str(product_id), "text": text, "text_customers": int(text_customers or 0),
        "score": round(float(share) * math.log2(float(lift)), 6),
        "buyers_share": round(float(share), 6), "lift": round(float(lift), 4),
        "buyers": int(buyers), "population_share": round(float(pop_share), 6),
    }


def recommend_segment(workspace: Workspace, segment: str, *, limit: int = DEFAULT_LIMIT
                      ) -> dict[str, Any]:
    """The `segmint recommend --segment` document: products to promote to a segment.

    Raises:
        InputError: unknown segment.
    """
    with contextlib.closing(workspace.reader()) as con:
        sid, name = resolve_segment(con, segment)
        size = _segment_size(con, sid)
        items = segment_items(con, sid, limit=limit)
    return {"segment": {"id": sid, "name": name, "size": size}, "user_id": None, "items": items,
            "min_buyers_share": MIN_BUYERS_SHARE}


def recommend_user(workspace: Workspace, user_id: str, *, limit: int = DEFAULT_LIMIT
                   ) -> dict[str, Any]:
    """The `segmint recommend --user` document: what the customer's segment buys that they have not.

    A customer in the Unassigned group gets the recommendations of their nearest segment.

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
        seg = row[0] if row[0] not in (None, 0) else row[1]
        if seg is None:
            raise InputError("this workspace has no segments yet", field="--user", kind="option",
                             fix="run `segmint run` first")
        sid, name = resolve_segment(con, str(seg))
        owned = {r[0] for r in con.execute(
            "SELECT DISTINCT product_id FROM events WHERE user_id = ? AND event_type = 'purchase' "
            "AND product_id IS NOT NULL", [uid]).fetchall()}
        candidates = segment_items(con, sid, limit=None)
        size = _segment_size(con, sid)
    items = [i for i in candidates if i["product_id"] not in owned][:limit]
    return {"segment": {"id": sid, "name": name, "size": size,
                        "via": "nearest" if row[0] in (None, 0) else "member"},
            "user_id": uid, "items": items, "min_buyers_share": MIN_BUYERS_SHARE}


def _segment_size(con: duckdb.DuckDBPyConnection, sid: str) -> int:
    (n,) = fetch_one(con.execute(
        "SELECT count(*) FROM users WHERE CAST(segment_id AS VARCHAR) = ?", [sid])) or (0,)
    return int(n)
