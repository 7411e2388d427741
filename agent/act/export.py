"""Customer lists for campaigns: CSV, Parquet or JSON Lines, one row per customer with a reason;
and the numbers of an answer (a table's rows, a number as one row) in the same formats.

Writing files is an act: the Answerer (agent/ask/answer.py) only selects; `export_selection`
writes. Every format has the same columns with the same types: `segment_id` a nullable integer,
`recency_days` a nullable integer (docs/cli.md "export"). Each customer's `why` says why their
segment fits them: their own products matching its phrases, how typical they are (agent/describe/
why.py).

Every export carries the typed definition it was made from (question, QuerySpec, segment or
audience, run and as_of), so `segmint audience save NAME --from-export FILE` can keep it: in a
Parquet file's key-value metadata, beside a CSV or JSON Lines file in `FILE.definition.json`
(docs/definitions.md "What an export carries").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from segmint.agent.act.audit import export_skew
from segmint.agent.ask.answer import Answer, Selection
from segmint.agent.core.errors import InputError
from segmint.agent.core.files import write_atomic
from segmint.agent.core.records import read_latest_run
from segmint.agent.core.sql import sql_ident
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import Reason, describe_customer, segment_reasons
from segmint.agent.query import QuerySpec

if TYPE_CHECKING:  # an audience diff is written by `audience diff` alone: exports skip its import
    from segmint.agent.audience.evaluate import AudienceDiff

log = logging.getLogger(__name__)
FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
COLUMNS = ("user_id", "segment_id", "segment_name", "recency_days", "orders", "revenue", "why")
DEFINITION_KEY = "segmint.definition"  # the Parquet key-value metadata entry
DEFINITION_SUFFIX = ".definition.json"  # the sidecar beside a CSV or JSON Lines export
DEFINITION_VERSION = 1
_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE"}  # the columns' Arrow types


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
                    salt: str | None = None, con: duckdb.DuckDBPyConnection | None = None,
                    definition: dict[str, Any] | None = None) -> int:
    """Write one row per customer atomically (temp file, then rename).

    Args:
        rows: users-table rows, optionally with segment_id/segment_name/why.
        path: destination.
        fmt: csv, parquet or jsonl.
        currency: symbol for the reason text.
        salt: when given, user ids are replaced by salted SHA-256 hashes.
        con: the workspace's connection; when given, each `why` adds why the customer's segment
            fits them (`segment_reasons`), and a warning is logged for each customer attribute on
            which the list is skewed (see segmint.agent.act.audit).
        definition: what the list was made from (`definition_document`), carried by the file.

    Returns:
        The number of rows written.

    Raises:
        InputError: the file cannot be written.
    """
    reasons: dict[str, Reason] = {}
    if con is not None:
        ids = [str(r.get("user_id")) for r in rows]
        for warning in export_skew(con, ids):
            log.warning(warning)
        reasons = segment_reasons(con, ids) if _has_segments(con) else {}
    records = []
    for row in rows:
        rec = {c: row.get(c) for c in COLUMNS}
        reason = reasons.get(str(row.get("user_id"))) if row.get("segment_id") is not None else None
        # A question's why (the customer's numbers, then what they did that it asked about) comes
        # first; why their segment fits them follows, as `segmint user` says it.
        said = row.get("why")
        rec["why"] = (describe_customer(row, currency, reason=reason) if not said
                      else f"{said}; {reason.text()}" if reason is not None else said)
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
    return _write(records, schema, path, fmt, definition, con)


def write_rows(rows: list[dict[str, Any]], path: Path, fmt: str,
               definition: dict[str, Any] | None = None,
               con: duckdb.DuckDBPyConnection | None = None) -> int:
    """Write an answer's numbers (a table's rows, or one number's row) atomically.

    Columns: a table's `group, value, customers, measure`; a number's `measure, value,
    customers, definition` (value a float, customers an integer). `con`, an open connection (the
    workspace's), builds the file's table; without one a private in-memory database does.

    Raises:
        InputError: the file cannot be written.
    """
    names = list(rows[0]) if rows else ["group", "value", "customers", "measure"]
    types = {"value": pa.float64(), "customers": pa.int64()}
    schema = pa.schema([(n, types.get(n, pa.string())) for n in names])
    records = [{n: row.get(n) for n in names} for row in rows]
    return _write(records, schema, path, fmt, definition, con)


def _has_segments(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'segments'"
                            ).fetchone() == (1,))


def _write(records: list[dict[str, Any]], schema: pa.Schema, path: Path, fmt: str,
           definition: dict[str, Any] | None = None, con: duckdb.DuckDBPyConnection | None = None
           ) -> int:
    """Write records of one schema to `path` atomically (temp file, then rename), and the
    definition they were made from: in a Parquet file's metadata, else in its sidecar."""
    table = _arrow_table(records, schema, con)
    sidecar = definition_path(path)
    tmp = _temp_file(path)
    try:
        if fmt == "parquet":
            # pyarrow.parquet (with pyarrow.fs and ssl) costs a cold CSV export ~25 ms: loaded
            # only for a Parquet file (bench/RESULTS.md "Cold start").
            import pyarrow.parquet as pq

            if definition is not None:
                table = table.replace_schema_metadata(
                    {DEFINITION_KEY: json.dumps(definition, ensure_ascii=False)})
            pq.write_table(table, tmp)
        elif fmt == "csv":
            pacsv.write_csv(table, tmp)
        else:
            with tmp.open("w", encoding="utf-8") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        digest = _sha256(tmp)
        os.replace(tmp, path)
        # The sidecar follows its file (one exists only beside the file it describes); a stale one
        # from an earlier export to the same name goes.
        if fmt == "parquet" or definition is None:
            sidecar.unlink(missing_ok=True)
        else:
            doc = {**definition, "file": {"name": path.name, "format": fmt, "sha256": digest}}
            write_atomic(sidecar, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
                                   ).encode("utf-8"))
    except OSError as exc:  # a full disk, a folder removed meanwhile...
        raise _unwritable(path, exc) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return len(records)


