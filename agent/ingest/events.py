"""Ingest: read event files, map columns, validate and normalise rows, quarantine bad ones.

All parsing runs inside DuckDB, streaming over the files, so files larger than memory are fine.
Every row read ends up either in `events` or in `rejects` (with a reason): nothing is dropped.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.schema import CANONICAL_COLUMNS, EVENT_TYPES, EVENTS, REJECTS, REQUIRED_COLUMNS
from segmint.agent.core.sql import fetch_one, sql_ident, sql_str
from segmint.agent.ingest.readers import MAX_LINE_BYTES, Source, open_source

log = logging.getLogger(__name__)

# Source column names recognised without a --map (compared case-insensitively, ignoring _ - and
# spaces). Only unambiguous names: a wrong guess would be worse than asking for a mapping.
ALIASES: dict[str, tuple[str, ...]] = {
    "user_id": ("userid", "customerid", "customer", "clientid", "visitorid", "shopperid"),
    "timestamp": ("ts", "time", "eventtime", "eventtimestamp", "datetime", "createdat"),
    "event_type": ("event", "eventname", "action", "type"),
    "text": ("query", "searchquery", "title", "producttitle", "productname", "description"),
    "product_id": ("productid", "itemid", "sku", "asin", "stockcode"),
    "order_id": ("orderid", "invoiceno", "invoiceid", "invoice", "transactionid"),
    "category": ("categoryname", "categorycode", "productcategory"),
    "quantity": ("qty", "units"),
    "price": ("unitprice", "itemprice"),
    "amount": ("total", "linetotal", "revenue", "value", "sales"),
}

EVENT_TYPE_SYNONYMS: dict[str, str] = {
    **{name: name for name in EVENT_TYPES},
    **dict.fromkeys(("query", "search_query", "searched", "site_search"), "search"),
    **dict.fromkeys(
        ("page_view", "pageview", "product_view", "view_item", "viewed", "detail", "click",
         "impression_click", "product_detail"),
        "view",
    ),
    **dict.fromkeys(
        ("add_to_cart", "addtocart", "add", "basket", "add_to_basket", "cart_add", "added_to_cart",
         "addtobasket"),
        "cart",
    ),
    **dict.fromkeys(
        ("order", "transaction", "buy", "bought", "checkout", "sale", "purchased", "order_completed",
         "complete_purchase"),
        "purchase",
    ),
    **dict.fromkeys(("refund", "returned", "return_item", "cancel", "cancellation"), "return"),
}

# Range checks (docs/definitions.md, "Input contract"): later stages never see a value they cannot
# hold — an infinite revenue, a year Python's datetime cannot represent, an id the size of a page.
MAX_ID_CHARS = 256
MAX_FIELD_CHARS = 65_536  # product texts, searches, categories, order ids, attribute values
FIRST_YEAR, LAST_YEAR = 1970, 2100
MAX_VALUE = 1e12

CURRENCY = r"^[£$€¥₹]\s*|\s*(GBP|USD|EUR)$"


@dataclass
class FileReport:
    """What one file contributed."""

    path: str
    rows_in: int
    rows_ok: int
    rows_rejected: int
    columns: dict[str, str]


@dataclass
class IngestReport:
    """The accounting of one ingest: events_in = events_ok + events_rejected, always."""

    events_in: int = 0
    events_ok: int = 0
    events_rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    files: list[FileReport] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)


def resolve_columns(source: Source, config: RunConfig) -> dict[str, str]:
    """Decide which source column feeds each canonical column.

    Explicit `--map` entries win; otherwise an exact (case-insensitive) canonical name; otherwise a
    known alias.

    Raises:
        InputError: a mapped column is missing, or a required column cannot be found.
    """
    by_key = {_key(c): c for c in source.columns}
    chosen: dict[str, str] = {}
    for canon in CANONICAL_COLUMNS:
        mapped = config.column_map.get(canon)
        if mapped is not None:
            actual = mapped if mapped in source.columns else by_key.get(_key(mapped))
            if actual is None:
                raise InputError(
                    f"not found (mapped to {canon}); the file has: {_list(source.columns)}",
                    file=source.path, field=mapped,
                    fix=f"use --map {canon}=<one of those columns>",
                )
            chosen[canon] = actual
            continue
        for candidate in (canon, *ALIASES.get(canon, ())):
            actual = by_key.get(_key(candidate))
            if actual is not None and actual not in chosen.values():
                chosen[canon] = actual
                break
    for canon in REQUIRED_COLUMNS:
        if canon not in chosen:
            raise InputError(
                f"required column missing; the file has: {_list(source.columns)}",
                file=source.path, field=canon,
                fix=f"add --map {canon}=<column> (or `map: {{{canon}: <column>}}` in --config)",
            )
    return chosen


def ingest(con: duckdb.DuckDBPyConnection, files: list[Path], config: RunConfig) -> IngestReport:
    """Load event files into the `events` and `rejects` tables of `con`.

    Args:
        con: an open workspace connection without `events`/`rejects` tables yet.
        files: one or more CSV, CSV.gz, Parquet or JSON Lines files.
        config: column mapping, attributes, timestamp format and event-type synonyms.

    Returns:
        The accounting per file and in total.

    Raises:
        InputError: a file cannot be used at all (missing, empty, unreadable, missing columns).
    """
    if not files:
        raise InputError("no event files given", fix="pass one or more files: segmint run FILE...")
    attrs = list(config.attributes)
    EVENTS.create(con, [f"attr_{a}" for a in attrs])
    REJECTS.create(con)
    report = IngestReport(attributes=attrs)
    # Open (and validate the columns of) every file before loading any, so a bad third file does
    # not cost the time of loading the first two.
    sources: list[tuple[Source, dict[str, str]]] = []
    try:
        for i, path in enumerate(files):
            source = open_source(con, Path(path), tag=str(i), encoding=config.encoding)
            sources.append((source, {}))
            sources[-1] = (source, resolve_columns(source, config))
            for name, src_col in config.attributes.items():
                if src_col not in source.columns:
                    raise InputError(
                        f"not found (kept as attribute '{name}'); the file has: "
                        f"{_list(source.columns)}",
                        file=path, field=src_col, fix=f"use --attr {name}=<one of those columns>",
                    )
        for source, columns in sources:
            report.files.append(_load_file(con, source, columns, config))
    finally:
        for source, _ in sources:
            if source.copy is not None:
                shutil.rmtree(source.copy.parent, ignore_errors=True)
    for fr in report.files:
        report.events_in += fr.rows_in
        report.events_ok += fr.rows_ok
        report.events_rejected += fr.rows_rejected
    report.reject_reasons = dict(
        con.execute(
            "SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY count(*) DESC, reason"
        ).fetchall()
    )
    return report


def carry_events(con: duckdb.DuckDBPyConnection, previous_db: Path) -> int:
    """Copy a workspace's events and rejects into this run's tables (`segmint run --append`).

    Args:
        con: the new run's connection, after `ingest`.
        previous_db: the workspace's current database.

    Returns:
        The number of events copied.

    Raises:
        InputError: the workspace's events do not fit this run's (e.g. other attributes).
    """
    alias = "_segmint_appended_to"
    con.execute(f"ATTACH '{previous_db}' AS {alias} (READ_ONLY)")
    try:
        before = con.execute("SELECT count(*) FROM events").fetchone()
        con.execute(f"INSERT INTO events BY NAME SELECT * FROM {alias}.events")
        con.execute(f"INSERT INTO rejects BY NAME SELECT * FROM {alias}.rejects")
        after = con.execute("SELECT count(*) FROM events").fetchone()
    except duckdb.Error as exc:
        raise InputError(f"cannot append to this workspace's events: {str(exc).splitlines()[0]}",
                         file=previous_db, kind="table", field="events",
                         fix="run without --append to rebuild the workspace") from exc
    finally:
        con.execute(f"DETACH {alias}")
    return int(after[0] if after else 0) - int(before[0] if before else 0)


LOST_LINE_REASON = ("line the CSV reader skipped after an over-long line (line number unknown; "
                    "split the long lines or shorten their fields)")


def _load_file(
    con: duckdb.DuckDBPyConnection, source: Source, columns: dict[str, str], config: RunConfig
) -> FileReport:
    path = str(source.path)
    con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS {_staging_sql(source, columns, config)}")
    attr_names = [sql_ident("attr_" + a) for a in config.attributes]
    attr_select = "".join(", " + a for a in attr_names)
    con.execute(
        "INSERT INTO events SELECT user_id, ts, event_type, text, product_id, order_id, category, "
        f"quantity, price, amount, {sql_str(path)}, NULL{attr_select} "
        "FROM staged WHERE reason IS NULL"
    )
    ok, bad = fetch_one(con.execute(
        "SELECT count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL) "
        "FROM staged"
    )) or (0, 0)
    skipped: list[tuple[int, str]] = []
    if source.layout is not None:
        skipped = [(n, "comment line before the header") for n in source.layout.comment_lines]
        skipped += [(n, "blank line") for n in source.layout.blank_lines]
    unreadable: list[int] = []
    if source.rejects_table is not None:
        unreadable = [int(n) for (n,) in con.execute(
            f"SELECT DISTINCT line FROM {source.rejects_table} WHERE line IS NOT NULL").fetchall()]
    lost = 0
    if source.layout is not None:
        lost = max(0, source.layout.records - 1 - ok - bad - len(skipped) - len(unreadable))
    con.execute(
        f"INSERT INTO rejects SELECT {sql_str(path)}, {_line_sql(source, unreadable, lost)}, "
        "reason, raw FROM staged WHERE reason IS NOT NULL"
    )
    con.execute("DROP TABLE staged")
    if skipped:
        con.execute(
            "INSERT INTO rejects SELECT ?, unnest(?::BIGINT[]), unnest(?::VARCHAR[]), NULL",
            [path, [n for n, _ in skipped], [r for _, r in skipped]],
        )
    bad += len(skipped)
    if source.rejects_table is not None:
        # Lines the reader itself could not read. It logs one entry per faulty field, so a line is
        # counted once, with its first fault.
        reason = _reader_reason(source.encoding)
        con.execute(
            f"INSERT INTO rejects SELECT {sql_str(path)}, line, {reason}, min(csv_line) "
            f"FROM {source.rejects_table} GROUP BY line"
        )
        (n_unreadable,) = fetch_one(con.execute(
            f"SELECT count(DISTINCT line) FROM {source.rejects_table}"
        )) or (0,)
        bad += n_unreadable
    if lost:
        # DuckDB (2.0.1) can skip the line after two over-long lines without logging it; our own
        # scan counted every record, so such lines are still rejects, with what we know of them.
        con.execute("INSERT INTO rejects SELECT ?, NULL, ?, NULL FROM range(?)",
                    [path, LOST_LINE_REASON, lost])
        bad += lost
    return FileReport(path, ok + bad, ok, bad, dict(columns))


def _line_sql(source: Source, unreadable: list[int], lost: int) -> str:
    """The line number of a staged row, from its place among the records the reader returned.

    The reader returns the records after the header in file order, less the blank lines and the
    lines it could not read; the k-th returned record is line header + k plus the number of such
    lines before it. Unknown (NULL) for JSON Lines and when the reader lost lines unlogged.
    """
    if source.layout is None or lost:
        return "NULL"
    header = source.layout.header_line
    gone = sorted({n for n in source.layout.blank_lines if n > header} | set(unreadable))
    # Returned records before the i-th (0-based) line gone: n - header - 1 - i.
    gaps = [n - header - 1 - i for i, n in enumerate(gone)]
    if not gaps:
        return f"r_record + {header}"
    return (f"r_record + {header} + (SELECT count(*) FROM (SELECT unnest({gaps!r}::BIGINT[]) AS g) "
            "WHERE g < r_record)")


def _reader_reason(encoding: str) -> str:
    """The reason for a line the CSV reader refused, from the faults it logged for that line."""
    fault = "lower(CAST(min(error_type) AS VARCHAR))"
    column = "coalesce(chr(39) || min(column_name) || chr(39), 'a column')"
    return (
        f"CASE WHEN bool_or(error_type = 'INVALID ENCODING') THEN "
        f"'text that is not valid {encoding} in ' || {column} "
        "|| ' (if the file has another encoding, pass --encoding, e.g. --encoding latin-1)' "
        f"WHEN bool_or(error_type = 'LINE SIZE OVER MAXIMUM') THEN "
        f"'line longer than {MAX_LINE_BYTES >> 20} MB' "
        f"ELSE 'malformed CSV line: ' || {fault} END"
    )


def _staging_sql(source: Source, columns: dict[str, str], config: RunConfig) -> str:
    """One pass over the file: raw text values, parsed values, and a reject reason (NULL if ok)."""

    def raw(canon: str) -> str:
        col = columns.get(canon)
        return f"nullif(trim({sql_ident(col)}), '')" if col else "CAST(NULL AS VARCHAR)"

    raw_cols = {canon: raw(canon) for canon in CANONICAL_COLUMNS}
    attr_raw = {
        a: f"nullif(trim({sql_ident(src)}), '')" for a, src in config.attributes.items()
    }
    is_json = "__json_error" in _relation_columns(source)
    raw_select = ", ".join(f"{expr} AS r_{canon}" for canon, expr in raw_cols.items())
    raw_select += "".join(f", {expr} AS {sql_ident('a_' + a)}" for a, expr in attr_raw.items())
    if is_json:
        raw_select += (", __json_error AS r_json_error, __json_line AS r_line, "
                       "CAST(NULL AS BIGINT) AS r_record")
    else:
        raw_select += ", CAST(NULL AS VARCHAR) AS r_json_error, row_number() OVER () AS r_record"
        packed = ", ".join(
            f"{sql_ident(c)} := {sql_ident(c)}" for c in source.columns
        )
        raw_select += f", CAST(to_json(struct_pack({packed})) AS VARCHAR) AS r_line"

    synonyms = {**EVENT_TYPE_SYNONYMS, **{k.lower(): v for k, v in config.event_types.items()}}
    synonym_cases = " ".join(
        f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in sorted(synonyms.items())
    )
    has_event_type = "event_type" in columns
    event_key = "lower(replace(replace(r_event_type, '-', '_'), ' ', '_'))"
    event_type = (
        f"CASE {event_key} {synonym_cases} END" if has_event_type else "'purchase'"
    )
    ts_parse = _timestamp_sql("r_timestamp", config.timestamp_format)
    user = (
        "CASE WHEN lower(r_user_id) IN ('nan', 'none', 'null', 'na', 'n/a') THEN NULL "
        "ELSE regexp_replace(r_user_id, '^(-?[0-9]+)\\.0+$', '\\1') END"
    )

    def number(canon: str) -> str:
        return (
            f"try_cast(regexp_replace(replace(r_{canon}, ',', ''), '{CURRENCY}', '', 'g') AS DOUBLE)"
        )

    # An empty event type on a row with a negative quantity or amount is still clearly a return.
    missing_type = (
        "WHEN r_event_type IS NULL AND NOT coalesce(qty < 0 OR amt < 0, false) "
        "THEN 'missing event_type'" if has_event_type else ""
    )
    unknown_type = (
        "WHEN r_event_type IS NOT NULL AND p_type IS NULL THEN 'unknown event_type ' || chr(39) "
        "|| left(r_event_type, 40) || chr(39)" if has_event_type else ""
    )
    long_fields = "".join(
        f"WHEN length({expr}) > {MAX_FIELD_CHARS} THEN "
        + sql_str(f"{name} (column '{col}') longer than {MAX_FIELD_CHARS:,} characters") + " "
        for name, col, expr in [
            *((c, columns[c], f"r_{c}") for c in CANONICAL_COLUMNS if c in columns),
            *((a, src, sql_ident("a_" + a)) for a, src in config.attributes.items()),
        ]
    )
    attr_out = "".join(f", {sql_ident('a_' + a)} AS {sql_ident('attr_' + a)}" for a in attr_raw)
    return f"""
    WITH raw AS (SELECT {raw_select} FROM {source.relation}),
    parsed AS (
        SELECT *,
            {user} AS p_user,
            {ts_parse} AS p_ts,
            {event_type} AS p_type,
            {number('quantity')} AS p_qty,
            {number('price')} AS p_price,
            {number('amount')} AS p_amount
        FROM raw
    ),
    valued AS (
        SELECT *,
            coalesce(p_qty, 1.0) AS qty,
            coalesce(p_amount, p_price * coalesce(p_qty, 1.0)) AS amt
        FROM parsed
    ),
    checked AS (
        SELECT *,
            CASE
                WHEN r_json_error IS NOT NULL THEN r_json_error
                WHEN p_user IS NULL THEN 'missing user_id'
                WHEN r_timestamp IS NULL THEN 'missing timestamp'
                WHEN p_ts IS NULL THEN 'unparseable timestamp'
                {missing_type}
                {unknown_type}
                WHEN r_quantity IS NOT NULL AND (p_qty IS NULL OR NOT isfinite(p_qty))
                    THEN 'non-numeric quantity'
                WHEN r_price IS NOT NULL AND (p_price IS NULL OR NOT isfinite(p_price))
                    THEN 'non-numeric price'
                WHEN r_amount IS NOT NULL AND (p_amount IS NULL OR NOT isfinite(p_amount))
                    THEN 'non-numeric amount'
                WHEN length(p_user) > {MAX_ID_CHARS}
                    THEN 'user_id longer than {MAX_ID_CHARS} characters'
                {long_fields}
                WHEN p_ts < TIMESTAMP '{FIRST_YEAR}-01-01' OR p_ts >= TIMESTAMP '{LAST_YEAR + 1}-01-01'
                    THEN 'timestamp outside the years {FIRST_YEAR}-{LAST_YEAR}'
                WHEN abs(qty) > {MAX_VALUE:.0e} THEN 'quantity out of range (over {MAX_VALUE:.0e})'
                WHEN abs(p_price) > {MAX_VALUE:.0e} THEN 'price out of range (over {MAX_VALUE:.0e})'
                WHEN NOT isfinite(amt) OR abs(amt) > {MAX_VALUE:.0e}
                    THEN 'amount out of range (over {MAX_VALUE:.0e})'
            END AS reason,
            p_type = 'return' OR qty < 0 OR amt < 0 AS is_return
        FROM valued
    )
    SELECT
        p_user AS user_id,
        p_ts AS ts,
        CASE WHEN is_return THEN 'return' ELSE p_type END AS event_type,
        r_text AS text,
        r_product_id AS product_id,
        r_order_id AS order_id,
        r_category AS category,
        CASE WHEN is_return THEN -abs(qty) ELSE qty END AS quantity,
        p_price AS price,
        CASE WHEN is_return THEN -abs(amt) ELSE amt END AS amount
        {attr_out},
        reason,
        CASE WHEN reason IS NOT NULL THEN r_line END AS raw,
        r_record
    FROM checked
    """


def _timestamp_sql(col: str, fmt: str | None) -> str:
    """Parse ISO-8601, epoch seconds/milliseconds (or a given strptime format) to naive UTC."""
    epoch = (
        f"CASE WHEN regexp_full_match({col}, '-?[0-9]{{9,13}}(\\.[0-9]+)?') THEN "
        f"CASE WHEN abs(CAST({col} AS DOUBLE)) >= 1e11 "
        f"THEN timezone('UTC', to_timestamp(CAST({col} AS DOUBLE) / 1000.0)) "
        f"ELSE timezone('UTC', to_timestamp(CAST({col} AS DOUBLE))) END END"
    )
    iso = f"timezone('UTC', try_cast({col} AS TIMESTAMPTZ))"
    parts = [epoch]
    if fmt:
        parts.append(f"try_strptime({col}, {sql_str(fmt)})")
    parts.append(iso)
    return "coalesce(" + ", ".join(parts) + ")"


def _relation_columns(source: Source) -> set[str]:
    return {"__json_error"} if "__json_error" in source.relation else set()


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _list(columns: tuple[str, ...]) -> str:
    shown = ", ".join(columns[:12])
    return shown + (f", … ({len(columns)} in all)" if len(columns) > 12 else "")
