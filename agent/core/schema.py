"""The workspace's tables: every table's columns and the one module that writes it.

Each step writes only its own tables, created from the definitions here; nobody alters another's
table. Two tables are assembled from the others, here, for the readers (docs/architecture.md):

- `users`: one row per customer, the features followed by the segment, risk and lifetime-value
  columns (in that order), so that questions, exports and profiles read one table;
- `segments`: one row per segment, the segment step's columns followed by the describe step's.

| table | written by |
|---|---|
| events, rejects | `segmint.agent.ingest` (event files; rows of a `--users` file without an id) |
| customer_features | `segmint.agent.ingest.features` |
| items, activity, customer_keys | `segmint.agent.ingest.activity` (what event questions read) |
| user_text | `segmint.agent.run.pipeline` (the embed stage) |
| segment_clusters, segment_members, segment_transitions, segment_runs | `segmint.agent.segment.store` |
| risk_scores | `segmint.agent.scores.risk` |
| ltv_scores | `segmint.agent.scores.ltv` (only with `--ltv`) |
| segment_names | `segmint.agent.describe.step` |
| users, segments | this module (`assemble_users`, `assemble_segments`) |
| runs | `segmint.agent.core.workspace` |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from segmint.agent.core.sql import sql_ident

__all__ = [
    "ACTIVITY", "CANONICAL_COLUMNS", "CUSTOMER_FEATURES", "CUSTOMER_KEYS", "EVENTS", "EVENTS_DDL",
    "EVENT_TYPES", "ITEMS", "LTV_SCORES", "NUMERIC_FEATURES", "REJECTS", "REJECTS_DDL", "REQUIRED_COLUMNS",
    "RISK_SCORES", "RUNS", "RUNS_DDL", "SEGMENT_CLUSTERS", "SEGMENT_MEMBERS", "SEGMENT_NAMES", "SEGMENT_RUNS",
    "SEGMENT_TRANSITIONS", "USER_PARTS", "USER_TEXT", "Table", "assemble_segments", "assemble_users",
]

EVENT_TYPES: tuple[str, ...] = ("search", "view", "cart", "purchase", "return")

# Canonical input columns (docs/definitions.md). Only user_id and timestamp are required.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "user_id",
    "timestamp",
    "event_type",
    "text",
    "product_id",
    "order_id",
    "category",
    "quantity",
    "price",
    "amount",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("user_id", "timestamp")


@dataclass(frozen=True)
class Table:
    """One table of the workspace.

    Attributes:
        name: the table's name.
        columns: (name, SQL type and constraints) per fixed column, in order.
    """

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """The fixed columns' names, in order."""
        return tuple(c for c, _ in self.columns)

    def ddl(self, extra: str = "") -> str:
        """The CREATE TABLE statement; `extra` is SQL appended after the last fixed column."""
        cols = ",\n    ".join(f"{c} {t}" for c, t in self.columns)
        return f"CREATE TABLE {self.name} (\n    {cols}{extra}\n)"

    def create(self, con: duckdb.DuckDBPyConnection, varchar_columns: Sequence[str] = ()) -> None:
        """Create the (empty) table, with `varchar_columns` appended as VARCHAR columns."""
        con.execute(self.ddl("".join(f",\n    {sql_ident(c)} VARCHAR" for c in varchar_columns)))


# One accepted event per row, already normalised: ts is naive UTC; event_type is one of
# EVENT_TYPES; returns carry negative quantity and amount; every `--attr NAME=SOURCE` adds a VARCHAR
# column `attr_NAME`.
EVENTS = Table("events", (
    ("user_id", "VARCHAR NOT NULL"), ("ts", "TIMESTAMP NOT NULL"), ("event_type", "VARCHAR NOT NULL"),
    ("text", "VARCHAR"), ("product_id", "VARCHAR"), ("order_id", "VARCHAR"), ("category", "VARCHAR"),
    ("quantity", "DOUBLE"), ("price", "DOUBLE"), ("amount", "DOUBLE"),
    ("source_file", "VARCHAR NOT NULL"), ("source_row", "BIGINT"),
))
# `{attr_columns}` takes ",\n    attr_NAME VARCHAR" per attribute.
EVENTS_DDL = EVENTS.ddl("{attr_columns}")

