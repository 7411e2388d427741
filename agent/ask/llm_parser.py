"""The LLM question parser: an LLM fills a query through structured output; code validates it.

The model sees the glossary and its campaign intents, the whitelisted fields with their known
values, the segment list and the data's reference day (from `Catalogue`), and the question inside
a tagged block. It answers by calling one tool whose arguments are a `CustomerQuery`: a flat,
LLM-friendly form of `QuerySpec` v2 (events, windows, cohorts, measures, tables) built from the
spec's own `Window` and `Measure` models (agent/ask/_parse_llm.py). Nothing the model writes is
executed: its arguments are checked against the catalogue and the question, turned into a
`QuerySpec` by code, and only that spec reaches the executor. Anything doubtful makes the parse
fail with a reason, and the caller falls back to the built-in parser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from segmint.agent.ask._parse_llm import (
    CustomerQuery,
    InvalidQuery,
    QueryCondition,
    question_numbers,
    short_reason,
    to_spec,
)
from segmint.agent.ask._parse_windows import relative_note
from segmint.agent.llm.backends import LLMUnavailable
from segmint.agent.llm.privacy import scrub
from segmint.agent.llm.structured import (
    StructuredChat,
    StructuredOutputUnsupported,
    Unparsed,
    open_chat_model,
)
from segmint.agent.query import Catalogue, QuerySpec
from segmint.agent.query.glossary import Glossary
from segmint.prompts import PromptError, render

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

PURPOSE = "parse_question"
MAX_QUESTION_CHARS = 1000
MAX_VALUES_SHOWN = 25
MAX_SEGMENTS_SHOWN = 60

__all__ = ["CustomerQuery", "InvalidQuery", "QueryCondition", "catalogue_blocks", "llm_parse",
           "parse_with_llm", "question_numbers", "spec_notes", "spec_summary", "to_spec"]


def llm_parse(question: str, llm: str, glossary: Glossary, cat: Catalogue, log_dir: Path
              ) -> tuple[QuerySpec | None, str]:
    """Let the LLM a `--llm` spec names fill the query; None and the reason when it cannot.

    The caller then answers with the built-in parser. The second item is what the answer reports
    as its parser: "llm:LABEL", "builtin" (asked for) or "builtin (fallback: WHY)".

    Args:
        question: the question in plain words.
        llm: the `--llm` value.
        glossary: business terms; the same glossary the built-in parser uses.
        cat: the workspace's fields, attribute values and segments.
        log_dir: the workspace directory (for the LLM call log).

    Raises:
        LLMSpecError: a malformed spec (a usage error, exit 2), never a fallback.
    """
    try:
        # No probe, unlike naming (a call per segment): a question makes a single call.
        parsed, model = open_chat_model(llm, log_dir, probe_first=False)
    except LLMUnavailable as exc:
        return None, f"builtin (fallback: {exc})"
    if model is None:
        return None, "builtin"
    spec, reason = parse_with_llm(question, model, glossary, cat, backend=parsed.label)
    if spec is None:
        return None, f"builtin (fallback: {reason})"
    return spec, f"llm:{parsed.label}"


def parse_with_llm(
    question: str, chat_model: BaseChatModel, glossary: Glossary, cat: Catalogue, *,
    backend: str = "llm", prompts_dir: str | Path | None = None,
) -> tuple[QuerySpec | None, str | None]:
    """Ask the LLM to fill a query for a question; validate it against the workspace.

    One call, no repair turn: whatever fails, the built-in parser answers.

    Args:
        question: the question in plain words (scrubbed of personal data before it is sent).
        chat_model: a LangChain chat model with tool calling (`llm.open_chat_model`).
        glossary: business terms; the same glossary the built-in parser uses.
        cat: the workspace's fields, attribute values and segments.
        backend: the `--llm` label, for messages.
        prompts_dir: a directory whose `parse_question` template overrides the packaged one.

    Returns:
        `(spec, None)` when the model produced a valid query, otherwise `(None, reason)`: the
        caller should then use the built-in parser and show the reason.
    """
    text = scrub(" ".join(question.split())[:MAX_QUESTION_CHARS])
    if not text:
        return None, "the question is empty"
    try:
        prompt = render("parse_question", prompts_dir=prompts_dir, glossary=glossary,
                        question=text, **catalogue_blocks(cat, glossary))
    except PromptError as exc:
        return None, f"prompt problem: {exc}"
    try:
        chat = StructuredChat(chat_model, CustomerQuery, backend=backend, purpose=PURPOSE,
                              read_text=True)
        outcome = chat.ask(lambda _feedback: prompt, repair=False)
    except StructuredOutputUnsupported as exc:
        return None, str(exc)
    except LLMUnavailable as exc:
        return None, f"{exc.backend} {exc.reason}"
    if outcome.error is not None:
        # A broken backend must not break `ask`: the built-in parser still answers.
        return None, f"{backend} call failed ({type(outcome.error).__name__}: {short_reason(outcome.error)})"
    if outcome.value is None:
        return None, _unparsed_reason(outcome.unparsed)
    try:
        return to_spec(outcome.value, text, glossary, cat), None
    except InvalidQuery as exc:
        return None, f"the model's query was rejected: {exc}"


def _unparsed_reason(unparsed: Unparsed | None) -> str:
    if unparsed is not None and unparsed.error is not None:
        return f"the model's output did not fit the query schema ({short_reason(unparsed.error)})"
    return "the model answered without filling the query"


def catalogue_blocks(cat: Catalogue, glossary: Glossary | None = None) -> dict[str, str]:
    """The catalogue as prompt text: `fields` (numeric fields, event types, the day the data
    ends and the glossary's campaign words), `attributes` and `segments` blocks."""
    attrs = []
    for name in sorted(cat.text):
        values = cat.attribute_values.get(name, [])
        shown = ", ".join(values[:MAX_VALUES_SHOWN])
        more = f" (and {len(values) - MAX_VALUES_SHOWN} more)" if len(values) > MAX_VALUES_SHOWN else ""
        attrs.append(f"- {name}: {shown}{more}")
    segs = [f"- {sid}: {name}" for sid, name in list(cat.segments.items())[:MAX_SEGMENTS_SHOWN]]
    workspace = [f"Numeric fields: {', '.join(sorted(cat.numeric)) or '(none)'}",
                 f"Event types: {', '.join(sorted(cat.event_types)) or 'purchase'}",
                 f"The data ends on (as_of): {cat.as_of.isoformat() if cat.as_of else 'unknown'}"]
    if glossary is not None and glossary.intents:
        workspace.append("Campaign words (read as these terms):\n" + intents_block(glossary))
    return {
        "fields": "\n".join(workspace),
        "attributes": "\n".join(attrs) or "(none)",
        # Segment names come from an earlier LLM run or from data; scrub them like any text.
        "segments": scrub("\n".join(segs)) or "(none yet)",
    }


def intents_block(glossary: Glossary) -> str:
    """The glossary's campaign intents as prompt text: one line each, with the terms they stand for."""
    lines = [f"- {intent.label} ({', '.join(intent.synonyms[:4])}) = {', '.join(intent.terms)}"
             for intent in glossary.intents.values()]
    return "\n".join(lines) or "(none)"


def spec_notes(spec: QuerySpec) -> list[str]:
    """How the spec reads an ambiguous window ("last quarter"), as the built-in parser says it."""
    windows = [c.window for g in spec.any_of for c in g if c.window is not None]
    if spec.measure is not None and spec.measure.window is not None:
        windows.append(spec.measure.window)
    return list(dict.fromkeys(n for w in windows if (n := relative_note(w)) is not None))


def spec_summary(spec: QuerySpec) -> str:
    """The spec as compact JSON (for logs and messages)."""
    return json.dumps(spec.model_dump(exclude_defaults=True), sort_keys=True)
