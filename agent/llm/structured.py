"""The one structured LLM call path: naming, campaign briefs and the question parser all use it.

    `--llm` spec -> (probe) -> chat model with the privacy call log      `open_chat_model`
    -> the privacy gate: no call to a remote backend while the prompt   `StructuredChat.ask`
       still holds personal data (the reason is kept and logged)
    -> structured output of a pydantic schema (tool calling)            `StructuredChat`
    -> the caller's verifier -> one repair turn with its problems       `StructuredChat.ask`
    -> else no value, and the reason the caller falls back with         `Outcome.reason`

Whatever the model writes is data: a value leaves this path only once it fits the schema and the
caller's verifier finds nothing wrong with it. A backend that cannot be reached raises
`LLMUnavailable`, so a caller that makes many calls (one per segment) can stop calling a dead
server; any other failure of a call is an `Outcome` without a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from segmint.agent.llm.backends import (
    LLMSpec,
    LLMUnavailable,
    invoke_llm,
    json_reply,
    make_chat_model,
    parse_llm_spec,
    probe,
    structured_output,
)
from segmint.agent.llm.privacy import scrub_report
from segmint.prompts.templates import PromptError, RenderedPrompt

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

T = TypeVar("T", bound=BaseModel)

# Sent back on the repair turn, before the verifier's problems (the templates' {feedback}).
REPAIR_FEEDBACK = "Your previous answer was rejected: "

PromptFor = Callable[[str], RenderedPrompt]
"""Builds the prompt from the repair feedback ("" on the first attempt)."""


def open_chat_model(spec: str, log_dir: Path, *, probe_first: bool = True
                    ) -> tuple[LLMSpec, BaseChatModel | None]:
    """The chat model a `--llm` spec names, logging every call into `log_dir` (call_log.CallLog).

    Args:
        spec: the `--llm` value.
        log_dir: the workspace directory (the call log goes to its `llm_calls.jsonl`).
        probe_first: check that a network backend answers before building the model, so a dead
            server costs seconds once rather than a timeout per call.

    Returns:
        The parsed spec and the model (None for `builtin`).

    Raises:
        LLMSpecError: a malformed spec (a usage error: callers let it through).
        LLMUnavailable: the backend cannot be used now (the reason to fall back with).
    """
    parsed = parse_llm_spec(spec)
    if parsed.backend == "builtin":
        return parsed, None
    if probe_first:
        probe(parsed)
    from segmint.agent.llm.call_log import CallLog  # LangChain: loaded only for a real model

    log = CallLog(log_dir, parsed.label, remote=parsed.remote)
    return parsed, make_chat_model(parsed, callbacks=[log])


class StructuredOutputUnsupported(ValueError):
    """The chat model cannot be asked for a schema (its message is the reason to fall back with)."""


@dataclass(frozen=True)
class Unparsed:
    """A reply that did not fill the schema.

    Attributes:
        error: why LangChain could not read it (a validation error...); None when the reply held
            no structured answer at all (no tool call, no JSON).
    """

    error: BaseException | None

    def __str__(self) -> str:
        return f"structured output could not be parsed ({type(self.error).__name__})"


def unwrap(out: Mapping[str, Any], schema: type[T], *, read_text: bool = False) -> T | Unparsed:
    """The schema's value from a structured reply (`backends.structured_output`'s dict).

    Args:
        out: `raw`, `parsed` and `parsing_error`, as `with_structured_output(include_raw=True)`
            gives them.
        schema: the pydantic model asked for.
        read_text: when the model called no tool, read its text as the JSON object instead
            (some backends ignore tools and write the JSON).
    """
    if read_text and out.get("parsed") is None and out.get("parsing_error") is None:
        out = json_reply(out.get("raw"), schema)
    parsed = out.get("parsed")
    return parsed if isinstance(parsed, schema) else Unparsed(out.get("parsing_error"))


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What one structured call gave.

    Attributes:
        value: the verified value; None when the caller must fall back.
        reason: why there is no value ("" when there is one).
        repaired: the value passed only on the repair turn.
        error: the exception of a call that failed (other than an unreachable backend).
        unparsed: the last reply, when it did not fill the schema.
    """

    value: T | None = None
    reason: str = ""
    repaired: bool = False
    error: Exception | None = None
    unparsed: Unparsed | None = None


