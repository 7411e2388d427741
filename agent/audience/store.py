"""Saved audiences and their history: the one writer of a workspace's `audiences/` folder.

An audience is a typed definition (a QuerySpec), never a member list: every run re-evaluates it.
What each evaluation found is kept per run (the members, for `diff`; the size and revenue share,
for `history`), and so is every segment's membership, for segment history and migrations
(docs/definitions.md "Audiences").

The folder sits beside the database, not in it: a run replaces the database atomically, and the
history must outlive that. Every file is written atomically (core/files.py) under the
workspace's write lock; readers never lock.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from segmint.agent.core.errors import InputError
from segmint.agent.core.files import write_atomic
from segmint.agent.core.workspace import Workspace
from segmint.agent.query import QuerySpec

Source = Literal["question", "segment", "export"]
MAX_NAME_CHARS = 80
_NAME = re.compile(r"[\w][\w .'&+-]*", re.UNICODE)


@dataclass(frozen=True)
class Audience:
    """A saved audience.

    Attributes:
        name: as the user gave it (unique, case-insensitive).
        source: where the definition came from (a question, a segment, an export's definition).
        question: the question as asked (or "segment 3").
        spec: the typed definition re-evaluated at every run.
        created_at: when it was saved (UTC).
        created_run: the run it was first evaluated on.
    """

    name: str
    source: Source
    question: str
    spec: QuerySpec
    created_at: datetime
    created_run: str | None

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `segmint audience show --json` (docs/cli.md)."""
        return {"name": self.name, "source": self.source, "question": self.question,
                "query": self.spec.model_dump(mode="json", exclude_defaults=True),
                "created_at": self.created_at.isoformat(timespec="seconds"),
                "created_run": self.created_run}


@dataclass(frozen=True)
class HistoryRow:
    """One evaluation of an audience, or one segment's state, at one run."""

    target: str
    run_id: str
    as_of: str
    size: int
    revenue_share: float
    entered: int
    left: int
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return asdict(self)


class AudienceStore:
    """Reads and writes one workspace's saved audiences and their per-run history."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.path / "audiences"

    # ------------------------------------------------------------------ definitions
    def saved(self) -> list[Audience]:
        """Every saved audience, in the order saved."""
        return [_audience(d) for d in self._definitions().values()]

    def get(self, name: str) -> Audience:
        """One audience by name (case-insensitive).

        Raises:
            InputError: no audience has that name.
        """
        found = self._definitions().get(_key(name))
        if found is None:
            saved = ", ".join(a.name for a in self.saved()[:8]) or "none yet"
            raise InputError(f"no audience '{name}' (saved: {saved})", field="NAME", kind="argument",
                             fix="see `segmint audience list`, or save one with `segmint audience save`")
        return _audience(found)

    def exists(self, name: str) -> bool:
        """Whether an audience of that name is saved."""
        return _key(name) in self._definitions()

    def save(self, audience: Audience, *, replace: bool = False) -> None:
        """Store a definition (under the write lock).

        Raises:
            InputError: a bad name, or the name is taken and `replace` is False.
        """
        check_name(audience.name)
        with self.workspace.lock():
            defs = self._definitions()
            if _key(audience.name) in defs and not replace:
                raise InputError(f"an audience '{audience.name}' is already saved", field="NAME",
                                 kind="argument", fix="pick another name, or pass --replace")
            defs[_key(audience.name)] = audience.to_json()
            self._write_definitions(defs)

    def delete(self, name: str) -> Audience:
        """Remove an audience and its history.

        Raises:
            InputError: no audience has that name.
        """
        audience = self.get(name)
        with self.workspace.lock():
            defs = self._definitions()
            defs.pop(_key(name), None)
            self._write_definitions(defs)
            rows = [r for r in self._history() if r.target != _target(audience.name)]
            self._write_history(rows)
            for path in self._members_dir(_target(audience.name)).glob("*.parquet"):
                path.unlink(missing_ok=True)
        return audience

    # ------------------------------------------------------------------ history
    def history(self, target: str | None = None) -> list[HistoryRow]:
        """Recorded evaluations, oldest first; of one target (`audience:NAME`, `segment:ID`)."""
        rows = self._history()
        return rows if target is None else [r for r in rows if r.target == target]

    def members(self, target: str, run_id: str) -> list[str] | None:
        """The user ids a target had at a run (None when that run was not recorded)."""
        path = self._members_dir(target) / f"{run_id}.parquet"
        if not path.exists():
            return None
        return [str(u) for u in pq.read_table(path, columns=["user_id"]).column(0).to_pylist()]

    def segment_snapshot(self, run_id: str) -> Path | None:
        """The parquet file (user_id, segment_id) of every customer's segment at a run, if recorded."""
        path = self._members_dir("segments") / f"{run_id}.parquet"
        return path if path.exists() else None

    def record(self, rows: list[HistoryRow], members: dict[str, list[str]],
               segments: pa.Table | None = None) -> None:
        """Append evaluations of one run: the rows, each target's members, the segment snapshot
        (a table of user_id, segment_id).

        The caller holds the write lock (`Workspace.lock`).
        """
        for target, ids in members.items():
            run_id = next(r.run_id for r in rows if r.target == target)
            _write_parquet(self._members_dir(target) / f"{run_id}.parquet",
                           pa.table({"user_id": pa.array(sorted(ids), pa.string())}))
        if segments is not None and rows:
            _write_parquet(self._members_dir("segments") / f"{rows[0].run_id}.parquet", segments)
        done = {(r.target, r.run_id) for r in rows}
        kept = [r for r in self._history() if (r.target, r.run_id) not in done]
        self._write_history(kept + rows)

    # ------------------------------------------------------------------ files
    def _definitions(self) -> dict[str, dict[str, Any]]:
        path = self.root / "definitions.json"
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read saved audiences: {exc}", file=path,
                             fix="restore the file from a backup, or delete it to start afresh") from exc
        return dict(data)

    def _write_definitions(self, defs: dict[str, dict[str, Any]]) -> None:
        write_atomic(self.root / "definitions.json",
                     json.dumps(defs, indent=1, ensure_ascii=False).encode("utf-8"))

    def _history(self) -> list[HistoryRow]:
        path = self.root / "history.jsonl"
        if not path.exists():
            return []
        return [HistoryRow(**json.loads(line)) for line in
                path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _write_history(self, rows: list[HistoryRow]) -> None:
        text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows)
        write_atomic(self.root / "history.jsonl", text.encode("utf-8"))

    def _members_dir(self, target: str) -> Path:
        return self.root / "members" / _slug(target)


def check_name(name: str) -> str:
    """An audience name: letters, digits, spaces and a little punctuation, at most 80 characters.

    Raises:
        InputError: the name is empty, too long or has other characters.
    """
    if not name.strip() or len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name.strip()):
        raise InputError(f"bad audience name {name[:40]!r}", field="NAME", kind="argument",
                         fix=f"use letters, digits, spaces and . ' & + - (at most {MAX_NAME_CHARS})")
    return name.strip()


def audience_target(name: str) -> str:
    """The history key of an audience."""
    return _target(name)


def _target(name: str) -> str:
    return "audience:" + _key(name)


def _key(name: str) -> str:
    return " ".join(name.lower().split())


def _slug(target: str) -> str:
    return re.sub(r"[^\w.-]+", "_", target, flags=re.UNICODE)[:120]


def _audience(d: dict[str, Any]) -> Audience:
    return Audience(name=d["name"], source=d["source"], question=d["question"],
                    spec=QuerySpec.model_validate(d["query"]),
                    created_at=datetime.fromisoformat(d["created_at"]), created_run=d.get("created_run"))


def _write_parquet(path: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(path, sink.getvalue().to_pybytes())
