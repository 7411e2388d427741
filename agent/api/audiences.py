"""REST routes for audiences over time: the same JSON as `segmint audience …`, `history`, `overlap`,
`compare` and `trend` (docs/cli.md).

`segmint.agent.api.app.create_app` includes `router` under `/api` with the token guard and the
error handling of every `/api/` route (an `InputError` becomes a 400 JSON error).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from segmint.agent.act.export import export_diff, export_selection
from segmint.agent.api.act import WorkspaceDep
from segmint.agent.api.models import MEDIA_TYPES
from segmint.agent.ask.answer import Answerer
from segmint.agent.audience import (
    AudienceStore,
    compare,
    diff,
    evaluate,
    exclude,
    list_audiences,
    overlap,
    resolve,
    save_audience,
    segment_history,
    show_audience,
    trend,
)
from segmint.agent.core.errors import UsageError
from segmint.agent.query import QuerySpec

router = APIRouter()


class SaveRequest(BaseModel):
    """`POST /api/audiences`: save a question's or a segment's definition under a name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    question: str | None = Field(default=None, max_length=2000)
    segment: str | None = Field(default=None, max_length=200)
    query: QuerySpec | None = None
    replace: bool = False


@router.get("/audiences")
def audiences(ws: WorkspaceDep) -> dict[str, Any]:
    """Every saved audience with its size at each recorded run (`segmint audience list --json`)."""
    return list_audiences(Answerer(ws))


@router.post("/audiences")
def save(ws: WorkspaceDep, body: SaveRequest) -> dict[str, Any]:
    """Save an audience (`segmint audience save --json`)."""
    return save_audience(Answerer(ws), body.name, question=body.question, segment=body.segment,
                         spec=body.query, replace=body.replace)


@router.get("/audiences/{name}")
def show(ws: WorkspaceDep, name: str) -> dict[str, Any]:
    """One audience: definition, sample and history (`segmint audience show --json`)."""
    return show_audience(Answerer(ws), name)


@router.delete("/audiences/{name}")
def delete(ws: WorkspaceDep, name: str) -> dict[str, Any]:
    """Delete an audience and its history."""
    return {"deleted": AudienceStore(ws).delete(name).name}


@router.get("/audiences/{name}/diff")
def audience_diff(ws: WorkspaceDep, name: str, since: str | None = None) -> dict[str, Any]:
    """Who entered and left since a run or date (`segmint audience diff --json`)."""
    return diff(ws, name, since).to_json()


Format = Annotated[Literal["csv", "parquet", "jsonl"], Query(alias="format")]


@router.get("/audiences/{name}/export", response_class=Response)
def audience_export(ws: WorkspaceDep, name: str, fmt: Format = "csv",
                    exclude_: Annotated[list[str] | None, Query(alias="exclude")] = None,
                    ) -> Response:
    """An audience's current members as a campaign file, minus any `exclude` audiences."""
    answerer = Answerer(ws)
    audience = AudienceStore(ws).get(name)
    selection = exclude(answerer, evaluate(answerer, audience), exclude_ or [])
    return _file(f"audience.{fmt}", lambda path: export_selection(
        ws, selection, path, fmt=fmt, audience=audience.name, excluded=exclude_ or []))


@router.get("/audiences/{name}/diff/export", response_class=Response)
def audience_diff_export(ws: WorkspaceDep, name: str, since: str | None = None,
                         fmt: Format = "csv") -> Response:
    """Who entered and left since a run or date as a campaign file (`segmint audience diff
    --export`): `why` starts with `entered:` or `left:`."""
    result = diff(ws, name, since)
    return _file(f"audience-changes.{fmt}", lambda path: export_diff(ws, result, path, fmt))


def _file(name: str, write: Callable[[Path], object]) -> FileResponse:
    """A file written by `write` into a temporary folder, sent, then removed."""
    tmp_dir = Path(tempfile.mkdtemp(prefix="segmint-audience-"))
    try:
        path = tmp_dir / name
        write(path)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return FileResponse(path, media_type=MEDIA_TYPES[name.rsplit(".", 1)[1]], filename=name,
                        background=BackgroundTask(shutil.rmtree, tmp_dir, ignore_errors=True))


@router.get("/history")
def history(ws: WorkspaceDep) -> dict[str, Any]:
    """Segments and audiences over runs (`segmint history --json`)."""
    return segment_history(ws)


@router.get("/overlap")
def overlap_route(ws: WorkspaceDep, target: Annotated[list[str], Query()]) -> dict[str, Any]:
    """Overlap of two or more audiences, segments or questions (`segmint overlap --json`)."""
    if len(target) < 2:
        raise UsageError("give two or more target= parameters")
    answerer = Answerer(ws)
    return overlap([resolve(answerer, t) for t in target])


@router.get("/compare")
def compare_route(ws: WorkspaceDep, a: str, b: str) -> dict[str, Any]:
    """Two segments or audiences side by side (`segmint compare --json`)."""
    answerer = Answerer(ws)
    return compare(answerer, resolve(answerer, a), resolve(answerer, b))


@router.get("/trend")
def trend_route(ws: WorkspaceDep, target: str) -> dict[str, Any]:
    """Monthly customers, orders and revenue, and cohort retention (`segmint trend --json`)."""
    answerer = Answerer(ws)
    return trend(answerer, resolve(answerer, target))
