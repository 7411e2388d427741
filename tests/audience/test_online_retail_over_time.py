"""Audiences over time on real data: UCI Online Retail cut at 2011-09-01 (first run), then the rest
appended. Every figure is checked against pandas on the raw file, computed from the definitions in
docs/definitions.md, not with segmint's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import ONLINE_RETAIL, ONLINE_RETAIL_MAP, run_cli

CUT = pd.Timestamp("2011-09-01")
QUESTION = "lapsed high spenders"
FAST = ["--embedder", "minilm-static", "--currency", "£"]


def _raw() -> pd.DataFrame:
    df = pd.read_csv(ONLINE_RETAIL, dtype={"InvoiceNo": str, "StockCode": str})
    df = df[df["CustomerID"].notna()].copy()
    df["user_id"] = df["CustomerID"].astype(int).astype(str)
    df["ts"] = pd.to_datetime(df["InvoiceDate"])
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    df["is_return"] = (df["Quantity"] < 0) | (df["amount"] < 0)
    return df


def lapsed_high_spenders(df: pd.DataFrame) -> set[str]:
    """docs/definitions.md: orders >= 1, recency_days > 90, revenue >= p80 over buyers."""
    as_of = df["ts"].max()
    buys = df[~df["is_return"]]
    orders = buys.groupby("user_id")["InvoiceNo"].nunique()
    revenue = df.groupby("user_id")["amount"].sum()
    recency = ((as_of - buys.groupby("user_id")["ts"].max()) / pd.Timedelta(days=1)).apply(np.floor)
    buyers = orders[orders >= 1].index
    p80 = np.percentile(revenue.loc[buyers].to_numpy(), 80)
    chosen = [u for u in buyers if recency[u] > 90 and revenue[u] >= p80]
    return set(chosen)


def monthly(df: pd.DataFrame, users: set[str]) -> list[dict[str, Any]]:
    part = df[df["user_id"].isin(users)]
    buys = part[~part["is_return"]]
    month = part["ts"].dt.strftime("%Y-%m")
    out = []
    for m in sorted(month.unique()):
        in_month = buys[buys["ts"].dt.strftime("%Y-%m") == m]
        out.append({"month": m, "customers": in_month["user_id"].nunique(),
                    "orders": in_month["InvoiceNo"].nunique(),
                    "revenue": round(float(part.loc[month == m, "amount"].sum()), 2)})
    return out


def cli_json(*args: str) -> Any:
    return json.loads(run_cli(*args, "--json", check=True).stdout)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    if not ONLINE_RETAIL.exists():
        pytest.skip("shared Online Retail dataset not present")
    root = tmp_path_factory.mktemp("retail-over-time")
    raw = pd.read_csv(ONLINE_RETAIL, dtype=str, keep_default_na=False)
    dates = pd.to_datetime(raw["InvoiceDate"])
    raw[dates < CUT].to_csv(root / "before.csv", index=False)
    raw[dates >= CUT].to_csv(root / "after.csv", index=False)
    ws = root / "ws"
    run_cli("run", str(root / "before.csv"), "-w", str(ws), *ONLINE_RETAIL_MAP, *FAST, "--json",
            check=True)
    run_cli("audience", "save", QUESTION, "--question", QUESTION, "-w", str(ws), check=True)
    first = cli_json("audience", "show", QUESTION, "-w", str(ws))
    (root / "first.json").write_text(json.dumps(first))
    run_cli("run", str(root / "after.csv"), "--append", "-w", str(ws), *ONLINE_RETAIL_MAP, *FAST,
            "--json", check=True)
    return ws, _raw()


def test_audience_re_evaluates_to_the_pandas_set_at_each_as_of(two_runs: tuple[Path, pd.DataFrame]
                                                               ) -> None:
    ws, df = two_runs
    before = lapsed_high_spenders(df[df["ts"] < CUT])
    after = lapsed_high_spenders(df)
    shown = cli_json("audience", "show", QUESTION, "-w", str(ws))
    assert [h["size"] for h in shown["history"]] == [len(before), len(after)]
    out = ws.parent / "now.csv"
    run_cli("audience", "export", QUESTION, "-o", str(out), "-w", str(ws), check=True)
    assert set(pd.read_csv(out, dtype={"user_id": str})["user_id"]) == after
    assert shown["history"][1]["entered"] == len(after - before)
    assert shown["history"][1]["left"] == len(before - after)


def test_diff_lists_exactly_who_entered_and_left(two_runs: tuple[Path, pd.DataFrame]) -> None:
    ws, df = two_runs
    before = lapsed_high_spenders(df[df["ts"] < CUT])
    after = lapsed_high_spenders(df)
    doc = cli_json("audience", "diff", QUESTION, "-w", str(ws))
    assert {r["user_id"] for r in doc["entered"]} == after - before
    assert {r["user_id"] for r in doc["left"]} == before - after
    assert all(r["why"] for r in doc["entered"] + doc["left"])
    by_date = cli_json("audience", "diff", QUESTION, "--since", "2011-09-01", "-w", str(ws))
    assert by_date["since"] == doc["since"]


def test_history_shows_every_run_and_migrations_add_up(two_runs: tuple[Path, pd.DataFrame]) -> None:
    ws, _ = two_runs
    doc = cli_json("history", "-w", str(ws))
    assert len(doc["runs"]) == 2
    last = doc["runs"][-1]
    into: dict[int, int] = {}
    for m in last["migrations"]:
        into[m["to"]] = into.get(m["to"], 0) + m["customers"]
    assert into == {s["id"]: s["size"] for s in last["segments"]}


def test_overlap_and_trend_equal_pandas(two_runs: tuple[Path, pd.DataFrame]) -> None:
    ws, df = two_runs
    lapsed_vips = lapsed_high_spenders(df)
    orders = df[~df["is_return"]].groupby("user_id")["InvoiceNo"].nunique()
    repeat = set(orders[orders >= 2].index)
    doc = cli_json("overlap", QUESTION, "repeat buyers", "-w", str(ws))
    pair = doc["pairs"][0]
    both = lapsed_vips & repeat
    assert (pair["both"], pair["only_a"], pair["only_b"]) == (
        len(both), len(lapsed_vips - repeat), len(repeat - lapsed_vips))
    assert pair["jaccard"] == pytest.approx(len(both) / len(lapsed_vips | repeat), abs=1e-4)
    trend = cli_json("trend", QUESTION, "-w", str(ws))
    assert trend["monthly"] == monthly(df, lapsed_vips)


def cohorts(df: pd.DataFrame, users: set[str], months: int = 12) -> list[dict[str, Any]]:
    """First-order cohorts (docs/definitions.md "Audiences"): each month's new buyers among the
    members and the share who bought again k months later; null for months after the data."""
    buys = df[~df["is_return"] & df["user_id"].isin(users)]
    month = buys["ts"].dt.year * 12 + buys["ts"].dt.month - 1
    bought = set(zip(buys["user_id"], month, strict=True))
    first = month.groupby(buys["user_id"]).min()
    last = int(df["ts"].max().year * 12 + df["ts"].max().month - 1)
    out = []
    for start in sorted(first.unique()):
        who = first[first == start].index
        out.append({"cohort": f"{start // 12}-{start % 12 + 1:02d}", "customers": len(who),
                    "retained": [None if start + k > last else round(
                        sum((u, start + k) in bought for u in who) / len(who), 4)
                        for k in range(1, months + 1)]})
    return out


def test_cohort_retention_equals_pandas(two_runs: tuple[Path, pd.DataFrame]) -> None:
    ws, df = two_runs
    trend = cli_json("trend", QUESTION, "-w", str(ws))
    expected = cohorts(df, lapsed_high_spenders(df))
    assert [c["cohort"] for c in trend["cohorts"]] == [c["cohort"] for c in expected]
    for shown, truth in zip(trend["cohorts"], expected, strict=True):
        assert shown["customers"] == truth["customers"]
        assert shown["retained"] == pytest.approx(truth["retained"], abs=1e-4)
