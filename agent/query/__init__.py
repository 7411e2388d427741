"""The typed form of a question (`QuerySpec`), the glossary of business terms, time windows, and
the compiler that turns a spec into parameterised SQL over the users and activity tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.query._events import (
        ItemMatches,
        MatchKey,
        condition_types,
        customers_column,
        event_of,
        evidence_sql,
        match_key,
        matched_products_sql,
        passes_zero,
        product_phrase,
        threshold_values,
    )
    from segmint.agent.query.catalogue import Catalogue, catalogue
    from segmint.agent.query.compile import PERIODS, CompiledQuery, SpecError, compile_spec, reference_time
    from segmint.agent.query.glossary import Glossary, Term, TermFilter, load_glossary, percentile_thresholds
    from segmint.agent.query.measures import (
        COHORTS,
        PRODUCT,
        TERM,
        WINDOW_FIELDS,
        MeasureQuery,
        compile_measure,
        measure_of,
    )
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
    from segmint.agent.query.windows import TICK, UNIT_DAYS, Period, resolve_window

__all__ = [
    "COHORTS",
    "PERIODS",
    "PRODUCT",
    "TERM",
    "TICK",
    "UNIT_DAYS",
    "WINDOW_FIELDS",
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
    "ItemMatches",
    "MatchKey",
    "Measure",
    "MeasureQuery",
    "Period",
    "QuerySpec",
    "SpecError",
    "Term",
    "TermFilter",
    "Unit",
    "Window",
    "catalogue",
    "compile_measure",
    "compile_spec",
    "condition_types",
    "customers_column",
    "event_of",
    "evidence_sql",
    "load_glossary",
    "match_key",
    "matched_products_sql",
    "measure_of",
    "passes_zero",
    "percentile_thresholds",
    "product_phrase",
    "reference_time",
    "resolve_window",
    "threshold_values",
]

lazy_package(__name__, {
    "_events": (
        "ItemMatches", "MatchKey", "condition_types", "customers_column", "event_of", "evidence_sql",
        "match_key", "matched_products_sql", "passes_zero", "product_phrase", "threshold_values",
    ),
    "catalogue": ("Catalogue", "catalogue"),
    "compile": ("PERIODS", "CompiledQuery", "SpecError", "compile_spec", "reference_time"),
    "glossary": ("Glossary", "Term", "TermFilter", "load_glossary", "percentile_thresholds"),
    "measures": (
        "COHORTS", "PRODUCT", "TERM", "WINDOW_FIELDS", "MeasureQuery", "compile_measure", "measure_of",
    ),
    "spec": (
        "Aggregate", "AnswerKind", "CompareOp", "Condition", "EventMeasure", "EventType", "Intent", "Measure",
        "QuerySpec", "Unit", "Window",
    ),
    "windows": ("TICK", "UNIT_DAYS", "Period", "resolve_window"),
})
