"""Questions about customers: parse (built-in rules or an LLM), match interests, compile, run.

`Answerer` is the one path from a question to an `Answer` (agent/ask/answer.py); `Conversation`
keeps the last query so follow-ups refine it; `PARSERS` holds the question parsers by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.ask._matches import interest_matches
    from segmint.agent.ask.answer import Answer, Answerer, Selection, ask, run_spec
    from segmint.agent.ask.conversation import Conversation, merge
    from segmint.agent.ask.parser import Parsed, parse, parse_question
    from segmint.agent.ask.parsers import (
        PARSERS,
        BuiltinParser,
        LLMParser,
        QuestionParser,
        Reading,
        make_parser,
    )

__all__ = [
    "PARSERS",
    "Answer",
    "Answerer",
    "BuiltinParser",
    "Conversation",
    "LLMParser",
    "Parsed",
    "QuestionParser",
    "Reading",
    "Selection",
    "ask",
    "interest_matches",
    "make_parser",
    "merge",
    "parse",
    "parse_question",
    "run_spec",
]

lazy_package(__name__, {
    "_matches": ("interest_matches",),
    "answer": ("Answer", "Answerer", "Selection", "ask", "run_spec"),
    "conversation": ("Conversation", "merge"),
    "parser": ("Parsed", "parse", "parse_question"),
    "parsers": ("PARSERS", "BuiltinParser", "LLMParser", "QuestionParser", "Reading", "make_parser"),
})
