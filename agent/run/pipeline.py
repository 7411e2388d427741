"""The orchestrator: composes the pipeline's steps into one run over a workspace.

Each step writes its own tables and returns a typed report; this module only orders the steps,
publishes `users` and `segments` (`segmint.agent.core.schema`) for the steps and readers after
them, and turns the reports into the run's counts and its `--json` document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from segmint.agent.audience.evaluate import refresh as refresh_audiences
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.runtime import offline_models
from segmint.agent.core.schema import USER_TEXT, assemble_segments, assemble_users
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.namers import make_namer
from segmint.agent.describe.step import describe_segments
from segmint.agent.ingest.activity import build_activity
from segmint.agent.ingest.events import carry_events, ingest
from segmint.agent.ingest.features import features_step
from segmint.agent.query.glossary import load_glossary
from segmint.agent.run.engine import Engine, LocalEngine
from segmint.agent.run.engines import open_engine
from segmint.agent.run.incremental import append_config, assign_to_existing
from segmint.agent.scores.ltv import LtvReport, score_ltv
from segmint.agent.scores.risk import score_risk
from segmint.agent.segment.build import SegmentParams
from segmint.agent.segment.store import segment_step
from segmint.embeddings import CustomerVectors, UserIndex, make_encoder

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


@dataclass
class EmbedReport:
    """What the embed stage did: texts, how many came from the cache, customers with text, index,
    texts left to the static tail model, and the stage's parts in seconds (documents, encode,
    pool, index)."""

    embedder: str
    fingerprint: str
    texts: int
    cached: int
    embedded: int
    encode_seconds: float
    users_with_text: int
    index: str
    static: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The `embedding` object of `segmint run --json`."""
        return asdict(self)


def embed_stage(con: duckdb.DuckDBPyConnection, config: RunConfig, files: Path,
                engine: Engine | None = None) -> tuple[CustomerVectors, EmbedReport]:
    """Customer vectors from their texts (unique texts only, cached), `user_text` and the
    lookalike index.

    Args:
        con: the run's connection with `events`.
        config: the run's settings (`embedder`).
        files: the run's side-file directory (the index goes there).
        engine: where encoding and pooling run (default: this process).

    Returns:
        The vectors, and what the stage did.
    """
    offline_models()
    try:
        make_encoder(config.embedder)
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[0], field="--embedder", kind="option",
                         fix="pick one of those") from exc
    vectors = (engine or LocalEngine()).embed(con, config.embedder)
    start = time.perf_counter()
    index = UserIndex.build(vectors.user_ids, vectors.vectors, fingerprint=vectors.fingerprint)
    index.save(files / INDEX_DIR)
    seconds = {**vectors.seconds, "index": round(time.perf_counter() - start, 3)}
    USER_TEXT.create(con)
    con.execute("INSERT INTO user_text SELECT unnest(?), unnest(?)",
                [vectors.user_ids, vectors.has_text.tolist()])
    stats = vectors.stats
    return vectors, EmbedReport(config.embedder, vectors.fingerprint, stats.texts, stats.cached,
                                stats.embedded, round(stats.seconds, 3),
                                int(vectors.has_text.sum()), index.kind, stats.static, seconds)


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
    mode = "appended, no refit" if append and not refit else "appended, refitted" if append else "full"
    clock = StageClock(progress)
    params = config.model_dump(mode="json", by_alias=True)
    params["files"] = [str(f) for f in files]
    with open_engine(engine, ray_address) as eng, ws.new_run("run", params) as (con, record):
        with clock.stage("ingest"):
            ingested = ingest(con, [Path(f) for f in files], config)
            appended_to = ({"run_id": ws.current_run_id(), "events": carry_events(con, ws.db_path)}
                           if append else None)
        with clock.stage("features"):
            features = features_step(con, config, ingested)
            build_activity(con)  # what event questions read (agent/ingest/activity.py)
        files_dir = ws.files_dir(record.run_id)
        with clock.stage("embed"):
            vectors, embedded = embed_stage(con, config, files_dir, eng)
        with clock.stage("segment"):
            if append and not refit:
                segmented = assign_to_existing(con, ws, eng, vectors.user_ids, vectors.vectors,
                                               vectors.has_text, files_dir)
            else:
                segmented = segment_step(
                    con, vectors.user_ids, vectors.vectors, vectors.has_text, files_dir=files_dir,
                    previous_db=ws.db_path if ws.exists() else None, assign=eng.assign,
                    params=SegmentParams(k=config.segments, min_segment_size=config.min_segment_size,
                                         seed=config.seed, reducer=config.reducer))
            ran_on = eng.describe()
        with clock.stage("risk"):  # anomaly scores per customer (agent/scores/risk.py)
            risk = score_risk(con, config.currency)
        ltv: LtvReport | None = None
        if config.ltv:
            with clock.stage("ltv"):  # lifetime value and churn per customer (agent/scores/ltv.py)
                ltv = score_ltv(con, features.as_of)
        with clock.stage("name"):
            assemble_users(con)  # profiles and glossary terms read every per-customer column
            glossary = load_glossary()
            namer, namer_problem = make_namer(config.llm, ws.path, glossary, features.users)
            described = describe_segments(con, glossary, currency=config.currency, namer=namer,
                                          fallback_reason=namer_problem)
            assemble_segments(con)
        record.counts = {
            **({"appended_to": appended_to} if appended_to is not None else {}),
            "mode": mode, "engine": ran_on, "risk": risk.to_json(),
            **({"ltv": ltv.to_json()} if ltv is not None else {}),
            "users": features.users, "events_in": ingested.events_in,
            "events_ok": ingested.events_ok, "events_rejected": ingested.events_rejected,
            "as_of": features.as_of.isoformat(), "reject_reasons": ingested.reject_reasons,
            "embedding": embedded.to_json(), "namers": described.namers(),
        }
        record.seconds = clock.seconds
    # Saved audiences and segments are recorded at every run (agent/audience/evaluate.py).
    refresh_audiences(ws)
    return RunResult(
        run_id=record.run_id,
        workspace=str(ws.path),
        users=features.users,
        events_in=ingested.events_in,
        events_ok=ingested.events_ok,
        events_rejected=ingested.events_rejected,
        segments=segmented.n_segments,
        noise_share=round(segmented.noise_share, 6),
        as_of=features.as_of,
        seconds=clock.seconds,
        reject_reasons=ingested.reject_reasons,
        files=[asdict(f) for f in ingested.files],
        users_file=None if features.users_file is None else features.users_file.to_json(),
        embedding=embedded.to_json(),
        mode=mode,
        engine=ran_on,
        appended_to=appended_to,
    )
