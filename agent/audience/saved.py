"""The documents of `audience save|list|show`, shared by the CLI and the REST API (docs/cli.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from segmint.agent.ask.answer import Answerer
from segmint.agent.audience.evaluate import evaluate, refresh
from segmint.agent.audience.store import (
    Audience,
    AudienceStore,
    Source,
    audience_target,
    check_name,
)
from segmint.agent.core.errors import UsageError
from segmint.agent.query import Condition, QuerySpec


def save_audience(answerer: Answerer, name: str, *, question: str | None = None,
                  segment: str | None = None, spec: QuerySpec | None = None,
                  exported: dict[str, Any] | None = None, replace: bool = False) -> dict[str, Any]:
    """Save an audience defined by a question, a segment or an export's definition, evaluate it
    now, and describe it.

    Args:
        answerer: the workspace's answerer.
        name: the audience's name.
        question: the question that defines it.
        segment: or the segment (id or name) that defines it.
        spec: the query an answer already read for `question` (a follow-up's merged query, say);
            saved as it is instead of reading the question again.
        exported: or the definition an export carries (`act.export.read_definition`): its query
            is saved, never the file's rows.
        replace: overwrite an audience of the same name.

    Raises:
        UsageError: not exactly one of question, segment and exported.
        NotUnderstood: the question cannot be read.
        InputError: a bad or taken name, or a definition the workspace cannot answer.
    """
    if sum(x is not None for x in (question, segment, exported)) != 1:
        raise UsageError("give exactly one of --question Q, --segment ID|NAME or --from-export FILE")
    name = check_name(name)
    notes: list[str] = []
    if exported is not None:
        spec = QuerySpec.model_validate(exported["query"])
        audience = _audience(answerer, name, "export", str(exported["question"]), spec)
        notes = _export_notes(exported, audience.created_run)
    elif question is not None:
        spec = spec or answerer.read(question, answerer.catalogue()).spec
        audience = _audience(answerer, name, "question", question, spec)
    else:
        sid = answerer.select_segment(str(segment)).answer.query["any_of"][0][0]["segment"]
        spec = QuerySpec(any_of=[[Condition(kind="segment", segment=str(sid))]])
        audience = _audience(answerer, name, "segment", f"segment {sid}", spec)
    selection = evaluate(answerer, audience)  # refuses a definition the workspace cannot answer
    AudienceStore(answerer.workspace).save(audience, replace=replace)
    refresh(answerer.workspace, answerer)
    doc = {**audience.to_json(), "size": selection.answer.count,
           "definition": selection.answer.definition, "moves_with_as_of": relative(spec),
           "notes": notes}
    if exported is not None:
        doc["exported"] = {k: exported.get(k) for k in ("source", "audience", "segment_id",
                                                        "run_id", "as_of", "excluded_audiences")}
    return doc


def _export_notes(exported: dict[str, Any], run_id: str | None) -> list[str]:
    """What a reader of an audience saved from an export should know: what the definition leaves
    out, and that it is evaluated now, not as of the export."""
    notes = []
    if exported.get("excluded_audiences"):
        names = ", ".join(f"“{n}”" for n in exported["excluded_audiences"])
        notes.append(f"the export also left out the members of {names}; the saved definition "
                     "does not (add --exclude when you export it)")
    if exported.get("contents") not in (None, "members"):
        notes.append(f"the file held {exported['contents']}; the audience is the definition's "
                     "members")
    if exported.get("as_of") and exported.get("run_id") != run_id:
        notes.append(f"exported from an earlier run (as of {str(exported['as_of'])[:10]}); "
                     "evaluated on the current one")
    return notes


def list_audiences(answerer: Answerer) -> dict[str, Any]:
    """Every saved audience with its size at each recorded run."""
    refresh(answerer.workspace, answerer, wait=False)
    store = AudienceStore(answerer.workspace)
    docs = []
    for audience in store.saved():
        history = store.history(audience_target(audience.name))
        docs.append({**audience.to_json(), "moves_with_as_of": relative(audience.spec),
                     "sizes": [{"run_id": r.run_id, "as_of": r.as_of, "size": r.size,
                                "entered": r.entered, "left": r.left} for r in history]})
    return {"audiences": docs}


def show_audience(answerer: Answerer, name: str) -> dict[str, Any]:
    """One audience: its definition as it reads now (actual dates), sample and history.

    Raises:
        InputError: no audience has that name.
    """
    refresh(answerer.workspace, answerer, wait=False)
    store = AudienceStore(answerer.workspace)
    audience = store.get(name)
    selection = evaluate(answerer, audience)
    return {**audience.to_json(), "size": selection.answer.count,
            "definition": selection.answer.definition, "moves_with_as_of": relative(audience.spec),
            "sample": selection.answer.sample,
            "history": [r.to_json() for r in store.history(audience_target(audience.name))]}


def relative(spec: QuerySpec) -> bool:
    """Whether a definition has a window relative to as_of (it moves with every run)."""
    windows = [c.window for g in spec.any_of for c in g if c.window is not None]
    if spec.measure is not None and spec.measure.window is not None:
        windows.append(spec.measure.window)
    return any(w.last is not None or w.period is not None for w in windows)


def _audience(answerer: Answerer, name: str, source: Source, question: str,
              spec: QuerySpec) -> Audience:
    run = answerer.workspace.latest_run()
    return Audience(name=name, source=source, question=question, spec=spec,
                    created_at=datetime.now(UTC).replace(tzinfo=None),
                    created_run=None if run is None else run.run_id)
