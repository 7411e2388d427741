"""Put new customers into a workspace's existing segments without refitting (`segmint assign`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.runtime import offline_models
from segmint.agent.core.workspace import Workspace, connect
from segmint.agent.ingest.events import ingest
from segmint.agent.ingest.features import build_users, resolve_as_of
from segmint.agent.segment.assign import assign, write_assignment
from segmint.agent.segment.store import behaviour_matrix, load_model
from segmint.embeddings import embed_customers


def workspace_config(workspace: Workspace) -> RunConfig:
    """The settings of the run that built the workspace (mapping, attributes, embedder...)."""
    latest = workspace.latest_run()
    params = dict(latest.params) if latest is not None else {}
    params.pop("files", None)
    params.pop("users", None)
    params.pop("as_of", None)
    return RunConfig.model_validate(params)


def assign_newcomers(workspace: Workspace, files: list[Path], output: Path) -> dict[str, Any]:
    """Ingest new events apart from the workspace, embed them and place each customer.

    The workspace is only read. Columns are mapped as in the run that built it, and customers are
    embedded with the same encoder, so they land where a re-run with the same model would put them.

    Returns:
        Counts per segment and where the file was written.

    Raises:
        InputError: unusable files, or a workspace without a segment model.
    """
    config = workspace_config(workspace)
    try:
        model = load_model(workspace.current_files())
    except FileNotFoundError as exc:
        raise InputError(str(exc), fix="run `segmint run` on this workspace first") from exc
    names = {s.id: str(s.name) for s in workspace.segments()}
    with contextlib.closing(connect(":memory:")) as con:
        report = ingest(con, files, config)
        as_of = resolve_as_of(con, None)
        has_order_id = any("order_id" in f.columns for f in report.files)
        build_users(con, as_of, has_order_id=has_order_id, attributes=report.attributes)
        offline_models()
        vectors = embed_customers(con, config.embedder)
        behaviour = behaviour_matrix(con, vectors.user_ids)
    result = assign(model, vectors.vectors, vectors.has_text, behaviour)
    write_assignment(output, vectors.user_ids, result, names)
    counts: dict[str, int] = {}
    for label in result.labels.tolist():
        key = names.get(label, str(label))
        counts[key] = counts.get(key, 0) + 1
    return {"customers": len(vectors.user_ids), "events_in": report.events_in,
            "events_rejected": report.events_rejected, "segments": counts,
            "output": str(output)}
