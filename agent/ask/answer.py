"""Answer a plain-language question: parse, run the spec on DuckDB, explain the definition used."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from segmint.agent.act.export import export_format as export_format_for
from segmint.agent.act.export import workspace_salt, write_customers
from segmint.agent.ask.paraphrase import Rewrite
from segmint.agent.ask.parser import default_mapper, parse
from segmint.agent.core.errors import InputError, NotUnderstood
from segmint.agent.core.sql import fetch_one
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import describe_customer
from segmint.agent.query.glossary import Glossary, load_glossary
from segmint.agent.query.spec import (
    Catalogue,
    CompiledQuery,
    Condition,
    QuerySpec,
    SpecError,
    catalogue,
    compile_spec,
)

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
    import json

    row = fetch_one(con.execute("SELECT counts, params FROM runs ORDER BY finished_at DESC LIMIT 1"))
    counts = json.loads(row[0]) if row else {}
    params = json.loads(row[1]) if row else {}
    as_of = datetime.fromisoformat(counts["as_of"]) if "as_of" in counts else datetime.now()
    return WorkspaceFacts(as_of=as_of, currency=params.get("currency") or "")


def ask(workspace: Workspace, question: str, *, glossary: Glossary | None = None,
        export: Path | None = None, export_format: str | None = None,
        hash_ids: bool = False, llm: str | None = None) -> Answer:
    """Answer a question about a workspace's customers with the built-in parser.

    Args:
        workspace: the workspace to read (never written, except an export file).
        question: the question in plain words.
        glossary: business terms; the packaged glossary by default.
        export: also write every selected customer to this file.
        export_format: csv, parquet or jsonl (default from the suffix).
        hash_ids: write salted SHA-256 ids instead of raw ids.
        llm: a `--llm` spec; the LLM fills the query, validated, else the built-in parser answers
            and `Answer.parser` says why.

    Raises:
        NotUnderstood: nothing in the question could be turned into a query, or part of it could
            not be (the parser refuses rather than guesses).
        InputError: the question names a field or segment the workspace does not have.
    """
    glossary = glossary or load_glossary()
    with contextlib.closing(workspace.reader()) as con:
        cat = cached_catalogue(workspace, con)
        spec: QuerySpec | None = None
        parser = "builtin"
        rewrites: list[Rewrite] = []
        if llm not in (None, "", "builtin"):
            spec, parser = llm_spec(question, llm, glossary, cat, workspace.path)
        if spec is None:
            spec, rewrites = parse_or_refuse(question, glossary, cat)
        try:
            answer = run_spec(con, question, spec, cat, glossary, rewrites)
            answer.parser = parser
            if export is not None:
                compiled = compile_spec(spec, cat, glossary, con)
                rows = select_customers(con, compiled)
                fmt = export_format_for(export, export_format)
                salt = workspace_salt(workspace.path) if hash_ids else None
                write_customers(rows, export, fmt, currency=workspace_facts(con).currency,
                                salt=salt, audit_con=con)
                answer.export = str(export)
        except SpecError as exc:
            raise InputError(str(exc), fix="ask about fields, terms and segments this shop has") from exc
    return answer


_CATALOGUES: dict[tuple[str, tuple[int, int, int]], Catalogue] = {}


def cached_catalogue(workspace: Workspace, con: duckdb.DuckDBPyConnection) -> Catalogue:
    """The workspace's catalogue, read once per version of its database."""
    key = (str(workspace.db_path), workspace.version())
    if key not in _CATALOGUES:
        _CATALOGUES.clear()
        _CATALOGUES[key] = catalogue(con)
    return _CATALOGUES[key]


def export_segment(workspace: Workspace, segment: str, output: Path, *,
                   export_format: str | None = None, hash_ids: bool = False) -> Answer:
    """Export one segment, named by id or by name (case-insensitive; close spellings accepted).

    Raises:
        InputError: no segment has that id or a name close to it.
    """
    import difflib

    with contextlib.closing(workspace.reader()) as con:
        cat = cached_catalogue(workspace, con)
    ref = segment.strip()
    by_name = {name.lower(): sid for sid, name in cat.segments.items()}
    sid = ref if ref in cat.segments else by_name.get(ref.lower())
    if sid is None:
        close = difflib.get_close_matches(ref.lower(), list(by_name), n=1, cutoff=0.75)
        sid = by_name[close[0]] if close else None
    if sid is None:
        known = ", ".join(f"{i} ({n})" for i, n in list(cat.segments.items())[:8])
        raise InputError(f"no segment '{ref}'", field="--segment", kind="option",
                         fix=f"use an id or name from `segmint segments`, e.g. {known}")
    spec = QuerySpec(any_of=[[Condition(kind="segment", segment=sid)]])
    return ask_spec(workspace, f"segment {sid}", spec, export=output,
                    export_format=export_format, hash_ids=hash_ids)


def ask_spec(workspace: Workspace, question: str, spec: QuerySpec, *, export: Path | None = None,
             export_format: str | None = None, hash_ids: bool = False) -> Answer:
    """Run a ready QuerySpec (no parsing) and optionally export the customers it selects."""
    glossary = load_glossary()
    with contextlib.closing(workspace.reader()) as con:
        cat = cached_catalogue(workspace, con)
        try:
            answer = run_spec(con, question, spec, cat, glossary)
            if export is not None:
                compiled = compile_spec(spec, cat, glossary, con)
                fmt = export_format_for(export, export_format)
                salt = workspace_salt(workspace.path) if hash_ids else None
                write_customers(select_customers(con, compiled), export, fmt,
                                currency=workspace_facts(con).currency, salt=salt, audit_con=con)
                answer.export = str(export)
        except SpecError as exc:
            raise InputError(str(exc), fix="see `segmint segments`") from exc
    return answer


