"""The workspace's table layout: the contract between ingest, features and every later step."""

from __future__ import annotations

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

# The `events` table: one accepted event per row, already normalised.
#   ts is naive UTC; event_type is one of EVENT_TYPES; returns carry negative quantity and amount;
#   every `--attr NAME=SOURCE` adds a VARCHAR column `attr_NAME`.
EVENTS_DDL = """
CREATE TABLE events (
    user_id     VARCHAR   NOT NULL,
    ts          TIMESTAMP NOT NULL,
    event_type  VARCHAR   NOT NULL,
    text        VARCHAR,
    product_id  VARCHAR,
    order_id    VARCHAR,
    category    VARCHAR,
    quantity    DOUBLE,
    price       DOUBLE,
    amount      DOUBLE,
    source_file VARCHAR   NOT NULL,
    source_row  BIGINT
    {attr_columns}
)
"""

# Every row that was read but not accepted, with the reason and the raw values as JSON.
REJECTS_DDL = """
CREATE TABLE rejects (
    source_file VARCHAR NOT NULL,
    source_row  BIGINT,
    reason      VARCHAR NOT NULL,
    raw         VARCHAR
)
"""

RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      VARCHAR PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    command     VARCHAR NOT NULL,
    params      JSON,
    versions    JSON,
    counts      JSON,
    seconds     JSON
)
"""

# Numeric features a question or a profile may refer to (the whitelist later steps build on).
NUMERIC_FEATURES: tuple[str, ...] = (
    "recency_days", "tenure_days", "orders", "revenue", "aov", "units", "returns",
    "returned_amount", "n_events", "n_search", "n_view", "n_cart", "n_purchase", "n_return",
    "n_products", "active_days",
    # Risk (agent/scores/risk.py) and lifetime value (agent/scores/ltv.py), added after the features step.
    "return_rate", "burst_orders", "outlier_score", "risk_score",
    "expected_purchases", "p_alive", "expected_spend", "expected_value",
)
