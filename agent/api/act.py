"""REST routes that act on segments: recommend, brief, audit (docs/cli.md).

`segmint.agent.api.app.create_app` includes `router` under `/api` with the same token guard and error
handling as every other `/api/` route (an `InputError` becomes a 400 JSON error), so routes added
here need neither. The routes `/api/recommend`, `/api/brief` and `/api/audit` belong here (added
with the recommend/brief/audit library); each should return the same JSON document as its CLI
command. A route gets the served workspace with `ws: Workspace = Depends(current_workspace)`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from segmint.agent.act.audit import audit as run_audit
from segmint.agent.act.brief import campaign_brief
from segmint.agent.act.recommend import recommend_segment, recommend_user
from segmint.agent.core.errors import UsageError
from segmint.agent.core.workspace import Workspace

router = APIRouter()


def current_workspace(request: Request) -> Workspace:
    """The workspace the app serves (a FastAPI dependency)."""
    ws: Workspace = request.app.state.workspace
    return ws


WorkspaceDep = Annotated[Workspace, Depends(current_workspace)]


@router.get("/recommend")
def recommend(ws: WorkspaceDep, segment: str | None = None, user: str | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 10) -> dict[str, Any]:
    """Products to promote to a segment (`segment=ID|NAME`) or to one customer (`user=ID`)."""
    if (segment is None) == (user is None):
        raise UsageError("give exactly one of segment=ID|NAME or user=ID")
    if segment is not None:
        return recommend_segment(ws, segment, limit=limit)
    return recommend_user(ws, str(user), limit=limit)


@router.get("/brief")
def brief(ws: WorkspaceDep, segment: str) -> dict[str, Any]:
    """A campaign brief for a segment, from verified facts (the built-in writer)."""
    return campaign_brief(ws, segment)


@router.get("/audit")
def audit(ws: WorkspaceDep, attribute: str, question: str | None = None) -> dict[str, Any]:
    """Representation of each attribute value per segment (or among a question's customers)."""
    return run_audit(ws, attribute, question=question)
