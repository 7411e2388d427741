"""Run a validated QuerySpec on a workspace connection and build the answer: the count, a sample of
customers with a reason each, and the definition used, in plain words with the actual thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from segmint.agent.ask._matches import interest_matches
from segmint.agent.ask.paraphrase import Rewrite
from segmint.agent.core.records import read_latest_run
from segmint.agent.core.sql import fetch_one
from segmint.agent.describe.why import describe_customer
from segmint.agent.query import Catalogue, CompiledQuery, Condition, QuerySpec, compile_spec
from segmint.agent.query.glossary import Glossary

SAMPLE_SIZE = 10
SAMPLE_FIELDS = ("user_id", "recency_days", "orders", "revenue")


@dataclass
class Answer:
    """The `segmint ask` document (docs/cli.md)."""

    question: str
    understood: bool
    answer: str
    definition: str
    query: dict[str, Any]
    count: int
    sample: list[dict[str, Any]] = field(default_factory=list)
    export: str | None = None
    parser: str = "builtin"
    paraphrases: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of docs/cli.md."""
        return dict(self.__dict__)


@dataclass
class WorkspaceFacts:
    """What answering needs from a workspace besides the users table."""

    as_of: datetime
    currency: str


def workspace_facts(con: duckdb.DuckDBPyConnection) -> WorkspaceFacts:
    """The reference time and currency of the current run."""
    run = read_latest_run(con)
    if run is None:
        return WorkspaceFacts(as_of=datetime.now(), currency="")
    return WorkspaceFacts(as_of=run.as_of or datetime.now(), currency=run.currency)


def run_spec(con: duckdb.DuckDBPyConnection, question: str, spec: QuerySpec, cat: Catalogue,
             glossary: Glossary, rewrites: list[Rewrite] | None = None, *,
             matches: Mapping[str, Sequence[str]] | None = None) -> Answer:
    """Execute a validated spec on a read-only connection and build the answer.

    Args:
        con: a read-only connection to the workspace.
        question: the question as asked (kept in the answer).
        spec: the query.
        cat: the workspace's catalogue.
        glossary: business terms.
        rewrites: phrases the parser read as glossary terms by meaning (named in the definition).
        matches: the user ids of each interest phrase (`interest_matches`); computed when None.

    Raises:
        SpecError: the spec names a field, term or segment the workspace does not have.
    """
    facts = workspace_facts(con)
    matches = interest_matches(con, spec) if matches is None else matches
    compiled = compile_spec(spec, cat, glossary, con, matches)
    (total,) = fetch_one(con.execute(f"SELECT count(*) FROM users u WHERE {compiled.where}",
                           compiled.params)) or (0,)
    count = min(int(total), spec.limit) if spec.limit else int(total)
    rows = select_customers(con, compiled, limit=min(SAMPLE_SIZE, count))
    definition = describe_spec(spec, compiled, glossary, facts)
    read_as = [{"phrase": r.phrase, "synonym": r.synonym, "term": r.term,
                "score": round(float(r.score), 3)} for r in rewrites or []]
    if read_as:
        definition += " (" + "; ".join(
            f"“{r['phrase']}” read as {glossary.terms[r['term']].label}" for r in read_as) + ")"
    noun = "customer" if count == 1 else "customers"
    answer = f"{count:,} {noun} match: {definition}."
    if spec.limit and total > spec.limit:
        answer = f"The top {count:,} of {int(total):,} customers by {spec.sort_by}: {definition}."
    return Answer(
        question=question, understood=True, answer=answer, definition=definition,
        query=spec.model_dump(exclude_defaults=True), count=count,
        sample=[_sample_row(r, facts.currency) for r in rows], paraphrases=read_as,
    )


