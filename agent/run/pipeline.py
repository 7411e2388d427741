"""The orchestrator: composes the pipeline's steps into one run over a workspace."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.runtime import offline_models
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.step import describe_segments
from segmint.agent.ingest.events import ingest
from segmint.agent.ingest.features import build_users, join_user_table, resolve_as_of
from segmint.agent.query.glossary import Glossary, load_glossary
from segmint.agent.run.engine import Engine, LocalEngine
from segmint.agent.run.engines import open_engine
from segmint.agent.run.incremental import append_config, assign_to_existing, carry_events
from segmint.agent.segment.build import SegmentParams
from segmint.agent.segment.store import segment_step

if TYPE_CHECKING:
    from segmint.agent.describe.naming_chain import LLMNamer
    from segmint.embeddings import CustomerVectors

ProgressHook = Callable[[str], None]


@dataclass
class RunResult:
    """What `segmint run` reports (docs/cli.md `run` JSON shape, plus details)."""

    run_id: str
    workspace: str
    users: int
    events_in: int
    events_ok: int
    events_rejected: int
    segments: int | None
    noise_share: float | None
    as_of: datetime
    seconds: dict[str, float]
    reject_reasons: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    users_file: dict[str, int] | None = None
    embedding: dict[str, Any] | None = None
    mode: str = "full"
    engine: dict[str, Any] | None = None
    appended_to: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON document `segmint run --json` prints."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return data


class StageClock:
    """Times named stages and tells a progress hook when each starts."""

    def __init__(self, hook: ProgressHook | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._hook = hook

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block under `name`."""
        if self._hook is not None:
            self._hook(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


INDEX_DIR = "user_index"


def embed_stage(con: duckdb.DuckDBPyConnection, config: RunConfig, files: Path,
                engine: Engine | None = None) -> tuple[CustomerVectors, dict[str, Any]]:
    """Customer vectors from their texts (unique texts only, cached) and the lookalike index.

    Args:
        con: the run's connection with `events`.
        config: the run's settings (`embedder`).
        files: the run's side-file directory (the index goes there).
        engine: where encoding and pooling run (default: this process).

    Returns:
        The vectors, and what the step did: texts, how many came from the cache, customers with
        text, index kind.
    """
    offline_models()
    from segmint.embeddings import UserIndex, make_encoder

    try:
        make_encoder(config.embedder)
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[0], field="--embedder", kind="option",
                         fix="pick one of those") from exc
    vectors = (engine or LocalEngine()).embed(con, config.embedder)
    index = UserIndex.build(vectors.user_ids, vectors.vectors, fingerprint=vectors.fingerprint)
    index.save(files / INDEX_DIR)
    con.execute("CREATE TABLE user_text AS SELECT * FROM (SELECT unnest(?) AS user_id, "
                "unnest(?) AS has_text)", [vectors.user_ids, vectors.has_text.tolist()])
    stats = vectors.stats
    return vectors, {"embedder": config.embedder, "fingerprint": vectors.fingerprint,
                     "texts": stats.texts, "cached": stats.cached, "embedded": stats.embedded,
                     "encode_seconds": round(stats.seconds, 3),
                     "users_with_text": int(vectors.has_text.sum()), "index": index.kind}


def make_namer(spec: str, log_dir: Path, glossary: Glossary, n_users: int
               ) -> tuple[LLMNamer | None, str | None]:
    """The LLM naming chain for a `--llm` spec (None for builtin), or the reason it cannot run."""
    from segmint.agent.describe.naming_chain import LLMNamer
    from segmint.agent.llm.backends import LLMError, make_chat_model, parse_llm_spec, probe
    from segmint.agent.llm.privacy import CallLog

    parsed = parse_llm_spec(spec)  # a malformed spec is a usage error (exit 2)
    if parsed.backend == "builtin":
        return None, None
    try:
        # One probe per run: a dead server costs seconds, not a timeout per segment.
        probe(parsed)
        model = make_chat_model(parsed, callbacks=[CallLog(log_dir, parsed.label,
                                                           remote=parsed.remote)])
    except LLMError as exc:
        return None, str(exc)
    if model is None:
        return None, None
    return LLMNamer(model, parsed.label, glossary, total_customers=n_users), None


