"""Re-evaluate saved audiences at a run, and say who entered and who left since an earlier run.

`refresh` runs after every `segmint run` (full or `--append`) and before any audience command, so
each run is recorded once per audience and once per segment (docs/definitions.md "Audiences").
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from segmint.agent.ask import interest_matches
from segmint.agent.ask.answer import Answerer, Selection
from segmint.agent.audience.store import Audience, AudienceStore, HistoryRow, audience_target
from segmint.agent.core.errors import InputError, UsageError
from segmint.agent.core.records import RunInfo
from segmint.agent.core.sql import fetch_one, sql_str, table_names
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import describe_customer
from segmint.agent.query import SpecError, compile_spec, reference_time


def evaluate(answerer: Answerer, audience: Audience) -> Selection:
    """Every customer the audience's definition selects now.

    Raises:
        InputError: the definition names something this workspace no longer has.
    """
    return answerer.select_spec(audience.question, audience.spec)


def refresh(workspace: Workspace, answerer: Answerer | None = None, *,
            wait: bool = True) -> list[HistoryRow]:
    """Record every audience and segment at the current run, once.

    Args:
        workspace: the workspace.
        answerer: reused when given (its catalogue is cached).
        wait: False skips quietly when another command holds the write lock (read-only commands
            must not fail because a run is writing); True raises then.

    Returns:
        The rows recorded now (empty when the current run was already recorded).

    Raises:
        UsageError: another command is writing the workspace (only when `wait`).
    """
    try:
        return _refresh(workspace, answerer, wait=wait)
    finally:
        if answerer is None:
            workspace.close_readers()


def _refresh(workspace: Workspace, answerer: Answerer | None, *, wait: bool) -> list[HistoryRow]:
    run = workspace.latest_run()
    if run is None:
        return []
    store = AudienceStore(workspace)
    done = {(r.target, r.run_id) for r in store.history()}
    audiences = [a for a in store.saved() if (audience_target(a.name), run.run_id) not in done]
    need_segments = ("segment:*", run.run_id) not in done
    if not audiences and not need_segments:
        return []
    answerer = answerer or Answerer(workspace)
    rows: list[HistoryRow] = []
    members: dict[str, list[str]] = {}
    with contextlib.closing(workspace.reader()) as con:
        total = float((fetch_one(con.execute(
            "SELECT coalesce(sum(revenue), 0) FROM users")) or (0.0,))[0] or 0.0)
        found = select_members(con, answerer, audiences)
    for audience, (ids, revenue) in zip(audiences, found, strict=True):
        target = audience_target(audience.name)
        previous = _previous_members(store, target, run.run_id)
        rows.append(_row(target, run, ids, revenue, total, previous, audience.name))
        members[target] = ids
    segments = _segment_rows(workspace, store, run, total) if need_segments else None
    if segments is not None:
        rows += segments[0]
    try:
        with workspace.lock():
            store.record(rows, members, segments[1] if segments is not None else None)
    except UsageError:
        if wait:
            raise
        return []
    return rows


def select_members(con: duckdb.DuckDBPyConnection, answerer: Answerer,
                   audiences: list[Audience], *, strict: bool = False
                   ) -> list[tuple[list[str], float]]:
    """Every audience's members and their revenue, in one query over the workspace.

    The customers each definition selects, exactly those `evaluate` selects (the same compiled
    conditions, order and limit; returned in no particular order), but without what an answer
    adds (its text, sample and each customer's reason): re-evaluating at every run needs only who
    is in. All audiences are read in one pass, so the scan of users and events is shared.

    Args:
        con: the workspace's connection.
        answerer: its answerer (catalogue and glossary).
        audiences: the audiences.
        strict: refuse a definition the workspace can no longer answer, instead of reading it
            as empty (a suppression list must not silently suppress nobody).

    Returns:
        Per audience, in order: its members' user ids and the sum of their revenue; empty for a
        definition the workspace can no longer answer (a segment that is gone).

    Raises:
        InputError: with `strict`, an audience the workspace can no longer answer.
    """
    cat = answerer.catalogue()
    as_of = reference_time(con)
    parts: list[str] = []
    params: list[Any] = []
    for i, audience in enumerate(audiences):
        try:
            compiled = compile_spec(audience.spec, cat, answerer.glossary, con,
                                    interest_matches(con, audience.spec), as_of=as_of)
        except (SpecError, InputError) as exc:
            if strict:
                raise InputError(f"audience '{audience.name}' cannot be evaluated: {exc}",
                                 field="--exclude", kind="option",
                                 fix="delete it, or save it again for the current data") from exc
            continue  # nothing selects it now: the audience is empty at this run
        cap = "" if compiled.limit is None else f" LIMIT {int(compiled.limit)}"
        parts.append(f"(SELECT {i} AS k, CAST(u.user_id AS VARCHAR) AS user_id, "
                     "CAST(coalesce(u.revenue, 0) AS DOUBLE) AS revenue FROM users u "
                     f"WHERE {compiled.where} ORDER BY {compiled.order}{cap})")
        params += [*compiled.params, *compiled.order_params]
    out: list[tuple[list[str], float]] = [([], 0.0) for _ in audiences]
    if not parts:
        return out
    found = con.sql(" UNION ALL ".join(parts), params=params).fetchnumpy()
    keys = np.asarray(found["k"], dtype=np.int64)
    ids = np.asarray(found["user_id"], dtype=object)
    sums = np.bincount(keys, weights=np.asarray(found["revenue"], dtype=np.float64),
                       minlength=len(audiences))
    for i in range(len(audiences)):
        out[i] = ([str(u) for u in ids[keys == i]], float(sums[i]))
    return out


@dataclass
class AudienceDiff:
    """Who entered and who left an audience between two recorded runs.

    Attributes:
        audience: the audience.
        since: the earlier run (run_id, as_of).
        now: the current run (run_id, as_of).
        entered: customers in it now and not then, each with the reason they are in it now.
        left: customers in it then and not now, each with their state now.
    """

    audience: Audience
    since: dict[str, str]
    now: dict[str, str]
    entered: list[dict[str, Any]] = field(default_factory=list)
    left: list[dict[str, Any]] = field(default_factory=list)
    currency: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """Users-table rows of everyone who entered or left, `why` saying which and why (for
        an export)."""
        return ([{**r["row"], "why": f"entered: {r['why']}"} for r in self.entered]
                + [{**r["row"], "why": f"left: {r['why']}"} for r in self.left])

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `segmint audience diff --json` (docs/cli.md)."""
        return {"audience": self.audience.name, "since": self.since, "now": self.now,
                "entered_count": len(self.entered), "left_count": len(self.left),
                "entered": [{"user_id": r["user_id"], "why": r["why"]} for r in self.entered],
                "left": [{"user_id": r["user_id"], "why": r["why"]} for r in self.left]}


def diff(workspace: Workspace, name: str, since: str | None = None) -> AudienceDiff:
    """The customers who entered and left an audience since a run (the previous one by default).

    Args:
        workspace: the workspace.
        name: the audience.
        since: a run id (or its first characters), a date (YYYY-MM-DD: the last recorded run
            whose as_of is on or before it), or None for the run before the current one.

    Raises:
        InputError: no such audience, or no recorded run matches `since`.
    """
    store = AudienceStore(workspace)
    audience = store.get(name)
    answerer = Answerer(workspace)
    refresh(workspace, answerer, wait=False)
    target = audience_target(audience.name)
    history = store.history(target)
    if not history:
        raise InputError(f"audience '{audience.name}' has no recorded run yet", field="NAME",
                         kind="argument", fix="run `segmint run` once more, then ask again")
    now = history[-1]
    then = _since(history[:-1], since, audience.name)
    before = set(store.members(target, then.run_id) or [])
    selection = evaluate(answerer, audience)
    current = {str(c["user_id"]): c for c in selection.customers}
    entered = [{"user_id": u, "why": _why(current[u], selection.currency), "row": current[u]}
               for u in sorted(set(current) - before)]
    gone = sorted(before - set(current))
    left = [{"user_id": u, "why": why, "row": row}
            for u, why, row in _left_reasons(answerer, gone, selection.currency)]
    return AudienceDiff(audience, {"run_id": then.run_id, "as_of": then.as_of},
                        {"run_id": now.run_id, "as_of": now.as_of}, entered, left,
                        selection.currency)


def _since(history: list[HistoryRow], since: str | None, name: str) -> HistoryRow:
    if not history:
        raise InputError(f"audience '{name}' has been evaluated at one run only", field="--since",
                         fix="run `segmint run --append NEW_EVENTS` and ask again")
    if since is None:
        return history[-1]
    with contextlib.suppress(ValueError):
        day = date.fromisoformat(since)
        dated = [r for r in history if datetime.fromisoformat(r.as_of).date() <= day]
        if dated:
            return dated[-1]
    matches = [r for r in history if r.run_id.startswith(since)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{r.run_id} (as of {r.as_of[:10]})" for r in history[-5:])
    raise InputError(f"no recorded run matches '{since}'", field="--since",
                     fix=f"give a run id or a date; recorded: {known}")


def _previous_members(store: AudienceStore, target: str, run_id: str) -> list[str] | None:
    earlier = [r for r in store.history(target) if r.run_id != run_id]
    return store.members(target, earlier[-1].run_id) if earlier else None


def _row(target: str, run: RunInfo, ids: list[str], revenue: float, total: float,
         previous: list[str] | None, name: str) -> HistoryRow:
    now, before = set(ids), set(previous or [])
    return HistoryRow(target=target, run_id=run.run_id, as_of=_as_of(run), size=len(ids),
                      revenue_share=round(revenue / total, 6) if total else 0.0,
                      entered=len(now - before), left=len(before - now), name=name)


def _segment_rows(workspace: Workspace, store: AudienceStore, run: RunInfo,
                  total: float) -> tuple[list[HistoryRow], pa.Table] | None:
    """Every segment's size, revenue share, and who entered and left it since the last recorded
    run; and the snapshot of every customer's segment now."""
    earlier = [r for r in store.history() if r.target == "segment:*" and r.run_id != run.run_id]
    before = store.segment_snapshot(earlier[-1].run_id) if earlier else None
    with contextlib.closing(workspace.reader()) as con:
        tables = table_names(con)
        if "segment_members" not in tables:
            return None
        snapshot = con.sql(
            "SELECT user_id, CAST(segment_id AS INTEGER) AS segment_id FROM segment_members "
            "ORDER BY user_id").to_arrow_table()
        prev = (f"read_parquet({sql_str(str(before))})" if before is not None
                else "(SELECT CAST(NULL AS VARCHAR) AS user_id, CAST(NULL AS INTEGER) AS segment_id "
                     "WHERE false)")
        stats = con.execute(f"""
            WITH prev AS (SELECT * FROM {prev}),
            now AS (SELECT m.segment_id, count(*) AS size, coalesce(sum(u.revenue), 0) AS revenue,
                           count(*) FILTER (WHERE p.segment_id IS DISTINCT FROM m.segment_id)
                             AS entered
                    FROM segment_members m JOIN users u USING (user_id)
                    LEFT JOIN prev p USING (user_id) GROUP BY 1),
            gone AS (SELECT p.segment_id, count(*) AS left_n FROM prev p
                     LEFT JOIN segment_members m USING (user_id)
                     WHERE m.segment_id IS DISTINCT FROM p.segment_id GROUP BY 1)
            SELECT n.segment_id, n.size, n.revenue, n.entered, coalesce(g.left_n, 0),
                   (SELECT any_value(s.name) FROM segments s WHERE s.segment_id = n.segment_id)
            FROM now n LEFT JOIN gone g USING (segment_id) ORDER BY 1""").fetchall()
    rows = [HistoryRow(target="segment:*", run_id=run.run_id, as_of=_as_of(run),
                       size=snapshot.num_rows, revenue_share=1.0 if total else 0.0, entered=0,
                       left=0, name="all segments")]
    rows += [HistoryRow(target=f"segment:{sid}", run_id=run.run_id, as_of=_as_of(run),
                        size=int(size), revenue_share=round(float(revenue) / total, 6) if total
                        else 0.0, entered=int(entered), left=int(left_n), name=str(name or sid))
             for sid, size, revenue, entered, left_n, name in stats]
    return rows, snapshot


def _as_of(run: RunInfo) -> str:
    return (run.as_of or run.finished_at).isoformat(timespec="seconds")


def _why(row: dict[str, Any], currency: str) -> str:
    return str(row.get("why") or describe_customer(row, currency))


def _left_reasons(answerer: Answerer, user_ids: list[str],
                  currency: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Each departed customer's state now (or that they are no longer in the data)."""
    if not user_ids:
        return []
    with contextlib.closing(answerer.workspace.reader()) as con:
        cur = con.execute("SELECT * FROM users WHERE user_id IN (SELECT unnest(?))", [user_ids])
        names = [d[0] for d in cur.description or []]
        found = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    rows = {str(r["user_id"]): r for r in found}
    return [(u, "now: " + describe_customer(rows[u], currency), rows[u]) if u in rows
            else (u, "no longer in the data", {"user_id": u}) for u in user_ids]


def exclude(answerer: Answerer, selection: Selection, audiences: list[str]) -> Selection:
    """A selection without the current members of saved audiences (suppression lists).

    The answer's count, sample and definition say what was taken out and how many.

    Raises:
        InputError: one of the audiences is not saved.
    """
    if not audiences:
        return selection
    store = AudienceStore(answerer.workspace)
    saved = [store.get(name) for name in audiences]
    names = [a.name for a in saved]
    with contextlib.closing(answerer.workspace.reader()) as con:
        removed = {u for ids, _ in select_members(con, answerer, saved, strict=True) for u in ids}
    kept = [c for c in selection.customers if str(c["user_id"]) not in removed]
    taken = len(selection.customers) - len(kept)
    answer = replace(selection.answer)
    note = (f"minus the {taken:,} customers in audience{'s' if len(names) > 1 else ''} "
            + ", ".join(f"“{n}”" for n in names))
    answer.definition = f"{answer.definition}, {note}"
    answer.count = len(kept)
    answer.sample = [s for s in answer.sample if str(s.get("user_id")) not in removed]
    noun = "customer" if len(kept) == 1 else "customers"
    answer.answer = f"{len(kept):,} {noun} match: {answer.definition}."
    return Selection(answer, kept, selection.currency)
