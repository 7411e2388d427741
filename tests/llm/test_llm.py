"""LLM backend factory: spec parsing, lazy optional backends, clear and fast errors when unreachable."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segmint.agent.ask.llm_parser import parse_with_llm
from segmint.agent.core.errors import SegmintError
from segmint.agent.llm.backends import (
    LLMSpec,
    LLMSpecError,
    LLMUnavailable,
    invoke_llm,
    make_chat_model,
    parse_llm_spec,
    probe,
)
from segmint.agent.llm.call_log import CallLog
from segmint.agent.llm.privacy import read_call_log
from segmint.agent.query import Catalogue
from segmint.agent.query.glossary import load_glossary


def closed_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("text", "spec"), [
    ("builtin", LLMSpec("builtin")),
    ("", LLMSpec("builtin")),
    ("openai:gpt-4o-mini", LLMSpec("openai", "gpt-4o-mini")),
    ("ollama:llama3.2:3b", LLMSpec("ollama", "llama3.2:3b")),
    ("llamacpp:/models/x.gguf", LLMSpec("llamacpp", "/models/x.gguf")),
    ("hf:./models/qwen", LLMSpec("hf", "./models/qwen")),
])
def test_specs(text: str, spec: LLMSpec) -> None:
    assert parse_llm_spec(text) == spec


@pytest.mark.parametrize("text", ["gpt4", "openai:", "claude:x", "builtin:x", ":x"])
def test_bad_specs_are_usage_errors(text: str) -> None:
    with pytest.raises(LLMSpecError, match="is not understood") as err:
        parse_llm_spec(text)
    assert err.value.exit_code == 2 and isinstance(err.value, SegmintError)


def test_builtin_has_no_model() -> None:
    assert make_chat_model("builtin") is None


def test_openai_and_ollama_build_with_the_default_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    from langchain_openai import ChatOpenAI

    model = make_chat_model("openai:smollm2", timeout=7, max_retries=1)
    assert isinstance(model, ChatOpenAI)
    assert (model.model_name, model.max_retries, model.openai_api_base) == (
        "smollm2", 1, "http://127.0.0.1:9/v1")
    key = model.openai_api_key
    assert key is not None and not callable(key) and key.get_secret_value() == "not-needed"
    ollama = make_chat_model("ollama:llama3.2")
    assert ollama is not None and type(ollama).__name__ == "ChatOllama"


def test_local_backends_need_an_existing_model(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match="model file not found"):
        make_chat_model(f"llamacpp:{tmp_path / 'missing.gguf'}")
    with pytest.raises(LLMUnavailable, match="local model folder not found") as err:
        make_chat_model("hf:someone/some-model-on-the-hub")
    assert "fix:" in str(err.value) and "\n" not in str(err.value)


def test_optional_backends_are_imported_lazily() -> None:
    code = ("import sys, segmint.agent.llm.backends, segmint.agent.ask.llm_parser, "
            "segmint.agent.llm.privacy, segmint.agent.llm.structured\n"
            "heavy = [m for m in ('llama_cpp', 'langchain_community', 'langchain_huggingface', "
            "'transformers', 'langchain_openai', 'langchain_ollama', 'openai', "
            # LangChain itself too: only building a model (`call_log`) loads it.
            "'langchain_core', 'langsmith') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_package_names_what_to_install(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    # Hide the optional packages in a fresh interpreter, as on a default install.
    code = ("import sys\n"
            "for m in ('llama_cpp', 'langchain_community', 'langchain_huggingface'):\n"
            "    sys.modules[m] = None\n"
            "from segmint.agent.llm.backends import make_chat_model, LLMUnavailable\n"
            "for spec in (sys.argv[1], 'hf:' + sys.argv[2]):\n"
            "    try:\n"
            "        make_chat_model(spec)\n"
            "    except LLMUnavailable as exc:\n"
            "        print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code, f"llamacpp:{gguf}", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "package missing" in lines[0] and "pip install 'segmint[llamacpp]'" in lines[0]
    assert "package missing" in lines[1] and "pip install 'segmint[hf]'" in lines[1]


def test_unreachable_openai_backend_fails_fast_with_one_clear_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    port = closed_port()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    start = time.monotonic()
    with pytest.raises(LLMUnavailable) as err:
        probe("openai:smollm2")
    assert time.monotonic() - start < 5
    assert str(err.value).startswith(f"LLM backend openai:smollm2: unreachable at http://127.0.0.1:{port}/v1")
    assert "OPENAI_BASE_URL" in str(err.value) and "\n" not in str(err.value)

    log = CallLog(tmp_path, backend="openai:smollm2")
    model = make_chat_model("openai:smollm2", max_retries=1, callbacks=[log])
    assert model is not None
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match="unreachable"):
        invoke_llm(model, "hello", backend="openai:smollm2", purpose="test")
    assert time.monotonic() - start < 15  # one retry with backoff, never the 60 s timeout
    (rec,) = read_call_log(tmp_path)
    assert rec["ok"] is False and "ConnectionError" in rec["error"] and rec["purpose"] == "test"

    cat = Catalogue(numeric=["orders"], text=[], attribute_values={})
    spec, reason = parse_with_llm("lapsed customers", model, load_glossary(), cat,
                                  backend="openai:smollm2")
    assert spec is None and reason is not None and reason.startswith("openai:smollm2 unreachable at")


def test_unreachable_ollama_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port()}")
    unreachable = r"unreachable at http://127\.0\.0\.1:\d+ — fix: start `ollama serve`"
    with pytest.raises(LLMUnavailable, match=unreachable):
        probe("ollama:llama3.2")
    model = make_chat_model("ollama:llama3.2", max_retries=0)
    assert model is not None
    with pytest.raises(LLMUnavailable, match="unreachable"):
        invoke_llm(model, "hello", backend="ollama:llama3.2", purpose="test")
