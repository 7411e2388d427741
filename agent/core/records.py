"""Typed records of what a workspace holds, and the reads that return them from an open connection.

Every module reads the `runs` history, the segments and their profiles through these functions (or
the `Workspace` methods built on them), never through its own SQL, so the tables' layout
(`segmint.agent.core.schema`) can change in one place.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from segmint.agent.core.sql import fetch_one

__all__ = [
    "RunInfo",
    "Segment",
    "SegmentProfile",
    "SegmentRun",
    "read_latest_run",
    "read_segment",
    "read_segment_run",
    "read_segments",
]


@dataclass(frozen=True)
class RunInfo:
    """One completed run, as the `runs` table records it.

    Attributes:
        run_id: the run's id (also names its side-file directory).
        command: what recorded it (`run`).
        started_at: when it started (naive UTC).
        finished_at: when it finished (naive UTC).
        params: its settings (`RunConfig` by alias, plus `files`).
        versions: versions of segmint and its key libraries.
        counts: what its stages reported (users, events, as_of, embedding, risk, ltv, namers...).
        seconds: seconds per stage.
    """

    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime
    params: dict[str, Any]
    versions: dict[str, str]
    counts: dict[str, Any]
    seconds: dict[str, float]

    @property
    def as_of(self) -> datetime | None:
        """The run's reference time (docs/definitions.md)."""
        value = self.counts.get("as_of")
        return None if value is None else datetime.fromisoformat(value)

    @property
    def currency(self) -> str:
        """The currency symbol answers and texts use ('' when none was given)."""
        return str(self.params.get("currency") or "")

    @property
    def embedder(self) -> str | None:
        """The text encoder the customer vectors were built with."""
        value = self.params.get("embedder")
        return None if value is None else str(value)


@dataclass
class SegmentProfile:
    """Facts about one segment (computed by `segmint.agent.describe.profile`). Shares are fractions
    of the segment's members (0-1)."""

    id: str
    size: int
    share: float
    revenue_share: float
    median: dict[str, float | None]
    mean: dict[str, float | None]
    term_shares: dict[str, float]
    top_categories: list[dict[str, Any]] = field(default_factory=list)
    top_products: list[dict[str, Any]] = field(default_factory=list)
    top_terms: list[str] = field(default_factory=list)
    representatives: list[str] = field(default_factory=list)
    attributes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready facts."""
        return asdict(self)


@dataclass(frozen=True)
class Segment:
    """One segment: what the segment step found and what the describe step wrote about it.

    Attributes:
        id: the stable id (0 is the Unassigned group).
        kind: `interest`, `behaviour` or `unassigned`.
        size: customers in it.
        share: size / all customers.
        status: the transition against the previous run (kept, merged, split, new).
        name: its name (None before the describe step has named it).
        description: one or two sentences about it.
        namer: `builtin` or `llm:SPEC`.
        namer_reason: why that namer's text was kept ('' or None when nothing to say).
        key_traits: short phrases.
        suggested_actions: short phrases.
        profile: the facts its text was checked against; None when it has no members.
    """

    id: int
    kind: str
    size: int
    share: float
    status: str | None
    name: str | None
    description: str | None
    namer: str | None
    namer_reason: str | None
    key_traits: list[str]
    suggested_actions: list[str]
    profile: SegmentProfile | None


@dataclass(frozen=True)
class SegmentRun:
    """The segment step's facts about one run (the `segment_runs` row).

    Attributes:
        next_id: the next unused segment id (ids are never reused).
        noise_share: share of customers in Unassigned.
        n_segments: segments, not counting Unassigned.
        summary: the step's report (sizes, fit, quality, newcomer_model, transitions, seconds).
        model_file: where the segment model was saved.
    """

    next_id: int
    noise_share: float
    n_segments: int
    summary: dict[str, Any]
    model_file: str | None

    @property
    def newcomer_model(self) -> dict[str, Any] | None:
        """How well the saved model places held-out customers (what `segmint assign` reports)."""
        value = self.summary.get("newcomer_model")
        return None if value is None else dict(value)


def read_latest_run(con: duckdb.DuckDBPyConnection) -> RunInfo | None:
    """The run that built the open database (the latest in `runs`), or None before any run."""
    row = fetch_one(con.execute(
        "SELECT run_id, command, started_at, finished_at, params, versions, counts, seconds "
        "FROM runs ORDER BY finished_at DESC LIMIT 1"))
    if row is None:
        return None
    run_id, command, started, finished, params, versions, counts, seconds = row
    return RunInfo(str(run_id), str(command), started, finished, _json(params, {}),
                   _json(versions, {}), _json(counts, {}), _json(seconds, {}))


_SEGMENT_SQL = ("SELECT segment_id, kind, size, share, status, name, description, namer, namer_reason, "
                "key_traits, suggested_actions, facts FROM segments")


def read_segments(con: duckdb.DuckDBPyConnection) -> list[Segment]:
    """Every segment, largest first and Unassigned last; empty when the database has none."""
    if not _has_table(con, "segments"):
        return []
    rows = con.execute(f"{_SEGMENT_SQL} ORDER BY segment_id = 0, size DESC, segment_id").fetchall()
    return [_segment(r) for r in rows]


def read_segment(con: duckdb.DuckDBPyConnection, segment_id: int | str) -> Segment | None:
    """One segment by id, or None when there is no such segment."""
    if not _has_table(con, "segments"):
        return None
    row = fetch_one(con.execute(f"{_SEGMENT_SQL} WHERE CAST(segment_id AS VARCHAR) = ?",
                                [str(segment_id)]))
    return None if row is None else _segment(row)


def read_segment_run(con: duckdb.DuckDBPyConnection) -> SegmentRun | None:
    """The segment step's facts of the open database's run, or None when it has none."""
    if not _has_table(con, "segment_runs"):
        return None
    row = fetch_one(con.execute(
        "SELECT next_id, noise_share, n_segments, summary, model_file FROM segment_runs"))
    if row is None:
        return None
    next_id, noise, n, summary, model_file = row
    return SegmentRun(int(next_id), float(noise), int(n), _json(summary, {}),
                      None if model_file is None else str(model_file))


def _segment(row: tuple[Any, ...]) -> Segment:
    (sid, kind, size, share, status, name, description, namer, reason, traits, actions,
     facts) = row
    raw = _json(facts, {})
    return Segment(int(sid), str(kind), int(size), float(share), status, name, description, namer,
                   reason, _json(traits, []), _json(actions, []),
                   SegmentProfile(**raw) if raw else None)


def _json(value: str | None, empty: Any) -> Any:
    return json.loads(value) if value else empty


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return fetch_one(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND database_name = "
        "current_database() AND schema_name = current_schema()", [name])) == (1,)
