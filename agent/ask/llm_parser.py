"""The LLM question parser: an LLM fills a query through structured output; code validates it.

The model sees the glossary, the whitelisted fields with their known values and the segment list
(from `Catalogue`), and the question inside a tagged block. It answers by calling one tool whose
arguments are a `CustomerQuery` (a flat, LLM-friendly form of `QuerySpec`). Nothing the model
writes is executed: its arguments are checked against the catalogue and the question, turned
into a `QuerySpec` by code, and only that spec reaches the executor. Anything doubtful makes the
parse fail with a reason, and the caller falls back to the built-in parser.

Checks beyond the schema: names must be glossary keys (or their labels/synonyms), whitelisted
fields, known attribute values and existing segments; every number must come from the question
(directly or through a unit: days, weeks, months, years, thousands); every interest phrase must
be words of the question.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from segmint.agent.llm.backends import LLMUnavailable
from segmint.agent.llm.privacy import scrub
from segmint.agent.llm.structured import (
    StructuredChat,
    StructuredOutputUnsupported,
    Unparsed,
    open_chat_model,
)
from segmint.agent.query import Catalogue, CompareOp, Condition, QuerySpec
from segmint.agent.query.glossary import Glossary
from segmint.prompts import PromptError, render

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

PURPOSE = "parse_question"
MAX_QUESTION_CHARS = 1000
MAX_CONDITIONS = 12
MAX_VALUES_SHOWN = 25
MAX_SEGMENTS_SHOWN = 60
UNIT_FACTORS = (1.0, 7.0, 30.0, 365.0, 1000.0)
FILLER_WORDS = frozenset({
    "the", "and", "but", "not", "who", "what", "which", "that", "than", "more", "less", "most",
    "least", "over", "under", "above", "below", "between", "customers", "customer", "buyers",
    "people", "users", "clients", "shoppers", "all", "any", "some", "many", "much", "how", "top",
    "best", "with", "without", "from", "for", "are", "were", "has", "have", "had", "bought",
    "buy", "buys", "spent", "spend", "orders", "order", "days", "weeks", "months", "years",
    "revenue", "money", "products", "product", "items", "things", "stuff", "anything",
})
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100, "a": 1, "an": 1,
                "single": 1, "once": 1, "twice": 2, "dozen": 12}


class QueryCondition(BaseModel):
    """One test a customer must pass."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["term", "field", "interest", "segment"]
    name: str = Field(description="glossary key, field name, product phrase or segment id")
    op: CompareOp | None = Field(default=None, description="kind field only")
    value: float | str | list[float | str] | None = Field(default=None, description="kind field only")
    high: float | None = Field(default=None, description="upper end for between")
    negate: bool = False
    group: int = Field(default=0, ge=0, le=9, description="different groups mean or")


class CustomerQuery(BaseModel):
    """A question about customers as a query over the customer table."""

    model_config = ConfigDict(extra="forbid")

    # Required, so a grammar-constrained backend cannot answer with an empty object. Short
    # descriptions: the schema is sent with every call and small local models read it slowly.
    intent: Literal["list", "count", "top"]
    conditions: list[QueryCondition] = Field(max_length=MAX_CONDITIONS)
    sort_by: str | None = Field(default=None, description="numeric field, top-N only")
    descending: bool = True
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="top-N only")


class InvalidQuery(ValueError):
    """The model's query refers to something the workspace does not have or the question did not say."""


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
                        question=text, **catalogue_blocks(cat))
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
        return None, f"{backend} call failed ({type(outcome.error).__name__}: {_short(outcome.error)})"
    if outcome.value is None:
        return None, _unparsed_reason(outcome.unparsed)
    try:
        return to_spec(outcome.value, text, glossary, cat), None
    except InvalidQuery as exc:
        return None, f"the model's query was rejected: {exc}"


def _unparsed_reason(unparsed: Unparsed | None) -> str:
    if unparsed is not None and unparsed.error is not None:
        return f"the model's output did not fit the query schema ({_short(unparsed.error)})"
    return "the model answered without filling the query"


def to_spec(query: CustomerQuery, question: str, glossary: Glossary, cat: Catalogue) -> QuerySpec:
    """Turn a model's query into a QuerySpec, checking every name, value and number.

    Args:
        query: what the model filled in.
        question: the (scrubbed) question it answered; numbers and interests must come from it.
        glossary: the business terms.
        cat: the workspace's catalogue.

    Raises:
        InvalidQuery: unknown term, field, value or segment; a number or interest the question
            does not contain; or nothing to query at all.
    """
    numbers = question_numbers(question)
    groups: dict[int, list[Condition]] = {}
    for qc in query.conditions:
        condition = _condition(qc, question, numbers, glossary, cat)
        group = groups.setdefault(qc.group, [])
        if condition not in group:  # small models repeat themselves; a repeat changes nothing
            group.append(condition)
    sort_by = query.sort_by or None
    if sort_by is not None and sort_by not in cat.numeric:
        raise InvalidQuery(f"cannot sort by unknown field '{sort_by}'")
    if query.limit is not None and not _grounded(float(query.limit), numbers):
        raise InvalidQuery(f"limit {query.limit} is not in the question")
    if not groups and sort_by is None and query.intent != "count":
        raise InvalidQuery("it has no conditions")
    try:
        return QuerySpec(intent=query.intent, any_of=[groups[k] for k in sorted(groups)], sort_by=sort_by,
                         descending=query.descending, limit=query.limit)
    except ValidationError as exc:
        raise InvalidQuery(_short(exc)) from exc