# Every row that was read but not accepted, with the reason and the raw values as JSON.
REJECTS = Table("rejects", (
    ("source_file", "VARCHAR NOT NULL"), ("source_row", "BIGINT"), ("reason", "VARCHAR NOT NULL"),
    ("raw", "VARCHAR"),
))
REJECTS_DDL = REJECTS.ddl()

# One row per run, copied from database to database: the workspace's history.
RUNS = Table("runs", (
    ("run_id", "VARCHAR PRIMARY KEY"), ("started_at", "TIMESTAMP NOT NULL"),
    ("finished_at", "TIMESTAMP NOT NULL"), ("command", "VARCHAR NOT NULL"), ("params", "JSON"),
    ("versions", "JSON"), ("counts", "JSON"), ("seconds", "JSON"),
))
RUNS_DDL = RUNS.ddl()

# One row per customer with an accepted event (docs/definitions.md); then one VARCHAR column per
# `--attr` (the customer's most frequent value) and per column of a `--users` file.
CUSTOMER_FEATURES = Table("customer_features", (
    ("user_id", "VARCHAR"), ("first_seen", "TIMESTAMP"), ("last_seen", "TIMESTAMP"),
    ("first_purchase", "TIMESTAMP"), ("last_purchase", "TIMESTAMP"), ("recency_days", "BIGINT"),
    ("tenure_days", "BIGINT"), ("orders", "BIGINT"), ("revenue", "DOUBLE"), ("aov", "DOUBLE"),
    ("units", "DOUBLE"), ("units_per_order", "DOUBLE"), ("returns", "BIGINT"),
    ("returned_amount", "DOUBLE"), ("n_events", "BIGINT"),
    ("n_search", "BIGINT"), ("n_view", "BIGINT"), ("n_cart", "BIGINT"), ("n_purchase", "BIGINT"),
    ("n_return", "BIGINT"), ("n_products", "BIGINT"), ("products_bought", "BIGINT"),
    ("active_days", "BIGINT"),
    ("top_category", "VARCHAR"),
))

# One row per distinct (product_id, text, category) that events name: a product, or the text of a
# search; `item` is its key in `activity`, `product` whether any non-search event names it,
# `customers_TYPE` the distinct customers of its events of each type (`customers_any`: of all).
ITEMS = Table("items", (
    ("item", "INTEGER"), ("product_id", "VARCHAR"), ("text", "VARCHAR"), ("category", "VARCHAR"),
    ("product", "BOOLEAN"),
    *((f"customers_{t}", "BIGINT") for t in (*EVENT_TYPES, "any")),
))
# What event questions read (docs/definitions.md "Questions"): every accepted event with only the
# columns a condition or measure needs, the customer, item and order as integer keys, sorted by
# event type and time so that a question about one type in one window reads only that part.
ACTIVITY = Table("activity", (
    ("uid", "INTEGER"), ("item", "INTEGER"), ("event_type", "VARCHAR"), ("ts", "TIMESTAMP"),
    ("order_key", "INTEGER"), ("quantity", "DOUBLE"), ("amount", "DOUBLE"),
))
# The customer behind each `activity.uid`.
CUSTOMER_KEYS = Table("customer_keys", (("uid", "INTEGER"), ("user_id", "VARCHAR")))

# Whether each customer has any text to embed (customers without one get the shop's mean vector).
USER_TEXT = Table("user_text", (("user_id", "VARCHAR"), ("has_text", "BOOLEAN")))

