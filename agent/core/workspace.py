"""A workspace: one directory with a DuckDB database and side files, replaced atomically per run.

A run builds a complete new database next to the current one and moves it into place with one
`os.replace`, so a run that fails or is killed leaves the previous workspace intact and usable.
Side files (indexes, models) live in `files/<run_id>/`; the database names the run it belongs to,
so the switch of the database switches them too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from segmint.agent.core.errors import UsageError
from segmint.agent.core.records import (
    RunInfo,
    Segment,
    SegmentProfile,
    SegmentRun,
    read_latest_run,
    read_segment,
    read_segment_run,
    read_segments,
)
from segmint.agent.core.schema import RUNS
from segmint.agent.core.versions import versions

__all__ = ["DB_NAME", "RunRecord", "Workspace", "connect"]

DB_NAME = "segmint.duckdb"
_READERS: dict[Path, tuple[tuple[int, int, int], duckdb.DuckDBPyConnection]] = {}
_READERS_LOCK = threading.Lock()


def connect(path: Path | str, *, read_only: bool = False, temp_dir: Path | None = None,
            memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with the settings every segmint connection uses."""
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    if not read_only:
        # Insertion order is irrelevant to every table we build and costs memory on big loads.
        con.execute("SET preserve_insertion_order = false")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


