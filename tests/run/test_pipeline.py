"""The whole pipeline over a workspace: stages, embeddings, lookalikes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import WriteEvents, build_workspace, run_cli
from segmint.agent.act.customers import similar_customers
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.pipeline import run

COFFEE = ["Espresso beans 1kg", "Milk frother", "Pour over coffee kettle", "coffee grinder"]
GARDEN = ["Tomato seeds", "Garden hose 30m", "Pruning shears", "organic compost"]


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    rows = []
    for u in range(12):
        titles = COFFEE if u < 6 else GARDEN
        for i, title in enumerate(titles[: 2 + u % 3]):
            rows.append({"user_id": f"c{u}", "timestamp": f"2024-03-{1 + i:02d}",
                         "event_type": "purchase" if i % 2 else "view", "text": title,
                         "price": "5"})
    rows.append({"user_id": "silent", "timestamp": "2024-03-09", "event_type": "purchase", "price": "3"})
    return build_workspace(tmp_path, rows, RunConfig())


def test_run_embeds_unique_texts_and_keeps_everyone(shop: Workspace) -> None:
    with shop.connect() as con:
        counts = json.loads(con.execute("SELECT counts FROM runs").fetchall()[0][0])
        has_text = dict(con.execute("SELECT user_id, has_text FROM user_text").fetchall())
    emb = counts["embedding"]
    assert emb["texts"] == 8 and emb["users_with_text"] == 12
    assert len(has_text) == 13 and has_text["silent"] is False


def test_lookalikes_share_interests(shop: Workspace) -> None:
    doc = similar_customers(shop, "c0", k=4)
    assert [s["user_id"] for s in doc["similar"]] and all(
        s["user_id"] in {f"c{u}" for u in range(1, 6)} for s in doc["similar"])
    assert doc["similar"] == sorted(doc["similar"], key=lambda s: -s["score"])
    with pytest.raises(InputError, match="no searched, viewed or bought texts"):
        similar_customers(shop, "silent")
    with pytest.raises(InputError, match="not found"):
        similar_customers(shop, "nobody")


def test_rerun_hits_the_text_cache(shop: Workspace, write_events: WriteEvents) -> None:
    rows = [{"user_id": "n1", "timestamp": "2024-04-01", "text": COFFEE[0]}]
    run(shop.path, [write_events(rows, "more.csv")], RunConfig())
    with shop.connect() as con:
        counts = json.loads(con.execute(
            "SELECT counts FROM runs ORDER BY finished_at DESC LIMIT 1").fetchall()[0][0])
    assert counts["embedding"]["embedded"] == 0 and counts["embedding"]["cached"] == 1


def test_similar_cli_json(shop: Workspace) -> None:
    doc = json.loads(run_cli("similar", "c7", "-w", str(shop.path), "--k", "3", "--json",
                             check=True).stdout)
    assert doc["user_id"] == "c7" and len(doc["similar"]) == 3
    assert {s["user_id"] for s in doc["similar"]} <= {f"c{u}" for u in range(6, 12)}


def test_interests_match_by_meaning_but_stay_precise(shop: Workspace) -> None:
    from segmint.agent.ask.answer import ask

    lexical_only = {f"c{u}" for u in range(6) if 2 + u % 3 >= 4}  # bought a "coffee ..." title
    answer = ask(shop, "customers interested in espresso coffee")
    with shop.connect() as con:
        matched = {r[0] for r in con.execute(
            "SELECT DISTINCT user_id FROM events WHERE text IN ('Espresso beans 1kg', "
            "'Pour over coffee kettle', 'coffee grinder')").fetchall()}
    assert answer.count == len(matched) and matched > lexical_only
    garden = ask(shop, "who buys tomato seeds")
    assert {r["user_id"] for r in garden.sample} <= {f"c{u}" for u in range(6, 12)}


def test_run_counts_are_the_stage_reports(shop: Workspace) -> None:
    latest = shop.latest_run()
    assert latest is not None
    assert list(latest.counts) == ["mode", "engine", "risk", "users", "events_in", "events_ok",
                                   "events_rejected", "as_of", "reject_reasons", "embedding", "namers"]
    with shop.connect() as con:
        (risky,) = con.execute(
            "SELECT count(*) FROM risk_scores WHERE risk_reason IS NOT NULL").fetchone() or (0,)
        named = dict(con.execute("SELECT CAST(segment_id AS VARCHAR), namer FROM segment_names"
                                 ).fetchall())
    assert latest.counts["risk"]["risky"] == risky and set(latest.counts["risk"]) == {"threshold", "risky"}
    assert {k: v["namer"] for k, v in latest.counts["namers"].items()} == named
    assert list(latest.counts["embedding"]) == ["embedder", "fingerprint", "texts", "cached", "embedded",
                                                "encode_seconds", "users_with_text", "index",
                                                "static", "seconds"]
    assert set(latest.counts["embedding"]["seconds"]) == {"documents", "encode", "pool", "index"}
    assert latest.counts["users"] == 13 and latest.counts["mode"] == "full"


def test_run_json_shape(write_events: WriteEvents, workspace_dir: Path) -> None:
    rows = [{"user_id": f"u{u}", "timestamp": f"2024-03-0{1 + u % 5}", "text": COFFEE[u % 4],
             "price": "4"} for u in range(8)]
    doc = run(workspace_dir, [write_events(rows)], RunConfig()).to_json()
    assert list(doc) == ["run_id", "workspace", "users", "events_in", "events_ok", "events_rejected",
                         "segments", "noise_share", "as_of", "seconds", "reject_reasons", "files",
                         "users_file", "embedding", "mode", "engine", "appended_to"]
    assert (doc["users"], doc["events_in"], doc["users_file"], doc["appended_to"]) == (8, 8, None, None)
    assert doc["engine"] == {"engine": "local"} and doc["as_of"] == "2024-03-05T00:00:00"
    assert list(doc["seconds"]) == ["ingest", "features", "embed", "segment", "risk", "name"]
