"""Small DuckDB helpers shared by every module that queries a workspace: quoting, fetching and
what tables it has."""

from __future__ import annotations

from typing import Any

import duckdb


def fetch_one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result, consuming the rest.

    DuckDB 2 refuses new work (e.g. `register`) on a connection whose last result was not read to
    the end, which a bare `fetchone()` leaves behind.
    """
    rows = cursor.fetchall()
    return tuple(rows[0]) if rows else None


def sql_str(value: str) -> str:
    """Quote a Python string as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quote a column name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables of the connection's own database (no temporary ones).

    Read from `duckdb_tables()`: `SHOW TABLES` takes 3-12 ms a call, a good part of a cold read
    command (bench/RESULTS.md "Cold start").
    """
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main'").fetchall()}
