"""Export files are built by DuckDB from bound lists, not by pyarrow from Python objects (which
imports pandas): the written schema is still exactly the declared one, for any rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from segmint.agent.act.export import write_rows

ROWS = [
    [],  # an empty answer: the columns and their types, no rows
    [{"group": "North", "value": 1.5, "customers": 3, "measure": "revenue"},
     {"group": None, "value": None, "customers": None, "measure": None}],  # nulls in every column
    [{"group": "ünïcødé, \"quoted\"", "value": 2, "customers": 10**12, "measure": "orders"}],
]


@pytest.mark.parametrize("on_workspace", [False, True])
@pytest.mark.parametrize("rows", ROWS)
def test_parquet_rows_have_the_declared_types_and_values(tmp_path: Path, rows: list[dict[str, Any]],
                                                         on_workspace: bool) -> None:
    path = tmp_path / "rows.parquet"
    # Built on a given connection (a read-only one, as an export's), or on a private database.
    duckdb.connect(str(tmp_path / "ws.duckdb")).close()
    con = duckdb.connect(str(tmp_path / "ws.duckdb"), read_only=True) if on_workspace else None
    assert write_rows(rows, path, "parquet", con=con) == len(rows)
    table = pq.read_table(path)
    assert [(f.name, str(f.type)) for f in table.schema] == [
        ("group", "string"), ("value", "double"), ("customers", "int64"), ("measure", "string")]
    expected = [{**row, "value": None if row["value"] is None else float(row["value"])} for row in rows]
    assert table.to_pylist() == expected


def test_writing_a_file_does_not_import_pandas(tmp_path: Path) -> None:
    code = ("import sys\nfrom pathlib import Path\nfrom segmint.agent.act.export import write_rows\n"
            "for fmt in ('csv', 'parquet'):\n"
            f"    write_rows({ROWS[1]!r}, Path({str(tmp_path)!r}) / ('x.' + fmt), fmt)\n"
            "print('pandas' in sys.modules, 'pyarrow.compute' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
