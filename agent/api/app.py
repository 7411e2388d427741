"""The REST API and the web page (docs/cli.md): a thin FastAPI layer over the library the CLI uses.

Every `/api/` route returns the same JSON document as the matching CLI command. With a token,
each of them needs `Authorization: Bearer TOKEN`; the page itself and its static assets do not
(they hold no data) and every asset is served from this package — the page loads nothing from
the internet.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import plotly
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from segmint.agent.act.charts import segment_charts, shop_summary
from segmint.agent.act.customers import get_user, normalise_user_id, similar_customers
from segmint.agent.act.export import export_selection
from segmint.agent.act.projection import customer_map as build_map
from segmint.agent.api.act import router as act_router
from segmint.agent.api.audiences import router as audience_router
from segmint.agent.api.models import (
    MEDIA_TYPES,
    AskDocument,
    AskRequest,
    ChartsDocument,
    CustomerMapDocument,
    ErrorResponse,
    Segment,
    SegmentsDocument,
    SimilarDocument,
    Summary,
    UserDocument,
)
from segmint.agent.ask.answer import Answerer
from segmint.agent.ask.conversation import Conversation
from segmint.agent.core.errors import InputError, NotUnderstood, SegmintError, UsageError
from segmint.agent.core.sql import fetch_one
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.step import segments_document
from segmint.agent.query import QuerySpec

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad input: a question not understood, bad parameters"},
    401: {"model": ErrorResponse, "description": "Missing or wrong token"},
    404: {"model": ErrorResponse, "description": "Unknown segment or customer"},
    422: {"model": ErrorResponse, "description": "A malformed request (missing or mistyped field)"},
}


class ApiError(Exception):
    """An error with an HTTP status and a one-line message (rendered as `ErrorResponse`)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def _error(status: int, detail: str, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"status": status, "detail": detail, **extra}, status_code=status,
                        headers=headers)


def token_guard(token: str | None) -> Any:
    """A dependency that refuses requests without `Authorization: Bearer TOKEN` (401)."""

    def require(request: Request) -> None:
        if token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(),
                                                                    token.encode()):
            raise ApiError(401, "missing or wrong token: send 'Authorization: Bearer TOKEN' "
                                "(the token `segmint serve` was started with)")

    return require