@dataclass
class RunRecord:
    """What a run records about itself in the `runs` table."""

    run_id: str
    command: str
    params: dict[str, Any]
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class Workspace:
    """A directory holding one segmint database and its side files.

    Args:
        path: the directory; created on the first run.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def db_path(self) -> Path:
        """The current database file."""
        return self.path / DB_NAME

    def exists(self) -> bool:
        """Whether a run has completed here."""
        return self.db_path.exists()

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Open the current database read-only.

        Raises:
            UsageError: when no run has completed in this workspace yet.
        """
        if not self.exists():
            raise UsageError(
                f"{self.path}: no segmint workspace here yet — run `segmint run EVENTS -w "
                f"{self.path}` first"
            )
        return connect(self.db_path, read_only=True)

    def version(self) -> tuple[int, int, int]:
        """Identifies the current database file: changes whenever a run replaces it."""
        st = self.db_path.stat()
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A read-only cursor on the current database; one open database is shared per process.

        Opening a database costs tens of milliseconds, which would dominate answering a question,
        so the opened database is kept and reopened only when a run has replaced the file.
        Close the cursor when done; the shared database stays open.

        Raises:
            UsageError: when no run has completed in this workspace yet.
        """
        if not self.exists():
            self.connect()  # raises the usage error
        key = self.version()
        with _READERS_LOCK:
            cached = _READERS.get(self.db_path)
            if cached is None or cached[0] != key:
                if cached is not None:
                    cached[1].close()
                cached = (key, connect(self.db_path, read_only=True))
                _READERS[self.db_path] = cached
            cursor = cached[1].cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    def close_readers(self) -> None:
        """Close this process's shared reader of the current database.

        DuckDB hands every connection to a path in one process the same open database, so a
        reader left open across a run would keep showing the replaced file to `connect()`.
        """
        with _READERS_LOCK:
            cached = _READERS.pop(self.db_path, None)
        if cached is not None:
            cached[1].close()

    def latest_run(self) -> RunInfo | None:
        """The run that produced the current database; None before the first run."""
        if not self.exists():
            return None
        with contextlib.closing(self.connect()) as con:
            return read_latest_run(con)

    def current_run_id(self) -> str | None:
        """The id of the run that produced the current database."""
        run = self.latest_run()
        return None if run is None else run.run_id

    def segments(self) -> list[Segment]:
        """Every segment, largest first and Unassigned last.

        Raises:
            UsageError: when no run has completed in this workspace yet.
        """
        with contextlib.closing(self.connect()) as con:
            return read_segments(con)

    def segment(self, segment_id: int | str) -> Segment | None:
        """One segment by id (None when there is no such segment).

        Raises:
            UsageError: when no run has completed in this workspace yet.
        """
        with contextlib.closing(self.connect()) as con:
            return read_segment(con, segment_id)

    def profile(self, segment_id: int | str) -> SegmentProfile | None:
        """The facts of one segment (None for an unknown segment or one without members).

        Raises:
            UsageError: when no run has completed in this workspace yet.
        """
        found = self.segment(segment_id)
        return None if found is None else found.profile

    def segment_run(self) -> SegmentRun | None:
        """The segment step's facts of the current run (the newcomer model's held-out accuracy...).

        Raises:
            UsageError: when no run has completed in this workspace yet.
        """
        with contextlib.closing(self.connect()) as con:
            return read_segment_run(con)

    def current_files(self) -> Path:
        """The side-file directory of the current run.

        Raises:
            UsageError: no run has completed here yet.
        """
        run_id = self.current_run_id()
        if run_id is None:
            raise UsageError(f"{self.path}: no segmint workspace here yet — run `segmint run` first")
        return self.files_dir(run_id)

    def files_dir(self, run_id: str) -> Path:
        """Where a run's side files live."""
        return self.path / "files" / run_id

    @contextlib.contextmanager
    def new_run(self, command: str, params: dict[str, Any]) -> Iterator[
        tuple[duckdb.DuckDBPyConnection, RunRecord]
    ]:
        """Build a new database for a run; it replaces the current one only if the block succeeds.

        Yields:
            A connection to the new (staging) database, with the previous runs' history copied in,
            and the record to fill with counts and stage seconds.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with self.lock():
            self._remove_leftovers()
            record = RunRecord(run_id=_new_run_id(), command=command, params=params)
            staging = self.path / f".{DB_NAME}.{record.run_id}.tmp"
            tmp_dir = self.path / ".tmp"
            tmp_dir.mkdir(exist_ok=True)
            # DuckDB spills to tmp_dir beyond this, which keeps big runs within a laptop's memory.
            con = connect(staging, temp_dir=tmp_dir,
                          memory_limit=os.environ.get("SEGMINT_MEMORY_LIMIT", "2GB"))
            try:
                RUNS.create(con)
                if self.exists():
                    con.execute(f"ATTACH '{self.db_path}' AS previous (READ_ONLY)")
                    con.execute("INSERT INTO runs SELECT * FROM previous.runs")
                    con.execute("DETACH previous")
                yield con, record
                _record_run(con, record)
                con.execute("CHECKPOINT")
                con.close()
                os.replace(staging, self.db_path)
                _fsync_dir(self.path)
            except BaseException:
                con.close()
                staging.unlink(missing_ok=True)
                Path(str(staging) + ".wal").unlink(missing_ok=True)
                shutil.rmtree(self.files_dir(record.run_id), ignore_errors=True)
                raise
            finally:
                shutil.rmtree(tmp_dir, ignore_errors=True)
            self._remove_stale_files(keep=record.run_id)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workspace's write lock (runs and every other write take it).

        Raises:
            UsageError: another command is writing this workspace.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise UsageError(
                    f"{self.path}: another segmint run is writing this workspace; wait for it"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _remove_leftovers(self) -> None:
        """Remove what killed runs left: staging databases, spill files, side files of no run.

        Called with the lock held, so no run is writing them; the current run's files are kept.
        """
        for stale in self.path.glob(f".{DB_NAME}.*.tmp*"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(self.path / ".tmp", ignore_errors=True)
        self._remove_stale_files(keep=self.current_run_id())

    def _remove_stale_files(self, keep: str | None) -> None:
        root = self.path / "files"
        if root.is_dir():
            for child in root.iterdir():
                if child.name != keep:
                    shutil.rmtree(child, ignore_errors=True)


def _record_run(con: duckdb.DuckDBPyConnection, record: RunRecord) -> None:
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.run_id, record.started_at, datetime.now(UTC).replace(tzinfo=None),
            record.command, json.dumps(record.params, default=str), json.dumps(versions()),
            json.dumps(record.counts, default=str), json.dumps(record.seconds),
        ],
    )


def _new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