def _arrow_table(records: list[dict[str, Any]], schema: pa.Schema,
                 con: duckdb.DuckDBPyConnection | None) -> pa.Table:
    """The records as an Arrow table of `schema`, built by DuckDB from one bound list per column:
    pyarrow building arrays from Python objects imports pandas, and casting a table imports
    pyarrow.compute, most of a cold `segmint export` (bench/RESULTS.md "Cold start"). DuckDB's
    VARCHAR, BIGINT and DOUBLE are Arrow's string, int64 and double: the schema is `schema`'s."""
    columns = ", ".join(f"unnest(?::{_SQL_TYPES[str(f.type)]}[]) AS {sql_ident(f.name)}" for f in schema)
    values = [[rec.get(f.name) for rec in records] for f in schema]
    if con is not None:  # opening a second DuckDB database costs a cold export ~20 ms
        return con.sql(f"SELECT {columns}", params=values).to_arrow_table()
    with contextlib.closing(duckdb.connect()) as own:
        return own.sql(f"SELECT {columns}", params=values).to_arrow_table()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def definition_path(path: Path) -> Path:
    """Where a CSV or JSON Lines export's definition lies: `FILE.definition.json` beside it."""
    return path.with_name(path.name + DEFINITION_SUFFIX)


def definition_document(con: duckdb.DuckDBPyConnection, question: str, query: dict[str, Any], *,
                        kind: str = "customers", definition: str = "", audience: str | None = None,
                        excluded: Sequence[str] = (), contents: str = "members") -> dict[str, Any]:
    """What an export was made from, as its file carries it (docs/definitions.md "What an
    export carries").

    Args:
        con: the workspace's connection (its current run).
        question: the question as asked ("segment 3" for a segment).
        query: the QuerySpec the list was selected by (`Answer.query`).
        kind: the answer's kind (customers, number, table).
        definition: the definition in words, with the actual dates.
        audience: the saved audience the list is of, if any.
        excluded: saved audiences whose members were left out (not part of `query`).
        contents: `members`, or what else the rows are (an audience's entered and left).
    """
    spec = QuerySpec.model_validate(query)
    run = read_latest_run(con)
    segments = [c.segment for g in spec.any_of for c in g if c.kind == "segment"]
    one_segment = len(spec.any_of) == 1 and len(spec.any_of[0]) == 1 and len(segments) == 1
    source = "audience" if audience else "segment" if one_segment else "question"
    return {"segmint_definition": DEFINITION_VERSION, "source": source, "question": question,
            "query": spec.model_dump(mode="json", exclude_defaults=True), "kind": kind,
            "definition": definition, "segment_id": segments[0] if one_segment else None,
            "audience": audience, "excluded_audiences": list(excluded), "contents": contents,
            "run_id": None if run is None else run.run_id,
            "as_of": None if run is None or run.as_of is None
            else run.as_of.isoformat(timespec="seconds"),
            "written_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")}


