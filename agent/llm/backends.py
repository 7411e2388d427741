"""LLM backends: one factory from a `--llm` spec (docs/cli.md) to a LangChain chat model.

`builtin` means no LLM (None). The others are LangChain chat models built with a timeout, bounded
retries and temperature 0. Backend packages are imported only when their spec is used, so a
missing optional package costs nothing until someone asks for that backend, and then it is a
one-line `LLMUnavailable` naming what to install.

Nothing here talks to a backend at construction time; `probe` checks reachability up front, and
`invoke_llm` turns a failed call (refused connection, timeout, bad key, unknown model) into
`LLMUnavailable` so callers can fall back to the built-in path with a readable reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ValidationError

from segmint.agent.core.errors import SegmintError

if TYPE_CHECKING:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

Backend = Literal["builtin", "openai", "ollama", "llamacpp", "hf"]
BACKENDS: tuple[str, ...] = get_args(Backend)

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 2
# Local OpenAI-compatible servers (llama.cpp, vLLM, LM Studio) ignore the key but the SDK refuses
# to start without one.
DUMMY_API_KEY = "not-needed"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"

# What to install when a backend's package is missing.
INSTALL_HINT = {
    "openai": "pip install langchain-openai (a default dependency of segmint: reinstall segmint)",
    "ollama": "pip install langchain-ollama (a default dependency of segmint: reinstall segmint)",
    "llamacpp": "pip install 'segmint[llamacpp]' (langchain-community + llama-cpp-python)",
    "hf": "pip install 'segmint[hf]' (langchain-huggingface)",
}


class LLMError(SegmintError):
    """Base class for LLM backend problems (exit code 2: a configuration the user can fix)."""

    exit_code = 2


class LLMSpecError(LLMError):
    """A `--llm` value that is not one of the documented forms."""


class LLMUnavailable(LLMError):
    """A backend that cannot be used now: unreachable, timed out, refused, or its package missing.

    Attributes:
        backend: the spec label, e.g. "openai:gpt-4o-mini".
        reason: a short phrase ("unreachable", "timed out", "package missing", ...).
    """

    def __init__(self, backend: str, reason: str, *, fix: str | None = None) -> None:
        self.backend = backend
        self.reason = reason
        self.fix = fix
        line = f"LLM backend {backend}: {reason}"
        if fix:
            line += f" — fix: {fix}"
        super().__init__(line)


@dataclass(frozen=True)
class LLMSpec:
    """A parsed `--llm` value.

    Attributes:
        backend: which kind of backend.
        target: the model name (openai, ollama) or path (llamacpp, hf); "" for builtin.
    """

    backend: Backend
    target: str = ""

    @property
    def label(self) -> str:
        """The spec as the user wrote it (used in messages and call logs)."""
        return self.backend if self.backend == "builtin" else f"{self.backend}:{self.target}"

    @property
    def remote(self) -> bool:
        """Whether calls leave this process over the network."""
        return self.backend in ("openai", "ollama")


def parse_llm_spec(spec: str) -> LLMSpec:
    """Read a `--llm` value.

    Args:
        spec: `builtin`, `openai:MODEL`, `ollama:MODEL`, `llamacpp:PATH.gguf` or `hf:PATH`.

    Raises:
        LLMSpecError: any other form.
    """
    text = (spec or "").strip()
    if text in ("", "builtin", "none"):
        return LLMSpec("builtin")
    backend, sep, target = text.partition(":")
    backend = backend.strip().lower()
    target = target.strip()
    if not sep or backend not in BACKENDS or backend == "builtin" or not target:
        raise LLMSpecError(
            f"--llm {spec!r} is not understood; use builtin, openai:MODEL, ollama:MODEL, "
            "llamacpp:PATH.gguf or hf:PATH"
        )
    return LLMSpec(backend, target)  # type: ignore[arg-type]


def make_chat_model(
    spec: str | LLMSpec,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_retries: int = DEFAULT_RETRIES,
    max_tokens: int | None = 512,
    temperature: float = 0.0,
    callbacks: Sequence[BaseCallbackHandler] | None = None,
) -> BaseChatModel | None:
    """Build the chat model a `--llm` spec names; None for `builtin`.

    Args:
        spec: the `--llm` value or a parsed spec.
        timeout: seconds per request for network backends (connect time is capped at 5 s so a
            dead host fails fast).
        max_retries: retries after a failed request (network backends; with backoff).
        max_tokens: cap on generated tokens per call.
        temperature: sampling temperature; 0 keeps answers as repeatable as the backend allows.
        callbacks: LangChain callback handlers attached to every call (e.g. `call_log.CallLog`).

    Raises:
        LLMSpecError: the spec is malformed.
        LLMUnavailable: the backend's package is missing, or its model file/folder does not exist.
    """
    parsed = spec if isinstance(spec, LLMSpec) else parse_llm_spec(spec)
    if parsed.backend == "builtin":
        return None
    common: dict[str, Any] = {"callbacks": list(callbacks) if callbacks else None}
    builder = {"openai": _openai, "ollama": _ollama, "llamacpp": _llamacpp, "hf": _hf}[parsed.backend]
    return builder(parsed, timeout=timeout, max_retries=max_retries, max_tokens=max_tokens,
                   temperature=temperature, common=common)


def _missing(parsed: LLMSpec, exc: ImportError) -> LLMUnavailable:
    return LLMUnavailable(parsed.label, f"package missing ({exc.name or exc})",
                          fix=INSTALL_HINT[parsed.backend])


def _openai(parsed: LLMSpec, *, timeout: float, max_retries: int, max_tokens: int | None,
            temperature: float, common: dict[str, Any]) -> BaseChatModel:
    try:
        import httpx  # noqa: PLC0415  (0.2 s at start-up; only network backends need it)
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise _missing(parsed, exc) from exc
    # Passed as a dict: field names and aliases differ across langchain-openai releases' stubs.
    kwargs: dict[str, Any] = {
        "model": parsed.target,
        "base_url": openai_base_url(),
        "api_key": os.environ.get("OPENAI_API_KEY") or DUMMY_API_KEY,
        "timeout": httpx.Timeout(timeout, connect=min(5.0, timeout)),
        "max_retries": max_retries,
        "max_tokens": max_tokens,
        "temperature": temperature,
        **common,
    }
    return ChatOpenAI(**kwargs)


def openai_base_url() -> str | None:
    """The OpenAI-compatible endpoint in use (None: the SDK's default, api.openai.com)."""
    return os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE") or None


def _ollama(parsed: LLMSpec, *, timeout: float, max_retries: int, max_tokens: int | None,
            temperature: float, common: dict[str, Any]) -> BaseChatModel:
    try:
        import httpx  # noqa: PLC0415  (0.2 s at start-up; only network backends need it)
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise _missing(parsed, exc) from exc
    # ChatOllama has no retry setting; httpx transports retry failed connects (not requests that
    # reached the server), which is the failure worth retrying for a local daemon.
    limits = httpx.Timeout(timeout, connect=min(5.0, timeout))
    return ChatOllama(
        model=parsed.target,
        base_url=ollama_base_url(),
        temperature=temperature,
        num_predict=max_tokens,
        sync_client_kwargs={"timeout": limits, "transport": httpx.HTTPTransport(retries=max_retries)},
        async_client_kwargs={"timeout": limits,
                             "transport": httpx.AsyncHTTPTransport(retries=max_retries)},
        **common,
    )


def ollama_base_url() -> str:
    """The Ollama daemon's address (`OLLAMA_HOST`, default 127.0.0.1:11434)."""
    host = os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_URL
    return host if "://" in host else f"http://{host}"


def _llamacpp(parsed: LLMSpec, *, timeout: float, max_retries: int, max_tokens: int | None,
              temperature: float, common: dict[str, Any]) -> BaseChatModel:
    path = Path(parsed.target).expanduser()
    if not path.is_file():
        raise LLMUnavailable(parsed.label, f"model file not found: {path}",
                             fix="give the path of a local .gguf file")
    try:
        import llama_cpp  # noqa: F401  (the chat model imports it late; fail here with the hint)
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError as exc:
        raise _missing(parsed, exc) from exc
    try:
        # n_batch: the wrapper's default of 8 reads a 1.5k-token prompt in ~200 slow steps.
        # n_threads is left to llama.cpp (half the cores): more threads than free cores spin and
        # slow generation down several times on a busy machine.
        # streaming off: a streamed reply carries no token usage for the call log. The chat format
        # stays the model's own template; llama-cpp-python turns a named tool_choice into a JSON
        # schema grammar with any template.
        kwargs: dict[str, Any] = {
            "model_path": str(path), "temperature": temperature, "max_tokens": max_tokens or 512,
            "n_ctx": 4096, "n_batch": 512, "streaming": False, "verbose": False, **common,
        }
        return ChatLlamaCpp(**kwargs)
    except (ValueError, RuntimeError, OSError) as exc:
        raise LLMUnavailable(parsed.label, f"cannot load model ({_first_line(exc)})",
                             fix="check that the file is a valid GGUF model") from exc


def _hf(parsed: LLMSpec, *, timeout: float, max_retries: int, max_tokens: int | None,
        temperature: float, common: dict[str, Any]) -> BaseChatModel:
    path = Path(parsed.target).expanduser()
    if not path.is_dir():
        # A hub id would mean downloading weights, which segmint never does (docs/architecture.md).
        raise LLMUnavailable(parsed.label, f"local model folder not found: {path}",
                             fix="give the path of a local Hugging Face model folder")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError as exc:
        raise _missing(parsed, exc) from exc
    pipeline_kwargs: dict[str, Any] = {"max_new_tokens": max_tokens or 512, "return_full_text": False}
    if temperature > 0:
        pipeline_kwargs.update(do_sample=True, temperature=temperature)
    else:
        pipeline_kwargs["do_sample"] = False
    try:
        llm = HuggingFacePipeline.from_model_id(
            model_id=str(path), task="text-generation", pipeline_kwargs=pipeline_kwargs,
        )
        return ChatHuggingFace(llm=llm, model_id=str(path), **common)
    except (ValueError, OSError, RuntimeError) as exc:
        raise LLMUnavailable(parsed.label, f"cannot load model ({_first_line(exc)})",
                             fix="check that the folder holds a transformers text-generation model") from exc


def structured_output(model: BaseChatModel, schema: type[BaseModel]) -> Runnable[Any, dict[str, Any]]:
    """`model.with_structured_output(schema)` through tool calling, keeping the raw reply.

    Tool calling (`method="function_calling"`) is the one structured-output method that works
    across the backends: llama.cpp's server rejects `json_schema` response formats but turns a
    named tool choice into a grammar. Wrappers that take no `method` argument (ChatLlamaCpp) use
    tool calling anyway and are called without it. Wrappers with no tool calling for pydantic
    schemas (ChatHuggingFace over a local pipeline) get the plain reply, read as JSON text.

    Returns:
        A runnable whose output is a dict with `raw`, `parsed` and `parsing_error`.
    """
    try:
        try:
            runnable = model.with_structured_output(schema, method="function_calling", include_raw=True)
        except (TypeError, ValueError):
            runnable = model.with_structured_output(schema, include_raw=True)
        return runnable  # type: ignore[return-value]
    except NotImplementedError:
        from langchain_core.runnables import RunnableLambda

        return model | RunnableLambda(lambda message: json_reply(message, schema))


def json_reply(message: Any, schema: type[BaseModel]) -> dict[str, Any]:
    """Read a reply's text as one JSON object of `schema`, in `with_structured_output`'s shape.

    Accepts the bare object, a tool-call wrapper (`{"name": ..., "arguments": {...}}`) or either
    inside prose or a code fence. The text is only parsed and validated, never run.
    """
    content = getattr(message, "content", message)
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return {"raw": message, "parsed": None, "parsing_error": None}
    try:
        data = json.loads(text[start:end + 1])
        if isinstance(data, dict):
            for key in ("arguments", "parameters", "args"):
                if isinstance(data.get(key), dict) and set(data) <= {"name", "type", key}:
                    data = data[key]
        return {"raw": message, "parsed": schema.model_validate(data), "parsing_error": None}
    except (ValueError, ValidationError) as exc:
        return {"raw": message, "parsed": None, "parsing_error": exc}


def probe(spec: str | LLMSpec, *, timeout: float = 3.0) -> None:
    """Check up front that a network backend answers, so a dead one is reported in seconds.

    Local backends (llamacpp, hf) and builtin need no probe; their problems surface when the
    model is built.

    Raises:
        LLMUnavailable: nothing answers at the backend's address, or it refuses the request.
    """
    parsed = spec if isinstance(spec, LLMSpec) else parse_llm_spec(spec)
    if not parsed.remote:
        return
    import httpx  # noqa: PLC0415  (0.2 s at start-up; only network backends need it)

    if parsed.backend == "openai":
        base = (openai_base_url() or "https://api.openai.com/v1").rstrip("/")
        url = f"{base}/models"
        headers = {"Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY') or DUMMY_API_KEY}"}
    else:
        url = f"{ollama_base_url().rstrip('/')}/api/tags"
        headers = {}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise unavailable(parsed.label, exc) from exc
    if response.status_code in (401, 403):
        raise LLMUnavailable(parsed.label, f"refused the API key (HTTP {response.status_code})",
                             fix="set OPENAI_API_KEY")


def invoke_llm(runnable: Runnable[Any, Any], messages: Any, *, backend: str, purpose: str,
               extra_config: dict[str, Any] | None = None) -> Any:
    """Invoke a model or chain, tagging the call with its purpose for the call log.

    Args:
        runnable: a chat model or anything built on one (e.g. `with_structured_output`).
        messages: the input (role/content pairs or messages).
        backend: the spec label, for error messages.
        purpose: why the call is made ("parse_question", "name_segment"); recorded by `CallLog`.
        extra_config: more LangChain run config.

    Raises:
        LLMUnavailable: the backend could not be reached, timed out, or refused the request.
    """
    config: dict[str, Any] = {"metadata": {"purpose": purpose, "segmint_backend": backend},
                              "run_name": purpose}
    config.update(extra_config or {})
    try:
        return runnable.invoke(messages, config=config)  # type: ignore[arg-type]
    except Exception as exc:
        converted = as_unavailable(backend, exc)
        if converted is None:
            raise
        raise converted from exc


def as_unavailable(backend: str, exc: BaseException) -> LLMUnavailable | None:
    """The `LLMUnavailable` an exception means, or None when it is not a backend availability problem.

    Covers refused connections, timeouts, rejected keys, unknown models and server errors for the
    OpenAI SDK, httpx (Ollama) and plain sockets.
    """
    if isinstance(exc, LLMUnavailable):
        return exc
    return _classify(backend, exc)


def unavailable(backend: str, exc: BaseException) -> LLMUnavailable:
    """Like `as_unavailable`, but always an error (unknown failures are reported by type)."""
    return as_unavailable(backend, exc) or LLMUnavailable(
        backend, f"call failed ({type(exc).__name__}: {_first_line(exc)})")


def _classify(backend: str, exc: BaseException) -> LLMUnavailable | None:
    # Matched by class names along the MRO: LangChain wraps SDK errors in subclasses of them, and
    # importing every optional SDK here just to test isinstance would defeat lazy imports.
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    where = _address_hint(backend)
    if names & {"APITimeoutError", "TimeoutException", "ModelTimeoutError"} or isinstance(
            exc, TimeoutError):
        return LLMUnavailable(backend, f"timed out{where}", fix="check the server, or use --llm builtin")
    if names & {"APIConnectionError", "ConnectError", "RemoteProtocolError",
                "ModelConnectionError"} or isinstance(exc, ConnectionError):
        return LLMUnavailable(backend, f"unreachable{where}",
                              fix=_start_hint(backend) + ", or use --llm builtin")
    if status in (401, 403):
        return LLMUnavailable(backend, f"refused the API key (HTTP {status})", fix="set OPENAI_API_KEY")
    if status == 404:
        return LLMUnavailable(backend, f"model not found on the server (HTTP 404){where}",
                              fix="check the model name the server serves")
    if isinstance(status, int) and (status >= 500 or status == 429):
        return LLMUnavailable(backend, f"server error (HTTP {status}){where}",
                              fix="try again later, or use --llm builtin")
    if "ResponseError" in names:  # ollama: e.g. model not pulled
        return LLMUnavailable(backend, f"server refused the request ({_first_line(exc)})",
                              fix="`ollama pull MODEL`, or use --llm builtin")
    return None


def _address_hint(backend: str) -> str:
    kind = backend.partition(":")[0]
    if kind == "openai":
        return f" at {openai_base_url() or 'https://api.openai.com/v1'}"
    if kind == "ollama":
        return f" at {ollama_base_url()}"
    return ""


def _start_hint(backend: str) -> str:
    kind = backend.partition(":")[0]
    if kind == "openai":
        return "start the server or set OPENAI_BASE_URL"
    if kind == "ollama":
        return "start `ollama serve` or set OLLAMA_HOST"
    return "check the backend"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
