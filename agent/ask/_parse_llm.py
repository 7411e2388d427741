"""What the LLM question parser fills in (`CustomerQuery`) and the checks that turn it into a QuerySpec.

`CustomerQuery` is a flat, LLM-friendly form of `QuerySpec` v2 whose windows and measures are the
spec's own pydantic models (`Window`, `Measure`, with their validators; subclassed only for a
short description), so the JSON schema the model is given comes from the same types the executor
runs. Nothing the model writes is trusted: names must be glossary
keys (or their labels/synonyms), whitelisted fields, known attribute values, event types the shop
has and existing segments; every number must come from the question (directly or through a unit:
days, weeks, months, years, thousands); every product or interest phrase must be words of the
question; a window must be said in the question (its N, "this/last", or its month or year).
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import SkipJsonSchema

from segmint.agent.core.patterns import compiled
from segmint.agent.query import (
    PRODUCT,
    Catalogue,
    CompareOp,
    Condition,
    EventMeasure,
    EventType,
    Measure,
    QuerySpec,
    Window,
)
from segmint.agent.query.glossary import Glossary

MAX_CONDITIONS = 12
UNIT_FACTORS = (1.0, 7.0, 30.0, 90.0, 365.0, 1000.0)
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
                "single": 1, "once": 1, "twice": 2, "thrice": 3, "dozen": 12, "grand": 1000}
PERIOD_GROUPS = frozenset({"month", "quarter", "year", "week", "weekday", "hour", "first_purchase_month",
                           "first_purchase_quarter", "first_purchase_year"})
PERIOD_LABEL = compiled(r"^(\d{4})(?:-\d{2}|-Q[1-4]|-W\d{2})?$")
RELATIVE_WORDS = compiled(r"\b(?:this|last|previous|prior|current|past|so far|to date|ytd|yesterday|"
                            r"today|recent|within)\b")
CALENDAR_WORDS = compiled(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\bq[1-4]\b|"
                            r"\bquarter\b|\b(?:spring|summer|autumn|fall|winter)\b|\b(?:19|20)\d\d\b|"
                            r"\b(?:since|before|after|until|between)\b")


class When(Window):
    """last N unit, this/previous unit, or start/end dates (end exclusive)."""

    # the question's words, which the model does not write (dropped from what it sends)
    said: SkipJsonSchema[str | None] = Field(default=None, max_length=100)


class Number(Measure):
    """agg of field (none for count, share); window: inside it."""

    window: When | None = None
    # a product's total is the built-in parser's reading: its nested condition would double the
    # schema sent with every call (small local models have 4k tokens of context)
    events: SkipJsonSchema[None] = None


class QueryCondition(BaseModel):
    """One test a customer must pass."""

    model_config = ConfigDict(extra="forbid")

    # Short descriptions: the schema is sent with every call and small local models read it
    # slowly (and their context is small); the prompt explains the kinds.
    kind: Literal["term", "field", "interest", "segment", "events", "cohort"]
    name: str = ""
    op: CompareOp | None = None
    value: float | str | list[float | str] | None = None
    high: float | None = Field(default=None, description="between: high end")
    event: EventType | None = None
    match: Literal["exact", "meaning"] = "exact"
    window: When | None = None
    measure: EventMeasure | None = None
    negate: bool = False
    group: int = Field(default=0, ge=0, le=9, description="other group = or")


class CustomerQuery(BaseModel):
    """A question about customers as a query: who, and what number or table to report."""

    model_config = ConfigDict(extra="forbid")

    # Required, so a grammar-constrained backend cannot answer with an empty object. Short
    # descriptions: the schema is sent with every call and small local models read it slowly.
    intent: Literal["list", "count", "top", "compare"]
    conditions: list[QueryCondition] = Field(max_length=MAX_CONDITIONS)
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = Field(default=None, ge=1, le=1_000_000)
    measure: Number | None = None
    group_by: str | None = None
    groups: list[str] | None = Field(default=None, max_length=50)


class InvalidQuery(ValueError):
    """The model's query refers to something the workspace does not have or the question did not say."""


