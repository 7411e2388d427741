"""Customer lists for campaigns: CSV, Parquet or JSON Lines, one row per customer with a reason;
and the numbers of an answer (a table's rows, a number as one row) in the same formats.

Writing files is an act: the Answerer (agent/ask/answer.py) only selects; `export_selection`
writes. Every format has the same columns with the same types: `segment_id` a nullable integer,
`recency_days` a nullable integer (docs/cli.md "export").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segmint.agent.act.audit import export_skew
from segmint.agent.ask.answer import Answer, Selection
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import describe_customer

log = logging.getLogger(__name__)
FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
COLUMNS = ("user_id", "segment_id", "segment_name", "recency_days", "orders", "revenue", "why")


def export_format(path: Path, fmt: str | None, formats: tuple[str, ...] = FORMATS) -> str:
    """The format to write: given, or from the file's suffix (none means csv).

    Raises:
        InputError: unknown format, or a suffix that names none of `formats`.
    """
    if fmt is None and path.suffix:
        chosen = _SUFFIXES.get(path.suffix.lower())
        if chosen not in formats:
            excel = " (Excel opens .csv)" if path.suffix.lower().startswith(".xls") else ""
            raise InputError(f"unknown export file type '{path.suffix}'", file=path,
                             fix=f"name the file {_or(tuple('.' + f for f in formats))}{excel}")
        return str(chosen)
    chosen = fmt or "csv"
    if chosen not in formats:
        raise InputError(f"unknown export format '{chosen}'", field="--format",
                         kind="option", fix=f"use {_or(formats)}")
    return chosen


def prepare_output(path: Path, fmt: str | None = None, *, mkdir: bool = False,
                   formats: tuple[str, ...] = FORMATS) -> str:
    """Check that a file of a known format can be written at `path`, before any work is done.

    Args:
        path: destination file.
        fmt: the format asked for (default from the suffix).
        mkdir: create a missing folder instead of refusing it.
        formats: the formats the caller writes.

    Returns:
        The format to write.

    Raises:
        InputError: unknown format, a folder or special file at `path`, a missing folder (without
            `mkdir`), or a folder nobody may write to.
    """
    chosen = export_format(path, fmt, formats)
    if path.is_dir():
        raise InputError("is a folder, not a file", file=path,
                         fix=f"give a file name inside it, e.g. {path / ('customers.' + chosen)}")
    if path.exists() and not path.is_file():
        raise InputError("is not a regular file", file=path, fix="give the path of a file to write")
    folder = path.parent
    if not folder.is_dir():
        # The nearest part of the path that exists: a file there is a file used as a folder.
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir():
            raise InputError(f"{existing} is a file, not a folder", file=path,
                             fix="choose a path inside a folder")
        if not mkdir:
            raise InputError(f"folder {folder} does not exist", file=path,
                             fix="create it first, or add --mkdir")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(path, exc) from exc
    _temp_file(path).unlink()
    return chosen


def _or(formats: tuple[str, ...]) -> str:
    return formats[0] if len(formats) == 1 else f"{', '.join(formats[:-1])} or {formats[-1]}"


def _unwritable(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write here ({exc.strerror or exc})", file=path,
                      fix="choose a folder you can write to")


def _temp_file(path: Path) -> Path:
    """A new empty file beside `path` (same folder, so `os.replace` onto `path` is atomic)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 like open(): the umask decides, as it did for files written directly.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    return tmp


def hash_id(user_id: str, salt: str) -> str:
    """Salted SHA-256 of an id, hex (for ad platforms that must not see raw ids)."""
    return hashlib.sha256((salt + user_id).encode("utf-8")).hexdigest()


def workspace_salt(workspace_path: Path) -> str:
    """The salt for hashed ids: SEGMINT_HASH_SALT, else one kept in the workspace."""
    env = os.environ.get("SEGMINT_HASH_SALT")
    if env:
        return env
    path = workspace_path / "hash-salt"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(16))
        os.replace(tmp, path)
    return path.read_text().strip()


