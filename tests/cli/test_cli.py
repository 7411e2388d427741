"""The command line: JSON shapes and files through typer's runner (in this process), and a few
smoke tests of the real console script in its own process (exit codes, one-line errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import WriteEvents, run_cli
from segmint.agent.cli import app
from segmint.agent.core.errors import InputError
from segmint.agent.segment.model import MODEL_FILE, SegmentModel

ROWS = [
    {"CustomerID": "0042", "When": "2024-05-01T10:00:00Z", "Type": "add_to_cart", "Title": "Mug"},
    {"CustomerID": "0042", "When": "2024-05-02T10:00:00Z", "Type": "order", "Title": "Mug",
     "Price": "8", "Order": "A"},
    {"CustomerID": "", "When": "2024-05-02T11:00:00Z", "Type": "order", "Title": "Mug"},
    {"CustomerID": "0099", "When": "not a date", "Type": "view", "Title": "Tea"},
]
MAP = ["--map", "user_id=CustomerID", "--map", "timestamp=When", "--map", "event_type=Type",
       "--map", "text=Title", "--map", "price=Price", "--map", "order_id=Order"]


def cli(*args: str) -> Result:
    """Run one command in this process; an error or a non-zero exit fails the test."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_run_and_user_json(write_events: WriteEvents, workspace_dir: Path) -> None:
    events = write_events(ROWS)
    doc = json.loads(cli("run", str(events), "-w", str(workspace_dir), *MAP, "--json").stdout)
    for key in ("users", "events_in", "events_ok", "events_rejected", "segments", "noise_share",
                "seconds"):
        assert key in doc
    assert (doc["users"], doc["events_in"], doc["events_ok"], doc["events_rejected"]) == (1, 4, 2, 2)
    assert doc["reject_reasons"] == {"missing user_id": 1, "unparseable timestamp": 1}

    user = json.loads(cli("user", "0042", "-w", str(workspace_dir), "--json").stdout)
    assert set(user) >= {"user_id", "features", "segment", "why"}
    assert user["user_id"] == "0042"  # leading zeros survive
    assert user["features"]["orders"] == 1 and user["features"]["revenue"] == 8
    assert "8.00" in user["why"]


def test_json_is_the_only_thing_on_stdout(write_events: WriteEvents, workspace_dir: Path) -> None:
    proc = run_cli("run", str(write_events(ROWS)), "-w", str(workspace_dir), *MAP, "--json", check=True)
    assert json.loads(proc.stdout)["users"] == 1  # exactly one JSON document; progress on stderr


def test_config_file_gives_the_same_run(write_events: WriteEvents, tmp_path: Path) -> None:
    events = write_events(ROWS)
    cfg = tmp_path / "shop.yaml"
    cfg.write_text("map:\n" + "".join(
        f"  {MAP[i + 1].split('=')[0]}: {MAP[i + 1].split('=')[1]}\n" for i in range(0, len(MAP), 2)))
    a = json.loads(cli("run", str(events), "-w", str(tmp_path / "a"), *MAP, "--json").stdout)
    b = json.loads(cli("run", str(events), "-w", str(tmp_path / "b"), "--config", str(cfg),
                       "--json").stdout)
    assert {k: a[k] for k in ("users", "events_ok", "reject_reasons")} == {
        k: b[k] for k in ("users", "events_ok", "reject_reasons")}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["run", "{nouser}", "-w", "{ws}"], 2, "column 'user_id'"),
        (["run", "{missing}", "-w", "{ws}"], 2, "file not found"),
        (["run", "{events}", "-w", "{ws}", "--map", "oops"], 2, "--map NAME=SOURCE"),
        (["user", "1", "-w", "{ws}"], 2, "no segmint workspace here yet"),
        (["run", "{events}", "-w", "{ws}", "--no-such-flag"], 2, "no-such-flag"),
        (["run", "{events}", "-w", "{ws}", "--reducer", "umap"], 2, "reducer"),
    ],
)
def test_bad_input_exits_2_with_one_line(write_events: WriteEvents, tmp_path: Path,
                                         args: list[str], code: int, needle: str) -> None:
    paths = {
        "nouser": str(write_events([{"a": 1}], "nouser.csv")),
        "events": str(write_events(ROWS)),
        "missing": str(tmp_path / "missing.csv"),
        "ws": str(tmp_path / "ws"),
    }
    proc = run_cli(*[a.format(**paths) for a in args])
    assert proc.returncode == code
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("· ")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_synth_run_ask_export_end_to_end(tmp_path: Path) -> None:
    shop = tmp_path / "shop.parquet"
    cli("synth", "--users", "400", "--seed", "3", "-o", str(shop))
    ws = str(tmp_path / "ws")
    doc = json.loads(cli("run", str(shop), "--users", f"{shop}.users.csv", "-w", ws, "--json").stdout)
    labels = (tmp_path / "shop.parquet.labels.csv").read_text().splitlines()
    assert doc["users"] == len(labels) - 1 == 400
    assert doc["events_rejected"] == 0 and doc["events_in"] == doc["events_ok"] > 400 * 10

    out = tmp_path / "lapsed.jsonl"
    answer = json.loads(cli("ask", "who are my lapsed customers?", "-w", ws, "--json",
                            "--export", str(out)).stdout)
    assert answer["understood"] and answer["count"] > 0 and answer["export"] == str(out)
    number = json.loads(cli("ask", "how many lapsed customers are there?", "-w", ws, "--json").stdout)
    assert number["kind"] == "number" and number["value"] == answer["count"]
    lines = out.read_text().splitlines()
    assert len(lines) == answer["count"]
    assert all(json.loads(line)["recency_days"] > 90 for line in lines)

    again = tmp_path / "lapsed.csv"
    result = cli("export", "--question", "lapsed customers", "-o", str(again),
                 "-w", ws)
    assert f"wrote {answer['count']:,} customers to {again}" in result.stderr
    assert len(again.read_text().splitlines()) == answer["count"] + 1  # the same list, with a header

    user = json.loads(cli("user", json.loads(lines[0])["user_id"], "-w", ws, "--json").stdout)
    assert user["features"]["age_band"] is not None or user["features"]["gender"] is not None


