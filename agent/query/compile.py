"""Compile a QuerySpec into parameterised SQL (docs/definitions.md "Questions").

Only this module writes SQL for questions, from whitelisted field names and bound parameters; no
text from a question or an LLM is ever placed in SQL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from segmint.agent.query.catalogue import Catalogue
from segmint.agent.query.glossary import Glossary, percentile_thresholds
from segmint.agent.query.spec import Condition, QuerySpec


@dataclass
class CompiledQuery:
    """SQL for the customers a spec selects, its parameters and the thresholds used."""

    where: str
    params: list[Any]
    order: str
    limit: int | None
    thresholds: dict[tuple[str, float], float]


class SpecError(ValueError):
    """A spec refers to something the workspace does not have."""


def compile_spec(spec: QuerySpec, cat: Catalogue, glossary: Glossary,
                 con: duckdb.DuckDBPyConnection,
                 matches: Mapping[str, Sequence[str]] | None = None) -> CompiledQuery:
    """Turn a validated spec into a WHERE clause over `users u` with bound parameters.

    Args:
        spec: the query.
        cat: what the workspace has (the whitelist of fields, the segments).
        glossary: the business terms the spec may name.
        con: the workspace's connection (percentile thresholds are read from it).
        matches: the user ids each interest phrase of the spec matched, bound as a parameter
            list; a phrase without an entry matches no one.

    Raises:
        SpecError: unknown field, term or segment.
    """
    pairs = {(f.field, f.percentile) for group in spec.any_of for c in group
             if c.kind == "term" and c.term in glossary.terms
             for f in glossary.terms[c.term].filters if f.percentile is not None}
    thresholds = percentile_thresholds(con, pairs)
    params: list[Any] = []
    groups = []
    for group in spec.any_of:
        parts = [_condition_sql(c, cat, glossary, thresholds, matches or {}, params) for c in group]
        groups.append("(" + " AND ".join(parts) + ")" if parts else "TRUE")
    where = " OR ".join(groups) if groups else "TRUE"
    order = "u.user_id"
    if spec.sort_by is not None:
        if spec.sort_by not in cat.numeric:
            raise SpecError(f"cannot sort by '{spec.sort_by}'")
        order = f'u."{spec.sort_by}" {"DESC" if spec.descending else "ASC"} NULLS LAST, u.user_id'
    return CompiledQuery(where, params, order, spec.limit, thresholds)


def _condition_sql(c: Condition, cat: Catalogue, glossary: Glossary,
                   thresholds: dict[tuple[str, float], float],
                   matches: Mapping[str, Sequence[str]], params: list[Any]) -> str:
    if c.kind == "term":
        term = glossary.terms.get(c.term or "")
        if term is None:
            raise SpecError(f"unknown term '{c.term}'")
        parts = []
        for f in term.filters:
            value = f.value if f.percentile is None else thresholds[(f.field, f.percentile)]
            params.append(value)
            parts.append(f'coalesce(u."{_numeric(f.field, cat)}" {f.op} ?, false)')
        sql = "(" + " AND ".join(parts) + ")"
    elif c.kind == "field":
        sql = _field_sql(c, cat, params)
    elif c.kind == "interest":
        params.append(list(matches.get(c.interest or "", ())))
        sql = "u.user_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"
    else:
        if not cat.has_segments:
            raise SpecError("this workspace has no segments yet")
        if c.segment not in cat.segments:
            raise SpecError(f"unknown segment '{c.segment}'")
        params.append(c.segment)
        sql = "coalesce(CAST(u.segment_id AS VARCHAR) = ?, false)"
    return f"NOT {sql}" if c.negate else sql


def _field_sql(c: Condition, cat: Catalogue, params: list[Any]) -> str:
    name = c.field or ""
    if name not in cat.fields:
        raise SpecError(f"unknown field '{name}'")
    col = f'u."{name}"'
    numeric = name in cat.numeric
    values: list[Any] = list(c.value) if isinstance(c.value, list) else [c.value]
    for v in values:
        if numeric and not (isinstance(v, int | float) and math.isfinite(v)):
            raise SpecError(f"'{name}' needs a number, not {v!r}")
    if not numeric:
        col = f"lower({col})"
        values = [str(v).lower() for v in values]
    if c.op == "between":
        params.extend(values)
        return f"coalesce({col} BETWEEN ? AND ?, false)"
    if c.op == "in":
        params.extend(values)
        return f"coalesce({col} IN ({', '.join('?' for _ in values)}), false)"
    params.append(values[0])
    return f"coalesce({col} {c.op} ?, false)"


def _numeric(name: str, cat: Catalogue) -> str:
    if name not in cat.numeric:
        raise SpecError(f"unknown numeric field '{name}'")
    return name
