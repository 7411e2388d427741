"""A scripted OpenAI-compatible chat server (a fake of the third-party LLM service, nothing of ours).

Each POST to /v1/chat/completions is answered with the next scripted `CustomerQuery` tool call, so
the whole LLM path of ours (spec, chat model, call log, structured output, validation) runs for
real against a deterministic "model". Requests are recorded for the test to inspect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedOpenAI:
    """The server's script and what it was sent.

    Attributes:
        replies: `CustomerQuery` arguments, one per request, in order.
        requests: the JSON bodies received.
        base_url: the endpoint, for `OPENAI_BASE_URL`.
    """

    replies: list[dict[str, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def questions(self) -> list[str]:
        """The last user message of every request (the tagged question block)."""
        return [[m for m in r["messages"] if m["role"] == "user"][-1]["content"] for r in self.requests]


@contextmanager
def scripted_openai(replies: list[dict[str, Any]]) -> Iterator[ScriptedOpenAI]:
    """Serve the script on a free loopback port for the duration of the block."""
    script = ScriptedOpenAI(list(replies))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            args = script.replies.pop(0)
            self._send({
                "id": f"chatcmpl-{len(script.requests)}", "object": "chat.completion", "created": 0,
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": None,
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {
                        "name": "CustomerQuery", "arguments": json.dumps(args)}}]}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        def do_GET(self) -> None:
            self._send({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

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
    script.base_url = f"http://127.0.0.1:{server.server_port}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()
