"""REST routes that act on segments: recommend, brief, audit (DESIGN §4).

`segmint.agent.api.create_app` includes `router` under `/api` with the same token guard and error
handling as every other `/api/` route (an `InputError` becomes a 400 JSON error), so routes added
here need neither. The routes `/api/recommend`, `/api/brief` and `/api/audit` belong here (added
with the recommend/brief/audit library); each should return the same JSON document as its CLI
command. A route gets the served workspace with `ws: Workspace = Depends(current_workspace)`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from segmint.agent.workspace import Workspace

router = APIRouter()


def current_workspace(request: Request) -> Workspace:
    """The workspace the app serves (a FastAPI dependency)."""
    ws: Workspace = request.app.state.workspace
    return ws
