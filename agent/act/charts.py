"""Numbers behind the web app's pictures: segment sizes, revenue shares, RFM distributions, summary."""

from __future__ import annotations

from typing import Any

import duckdb

from segmint.agent.core.records import read_latest_run
from segmint.agent.core.sql import fetch_one

RFM_FIELDS = ("recency_days", "orders", "revenue")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def segment_charts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Sizes, revenue shares and recency/frequency/monetary box statistics per segment.

    Box statistics are computed in the database (quantiles 5/25/50/75/95 %), so the page draws
    the same pictures for a thousand customers or a million.

    Returns:
        `{"segments": [{"id", "name", "size", "share", "revenue", "revenue_share"}],
        "distributions": {field: [{"id", "n", "q05", "q25", "median", "q75", "q95", "mean"}]}}`.
    """
    rows = con.execute(
        "SELECT CAST(coalesce(u.segment_id, 0) AS VARCHAR) AS sid, any_value(s.name), count(*), "
        "coalesce(sum(u.revenue), 0) FROM users u LEFT JOIN segments s "
        "ON s.segment_id = coalesce(u.segment_id, 0) GROUP BY sid "
        "ORDER BY sid = '0', count(*) DESC, sid").fetchall()
    customers = sum(int(r[2]) for r in rows) or 1
    revenue = sum(float(r[3]) for r in rows)
    segments = [{"id": sid, "name": name or ("Unassigned" if sid == "0" else f"Segment {sid}"),
                 "size": int(n), "share": round(int(n) / customers, 6), "revenue": round(float(rev), 2),
                 "revenue_share": round(float(rev) / revenue, 6) if revenue > 0 else 0.0}
                for sid, name, n, rev in rows]
    distributions: dict[str, list[dict[str, Any]]] = {}
    for name in RFM_FIELDS:
        stats = con.execute(
            f"SELECT CAST(coalesce(segment_id, 0) AS VARCHAR) AS sid, count({name}), "
            f"quantile_cont({name}, {list(QUANTILES)}), avg({name}) FROM users "
            f"WHERE {name} IS NOT NULL GROUP BY sid").fetchall()
        by_id = {sid: (n, qs, mean) for sid, n, qs, mean in stats}
        out = []
        for seg in segments:
            if seg["id"] not in by_id:
                continue
            n, qs, mean = by_id[seg["id"]]
            out.append({"id": seg["id"], "n": int(n),
                        **{k: round(float(v), 2) for k, v in
                           zip(("q05", "q25", "median", "q75", "q95"), qs, strict=True)},
                        "mean": round(float(mean), 2)})
        distributions[name] = out
    return {"segments": segments, "distributions": distributions}


def shop_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Customers, revenue, currency, reference date and segment count of the current run."""
    customers, revenue = fetch_one(con.execute(
        "SELECT count(*), coalesce(sum(revenue), 0) FROM users")) or (0, 0.0)
    latest = read_latest_run(con)
    n_segments = fetch_one(con.execute("SELECT count(*) FROM segments WHERE segment_id <> 0")) or (0,)
    return {"customers": int(customers), "revenue": round(float(revenue), 2),
            "currency": latest.currency if latest else "",
            "as_of": latest.counts.get("as_of") if latest else None,
            "segments": int(n_segments[0]), "run_id": latest.run_id if latest else None}
