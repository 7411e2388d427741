"""Open event and user files of any supported format as a DuckDB relation of text columns.

Everything is read as VARCHAR so that ids keep their leading zeros and so that a bad value in one
row becomes a rejected row with a reason instead of a failed read. Parsing happens later, in SQL.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from segmint.agent.core.errors import InputError
from segmint.agent.core.sql import sql_ident, sql_str
from segmint.agent.ingest._csvscan import Layout, detect_encoding, header_line, lf_copy, scan_layout

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = ",;\t|"
# A longer line is a reject ("line longer than 64 MB"). Far above any real event line: a line
# between DuckDB's default 2 MB and this is read, and an over-long field in it is rejected by name
# (MAX_FIELD_CHARS in agent/ingest/events.py). At 2 MB, DuckDB 2.0.1 also skipped, unlogged, the
# line after two consecutive over-long lines.
MAX_LINE_BYTES = 64 << 20


@dataclass(frozen=True)
class Source:
    """A readable file: the SQL that yields its rows as text, its columns, and parser rejects.

    Attributes:
        path: the file.
        relation: a SQL table expression whose columns are all VARCHAR.
        columns: the column names, as in the file.
        rejects_table: for CSV and JSON Lines, the DuckDB table where the reader keeps lines it
            could not read (malformed, too long, undecodable).
        layout: for CSV, the lines the reader skips itself (comments before the header, blanks).
        encoding: the text encoding the file is read with.
        copy: a temporary copy the relation reads instead of `path` (deleted after loading).
    """

    path: Path
    relation: str
    columns: tuple[str, ...]
    rejects_table: str | None = None
    layout: Layout | None = None
    encoding: str = "utf-8"
    copy: Path | None = None


def file_format(path: Path) -> str:
    """Name the format of a file from its suffix: csv, jsonl or parquet."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise InputError(
        "unknown file type",
        file=path,
        fix="give a .csv, .csv.gz, .parquet or .jsonl file",
    )


def open_source(
    con: duckdb.DuckDBPyConnection, path: Path, tag: str, encoding: str | None = None
) -> Source:
    """Open one file for reading as text columns.

    Args:
        con: the connection the relation will be used on.
        path: the file.
        tag: a short unique name for temporary objects belonging to this file.
        encoding: of a CSV or JSON Lines file; None detects UTF-16 and UTF-8 byte-order marks.

    Raises:
        InputError: the file is missing, unreadable, empty, has no usable header, or is in an
            encoding that cannot be read.
    """
    if not path.exists():
        raise InputError("file not found", file=path, fix="check the path")
    if path.is_dir():
        raise InputError("is a directory, not a file", file=path, fix="name the files inside it")
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=path, fix="export the events again")
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            source = _parquet(con, path)
        elif fmt == "jsonl":
            source = _jsonl(con, path, tag, detect_encoding(path, encoding))
        else:
            source = _csv(con, path, tag, detect_encoding(path, encoding))
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise InputError(f"cannot read {fmt}: {message[:200]}", file=path,
                         fix=f"check that it is a valid {fmt} file") from exc
    if not source.columns:
        raise InputError("no columns found", file=path, fix="the first line must be a header")
    return source


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[str, ...]:
    return tuple(row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall())


def _csv(con: duckdb.DuckDBPyConnection, path: Path, tag: str, encoding: str) -> Source:
    # The dialect is fixed, not sniffed: a sniffer left to guess a comment character would drop
    # lines, and one that chokes on a long line would refuse the file.
    number, header = header_line(path, encoding)
    delim, names = _dialect(header)
    if names == ("column0",):
        raise InputError("no header line found", file=path, fix="add a header line with column names")
    quote = escape = '"'
    layout = scan_layout(path, encoding, delimiter=delim, quote=quote)
    copy = None
    if layout.mixed_newlines and encoding != "utf-16":
        copy = lf_copy(path, Path(tempfile.mkdtemp(prefix="segmint-lf-")))
    common = (
        f"{sql_str(str(copy or path))}, header=true, skip={number - 1}, comment='', "
        f"encoding={sql_str(encoding)}"
    )
    rejects = f"csv_rejects_{tag}"
    columns = ", ".join(f"{sql_str(n)}: 'VARCHAR'" for n in names)
    relation = (
        f"read_csv({common}, delim={sql_str(delim)}, quote={sql_str(quote)}, "
        f"escape={sql_str(escape)}, auto_detect=false, columns={{{columns}}}, "
        f"max_line_size={MAX_LINE_BYTES}, "
        f"store_rejects=true, rejects_table={sql_str(rejects)}, "
        f"rejects_scan={sql_str(rejects + '_scan')})"
    )
    return Source(path, relation, names, rejects, layout, encoding, copy)


def _dialect(header: str) -> tuple[str, tuple[str, ...]]:
    """The delimiter and column names, from the header line.

    DuckDB's sniffer is not used: on a file with ragged lines it may pick the wrong delimiter, and
    it refuses a sample with an over-long line.
    """
    delim = max(DELIMITERS, key=header.count)
    names: list[str] = []
    for i, raw in enumerate(next(csv.reader([header], delimiter=delim), [])):
        name = raw.strip() or f"column{i}"
        while name in names:  # DuckDB's rule for repeated names
            name += "_1"
        names.append(name)
    return delim, tuple(names)


def _parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    raw = f"read_parquet({sql_str(str(path))})"
    names = _columns(con, raw)
    casts = ", ".join(f"CAST({sql_ident(n)} AS VARCHAR) AS {sql_ident(n)}" for n in names)
    return Source(path, f"(SELECT {casts} FROM {raw})", names)


def _jsonl(con: duckdb.DuckDBPyConnection, path: Path, tag: str, encoding: str) -> Source:
    # One VARCHAR per line, so that a malformed line is a reject with a reason rather than a failed
    # read; unit separator as delimiter because JSON text never contains it unescaped.
    rejects = f"jsonl_rejects_{tag}"
    lines = (
        f"read_csv({sql_str(str(path))}, columns={{'line': 'VARCHAR'}}, delim=chr(31), quote='', "
        f"escape='', header=false, auto_detect=false, encoding={sql_str(encoding)}, "
        f"max_line_size={MAX_LINE_BYTES}, "
        f"store_rejects=true, rejects_table={sql_str(rejects)}, "
        f"rejects_scan={sql_str(rejects + '_scan')})"
    )
    keys = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT unnest(json_keys(line)) AS k FROM {lines} "
            "WHERE json_valid(line) AND json_type(line) = 'OBJECT' ORDER BY k"
        ).fetchall()
    ]
    if not keys:
        raise InputError("no JSON objects found", file=path, fix="write one JSON object per line")
    # A JSON value that is itself an object or array is kept as its JSON text.
    fields = ", ".join(
        f"CASE WHEN json_valid(line) THEN json_extract_string(line, {sql_str('$.' + _json_key(k))}) "
        f"END AS {sql_ident(k)}"
        for k in keys
    )
    relation = (
        f"(SELECT {fields}, CASE WHEN line IS NULL OR trim(line) = '' THEN 'blank line' "
        "WHEN NOT json_valid(line) OR json_type(line) <> 'OBJECT' "
        f"THEN 'invalid JSON line' END AS __json_error, line AS __json_line FROM {lines})"
    )
    return Source(path, relation, tuple(keys), rejects, encoding=encoding)


def _json_key(key: str) -> str:
    return '"' + key.replace('"', '\\"') + '"'
