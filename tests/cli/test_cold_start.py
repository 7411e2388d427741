"""Cold start: each command, in a fresh process, imports only what it uses (bench/RESULTS.md
"Cold start" times them). The read commands load no model runtime, no LangChain, no clustering
library; a question matched by meaning loads an encoder without torch."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import build_workspace, purchase_rows, run_cli
from segmint.agent.core.config import RunConfig
from segmint.agent.core.workspace import Workspace

# Run the console entry point with the given arguments, then write which of `watched` it loaded.
DRIVER = """
import json, sys
args, watched, report = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
sys.argv = ["segmint", *args]
try:
    from segmint.agent.cli import main
    main()
finally:
    with open(report, "w") as fh:
        json.dump(sorted(m for m in watched if m in sys.modules), fh)
"""
MODEL_RUNTIMES = ["torch", "sentence_transformers", "transformers", "onnxruntime", "onnx"]
HEAVY = [*MODEL_RUNTIMES, "langchain_core", "langsmith", "langchain_openai", "sklearn", "scipy",
         "faiss", "fastapi", "uvicorn", "ray", "pymc"]


def loaded(tmp_path: Path, *args: str) -> tuple[list[str], str]:
    """The HEAVY modules one `segmint ARGS` process imported, and its stdout."""
    report = tmp_path / "loaded.json"
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(args), json.dumps(HEAVY),
                           str(report)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(report.read_text()), proc.stdout


def a_customer(ws: Path) -> str:
    with contextlib.closing(Workspace(ws).reader()) as con:
        row = con.execute("SELECT user_id FROM users ORDER BY user_id LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def test_read_commands_import_no_heavy_library(sample_workspace: Path, tmp_path: Path) -> None:
    ws = str(sample_workspace)
    commands = [
        ["--help"],
        ["segments", "-w", ws],
        ["user", a_customer(sample_workspace), "-w", ws],
        ["ask", "top 10 customers by revenue", "-w", ws],
        ["export", "--question", "who are my lapsed high spenders?", "-o", str(tmp_path / "x.csv"),
         "-w", ws],
    ]
    for args in commands:
        assert loaded(tmp_path, *args)[0] == [], args


def test_the_check_sees_what_a_command_imports(sample_workspace: Path, tmp_path: Path) -> None:
    # Lookalikes search the customer index: FAISS, loaded by that command only.
    modules, _ = loaded(tmp_path, "similar", a_customer(sample_workspace), "-w", str(sample_workspace))
    assert "faiss" in modules


def test_a_question_by_meaning_loads_an_encoder_without_torch(sample_workspace: Path,
                                                              tmp_path: Path) -> None:
    modules, out = loaded(tmp_path, "ask", "who bought anything like nappies?", "-w",
                          str(sample_workspace), "--json")
    assert "by meaning" in json.loads(out)["definition"]
    assert set(modules) & set(MODEL_RUNTIMES) and not {"torch", "sentence_transformers"} & set(modules)
    assert not {"langchain_core", "sklearn", "scipy", "faiss"} & set(modules)


TEXTS = ["Porcelain Teapot with Infuser", "Cast Iron Teapot 1.2 L", "Tea Cosy, Knitted Wool",
         "Stainless Steel Garden Trowel", "Leather Work Gloves", "Ceramic Coffee Mug"]


@pytest.mark.slow
def test_a_sentence_transformers_run_is_asked_by_meaning_without_torch(tmp_path: Path) -> None:
    ws = build_workspace(tmp_path, purchase_rows(60, seed=4, texts=TEXTS),
                         RunConfig.model_validate({"embedder": "minilm-st"}))
    modules, out = loaded(tmp_path, "ask", "who bought anything like teapots?", "-w", str(ws.path),
                          "--json")
    assert "torch" not in modules and "onnxruntime" in modules
    # The same products as the run's own encoder picks (sentence-transformers, in this process).
    from segmint.agent.ask._matches import SEMANTIC_MIN_COSINE
    from segmint.embeddings import make_encoder

    reference = make_encoder("minilm-st")
    scores = reference.encode(TEXTS) @ reference.encode(["teapots"])[0]
    expected = {t for t, s in zip(TEXTS, scores, strict=True) if s >= SEMANTIC_MIN_COSINE}
    assert expected and {p["text"] for p in json.loads(out)["matched_products"]} == expected


def _shape(command: Any) -> Any:
    """A click command's help and options, sub-commands included."""
    subs = getattr(command, "commands", {})
    return (command.help, [(p.name, tuple(p.opts), p.required, repr(p.default)) for p in command.params],
            {k: _shape(v) for k, v in subs.items()})


def test_a_command_is_built_alone_and_reads_as_in_the_whole_app() -> None:
    from typer.main import get_group

    from segmint.agent.cli import _asked, app

    whole = get_group(app)
    names = sorted(whole.commands)
    assert len(names) >= 20
    for name in names:
        alone = get_group(_asked([name, "--help"]))
        assert list(alone.commands) == [name]
        assert _shape(alone.commands[name]) == _shape(whole.commands[name])
    for args in ([], ["--help"], ["exprot"], ["-w", "x", "ask"]):
        assert _asked(args) is app  # help and errors list every command


def test_help_and_errors_still_name_every_command() -> None:
    proc = run_cli("exprot")
    assert proc.returncode == 2 and "Did you mean 'export'" in proc.stderr
    assert "Usage: python -m segmint.agent export" in run_cli("export", "--help", check=True).stdout
    listed = run_cli("--help", check=True).stdout
    assert all(word in listed for word in ("export", "audience", "segments", "ask"))
