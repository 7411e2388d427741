"""Each read command, in a fresh process, imports only the parts of segmint it uses, and neither
pandas (pyarrow loads it when it builds arrays from Python objects) nor any model runtime,
LangChain or clustering library (bench/RESULTS.md "Cold start" times them)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from segmint.agent.core.workspace import Workspace

# Run the console entry point with the given arguments, then write every module it loaded.
DRIVER = """
import json, sys
args, report = json.loads(sys.argv[1]), sys.argv[2]
sys.argv = ["segmint", *args]
try:
    from segmint.agent.cli import main
    main()
finally:
    with open(report, "w") as fh:
        json.dump(sorted(sys.modules), fh)
"""
# Libraries no read command needs; pandas is installed with the test dependencies, so its absence
# is checked, not assumed.
NEVER = {"pandas", "langchain_core", "langsmith", "scipy", "faiss", "sklearn", "onnxruntime", "onnx",
         "torch", "sentence_transformers", "tokenizers", "fastapi", "ray"}
UPPER = {"segment", "run", "ingest", "scores", "api"}  # the pipeline's steps and the web API
ENCODERS = {"segmint.embeddings.specs", "segmint.embeddings.onnx_backend",
            "segmint.embeddings.numpy_backend", "segmint.embeddings.static_backend"}


def imported(tmp_path: Path, *args: str) -> set[str]:
    """Every module one `segmint ARGS` process imported."""
    report = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(args), str(report)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(report.read_text()))


def agent_parts(modules: set[str]) -> set[str]:
    """The segmint.agent subpackages among the modules."""
    return {m.split(".")[2] for m in modules if m.startswith("segmint.agent.") and m.count(".") >= 2}


def a_customer(ws: Path) -> str:
    with contextlib.closing(Workspace(ws).reader()) as con:
        row = con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture(scope="module")
def ws(sample_workspace: Path) -> str:
    return str(sample_workspace)


def test_help_loads_the_command_line_alone(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert agent_parts(modules) == {"cli", "core"}
    assert modules & (NEVER | {"pyarrow", "segmint.embeddings"}) == set()


def test_segments_reads_the_stored_segments(ws: str, tmp_path: Path) -> None:
    modules = imported(tmp_path, "segments", "-w", ws)
    assert modules & NEVER == set()
    assert agent_parts(modules) & (UPPER | {"ask", "act", "audience"}) == set()
    assert {m for m in modules if m.startswith("segmint.embeddings")} == set()


def test_user_reads_one_customer_without_the_question_parser(ws: str, tmp_path: Path) -> None:
    modules = imported(tmp_path, "user", a_customer(Path(ws)), "-w", ws)
    assert modules & (NEVER | ENCODERS | {"segmint.agent.llm.structured"}) == set()
    assert agent_parts(modules) & (UPPER | {"ask", "query", "audience"}) == set()


@pytest.mark.parametrize("question", ["top 10 customers by revenue", "who bought coffee?"])
def test_a_question_without_meaning_loads_no_encoder(ws: str, tmp_path: Path, question: str) -> None:
    modules = imported(tmp_path, "ask", question, "-w", ws)
    assert modules & (NEVER | ENCODERS) == set()
    assert agent_parts(modules) & (UPPER | {"act", "audience"}) == set()


def test_exporting_a_question_loads_no_pipeline_step(ws: str, tmp_path: Path) -> None:
    modules = imported(tmp_path, "export", "--question", "who are my lapsed high spenders?",
                       "-o", str(tmp_path / "x.csv"), "-w", ws)
    assert (tmp_path / "x.csv").stat().st_size > 0
    assert modules & (NEVER | ENCODERS) == set()
    assert agent_parts(modules) & UPPER == set()


def test_the_check_sees_what_a_command_loads(ws: str, tmp_path: Path) -> None:
    # A question matched by meaning loads the encoders; a user's lookalikes load FAISS.
    assert imported(tmp_path, "ask", "who bought anything like nappies?", "-w", ws) >= ENCODERS
    assert "faiss" in imported(tmp_path, "similar", a_customer(Path(ws)), "-w", ws)
