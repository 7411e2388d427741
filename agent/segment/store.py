"""Segments in the workspace: the segment step's tables, and the previous run's segments read back
for stable ids.

Tables written by `write_segments` (one run's database; columns in `segmint.agent.core.schema`):

- `segment_clusters`: one row per segment; segment 0 is the Unassigned group (kind `unassigned`);
  `status` is the transition (kept, merged, split, new);
- `segment_members`: per customer `segment_id` (0 = Unassigned), `membership` (0-1) and
  `nearest_segment_id`;
- `segment_transitions`: kept / merged / split / new / retired against the previous run;
- `segment_runs`: one row: the id counter and the step's report (`SegmentResult.summary`), the one
  place the newcomer model's held-out accuracy is kept.

Readers see them through `users` and `segments` (`segmint.agent.core.schema.assemble_users`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from segmint.agent.core.schema import (
    SEGMENT_CLUSTERS,
    SEGMENT_MEMBERS,
    SEGMENT_RUNS,
    SEGMENT_TRANSITIONS,
)
from segmint.agent.core.sql import fetch_one
from segmint.agent.segment.assign import holdout_report
from segmint.agent.segment.build import UNASSIGNED, SegmentParams, SegmentResult, build_segments
from segmint.agent.segment.model import BEHAVIOUR_COLUMNS, MODEL_FILE, SegmentModel, SpaceModel
from segmint.agent.segment.reduce_autoencoder import AutoencoderReducer
from segmint.agent.segment.stable_ids import PreviousSegments


def behaviour_matrix(con: duckdb.DuckDBPyConnection, user_ids: list[str]) -> npt.NDArray[np.float64]:
    """The raw behaviour columns of `customer_features` (recency_days, orders, revenue, n_events),
    in the order of `user_ids`; NaN where a value (or the customer) is missing."""
    table = pa.table({"user_id": pa.array(user_ids, pa.string()),
                      "pos": pa.array(np.arange(len(user_ids)), pa.int64())})
    name = f"_segmint_order_{uuid.uuid4().hex[:8]}"
    con.register(name, table)
    try:
        cols = ", ".join(f"CAST(u.{c} AS DOUBLE) AS {c}" for c in BEHAVIOUR_COLUMNS)
        data = con.execute(f"SELECT o.pos, {cols} FROM {name} o "
                           "LEFT JOIN customer_features u USING (user_id)").fetchnumpy()
    finally:
        con.unregister(name)
    out = np.full((len(user_ids), len(BEHAVIOUR_COLUMNS)), np.nan)
    pos = np.asarray(data["pos"], dtype=np.int64)
    for j, c in enumerate(BEHAVIOUR_COLUMNS):
        col = data[c]
        out[pos, j] = np.ma.filled(np.ma.asarray(col, dtype=np.float64), np.nan)
    return out


def read_previous(con: duckdb.DuckDBPyConnection, previous_db: Path | None, user_ids: list[str]
                  ) -> PreviousSegments | None:
    """The previous run's segments aligned to `user_ids`, or None when there are none.

    Reads the tables every finished run publishes (`segments`, `users`), so a workspace written
    by an earlier version of segmint keeps its segment ids too.

    Args:
        con: the new run's connection (the previous database is attached read-only to it).
        previous_db: the previous run's database file (`Workspace.db_path` during a run).
        user_ids: the current run's customers, in the order of its vectors.
    """
    if previous_db is None or not Path(previous_db).exists():
        return None
    alias = f"_segmint_prev_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH '{previous_db}' AS {alias} (READ_ONLY)")
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [alias]).fetchall()}
        if "segments" not in tables:
            return None
        seg_rows = con.execute(
            f"SELECT segment_id, kind, centroid FROM {alias}.segments").fetchall()
        next_id = 1
        if "segment_runs" in tables:
            row = fetch_one(con.execute(f"SELECT max(next_id) FROM {alias}.segment_runs"))
            next_id = int(row[0]) if row and row[0] is not None else 1
        order = pa.table({"user_id": pa.array(user_ids, pa.string()),
                          "pos": pa.array(np.arange(len(user_ids)), pa.int64())})
        name = f"_segmint_order_{uuid.uuid4().hex[:8]}"
        con.register(name, order)
        try:
            found = con.execute(
                f"SELECT o.pos, u.segment_id FROM {name} o JOIN {alias}.users u USING (user_id)"
            ).fetchnumpy()
        finally:
            con.unregister(name)
    finally:
        con.execute(f"DETACH {alias}")
    labels = np.full(len(user_ids), -1, dtype=np.int64)
    seg = np.ma.filled(np.ma.asarray(found["segment_id"], dtype=np.float64), UNASSIGNED)
    labels[np.asarray(found["pos"], dtype=np.int64)] = seg.astype(np.int64)
    kinds = {int(r[0]): str(r[1]) for r in seg_rows}
    centroids = {int(r[0]): np.asarray(r[2], dtype=np.float32) for r in seg_rows if r[2]}
    ids = [i for i in kinds if i != UNASSIGNED]
    next_id = max(next_id, max(ids, default=0) + 1)
    return PreviousSegments(labels=labels, kinds=kinds, centroids=centroids, next_id=next_id)


def write_segments(con: duckdb.DuckDBPyConnection, user_ids: list[str], result: SegmentResult,
                   *, model_file: Path | None = None) -> None:
    """Write the segment step's tables (see the module docstring).

    Args:
        con: the run's connection.
        user_ids: customer per row of `result.labels`.
        result: what `build_segments` returned.
        model_file: where the model was saved (recorded for `segmint assign`).
    """
    if len(user_ids) != len(result.labels):
        raise ValueError("one user id per label is needed")
    status = {t.id: t.status for t in result.transitions}
    tables = {
        SEGMENT_CLUSTERS.name: pa.table({
            "segment_id": pa.array([s.id for s in result.segments], pa.int32()),
            "kind": pa.array([s.kind for s in result.segments], pa.string()),
            "size": pa.array([s.size for s in result.segments], pa.int64()),
            "share": pa.array([s.share for s in result.segments], pa.float64()),
            "radius": pa.array([s.radius for s in result.segments], pa.float64()),
            "status": pa.array([status.get(s.id) for s in result.segments], pa.string()),
            "centroid": pa.array([s.centroid.tolist() for s in result.segments],
                                 pa.list_(pa.float32())),
        }),
        SEGMENT_TRANSITIONS.name: pa.table({
            "segment_id": pa.array([t.id for t in result.transitions], pa.int32()),
            "status": pa.array([t.status for t in result.transitions], pa.string()),
            "previous": pa.array([t.previous for t in result.transitions], pa.list_(pa.int32())),
            "current": pa.array([t.current for t in result.transitions], pa.list_(pa.int32())),
            "jaccard": pa.array([t.jaccard for t in result.transitions], pa.float64()),
        }),
        SEGMENT_MEMBERS.name: pa.table({
            "user_id": pa.array(user_ids, pa.string()),
            "segment_id": pa.array(result.labels.astype(np.int32)),
            "membership": pa.array(result.membership.astype(np.float64)),
            "nearest_segment_id": pa.array(result.nearest.astype(np.int32)),
        }),
    }
    for table in (SEGMENT_CLUSTERS, SEGMENT_TRANSITIONS, SEGMENT_MEMBERS, SEGMENT_RUNS):
        table.create(con)
    for name, data in tables.items():
        staged = f"_segmint_{name}"
        con.register(staged, data)
        try:
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {staged}")
        finally:
            con.unregister(staged)
    con.execute("INSERT INTO segment_runs VALUES (?, ?, ?, ?, ?)",
                [result.model.next_id, result.noise_share, result.n_segments,
                 json.dumps(result.summary(), default=str),
                 None if model_file is None else str(model_file)])


def save_model(result: SegmentResult, files_dir: Path) -> Path:
    """Save the segment model in a run's side-file directory; returns the file."""
    return result.model.save(Path(files_dir) / MODEL_FILE)