def create_app(workspace: Path | str, token: str | None = None, *, llm: str | None = None) -> FastAPI:
    """The web app and REST API for one workspace.

    Args:
        workspace: a workspace with a completed run.
        token: when set, every `/api/` call needs `Authorization: Bearer TOKEN`.
        llm: a `--llm` spec for the question parser of `/api/ask` and `/api/export` (the built-in
            parser by default).

    Raises:
        UsageError: no run has completed in the workspace yet.
    """
    ws = Workspace(workspace)
    if not ws.exists():
        ws.connect()  # raises the one-line usage error
    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, and this server works offline.
    app = FastAPI(title="segmint", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Customer segments of one shop: ask, explore, export (docs/cli.md).")
    guard = [Depends(token_guard(token))]
    api = APIRouter(prefix="/api", dependencies=guard, responses=ERRORS)
    _add_routes(api, ws, Answerer(ws, llm=llm))
    app.include_router(api)
    app.include_router(act_router, prefix="/api", dependencies=guard, responses=ERRORS)
    app.include_router(audience_router, prefix="/api", dependencies=guard, responses=ERRORS)
    _add_page(app)
    _add_error_handlers(app)
    app.state.workspace = ws
    return app


def warm_up(workspace: Path | str) -> None:
    """Load what answering needs (text encoder, phrase mapper, the shop's text vectors) up front.

    The first question otherwise pays ~15 s of model loading; `segmint serve` calls this before it
    starts listening, so every request is answered at full speed.
    """
    answerer = Answerer(Workspace(workspace))
    for question in ("who are my lapsed high spenders?", "who bought gifts", "zzqx blorp"):
        # Only a warm-up: whatever fails here fails again, as a JSON error, on the real request.
        with contextlib.suppress(Exception):
            answerer.ask(question)


def _add_routes(api: APIRouter, ws: Workspace, answerer: Answerer) -> None:
    @api.get("/summary", response_model=Summary)
    def summary() -> dict[str, Any]:
        """The shop at a glance: customers, revenue, currency, reference date, segments, attributes."""
        with contextlib.closing(ws.reader()) as con:
            doc = shop_summary(con)
        values = answerer.catalogue().attribute_values
        # Attributes with a handful of values (age band, country, ...): what an audit can compare.
        # Attributes the shop supplied first; features such as top_category after them.
        doc["attributes"] = sorted((name for name, vals in values.items() if 2 <= len(vals) <= 50),
                                   key=lambda name: name == "top_category")
        return doc

    @api.get("/segments", response_model=SegmentsDocument)
    def segments() -> dict[str, Any]:
        """All segments with names, descriptions, facts and top terms (`segmint segments --json`)."""
        return _segments(ws)

    @api.get("/segments/{segment_id}", response_model=Segment)
    def segment(segment_id: str) -> dict[str, Any]:
        """One segment by id."""
        for seg in _segments(ws)["segments"]:
            if seg["id"] == segment_id.strip():
                return seg
        raise ApiError(404, f"no segment '{segment_id}': use an id from GET /api/segments")

    # Only the keys of the answer's kind, as `segmint ask --json` prints them.
    @api.post("/ask", response_model=AskDocument, response_model_exclude_unset=True)
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answer a question (`segmint ask --json`); with `context`, "of those, …" refines it."""
        conv = Conversation(answerer)
        if body.context:
            try:
                conv.spec = QuerySpec.model_validate(body.context)
            except ValidationError as exc:
                raise ApiError(400, f"context is not a query from a previous answer: "
                                    f"{_first_error(exc)}") from exc
        try:
            return conv.ask(body.question).to_json()
        except NotUnderstood as exc:
            raise ApiError(400, str(exc), question=body.question, understood=False,
                           answer=str(exc)) from exc

    @api.get("/export", response_class=Response,
             responses={200: {"content": {v.split(";")[0]: {} for v in MEDIA_TYPES.values()},
                              "description": "The customer list, one row per customer"}})
    def export(
        segment: Annotated[str | None, Query(description="Segment id or name")] = None,
        question: Annotated[str | None, Query(max_length=2000, description="A question")] = None,
        query: Annotated[str | None, Query(max_length=20000,
                                           description="An answer's `query` as JSON")] = None,
        fmt: Annotated[Literal["csv", "parquet", "jsonl"], Query(alias="format")] = "csv",
        hash_ids: bool = False,
    ) -> Response:
        """A campaign list (one row per customer, with a reason) for a segment, question or query."""
        if sum(x is not None for x in (segment, question, query)) != 1:
            raise ApiError(400, "give exactly one of segment=ID, question=TEXT or query=JSON")
        tmp_dir = Path(tempfile.mkdtemp(prefix="segmint-export-"))
        try:
            path = tmp_dir / f"customers.{fmt}"
            name = _write_export(ws, answerer, path, fmt, hash_ids, segment, question, query)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=f"{name}.{fmt}",
                            background=BackgroundTask(shutil.rmtree, tmp_dir, ignore_errors=True))

    @api.get("/users/{user_id}", response_model=UserDocument)
    def user(user_id: str) -> dict[str, Any]:
        """One customer: features, segment and why (`segmint user --json`)."""
        _require_user(ws, user_id)
        return get_user(ws, user_id)

    @api.get("/similar/{user_id}", response_model=SimilarDocument)
    def similar(user_id: str, k: Annotated[int, Query(ge=1, le=1000)] = 10) -> dict[str, Any]:
        """The customers whose histories are closest (`segmint similar --json`)."""
        _require_user(ws, user_id)
        return similar_customers(ws, user_id, k)

    @api.get("/map", response_model=CustomerMapDocument)
    def customer_map() -> dict[str, Any]:
        """Customers in 2-D, coloured by segment (sampled for big shops; the same every call)."""
        return build_map(ws).to_json()

    @api.get("/charts", response_model=ChartsDocument)
    def charts() -> dict[str, Any]:
        """Segment sizes, revenue shares and recency/frequency/monetary distributions."""
        with contextlib.closing(ws.reader()) as con:
            return segment_charts(con)


def _segments(ws: Workspace) -> dict[str, Any]:
    with contextlib.closing(ws.reader()) as con:
        return segments_document(con)


def _require_user(ws: Workspace, user_id: str) -> None:
    with contextlib.closing(ws.reader()) as con:
        found = fetch_one(con.execute("SELECT 1 FROM users WHERE user_id = ?",
                                      [normalise_user_id(user_id)]))
    if found is None:
        raise ApiError(404, f"customer '{user_id}' not found (ids are compared as text, e.g. 17850)")


def _write_export(ws: Workspace, answerer: Answerer, path: Path, fmt: str, hash_ids: bool,
                  segment: str | None, question: str | None, query: str | None) -> str:
    """Write the export file; returns a file name stem for the download."""
    if segment is not None:
        try:
            answer = export_selection(ws, answerer.select_segment(segment), path, fmt=fmt,
                                      hash_ids=hash_ids)
        except InputError as exc:
            raise ApiError(404, str(exc)) from exc
        sid = answer.query.get("any_of", [[{}]])[0][0].get("segment", segment)
        return f"segment-{sid}"
    if question is not None:
        try:
            selection = answerer.select(question)
        except NotUnderstood as exc:
            raise ApiError(400, str(exc)) from exc
        export_selection(ws, selection, path, fmt=fmt, hash_ids=hash_ids)
        return "customers"
    try:
        spec = QuerySpec.model_validate(json.loads(query or ""))
    except (ValueError, ValidationError) as exc:
        raise ApiError(400, "query is not the `query` of an answer (JSON)") from exc
    export_selection(ws, answerer.select_spec("query", spec), path, fmt=fmt, hash_ids=hash_ids)
    return "customers"


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _add_page(app: FastAPI) -> None:
    web = resources.files("segmint.agent.api") / "web"

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((web / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return FileResponse(plotly_js(), media_type="text/javascript",
                                headers={"Cache-Control": "max-age=86400"})
        types = {"app.js": "text/javascript", "audiences.js": "text/javascript", "style.css": "text/css"}
        if name not in types:
            raise ApiError(404, f"no asset '{name}'")
        return Response((web / name).read_text(encoding="utf-8"), media_type=types[name])


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the `plotly` Python package (no CDN)."""
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.detail, headers, **exc.extra)

    @app.exception_handler(InputError)
    def input_error(_: Request, exc: InputError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(NotUnderstood)
    def not_understood(_: Request, exc: NotUnderstood) -> JSONResponse:
        return _error(400, str(exc), understood=False)

    @app.exception_handler(UsageError)
    def usage_error(_: Request, exc: UsageError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(SegmintError)
    def segmint_error(_: Request, exc: SegmintError) -> JSONResponse:
        return _error(500, str(exc))

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}",
                      errors=json.loads(json.dumps(exc.errors(), default=str)))

    @app.exception_handler(StarletteHTTPException)
    def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"unexpected error: {type(exc).__name__}: {exc}")
