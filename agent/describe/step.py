"""The describe step: profile every segment, name and describe it, store it with the segment.

The built-in namer always runs (it is the fallback); an LLM chain, when one is configured, may
replace its text for a segment only if the verifier accepts the LLM's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from segmint.agent.core.arrays import UNASSIGNED
from segmint.agent.core.records import SegmentProfile, read_segment_run, read_segments
from segmint.agent.core.schema import SEGMENT_NAMES
from segmint.agent.describe.naming import NamedSegment, Namer, SegmentText, builtin_text, unique_names
from segmint.agent.describe.profile import profile_segments
from segmint.agent.query import catalogue
from segmint.agent.query.glossary import Glossary

__all__ = ["UNASSIGNED_TEXT", "DescribeReport", "describe_segments", "segments_document",
           "shop_term_shares"]

UNASSIGNED_ID = str(UNASSIGNED)
UNASSIGNED_TEXT = SegmentText(
    name="Unassigned",
    description="Customers not close enough to any segment to be placed in one.",
    key_traits=[], suggested_actions=["review after the next run"],
)


@dataclass
class DescribeReport:
    """What the describe step wrote: every segment's text and which namer wrote it."""

    named: list[NamedSegment]

    def namers(self) -> dict[str, dict[str, str]]:
        """The `namers` counts of the run: per segment id, the namer and its reason."""
        return {n.id: {"namer": n.namer, "reason": n.reason} for n in self.named}


def shop_term_shares(profiles: list[SegmentProfile]) -> dict[str, float]:
    """Each glossary term's share over all customers, from the per-segment shares."""
    total = sum(p.size for p in profiles) or 1
    keys = profiles[0].term_shares if profiles else {}
    return {k: sum(p.term_shares.get(k, 0.0) * p.size for p in profiles) / total for k in keys}


def describe_segments(con: duckdb.DuckDBPyConnection, glossary: Glossary, *, currency: str = "",
                      namer: Namer | None = None, fallback_reason: str | None = None
                      ) -> DescribeReport:
    """Profile, name and describe every segment and write `segment_names`.

    Args:
        con: the run's connection with `users` (with `segment_id`).
        glossary: for term shares.
        currency: symbol used in descriptions.
        namer: an optional LLM naming chain, which may replace the built-in texts.
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
    return DescribeReport(named)


def _store(con: duckdb.DuckDBPyConnection, named: list[NamedSegment],
           profiles: dict[str, SegmentProfile]) -> None:
    rows = []
    for seg in named:
        prof = profiles.get(seg.id)
        rows.append([int(seg.id), seg.text.name, seg.text.description, seg.namer, seg.reason,
                     json.dumps(seg.text.key_traits), json.dumps(seg.text.suggested_actions),
                     json.dumps(prof.to_json() if prof else {}, default=str)])
    SEGMENT_NAMES.create(con)
    con.executemany("INSERT INTO segment_names VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def segments_document(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The `segmint segments --json` document (docs/cli.md), run facts under `run`."""
    segments = []
    for seg in read_segments(con):
        facts = seg.profile.to_json() if seg.profile else {}
        segments.append({
            "id": str(seg.id), "name": seg.name, "description": seg.description,
            "size": seg.size, "share": round(seg.share, 6), "kind": seg.kind,
            "status": seg.status, "namer": seg.namer, "namer_reason": seg.namer_reason or None,
            "key_traits": seg.key_traits, "suggested_actions": seg.suggested_actions,
            "facts": facts, "top_terms": facts.get("top_terms", []),
        })
    run = read_segment_run(con)
    return {"segments": segments, "run": run.summary if run else {}}
