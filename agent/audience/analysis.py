"""Overlap, comparison, trends and segment history over segments, audiences and questions.

A target is named the way a marketer names it: a saved audience, a segment (id or exact name), or
any question. Every number comes with what it was computed over (docs/definitions.md "Audiences").
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from statistics import median
from typing import Any

import duckdb

from segmint.agent.ask.answer import Answerer, Selection
from segmint.agent.audience.evaluate import evaluate, refresh
from segmint.agent.audience.store import AudienceStore, HistoryRow
from segmint.agent.core.errors import InputError
from segmint.agent.core.sql import fetch_one, sql_str
from segmint.agent.core.workspace import Workspace
from segmint.agent.query import Condition, QuerySpec, reference_time

LIFECYCLE = ("active", "at_risk", "lapsed", "new_customers", "one_time_buyers", "repeat_buyers")
DRIFT_SHARE = 0.2  # a segment that grows or shrinks by more than this between runs gets a note
TOP_PRODUCTS = 5


@dataclass
class Target:
    """A named set of customers.

    Attributes:
        ref: as the user wrote it.
        kind: audience, segment or question.
        label: how answers name it ("segment 3 · Tea Sets", "audience lapsed VIPs").
        definition: what it means, with thresholds and dates.
        selection: its customers now.
    """

    ref: str
    kind: str
    label: str
    definition: str
    selection: Selection

    @property
    def ids(self) -> set[str]:
        """The members' user ids."""
        return {str(c["user_id"]) for c in self.selection.customers}

    def to_json(self) -> dict[str, Any]:
        """Name, kind, definition and size."""
        return {"ref": self.ref, "kind": self.kind, "label": self.label,
                "definition": self.definition, "size": len(self.selection.customers)}


def resolve(answerer: Answerer, ref: str) -> Target:
    """Read a target: a saved audience's name, a segment id or exact name, else a question.

    Raises:
        NotUnderstood: it is none of those and not a question the parser can read.
        InputError: it names something the workspace does not have.
    """
    store = AudienceStore(answerer.workspace)
    if store.exists(ref):
        audience = store.get(ref)
        selection = evaluate(answerer, audience)
        return Target(ref, "audience", f"audience {audience.name}", selection.answer.definition,
                      selection)
    segments = answerer.catalogue().segments
    by_name = {name.lower(): sid for sid, name in segments.items()}
    sid = ref.strip() if ref.strip() in segments else by_name.get(ref.strip().lower())
    if sid is not None:
        selection = answerer.select_segment(sid)
        return Target(ref, "segment", f"segment {sid} · {segments[sid]}",
                      selection.answer.definition, selection)
    selection = answerer.select(ref)
    return Target(ref, "question", ref, selection.answer.definition, selection)


def overlap(targets: list[Target]) -> dict[str, Any]:
    """Counts, shares and Jaccard of every pair of targets, and a Jaccard matrix.

    The JSON of `segmint overlap --json` (docs/cli.md).
    """
    sets = [t.ids for t in targets]
    pairs = []
    for (i, a), (j, b) in combinations(enumerate(sets), 2):
        both = len(a & b)
        union = len(a | b)
        pairs.append({"a": targets[i].label, "b": targets[j].label, "both": both,
                      "only_a": len(a - b), "only_b": len(b - a),
                      "share_of_a": _share(both, len(a)), "share_of_b": _share(both, len(b)),
                      "jaccard": _share(both, union)})
    matrix = [[_share(len(a & b), len(a | b)) if a or b else 0.0 for b in sets] for a in sets]
    in_all = set.intersection(*sets) if sets else set()
    return {"targets": [t.to_json() for t in targets], "pairs": pairs, "matrix": matrix,
            "in_all": len(in_all)}


