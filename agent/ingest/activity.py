"""What event questions read (docs/definitions.md "Questions"): `items`, `activity` and
`customer_keys`.

A question about what customers did ("bought teapots twice", "spent over 1,000 in the last 90
days") reads every event of one type, of some products or in one window. `events` holds wide text
columns in file order; `activity` holds the same events with only what a condition or measure
needs, the customer, product and order as integer keys (grouping by an integer is several times
cheaper than by text, and a product filter reads one integer column), sorted by event type and
time, so DuckDB skips the row groups of other types and periods. `items` holds each distinct
product (and search text) once, with its customers per event type, for matching a question's
product words against a few thousand texts instead of millions of events.
"""

from __future__ import annotations

import duckdb

from segmint.agent.core.schema import ACTIVITY, CUSTOMER_KEYS, EVENT_TYPES, ITEMS
from segmint.agent.core.sql import fetch_one, sql_str

__all__ = ["build_activity"]

_SAME_ITEM = " AND ".join(f"i.{c} IS NOT DISTINCT FROM e.{c}" for c in ("product_id", "text", "category"))


def build_activity(con: duckdb.DuckDBPyConnection) -> int:
    """Create `customer_keys`, `activity` and `items` from `events` (after ingest).

    Args:
        con: the run's connection with the `events` table.

    Returns:
        The number of items.
    """
    CUSTOMER_KEYS.create(con)
    con.execute("INSERT INTO customer_keys SELECT CAST(row_number() OVER (ORDER BY user_id) AS INTEGER), "
                "user_id FROM (SELECT DISTINCT user_id FROM events)")
    con.execute(
        """
        CREATE TEMP TABLE item_keys AS
        SELECT CAST(row_number() OVER (ORDER BY product_id, text, category) AS INTEGER) AS item,
               product_id, text, category, product
        FROM (SELECT product_id, text, category, bool_or(event_type <> 'search') AS product
              FROM events
              WHERE product_id IS NOT NULL OR text IS NOT NULL OR category IS NOT NULL
              GROUP BY ALL)
        """
    )
    con.execute("CREATE TEMP TABLE order_keys AS SELECT CAST(row_number() OVER (ORDER BY order_id) "
                "AS INTEGER) AS order_key, order_id FROM (SELECT DISTINCT order_id FROM events "
                "WHERE order_id IS NOT NULL)")
    ACTIVITY.create(con)
    # An event that names no product, text or category has no item (NULL): it still counts for
    # conditions without a product ("spent over 1,000 in the last 90 days").
    con.execute(
        f"""
        INSERT INTO activity
        SELECT k.uid, i.item, e.event_type, e.ts, o.order_key, e.quantity, e.amount
        FROM events e JOIN customer_keys k ON k.user_id = e.user_id
        LEFT JOIN item_keys i ON {_SAME_ITEM}
        LEFT JOIN order_keys o ON o.order_id = e.order_id
        ORDER BY e.event_type, e.ts
        """
    )
    # Each item's customers per event type: the products an answer lists come with their counts
    # without reading `activity` again when the question has no window.
    ITEMS.create(con)
    per_type = ", ".join([*(f"count(DISTINCT a.uid) FILTER (WHERE a.event_type = {sql_str(t)}) "
                            f"AS customers_{t}" for t in EVENT_TYPES),
                          "count(DISTINCT a.uid) AS customers_any"])
    con.execute(
        f"""
        INSERT INTO items BY NAME
        SELECT k.*, c.* EXCLUDE (item) FROM item_keys k JOIN (
            SELECT a.item, {per_type} FROM activity a WHERE a.item IS NOT NULL GROUP BY a.item
        ) c USING (item)
        ORDER BY k.item
        """
    )
    con.execute("DROP TABLE item_keys")
    con.execute("DROP TABLE order_keys")
    (n,) = fetch_one(con.execute("SELECT count(*) FROM items")) or (0,)
    return int(n)
