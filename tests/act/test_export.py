"""Export paths through the real console entry point: a file a user cannot get is one line, exit 2."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import ONLINE_RETAIL, purchase_rows
from segmint.agent.cli import main
from segmint.agent.core.workspace import Workspace

QUESTION = "top 10 customers by revenue"


@pytest.fixture(scope="module")
def workspace(purchase_shop: Any) -> str:
    ws = purchase_shop(users=40, seed=5, texts=("mug", "tea", "kettle"))
    return str(ws.path)


def segmint(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> tuple[int, str, str]:
    """Run `segmint ARGS` through `main` (its error mapping included): exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["segmint", *args])
    with pytest.raises(SystemExit) as done:
        main()
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out, out.err


def refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> str:
    """The one error line of a command that must exit 2."""
    code, _, stderr = segmint(monkeypatch, capsys, *args)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1 and "Traceback" not in stderr and "unexpected" not in stderr, stderr
    return lines[0]


def bad_paths(tmp_path: Path) -> list[tuple[Path, str]]:
    """Destinations that cannot be written, each with the words its error must contain."""
    a_file = tmp_path / "taken.csv"
    a_file.write_text("keep me\n")
    a_folder = tmp_path / "a-folder"
    a_folder.mkdir()
    cases = [
        (tmp_path / "list.xlsx", "fix: name the file .csv, .parquet or .jsonl (Excel opens .csv)"),
        (tmp_path / "list.csv.gz", "unknown export file type '.gz'"),
        (a_file / "list.csv", f"{a_file} is a file, not a folder"),
        (a_folder, "is a folder, not a file"),
        (tmp_path / "new" / "deeper" / "list.csv", "does not exist — fix: create it first, or add --mkdir"),
        (Path("/dev/null"), "is not a regular file"),
    ]
    if Path("/proc/self").is_dir():
        cases.append((Path("/proc/list.csv"), "cannot write here"))
    return cases


@pytest.mark.parametrize("command", ["export", "ask"])
def test_unwritable_exports_are_one_line_exit_2(command: str, workspace: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for path, words in bad_paths(tmp_path):
        args = (["export", "--question", QUESTION, "-o", str(path)] if command == "export"
                else ["ask", QUESTION, "--export", str(path)])
        line = refused(monkeypatch, capsys, *args, "-w", workspace)
        assert str(path) in line and words in line, line
    assert (tmp_path / "taken.csv").read_text() == "keep me\n"
    assert not (tmp_path / "new").exists() and not (tmp_path / "list.xlsx").exists()
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)
    assert not list(tmp_path.rglob(".*.tmp"))


def test_assign_checks_its_output_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Neither the events nor the workspace exist: the output is refused first.
    for path, words in [(tmp_path / "placed.parquet", "fix: name the file .csv"),
                        *bad_paths(tmp_path)[2:]]:
        line = refused(monkeypatch, capsys, "assign", str(tmp_path / "none.csv"), "-o", str(path),
                       "-w", str(tmp_path / "ws"))
        assert str(path) in line and words in line, line