def to_spec(query: CustomerQuery, question: str, glossary: Glossary, cat: Catalogue) -> QuerySpec:
    """Turn a model's query into a QuerySpec, checking every name, value, number and window.

    Args:
        query: what the model filled in.
        question: the (scrubbed) question it answered; numbers, phrases and windows must come
            from it.
        glossary: the business terms.
        cat: the workspace's catalogue.

    Raises:
        InvalidQuery: unknown term, field, value, event type, segment or grouping; a number,
            phrase or window the question does not contain; or nothing to query at all.
    """
    ctx = _Context(question, question_numbers(question), glossary, cat)
    groups: dict[int, list[Condition]] = {}
    for qc in query.conditions:
        condition = _condition(qc, ctx)
        group = groups.setdefault(qc.group, [])
        if condition not in group:  # small models repeat themselves; a repeat changes nothing
            group.append(condition)
    group_by, values = _grouping(query, ctx)
    sort_by = query.sort_by or None
    if sort_by is not None and not (sort_by in cat.numeric or (sort_by == "value" and group_by)):
        raise InvalidQuery(f"cannot sort by unknown field '{sort_by}'")
    if query.limit is not None and not _grounded(float(query.limit), ctx.numbers) and query.limit != 1:
        raise InvalidQuery(f"limit {query.limit} is not in the question")
    measure = _measure(query.measure, ctx)
    if not (groups or sort_by or query.intent == "count" or measure or group_by):
        raise InvalidQuery("it has no conditions")
    try:
        return QuerySpec(intent=query.intent, any_of=[groups[k] for k in sorted(groups)], sort_by=sort_by,
                         descending=query.descending, limit=query.limit, measure=measure,
                         group_by=group_by, groups=values)
    except ValidationError as exc:
        raise InvalidQuery(short_reason(exc)) from exc


class _Context:
    def __init__(self, question: str, numbers: set[float], glossary: Glossary, cat: Catalogue) -> None:
        self.question, self.numbers, self.glossary, self.cat = question, numbers, glossary, cat


def _condition(qc: QueryCondition, ctx: _Context) -> Condition:
    name = qc.name.strip()
    try:
        if qc.kind == "term":
            return Condition(kind="term", term=_term_key(name, ctx.glossary), negate=qc.negate)
        if qc.kind == "segment":
            return Condition(kind="segment", segment=_segment_id(name, ctx.cat), negate=qc.negate)
        if qc.kind == "interest":
            _check_phrase(name, ctx.question)
            return Condition(kind="interest", interest=name, negate=qc.negate)
        if qc.kind == "events":
            return _events_condition(qc, name, ctx)
        if qc.kind == "cohort":
            cohort = {"first": "first_purchase", "last": "last_purchase"}.get(name, name)
            if cohort not in ("first_purchase", "last_purchase") or qc.window is None:
                raise InvalidQuery(f"cohort '{name[:40]}' needs first_purchase or last_purchase and a window")
            _check_window(qc.window, ctx)
            return Condition(kind="cohort", cohort=cohort, window=_window(qc.window), negate=qc.negate)
        return _field_condition(qc, name, ctx)
    except ValidationError as exc:
        raise InvalidQuery(f"{qc.kind} '{name[:60]}': {short_reason(exc)}") from exc


def _events_condition(qc: QueryCondition, name: str, ctx: _Context) -> Condition:
    event = qc.event or "purchase"
    if event != "any" and ctx.cat.event_types and event not in ctx.cat.event_types:
        raise InvalidQuery(f"this shop has no {event} events")
    if name:
        _check_phrase(name, ctx.question)
    if qc.window is not None:
        _check_window(qc.window, ctx)
    threshold: dict[str, Any] = {}
    if qc.op is not None:
        values = _numbers(qc, "events", ctx)
        threshold = {"op": qc.op, "value": values if qc.op in ("between", "in") else values[0],
                     "measure": qc.measure or ("orders" if event == "purchase" else "events")}
    return Condition(kind="events", event=event, product=name or None, match=qc.match,
                     window=_window(qc.window), negate=qc.negate, **threshold)


def _window(w: When | None) -> Window | None:
    """The spec's own Window; words the model wrote for it are not kept (the answer names it)."""
    return None if w is None else Window.model_validate(w.model_dump(exclude={"said"}))


def _measure(measure: Number | None, ctx: _Context) -> Measure | None:
    if measure is None:
        return None
    if measure.field is not None and measure.field not in ctx.cat.numeric:
        raise InvalidQuery(f"unknown numeric field '{measure.field[:60]}'")
    if measure.window is not None:
        _check_window(measure.window, ctx)
    return Measure.model_validate(measure.model_dump(exclude={"window": {"said"}}))


