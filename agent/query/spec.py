"""QuerySpec: the typed form of a question, and the code that turns it into parameterised SQL.

Only this module writes SQL for questions, from whitelisted field names and bound parameters; no
text from a question or an LLM is ever placed in SQL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, model_validator

from segmint.agent.core.schema import NUMERIC_FEATURES
from segmint.agent.query.glossary import Glossary, percentile_thresholds

CompareOp = Literal[">", ">=", "<", "<=", "=", "!=", "between", "in"]
Intent = Literal["list", "count", "describe", "compare", "top"]
_NON_ATTRIBUTES = {"user_id", "first_seen", "last_seen", "first_purchase", "last_purchase",
                   "segment_id", "membership", "nearest_segment_id", "risk_reason",
                   *NUMERIC_FEATURES}


class Condition(BaseModel):
    """One test a customer must pass: a glossary term, a field comparison, an interest or a segment.

    Attributes:
        kind: which of the four this is.
        term: glossary key (kind "term").
        field: users-table field (kind "field"); must be on the whitelist.
        op: comparison (kind "field").
        value: number, text, [low, high] for between, or a list for in.
        interest: a phrase matched against what customers searched for, viewed and bought.
        segment: a segment id (kind "segment").
        negate: the customer must fail the test instead.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["term", "field", "interest", "segment"]
    term: str | None = None
    field: str | None = None
    op: CompareOp | None = None
    value: float | str | list[float | str] | None = None
    interest: str | None = Field(default=None, max_length=200)
    segment: str | None = None
    negate: bool = False

    @model_validator(mode="after")
    def _complete(self) -> Condition:
        needed = {"term": ("term",), "field": ("field", "op", "value"), "interest": ("interest",),
                  "segment": ("segment",)}[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} condition needs {', '.join(missing)}")
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("between needs [low, high]")
        return self


class QuerySpec(BaseModel):
    """A question as data: OR of AND-groups of conditions, plus sort, limit and intent."""

    model_config = ConfigDict(extra="forbid")

    intent: Intent = "list"
    any_of: list[list[Condition]] = Field(default_factory=list)
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = Field(default=None, ge=1, le=1_000_000)


@dataclass
class Catalogue:
    """What a question may refer to in one workspace: fields, attribute values, segments."""

    numeric: list[str]
    text: list[str]
    attribute_values: dict[str, list[str]]
    segments: dict[str, str] = field(default_factory=dict)  # id -> name
    has_segments: bool = False

    @property
    def fields(self) -> set[str]:
        """Every field name a condition or sort may use."""
        return set(self.numeric) | set(self.text)


def catalogue(con: duckdb.DuckDBPyConnection, max_values: int = 200) -> Catalogue:
    """Read the whitelist of fields and the known attribute values from the workspace."""
    cols = {name: typ for name, typ, *_ in con.execute("DESCRIBE users").fetchall()}
    numeric = [c for c in cols if c in NUMERIC_FEATURES]
    text = [c for c in cols if c not in _NON_ATTRIBUTES and cols[c] == "VARCHAR"]
    values: dict[str, list[str]] = {}
    for col in text:
        rows = con.execute(
            f'SELECT "{col}", count(*) n FROM users WHERE "{col}" IS NOT NULL GROUP BY 1 '
            f"ORDER BY n DESC LIMIT {max_values}"
        ).fetchall()
        values[col] = [str(r[0]) for r in rows]
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    segments: dict[str, str] = {}
    if "segments" in tables:
        seg_cols = {r[0] for r in con.execute("DESCRIBE segments").fetchall()}
        name = "name" if "name" in seg_cols else "CAST(segment_id AS VARCHAR)"
        segments = {str(i): str(n) for i, n in
                    con.execute(f"SELECT segment_id, {name} FROM segments").fetchall()}
    return Catalogue(numeric, text, values, segments, "segment_id" in cols)


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
