"""A scripted question parser behind the local OpenAI-compatible server (tests/openai_server.py).

Each request is answered with the next scripted `CustomerQuery` tool call, so the whole LLM path of
ours runs for real against a deterministic "model".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from openai_server import OpenAIServer, openai_server


class ScriptedOpenAI:
    """The running server and what it was sent."""

    def __init__(self, server: OpenAIServer) -> None:
        self.server = server

    @property
    def base_url(self) -> str:
        """The endpoint, for `OPENAI_BASE_URL`."""
        return self.server.base_url

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received."""
        return self.server.requests

    def questions(self) -> list[str]:
        """The last user message of every request (the tagged question block)."""
        return [[m for m in r["messages"] if m["role"] == "user"][-1]["content"] for r in self.requests]


@contextmanager
def scripted_openai(replies: list[dict[str, Any]]) -> Iterator[ScriptedOpenAI]:
    """Serve `CustomerQuery` replies, one per request in order, for the duration of the block."""
    queue = list(replies)
    with openai_server(lambda body: ("CustomerQuery", queue.pop(0))) as server:
        yield ScriptedOpenAI(server)
