"""Saved audiences on a small shop: save/list/show/delete, suppression, diff across an appended run,
comparison and the REST routes. Expected sets are computed in the test from the rows written.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import purchase_rows, run_cli, write_rows
from segmint.agent.api.app import create_app
from segmint.agent.ask.answer import Answerer
from segmint.agent.audience import Audience, evaluate
from segmint.agent.audience.evaluate import select_members
from segmint.agent.core.workspace import Workspace
from segmint.agent.query import Condition, QuerySpec

TEXTS = ["Ceramic teapot", "Garden gloves", "Oak chopping board", "Scented candle"]
TOKEN = "aud-token-31"
FAST = ["--embedder", "minilm-static"]
EXPORTED = (".csv", ".parquet", ".jsonl")


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
    for suffix in EXPORTED:  # lists of the first run, saved as audiences after the second
        run_cli("export", "--question", "repeat buyers", "-o", str(root / f"repeat{suffix}"),
                "-w", str(ws), check=True)
    run_cli("audience", "export", "repeaters", "--exclude", "lapsed", "-o",
            str(root / "repeat-not-lapsed.csv"), "-w", str(ws), check=True)
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


def _saved_from(ws: Path, name: str, path: Path) -> dict[str, Any]:
    doc = cli("audience", "save", name, "--from-export", str(path), ws=ws)
    assert cli("audience", "show", name, ws=ws)["size"] == doc["size"]
    return dict(doc)


@pytest.mark.parametrize("suffix", EXPORTED)
def test_save_from_export_keeps_the_definition_not_the_rows(shop: tuple[Path, Any, Any],
                                                            suffix: str) -> None:
    ws, first, everything = shop
    path = ws.parent / f"repeat{suffix}"
    rows = (pd.read_parquet(path) if suffix == ".parquet" else pd.read_json(path, lines=True, dtype={
        "user_id": str}) if suffix == ".jsonl" else pd.read_csv(path, dtype={"user_id": str}))
    assert set(rows["user_id"]) == repeat(first) != repeat(everything)  # the first run's list
    first_run = cli("audience", "show", "repeaters", ws=ws)["history"][0]["run_id"]
    try:
        doc = _saved_from(ws, f"repeat from {suffix[1:]}", path)
        assert doc["source"] == "export" and doc["question"] == "repeat buyers"
        assert doc["query"] == cli("ask", "repeat buyers", ws=ws)["query"]
        assert doc["size"] == len(repeat(everything))  # evaluated now, not the file's rows
        assert doc["exported"]["run_id"] == first_run and doc["exported"]["source"] == "question"
        assert any("earlier run" in n for n in doc["notes"])
    finally:
        run_cli("audience", "delete", f"repeat from {suffix[1:]}", "-w", str(ws))


def test_save_from_segment_audience_and_diff_exports(shop: tuple[Path, Any, Any],
                                                     tmp_path: Path) -> None:
    ws, _, everything = shop
    segment = next(s for s in cli("segments", ws=ws)["segments"] if s["id"] != "0" and s["size"])
    out = tmp_path / "segment.jsonl"
    run_cli("export", "--segment", segment["id"], "-o", str(out), "-w", str(ws), check=True)
    names = ["from segment", "from audience", "from diff"]
    try:
        doc = _saved_from(ws, names[0], out)
        assert doc["query"] == {"any_of": [[{"kind": "segment", "segment": segment["id"]}]]}
        assert doc["exported"]["segment_id"] == segment["id"] and doc["size"] == segment["size"]
        # An audience's export minus another: the definition is the audience's, the note says so.
        doc = _saved_from(ws, names[1], ws.parent / "repeat-not-lapsed.csv")
        assert doc["exported"]["audience"] == "repeaters"
        assert doc["exported"]["excluded_audiences"] == ["lapsed"]
        assert doc["size"] == len(repeat(everything))
        assert any("“lapsed”" in n and "--exclude" in n for n in doc["notes"])
        changes = tmp_path / "changes.parquet"
        run_cli("audience", "diff", "lapsed", "--export", str(changes), "-w", str(ws), check=True)
        doc = _saved_from(ws, names[2], changes)
        assert doc["query"] == {"any_of": [[{"kind": "term", "term": "lapsed"}]]}
        assert doc["size"] == len(lapsed(everything))
        assert any("who entered and left" in n for n in doc["notes"])
    finally:
        for name in names:
            run_cli("audience", "delete", name, "-w", str(ws))


def test_a_file_segmint_did_not_export_is_refused(shop: tuple[Path, Any, Any],
                                                  tmp_path: Path) -> None:
    ws, _, _ = shop
    hand = tmp_path / "hand-made.csv"
    pd.DataFrame({"user_id": ["u001", "u002"]}).to_csv(hand, index=False)
    edited = tmp_path / "edited.csv"
    edited.write_bytes((ws.parent / "repeat.csv").read_bytes() + b'"u999",,,,,,\n')
    edited.with_name("edited.csv.definition.json").write_bytes(
        (ws.parent / "repeat.csv.definition.json").read_bytes())
    for path, words in ((hand, "carries no segmint definition"),
                        (edited, "changed since segmint wrote it"),
                        (tmp_path / "missing.parquet", "no such file")):
        proc = run_cli("audience", "save", "from file", "--from-export", str(path), "-w", str(ws))
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert str(path) in proc.stderr and words in proc.stderr and "fix:" in proc.stderr
    assert "from file" not in {a["name"] for a in cli("audience", "list", ws=ws)["audiences"]}


def test_one_pass_re_evaluation_selects_what_each_answer_selects(shop: tuple[Path, Any, Any]
                                                                 ) -> None:
    ws, _, _ = shop
    answerer = Answerer(Workspace(ws))
    questions = ["lapsed customers", "repeat buyers", "top 10 customers by revenue",
                 "who bought garden gloves?", "customers who bought in the last 30 days",
                 "customers who spent over 100 in the last 90 days"]
    audiences = [Audience(q, "question", q, answerer.read(q, answerer.catalogue()).spec,
                          datetime(2024, 1, 1), None) for q in questions]
    audiences.append(Audience("gone", "segment", "segment 999", QuerySpec(any_of=[[Condition(
        kind="segment", segment="999")]]), datetime(2024, 1, 1), None))
    with contextlib.closing(answerer.workspace.reader()) as con:
        found = select_members(con, answerer, audiences)
    for audience, (ids, revenue) in zip(audiences[:-1], found, strict=False):
        customers = evaluate(answerer, audience).customers
        # the same customers (a top list's cut included); their order is not part of a history
        assert sorted(ids) == sorted(str(c["user_id"]) for c in customers), audience.name
        assert len(ids) == len(set(ids))
        assert revenue == pytest.approx(sum(float(c["revenue"] or 0) for c in customers))
        assert ids, audience.name  # each question selects someone on this shop
    assert found[-1] == ([], 0.0)
