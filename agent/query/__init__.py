"""The typed form of a question (`QuerySpec`), the glossary of business terms, and the compiler
that turns a spec into parameterised SQL over the users table.
"""

from segmint.agent.query.glossary import Glossary, Term, TermFilter, load_glossary, percentile_thresholds
from segmint.agent.query.spec import (
    Catalogue,
    CompareOp,
    CompiledQuery,
    Condition,
    Intent,
    QuerySpec,
    SpecError,
    catalogue,
    compile_spec,
)

__all__ = [
    "Catalogue",
    "CompareOp",
    "CompiledQuery",
    "Condition",
    "Glossary",
    "Intent",
    "QuerySpec",
    "SpecError",
    "Term",
    "TermFilter",
    "catalogue",
    "compile_spec",
    "load_glossary",
    "percentile_thresholds",
]
