"""The LLM call log: a LangChain callback handler that appends one JSON line per model call to
`WORKSPACE/llm_calls.jsonl` (backend, purpose, sizes, latency, outcome, and how many personal data
patterns the outgoing prompt still held: should be 0). It never writes the prompt or the response.
It is a side file rather than a table because `segmint ask` opens the database read-only, and a
question must never modify the workspace's data. `privacy.read_call_log` reads it back.

The one module built on LangChain's callback classes (0.2 s to import, with langsmith): it is
imported only where a chat model is built, so commands without an LLM never load LangChain
(bench/RESULTS.md "Cold start").
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from segmint.agent.llm.privacy import call_log_path, pii_count, read_call_log

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # the usual rough estimate for English text with BPE tokenisers


@dataclass
class _Pending:
    started: float
    purpose: str
    prompt_chars: int
    pii: int


class CallLog(BaseCallbackHandler):
    """A LangChain callback handler that appends one JSON line per chat-model call.

    Attach it to a model (`make_chat_model(spec, callbacks=[CallLog(...)])`) and tag calls with
    `config={"metadata": {"purpose": ...}}` (`llm.invoke_llm` does). Records hold sizes and timing
    only, never the prompt or the response.

    Args:
        path: the JSONL file, or a workspace directory (then `llm_calls.jsonl` inside it).
        backend: the `--llm` label to record, e.g. "openai:smollm2".
        remote: whether the backend is reached over the network.
    """

    raise_error = False  # a log that cannot be written must never break the call itself

    def __init__(self, path: str | Path, backend: str, *, remote: bool = True) -> None:
        p = Path(path)
        self.path = call_log_path(p) if p.is_dir() else p
        self.backend = backend
        self.remote = remote
        self._pending: dict[UUID, _Pending] = {}
        self._lock = threading.Lock()

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *,
                            run_id: UUID, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        """Remember when the call started and how big its prompt is."""
        text = "\n".join(_message_text(m) for batch in messages for m in batch)
        tools = (kwargs.get("invocation_params") or {}).get("tools")
        extra = len(json.dumps(tools)) if tools else 0
        purpose = str((metadata or {}).get("purpose", "unspecified"))
        with self._lock:
            self._pending[run_id] = _Pending(time.perf_counter(), purpose, len(text) + extra,
                                             pii_count(text))

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a call that returned."""
        out = "\n".join(_message_text(getattr(g, "message", None)) or g.text
                        for gens in response.generations for g in gens)
        usage = _usage(response)
        self._finish(run_id, ok=True, response_chars=len(out), usage=usage, error=None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a call that failed (the error's type and HTTP status only)."""
        status = getattr(error, "status_code", None)
        label = type(error).__name__ + (f" HTTP {status}" if status else "")
        self._finish(run_id, ok=False, response_chars=0, usage={}, error=label)

    def _finish(self, run_id: UUID, *, ok: bool, response_chars: int, usage: dict[str, int],
                error: str | None) -> None:
        with self._lock:
            pending = self._pending.pop(run_id, None)
        if pending is None:
            return
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "backend": self.backend,
            "remote": self.remote,
            "purpose": pending.purpose,
            "prompt_chars": pending.prompt_chars,
            "prompt_tokens": usage.get("input_tokens", _estimate(pending.prompt_chars)),
            "response_chars": response_chars,
            "response_tokens": usage.get("output_tokens", _estimate(response_chars)),
            "tokens_estimated": not usage,
            "latency_ms": round((time.perf_counter() - pending.started) * 1000, 1),
            "ok": ok,
            "error": error,
            "pii_in_prompt": pending.pii,
        }
        self.write(record)

    def blocked(self, purpose: str, pii: int) -> None:
        """Record a call that was not made because its prompt still held personal data."""
        self.write({"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "backend": self.backend, "remote": self.remote, "purpose": purpose,
                    "prompt_chars": 0, "prompt_tokens": 0, "response_chars": 0,
                    "response_tokens": 0, "tokens_estimated": False, "latency_ms": 0.0, "ok": False,
                    "error": "not sent: personal data in prompt", "pii_in_prompt": pii})

    def write(self, record: dict[str, Any]) -> None:
        """Append one record; a failure to write is logged, never raised."""
        line = json.dumps(record, sort_keys=True) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
        except OSError as exc:
            log.warning("cannot write the LLM call log %s: %s", self.path, exc)

    def records(self) -> Iterator[dict[str, Any]]:
        """The records written so far."""
        yield from read_call_log(self.path)


def _message_text(message: Any) -> str:
    if message is None:
        return ""
    content = getattr(message, "content", "")
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    calls = getattr(message, "tool_calls", None)
    if calls:
        text += json.dumps([c.get("args") for c in calls], default=str)
    return text


def _usage(response: LLMResult) -> dict[str, int]:
    for gens in response.generations:
        for g in gens:
            meta = getattr(getattr(g, "message", None), "usage_metadata", None)
            if meta:
                return {"input_tokens": int(meta.get("input_tokens", 0)),
                        "output_tokens": int(meta.get("output_tokens", 0))}
    # Some wrappers (ChatLlamaCpp) report OpenAI-style usage only in llm_output.
    usage = (response.llm_output or {}).get("token_usage") or {}
    if "prompt_tokens" in usage:
        return {"input_tokens": int(usage["prompt_tokens"]),
                "output_tokens": int(usage.get("completion_tokens", 0))}
    return {}


def _estimate(chars: int) -> int:
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
