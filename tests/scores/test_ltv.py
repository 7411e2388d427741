"""Lifetime value and churn: the purchase summary recomputed with pandas; fitted values stored,
consistent, and ordered the way the BG/NBD model must order them; the glossary terms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import run_cli
from segmint.agent.core.workspace import Workspace
from segmint.agent.scores.ltv import LTV_COLUMNS, summarise

pd = pytest.importorskip("pandas")


def _as_of(ws: Path) -> Any:
    with Workspace(ws).connect() as con:
        counts = json.loads(con.execute(
            "SELECT counts FROM runs ORDER BY finished_at DESC LIMIT 1").fetchall()[0][0])
    return pd.Timestamp(counts["as_of"]).to_pydatetime()


def test_summary_matches_pandas(shop_with_users: tuple[Path, Path]) -> None:
    ws, events = shop_with_users
    as_of = _as_of(ws)
    with Workspace(ws).connect() as con:
        got = summarise(con, as_of)
    raw = pd.read_parquet(events)
    buys = raw[(raw["event_type"] == "purchase") & (raw["quantity"] > 0)
               & (raw["timestamp"] < as_of)].copy()
    buys["day"] = buys["timestamp"].dt.normalize()
    buys["value"] = buys["price"] * buys["quantity"]
    days = buys.groupby(["user_id", "day"])["value"].sum().reset_index()
    first = days.groupby("user_id")["day"].transform("min")
    per = days.groupby("user_id").agg(n=("day", "size"), first=("day", "min"), last=("day", "max"))
    repeat = days[days["day"] > first].groupby("user_id")["value"].mean()
    end = pd.Timestamp(as_of).normalize()
    per = per.loc[got.user_ids]
    assert got.frequency.tolist() == (per["n"] - 1).tolist()
    assert got.recency.tolist() == (per["last"] - per["first"]).dt.days.tolist()
    assert got.T.tolist() == np.maximum((end - per["first"]).dt.days, 1).tolist()
    assert got.monetary == pytest.approx(repeat.reindex(got.user_ids).fillna(0).to_numpy(), rel=1e-9)


@pytest.fixture(scope="module")
def ltv_shop(tmp_path_factory: pytest.TempPathFactory, shop_with_users: tuple[Path, Path]) -> Path:
    pytest.importorskip("pymc_marketing")
    _, events = shop_with_users
    ws = tmp_path_factory.mktemp("ltv") / "ws"
    run_cli("run", str(events), "-w", str(ws), "--currency", "£", "--ltv", check=True)
    return ws


def test_values_are_stored_and_consistent(ltv_shop: Path) -> None:
    with Workspace(ltv_shop).connect() as con:
        df = con.execute(f"SELECT orders, recency_days, {', '.join(LTV_COLUMNS)} FROM users").df()
        counts = json.loads(con.execute(
            "SELECT counts FROM runs ORDER BY finished_at DESC LIMIT 1").fetchall()[0][0])
    buyers = df[df["orders"] >= 1]
    assert counts["ltv"]["customers"] == len(buyers)
    assert df.loc[df["orders"] == 0, list(LTV_COLUMNS)].isna().all().all()
    assert buyers[list(LTV_COLUMNS)].notna().all().all()
    assert ((buyers["p_alive"] >= 0) & (buyers["p_alive"] <= 1)).all()
    assert (buyers["expected_purchases"] >= 0).all() and (buyers["expected_spend"] > 0).all()
    assert buyers["expected_value"].to_numpy() == pytest.approx(
        (buyers["expected_purchases"] * buyers["expected_spend"]).to_numpy())
    # BG/NBD: among repeat buyers, those who bought recently are more likely alive than the lapsed.
    repeat = buyers[buyers["orders"] >= 2]
    recent = repeat.loc[repeat["recency_days"] <= 30, "p_alive"].mean()
    lapsed = repeat.loc[repeat["recency_days"] > 180, "p_alive"].mean()
    assert recent > lapsed + 0.2


@pytest.mark.parametrize(("question", "column", "test"), [
    ("customers predicted to churn", "p_alive", lambda df: (df["orders"] >= 1) & (df["p_alive"] < 0.5)),
    ("high predicted value customers", "expected_value",
     lambda df: df["expected_value"] >= np.percentile(df.loc[df["orders"] >= 1, "expected_value"], 80)),
])
def test_glossary_terms_select_the_right_customers(ltv_shop: Path, question: str, column: str,
                                                    test: Any) -> None:
    doc = json.loads(run_cli("ask", question, "-w", str(ltv_shop), "--json", check=True).stdout)
    with Workspace(ltv_shop).connect() as con:
        df = con.execute(f"SELECT orders, {column} FROM users").df()
    assert doc["count"] == int(test(df).sum()) > 0
