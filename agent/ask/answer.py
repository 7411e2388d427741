"""Answer plain-language questions about one workspace: the one path from question to answer.

An `Answerer` is bound to a workspace, a glossary and a parser (`--llm`, see agent/ask/parsers.py).
Every entry point (the CLI's ask, export, chat and demo, the API and its web page, follow-ups in a
`Conversation`, the fairness audit) goes through it: read the question, match its products, compile
the spec, run it. It never writes: what an answer selects (customers, a number, a table) comes
back as a `Selection`, which agent/act/export.py writes to a file.
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass
from typing import Any

import duckdb

from segmint.agent.ask._evidence import add_reasons
from segmint.agent.ask._execute import Answer, run_spec, select_customers, workspace_facts
from segmint.agent.ask._matches import product_matches
from segmint.agent.ask.parsers import Reading, make_parser
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import Workspace
from segmint.agent.query import Catalogue, Condition, QuerySpec, SpecError, compile_spec
from segmint.agent.query.catalogue import stored_catalogue
from segmint.agent.query.glossary import Glossary, load_glossary

__all__ = ["Answer", "Answerer", "Selection", "ask", "run_spec"]

ASK_FIX = "ask about fields, terms and segments this shop has"
SPEC_FIX = "see `segmint segments`"


@dataclass
class Selection:
    """Everything an answer selects, in the answer's order: what an export writes.

    Attributes:
        answer: the answer (count, sample, definition; a number's value, a table's rows).
        customers: the selected customers' users-table rows, with `segment_name` when known and
            `why`: the snapshot and the evidence of what they did that the question asked about.
        currency: the shop's currency symbol, for the reasons written beside each customer.
    """

    answer: Answer
    customers: list[dict[str, Any]]
    currency: str

    @property
    def rows(self) -> list[dict[str, Any]]:
        """What an export of the answer writes: a table's rows, a number as one row, else the
        customers."""
        a = self.answer
        if a.kind == "table":
            return [{"group": r["group"], "value": r["value"], "customers": r["customers"],
                     "measure": a.measure} for r in a.rows]
        if a.kind == "number":
            return [{"measure": a.measure, "value": a.value, "customers": a.customers,
                     "definition": a.definition}]
        return self.customers


class Answerer:
    """Answers questions about one workspace (read-only).

    Args:
        workspace: the workspace to read.
        glossary: business terms; the packaged glossary by default.
        llm: a `--llm` spec: the LLM fills the query, validated, else the built-in parser reads the
            question and `Answer.parser` says why. None or "builtin": the built-in parser only.
    """

    def __init__(self, workspace: Workspace, *, glossary: Glossary | None = None,
                 llm: str | None = None) -> None:
        self.workspace = workspace
        self.glossary = glossary or load_glossary()
        self.parser = make_parser(llm, workspace.path)

    def catalogue(self) -> Catalogue:
        """What questions may refer to in the workspace (read once per version of its database)."""
        with contextlib.closing(self.workspace.reader()) as con:
            return _cached_catalogue(self.workspace, con)

    def read(self, question: str, cat: Catalogue) -> Reading:
        """Parse a question with this answerer's parser.

        Raises:
            NotUnderstood: nothing, or not all, of the question could be read.
            UsageError: a malformed `--llm` spec.
        """
        return self.parser.parse(question, self.glossary, cat)

    def ask(self, question: str) -> Answer:
        """Answer a question.

        Raises:
            NotUnderstood: the question could not be read (the parser refuses rather than guesses).
            InputError: it names a field or segment the workspace does not have.
        """
        return self.answer(question, self.read(question, self.catalogue()))

    def answer(self, question: str, reading: Reading, *, fix: str = ASK_FIX) -> Answer:
        """Answer what a parser read (a follow-up's merged query, say).

        Args:
            question: the question as asked (kept in the answer).
            reading: the parsed query.
            fix: the hint an `InputError` gives when the query names something unknown.

        Raises:
            InputError: the query names a field or segment the workspace does not have.
        """
        return self._run(question, reading, fix, customers=False).answer

    def select(self, question: str) -> Selection:
        """Answer a question and return every customer it selects (for an export).

        Raises:
            NotUnderstood: the question could not be read.
            InputError: it names a field or segment the workspace does not have.
        """
        return self._run(question, self.read(question, self.catalogue()), ASK_FIX, customers=True)

    def select_spec(self, question: str, spec: QuerySpec) -> Selection:
        """Run a ready query (no parsing) and return every customer it selects.

        Raises:
            InputError: the query names a field or segment the workspace does not have.
        """
        return self._run(question, Reading(spec), SPEC_FIX, customers=True)

    def select_segment(self, segment: str) -> Selection:
        """Every customer of one segment, named by id or by name (case-insensitive; close
        spellings accepted).

        Raises:
            InputError: no segment has that id or a name close to it.
        """
        sid = _segment_id(self.catalogue(), segment)
        return self.select_spec(f"segment {sid}", QuerySpec(any_of=[[Condition(kind="segment",
                                                                                segment=sid)]]))

    def _run(self, question: str, reading: Reading, fix: str, *, customers: bool) -> Selection:
        with contextlib.closing(self.workspace.reader()) as con:
            cat = _cached_catalogue(self.workspace, con)
            facts = workspace_facts(con)
            currency = facts.currency
            spec = reading.spec
            try:
                found = product_matches(con, spec)
                # The parser's notes (an ambiguous "last quarter" read one way) go with the answer.
                answer = run_spec(con, question, spec, cat, self.glossary, reading.rewrites,
                                  matches=found, notes=reading.notes, facts=facts)
                answer.parser = reading.parser
                rows: list[dict[str, Any]] = []
                if customers:
                    compiled = compile_spec(spec, cat, self.glossary, con,
                                            {k: m.items for k, m in found.items()}, as_of=facts.as_of)
                    rows = select_customers(con, compiled)
                    if spec.kind == "customers":  # what a customer list's export writes beside each
                        add_reasons(con, spec, compiled, found, rows, currency)
            except SpecError as exc:
                raise InputError(str(exc), fix=fix) from exc
            return Selection(answer, rows, currency)


def ask(workspace: Workspace, question: str, *, glossary: Glossary | None = None,
        llm: str | None = None) -> Answer:
    """Answer one question: shorthand for `Answerer(workspace, ...).ask(question)`.

    Raises:
        NotUnderstood: the question could not be read.
        InputError: it names a field or segment the workspace does not have.
    """
    return Answerer(workspace, glossary=glossary, llm=llm).ask(question)


_CATALOGUES: dict[tuple[str, tuple[int, int, int]], Catalogue] = {}


def _cached_catalogue(workspace: Workspace, con: duckdb.DuckDBPyConnection) -> Catalogue:
    key = (str(workspace.db_path), workspace.version())
    if key not in _CATALOGUES:
        _CATALOGUES.clear()
        _CATALOGUES[key] = stored_catalogue(con, f"{key[0]}|{key[1]}")
    return _CATALOGUES[key]


def _segment_id(cat: Catalogue, segment: str) -> str:
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
    return sid
