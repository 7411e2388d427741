"""Per-customer features (docs/definitions.md), computed in DuckDB from `events` into
`customer_features`, with the columns of a `--users` file joined in."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.schema import CUSTOMER_FEATURES, USER_PARTS
from segmint.agent.core.sql import fetch_one, sql_ident, sql_str
from segmint.agent.ingest.events import IngestReport
from segmint.agent.ingest.readers import open_source

__all__ = ["FeatureReport", "UsersFileReport", "build_users", "features_step", "resolve_as_of"]


@dataclass
class UsersFileReport:
    """What a `--users` file contributed."""

    rows: int
    matched_users: int
    rejected: int
    duplicate_ids: int

    def to_json(self) -> dict[str, int]:
        """The `users_file` object of `segmint run --json`."""
        return asdict(self)


@dataclass
class FeatureReport:
    """What the features step did: the reference time, the customers, the users file."""

    as_of: datetime
    users: int
    users_file: UsersFileReport | None = None


@dataclass
class _UserTable:
    """A `--users` file staged in the temporary table `user_table`."""

    path: Path
    columns: list[str]
    rows: int
    rejected: int
    duplicate_ids: int


def features_step(con: duckdb.DuckDBPyConnection, config: RunConfig, ingested: IngestReport
                  ) -> FeatureReport:
    """The features step of a run: the reference time, then `customer_features`.

    Args:
        con: the run's connection with `events` and `rejects`.
        config: `--as-of` and `--users`.
        ingested: what ingest read (mapped columns, attributes).

    Raises:
        InputError: no usable events, or an unusable users file.
    """
    as_of = resolve_as_of(con, config.as_of)
    users_file = None
    if config.users is not None:
        id_sources = tuple({f.columns["user_id"] for f in ingested.files if "user_id" in f.columns})
        users_file = _stage_users_file(con, config.users, id_sources, ingested.attributes)
    n = build_users(con, as_of, has_order_id=any("order_id" in f.columns for f in ingested.files),
                    attributes=ingested.attributes, users_file=users_file)
    if users_file is None:
        return FeatureReport(as_of, n)
    (matched,) = fetch_one(con.execute(
        "SELECT count(*) FROM customer_features u SEMI JOIN user_table t USING (user_id)"
    )) or (0,)
    con.execute("DROP TABLE user_table")
    return FeatureReport(as_of, n, UsersFileReport(users_file.rows, int(matched), users_file.rejected,
                                                   users_file.duplicate_ids))


def resolve_as_of(con: duckdb.DuckDBPyConnection, as_of: datetime | None) -> datetime:
    """The reference time: the given one, else the latest accepted event (docs/definitions.md)."""
    if as_of is not None:
        return as_of.replace(tzinfo=None) if as_of.tzinfo is None else _to_naive_utc(as_of)
    row = fetch_one(con.execute("SELECT max(ts) FROM events"))
    if row is None or row[0] is None:
        raise InputError("no usable events: every row was rejected",
                         fix="see the rejects table: segmint run --json lists the reasons")
    value: datetime = row[0]
    return value


def _to_naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def build_users(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    *,
    has_order_id: bool,
    attributes: list[str],
    users_file: _UserTable | None = None,
) -> int:
    """Create `customer_features`: one row per customer with at least one accepted event.

    Args:
        con: a connection with the `events` table.
        as_of: reference time for recency and tenure.
        has_order_id: whether order_id was mapped; orders are then distinct order ids, else rows.
        attributes: names of `attr_*` columns in events; each becomes the user's most frequent
            value (ties broken by the smallest value, so the result is deterministic).
        users_file: a staged `--users` file whose columns are joined in (first row per id wins).

    Returns:
        The number of users.
    """
    orders = (
        "count(DISTINCT order_id) FILTER (WHERE is_purchase) "
        "+ count(*) FILTER (WHERE is_purchase AND order_id IS NULL)"
        if has_order_id
        else "count(*) FILTER (WHERE is_purchase)"
    )
    extra = users_file.columns if users_file is not None else []
    CUSTOMER_FEATURES.create(con, [*attributes, *extra])
    file_join = """
        LEFT JOIN (
            SELECT * FROM user_table WHERE user_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY rn) = 1
        ) t USING (user_id)""" if users_file is not None else ""
    con.execute(
        f"""
        INSERT INTO customer_features BY NAME
        WITH e AS (
            SELECT *, event_type = 'purchase' AS is_purchase FROM events
        ),
        agg AS (
            SELECT
                user_id,
                min(ts) AS first_seen,
                max(ts) AS last_seen,
                min(ts) FILTER (WHERE is_purchase) AS first_purchase,
                max(ts) FILTER (WHERE is_purchase) AS last_purchase,
                CAST({orders} AS BIGINT) AS orders,
                -- rounded to 1e-6: a customer whose revenue is one 24.99 item compares as
                -- 24.99 against a percentile or a threshold, not as float noise either side
                coalesce(round(sum(amount) FILTER (WHERE is_purchase OR event_type = 'return'), 6), 0)
                    AS revenue,
                coalesce(sum(quantity) FILTER (WHERE is_purchase), 0) AS units,
                count(*) FILTER (WHERE event_type = 'return') AS returns,
                coalesce(-round(sum(amount) FILTER (WHERE event_type = 'return'), 6), 0)
                    AS returned_amount,
                count(*) AS n_events,
                count(*) FILTER (WHERE event_type = 'search') AS n_search,
                count(*) FILTER (WHERE event_type = 'view') AS n_view,
                count(*) FILTER (WHERE event_type = 'cart') AS n_cart,
                count(*) FILTER (WHERE is_purchase) AS n_purchase,
                count(*) FILTER (WHERE event_type = 'return') AS n_return,
                count(DISTINCT product_id) AS n_products,
                count(DISTINCT product_id) FILTER (WHERE is_purchase) AS products_bought,
                count(DISTINCT CAST(ts AS DATE)) AS active_days
            FROM e GROUP BY user_id
        ),
        top_cat AS (
            SELECT user_id, first(category ORDER BY n DESC, category) AS top_category FROM (
                SELECT user_id, category, count(*) AS n
                FROM events WHERE category IS NOT NULL GROUP BY user_id, category
            ) GROUP BY user_id
        )
        SELECT
            agg.user_id, first_seen, last_seen, first_purchase, last_purchase,
            CAST(floor(epoch(TIMESTAMP {sql_str(as_of.isoformat(sep=' '))} - last_purchase)
                 / 86400) AS BIGINT) AS recency_days,
            CAST(floor(epoch(TIMESTAMP {sql_str(as_of.isoformat(sep=' '))} - first_purchase)
                 / 86400) AS BIGINT) AS tenure_days,
            orders, revenue,
            CASE WHEN orders > 0 THEN revenue / orders END AS aov,
            units, CASE WHEN orders > 0 THEN units / orders END AS units_per_order,
            returns, returned_amount, n_events, n_search, n_view, n_cart, n_purchase,
            n_return, n_products, products_bought, active_days, top_category
            {"".join(f", {sql_ident(a)}" for a in attributes)}
            {"".join(f", t.{sql_ident(c)}" for c in extra)}
        FROM agg
        LEFT JOIN top_cat USING (user_id)
        {"".join(_attribute_join(a) for a in attributes)}
        {file_join}
        ORDER BY agg.user_id
        """
    )
    (n,) = fetch_one(con.execute("SELECT count(*) FROM customer_features")) or (0,)
    return int(n)


def _attribute_join(name: str) -> str:
    col = sql_ident("attr_" + name)
    return f"""
        LEFT JOIN (
            SELECT user_id, first(v ORDER BY n DESC, v) AS {sql_ident(name)} FROM (
                SELECT user_id, {col} AS v, count(*) AS n
                FROM events WHERE {col} IS NOT NULL GROUP BY user_id, {col}
            ) GROUP BY user_id
        ) USING (user_id)"""


def _stage_users_file(con: duckdb.DuckDBPyConnection, path: Path, id_columns: tuple[str, ...],
                      attributes: list[str]) -> _UserTable:
    """Read a per-user table (`--users FILE`) into the temporary `user_table`.

    The id column is `user_id` or, failing that, one of `id_columns` (the events' mapped id).
    Rows without an id go to `rejects`.

    Raises:
        InputError: unreadable file, no id column, or a column named like a computed one.
    """
    source = open_source(con, path, tag="users")
    lowered = {c.lower(): c for c in source.columns}
    id_col = next((lowered[c.lower()] for c in ("user_id", *id_columns) if c.lower() in lowered),
                  None)
    if id_col is None:
        raise InputError(
            f"no user id column; the file has: {', '.join(source.columns[:12])}",
            file=path, field="user_id", fix="name the id column user_id",
        )
    computed = {*CUSTOMER_FEATURES.column_names, *attributes,
                *(c for part in USER_PARTS for c in part.column_names)}
    extra = [c for c in source.columns if c != id_col]
    clashes = [c for c in extra if _attr_name(c) in computed]
    if clashes:
        raise InputError(
            "clashes with a computed feature of the same name",
            file=path, field=clashes[0], fix="rename that column in the users file",
        )
    norm_id = (
        f"regexp_replace(nullif(trim({sql_ident(id_col)}), ''), '^(-?[0-9]+)\\.0+$', '\\1')"
    )
    fields = ", ".join(
        f"nullif(trim({sql_ident(c)}), '') AS {sql_ident(_attr_name(c))}" for c in extra
    )
    con.execute(
        f"CREATE TEMP TABLE user_table AS SELECT {norm_id} AS user_id, "
        f"row_number() OVER () AS rn{', ' + fields if fields else ''} FROM {source.relation}"
    )
    con.execute(
        f"INSERT INTO rejects SELECT {sql_str(str(path))}, rn + 1, 'users file: missing user_id', "
        "NULL FROM user_table WHERE user_id IS NULL"
    )
    counts: tuple[Any, ...] = fetch_one(con.execute(
        "SELECT count(*), count(*) FILTER (WHERE user_id IS NULL), "
        "count(user_id) - count(DISTINCT user_id) FROM user_table"
    )) or (0, 0, 0)
    return _UserTable(path, [_attr_name(c) for c in extra], int(counts[0]), int(counts[1]),
                      int(counts[2]))


def _attr_name(column: str) -> str:
    name = "".join(ch if ch.isalnum() else "_" for ch in column.strip().lower()).strip("_")
    return name or "attribute"
