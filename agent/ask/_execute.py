"""Run a validated QuerySpec on a workspace connection and build the answer: the customers (their
count and a sample with a reason each), one number, or a table of numbers by group, with the
definition used in plain words (actual thresholds, dates and products) and the products matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from segmint.agent.ask._describe import (
    WorkspaceFacts,
    describe_spec,
    events_measure_words,
    fmt_value,
    measure_how,
    measure_label,
    rank_words,
)
from segmint.agent.ask._evidence import add_reasons
from segmint.agent.ask._matches import ProductMatch, product_matches
from segmint.agent.ask._tables import table_rows, table_text
from segmint.agent.ask.paraphrase import Rewrite
from segmint.agent.core.records import read_latest_run
from segmint.agent.core.sql import fetch_one, table_names
from segmint.agent.query import (
    TERM,
    Catalogue,
    CompiledQuery,
    Condition,
    MatchKey,
    QuerySpec,
    compile_measure,
    compile_spec,
    match_key,
    matched_products_sql,
    product_phrase,
)
from segmint.agent.query.glossary import Glossary

__all__ = ["SAMPLE_FIELDS", "SAMPLE_SIZE", "Answer", "WorkspaceFacts", "run_spec", "select_customers",
           "workspace_facts"]

SAMPLE_SIZE = 10
SAMPLE_FIELDS = ("user_id", "recency_days", "orders", "revenue")
NAMED_PRODUCTS = 3  # the answer's text names this many matched products per phrase


@dataclass
class Answer:
    """The `segmint ask` document (docs/cli.md): the keys every kind has, then the kind's own."""

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
    kind: str = "customers"
    notes: list[str] = field(default_factory=list)
    matched_products: list[dict[str, Any]] | None = None
    value: float | None = None
    measure: str | None = None
    customers: int | None = None
    group_by: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of docs/cli.md for this answer's kind."""
        doc = {k: getattr(self, k) for k in (
            "question", "understood", "answer", "definition", "query", "kind", "count", "sample",
            "export", "parser", "paraphrases", "notes")}
        if self.matched_products is not None:
            doc["matched_products"] = self.matched_products
        if self.kind == "number":
            doc.update(value=self.value, measure=self.measure, customers=self.customers)
        elif self.kind == "table":
            doc.update(group_by=self.group_by, measure=self.measure, rows=self.rows)
        return doc


def workspace_facts(con: duckdb.DuckDBPyConnection) -> WorkspaceFacts:
    """The reference time and currency of the current run."""
    run = read_latest_run(con)
    if run is None:
        return WorkspaceFacts(as_of=datetime.now(), currency="")
    return WorkspaceFacts(as_of=run.as_of or datetime.now(), currency=run.currency)


def run_spec(con: duckdb.DuckDBPyConnection, question: str, spec: QuerySpec, cat: Catalogue,
             glossary: Glossary, rewrites: list[Rewrite] | None = None, *,
             matches: Mapping[MatchKey, ProductMatch] | None = None,
             notes: Sequence[str] = (), facts: WorkspaceFacts | None = None) -> Answer:
    """Execute a validated spec on a read-only connection and build the answer.

    Args:
        con: a read-only connection to the workspace.
        question: the question as asked (kept in the answer).
        spec: the query.
        cat: the workspace's catalogue.
        glossary: business terms.
        rewrites: phrases the parser read as glossary terms by meaning (named in the definition).
        matches: the items of each product phrase (`product_matches`); computed when None.
        notes: what the reader should know about how the question was read (appended).
        facts: the workspace's reference time and currency (read when None).

    Raises:
        SpecError: the spec names a field, term or segment the workspace does not have.
    """
    facts = facts or workspace_facts(con)
    found = product_matches(con, spec) if matches is None else matches
    compiled = compile_spec(spec, cat, glossary, con, {k: m.items for k, m in found.items()},
                            as_of=facts.as_of)
    capped = spec.limit if spec.kind != "table" else None
    sampled = SAMPLE_SIZE if spec.kind == "customers" else 0
    total, rows = count_and_sample(con, compiled, min(sampled, capped or sampled))
    count = min(total, capped) if capped else total
    definition = describe_spec(spec, compiled, glossary, facts, found)
    read_as = [{"phrase": r.phrase, "synonym": r.synonym, "term": r.term,
                "score": round(float(r.score), 3)} for r in rewrites or []]
    if read_as:
        definition += " (" + "; ".join(
            f"“{r['phrase']}” read as {glossary.terms[r['term']].label}" for r in read_as) + ")"
    products = matched_products(con, spec, compiled, found)
    answer = Answer(question=question, understood=True, answer="", definition=definition,
                    query=spec.model_dump(exclude_defaults=True), count=count, paraphrases=read_as,
                    kind=spec.kind, notes=list(notes),
                    matched_products=None if products is None else [
                        {k: p[k] for k in ("product_id", "text", "customers", "phrase")}
                        for p in products])
    if spec.kind == "customers":
        add_reasons(con, spec, compiled, found, rows, facts.currency)
        answer.sample = [_sample_row(r) for r in rows]
        noun = "customer" if count == 1 else "customers"
        answer.answer = f"{count:,} {noun} match: {definition}."
        if spec.limit and total > spec.limit:
            by = (spec.sort_by or "" if spec.rank_by is None
                  else rank_words(spec.rank_by, compiled, found))
            answer.answer = f"The top {count:,} of {int(total):,} customers by {by}: {definition}."
    else:
        _measure(con, spec, compiled, cat, facts, answer, glossary, found)
    answer.answer += _products_text(spec, found, products or []) + "".join(
        f" Note: {n.rstrip('.')}." for n in answer.notes)
    return answer