def compare(answerer: Answerer, a: Target, b: Target) -> dict[str, Any]:
    """Two targets side by side: size, money, lifecycle mix and top products, and what differs most.

    The JSON of `segmint compare --json` (docs/cli.md).
    """
    lifecycle = {term: _term_ids(answerer, term) for term in LIFECYCLE
                 if term in answerer.glossary.terms}
    with contextlib.closing(answerer.workspace.reader()) as con:
        (everyone,) = con.execute("SELECT count(*) FROM users").fetchone() or (0,)
        top = {t.label: _product_shares(con, t.ids) for t in (a, b)}
        # Shares of every product either side leads with, counted exactly on both sides.
        texts = sorted({p for shares in top.values() for p, _ in shares[:50]})
        exact = {t.label: dict(_product_shares(con, t.ids, texts)) for t in (a, b)}
    sides = []
    for t in (a, b):
        rows = t.selection.customers
        revenue = [float(r.get("revenue") or 0.0) for r in rows]
        sides.append({
            **t.to_json(),
            "share_of_customers": _share(len(rows), int(everyone)),
            "median_revenue": round(median(revenue), 2) if revenue else None,
            "median_orders": _median(rows, "orders"),
            "median_recency_days": _median(rows, "recency_days"),
            "lifecycle": {answerer.glossary.terms[k].label: _share(len(t.ids & ids), len(t.ids))
                          for k, ids in lifecycle.items()},
            "top_products": [{"text": p, "share": s} for p, s in top[t.label][:TOP_PRODUCTS]],
        })
    differences = _differences(sides, exact[a.label], exact[b.label])
    return {"a": sides[0], "b": sides[1], "overlap": overlap([a, b])["pairs"][0],
            "differs_most": differences[:5]}


def trend(answerer: Answerer, target: Target, months: int = 12) -> dict[str, Any]:
    """Monthly customers, orders and revenue of a target's members over the event history, and
    their first-order cohorts' retention (share buying again 1..`months` months later).

    The JSON of `segmint trend --json` (docs/cli.md).
    """
    ids = sorted(target.ids)
    with contextlib.closing(answerer.workspace.reader()) as con:
        monthly = con.execute(
            """
            SELECT strftime(date_trunc('month', ts), '%Y-%m') AS month,
                   count(DISTINCT user_id) FILTER (WHERE event_type = 'purchase') AS customers,
                   count(DISTINCT order_id) FILTER (WHERE event_type = 'purchase')
                     + count(*) FILTER (WHERE event_type = 'purchase' AND order_id IS NULL) AS orders,
                   coalesce(sum(amount) FILTER (WHERE event_type IN ('purchase', 'return')), 0)
                     AS revenue
            FROM events WHERE user_id IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY 1 ORDER BY 1
            """, [ids]).fetchall()
        cohorts = con.execute(
            """
            WITH buys AS (
                SELECT user_id, date_trunc('month', ts) AS month FROM events
                WHERE event_type = 'purchase' AND user_id IN (SELECT unnest(?::VARCHAR[]))
                GROUP BY 1, 2),
            firsts AS (SELECT user_id, min(month) AS cohort FROM buys GROUP BY 1)
            SELECT strftime(f.cohort, '%Y-%m'), count(DISTINCT f.user_id),
                   list(DISTINCT CAST(datediff('month', f.cohort, b.month) AS INTEGER)
                        || ':' || b.user_id)
            FROM firsts f JOIN buys b USING (user_id) GROUP BY 1 ORDER BY 1
            """, [ids]).fetchall()
        as_of = reference_time(con) or (fetch_one(con.execute("SELECT max(ts) FROM events"))
                                        or (None,))[0]
    last = None if as_of is None else as_of.year * 12 + as_of.month - 1
    retention = []
    for cohort, size, offsets in cohorts:
        by_offset: dict[int, set[str]] = {}
        for item in offsets:
            k, user = item.split(":", 1)
            by_offset.setdefault(int(k), set()).add(user)
        start = int(cohort[:4]) * 12 + int(cohort[5:7]) - 1
        # A month after the data's as_of has not happened: null, not 0% retained.
        retention.append({"cohort": cohort, "customers": int(size),
                          "retained": [_share(len(by_offset.get(k, ())), int(size))
                                       if last is None or start + k <= last else None
                                       for k in range(1, months + 1)]})
    return {"target": target.to_json(),
            "monthly": [{"month": m, "customers": int(c), "orders": int(o),
                         "revenue": round(float(r), 2)} for m, c, o, r in monthly],
            "cohorts": retention}