def llm_spec(question: str, llm: str, glossary: Glossary, cat: Catalogue, log_dir: Path
             ) -> tuple[QuerySpec | None, str]:
    """Let an LLM fill the query; None and the reason when it cannot (the caller falls back)."""
    from segmint.agent.ask.llm_parser import parse_with_llm
    from segmint.agent.llm.backends import LLMError, make_chat_model, parse_llm_spec
    from segmint.agent.llm.privacy import CallLog

    parsed = parse_llm_spec(llm)  # a malformed spec is a usage error (exit 2), not a fallback
    try:
        model = make_chat_model(parsed, callbacks=[CallLog(log_dir, parsed.label,
                                                           remote=parsed.remote)])
    except LLMError as exc:
        return None, f"builtin (fallback: {exc})"
    if model is None:
        return None, "builtin"
    spec, reason = parse_with_llm(question, model, glossary, cat, backend=parsed.label)
    if spec is None:
        return None, f"builtin (fallback: {reason})"
    return spec, f"llm:{parsed.label}"


def parse_or_refuse(question: str, glossary: Glossary, cat: Catalogue
                    ) -> tuple[QuerySpec, list[Rewrite]]:
    """Parse with the built-in parser, refusing (exit 3) rather than guessing.

    Returns:
        The spec, and the phrases that were read as glossary terms by meaning.

    Raises:
        NotUnderstood: nothing, or not all, of the question could be read.
    """
    if not question.strip():
        raise NotUnderstood("the question is empty; ask e.g. 'who are my lapsed high spenders?'")
    parsed = parse(question[:1000], glossary, cat, mapper=default_mapper)
    spec = parsed.spec
    if parsed.unknown or not (spec.any_of or spec.sort_by or spec.intent == "count"):
        raise NotUnderstood(not_understood_message(question, parsed.unknown, glossary, cat))
    return spec, parsed.rewrites


def run_spec(con: duckdb.DuckDBPyConnection, question: str, spec: QuerySpec, cat: Catalogue,
             glossary: Glossary, rewrites: list[Rewrite] | None = None) -> Answer:
    """Execute a validated spec on a read-only connection and build the answer."""
    facts = workspace_facts(con)
    _register_interests(con, spec)
    compiled = compile_spec(spec, cat, glossary, con)
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


SEMANTIC_MIN_COSINE = 0.55  # calibrated on Online Retail and the sample shop: precise, not greedy


def _register_interests(con: duckdb.DuckDBPyConnection, spec: QuerySpec) -> None:
    """Match interest phrases against customers' texts; expose the matches as `interest_matches`.

    A text matches a phrase lexically (it contains every word of the phrase, plural or not) or by
    meaning (cosine of the workspace's own text encoder at least SEMANTIC_MIN_COSINE).
    """
    phrases = sorted({c.interest for g in spec.any_of for c in g
                      if c.kind == "interest" and c.interest})
    phrase_col: list[str] = []
    user_col: list[str] = []
    for phrase in phrases:
        words = [_stem(w) for w in re.findall(r"[\w'-]+", phrase.lower()) if len(w) > 1]
        if not words:
            continue
        clauses = " AND ".join("lower(text) LIKE ?" for _ in words)
        similar = _texts_by_meaning(con, phrase)
        rows = con.execute(
            f"SELECT DISTINCT user_id FROM events WHERE ({clauses}) OR text IN (SELECT unnest(?))",
            [*(f"%{_like_escape(w)}%" for w in words), similar]).fetchall()
        phrase_col += [phrase] * len(rows)
        user_col += [r[0] for r in rows]
    con.register("interest_matches", pa.table({"phrase": pa.array(phrase_col, pa.string()),
                                               "user_id": pa.array(user_col, pa.string())}))


def _texts_by_meaning(con: duckdb.DuckDBPyConnection, phrase: str) -> list[str]:
    """Distinct texts of the workspace whose meaning is close to the phrase (cached vectors)."""
    import numpy as np

    from segmint.agent.core.runtime import offline_models

    row = fetch_one(con.execute("SELECT params->>'$.embedder' FROM runs "
                                "ORDER BY finished_at DESC LIMIT 1"))
    texts = [r[0] for r in con.execute(
        "SELECT DISTINCT text FROM events WHERE text IS NOT NULL AND length(trim(text)) > 0"
    ).fetchall()]
    if not row or not row[0] or not texts:
        return []
    offline_models()
    from segmint.embeddings import VectorCache, embed_texts, make_encoder

    encoder = make_encoder(str(row[0]))
    vectors, _ = embed_texts(texts, encoder, VectorCache.for_encoder(encoder))
    query = encoder.encode([phrase])[0]
    scores = vectors @ query
    return [texts[i] for i in np.flatnonzero(scores >= SEMANTIC_MIN_COSINE)]


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _like_escape(word: str) -> str:
    return word.replace("%", "").replace("_", "")


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


def not_understood_message(question: str, unknown: list[str], glossary: Glossary,
                           cat: Catalogue) -> str:
    """A helpful refusal: what was not understood and the terms that are."""
    terms = ", ".join(t.label for t in glossary.terms.values())
    fields = ", ".join(sorted(cat.numeric)[:8])
    unread = f" (not understood: {', '.join(unknown[:6])})" if unknown else ""
    return (f"could not understand “{question.strip()[:120]}”{unread}. Try terms like {terms}; "
            f"numbers on {fields}; 'top 10 by revenue'; 'who bought candles'")