def _condition(qc: QueryCondition, question: str, numbers: set[float], glossary: Glossary,
               cat: Catalogue) -> Condition:
    name = qc.name.strip()
    try:
        if qc.kind == "term":
            return Condition(kind="term", term=_term_key(name, glossary), negate=qc.negate)
        if qc.kind == "segment":
            return Condition(kind="segment", segment=_segment_id(name, cat), negate=qc.negate)
        if qc.kind == "interest":
            _check_interest(name, question)
            return Condition(kind="interest", interest=name, negate=qc.negate)
        return _field_condition(qc, name, numbers, cat)
    except ValidationError as exc:
        raise InvalidQuery(f"{qc.kind} '{name[:60]}': {_short(exc)}") from exc


def _term_key(name: str, glossary: Glossary) -> str:
    wanted = _norm(name)
    for key, term in glossary.terms.items():
        if wanted in {_norm(key), _norm(term.label), *(_norm(s) for s in term.synonyms)}:
            return key
    raise InvalidQuery(f"unknown glossary term '{name[:60]}'")


def _segment_id(name: str, cat: Catalogue) -> str:
    if name in cat.segments:
        return name
    by_name = {_norm(n): sid for sid, n in cat.segments.items()}
    sid = by_name.get(_norm(name))
    if sid is None:
        raise InvalidQuery(f"unknown segment '{name[:60]}'")
    return sid


def _check_interest(phrase: str, question: str) -> None:
    words = re.findall(r"[a-z0-9][a-z0-9'-]+", phrase.lower())
    if not any(w.isalpha() and len(w) > 2 and w not in FILLER_WORDS for w in words):
        # "more than 500" is a comparison the model misfiled, not something customers buy.
        raise InvalidQuery(f"interest '{phrase[:60]}' names no product")
    lowered = question.lower()
    missing = [w for w in words if _stem(w) not in lowered]
    if missing:
        raise InvalidQuery(f"interest '{phrase[:60]}' is not in the question")


def _field_condition(qc: QueryCondition, name: str, numbers: set[float], cat: Catalogue) -> Condition:
    if name not in cat.fields:
        raise InvalidQuery(f"unknown field '{name[:60]}'")
    op = qc.op or "="
    raw: list[Any] = list(qc.value) if isinstance(qc.value, list) else [qc.value]
    if op == "between":
        raw = raw[:2] if len(raw) >= 2 else [raw[0], qc.high]
    if name in cat.numeric:
        values: list[float | str] = []
        for v in raw:
            num = _as_number(v)
            if num is None:
                raise InvalidQuery(f"field '{name}' needs a number, not {str(v)[:40]!r}")
            if not _grounded(num, numbers):
                raise InvalidQuery(f"number {num:g} for '{name}' is not in the question")
            values.append(num)
    else:
        if op not in ("=", "!=", "in"):
            raise InvalidQuery(f"text field '{name}' cannot use '{op}'")
        known = {v.lower(): v for v in cat.attribute_values.get(name, [])}
        values = []
        for v in raw:
            canonical = known.get(str(v).strip().lower()) if v is not None else None
            if canonical is None:
                raise InvalidQuery(f"'{str(v)[:40]}' is not a known value of '{name}'")
            values.append(canonical)
    value: float | str | list[float | str] = values if op in ("between", "in") else values[0]
    return Condition(kind="field", field=name, op=op, value=value, negate=qc.negate)


def question_numbers(question: str) -> set[float]:
    """Every number a question states, in digits ("2,015", "1.5k") or words ("six")."""
    out: set[float] = set()
    for m in re.finditer(r"\d[\d,]*(?:\.\d+)?\s*k?\b", question.lower()):
        token = m.group(0).replace(",", "").replace(" ", "")
        scale = 1000.0 if token.endswith("k") else 1.0
        try:
            out.add(float(token.rstrip("k")) * scale)
        except ValueError:
            continue
    for word in re.findall(r"[a-z]+", question.lower()):
        if word in WORD_NUMBERS:
            out.add(float(WORD_NUMBERS[word]))
    return out


def _grounded(value: float, numbers: set[float]) -> bool:
    # "6 months" -> 180 days; "2k" -> 2000; "more than 5 orders" is also ">= 6", so allow n+-1.
    candidates = {n * f for n in numbers for f in UNIT_FACTORS} | {n + 1 for n in numbers} | {
        n - 1 for n in numbers}
    return any(math.isclose(value, c, rel_tol=1e-9, abs_tol=1e-9) for c in candidates)


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, str):
        try:
            num = float(v.strip().lstrip("£$€").replace(",", ""))
        except ValueError:
            return None
        return num if math.isfinite(num) else None
    return None


def catalogue_blocks(cat: Catalogue) -> dict[str, str]:
    """The catalogue as prompt text: `fields`, `attributes` and `segments` blocks."""
    attrs = []
    for name in sorted(cat.text):
        values = cat.attribute_values.get(name, [])
        shown = ", ".join(values[:MAX_VALUES_SHOWN])
        more = f" (and {len(values) - MAX_VALUES_SHOWN} more)" if len(values) > MAX_VALUES_SHOWN else ""
        attrs.append(f"- {name}: {shown}{more}")
    segs = [f"- {sid}: {name}" for sid, name in list(cat.segments.items())[:MAX_SEGMENTS_SHOWN]]
    return {
        "fields": ", ".join(sorted(cat.numeric)) or "(none)",
        "attributes": "\n".join(attrs) or "(none)",
        # Segment names come from an earlier LLM run or from data; scrub them like any text.
        "segments": scrub("\n".join(segs)) or "(none yet)",
    }


def _norm(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text.strip().lower())


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _short(exc: BaseException | Any) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def spec_summary(spec: QuerySpec) -> str:
    """The spec as compact JSON (for logs and messages)."""
    return json.dumps(spec.model_dump(exclude_defaults=True), sort_keys=True)