def _measure(con: duckdb.DuckDBPyConnection, spec: QuerySpec, compiled: CompiledQuery,
             cat: Catalogue, facts: WorkspaceFacts, answer: Answer, glossary: Glossary,
             found: Mapping[MatchKey, ProductMatch]) -> None:
    """Fill a number's or a table's value(s), measure, definition and text."""
    by_term = spec.group_by == TERM
    mq = compile_measure(spec.model_copy(update={"group_by": None, "groups": None}) if by_term else spec,
                         compiled, cat)
    label = measure_label(mq.measure, mq.period)
    how = measure_how(mq.measure, mq.period, spec.group_by)
    if mq.measure.events is not None:
        label, how = events_measure_words(mq.measure, compiled, found)
    answer.measure = label
    conditions = answer.definition
    answer.definition = f"{conditions}; {label} = {how}"
    raw, groups = (_term_rows(con, spec, cat, glossary, found, facts) if by_term
                   else (con.execute(mq.sql, mq.params).fetchall(), []))
    if spec.kind == "number":
        _, value, customers = raw[0] if raw else (None, None, 0)
        answer.value = None if value is None else float(value)
        answer.customers = int(customers or 0)
        shown = fmt_value(mq.measure, answer.value, facts.currency)
        if mq.measure.agg == "count":
            noun = "customer" if answer.count == 1 else "customers"
            answer.answer = f"{answer.count:,} {noun} match: {conditions}."
        elif mq.measure.agg == "share" and mq.measure.field is not None:
            noun = "customer" if answer.customers == 1 else "customers"
            answer.answer = (f"{shown} of all {label.removeprefix('share of ')} comes from these "
                             f"{answer.customers:,} {noun} ({conditions}); {how}.")
        elif mq.measure.agg == "share":
            answer.answer = (f"{shown} of customers match ({answer.count:,} of "
                             f"{answer.customers:,}): {conditions}.")
        elif mq.measure.events is not None:  # a product's events: the customers who had any
            noun = "customer" if answer.customers == 1 else "customers"
            answer.answer = (f"{label[0].upper() + label[1:]}: {shown}, from {answer.customers:,} "
                             f"{noun} (of: {conditions}); {how}.")
        else:
            answer.answer = (f"{label[0].upper() + label[1:]}: {shown} over {answer.customers:,} "
                             f"customers ({conditions}); {how}.")
        return
    answer.group_by = spec.group_by
    labels = {t: glossary.terms[t].label for t in spec.groups or [] if t in glossary.terms}
    rows, left_out = table_rows(raw, spec, cat, mq, labels if by_term else None)
    answer.rows = rows
    answer.answer = table_text(rows, spec, mq, label, facts.currency, left_out) + \
        f" Customers: {conditions}; {label} = {how}." + \
        (f" Groups: {'; '.join(groups)}." if groups else "")


def _term_rows(con: duckdb.DuckDBPyConnection, spec: QuerySpec, cat: Catalogue, glossary: Glossary,
               found: Mapping[MatchKey, ProductMatch], facts: WorkspaceFacts
               ) -> tuple[list[tuple[Any, ...]], list[str]]:
    """One (term, value, customers) per glossary term compared ("repeat vs one-time buyers"):
    the measure over the customers who pass the question's conditions and that term; and what
    each term stands for here, its thresholds resolved ("lapsed = orders ≥ 1 and ...")."""
    out: list[tuple[Any, ...]] = []
    meanings: list[str] = []
    for term in spec.groups or []:
        one = spec.model_copy(update={
            "any_of": [[*g, Condition(kind="term", term=term)] for g in spec.any_of or [[]]],
            "group_by": None, "groups": None, "sort_by": None, "limit": None})
        compiled = compile_spec(one, cat, glossary, con, {k: m.items for k, m in found.items()},
                                as_of=facts.as_of)
        mq = compile_measure(one, compiled, cat)
        row = fetch_one(con.execute(mq.sql, mq.params))
        out.append((term, *(row[1:] if row else (None, 0))))
        alone = QuerySpec(any_of=[[Condition(kind="term", term=term)]])
        label = glossary.terms[term].label if term in glossary.terms else term
        meanings.append(f"{label} = {describe_spec(alone, compiled, glossary, facts, found)}")
    return out, meanings


