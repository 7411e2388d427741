"""What a question may refer to in one workspace: fields, attribute values, segments, the words of
its products, and the run's as_of (which resolves "in November" or "last summer" to dates).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import duckdb

from segmint.agent.core.files import cached_json
from segmint.agent.core.records import read_latest_run
from segmint.agent.core.schema import NUMERIC_FEATURES
from segmint.agent.core.sql import table_names

_NON_ATTRIBUTES = {"user_id", "first_seen", "last_seen", "first_purchase", "last_purchase",
                   "segment_id", "membership", "nearest_segment_id", "risk_reason",
                   *NUMERIC_FEATURES}
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")


@dataclass
class Catalogue:
    """What a question may refer to in one workspace.

    Attributes:
        numeric: numeric users-table fields.
        text: text attributes (country, age_band...).
        attribute_values: the most common values of each text attribute.
        segments: segment id -> name.
        has_segments: whether customers have been put into segments.
        as_of: the run's reference day (None before any run).
        product_words: every lower-case word of product texts and categories (a question's
            product words are read against it).
        event_types: the event types present in the events table.
    """

    numeric: list[str]
    text: list[str]
    attribute_values: dict[str, list[str]]
    segments: dict[str, str] = field(default_factory=dict)  # id -> name
    has_segments: bool = False
    as_of: date | None = None
    product_words: frozenset[str] = frozenset()
    event_types: frozenset[str] = frozenset()

    @property
    def fields(self) -> set[str]:
        """Every field name a condition or sort may use."""
        return set(self.numeric) | set(self.text)


def catalogue(con: duckdb.DuckDBPyConnection, max_values: int = 200) -> Catalogue:
    """Read the whitelist of fields and the known attribute values from the workspace."""
    cols = _user_columns(con)
    numeric = [c for c in cols if c in NUMERIC_FEATURES]
    values = _text_values(con, _text_of(cols), max_values)
    text = list(values)
    tables = table_names(con)
    segments: dict[str, str] = {}
    if "segments" in tables:
        seg_cols = {r[0] for r in con.execute("DESCRIBE segments").fetchall()}
        name = "name" if "name" in seg_cols else "CAST(segment_id AS VARCHAR)"
        segments = {str(i): str(n) for i, n in
                    con.execute(f"SELECT segment_id, {name} FROM segments").fetchall()}
    run = read_latest_run(con) if "runs" in tables else None
    as_of = run.as_of.date() if run is not None and run.as_of is not None else None
    words: set[str] = set()
    types: frozenset[str] = frozenset()
    if "events" in tables:
        # `items` holds each product once (agent/ingest/activity.py); older workspaces lack it.
        products = ("SELECT lower(coalesce(text, '') || ' ' || coalesce(category, '')) FROM items "
                    "WHERE product" if "items" in tables else
                    "SELECT DISTINCT lower(coalesce(text, '') || ' ' || coalesce(category, '')) "
                    "FROM events WHERE event_type <> 'search' AND (text IS NOT NULL OR category IS NOT NULL)")
        for (words_of,) in con.execute(products).fetchall():
            words.update(_WORD.findall(words_of))
        source = "activity" if "activity" in tables else "events"  # sorted by type: quicker to read
        types = frozenset(r[0] for r in con.execute(
            f"SELECT DISTINCT event_type FROM {source}").fetchall())
    return Catalogue(numeric, text, values, segments, "segment_id" in cols, as_of,
                     frozenset(words), types)


def stored_catalogue(con: duckdb.DuckDBPyConnection, database: str) -> Catalogue:
    """`catalogue(con)`, kept as JSON under the cache dir for one version of a database file.

    Reading it takes a cold `ask` or `export` ~20 ms of queries (bench/RESULTS.md "Cold start");
    a database file never changes in place (a run replaces it), so `database`, its path and
    version, names what was read.

    Args:
        con: a connection to the database.
        database: the file's identity: its path and version (inode, mtime, size).
    """
    return cached_json("catalogues", database, lambda: _to_json(catalogue(con)), _from_json)


def _to_json(cat: Catalogue) -> dict[str, Any]:
    return {**asdict(cat), "as_of": None if cat.as_of is None else cat.as_of.isoformat(),
            "product_words": sorted(cat.product_words), "event_types": sorted(cat.event_types)}


def _from_json(doc: dict[str, Any]) -> Catalogue:
    as_of = None if doc["as_of"] is None else date.fromisoformat(doc["as_of"])
    return Catalogue(**{**doc, "as_of": as_of, "product_words": frozenset(doc["product_words"]),
                        "event_types": frozenset(doc["event_types"])})


def text_attributes(con: duckdb.DuckDBPyConnection, max_values: int = 200) -> dict[str, list[str]]:
    """Each text attribute of the users table (country, age_band...) with its `max_values` most
    common values: the part of `catalogue` a fairness audit reads, without the product words."""
    return _text_values(con, text_columns(con), max_values)


def text_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The text attribute columns of the users table (country, age_band...), values unread."""
    return _text_of(_user_columns(con))


def _user_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {name: typ for name, typ, *_ in con.execute("DESCRIBE users").fetchall()}


def _text_of(cols: dict[str, str]) -> list[str]:
    return [c for c in cols if c not in _NON_ATTRIBUTES and cols[c] == "VARCHAR"]


def _text_values(con: duckdb.DuckDBPyConnection, text: list[str], max_values: int
                 ) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for col in text:
        rows = con.execute(
            f'SELECT "{col}", count(*) n FROM users WHERE "{col}" IS NOT NULL GROUP BY 1 '
            f"ORDER BY n DESC LIMIT {max_values}"
        ).fetchall()
        values[col] = [str(r[0]) for r in rows]
    return values