def write_customers(rows: list[dict[str, Any]], path: Path, fmt: str, *, currency: str = "",
                    salt: str | None = None, audit_con: duckdb.DuckDBPyConnection | None = None
                    ) -> int:
    """Write one row per customer atomically (temp file, then rename).

    Args:
        rows: users-table rows, optionally with segment_id/segment_name/why.
        path: destination.
        fmt: csv, parquet or jsonl.
        currency: symbol for the reason text.
        salt: when given, user ids are replaced by salted SHA-256 hashes.
        audit_con: the workspace's connection; when given, a warning is logged for each customer
            attribute on which the list is skewed (see segmint.agent.act.audit).

    Returns:
        The number of rows written.

    Raises:
        InputError: the file cannot be written.
    """
    if audit_con is not None:
        for warning in export_skew(audit_con, [str(r.get("user_id")) for r in rows]):
            log.warning(warning)
    records = []
    for row in rows:
        rec = {c: row.get(c) for c in COLUMNS}
        rec["why"] = row.get("why") or describe_customer(row, currency)
        if isinstance(rec["revenue"], float):
            rec["revenue"] = round(rec["revenue"], 2)
        for name in ("segment_id", "recency_days", "orders"):  # whole numbers in every format
            value = rec[name]
            rec[name] = None if value is None else int(value)
        if salt is not None:
            rec["user_id"] = hash_id(str(rec["user_id"]), salt)
        records.append(rec)
    schema = pa.schema([("user_id", pa.string()), ("segment_id", pa.int64()),
                        ("segment_name", pa.string()), ("recency_days", pa.int64()),
                        ("orders", pa.int64()), ("revenue", pa.float64()), ("why", pa.string())])
    return _write(records, schema, path, fmt)


def write_rows(rows: list[dict[str, Any]], path: Path, fmt: str) -> int:
    """Write an answer's numbers (a table's rows, or one number's row) atomically.

    Columns: a table's `group, value, customers, measure`; a number's `measure, value,
    customers, definition` (value a float, customers an integer).

    Raises:
        InputError: the file cannot be written.
    """
    names = list(rows[0]) if rows else ["group", "value", "customers", "measure"]
    types = {"value": pa.float64(), "customers": pa.int64()}
    schema = pa.schema([(n, types.get(n, pa.string())) for n in names])
    records = [{n: row.get(n) for n in names} for row in rows]
    return _write(records, schema, path, fmt)


def _write(records: list[dict[str, Any]], schema: pa.Schema, path: Path, fmt: str) -> int:
    """Write records of one schema to `path` atomically (temp file, then rename)."""
    table = pa.Table.from_pylist(records, schema=schema)
    tmp = _temp_file(path)
    try:
        if fmt == "parquet":
            pq.write_table(table, tmp)
        elif fmt == "csv":
            pacsv.write_csv(table, tmp)
        else:
            with tmp.open("w", encoding="utf-8") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a folder removed meanwhile...
        raise _unwritable(path, exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return len(records)


def export_selection(workspace: Workspace, selection: Selection, path: Path, *,
                     fmt: str | None = None, hash_ids: bool = False, mkdir: bool = False
                     ) -> Answer:
    """Write what an answer selects (`Answerer.select...`) to a file: its customers, or, for a
    number or a table, its rows.

    Args:
        workspace: the workspace the selection was read from (its salt; skew warnings).
        selection: the answer and every customer it selects.
        path: destination.
        fmt: csv, parquet or jsonl (default from the suffix).
        hash_ids: write salted SHA-256 ids instead of raw ids.
        mkdir: create a missing folder instead of refusing it.

    Returns:
        The answer, with `export` set to the file written.

    Raises:
        InputError: unknown format or a path that cannot be written (`prepare_output`).
    """
    chosen = prepare_output(path, fmt, mkdir=mkdir)
    salt = workspace_salt(workspace.path) if hash_ids else None
    if selection.answer.kind != "customers":
        write_rows(selection.rows, path, chosen)
        selection.answer.export = str(path)
        return selection.answer
    with contextlib.closing(workspace.reader()) as con:
        write_customers(selection.customers, path, chosen, currency=selection.currency, salt=salt,
                        audit_con=con)
    selection.answer.export = str(path)
    return selection.answer
