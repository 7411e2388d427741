"""Incremental runs: new events appended to an existing workspace (`segmint run NEW --append`).

What an appended run does, compared with a full run over all events:

- ingest: only the new files are read; the workspace's events (and rejects) are copied over, so
  the new database holds everything seen so far;
- features: recomputed over all events (DuckDB; a new event can change any feature, e.g. as_of);
- embed: customer documents over all events, but only texts the vector cache has never seen are
  encoded (every earlier text is cached under the same encoder fingerprint);
- segment: without ``--refit``, everyone is placed into the existing segments with the stored
  model (the nearest-centroid rule the fit itself used), keeping ids and centroids; with
  ``--refit``, the segments are fitted again over all customers (ids stay stable where the
  segments do, as in any re-run).

The mapping, attributes and embedder of the run that built the workspace apply unless given again
(an appended file with other column names needs its own ``--map``). Events are appended as given:
appending the same file twice counts its events twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError, UsageError
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.engine import Engine
from segmint.agent.segment.build import UNASSIGNED, SegmentInfo, SegmentResult
from segmint.agent.segment.stable_ids import transitions
from segmint.agent.segment.store import behaviour_matrix, load_model, read_previous, save_model
from segmint.agent.segment.store import write_segments as store_segments

# Settings of the earlier run that describe the data, not this invocation.
_NOT_CARRIED = ("files", "as_of")


def previous_run_params(workspace: Workspace) -> dict[str, Any]:
    """The recorded settings of the latest `run` that built the workspace.

    Raises:
        UsageError: no completed run in the workspace.
    """
    latest = workspace.latest_run()
    if latest is None:
        raise UsageError(f"{workspace.path}: nothing to append to — run `segmint run EVENTS -w "
                         f"{workspace.path}` first, then --append new events")
    return dict(latest.params)


def append_config(workspace: Workspace, config: RunConfig, *, refit: bool) -> RunConfig:
    """The settings of an appended run: the workspace's, overridden by what was given now.

    Args:
        workspace: the workspace appended to.
        config: this invocation's settings; only fields explicitly set override.
        refit: whether segments are fitted again (then the embedder may change).

    Raises:
        UsageError: other attributes than the workspace's, or another embedder without --refit.
    """
    before = previous_run_params(workspace)
    merged = {k: v for k, v in before.items() if k not in _NOT_CARRIED}
    given = config.model_dump(mode="json", by_alias=True, include=config.model_fields_set)
    if merged.get("users") and not Path(merged["users"]).exists():
        merged.pop("users")
    merged.update(given)
    result = RunConfig.model_validate(merged)
    old_attrs = sorted(before.get("attr") or {})
    if sorted(result.attributes) != old_attrs:
        raise UsageError(f"--append keeps the workspace's attributes ({', '.join(old_attrs) or 'none'});"
                         " run without --append to change them")
    old_embedder = before.get("embedder", result.embedder)
    if not refit and result.embedder != old_embedder:
        raise UsageError(f"the workspace's segments were fitted on --embedder {old_embedder}; "
                         "add --refit to fit them again with another embedder")
    return result


def segment_infos(labels: npt.NDArray[np.int64], result_model: Any) -> list[SegmentInfo]:
    """Sizes and shares of the model's segments for these labels (Unassigned first)."""
    n = max(len(labels), 1)
    counts = dict(zip(*np.unique(labels, return_counts=True), strict=True))
    out = [SegmentInfo(UNASSIGNED, "unassigned", int(counts.get(UNASSIGNED, 0)),
                       int(counts.get(UNASSIGNED, 0)) / n, np.zeros(0, dtype=np.float32))]
    for space in result_model.spaces:
        for c, sid in enumerate(space.ids):
            size = int(counts.get(int(sid), 0))
            out.append(SegmentInfo(int(sid), space.kind, size, size / n, space.raw_centroids[c],
                                   float(space.radius[c])))
    return sorted(out, key=lambda s: (s.id != UNASSIGNED, -s.size, s.id))


def assign_to_existing(con: duckdb.DuckDBPyConnection, workspace: Workspace, engine: Engine,
                       user_ids: list[str], vectors: npt.NDArray[np.floating],
                       has_text: npt.NDArray[np.bool_], files_dir: Path) -> SegmentResult:
    """Place every customer into the workspace's existing segments (no refit) and write the tables.

    Args:
        con: the new run's connection (with the recomputed `users`).
        workspace: the workspace appended to (its current run holds the model).
        engine: where the FAISS assignment runs.
        user_ids, vectors, has_text: all customers, as the embed stage returned them.
        files_dir: the new run's side-file directory (the model is stored there again).

    Raises:
        InputError: the workspace has no segment model, or one for vectors of another size.
    """
    try:
        model = load_model(workspace.current_files())
    except FileNotFoundError as exc:
        raise InputError(str(exc), fix="run without --append (or with --refit)") from exc
    interest = model.space("interest")
    if interest is not None and interest.centroids.shape[1] != vectors.shape[1]:
        raise InputError(f"the segment model expects {interest.centroids.shape[1]}-d vectors, the "
                         f"encoder gives {vectors.shape[1]}", field="--embedder", kind="option",
                         fix="use the workspace's embedder or add --refit")
    behaviour = behaviour_matrix(con, user_ids)
    labels, member, near = engine.predict(model, vectors, has_text, behaviour)
    previous = read_previous(con, workspace.db_path, user_ids)
    segments = segment_infos(labels, model)
    kinds = {s.id: s.kind for s in segments if s.id != UNASSIGNED}
    fitted = workspace.segment_run()
    before = fitted.summary if fitted is not None else {}
    result = SegmentResult(
        labels=labels, membership=member, nearest=near, segments=segments,
        noise_share=float((labels == UNASSIGNED).mean()) if len(labels) else 0.0,
        transitions=transitions(labels, previous, kinds), model=model,
        fit={"mode": "assigned to existing segments (no refit)",
             "fitted_by_run": workspace.current_run_id()},
        quality=before.get("quality", {}), holdout=before.get("newcomer_model", {}))
    path = save_model(result, files_dir)
    store_segments(con, user_ids, result, model_file=path)
    return result
