"""Segments in DuckDB: the step's own tables, the previous run read back, the model file."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pytest

from segmint.agent.core.schema import assemble_segments, assemble_users
from segmint.agent.segment.build import SegmentParams
from segmint.agent.segment.model import MODEL_FILE
from segmint.agent.segment.store import (
    behaviour_matrix,
    load_model,
    read_previous,
    segment_step,
    segments_overview,
)

DIM = 32


def vectors(n_per: list[int], seed: int = 0) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((len(n_per), DIM))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    X = np.concatenate([ci + 0.6 * rng.standard_normal((n, DIM)) / np.sqrt(DIM)
                        for ci, n in zip(c, n_per, strict=True)])
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def make_db(path: Path, user_ids: list[str]) -> duckdb.DuckDBPyConnection:
    """A `customer_features` table whose behaviour values depend on the customer id only."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customer_features (user_id VARCHAR, recency_days BIGINT, orders BIGINT, "
                "revenue DOUBLE, n_events BIGINT, country VARCHAR)")
    rows = []
    for u in user_ids:
        rng = np.random.default_rng(zlib.crc32(u.encode()))
        rows.append((u, None if rng.random() < 0.1 else int(rng.integers(0, 400)),
                     int(rng.integers(0, 9)), float(rng.lognormal(4, 1)),
                     int(rng.integers(1, 80)), "UK"))
    con.executemany("INSERT INTO customer_features VALUES (?, ?, ?, ?, ?, ?)", rows)
    return con


@pytest.fixture
def shop(tmp_path: Path) -> tuple[list[str], npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    X = vectors([120, 100, 80, 60])
    ids = [f"c{i:04d}" for i in range(len(X))]
    has_text = np.ones(len(X), bool)
    has_text[::9] = False
    return ids, X, has_text


def test_segment_step_writes_tables_columns_and_model(tmp_path: Path, shop) -> None:
    ids, X, has_text = shop
    con = make_db(tmp_path / "run1.duckdb", ids)
    r = segment_step(con, ids, X, has_text, files_dir=tmp_path / "files1")
    seg = con.execute("SELECT segment_id, kind, size, share, status, len(centroid) "
                      "FROM segment_clusters ORDER BY segment_id").fetchall()
    assert seg[0][:2] == (0, "unassigned")
    assert sum(row[2] for row in seg) == len(ids)
    assert {row[1] for row in seg[1:]} == {"interest", "behaviour"}
    assert all(row[4] == "new" for row in seg[1:])
    interest_dims = {row[5] for row in seg[1:] if row[1] == "interest"}
    assert interest_dims == {DIM}
    # The step writes only its own tables; `users` is assembled from them for the readers.
    assert [c[0] for c in con.execute("DESCRIBE customer_features").fetchall()] == [
        "user_id", "recency_days", "orders", "revenue", "n_events", "country"]
    per_user = dict(con.execute("SELECT user_id, segment_id FROM segment_members").fetchall())
    assert [per_user[u] for u in ids] == r.labels.tolist()
    assemble_users(con)
    cols = [c[0] for c in con.execute("DESCRIBE users").fetchall()]
    assert cols[-4:] == ["country", "segment_id", "membership", "nearest_segment_id"]
    assert dict(con.execute("SELECT user_id, segment_id FROM users").fetchall()) == per_user
    run = con.execute("SELECT next_id, n_segments, summary, model_file FROM segment_runs"
                      ).fetchall()[0]
    assert run[0] == r.model.next_id and run[1] == r.n_segments
    summary = json.loads(run[2])
    assert summary["noise_share"] == pytest.approx(r.noise_share, abs=1e-6)
    assert summary["newcomer_model"]["accuracy"] >= 0.9
    assert set(summary["quality"]) == {"interest", "behaviour"}
    assert Path(run[3]) == tmp_path / "files1" / MODEL_FILE
    model = load_model(tmp_path / "files1")
    labels, _, _ = model.predict(X, has_text, behaviour_matrix(con, ids))
    assert np.array_equal(labels, r.labels)
    overview = segments_overview(con)
    assert overview["segments"][-1]["id"] == 0
    assert overview["run"]["segments"] == r.n_segments


def test_rerun_reads_previous_database_and_keeps_ids(tmp_path: Path, shop) -> None:
    ids, X, has_text = shop
    con1 = make_db(tmp_path / "run1.duckdb", ids)
    first = segment_step(con1, ids, X, has_text, files_dir=tmp_path / "f1")
    # What a finished run publishes is what the next run reads back.
    assemble_users(con1)
    assemble_segments(con1)
    con1.close()
    # The new run has the customers in another order, and three new ones.
    order = np.random.default_rng(5).permutation(len(ids))
    ids2 = [ids[i] for i in order] + ["n1", "n2", "n3"]
    X2 = np.concatenate([X[order], vectors([3], seed=9)])
    ht2 = np.concatenate([has_text[order], np.ones(3, bool)])
    con2 = make_db(tmp_path / "run2.duckdb", ids2)
    prev = read_previous(con2, tmp_path / "run1.duckdb", ids2)
    assert prev is not None
    assert prev.labels[-3:].tolist() == [-1, -1, -1]
    assert prev.labels[:-3].tolist() == first.labels[order].tolist()
    second = segment_step(con2, ids2, X2, ht2, files_dir=tmp_path / "f2",
                          previous_db=tmp_path / "run1.duckdb")
    assert np.array_equal(second.labels[:-3], first.labels[order])
    status = dict(con2.execute("SELECT segment_id, status FROM segment_transitions").fetchall())
    assert set(status.values()) == {"kept"}
    # The previous database was only read.
    assert "segments" in {r[0] for r in duckdb.connect(str(tmp_path / "run1.duckdb"))
                          .execute("SHOW TABLES").fetchall()}


def test_read_previous_without_a_previous_run(tmp_path: Path) -> None:
    con = make_db(tmp_path / "a.duckdb", ["x"])
    assert read_previous(con, None, ["x"]) is None
    assert read_previous(con, tmp_path / "missing.duckdb", ["x"]) is None
    other = make_db(tmp_path / "b.duckdb", ["x"])
    other.close()
    # A database without segments (e.g. from before this step existed) is no previous run.
    assert read_previous(con, tmp_path / "b.duckdb", ["x"]) is None


def test_behaviour_matrix_follows_the_given_order_with_gaps(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE customer_features AS SELECT * FROM (VALUES ('a', 3, 2, 50.0, 9), "
                "('b', NULL, 0, 0.0, 1)) t(user_id, recency_days, orders, revenue, n_events)")
    m = behaviour_matrix(con, ["b", "zz", "a"])
    assert np.isnan(m[0, 0]) and m[0, 3] == 1
    assert np.all(np.isnan(m[1]))
    assert m[2].tolist() == [3.0, 2.0, 50.0, 9.0]


def test_params_reach_the_fit(tmp_path: Path, shop) -> None:
    ids, X, has_text = shop
    con = make_db(tmp_path / "k.duckdb", ids)
    r = segment_step(con, ids, X, has_text, files_dir=tmp_path / "fk",
                     params=SegmentParams(k=3, seed=4))
    assert r.fit["interest"]["k"] == 3
    assert sum(1 for s in r.segments if s.kind == "interest") == 3


def test_load_model_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="segmint run"):
        load_model(tmp_path)