def test_question_not_understood_exits_3(tmp_path: Path, write_events: WriteEvents) -> None:
    ws = str(tmp_path / "ws")
    cli("run", str(write_events(ROWS)), "-w", ws, *MAP)
    proc = run_cli("ask", "what is the meaning of life", "-w", ws, "--json")
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert doc["understood"] is False and "lapsed" in doc["answer"]
    plain = run_cli("ask", "what is the meaning of life", "-w", ws)
    assert plain.returncode == 3 and plain.stdout == ""
    assert len(plain.stderr.strip().splitlines()) == 1 and "could not understand" in plain.stderr


def test_demo_runs_the_sample_shop(tmp_path: Path) -> None:
    out = cli("demo", "-w", str(tmp_path / "demo")).stdout
    assert "2,000 customers" in out
    assert "lapsed high spenders" in out and "customers match" in out


def test_export_a_segment_by_id_or_name(tmp_path: Path) -> None:
    shop = tmp_path / "shop.parquet"
    cli("synth", "--users", "300", "--seed", "2", "-o", str(shop))
    ws = str(tmp_path / "ws")
    cli("run", str(shop), "-w", ws)
    segs = json.loads(cli("segments", "-w", ws, "--json").stdout)["segments"]
    first = next(s for s in segs if s["id"] != "0")
    by_id, by_name = tmp_path / "a.csv", tmp_path / "b.jsonl"
    cli("export", "--segment", first["id"], "-o", str(by_id), "-w", ws)
    cli("export", "--segment", first["name"].upper(), "-o", str(by_name), "-w", ws, "--hash-ids")
    rows = [json.loads(line) for line in by_name.read_text().splitlines()]
    assert len(rows) == len(by_id.read_text().splitlines()) - 1 == first["size"]
    assert {r["segment_name"] for r in rows} == {first["name"]}
    assert all(len(r["user_id"]) == 64 and r["why"] for r in rows)
    with pytest.raises(InputError, match="no segment 'no such segment'") as bad:
        cli("export", "--segment", "no such segment", "-o", str(by_id), "-w", ws)
    assert bad.value.exit_code == 2


def test_run_with_the_autoencoder_reducer(tmp_path: Path) -> None:
    shop = tmp_path / "shop.parquet"
    cli("synth", "--users", "400", "--seed", "4", "-o", str(shop))
    ws = tmp_path / "ws"
    doc = json.loads(cli("run", str(shop), "-w", str(ws), "--reducer", "autoencoder", "--json").stdout)
    assert doc["segments"] >= 2
    evaluated = json.loads(cli("evaluate", "--labels", f"{shop}.labels.csv", "--ignore-label",
                               "mixed", "-w", str(ws), "--json").stdout)
    assert evaluated["ignored"] > 0 and evaluated["ari"] > 0.3
    assert SegmentModel.load(next(ws.rglob(MODEL_FILE))).params["reducer"] == "AutoencoderReducer"