def run(
    workspace: Workspace | Path | str,
    files: list[Path],
    config: RunConfig | None = None,
    *,
    progress: ProgressHook | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    append: bool = False,
    refit: bool = False,
) -> RunResult:
    """Run the whole pipeline over event files into a workspace, atomically.

    Args:
        workspace: the workspace (or its directory).
        files: event files (CSV, CSV.gz, Parquet, JSON Lines).
        config: settings; defaults apply when None.
        progress: called with each stage's name as it starts.
        engine: `local` or `ray` (embedding, pooling and assignment on a Ray cluster).
        ray_address: the Ray cluster to join; none starts Ray on this machine.
        append: add the files' events to the workspace's instead of replacing them
            (`segmint.agent.run.incremental`); customers go into the existing segments.
        refit: with `append`, fit the segments again over all customers.

    Returns:
        Counts, the reference time and per-stage seconds.

    Raises:
        InputError: unusable input; the workspace is left as it was.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    config = config or RunConfig()
    if append:
        config = append_config(ws, config, refit=refit)
    clock = StageClock(progress)
    params = config.model_dump(mode="json", by_alias=True)
    params["files"] = [str(f) for f in files]
    with open_engine(engine, ray_address) as eng, ws.new_run("run", params) as (con, record):
        with clock.stage("ingest"):
            report = ingest(con, [Path(f) for f in files], config)
            if append:
                record.counts["appended_to"] = {"run_id": ws.current_run_id(),
                                                "events": carry_events(con, ws.db_path)}
        with clock.stage("features"):
            as_of = resolve_as_of(con, config.as_of)
            has_order_id = any("order_id" in f.columns for f in report.files)
            n_users = build_users(
                con, as_of, has_order_id=has_order_id, attributes=report.attributes
            )
            users_file = None
            if config.users is not None:
                id_sources = tuple(
                    {f.columns["user_id"] for f in report.files if "user_id" in f.columns}
                )
                users_file = join_user_table(con, config.users, id_sources)
        files_dir = ws.files_dir(record.run_id)
        with clock.stage("embed"):
            vectors, embedded = embed_stage(con, config, files_dir, eng)
        with clock.stage("segment"):
            if append and not refit:
                segmented = assign_to_existing(con, ws, eng, vectors.user_ids, vectors.vectors,
                                               vectors.has_text, files_dir)
            else:
                params = SegmentParams(k=config.segments, min_segment_size=config.min_segment_size,
                                       seed=config.seed, reducer=config.reducer)
                segmented = segment_step(con, vectors.user_ids, vectors.vectors, vectors.has_text,
                                         files_dir=files_dir,
                                         previous_db=ws.db_path if ws.exists() else None,
                                         params=params, assign=eng.assign)
            record.counts["assign_model"] = segmented.holdout
            record.counts["mode"] = ("appended, no refit" if append and not refit else
                                     "appended, refitted" if append else "full")
            record.counts["engine"] = eng.describe()
        with clock.stage("risk"):  # anomaly scores per customer (agent/risk.py)
            from segmint.agent.scores.risk import score_risk

            record.counts["risk"] = score_risk(con, config.currency)
        if config.ltv:
            with clock.stage("ltv"):  # lifetime value and churn per customer (agent/ltv.py)
                from segmint.agent.scores.ltv import score_ltv

                record.counts["ltv"] = score_ltv(con, as_of)
        with clock.stage("name"):
            glossary = load_glossary()
            namer, namer_problem = make_namer(config.llm, ws.path, glossary, n_users)
            named = describe_segments(con, glossary, currency=config.currency, namer=namer,
                                      fallback_reason=namer_problem)
        record.counts.update({
            "users": n_users, "events_in": report.events_in, "events_ok": report.events_ok,
            "events_rejected": report.events_rejected, "as_of": as_of.isoformat(),
            "reject_reasons": report.reject_reasons,
            "embedding": embedded,
            "segments": segmented.summary(),
            "namers": {n.id: {"namer": n.namer, "reason": n.reason} for n in named},
        })
        record.seconds = clock.seconds
    return RunResult(
        run_id=record.run_id,
        workspace=str(ws.path),
        users=n_users,
        events_in=report.events_in,
        events_ok=report.events_ok,
        events_rejected=report.events_rejected,
        segments=segmented.n_segments,
        noise_share=round(segmented.noise_share, 6),
        as_of=as_of,
        seconds=clock.seconds,
        reject_reasons=report.reject_reasons,
        files=[asdict(f) for f in report.files],
        users_file=users_file,
        embedding=embedded,
        mode=record.counts["mode"],
        engine=record.counts["engine"],
        appended_to=record.counts.get("appended_to"),
    )