def test_mkdir_creates_the_folder_and_writes_atomically(workspace: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new" / "deeper" / "top.jsonl"
    code, _, stderr = segmint(monkeypatch, capsys, "export", "--question", QUESTION, "-o", str(path),
                              "--mkdir", "-w", workspace)
    assert code == 0, stderr
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 10 and all(r["why"] for r in rows)

    # Written again over the same file: replaced whole, and no temporary file stays behind.
    code, stdout, stderr = segmint(monkeypatch, capsys, "ask", QUESTION, "--export", str(path),
                                   "-w", workspace, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["export"] == str(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["top.jsonl", "top.jsonl.definition.json"]
    assert len(path.read_text().splitlines()) == 10


def test_an_explicit_format_names_any_file(workspace: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "top.txt"
    code, _, stderr = segmint(monkeypatch, capsys, "export", "--question", QUESTION, "-o", str(path),
                              "--format", "csv", "-w", workspace)
    assert code == 0, stderr
    assert path.read_text().splitlines()[0].startswith('"user_id","segment_id"')
    line = refused(monkeypatch, capsys, "export", "--question", QUESTION, "-o", str(path),
                   "--format", "xlsx", "-w", workspace)
    assert "option '--format': unknown export format 'xlsx' — fix: use csv, parquet or jsonl" in line


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".csv":
        return pacsv.read_csv(path).to_pylist()
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_exports_have_the_same_types_in_every_format(workspace: str, tmp_path: Path, suffix: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    segments = json.loads(segmint(monkeypatch, capsys, "segments", "-w", workspace, "--json")[1])
    segment = next(s for s in segments["segments"] if s["id"] != "0" and s["size"])
    for args in (["--question", QUESTION], ["--segment", segment["id"]]):
        path = tmp_path / f"list{suffix}"
        code, _, stderr = segmint(monkeypatch, capsys, "export", *args, "-o", str(path),
                                  "-w", workspace)
        assert code == 0, stderr
        rows = _read(path)
        assert len(rows) == (10 if args[0] == "--question" else segment["size"])
        for row in rows:  # whole numbers, never text or floats, whatever the format or list
            assert isinstance(row["segment_id"], int) and isinstance(row["recency_days"], int)
            assert isinstance(row["orders"], int) and isinstance(row["revenue"], float)
        if suffix == ".parquet":
            schema = pq.read_schema(path)
            assert str(schema.field("segment_id").type) == str(schema.field("recency_days").type) \
                == "int64"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_export_carries_its_definition(workspace: str, tmp_path: Path, suffix: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"kettles{suffix}"
    code, stdout, stderr = segmint(monkeypatch, capsys, "ask", "who bought kettles?", "--export",
                                   str(path), "-w", workspace, "--json")
    assert code == 0, stderr
    answer = json.loads(stdout)
    sidecar = path.with_name(path.name + ".definition.json")
    if suffix == ".parquet":  # in the file's key-value metadata, and nothing beside it
        doc = json.loads(pq.read_schema(path).metadata[b"segmint.definition"])
        assert not sidecar.exists()
    else:  # beside the file, naming exactly the bytes it describes
        doc = json.loads(sidecar.read_text(encoding="utf-8"))
        assert doc["file"] == {"name": path.name, "format": suffix[1:],
                               "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert doc["question"] == "who bought kettles?" and doc["query"] == answer["query"]
    assert doc["source"] == "question" and doc["kind"] == "customers"
    assert doc["definition"] == answer["definition"]
    with Workspace(Path(workspace)).connect() as con:
        run_id, counts = con.execute("SELECT run_id, counts FROM runs ORDER BY finished_at DESC "
                                     "LIMIT 1").fetchone()
    assert doc["run_id"] == run_id and doc["as_of"][:10] == json.loads(counts)["as_of"][:10]


def test_a_question_export_says_what_each_customer_did(workspace: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    rows = purchase_rows(40, seed=5, texts=("mug", "tea", "kettle"))
    last: dict[str, str] = {}
    for r in rows:
        if r["text"] == "kettle":
            last[r["user_id"]] = max(last.get(r["user_id"], ""), r["timestamp"][:10])
    path = tmp_path / "kettles.jsonl"
    code, stdout, stderr = segmint(monkeypatch, capsys, "ask", "who bought kettles?", "--export", str(path),
                                   "-w", workspace, "--json")
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["kind"] == "customers" and doc["export"] == str(path)
    assert doc["matched_products"] == [{"product_id": None, "text": "kettle", "customers": len(last),
                                        "phrase": "kettles"}]
    exported = _read(path)
    assert {r["user_id"] for r in exported} == set(last)
    for r in exported:
        assert f"bought kettle on {last[r['user_id']]}" in r["why"] and r["why"].startswith("revenue ")


def test_numbers_and_tables_export_their_rows(workspace: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rows = purchase_rows(40, seed=5, texts=("mug", "tea", "kettle"))
    months: dict[str, float] = {}
    for r in rows:
        months[r["timestamp"][:7]] = months.get(r["timestamp"][:7], 0.0) + float(r["price"])
    table = tmp_path / "months.csv"
    code, stdout, stderr = segmint(monkeypatch, capsys, "ask", "revenue by month", "--export", str(table),
                                   "-w", workspace, "--json")
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["kind"] == "table" and doc["group_by"] == "month"
    written = _read(table)
    assert [r["group"] for r in written] == sorted(months) == [r["group"] for r in doc["rows"]]
    assert [r["value"] for r in written] == pytest.approx([months[m] for m in sorted(months)])
    assert {r["measure"] for r in written} == {"total revenue"}
    number = tmp_path / "mean.parquet"
    code, _, stderr = segmint(monkeypatch, capsys, "export", "--question", "what is the average revenue?",
                              "-o", str(number), "-w", workspace)
    assert code == 0, stderr
    assert "wrote 1 row (mean revenue)" in stderr
    (row,) = _read(number)
    users = {r["user_id"] for r in rows}
    assert row["value"] == pytest.approx(sum(float(r["price"]) for r in rows) / len(users))
    assert row["customers"] == len(users) and row["measure"] == "mean revenue"


def _bought(raw: pd.DataFrame) -> dict[str, set[str]]:
    """Each customer's purchased product texts, from the raw Online Retail file (returns left out)."""
    buys = raw[(raw["CustomerID"].notna()) & (raw["Quantity"] > 0) & raw["Description"].notna()]
    texts = buys["Description"].map(lambda t: " ".join(str(t).split()))
    users = buys["CustomerID"].astype(int).astype(str)
    return {u: set(g) for u, g in texts.groupby(users)}


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="Online Retail not present")
def test_segment_exports_say_what_each_member_bought(online_retail: tuple[Path, dict[str, Any]],
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = online_retail
    bought = _bought(pd.read_csv(ONLINE_RETAIL, dtype={"InvoiceNo": str, "StockCode": str}))
    doc = json.loads(segmint(monkeypatch, capsys, "segments", "-w", str(ws), "--json")[1])
    interest = [s for s in doc["segments"] if s["kind"] == "interest" and s["size"]]
    assert interest
    members = named = 0
    for seg in interest:
        path = tmp_path / f"segment-{seg['id']}.parquet"
        code, _, stderr = segmint(monkeypatch, capsys, "export", "--segment", seg["id"], "-o",
                                  str(path), "-w", str(ws))
        assert code == 0, stderr
        rows = pq.read_table(path).to_pylist()
        assert len(rows) == seg["size"]
        for row in rows:
            why = " ".join(row["why"].split())
            members += 1
            named += any(text in why for text in bought.get(row["user_id"], ()))
            shown = re.search(r"typicality (\d\.\d\d)\)", why)
            assert shown is not None and f"“{seg['name']}”" in why, why
            typicality = float(shown.group(1))
            if typicality <= 0.09:  # below docs/definitions.md's 0.10 threshold
                assert f"loosely placed in “{seg['name']}”" in why, why
            elif typicality >= 0.11 and "none of it contains" not in why:
                assert "loosely placed" not in why, why
    assert named >= 0.9 * members, (named, members)
