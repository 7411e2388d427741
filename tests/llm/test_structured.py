"""The one structured LLM call path (agent/llm/structured.py): schema, verify, one repair, fallback.

The chat model is LangChain's scripted fake (tests/llm_fakes.py), a stand-in for the third-party
service only; the prompt, the unwrapping, the verifier calls, the repair turn and the reasons are
ours and run for real. The real server is exercised in test_llm_server.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from llm_fakes import ToolCallingFake, UnreachableFake
from pydantic import BaseModel, ValidationError

from segmint.agent.llm import (
    LLMSpec,
    LLMSpecError,
    LLMUnavailable,
    StructuredChat,
    StructuredOutputUnsupported,
    Unparsed,
    open_chat_model,
    read_call_log,
    unwrap,
)
from segmint.agent.llm.call_log import CallLog
from segmint.prompts.templates import Prompt, RenderedPrompt


class Greeting(BaseModel):
    """A small schema for the fake to fill."""

    text: str
    count: int


def reply(**args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "Greeting", "args": args, "id": "call_1"}])


def prompt(feedback: str) -> RenderedPrompt:
    return RenderedPrompt("greet", "Greet.", f"Say hello.\nfeedback: {feedback}")


class Verifier:
    """Accepts a greeting whose count is 2; remembers what it was asked about."""

    def __init__(self) -> None:
        self.seen: list[Greeting] = []

    def __call__(self, value: Greeting) -> list[str]:
        self.seen.append(value)
        return [] if value.count == 2 else [f"the count {value.count} is not 2"]


def chat(model: ToolCallingFake, **kwargs: Any) -> StructuredChat[Greeting]:
    return StructuredChat(model, Greeting, backend="fake", purpose="greet", **kwargs)


def humans(model: ToolCallingFake) -> list[str]:
    return [str(m.content) for call in model.seen for m in call if m.type == "human"]


def test_a_rejected_reply_is_repaired_once_with_the_verifiers_problems() -> None:
    model = ToolCallingFake(responses=[reply(text="hi", count=7), reply(text="hello", count=2)])
    verify = Verifier()
    outcome = chat(model).ask(prompt, verify, rejected="greeting rejected twice")
    assert outcome.value == Greeting(text="hello", count=2)
    assert outcome.repaired and outcome.reason == "" and outcome.error is None
    assert verify.seen == [Greeting(text="hi", count=7), Greeting(text="hello", count=2)]
    assert humans(model) == ["Say hello.\nfeedback: ",
                             "Say hello.\nfeedback: Your previous answer was rejected: the count 7 is not 2"]


def test_a_reply_that_passes_at_once_is_not_repaired() -> None:
    model = ToolCallingFake(responses=[reply(text="hello", count=2), reply(text="never", count=0)])
    outcome = chat(model).ask(prompt, Verifier())
    assert outcome.value == Greeting(text="hello", count=2) and not outcome.repaired
    assert len(model.seen) == 1


def test_two_rejections_fall_back_with_the_last_problems_and_no_third_call() -> None:
    model = ToolCallingFake(responses=[reply(text="a", count=7), reply(text="b", count=9),
                                       reply(text="c", count=2)])
    outcome = chat(model).ask(prompt, Verifier(), rejected="greeting rejected twice")
    assert outcome.value is None
    assert outcome.reason == "greeting rejected twice: the count 9 is not 2"
    assert len(model.seen) == 2


def test_without_repair_one_call_and_the_bare_problem() -> None:
    model = ToolCallingFake(responses=[reply(text="a", count=7), reply(text="b", count=2)])
    outcome = chat(model).ask(prompt, Verifier(), repair=False)
    assert (outcome.value, outcome.reason) == (None, "the count 7 is not 2")
    assert len(model.seen) == 1


def test_an_unparsable_reply_gets_the_repair_turn_and_never_reaches_the_verifier() -> None:
    model = ToolCallingFake(responses=[AIMessage(content="Hello there!"), reply(text="hi", count=2)])
    verify = Verifier()
    outcome = chat(model).ask(prompt, verify)
    assert outcome.value == Greeting(text="hi", count=2) and outcome.repaired
    assert verify.seen == [Greeting(text="hi", count=2)]
    assert humans(model)[1].endswith("rejected: structured output could not be parsed (NoneType)")


def test_arguments_outside_the_schema_are_reported_with_the_error() -> None:
    model = ToolCallingFake(responses=[reply(text="hi", count="many")])
    outcome = chat(model).ask(prompt, Verifier(), repair=False)
    assert outcome.value is None
    assert outcome.reason == "structured output could not be parsed (ValidationError)"
    assert outcome.unparsed is not None and isinstance(outcome.unparsed.error, ValidationError)


def test_json_text_instead_of_a_tool_call_is_read_only_when_asked() -> None:
    text = AIMessage(content='Sure: {"text": "hi", "count": 2}')
    assert chat(ToolCallingFake(responses=[text]), read_text=True).ask(prompt).value == Greeting(
        text="hi", count=2)
    outcome = chat(ToolCallingFake(responses=[text])).ask(prompt, repair=False)
    assert outcome.value is None and outcome.unparsed == Unparsed(None)


def test_a_failing_call_falls_back_at_once_with_the_error() -> None:
    model = ToolCallingFake(responses=[])  # the fake has nothing to say: IndexError
    outcome = chat(model).ask(prompt, Verifier())
    assert outcome.value is None and outcome.reason == "fake call failed: IndexError"
    assert isinstance(outcome.error, IndexError)
    assert len(model.seen) == 1


def test_an_unreachable_backend_raises_so_callers_stop_calling_it() -> None:
    model = UnreachableFake(responses=[])
    with pytest.raises(LLMUnavailable) as err:
        chat(model).ask(prompt, Verifier())
    assert (err.value.backend, err.value.reason) == ("fake", "unreachable")
    assert len(model.seen) == 1


def test_a_prompt_that_cannot_be_rendered_makes_no_call() -> None:
    template = Prompt("greet", "test template", {"user": "Hello {name}"})
    model = ToolCallingFake(responses=[reply(text="hi", count=2)])
    outcome = chat(model).ask(lambda feedback: template.render(feedback=feedback), Verifier())
    assert outcome.value is None
    assert outcome.reason == ("prompt problem: prompt 'greet' (test template) needs variable(s) name; "
                              "pass them to render()")
    assert model.seen == []


class SchemaRefusingFake(ToolCallingFake):
    """A backend whose tool binding rejects the schema."""

    def bind_tools(self, tools: Any, *, tool_choice: str | None = None, **kwargs: Any) -> ToolCallingFake:
        raise ValueError("unsupported schema")


def test_a_model_without_structured_output_is_refused_up_front() -> None:
    with pytest.raises(StructuredOutputUnsupported, match=r"^fake cannot produce structured output \("):
        chat(SchemaRefusingFake(responses=[]))


def test_every_call_is_logged_with_its_purpose(tmp_path: Path) -> None:
    log = CallLog(tmp_path, backend="fake", remote=False)
    model = ToolCallingFake(responses=[reply(text="a", count=7), reply(text="b", count=2)],
                            callbacks=[log])
    assert chat(model).ask(prompt, Verifier()).repaired
    records = read_call_log(tmp_path)
    assert [(r["purpose"], r["ok"], r["backend"]) for r in records] == [("greet", True, "fake")] * 2


@pytest.mark.parametrize(("out", "expected"), [
    ({"raw": None, "parsed": Greeting(text="a", count=1), "parsing_error": None},
     Greeting(text="a", count=1)),
    ({"raw": AIMessage(content="no"), "parsed": None, "parsing_error": None}, Unparsed(None)),
    ({"raw": AIMessage(content='{"text": "a", "count": 1}'), "parsed": None, "parsing_error": None},
     Unparsed(None)),  # text is read only with read_text
])
def test_unwrap(out: dict[str, Any], expected: Greeting | Unparsed) -> None:
    assert unwrap(out, Greeting) == expected


def test_unwrap_reads_text_and_keeps_the_parsing_error() -> None:
    text = {"raw": AIMessage(content='{"text": "a", "count": 1}'), "parsed": None, "parsing_error": None}
    assert unwrap(text, Greeting, read_text=True) == Greeting(text="a", count=1)
    error = ValueError("bad arguments")
    got = unwrap({"raw": None, "parsed": None, "parsing_error": error}, Greeting, read_text=True)
    assert isinstance(got, Unparsed) and got.error is error
    assert str(got) == "structured output could not be parsed (ValueError)"


def test_open_chat_model_for_builtin_and_malformed_specs(tmp_path: Path) -> None:
    assert open_chat_model("builtin", tmp_path) == (LLMSpec("builtin"), None)
    with pytest.raises(LLMSpecError):
        open_chat_model("gpt-4", tmp_path)


def test_open_chat_model_probes_a_dead_server_in_seconds(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    start = time.perf_counter()
    with pytest.raises(LLMUnavailable, match=r"unreachable at http://127\.0\.0\.1:9/v1"):
        open_chat_model("openai:smollm2", tmp_path)
    assert time.perf_counter() - start < 5
    parsed, model = open_chat_model("openai:smollm2", tmp_path, probe_first=False)
    assert parsed == LLMSpec("openai", "smollm2") and model is not None
    [log] = model.callbacks or []
    assert isinstance(log, CallLog) and (log.backend, log.remote) == ("openai:smollm2", True)
    assert log.path == tmp_path / "llm_calls.jsonl"


def personal_prompt(feedback: str) -> RenderedPrompt:
    return RenderedPrompt("greet", "Greet.", "Say hello to the owner of card 4111.1111.1111.1111.")


@pytest.mark.parametrize("remote", [True, None])
def test_a_prompt_with_personal_data_is_not_sent_to_a_remote_backend(remote: bool | None) -> None:
    # None: a model without the call log counts as remote (the gate fails closed).
    model = ToolCallingFake(responses=[reply(text="hi", count=2)])
    out = chat(model, remote=remote).ask(personal_prompt, Verifier())
    assert out.value is None and model.seen == []
    assert out.reason == "not sent to fake: the prompt still holds personal data (card 1)"


def test_a_local_backend_gets_the_prompt() -> None:
    model = ToolCallingFake(responses=[reply(text="hi", count=2)])
    out = chat(model, remote=False).ask(personal_prompt, Verifier())
    assert out.value is not None and len(model.seen) == 1


def test_a_blocked_call_is_recorded_in_the_call_log(tmp_path: Path) -> None:
    log = CallLog(tmp_path, "openai:x", remote=True)
    model = ToolCallingFake(responses=[reply(text="hi", count=2)], callbacks=[log])
    out = StructuredChat(model, Greeting, backend="openai:x", purpose="test").ask(personal_prompt)
    assert out.value is None and model.seen == []
    (record,) = read_call_log(tmp_path)
    assert (record["ok"], record["error"], record["pii_in_prompt"], record["purpose"]) == (
        False, "not sent: personal data in prompt", 1, "test")


def test_the_call_log_of_a_local_model_lets_its_prompts_through(tmp_path: Path) -> None:
    log = CallLog(tmp_path, "llamacpp:x.gguf", remote=False)
    model = ToolCallingFake(responses=[reply(text="hi", count=2)], callbacks=[log])
    out = StructuredChat(model, Greeting, backend="llamacpp:x.gguf", purpose="test").ask(personal_prompt)
    assert out.value is not None
