"""A local OpenAI-compatible chat server for tests (a stand-in for the third-party service only).

`openai_server(answer)` serves `/v1/chat/completions` on a free loopback port: every request body is
recorded and answered with one tool call, whose name and arguments `answer(body)` decides. Our whole
LLM path (spec, chat model, call log, privacy gate, structured output, verification) runs for real
against it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


@dataclass
class OpenAIServer:
    """A running server: its endpoint (for `OPENAI_BASE_URL`) and the raw bodies it received."""

    base_url: str = ""
    bodies: list[str] = field(default_factory=list)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The received bodies, parsed."""
        return [json.loads(b) for b in self.bodies]


@contextmanager
def openai_server(answer: Answer, model: str = "scripted") -> Iterator[OpenAIServer]:
    """Serve `answer` for the duration of the block."""
    state = OpenAIServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            with lock:
                state.bodies.append(raw)
                n = len(state.bodies)
            tool, args = answer(json.loads(raw))
            call = {"id": "call_1", "type": "function",
                    "function": {"name": tool, "arguments": json.dumps(args)}}
            self._send({"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "finish_reason": "tool_calls",
                                     "message": {"role": "assistant", "content": None,
                                                 "tool_calls": [call]}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        def do_GET(self) -> None:
            self._send({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "test"}]})

        def _send(self, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
