"""Writers of the generated tables (Parquet, CSV, gzipped CSV, JSON Lines), and atomic replacement
of the files they write.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


class Sink(Protocol):
    """Writes tables of one schema to one file, in order."""

    def write(self, table: pa.Table) -> None:
        """Append the rows of `table`."""
        ...

    def close(self) -> None:
        """Finish the file."""
        ...


def _iso_timestamps(table: pa.Table) -> pa.Table:
    # Text formats carry ISO-8601 ("2026-06-30T18:04:11"), the most portable spelling.
    i = table.schema.get_field_index("timestamp")
    if i < 0:
        return table
    iso = pc.strftime(table.column(i).cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    return table.set_column(i, "timestamp", iso)


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


class _CsvSink:
    def __init__(self, path: Path, schema: pa.Schema, gzip: bool) -> None:
        self._stream: Any = (
            pa.CompressedOutputStream(str(path), "gzip") if gzip else pa.OSFile(str(path), "wb")
        )
        text_schema = _iso_timestamps(schema.empty_table()).schema
        self._writer = pacsv.CSVWriter(self._stream, text_schema)
        self._writer.write_table(text_schema.empty_table())

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(_iso_timestamps(table))

    def close(self) -> None:
        self._writer.close()
        self._stream.close()


class _JsonlSink:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, table: pa.Table) -> None:
        table = _iso_timestamps(table)
        pieces: list[Any] = []
        for i, name in enumerate(table.column_names):
            col = table.column(name).combine_chunks()
            value = col.cast(pa.string())
            if pa.types.is_string(col.type):
                value = pc.binary_join_element_wise('"', value, '"', "")
            pieces += [("{" if i == 0 else ",") + f'"{name}":', value.fill_null("null")]
        lines = pc.binary_join_element_wise(*pieces, "}\n", "")
        # The values are already contiguous JSON text: write the data buffer as is.
        if len(lines):
            offsets = np.frombuffer(
                lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
            )
            data = lines.buffers()[2]
            self._file.write(memoryview(data)[offsets[0] : offsets[-1]])

    def close(self) -> None:
        self._file.close()


_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".csv.gz", "csv.gz"),
    (".parquet", "parquet"),
    (".csv", "csv"),
    (".jsonl", "jsonl"),
)


def output_format(path: Path) -> str:
    """The events format implied by a file name.

    Args:
        path: Output file name.

    Returns:
        One of ``parquet``, ``csv``, ``csv.gz``, ``jsonl``.

    Raises:
        ValueError: For any other suffix.
    """
    name = Path(path).name.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    raise ValueError(
        f"cannot tell the output format of {str(path)!r}: name it .parquet, .csv, .csv.gz or .jsonl"
    )


def open_sink(path: Path, fmt: str, schema: pa.Schema) -> Sink:
    """A writer of `schema` tables to `path` in `fmt` (see `output_format`)."""
    if fmt == "parquet":
        return _ParquetSink(path, schema)
    if fmt == "jsonl":
        return _JsonlSink(path)
    return _CsvSink(path, schema, gzip=fmt == "csv.gz")


@contextmanager
def atomic(finals: Sequence[Path]) -> Iterator[list[Path]]:
    """Temporary siblings of ``finals``, moved over them only if the block succeeds."""
    # Named, not mkstemp'd: the writers create the files, so they get the usual
    # umask permissions instead of mkstemp's 0600.
    tag = f"{os.getpid()}.{secrets.token_hex(4)}"
    temps = [final.with_name(f".{final.name}.{tag}.tmp") for final in finals]
    try:
        yield temps
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in zip(temps, finals, strict=True):
        os.replace(tmp, final)
