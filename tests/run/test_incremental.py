"""Incremental runs: `segmint run NEW --append [--refit]` on an existing workspace."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import WriteEvents, run_cli
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import UsageError
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.pipeline import run
from segmint.agent.segment.store import load_model
from segmint.data.synth import generate
from segmint.embeddings import embed_customers


def _rows(users: range, texts: list[str], day: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"user_id": f"u{u}", "timestamp": f"2026-03-{day + k % 3:02d} 10:00:00",
             "event_type": "purchase", "order_id": f"o{u}-{day}-{k}", "price": "9.5",
             "quantity": "1", "text": texts[int(rng.integers(len(texts)))]}
            for u in users for k in range(3)]


def _split_shop(tmp_path: Path, users: int, share_old: float) -> tuple[Path, Path, Path]:
    shop = generate(users, tmp_path / "shop.parquet", seed=3).events_path
    table = pq.read_table(shop)
    ts = pc.cast(table.column("timestamp"), "int64")
    cut = pc.quantile(ts, share_old)[0].as_py()
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    pq.write_table(table.filter(pc.less(ts, cut)), old)
    pq.write_table(table.filter(pc.greater_equal(ts, cut)), new)
    return shop, old, new


@pytest.mark.parametrize("n_new_texts", [0, 5])
def test_append_embeds_only_the_new_texts(tmp_path: Path, write_events: WriteEvents,
                                          monkeypatch: pytest.MonkeyPatch, n_new_texts: int) -> None:
    monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(n_new_texts)
    salt = tmp_path.name[-8:]
    known = [f"walnut side table {salt} {i}" for i in range(12)]
    fresh = [f"brass desk lamp {salt} {i}" for i in range(n_new_texts)]
    old = write_events(_rows(range(40), known, 1, rng), name="old.csv")
    new = write_events(_rows(range(30, 60), known + fresh, 10, rng), name="new.csv")
    ws = Workspace(tmp_path / "ws")
    first = run(ws, [old])
    with contextlib.closing(ws.connect()) as con:
        used_before = {r[0] for r in con.execute("SELECT DISTINCT text FROM events").fetchall()}
    second = run(ws, [new], append=True)
    assert first.embedding is not None and second.embedding is not None
    assert first.embedding["embedded"] == len(used_before)
    with contextlib.closing(ws.connect()) as con:
        events = con.execute("SELECT count(*) FROM events").fetchone()
        used_now = {r[0] for r in con.execute("SELECT DISTINCT text FROM events").fetchall()}
    assert second.embedding["embedded"] == len(used_now - used_before)
    assert second.mode == "appended, no refit"
    assert second.appended_to == {"run_id": first.run_id, "events": first.events_ok}
    assert events is not None and events[0] == first.events_ok + second.events_ok
    assert second.users == 60


def test_append_keeps_the_segments_and_recomputes_features(tmp_path: Path) -> None:
    shop, old, new = _split_shop(tmp_path, 500, 0.85)
    ws = Workspace(tmp_path / "ws")
    run(ws, [old])
    with contextlib.closing(ws.connect()) as con:
        before = {r[0]: r[1] for r in con.execute("SELECT segment_id, centroid FROM segments").fetchall()}
    result = run(ws, [new], append=True)
    full = Workspace(tmp_path / "full")
    run(full, [shop])
    features = "SELECT user_id, orders, round(revenue, 6), recency_days FROM users ORDER BY user_id"
    with contextlib.closing(ws.connect()) as con, contextlib.closing(full.connect()) as full_con:
        after = {r[0]: r[1] for r in con.execute("SELECT segment_id, centroid FROM segments").fetchall()}
        assert con.execute(features).fetchall() == full_con.execute(features).fetchall()
        labels = dict(con.execute("SELECT user_id, segment_id FROM users").fetchall())
        vectors = embed_customers(con)
        behaviour = con.execute(
            "SELECT recency_days, orders, revenue, n_events FROM users ORDER BY user_id").fetchnumpy()
        summary = json.loads(con.execute("SELECT summary FROM segment_runs").fetchone()[0])
    assert after.keys() == before.keys()
    for sid, centroid in before.items():
        np.testing.assert_array_equal(np.asarray(after[sid] or []), np.asarray(centroid or []))
    assert summary["fit"]["mode"].startswith("assigned to existing segments")
    model = load_model(ws.current_files())
    raw = np.column_stack([np.ma.filled(np.ma.asarray(behaviour[c], dtype=float), np.nan)
                           for c in ("recency_days", "orders", "revenue", "n_events")])
    assert vectors.user_ids == sorted(labels)
    want, _, _ = model.predict(vectors.vectors, vectors.has_text, raw)
    assert [labels[u] for u in vectors.user_ids] == want.tolist()
    assert result.users == len(labels)


def test_append_with_refit_fits_again(tmp_path: Path) -> None:
    _, old, new = _split_shop(tmp_path, 300, 0.8)
    ws = Workspace(tmp_path / "ws")
    run(ws, [old])
    result = run(ws, [new], append=True, refit=True)
    with contextlib.closing(ws.connect()) as con:
        summary = json.loads(con.execute("SELECT summary FROM segment_runs").fetchone()[0])
    assert result.mode == "appended, refitted"
    assert "mode" not in summary["fit"] and summary["fit"]
    assert result.segments is not None and result.segments > 0


@pytest.mark.parametrize("change", ["no workspace", "embedder", "attributes"])
def test_append_refuses_what_it_cannot_do(tmp_path: Path, write_events: WriteEvents, change: str) -> None:
    rng = np.random.default_rng(1)
    rows = _rows(range(12), ["teak bowl", "linen throw"], 1, rng)
    for r in rows:
        r["country"] = "FR"
    events = write_events(rows)
    ws = Workspace(tmp_path / "ws")
    if change != "no workspace":
        run(ws, [events], RunConfig.model_validate({"attr": {"country": "country"}}))
    config = {"embedder": RunConfig.model_validate({"embedder": "minilm-static"}),
              "attributes": RunConfig.model_validate({"attr": {"land": "country"}})}.get(change)
    with pytest.raises(UsageError):
        run(ws, [events], config, append=True)


def test_cli_append_to_nothing_exits_2(tmp_path: Path, write_events: WriteEvents) -> None:
    events = write_events(_rows(range(3), ["oak shelf"], 1, np.random.default_rng(0)))
    proc = run_cli("run", str(events), "-w", str(tmp_path / "none"), "--append")
    assert proc.returncode == 2
    assert "nothing to append to" in proc.stderr and "Traceback" not in proc.stderr
