"""The workspace's tables and typed reads: every table declared once, `users` assembled from the
steps' own tables in a fixed column order, and the typed records equal to what the tables hold."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from segmint.agent.core import schema
from segmint.agent.core.records import SegmentProfile
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.step import segments_document

DECLARED = {t.name: t for t in (schema.EVENTS, schema.REJECTS, schema.RUNS, schema.CUSTOMER_FEATURES,
                                schema.USER_TEXT, schema.SEGMENT_CLUSTERS, schema.SEGMENT_MEMBERS,
                                schema.SEGMENT_TRANSITIONS, schema.SEGMENT_RUNS, schema.RISK_SCORES,
                                schema.LTV_SCORES, schema.SEGMENT_NAMES, schema.ITEMS,
                                schema.ACTIVITY, schema.CUSTOMER_KEYS)}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    # DuckDB quotes struct field names that are also keywords ("text"); the declarations do not.
    return [(r[0], r[1].replace('"', "")) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _base_type(sql: str) -> str:
    return sql if sql.startswith("STRUCT") else sql.split()[0]


def test_every_table_is_declared_with_its_columns(shop_with_users: tuple[Path, Path]) -> None:
    ws, _ = shop_with_users
    with Workspace(ws).connect() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert tables == set(DECLARED) - {"ltv_scores"} | {"users", "segments"}  # no --ltv here
        for name in tables - {"users", "segments"}:
            fixed = [(c, _base_type(t)) for c, t in DECLARED[name].columns]
            assert _columns(con, name)[:len(fixed)] == fixed, name


def test_users_is_the_features_then_segment_then_risk_columns(
        shop_with_users: tuple[Path, Path]) -> None:
    ws, _ = shop_with_users
    with Workspace(ws).connect() as con:
        features = _columns(con, "customer_features")
        expected = features + [(c, _base_type(t)) for part in (schema.SEGMENT_MEMBERS, schema.RISK_SCORES)
                               for c, t in part.columns[1:]]
        assert _columns(con, "users") == expected
        # The users file's columns follow the computed features.
        assert [c for c, _ in features[-4:]] == ["age_band", "gender", "region", "signup_date"]
        (n, members, risks) = con.execute(
            "SELECT count(*), count(m.user_id), count(r.user_id) FROM users u "
            "LEFT JOIN segment_members m ON m.user_id = u.user_id "
            "AND m.segment_id IS NOT DISTINCT FROM u.segment_id "
            "AND m.membership IS NOT DISTINCT FROM u.membership "
            "LEFT JOIN risk_scores r ON r.user_id = u.user_id "
            "AND r.risk_reason IS NOT DISTINCT FROM u.risk_reason "
            "AND r.risk_score = u.risk_score").fetchone() or (0, 0, 0)
        (customers,) = con.execute("SELECT count(*) FROM customer_features").fetchone() or (0,)
    assert n == members == risks == customers == 1000


def test_latest_run_is_the_runs_row_typed(shop_with_users: tuple[Path, Path]) -> None:
    ws, _ = shop_with_users
    latest = Workspace(ws).latest_run()
    assert latest is not None
    with Workspace(ws).connect() as con:
        run_id, params, counts = con.execute(
            "SELECT run_id, params, counts FROM runs ORDER BY finished_at DESC LIMIT 1").fetchone() or ()
    assert latest.run_id == run_id == Workspace(ws).current_run_id()
    assert latest.command == "run"
    assert latest.params == json.loads(params) and latest.counts == json.loads(counts)
    assert latest.currency == "£" and latest.embedder == "minilm"
    assert latest.as_of == datetime.fromisoformat(json.loads(counts)["as_of"])
    assert set(latest.seconds) >= {"ingest", "features", "embed", "segment", "risk", "name"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        latest.run_id = "x"  # type: ignore[misc]
    assert Workspace(ws.parent / "nothing-here").latest_run() is None


def test_segments_and_profiles_are_what_the_document_shows(shop_with_users: tuple[Path, Path]) -> None:
    ws = Workspace(shop_with_users[0])
    segments = ws.segments()
    with ws.connect() as con:
        doc = segments_document(con)
        (customers,) = con.execute("SELECT count(*) FROM users").fetchone() or (0,)
    assert [str(s.id) for s in segments] == [s["id"] for s in doc["segments"]]
    assert segments[-1].id == 0 and segments[-1].name == "Unassigned"
    assert [s.size for s in segments[:-1]] == sorted((s.size for s in segments[:-1]), reverse=True)
    assert sum(s.size for s in segments) == customers
    for seg, shown in zip(segments, doc["segments"], strict=True):
        assert (seg.name, seg.kind, seg.size, seg.key_traits) == (
            shown["name"], shown["kind"], shown["size"], shown["key_traits"])
        assert (seg.profile.to_json() if seg.profile else {}) == shown["facts"]
    first = segments[0]
    profile = ws.profile(first.id)
    assert isinstance(profile, SegmentProfile)
    assert profile == first.profile and profile.id == str(first.id) and profile.size == first.size
    assert ws.profile(str(first.id)) == profile
    assert ws.profile(10_000) is None and ws.segment(10_000) is None


def test_the_holdout_report_is_stored_once(shop_with_users: tuple[Path, Path]) -> None:
    ws = Workspace(shop_with_users[0])
    segment_run = ws.segment_run()
    latest = ws.latest_run()
    assert segment_run is not None and latest is not None
    assert segment_run.newcomer_model == segment_run.summary["newcomer_model"]
    assert segment_run.newcomer_model and segment_run.newcomer_model["accuracy"] > 0.5
    assert segment_run.n_segments == len(ws.segments()) - 1
    assert "newcomer_model" not in json.dumps(latest.counts)