def read_definition(path: Path) -> dict[str, Any]:
    """The definition an export carries (`definition_document`), with its QuerySpec checked.

    Raises:
        InputError: no such file; a file segmint did not write (no definition), one changed since
            it was written, or a definition that does not read.
    """
    if not path.is_file():
        raise InputError("no such file", file=path, fix="give the path of a file segmint exported")
    doc: Any = None
    with path.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    if parquet:
        import pyarrow.parquet as pq

        try:
            meta = pq.read_schema(path).metadata or {}
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read this Parquet file ({exc})", file=path,
                             fix="give a file segmint exported") from exc
        raw = meta.get(DEFINITION_KEY.encode())
        doc = None if raw is None else _definition_json(raw, path)
    sidecar = definition_path(path)
    if doc is None and not parquet and sidecar.is_file():
        doc = _definition_json(sidecar.read_bytes(), sidecar)
        written = (doc.get("file") or {}).get("sha256") if isinstance(doc, dict) else None
        if written != _sha256(path):
            raise InputError(f"changed since segmint wrote it ({sidecar.name} describes the "
                             "file as it was)", file=path,
                             fix=f"export it again, or delete the stale {sidecar.name}")
    if doc is None:
        raise InputError("carries no segmint definition (segmint did not export it)", file=path,
                         fix="save from the question or segment (--question Q or --segment ID), "
                             "or export the list again with segmint, which keeps its definition")
    where = path if parquet else sidecar
    if not isinstance(doc, dict) or doc.get("segmint_definition") != DEFINITION_VERSION:
        raise InputError("not a segmint export definition this version reads", file=where,
                         fix="export the list again with this segmint")
    try:
        doc["query"] = QuerySpec.model_validate(doc.get("query")).model_dump(
            mode="json", exclude_defaults=True)
    except ValueError as exc:
        raise InputError(f"its query does not read ({str(exc).splitlines()[0]})", file=where,
                         field="query", fix="export the list again with segmint") from exc
    return dict(doc)


def _definition_json(raw: bytes, path: Path) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"the definition is not JSON ({exc})", file=path,
                         fix="export the list again with segmint") from exc


def export_selection(workspace: Workspace, selection: Selection, path: Path, *,
                     fmt: str | None = None, hash_ids: bool = False, mkdir: bool = False,
                     audience: str | None = None, excluded: Sequence[str] = ()) -> Answer:
    """Write what an answer selects (`Answerer.select...`) to a file: its customers, or, for a
    number or a table, its rows; with the definition they were selected by.

    Args:
        workspace: the workspace the selection was read from (its salt; skew warnings).
        selection: the answer and every customer it selects.
        path: destination.
        fmt: csv, parquet or jsonl (default from the suffix).
        hash_ids: write salted SHA-256 ids instead of raw ids.
        mkdir: create a missing folder instead of refusing it.
        audience: the saved audience the selection is of, if any (its definition says so).
        excluded: the saved audiences left out of it (`--exclude`).

    Returns:
        The answer, with `export` set to the file written.

    Raises:
        InputError: unknown format or a path that cannot be written (`prepare_output`).
    """
    chosen = prepare_output(path, fmt, mkdir=mkdir)
    salt = workspace_salt(workspace.path) if hash_ids else None
    answer = selection.answer
    with contextlib.closing(workspace.reader()) as con:
        definition = definition_document(con, answer.question, answer.query, kind=answer.kind,
                                         definition=answer.definition, audience=audience,
                                         excluded=excluded)
        if answer.kind != "customers":
            write_rows(selection.rows, path, chosen, definition, con)
        else:
            write_customers(selection.customers, path, chosen, currency=selection.currency,
                            salt=salt, con=con, definition=definition)
    answer.export = str(path)
    return answer


def export_diff(workspace: Workspace, result: AudienceDiff, path: Path, fmt: str) -> int:
    """Write who entered and left an audience (`audience diff --export`), `why` starting with
    `entered:` or `left:`, with the audience's definition.

    Raises:
        InputError: the file cannot be written.
    """
    audience = result.audience
    with contextlib.closing(workspace.reader()) as con:
        definition = definition_document(
            con, audience.question, audience.spec.model_dump(mode="json", exclude_defaults=True),
            audience=audience.name,
            contents=f"who entered and left since run {result.since['run_id']}")
        return write_customers(result.rows(), path, fmt, currency=result.currency, con=con,
                               definition=definition)