class StructuredChat(Generic[T]):
    """A chat model asked for one pydantic schema, with verification and one repair turn.

    Args:
        model: a LangChain chat model (`open_chat_model`).
        schema: the pydantic model the reply must fill.
        backend: the `--llm` label, for reasons and the call log.
        purpose: why the calls are made ("name_segment"), recorded by the call log.
        read_text: also accept a reply that writes the JSON as text instead of calling the tool.
        remote: whether the model is reached over the network; None reads it from the model's call
            log (`open_chat_model` attaches one) and, without one, assumes remote: the privacy
            gate fails closed.

    Raises:
        StructuredOutputUnsupported: the model cannot produce structured output.
    """

    def __init__(self, model: BaseChatModel, schema: type[T], *, backend: str, purpose: str,
                 read_text: bool = False, remote: bool | None = None) -> None:
        try:
            self._runnable = structured_output(model, schema)
        except (NotImplementedError, ValueError, TypeError) as exc:
            raise StructuredOutputUnsupported(
                f"{backend} cannot produce structured output ({type(exc).__name__})") from exc
        self.schema = schema
        self.backend = backend
        self.purpose = purpose
        self.read_text = read_text
        from segmint.agent.llm.call_log import CallLog  # a model exists: LangChain is loaded

        logs = [c for c in getattr(model, "callbacks", None) or [] if isinstance(c, CallLog)]
        self._log = logs[0] if logs else None
        self.remote = remote if remote is not None else self._log is None or self._log.remote

    def ask(self, prompt: PromptFor, verify: Callable[[T], Sequence[str]] | None = None, *,
            repair: bool = True, rejected: str = "") -> Outcome[T]:
        """Call the model; keep its value only if it fills the schema and `verify` finds no problem.

        A reply that fails either way is answered once more (with `repair`), the problems sent back
        through the prompt's feedback; the same number of calls happens whatever the model writes.

        Args:
            prompt: the prompt for a given repair feedback.
            verify: the caller's checks of a value (the problems; none when it passes).
            repair: allow the one repair turn.
            rejected: what the reason says before the last problems ("LLM text rejected twice").

        Raises:
            LLMUnavailable: the backend could not be reached, timed out or refused the request.
        """
        feedback = ""
        problems: list[str] = []
        unparsed: Unparsed | None = None
        for attempt in range(2 if repair else 1):
            try:
                messages = prompt(feedback).messages()
            except PromptError as exc:
                return Outcome(reason=f"prompt problem: {exc}")
            blocked = self._personal_data(messages)
            if blocked:
                return Outcome(reason=blocked)
            try:
                out = invoke_llm(self._runnable, messages, backend=self.backend, purpose=self.purpose)
            except LLMUnavailable:
                raise
            except Exception as exc:  # a broken backend must not break the command
                return Outcome(reason=f"{self.backend} call failed: {type(exc).__name__}", error=exc)
            value = unwrap(out, self.schema, read_text=self.read_text)
            if isinstance(value, Unparsed):
                unparsed, problems = value, [str(value)]
            else:
                unparsed, problems = None, list(verify(value)) if verify is not None else []
                if not problems:
                    return Outcome(value, repaired=attempt > 0)
            feedback = REPAIR_FEEDBACK + "; ".join(problems)
        said = "; ".join(problems)
        return Outcome(reason=f"{rejected}: {said}" if rejected else said, unparsed=unparsed)

    def _personal_data(self, messages: list[tuple[str, str]]) -> str:
        """Why a prompt must not go to this backend ("" when it may): personal data still in it."""
        if not self.remote:
            return ""
        found = scrub_report("\n".join(content for _, content in messages)).found
        if not found:
            return ""
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(found.items()))
        if self._log is not None:
            self._log.blocked(self.purpose, sum(found.values()))
        return f"not sent to {self.backend}: the prompt still holds personal data ({kinds})"