def load_model(files_dir: Path) -> SegmentModel:
    """Load the segment model of a run (what `segmint assign` needs).

    Raises:
        FileNotFoundError: the run has no segment model.
    """
    path = Path(files_dir) / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no segment model; run `segmint run` first")
    return SegmentModel.load(path)


def segments_overview(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Segments with id, kind, size and share, plus the run facts (quality, transitions...).

    What `segmint segments --json` can show before names and profiles are joined in.
    """
    rows = con.execute("""SELECT segment_id, kind, size, share, status FROM segment_clusters
                          ORDER BY segment_id = 0, size DESC, segment_id""").fetchall()
    run = fetch_one(con.execute("SELECT summary FROM segment_runs"))
    return {
        "segments": [{"id": r[0], "kind": r[1], "size": r[2], "share": round(r[3], 6),
                      "status": r[4]} for r in rows],
        "run": json.loads(run[0]) if run and run[0] else {},
    }


def segment_step(con: duckdb.DuckDBPyConnection, user_ids: list[str],
                 vectors: npt.NDArray[np.floating], has_text: npt.NDArray[np.bool_], *,
                 files_dir: Path, previous_db: Path | None = None,
                 params: SegmentParams | None = None,
                 assign: Callable[[SpaceModel, npt.NDArray[np.floating]], Any] | None = None
                 ) -> SegmentResult:
    """The whole segment step of a run, for the orchestrator.

    Reads the behaviour columns from `customer_features`, the previous run's segments (for stable ids),
    builds the segments, measures the newcomer model on held-out customers, saves the model in
    `files_dir` and writes the tables.

    Args:
        con: the run's (staging) connection with `customer_features`.
        user_ids: customers in the row order of `vectors` (e.g. `CustomerVectors.user_ids`).
        vectors: their unit text vectors.
        has_text: whether each has text.
        files_dir: the run's side-file directory (`Workspace.files_dir(run_id)`).
        previous_db: the previous run's database (`Workspace.db_path`), if any.
        params: `--segments`, `--min-segment-size`, `--seed` and the rest.
        assign: the engine's nearest-centroid pass (see `build_segments`).
    """
    params = params or SegmentParams()
    behaviour = behaviour_matrix(con, user_ids)
    if params.reducer == "autoencoder":
        # The autoencoder reads text vectors joined with each customer's scaled behaviour.
        reducer = AutoencoderReducer(seed=params.seed).attach_behaviour(vectors[has_text],
                                                                        behaviour[has_text])
        params = replace(params, reducer=reducer)
    previous = read_previous(con, previous_db, user_ids)
    result = build_segments(vectors, has_text, behaviour, k=params.k,
                            min_segment_size=params.min_segment_size, seed=params.seed,
                            previous=previous, params=params, assign=assign)
    start = time.perf_counter()
    result.holdout = holdout_report(result.model, vectors, has_text, behaviour, result.labels,
                                    seed=params.seed)
    result.seconds["holdout"] = round(time.perf_counter() - start, 3)
    path = save_model(result, files_dir)
    write_segments(con, user_ids, result, model_file=path)
    return result
