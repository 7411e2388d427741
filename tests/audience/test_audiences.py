"""Saved audiences on a small shop: save/list/show/delete, suppression, diff across an appended run,
comparison and the REST routes. Expected sets are computed in the test from the rows written.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import purchase_rows, run_cli, write_rows
from segmint.agent.api.app import create_app

TEXTS = ["Ceramic teapot", "Garden gloves", "Oak chopping board", "Scented candle"]
TOKEN = "aud-token-31"
FAST = ["--embedder", "minilm-static"]


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["ts"] = pd.to_datetime(df["timestamp"]).dt.tz_localize(None)
    df["price"] = df["price"].astype(float)
    return df


def lapsed(df: pd.DataFrame) -> set[str]:
    """docs/definitions.md: orders >= 1 and recency_days > 90."""
    last = df.groupby("user_id")["ts"].max()
    recency = ((df["ts"].max() - last) / pd.Timedelta(days=1)).apply(np.floor)
    return set(recency[recency > 90].index)


def repeat(df: pd.DataFrame) -> set[str]:
    orders = df.groupby("user_id")["order_id"].nunique()
    return set(orders[orders >= 2].index)


def cli(*args: str, ws: Path) -> Any:
    return json.loads(run_cli(*args, "-w", str(ws), "--json", check=True).stdout)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A first run over days 0-150 of 2024, then an appended run over days 150-300."""
    root = tmp_path_factory.mktemp("audiences")
    rows = purchase_rows(240, seed=5, texts=TEXTS, orders=(1, 5), days=(0, 300))
    first = [r for r in rows if pd.Timestamp(r["timestamp"]).dayofyear <= 150]
    later = [r for r in rows if pd.Timestamp(r["timestamp"]).dayofyear > 150]
    ws = root / "ws"
    run_cli("run", str(write_rows(root / "first.csv", first)), "-w", str(ws), *FAST, "--json",
            check=True)
    cli("audience", "save", "lapsed", "--question", "lapsed customers", ws=ws)
    cli("audience", "save", "repeaters", "--question", "repeat buyers", ws=ws)
    run_cli("run", str(write_rows(root / "later.csv", later)), "--append", "-w", str(ws), *FAST,
            "--json", check=True)
    return ws, _frame(first), _frame(first + later)


def test_saved_audiences_are_listed_with_a_size_per_run(shop: tuple[Path, Any, Any]) -> None:
    ws, first, everything = shop
    listed = {a["name"]: a for a in cli("audience", "list", ws=ws)["audiences"]}
    assert set(listed) == {"lapsed", "repeaters"}
    assert [s["size"] for s in listed["lapsed"]["sizes"]] == [len(lapsed(first)),
                                                               len(lapsed(everything))]
    assert listed["lapsed"]["query"] == {"any_of": [[{"kind": "term", "term": "lapsed"}]]}


def test_diff_names_who_entered_and_left(shop: tuple[Path, Any, Any]) -> None:
    ws, first, everything = shop
    doc = cli("audience", "diff", "lapsed", ws=ws)
    assert {r["user_id"] for r in doc["entered"]} == lapsed(everything) - lapsed(first)
    assert {r["user_id"] for r in doc["left"]} == lapsed(first) - lapsed(everything)
    assert all(r["why"].startswith("now: ") for r in doc["left"])


def test_diff_export_writes_both_directions(shop: tuple[Path, Any, Any], tmp_path: Path) -> None:
    ws, first, everything = shop
    out = tmp_path / "changes.csv"
    run_cli("audience", "diff", "lapsed", "--export", str(out), "-w", str(ws), check=True)
    written = pd.read_csv(out, dtype={"user_id": str})
    changed = (lapsed(everything) - lapsed(first)) | (lapsed(first) - lapsed(everything))
    assert set(written["user_id"]) == changed
    assert written["why"].str.match(r"^(entered|left): ").all()


def test_export_excludes_other_audiences(shop: tuple[Path, Any, Any], tmp_path: Path) -> None:
    ws, _, everything = shop
    out = tmp_path / "suppressed.parquet"
    run_cli("audience", "export", "repeaters", "--exclude", "lapsed", "-o", str(out), "-w", str(ws),
            check=True)
    assert set(pd.read_parquet(out)["user_id"]) == repeat(everything) - lapsed(everything)