def select_customers(con: duckdb.DuckDBPyConnection, compiled: CompiledQuery,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """The selected customers' rows (all users-table columns), in the spec's order."""
    cap = compiled.limit if limit is None else limit
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    segment_name = ""
    if "segments" in tables and "name" in {r[0] for r in con.execute("DESCRIBE segments").fetchall()}:
        segment_name = (", (SELECT s.name FROM segments s WHERE s.segment_id = u.segment_id) "
                        "AS segment_name")
    sql = f"SELECT u.*{segment_name} FROM users u WHERE {compiled.where} ORDER BY {compiled.order}"
    if cap is not None:
        sql += f" LIMIT {int(cap)}"
    cur = con.execute(sql, compiled.params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _sample_row(row: dict[str, Any], currency: str) -> dict[str, Any]:
    out = {k: row.get(k) for k in SAMPLE_FIELDS}
    revenue = out.get("revenue")
    if isinstance(revenue, float):
        out["revenue"] = round(revenue, 2)
    out["why"] = describe_customer(row, currency)
    return out


def describe_spec(spec: QuerySpec, compiled: CompiledQuery, glossary: Glossary,
                  facts: WorkspaceFacts) -> str:
    """The definition in plain words with the actual thresholds."""
    groups = [" and ".join(_describe(c, compiled, glossary, facts) for c in g) for g in spec.any_of]
    text = " or ".join(f"({g})" if len(spec.any_of) > 1 else g for g in groups) or "all customers"
    if spec.sort_by:
        order = "highest" if spec.descending else "lowest"
        text += f", sorted by {spec.sort_by.replace('_', ' ')} ({order} first)"
    if spec.limit:
        text += f", first {spec.limit:,}"
    return text


def _describe(c: Condition, compiled: CompiledQuery, glossary: Glossary,
              facts: WorkspaceFacts) -> str:
    if c.kind == "term":
        term = glossary.terms[c.term or ""]
        parts = []
        for f in term.filters:
            value = f.value if f.percentile is None else compiled.thresholds[(f.field, f.percentile)]
            words = _compare(f.field, f.op, value, facts)
            if f.percentile is not None:
                share = 100 - f.percentile if f.op in (">", ">=") else f.percentile
                words += f" ({'top' if f.op in ('>', '>=') else 'bottom'} {share:g}%)"
            parts.append(words)
        text = " and ".join(parts)
        return f"not {term.label} ({text})" if c.negate else text
    if c.kind == "field":
        if c.op == "between" and isinstance(c.value, list):
            lo, hi = (_fmt(c.field or "", v, facts) for v in c.value)
            text = f"{_label(c.field or '')} between {lo} and {hi}"
        elif c.op == "in" and isinstance(c.value, list):
            text = f"{_label(c.field or '')} in {', '.join(map(str, c.value))}"
        else:
            text = _compare(c.field or "", c.op or "=", c.value, facts)
        return f"not ({text})" if c.negate else text
    if c.kind == "interest":
        return (f"{'never ' if c.negate else ''}searched for, viewed or bought “{c.interest}” "
                f"(or something close in meaning)")
    return f"{'not ' if c.negate else ''}in segment {c.segment}"


SYMBOLS = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "=": "=", "!=": "≠"}


def _compare(name: str, op: str, value: Any, facts: WorkspaceFacts) -> str:
    day = facts.as_of.strftime("%Y-%m-%d")
    if name == "recency_days" and isinstance(value, int | float):
        n = int(value)
        words = {">": f"more than {n} days", ">=": f"{n} or more days", "<": f"less than {n} days",
                 "<=": f"{n} days or less", "=": f"exactly {n} days"}.get(op, f"{op} {n} days")
        return f"last purchase {words} before {day}"
    if name == "tenure_days" and isinstance(value, int | float):
        n = int(value)
        words = {">": f"more than {n} days", ">=": f"{n} or more days", "<": f"less than {n} days",
                 "<=": f"{n} days or less", "=": f"exactly {n} days"}.get(op, f"{op} {n} days")
        return f"first purchase {words} before {day}"
    return f"{_label(name)} {SYMBOLS.get(op, op)} {_fmt(name, value, facts)}"


def _label(name: str) -> str:
    return {"aov": "average order value", "n_events": "events"}.get(name, name.replace("_", " "))


def _fmt(name: str, value: Any, facts: WorkspaceFacts) -> str:
    if isinstance(value, float) and name in {"revenue", "aov", "returned_amount"}:
        return f"{facts.currency}{value:,.0f}" if abs(value) >= 100 else f"{facts.currency}{value:,.2f}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
