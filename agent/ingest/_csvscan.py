"""One streaming pass over a text file: its encoding, where its header is, and its blank records.

DuckDB's CSV reader skips empty lines and, when it guesses a comment character, every line that
starts with it — silently. This pass finds those lines so that each one becomes a reject with its
line number (docs/definitions.md, "Input contract"). Lines are numbered the way DuckDB numbers them
in its own rejects: one per record, a quoted field spanning several lines counting once.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from segmint.agent.core.errors import InputError

# The encodings DuckDB decodes itself, by Python codec name; UTF-16 only little-endian.
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1",
                     "utf-16": "utf-16", "utf-16-le": "utf-16"}
SUPPORTED_ENCODINGS = "utf-8, latin-1, utf-16"
_PYTHON_CODECS = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16"}


@dataclass(frozen=True)
class Layout:
    """Where the records of a delimited text file are.

    Attributes:
        encoding: the encoding name to give DuckDB.
        header_line: the header's line number (1-based); lines before it are comments or blank.
        comment_lines: line numbers before the header that start with `#`.
        blank_lines: line numbers of empty records, before or after the header.
        records: how many records the file holds, the header included: the count every line
            read, accepted or rejected, is reconciled against.
        mixed_newlines: lines end in more than one way (CR LF, LF, a lone CR), which DuckDB
            (2.0.1) cannot read at all: such a file is read from a copy with LF line ends.
    """

    encoding: str
    header_line: int
    comment_lines: tuple[int, ...]
    blank_lines: tuple[int, ...]
    records: int = 0
    mixed_newlines: bool = False


def detect_encoding(path: Path, given: str | None) -> str:
    """Name the encoding DuckDB should read `path` with.

    Args:
        path: the file (may be gzip-compressed).
        given: the `--encoding` setting, or None to detect UTF-16 and UTF-8 byte-order marks.

    Raises:
        InputError: the encoding is unknown, or one DuckDB cannot decode.
    """
    if given is None:
        head = _head(path)
        if head.startswith(codecs.BOM_UTF16_LE) or head[1:2] == b"\x00":
            return "utf-16"
        if head.startswith(codecs.BOM_UTF16_BE) or head[:1] == b"\x00":
            raise InputError("the file is UTF-16 big-endian, which cannot be read directly",
                             file=path, fix="convert it: iconv -f UTF-16BE -t UTF-8 FILE > NEW")
        return "utf-8"
    try:
        name = codecs.lookup(given).name
    except LookupError:
        name = given
    if name not in _DUCKDB_ENCODINGS:
        raise InputError(f"encoding '{given}' is not supported (use {SUPPORTED_ENCODINGS})",
                         field="--encoding",
                         fix=f"convert the file: iconv -f {given} -t UTF-8 FILE > NEW")
    return _DUCKDB_ENCODINGS[name]


def scan_layout(path: Path, encoding: str, delimiter: str = ",", quote: str = '"') -> Layout:
    """Find the header line, the comment lines before it and every empty record.

    Args:
        path: the file (may be gzip-compressed).
        encoding: as returned by `detect_encoding`.
        delimiter: the field separator, to know where a quoted field may start.
        quote: the quote character ('' for none).
    """
    header = 0
    comments: list[int] = []
    blanks: list[int] = []
    record = 0
    in_quotes = False
    endings: set[str] = set()
    for line in _lines(path, encoding):
        endings.add(line[-2:] if line.endswith("\r\n") else line[-1:])
        if not in_quotes:
            record += 1
            body = line.rstrip("\r\n")
            if not body:
                blanks.append(record)
                continue
            if not header:
                if body.startswith("#"):
                    comments.append(record)
                    continue
                header = record
        if quote and quote in line:
            in_quotes = _ends_in_quotes(line, in_quotes, delimiter, quote)
    return Layout(encoding, header or 1, tuple(comments), tuple(blanks), record,
                  mixed_newlines=len(endings & {"\r\n", "\n", "\r"}) > 1)


def lf_copy(path: Path, folder: Path) -> Path:
    """A copy of `path` (decompressed) with every line end (CR LF, lone CR) written as LF.

    A lone CR counts as a line end, as it does in the scan above (Python's universal newlines).
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    target = folder / (path.name.removesuffix(".gz") + ".lf.csv")
    try:
        with opener(path, "rb") as src, open(target, "wb") as out:
            tail = b""
            while block := src.read(1 << 22):
                block = tail + block
                # A CR at a block's end may belong to the next block's LF.
                tail = b"\r" if block.endswith(b"\r") else b""
                if tail:
                    block = block[:-1]
                out.write(block.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
            out.write(b"\n" if tail else b"")
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read: {exc}", file=path, fix="check that the file is complete") from exc
    return target


def header_line(path: Path, encoding: str) -> tuple[int, str]:
    """The header's line number and text: the first line neither empty nor starting with `#`."""
    for number, line in enumerate(_lines(path, encoding), start=1):
        body = line.rstrip("\r\n")
        if body and not body.startswith("#"):
            return number, body
    return 1, ""


def _ends_in_quotes(line: str, in_quotes: bool, delimiter: str, quote: str) -> bool:
    """Whether a quoted field is still open at the end of `line` (RFC 4180, "" escapes a quote).

    A quote opens a field only at the field's start; elsewhere DuckDB keeps it as text.
    """
    i = 0
    opener = delimiter + quote
    while True:
        if in_quotes:
            j = line.find(quote, i)
            if j < 0:
                return True
            if line.startswith(quote, j + 1):
                i = j + 2
                continue
            in_quotes, i = False, j + 1
        elif i == 0 and line.startswith(quote):
            in_quotes, i = True, 1
        else:
            j = line.find(opener, i)
            if j < 0:
                return False
            in_quotes, i = True, j + len(opener)


def _head(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            return bytes(fh.read(4))
    except (OSError, EOFError):
        return b""


def _lines(path: Path, encoding: str) -> Iterator[str]:
    # Undecodable bytes are replaced here only to find line ends; DuckDB reports them as rejects.
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    codec = _PYTHON_CODECS.get(encoding, encoding)
    if encoding == "utf-16" and not _head(path).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16-le"  # as DuckDB reads UTF-16 without a byte-order mark
    try:
        with opener(path, "rt", encoding=codec, errors="replace", newline="") as fh:
            yield from fh
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read: {exc}", file=path, fix="check that the file is complete") from exc