def _grouping(query: CustomerQuery, ctx: _Context) -> tuple[str | None, list[str] | None]:
    by = query.group_by or None
    if by is None:
        if query.groups:
            raise InvalidQuery("groups without a group_by")
        return None, None
    if by not in PERIOD_GROUPS and by not in ("segment", PRODUCT) and by not in ctx.cat.text:
        raise InvalidQuery(f"cannot group by '{by[:60]}'")
    if not query.groups:
        return by, None
    if by == "segment":
        return by, [_segment_id(g, ctx.cat) for g in query.groups]
    if by in PERIOD_GROUPS:
        for g in query.groups:
            m = PERIOD_LABEL.match(g)
            if m is None or m[1] not in ctx.question:
                raise InvalidQuery(f"period '{g[:20]}' is not in the question")
        return by, list(query.groups)
    known = {v.lower(): v for v in ctx.cat.attribute_values.get(by, [])}
    out = []
    for g in query.groups:
        if g.strip().lower() not in known:
            raise InvalidQuery(f"'{g[:40]}' is not a known value of '{by}'")
        out.append(known[g.strip().lower()])
    return by, out


def _check_window(w: Window, ctx: _Context) -> None:
    """A window must be said: its N ("last 90 days"), "this/last ...", or its dates' words."""
    question = ctx.question.lower()
    if w.last is not None or w.period is not None:
        if not RELATIVE_WORDS.search(question):
            raise InvalidQuery("a relative window the question does not name")
        if w.last is not None and w.last != 1 and not _grounded(float(w.last), ctx.numbers):
            raise InvalidQuery(f"the window of {w.last} {w.unit}s is not in the question")
        return
    if not CALENDAR_WORDS.search(question):
        raise InvalidQuery("dates the question does not name")
    said = {int(y) for y in re.findall(r"\b((?:19|20)\d\d)\b", question)}
    as_of = ctx.cat.as_of
    allowed = said | ({as_of.year, as_of.year - 1} if as_of else set())
    last = w.end - timedelta(days=1) if w.end is not None else None
    for day in (w.start, last):
        if isinstance(day, date) and day.year not in allowed:
            raise InvalidQuery(f"the year {day.year} is not in the question")


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


def _check_phrase(phrase: str, question: str) -> None:
    words = re.findall(r"[a-z0-9][a-z0-9'-]+", phrase.lower())
    if not any(w.isalpha() and len(w) > 2 and w not in FILLER_WORDS for w in words):
        # "more than 500" is a comparison the model misfiled, not something customers buy.
        raise InvalidQuery(f"interest '{phrase[:60]}' names no product")
    lowered = question.lower()
    missing = [w for w in words if _stem(w) not in lowered]
    if missing:
        raise InvalidQuery(f"interest '{phrase[:60]}' is not in the question")


def _numbers(qc: QueryCondition, name: str, ctx: _Context) -> list[float | str]:
    raw: list[Any] = list(qc.value) if isinstance(qc.value, list) else [qc.value]
    if qc.op == "between":
        raw = raw[:2] if len(raw) >= 2 else [raw[0], qc.high]
    values: list[float | str] = []
    for v in raw:
        num = _as_number(v)
        if num is None:
            raise InvalidQuery(f"field '{name}' needs a number, not {str(v)[:40]!r}")
        if not _grounded(num, ctx.numbers):
            raise InvalidQuery(f"number {num:g} for '{name}' is not in the question")
        values.append(num)
    return values


def _field_condition(qc: QueryCondition, name: str, ctx: _Context) -> Condition:
    cat = ctx.cat
    if name not in cat.fields:
        raise InvalidQuery(f"unknown field '{name[:60]}'")
    op = qc.op or "="
    if name in cat.numeric:
        values = _numbers(qc.model_copy(update={"op": op}), name, ctx)
    else:
        if op not in ("=", "!=", "in"):
            raise InvalidQuery(f"text field '{name}' cannot use '{op}'")
        known = {v.lower(): v for v in cat.attribute_values.get(name, [])}
        values = []
        for v in list(qc.value) if isinstance(qc.value, list) else [qc.value]:
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


def _norm(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text.strip().lower())


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def short_reason(exc: BaseException | Any) -> str:
    """The first line of an error, bounded (for fallback reasons)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]