def test_compare_and_overlap_agree_with_the_sets(shop: tuple[Path, Any, Any]) -> None:
    ws, _, everything = shop
    a, b = lapsed(everything), repeat(everything)
    doc = cli("compare", "lapsed", "repeaters", ws=ws)
    assert (doc["a"]["size"], doc["b"]["size"]) == (len(a), len(b))
    assert doc["overlap"]["both"] == len(a & b)
    assert doc["b"]["lifecycle"]["lapsed"] == pytest.approx(len(a & b) / len(b), abs=1e-4)
    revenue = everything.groupby("user_id")["price"].sum()
    assert doc["a"]["median_revenue"] == pytest.approx(float(revenue.loc[sorted(a)].median()),
                                                       abs=0.01)
    three = cli("overlap", "lapsed", "repeaters", "repeat buyers", ws=ws)
    assert three["matrix"][1][2] == 1.0 and three["in_all"] == len(a & b)


@pytest.mark.parametrize("args, message", [
    (["audience", "save", "x/../y", "--question", "lapsed customers"], "bad audience name"),
    (["audience", "save", "lapsed", "--question", "lapsed customers"], "already saved"),
    (["audience", "show", "nobody"], "no audience 'nobody'"),
    (["audience", "save", "z"], "give exactly one of"),
    (["audience", "diff", "lapsed", "--since", "1999-01-01"], "no recorded run matches"),
])
def test_bad_audience_commands_exit_2_with_one_line(shop: tuple[Path, Any, Any], args: list[str],
                                                     message: str) -> None:
    ws, _, _ = shop
    proc = run_cli(*args, "-w", str(ws))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1


def test_rest_routes_return_the_cli_documents(shop: tuple[Path, Any, Any]) -> None:
    ws, _, everything = shop
    api = TestClient(create_app(ws, token=TOKEN), headers={"Authorization": f"Bearer {TOKEN}"})
    assert TestClient(create_app(ws, token=TOKEN)).get("/api/audiences").status_code == 401
    listed = api.get("/api/audiences").json()
    assert listed == cli("audience", "list", ws=ws)
    diff = api.get("/api/audiences/lapsed/diff").json()
    assert diff == cli("audience", "diff", "lapsed", ws=ws)
    pair = api.get("/api/overlap", params=[("target", "lapsed"), ("target", "repeaters")]).json()
    assert pair["pairs"][0]["both"] == len(lapsed(everything) & repeat(everything))
    assert api.get("/api/audiences/nobody").status_code == 400
    saved = api.post("/api/audiences", json={"name": "big spenders", "question": "high spenders"})
    assert saved.status_code == 200 and saved.json()["size"] > 0
    assert api.delete("/api/audiences/big spenders").json() == {"deleted": "big spenders"}
    exported = api.get("/api/audiences/repeaters/export", params={"exclude": "lapsed"})
    assert exported.status_code == 200
    ids = set(pd.read_csv(io.StringIO(exported.text), dtype={"user_id": str})["user_id"])
    assert ids == repeat(everything) - lapsed(everything)


def test_export_and_ask_take_exclude(shop: tuple[Path, Any, Any], tmp_path: Path) -> None:
    ws, _, everything = shop
    expected = repeat(everything) - lapsed(everything)
    out = tmp_path / "repeat.csv"
    run_cli("export", "--question", "repeat buyers", "--exclude", "lapsed", "-o", str(out),
            "-w", str(ws), check=True)
    assert set(pd.read_csv(out, dtype={"user_id": str})["user_id"]) == expected
    doc = cli("ask", "repeat buyers", "--exclude", "lapsed", ws=ws)
    assert doc["count"] == len(expected) and "audience “lapsed”" in doc["definition"]
    refused = run_cli("ask", "how many repeat buyers?", "--exclude", "lapsed", "-w", str(ws))
    assert refused.returncode == 2 and "--exclude applies to lists" in refused.stderr
