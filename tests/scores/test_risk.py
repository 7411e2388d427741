"""Risky customers: scores recomputed independently, the glossary term, reasons in `why`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import run_cli
from segmint.agent.core.config import RunConfig
from segmint.agent.core.workspace import Workspace, connect
from segmint.agent.ingest.events import ingest
from segmint.agent.ingest.features import features_step
from segmint.agent.scores.risk import RISK_COLUMNS, RISKY_PERCENTILE, WEIGHTS, RiskReport, score_risk

pd = pytest.importorskip("pandas")


def _pct_rank(values: Any) -> Any:
    """SQL percent_rank: (rank with ties at the lowest - 1) / (n - 1)."""
    return (values.rank(method="min") - 1) / (len(values) - 1)


def test_scores_match_an_independent_computation(shop_with_users: tuple[Path, Path]) -> None:
    ws, events = shop_with_users
    raw = pd.read_parquet(events)
    raw["amount"] = raw["price"] * raw["quantity"]
    is_return = (raw["event_type"] == "return") | (raw["quantity"] < 0)
    buys = raw[(raw["event_type"] == "purchase") & ~is_return].copy()
    spent = buys.groupby("user_id")["amount"].sum()
    refunded = -raw[is_return].groupby("user_id")["amount"].sum()
    buys["day"] = buys["timestamp"].dt.date
    burst = buys.groupby(["user_id", "day"])["order_id"].nunique().groupby("user_id").max()
    with Workspace(ws).connect() as con:
        got = con.execute("SELECT user_id, segment_id, membership, orders, return_rate, "
                          "burst_orders, outlier_score, risk_score, risk_reason FROM users").df()
    got = got.set_index("user_id")
    frame = pd.DataFrame(index=got.index)
    frame["refunded"] = refunded.reindex(frame.index).fillna(0.0)
    gross = spent.reindex(frame.index).fillna(0.0)
    frame["return_rate"] = np.where(gross > 0, (frame["refunded"] / gross).clip(0, 1), 0.0)
    frame["burst"] = burst.reindex(frame.index).fillna(0).astype(int)
    frame["outlier"] = np.where(got["segment_id"] == 0, 1.0, 1.0 - got["membership"])
    assert got["return_rate"].to_numpy() == pytest.approx(frame["return_rate"].to_numpy(), abs=1e-9)
    assert (got["burst_orders"].to_numpy() == frame["burst"].to_numpy()).all()
    assert got["outlier_score"].to_numpy() == pytest.approx(frame["outlier"].to_numpy(), abs=1e-6)
    score = (WEIGHTS["return_rate"] * _pct_rank(frame["return_rate"])
             + WEIGHTS["returned_amount"] * _pct_rank(frame["refunded"])
             + WEIGHTS["burst_orders"] * _pct_rank(frame["burst"])
             + WEIGHTS["outlier_score"] * _pct_rank(frame["outlier"]))
    assert got["risk_score"].to_numpy() == pytest.approx(score.to_numpy(), abs=1e-6)
    threshold = np.percentile(got.loc[got["orders"] >= 1, "risk_score"], RISKY_PERCENTILE)
    risky = (got["orders"] >= 1) & (got["risk_score"] >= threshold) & (got["risk_score"] >= 0.5)
    assert (got["risk_reason"].notna().to_numpy() == risky.to_numpy()).all()
    assert risky.sum() >= 0.04 * (got["orders"] >= 1).sum()


def test_ask_which_customers_look_risky(shop_with_users: tuple[Path, Path]) -> None:
    ws, _ = shop_with_users
    doc = json.loads(run_cli("ask", "which customers look risky?", "-w", str(ws), "--json",
                             check=True).stdout)
    with Workspace(ws).connect() as con:
        scores = np.array([r[0] for r in con.execute(
            "SELECT risk_score FROM users WHERE orders >= 1").fetchall()])
        reasons = dict(con.execute(
            "SELECT user_id, risk_reason FROM users WHERE risk_reason IS NOT NULL").fetchall())
    threshold = np.percentile(scores, RISKY_PERCENTILE)
    assert doc["count"] == int(((scores >= threshold) & (scores >= 0.5)).sum())
    assert doc["count"] == len(reasons)
    assert doc["query"]["any_of"] == [[{"kind": "term", "term": "risky"}]]
    assert doc["sample"]
    for row in doc["sample"]:
        assert f"risky: {reasons[row['user_id']]}" in row["why"]


def _normal(uid: str, day: int) -> list[dict[str, Any]]:
    return [{"user_id": uid, "timestamp": f"2024-03-{day:02d}T10:00:00", "event_type": "purchase",
             "product_id": f"p{day % 5}", "text": f"Mug model {day % 5}", "order_id": f"{uid}-{k}",
             "quantity": 1, "price": 10 + day} for k in range(2)]


def test_a_serial_returner_with_an_order_burst_is_flagged(write_events: Any, workspace_dir: Path
                                                          ) -> None:
    rows = [r for i in range(60) for r in _normal(f"c{i:02d}", 1 + i % 27)]
    abuser = [{"user_id": "zz", "timestamp": f"2024-03-20T1{k}:00:00", "event_type": "purchase",
               "product_id": "p1", "text": "Mug model 1", "order_id": f"zz-{k}", "quantity": 3,
               "price": 80} for k in range(6)]
    abuser += [{"user_id": "zz", "timestamp": "2024-03-25T10:00:00", "event_type": "return",
                "product_id": "p1", "text": "Mug model 1", "order_id": f"zz-{k}", "quantity": -3,
                "price": 80} for k in range(6)]
    path = write_events(rows + abuser)
    run_cli("run", str(path), "-w", str(workspace_dir), "--currency", "£", check=True)
    doc = json.loads(run_cli("user", "zz", "-w", str(workspace_dir), "--json", check=True).stdout)
    assert doc["features"]["return_rate"] == pytest.approx(1.0)
    assert doc["features"]["burst_orders"] == 6
    assert "refunded 100% of spend" in doc["why"]
    assert "6 orders in one day" in doc["why"]
    asked = json.loads(run_cli("ask", "suspicious customers", "-w", str(workspace_dir), "--json",
                               check=True).stdout)
    assert [r["user_id"] for r in asked["sample"]] == ["zz"]


def test_risk_writes_only_its_own_table(write_events: Any) -> None:
    rows = [r for i in range(30) for r in _normal(f"c{i:02d}", 1 + i % 27)]
    rows += [{"user_id": "zz", "timestamp": f"2024-03-2{k}T10:00:00", "event_type": kind,
              "product_id": "p1", "order_id": "zz-0", "quantity": qty, "price": 80}
             for k, kind, qty in ((0, "purchase", 3), (5, "return", -3))]
    con = connect(":memory:")
    features_step(con, RunConfig(), ingest(con, [write_events(rows)], RunConfig()))
    before = con.execute("DESCRIBE customer_features").fetchall()
    report = score_risk(con, "£")
    assert isinstance(report, RiskReport) and report.to_json() == {
        "threshold": report.threshold, "risky": report.risky}
    assert con.execute("DESCRIBE customer_features").fetchall() == before
    assert [r[0] for r in con.execute("DESCRIBE risk_scores").fetchall()] == ["user_id", *RISK_COLUMNS]
    got = dict(con.execute("SELECT user_id, risk_reason FROM risk_scores").fetchall())
    assert len(got) == 31 and sum(v is not None for v in got.values()) == report.risky >= 1
    assert "refunded 100% of spend" in got["zz"]
    # Without segment memberships nobody is unlike their segment.
    assert con.execute("SELECT max(outlier_score) FROM risk_scores").fetchone() == (0.0,)