def segment_history(workspace: Workspace) -> dict[str, Any]:
    """Size and revenue share of every segment per recorded run, the migrations between
    consecutive runs, and drift notes. The JSON of `segmint history --json` (docs/cli.md).
    """
    refresh(workspace, wait=False)
    store = AudienceStore(workspace)
    rows = [r for r in store.history() if r.target.startswith("segment:")]
    runs = list(dict.fromkeys(r.run_id for r in rows if r.target == "segment:*"))
    out_runs: list[dict[str, Any]] = []
    for i, run_id in enumerate(runs):
        at = [r for r in rows if r.run_id == run_id and r.target != "segment:*"]
        out_runs.append({
            "run_id": run_id, "as_of": at[0].as_of if at else "",
            "segments": [{"id": int(r.target.split(":", 1)[1]), "name": r.name, "size": r.size,
                          "revenue_share": r.revenue_share, "entered": r.entered, "left": r.left}
                         for r in at],
            "migrations": _migrations(store.segment_snapshot(runs[i - 1]),
                                      store.segment_snapshot(run_id)) if i else [],
            "notes": _drift_notes(out_runs[-1]["segments"] if out_runs else None, at),
        })
    audiences = [r.to_json() for r in store.history() if r.target.startswith("audience:")]
    return {"runs": out_runs, "audiences": audiences}


def _migrations(before: Path | None, after: Path | None) -> list[dict[str, Any]]:
    """Customers per (segment then, segment now); `from` None = new to the data since then, so
    the migrations into a segment add up to its size."""
    if before is None or after is None:
        return []
    with contextlib.closing(duckdb.connect()) as con:
        counts = con.execute(
            f"SELECT p.segment_id, a.segment_id, count(*) FROM read_parquet({sql_str(str(after))}) a "
            f"LEFT JOIN read_parquet({sql_str(str(before))}) p USING (user_id) GROUP BY 1, 2 "
            "ORDER BY 3 DESC, 1 NULLS FIRST, 2").fetchall()
    return [{"from": None if f is None else int(f), "to": int(t), "customers": int(n)}
            for f, t, n in counts]


def _drift_notes(before: list[dict[str, Any]] | None, now: list[HistoryRow]) -> list[str]:
    if before is None:
        return []
    was = {s["id"]: s for s in before}
    notes = []
    for r in now:
        sid = int(r.target.split(":", 1)[1])
        if sid not in was:
            notes.append(f"{r.size:,} customers are unassigned now (none were before)" if sid == 0
                         else f"new segment {sid} · {r.name} ({r.size:,} customers)")
            continue
        old = was[sid]["size"]
        if old and abs(r.size - old) / old > DRIFT_SHARE:
            verb = "grew" if r.size > old else "shrank"
            notes.append(f"segment {sid} · {r.name} {verb} {abs(r.size - old) / old:.0%} "
                         f"({old:,} → {r.size:,})")
    ids_now = {int(r.target.split(":", 1)[1]) for r in now}
    notes += [f"segment {sid} · {s['name']} is gone ({s['size']:,} customers before)"
              for sid, s in was.items() if sid not in ids_now]
    return notes


def _term_ids(answerer: Answerer, term: str) -> set[str]:
    spec = QuerySpec(any_of=[[Condition(kind="term", term=term)]])
    with contextlib.suppress(InputError):  # a term whose fields this workspace lacks
        return {str(c["user_id"]) for c in answerer.select_spec(term, spec).customers}
    return set()


def _product_shares(con: Any, ids: set[str],
                    texts: list[str] | None = None) -> list[tuple[str, float]]:
    """Share of the members who bought each product text, highest first (the top 50, or `texts`)."""
    if not ids:
        return []
    only = "AND text IN (SELECT unnest(?::VARCHAR[]))" if texts is not None else ""
    rows = con.execute(
        "SELECT text, count(DISTINCT user_id) FROM events WHERE event_type = 'purchase' "
        f"AND text IS NOT NULL AND user_id IN (SELECT unnest(?::VARCHAR[])) {only} GROUP BY 1 "
        f"ORDER BY 2 DESC, 1 {'' if texts is not None else 'LIMIT 50'}",
        [sorted(ids), *([texts] if texts is not None else [])]).fetchall()
    return [(str(t), _share(int(n), len(ids))) for t, n in rows]


def _differences(sides: list[dict[str, Any]], share_a: dict[str, float],
                 share_b: dict[str, float]) -> list[dict[str, Any]]:
    """The largest gaps between the two sides, in shares of each side's members."""
    gaps = []
    a, b = sides
    for label in a["lifecycle"]:
        gaps.append({"what": label, "a": a["lifecycle"][label], "b": b["lifecycle"][label]})
    for text in set(share_a) | set(share_b):
        gaps.append({"what": f"bought {text}", "a": share_a.get(text, 0.0),
                     "b": share_b.get(text, 0.0)})
    for g in gaps:
        g["gap"] = round(g["a"] - g["b"], 4)
    return sorted(gaps, key=lambda g: (-abs(g["gap"]), g["what"]))


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return round(median(values), 2) if values else None


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0
