"""Question parsers by name: `builtin` (rules, offline) and `llm` (an LLM fills the query).

`make_parser` picks one from a `--llm` spec; both turn a question into a `Reading` against one
workspace's catalogue. The LLM parser falls back to the built-in one, and its `Reading.parser`
says why (docs/cli.md `ask`). A plugin adds a parser with `PARSERS.register("name")(factory)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from segmint.agent.ask.paraphrase import Rewrite, default_mapper
from segmint.agent.ask.parser import parse
from segmint.agent.core.errors import NotUnderstood
from segmint.agent.core.registry import Registry
from segmint.agent.query import Catalogue, QuerySpec
from segmint.agent.query.glossary import Glossary

MAX_QUESTION_CHARS = 1000


@dataclass
class Reading:
    """What a parser read in a question.

    Attributes:
        spec: the query.
        rewrites: phrases read as glossary terms by meaning (built-in parser only).
        parser: which parser produced the spec, as `Answer.parser` shows it ("builtin",
            "llm:LABEL", or "builtin (fallback: REASON)").
        notes: how ambiguous phrases were read, each naming the other reading ("“last quarter”
            is read as the previous complete calendar quarter, not the last 90 days"); the
            answer shows them.
    """

    spec: QuerySpec
    rewrites: list[Rewrite] = field(default_factory=list)
    parser: str = "builtin"
    notes: list[str] = field(default_factory=list)


class QuestionParser(Protocol):
    """Turns a question into a query over one workspace."""

    def parse(self, question: str, glossary: Glossary, cat: Catalogue) -> Reading:
        """Read the question.

        Raises:
            NotUnderstood: the question could not be read (a parser refuses rather than guesses).
        """
        ...


PARSERS: Registry[QuestionParser] = Registry("question parser", "--llm")


class BuiltinParser:
    """The rule-based parser (agent/ask/parser.py), with unknown phrasings read by meaning."""

    def parse(self, question: str, glossary: Glossary, cat: Catalogue) -> Reading:
        """Parse, refusing rather than guessing.

        Raises:
            NotUnderstood: nothing, or not all, of the question could be read.
        """
        if not question.strip():
            raise NotUnderstood("the question is empty; ask e.g. 'who are my lapsed high spenders?'")
        parsed = parse(question[:MAX_QUESTION_CHARS], glossary, cat, mapper=default_mapper)
        if parsed.unknown or not asks_something(parsed.spec):
            raise NotUnderstood(not_understood_message(question, parsed.unknown, glossary, cat))
        return Reading(parsed.spec, parsed.rewrites, notes=parsed.notes)


@dataclass
class LLMParser:
    """An LLM fills the query through structured output (agent/ask/llm_parser.py); when it cannot,
    the built-in parser reads the question.

    Args:
        llm: the `--llm` spec (`openai:MODEL`, `ollama:MODEL`, ...).
        log_dir: where the call log is written (the workspace).
    """

    llm: str
    log_dir: Path

    def parse(self, question: str, glossary: Glossary, cat: Catalogue) -> Reading:
        """Parse with the LLM, else with the built-in parser.

        Raises:
            UsageError: the `--llm` spec is malformed.
            NotUnderstood: the LLM gave no valid query and the built-in parser cannot read it.
        """
        # Imported here: its CustomerQuery models and the LLM plumbing cost every built-in parse
        # ~20 ms of a cold start (bench/RESULTS.md "Cold start"); only a real --llm needs them.
        from segmint.agent.ask.llm_parser import llm_parse, spec_notes

        spec, label = llm_parse(question, self.llm, glossary, cat, self.log_dir)
        if spec is None:
            return replace(BuiltinParser().parse(question, glossary, cat), parser=label)
        return Reading(spec, parser=label, notes=spec_notes(spec))


PARSERS.register("builtin")(BuiltinParser)
PARSERS.register("llm")(LLMParser)


def make_parser(llm: str | None, log_dir: Path) -> QuestionParser:
    """The parser a `--llm` value asks for: none or `builtin` is the built-in parser."""
    if llm in (None, "", "builtin"):
        return PARSERS.create("builtin")
    return PARSERS.create("llm", llm=llm, log_dir=log_dir)


def asks_something(spec: QuerySpec) -> bool:
    """Whether a spec asks for anything: conditions, an order, a count, a number or a table."""
    return bool(spec.any_of or spec.sort_by or spec.intent == "count" or spec.measure or spec.group_by)


def not_understood_message(question: str, unknown: list[str], glossary: Glossary,
                           cat: Catalogue) -> str:
    """A helpful refusal: what was not understood and the terms that are."""
    terms = ", ".join(t.label for t in glossary.terms.values())
    fields = ", ".join(sorted(cat.numeric)[:8])
    unread = f" (not understood: {', '.join(unknown[:6])})" if unknown else ""
    return (f"could not understand “{question.strip()[:120]}”{unread}. Try terms like {terms}; "
            f"numbers on {fields}; 'top 10 by revenue'; 'who bought candles in the last 90 days'; "
            f"'average order value by country'")
