"""The describe step: profile every segment, name and describe it, store it with the segment.

The built-in namer always runs (it is the fallback); an LLM chain, when one is configured, may
replace its text for a segment only if the verifier accepts the LLM's text.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from segmint.agent.describe.naming import NamedSegment, SegmentText, builtin_text, unique_names
from segmint.agent.describe.profile import SegmentProfile, profile_segments
from segmint.agent.query.glossary import Glossary
from segmint.agent.query.spec import catalogue

UNASSIGNED_ID = "0"
UNASSIGNED_TEXT = SegmentText(
    name="Unassigned",
    description="Customers not close enough to any segment to be placed in one.",
    key_traits=[], suggested_actions=["review after the next run"],
)


def shop_term_shares(profiles: list[SegmentProfile]) -> dict[str, float]:
    """Each glossary term's share over all customers, from the per-segment shares."""
    total = sum(p.size for p in profiles) or 1
    keys = profiles[0].term_shares if profiles else {}
    return {k: sum(p.term_shares.get(k, 0.0) * p.size for p in profiles) / total for k in keys}


def describe_segments(con: duckdb.DuckDBPyConnection, glossary: Glossary, *, currency: str = "",
                      namer: Any = None, fallback_reason: str | None = None
                      ) -> list[NamedSegment]:
    """Profile, name and describe every segment and store the results in `segments`.

    Args:
        con: the run's connection with `users.segment_id` and a `segments` table.
        glossary: for term shares.
        currency: symbol used in descriptions.
        namer: an optional LLM naming chain with `name(profiles, builtin) -> list[NamedSegment]`.
        fallback_reason: why an asked-for LLM namer could not run (recorded per segment).

    Returns:
        The named segments, Unassigned included.
    """
    profiles = profile_segments(con, glossary, catalogue(con))
    shop = shop_term_shares(profiles)
    real = [p for p in profiles if p.id != UNASSIGNED_ID]
    texts = unique_names([builtin_text(p, shop, currency) for p in real], real)
    named = [NamedSegment(p.id, t, "builtin", fallback_reason or "")
             for p, t in zip(real, texts, strict=True)]
    if namer is not None:
        named = namer.name(real, named)
    by_id = {p.id: p for p in profiles}
    # Always named, even when empty: the segments table keeps the row so ids stay meaningful.
    named.append(NamedSegment(UNASSIGNED_ID, UNASSIGNED_TEXT, "builtin",
                              "the customers no segment fits always get this fixed text"))
    _store(con, named, by_id)
    return named


def _store(con: duckdb.DuckDBPyConnection, named: list[NamedSegment],
           profiles: dict[str, SegmentProfile]) -> None:
    for col, typ in (("name", "VARCHAR"), ("description", "VARCHAR"), ("namer", "VARCHAR"),
                     ("namer_reason", "VARCHAR"), ("key_traits", "JSON"),
                     ("suggested_actions", "JSON"), ("facts", "JSON"), ("top_terms", "JSON")):
        con.execute(f"ALTER TABLE segments ADD COLUMN IF NOT EXISTS {col} {typ}")
    for seg in named:
        prof = profiles.get(seg.id)
        facts = prof.to_json() if prof else {}
        con.execute(
            "UPDATE segments SET name = ?, description = ?, namer = ?, namer_reason = ?, "
            "key_traits = ?, suggested_actions = ?, facts = ?, top_terms = ? "
            "WHERE CAST(segment_id AS VARCHAR) = ?",
            [seg.text.name, seg.text.description, seg.namer, seg.reason,
             json.dumps(seg.text.key_traits), json.dumps(seg.text.suggested_actions),
             json.dumps(facts, default=str), json.dumps(facts.get("top_terms", [])), seg.id],
        )


def segments_document(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The `segmint segments --json` document (docs/cli.md), run facts under `run`."""
    cur = con.execute(
        "SELECT segment_id, name, description, size, share, kind, status, namer, namer_reason, "
        "key_traits, suggested_actions, facts, top_terms FROM segments "
        "ORDER BY segment_id = 0, size DESC, segment_id")
    segments = []
    for row in cur.fetchall():
        (sid, name, desc, size, share, kind, status, namer, reason, traits, actions, facts,
         terms) = row
        segments.append({
            "id": str(sid), "name": name, "description": desc, "size": int(size),
            "share": round(float(share), 6), "kind": kind, "status": status,
            "namer": namer, "namer_reason": reason or None,
            "key_traits": json.loads(traits or "[]"),
            "suggested_actions": json.loads(actions or "[]"),
            "facts": json.loads(facts or "{}"), "top_terms": json.loads(terms or "[]"),
        })
    run = con.execute("SELECT summary FROM segment_runs").fetchall()
    return {"segments": segments, "run": json.loads(run[0][0]) if run and run[0][0] else {}}
