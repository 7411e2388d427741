"""The describe step: profile every segment, name and describe it, store it with the segment.

The phrases members bought name the segments (agent/describe/support.py), so a name's support is
a fact of the data; the built-in namer always runs (it is the fallback); an LLM chain, when one is
configured, may replace its text for a segment only if the verifier accepts the LLM's text and its
name has the support the built-in one has. Every segment's suggested action comes from its
campaign plan (agent/describe/offers.py), the source `recommend` and `brief` read too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from segmint.agent.core.arrays import UNASSIGNED
from segmint.agent.core.records import (
    SegmentProfile,
    read_latest_run,
    read_segment_run,
    read_segments,
)
from segmint.agent.core.schema import SEGMENT_NAMES
from segmint.agent.describe.builtin_namer import builtin_name, builtin_text, unique_names
from segmint.agent.describe.naming import NamedSegment, Namer, SegmentText
from segmint.agent.describe.offers import Plan, items_by_segment, segment_plan, segment_plans
from segmint.agent.describe.phrases import shop_phrases
from segmint.agent.describe.profile import profile_segments
from segmint.agent.describe.support import NameFacts, name_facts
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
PLAN_PRODUCTS = 5


@dataclass
class DescribeReport:
    """What the describe step wrote: every segment's text, which namer wrote it, and the facts
    its name rests on."""

    named: list[NamedSegment]
    facts: dict[str, NameFacts] = field(default_factory=dict)

    def namers(self) -> dict[str, dict[str, Any]]:
        """The `namers` counts of the run: per segment id, the namer, its reason and the name's
        support (what `segments --json` shows as `name_support`)."""
        return {n.id: {"namer": n.namer, "reason": n.reason,
                       **({"name_support": self.facts[n.id].to_json()} if n.id in self.facts else {})}
                for n in self.named}


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
        The named segments, Unassigned included, and their name facts.
    """
    cat = catalogue(con)
    ids = [str(s) for (s,) in con.execute(
        "SELECT DISTINCT segment_id FROM users WHERE segment_id IS NOT NULL AND segment_id <> ? "
        "ORDER BY 1", [UNASSIGNED]).fetchall()]
    facts = name_facts(con, ids, shop_phrases(con))
    terms = {sid: [p.text for p in f.candidates] for sid, f in facts.items() if f.candidates}
    items = items_by_segment(con, limit=PLAN_PRODUCTS)
    profiles = profile_segments(con, glossary, cat, terms=terms, products=items)
    shop = shop_term_shares(profiles)
    plans = segment_plans(con, {p.id: (p.size, p.term_shares) for p in profiles}, glossary, cat,
                          limit=PLAN_PRODUCTS, items=items)
    real = [p for p in profiles if p.id != UNASSIGNED_ID]
    texts = _builtin_texts(real, shop, facts, plans, currency)
    named = [NamedSegment(p.id, t, "builtin", fallback_reason or "")
             for p, t in zip(real, texts, strict=True)]
    if namer is not None:
        named = namer.name(real, named, facts)
    by_id = {p.id: p for p in profiles}
    left_out = plans.get(UNASSIGNED_ID) or segment_plan(con, UNASSIGNED_ID, 0, {}, glossary, cat)
    unassigned = UNASSIGNED_TEXT.model_copy(update={"suggested_actions": [left_out.action()]})
    # Always named, even when empty: the segments table keeps the row so ids stay meaningful.
    named.append(NamedSegment(UNASSIGNED_ID, unassigned, "builtin",
                              "the customers no segment fits always get this fixed text"))
    _store(con, named, by_id)
    return DescribeReport(named, facts)


def _builtin_texts(real: list[SegmentProfile], shop: dict[str, float], facts: dict[str, NameFacts],
                   plans: dict[str, Plan], currency: str) -> list[SegmentText]:
    """Built-in names (made unique) first, then descriptions, which may name other segments."""
    raw = [SegmentText(name=builtin_name(p, shop, facts.get(p.id)), description="x") for p in real]
    names = {p.id: t.name for p, t in zip(real, unique_names(raw, real), strict=True)}
    out = []
    for p in real:
        text = builtin_text(p, shop, currency, facts.get(p.id), names=names,
                            actions=[plans[p.id].action()])
        out.append(text.model_copy(update={"name": names[p.id]}))
    return out


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
    """The `segmint segments --json` document (docs/cli.md), run facts under `run`.

    Beside its facts (the profile), each segment carries `name_support`: the phrases its name rests
    on, the share of members who bought a product containing them, the shop's rate, and the
    contrast with its nearest segment (from the run's describe report; None when none).
    """
    latest = read_latest_run(con)
    namers = (latest.counts.get("namers") or {}) if latest is not None else {}
    segments = []
    for seg in read_segments(con):
        facts = seg.profile.to_json() if seg.profile else {}
        support = (namers.get(str(seg.id)) or {}).get("name_support")
        segments.append({
            "id": str(seg.id), "name": seg.name, "description": seg.description,
            "size": seg.size, "share": round(seg.share, 6), "kind": seg.kind,
            "status": seg.status, "namer": seg.namer, "namer_reason": seg.namer_reason or None,
            "key_traits": seg.key_traits, "suggested_actions": seg.suggested_actions,
            "facts": facts, "top_terms": facts.get("top_terms", []), "name_support": support,
        })
    run = read_segment_run(con)
    return {"segments": segments, "run": run.summary if run else {}}