def matched_products(con: duckdb.DuckDBPyConnection, spec: QuerySpec, compiled: CompiledQuery,
                     found: Mapping[MatchKey, ProductMatch]) -> list[dict[str, Any]] | None:
    """The products each product condition matched, with distinct customers among the
    condition's events (its type, its window), most first; None without a product condition."""
    conditions = [c for c in spec.conditions() if product_phrase(c)]
    if not conditions:
        return None
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for c in conditions:
        match = found.get(match_key(c))
        if match is None or not match.items:
            continue
        params: list[Any] = []
        period = None if c.window is None else compiled.period(c.window)
        sql = matched_products_sql(c, period, match.items, params)
        for item, product_id, text, customers in con.execute(sql, params).fetchall():
            if (match.phrase, item) not in seen:
                seen.add((match.phrase, item))
                out.append({"product_id": product_id, "text": text, "customers": int(customers),
                            "phrase": match.phrase, "by_meaning": match.by_meaning})
    return out


def _products_text(spec: QuerySpec, found: Mapping[MatchKey, ProductMatch],
                   products: list[dict[str, Any]]) -> str:
    """The answer's sentence per product phrase: the top products it matched, and how."""
    out = []
    for key in dict.fromkeys(match_key(c) for c in spec.conditions() if product_phrase(c)):
        match = found.get(key)
        if match is None:
            continue
        mine = [p for p in products if p["phrase"] == match.phrase]
        named = ", ".join(f"{p['text'] or p['product_id']} ({p['customers']:,})"
                          for p in mine[:NAMED_PRODUCTS])
        more = f" and {len(mine) - NAMED_PRODUCTS:,} more" if len(mine) > NAMED_PRODUCTS else ""
        if not mine:
            how = "word for word or by meaning" if match.fallback else (
                "by meaning" if match.by_meaning else "word for word")
            out.append(f"Nothing matched “{match.phrase}” {how}.")
        elif match.fallback:
            out.append(f"Nothing matched “{match.phrase}” word for word; read by meaning: "
                       f"{named}{more}.")
        elif match.by_meaning:
            out.append(f"Read “{match.phrase}” by meaning: {named}{more}.")
        else:
            out.append(f"Products matching “{match.phrase}” (customers): {named}{more}.")
    return "".join(f" {s}" for s in out)


def select_customers(con: duckdb.DuckDBPyConnection, compiled: CompiledQuery,
                     limit: int | None = None) -> list[dict[str, Any]]:
    """The selected customers' rows (all users-table columns), in the spec's order."""
    cap = compiled.limit if limit is None else limit
    sql = (f"SELECT u.*{_segment_name(con)} FROM users u WHERE {compiled.where} "
           f"ORDER BY {compiled.order}")
    if cap is not None:
        sql += f" LIMIT {int(cap)}"
    return _rows(con.execute(sql, [*compiled.params, *compiled.order_params]))


def count_and_sample(con: duckdb.DuckDBPyConnection, compiled: CompiledQuery,
                     n: int) -> tuple[int, list[dict[str, Any]]]:
    """How many customers a spec selects, and the first `n` of them, in one pass over its
    conditions (evaluating them twice would double the cost of an event question)."""
    if n <= 0:
        (total,) = fetch_one(con.execute(f"SELECT count(*) FROM users u WHERE {compiled.where}",
                                         compiled.params)) or (0,)
        return int(total), []
    # The order's value is computed once per selected customer, then ranks them by their keys.
    rows = _rows(con.execute(
        f"WITH sel AS MATERIALIZED (SELECT u.user_id, {compiled.order_value} AS order__ FROM users u "
        f"WHERE {compiled.where}), top AS (SELECT u.user_id, u.order__ FROM sel u ORDER BY "
        f"{compiled.order_of('u.order__', 'u.user_id')} LIMIT {int(n)}) "
        f"SELECT u.*{_segment_name(con)}, (SELECT count(*) FROM sel) AS selected__ "
        f"FROM users u JOIN top t ON t.user_id = u.user_id "
        f"ORDER BY {compiled.order_of('t.order__', 't.user_id')}",
        [*compiled.order_params, *compiled.params]))
    total = int(rows[0]["selected__"]) if rows else 0
    for row in rows:
        del row["selected__"]
    return total, rows  # no row in the sample: no customer at all


def _segment_name(con: duckdb.DuckDBPyConnection) -> str:
    tables = table_names(con)
    if "segments" in tables and "name" in {r[0] for r in con.execute("DESCRIBE segments").fetchall()}:
        return ", (SELECT s.name FROM segments s WHERE s.segment_id = u.segment_id) AS segment_name"
    return ""


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _sample_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in SAMPLE_FIELDS}
    revenue = out.get("revenue")
    if isinstance(revenue, float):
        out["revenue"] = round(revenue, 2)
    out["why"] = row["why"]
    return out
