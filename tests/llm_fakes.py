"""A scripted stand-in for a third-party tool-calling chat model (never for code of ours).

The real llama.cpp server runs in tests/llm/test_llm_server.py; these fakes make the LLM's side of
a conversation deterministic so the rest (prompt, validation, repair, fallback) is tested for real.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from langchain_core.tools import BaseTool
from pydantic import Field


class ToolCallingFake(FakeMessagesListChatModel):
    """LangChain's scripted fake, made to accept tools the way a tool-calling backend does.

    It records what it was sent, so tests can check the prompt and the tool schema.
    """

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    tools: list[Any] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
                   *, tool_choice: str | None = None, **kwargs: Any) -> ToolCallingFake:
        self.tools = list(tools)
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.seen = [*self.seen, messages]
        return super()._generate(messages, stop, run_manager, **kwargs)


def tool_call(args: dict[str, Any], name: str = "CustomerQuery") -> AIMessage:
    """A reply calling one tool; `intent` (required by the schema) defaults to list."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": {"intent": "list", **args},
                                              "id": "call_1"}])


class UnreachableFake(ToolCallingFake):
    """A backend whose server refuses the connection, as a stopped local server does."""

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.seen = [*self.seen, messages]
        raise ConnectionError("connection refused")
