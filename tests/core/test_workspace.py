"""The workspace is replaced atomically: failed or killed runs leave the previous one usable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import WriteEvents, write_rows
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError, UsageError
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.pipeline import run
from segmint.data.synth import generate

ROWS = [{"user_id": str(i), "timestamp": "2024-01-01", "price": "1"} for i in range(5)]


def _users(ws: Path) -> int:
    with Workspace(ws).connect() as con:
        (n,) = con.execute("SELECT count(*) FROM users").fetchone() or (0,)
    return int(n)


def test_runs_table_keeps_history(write_events: WriteEvents, workspace_dir: Path) -> None:
    path = write_events(ROWS)
    first = run(workspace_dir, [path], RunConfig(seed=1))
    second = run(workspace_dir, [path], RunConfig(seed=2))
    with Workspace(workspace_dir).connect() as con:
        rows = con.execute("SELECT run_id, params, counts, seconds, versions FROM runs "
                           "ORDER BY finished_at").fetchall()
    assert [r[0] for r in rows] == [first.run_id, second.run_id]
    assert json.loads(rows[1][1])["seed"] == 2
    assert json.loads(rows[1][2])["users"] == 5
    assert set(json.loads(rows[1][3])) == {"ingest", "features", "embed", "segment", "risk", "name"}
    assert "duckdb" in json.loads(rows[1][4])
    assert Workspace(workspace_dir).current_run_id() == second.run_id


def test_failed_run_leaves_previous_workspace(write_events: WriteEvents, workspace_dir: Path,
                                              tmp_path: Path) -> None:
    run(workspace_dir, [write_events(ROWS)], RunConfig())
    bad = write_rows(tmp_path / "bad.csv", [{"nobody": 1}])
    with pytest.raises(InputError):
        run(workspace_dir, [bad], RunConfig())
    assert _users(workspace_dir) == 5
    assert sorted(p.name for p in workspace_dir.iterdir()) == [
        ".lock", "audiences", "files", "segmint.duckdb"]
    # only the current run's side files are kept
    assert [p.name for p in (workspace_dir / "files").iterdir()] == [
        Workspace(workspace_dir).current_run_id()]


def test_killed_run_leaves_previous_workspace(write_events: WriteEvents, workspace_dir: Path,
                                              tmp_path: Path) -> None:
    run(workspace_dir, [write_events(ROWS)], RunConfig())
    big = tmp_path / "big.csv"
    with big.open("w") as fh:  # large enough that the run is still busy when killed
        fh.write("user_id,timestamp,price\n")
        for i in range(600_000):
            fh.write(f"{i % 5000},2024-01-{1 + i % 28:02d} 10:00:00,{i % 97}.5\n")
    proc = subprocess.Popen([sys.executable, "-m", "segmint.agent", "run", str(big),
                             "-w", str(workspace_dir)], stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not list(workspace_dir.glob(".segmint.duckdb.*.tmp")):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _users(workspace_dir) == 5
    # The next run cleans up what the killed one left and succeeds.
    run(workspace_dir, [big], RunConfig())
    assert _users(workspace_dir) == 5000
    assert not list(workspace_dir.glob(".segmint.duckdb.*"))


def test_reading_an_empty_workspace_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="segmint run"):
        Workspace(tmp_path / "none").connect()


def test_a_failing_run_cleans_what_a_killed_run_left(workspace_dir: Path, tmp_path: Path) -> None:
    first = run(workspace_dir, [write_rows(tmp_path / "small.csv", ROWS)], RunConfig())
    shop = tmp_path / "shop.parquet"
    generate(6000, shop, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "segmint.agent", "run", str(shop),
                             "-w", str(workspace_dir)], stderr=subprocess.PIPE)
    files = workspace_dir / "files"
    deadline = time.time() + 300
    # Killed once it has side files of its own: the staging database, the spill folder and
    # files/<its run id> are all left behind.
    while proc.poll() is None and time.time() < deadline and len(list(files.iterdir())) < 2:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list(files.iterdir())) == 2 and list(workspace_dir.glob(".segmint.duckdb.*.tmp"))

    # The next writer fails on its input, yet cleans up first and keeps the current run's files.
    bad = write_rows(tmp_path / "bad.csv", [{"nobody": 1}])
    failed = subprocess.run([sys.executable, "-m", "segmint.agent", "run", str(bad),
                             "-w", str(workspace_dir)], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    assert sorted(p.name for p in workspace_dir.iterdir()) == [
        ".lock", "audiences", "files", "segmint.duckdb"]
    assert [p.name for p in files.iterdir()] == [first.run_id]
    assert _users(workspace_dir) == 5 and len(Workspace(workspace_dir).segments()) >= 1
