"""The typed form of a question (`QuerySpec`), the glossary of business terms, and the compiler
that turns a spec into parameterised SQL over the users table.
"""

from segmint.agent.query.catalogue import Catalogue, catalogue
from segmint.agent.query.compile import CompiledQuery, SpecError, compile_spec
from segmint.agent.query.glossary import Glossary, Term, TermFilter, load_glossary, percentile_thresholds
from segmint.agent.query.spec import (
    Aggregate,
    AnswerKind,
    CompareOp,
    Condition,
    EventMeasure,
    EventType,
    Intent,
    Measure,
    QuerySpec,
    Unit,
    Window,
)

__all__ = [
    "Aggregate",
    "AnswerKind",
    "Catalogue",
    "CompareOp",
    "CompiledQuery",
    "Condition",
    "EventMeasure",
    "EventType",
    "Glossary",
    "Intent",
    "Measure",
    "QuerySpec",
    "SpecError",
    "Term",
    "TermFilter",
    "Unit",
    "Window",
    "catalogue",
    "compile_spec",
    "load_glossary",
    "percentile_thresholds",
]
