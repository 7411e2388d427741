"""Risky customers: an anomaly score per customer from refunds, order bursts and how atypical they
are of their segment (the clusterer's outlier score), with the reason in words.

Components (each turned into its percentile rank among all customers, 0-1; ties share the lowest
rank, so customers with no returns at all rank 0 on returns):

- `return_rate`: refunded money / money spent before refunds (`returned_amount / (revenue +
  returned_amount)`);
- `returned_amount`: refunds in money;
- `burst_orders`: the most orders the customer placed on a single day;
- `outlier_score`: 1 - membership (how far from typical of their segment; 1 for Unassigned).

`risk_score` = 0.35 return_rate + 0.25 returned_amount + 0.25 burst_orders + 0.15 outlier_score
(ranks), in 0-1. A customer is *risky* when the score is at or above the 95th percentile over
customers with an order and at least 0.5 (so that a mass of tied ordinary scores is never risky:
it takes a top rank on two components; the glossary term "risky" says the same); only they get a
`risk_reason`: the components in which they rank in the top 10%, in plain words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

from segmint.agent.core.schema import RISK_SCORES
from segmint.agent.core.sql import fetch_one, sql_str

__all__ = ["RISKY_PERCENTILE", "RISK_COLUMNS", "WEIGHTS", "RiskReport", "score_risk"]

WEIGHTS = {"return_rate": 0.35, "returned_amount": 0.25, "burst_orders": 0.25, "outlier_score": 0.15}
RISKY_PERCENTILE = 95
NOTABLE_RANK = 0.9
MIN_RISK_SCORE = 0.5  # ties at a low score (most customers return nothing) are never risky
RISK_COLUMNS = RISK_SCORES.column_names[1:]


@dataclass
class RiskReport:
    """What the risk step found: the risky threshold on risk_score and how many reach it."""

    threshold: float
    risky: int

    def to_json(self) -> dict[str, float | int]:
        """The `risk` counts of the run."""
        return asdict(self)


def score_risk(con: duckdb.DuckDBPyConnection, currency: str = "") -> RiskReport:
    """Write `risk_scores`: each customer's components, score and reason (see the module docstring).

    Args:
        con: the run's connection with `customer_features` and `events` (`segment_members`
            optional: without it, nobody is an outlier).
        currency: symbol for the reasons.
    """
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    members = "segment_members" in tables
    outlier = ("CASE WHEN m.segment_id IS NULL THEN 0.0 WHEN m.segment_id = 0 THEN 1.0 "
               "ELSE 1.0 - coalesce(m.membership, 0.0) END") if members else "0.0"
    member_join = "LEFT JOIN segment_members m USING (user_id)" if members else ""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _risk AS
        WITH bursts AS (
            SELECT user_id, max(n) AS burst_orders FROM (
                SELECT user_id, CAST(ts AS DATE) AS day,
                       count(DISTINCT coalesce(order_id, 'row:' || CAST(rowid AS VARCHAR))) AS n
                FROM events WHERE event_type = 'purchase' GROUP BY 1, 2
            ) GROUP BY 1
        ),
        base AS (
            SELECT u.user_id, u.orders,
                   CASE WHEN u.revenue + u.returned_amount > 0
                        THEN least(greatest(u.returned_amount / (u.revenue + u.returned_amount), 0), 1)
                        ELSE 0.0 END AS return_rate,
                   CAST(u.returned_amount AS DOUBLE) AS returned_amount,
                   coalesce(b.burst_orders, 0) AS burst_orders,
                   {outlier} AS outlier_score
            FROM customer_features u LEFT JOIN bursts b USING (user_id) {member_join}
        ),
        ranked AS (
            SELECT *,
                   percent_rank() OVER (ORDER BY return_rate) AS r_return_rate,
                   percent_rank() OVER (ORDER BY returned_amount) AS r_returned_amount,
                   percent_rank() OVER (ORDER BY burst_orders) AS r_burst_orders,
                   percent_rank() OVER (ORDER BY outlier_score) AS r_outlier_score
            FROM base
        )
        SELECT *, {" + ".join(f"{w} * r_{k}" for k, w in WEIGHTS.items())} AS risk_score
        FROM ranked""")
    row = fetch_one(con.execute(
        f"SELECT quantile_cont(risk_score, {RISKY_PERCENTILE / 100}) FROM _risk WHERE orders >= 1"))
    threshold = float(row[0]) if row and row[0] is not None else 1.0
    cur = sql_str(currency)
    RISK_SCORES.create(con)
    con.execute(f"""
        INSERT INTO risk_scores BY NAME
        SELECT r.user_id, r.return_rate, r.burst_orders, r.outlier_score, r.risk_score,
            CASE WHEN r.orders >= 1 AND r.risk_score >= ? AND r.risk_score >= ? THEN
                coalesce(nullif(concat_ws('; ',
                CASE WHEN r.r_return_rate >= {NOTABLE_RANK} AND r.return_rate > 0
                     THEN 'refunded ' || CAST(round(100 * r.return_rate) AS INTEGER) || '% of spend' END,
                CASE WHEN r.r_returned_amount >= {NOTABLE_RANK} AND r.returned_amount > 0
                     THEN 'refunds of ' || {cur} || printf('%,.2f', r.returned_amount) END,
                CASE WHEN r.r_burst_orders >= {NOTABLE_RANK} AND r.burst_orders > 1
                     THEN CAST(r.burst_orders AS VARCHAR) || ' orders in one day' END,
                CASE WHEN r.r_outlier_score >= {NOTABLE_RANK} AND r.outlier_score > 0
                     THEN 'unlike the rest of their segment' END), ''),
                'risk score ' || printf('%.2f', r.risk_score) || ' (top {100 - RISKY_PERCENTILE}%)')
            END AS risk_reason
        FROM _risk r""", [threshold, MIN_RISK_SCORE])
    con.execute("DROP TABLE _risk")
    (risky,) = fetch_one(con.execute(
        "SELECT count(*) FROM risk_scores WHERE risk_reason IS NOT NULL")) or (0,)
    return RiskReport(round(threshold, 6), int(risky))