# One row per segment; segment 0 is the Unassigned group (kind `unassigned`); status is the
# transition against the previous run (kept, merged, split, new).
SEGMENT_CLUSTERS = Table("segment_clusters", (
    ("segment_id", "INTEGER"), ("kind", "VARCHAR"), ("size", "BIGINT"), ("share", "DOUBLE"),
    ("radius", "DOUBLE"), ("status", "VARCHAR"), ("centroid", "FLOAT[]"),
))
# Per customer: the segment (0 = Unassigned), how typical they are of it (0-1), the nearest one.
SEGMENT_MEMBERS = Table("segment_members", (
    ("user_id", "VARCHAR"), ("segment_id", "INTEGER"), ("membership", "DOUBLE"),
    ("nearest_segment_id", "INTEGER"),
))
# kept / merged / split / new / retired against the previous run.
SEGMENT_TRANSITIONS = Table("segment_transitions", (
    ("segment_id", "INTEGER"), ("status", "VARCHAR"), ("previous", "INTEGER[]"),
    ("current", "INTEGER[]"), ("jaccard", "DOUBLE"),
))
# One row: the id counter and the segment step's report.
SEGMENT_RUNS = Table("segment_runs", (
    ("next_id", "INTEGER"), ("noise_share", "DOUBLE"), ("n_segments", "INTEGER"), ("summary", "JSON"),
    ("model_file", "VARCHAR"),
))

# Per customer: risk components, score and (for risky customers only) the reason in words.
RISK_SCORES = Table("risk_scores", (
    ("user_id", "VARCHAR"), ("return_rate", "DOUBLE"), ("burst_orders", "BIGINT"),
    ("outlier_score", "DOUBLE"), ("risk_score", "DOUBLE"), ("risk_reason", "VARCHAR"),
))
# Per customer with a purchase: BG/NBD and Gamma-Gamma predictions.
LTV_SCORES = Table("ltv_scores", (
    ("user_id", "VARCHAR"), ("expected_purchases", "DOUBLE"), ("p_alive", "DOUBLE"),
    ("expected_spend", "DOUBLE"), ("expected_value", "DOUBLE"),
))

# Per segment: its name and text, who wrote them and why, and the profile they were checked against.
SEGMENT_NAMES = Table("segment_names", (
    ("segment_id", "INTEGER"), ("name", "VARCHAR"), ("description", "VARCHAR"), ("namer", "VARCHAR"),
    ("namer_reason", "VARCHAR"), ("key_traits", "JSON"), ("suggested_actions", "JSON"),
    ("facts", "JSON"),
))

# The per-customer tables joined into `users`, in column order after the features.
USER_PARTS: tuple[Table, ...] = (SEGMENT_MEMBERS, RISK_SCORES, LTV_SCORES)

# Numeric features a question or a profile may refer to (the whitelist later steps build on).
NUMERIC_FEATURES: tuple[str, ...] = (
    "recency_days", "tenure_days", "orders", "revenue", "aov", "units", "units_per_order", "returns",
    "returned_amount", "n_events", "n_search", "n_view", "n_cart", "n_purchase", "n_return",
    "n_products", "products_bought", "active_days",
    # Risk (agent/scores/risk.py) and lifetime value (agent/scores/ltv.py).
    "return_rate", "burst_orders", "outlier_score", "risk_score",
    "expected_purchases", "p_alive", "expected_spend", "expected_value",
)


def assemble_users(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build `users` from `customer_features` and the per-customer parts written so far.

    A table rather than a view: a question reads `users` once per condition, and joining four
    tables per read would cost more than the question itself at a million customers.
    """
    _assemble(con, "users", CUSTOMER_FEATURES, USER_PARTS, key="user_id", order="base.user_id")


def assemble_segments(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build `segments` from `segment_clusters` and, once written, `segment_names`."""
    _assemble(con, "segments", SEGMENT_CLUSTERS, (SEGMENT_NAMES,), key="segment_id",
              order="base.rowid")


def _assemble(con: duckdb.DuckDBPyConnection, name: str, base: Table, parts: Sequence[Table], *,
              key: str, order: str) -> None:
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema()").fetchall()}
    columns, joins = ["base.*"], []
    for i, part in enumerate(p for p in parts if p.name in present):
        columns += [f"p{i}.{sql_ident(c)}" for c in part.column_names if c != key]
        joins.append(f"LEFT JOIN {part.name} p{i} ON p{i}.{key} = base.{key}")
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(columns)} "
                f"FROM {base.name} base {' '.join(joins)} ORDER BY {order}")
