"""The Ray engine on a real local Ray runtime (2 CPUs): same vectors, same segments as local."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

ray = pytest.importorskip("ray")

from segmint.agent.core.config import RunConfig  # noqa: E402
from segmint.agent.core.errors import UsageError  # noqa: E402
from segmint.agent.core.workspace import Workspace, connect  # noqa: E402
from segmint.agent.ingest.events import ingest  # noqa: E402
from segmint.agent.run.engine import LocalEngine  # noqa: E402
from segmint.agent.run.engines import open_engine  # noqa: E402
from segmint.agent.run.pipeline import run  # noqa: E402
from segmint.agent.run.ray_engine import RayEngine  # noqa: E402
from segmint.agent.segment.build import build_segments  # noqa: E402
from segmint.data.synth import generate  # noqa: E402
from segmint.embeddings import pool_users  # noqa: E402


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    """A real local Ray with 2 CPUs for the module; engines join it and leave it running."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _events_con(path: Path):  # type: ignore[no-untyped-def]
    con = connect(":memory:")
    ingest(con, [path], RunConfig())
    return con


def test_embed_on_actors_matches_local(ray_runtime: None, write_events, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    words = ["linen", "oak", "ceramic", "espresso", "wool", "garden", "lamp", "kettle", "rug"]
    # Texts no cache has seen (a token unique to this test run), so both engines really encode.
    salt = tmp_path.name[-6:]
    texts = [f"{' '.join(rng.choice(words, 3))} {salt}{i}" for i in range(40)]
    rows = [{"user_id": f"u{u}", "timestamp": f"2026-01-{1 + (u + k) % 27:02d}",
             "event_type": "purchase", "text": texts[int(rng.integers(len(texts)))]}
            for u in range(30) for k in range(4)]
    con = _events_con(write_events(rows))
    monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path / "cache-local"))
    local = LocalEngine().embed(con, "minilm")
    monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path / "cache-ray"))
    engine = RayEngine.start(rows_per_task=7)
    try:
        remote = engine.embed(con, "minilm")
        assert engine.describe()["encoder_actors"] >= 1
    finally:
        engine.close()
    assert ray.is_initialized()  # the engine joined the runtime, so it leaves it up
    assert remote.stats.embedded == local.stats.embedded == len(set(texts) & set(local.documents.texts))
    assert remote.user_ids == local.user_ids
    np.testing.assert_array_equal(remote.has_text, local.has_text)
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-5)


def test_embed_on_actors_applies_the_specs_tail_options(ray_runtime: None, write_events,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    salt = tmp_path.name[-6:]
    spellings = [f"Red Mug {salt}", f"red  mug {salt}", f"mug, red {salt}", f"oak table {salt}"]
    rows = [{"user_id": f"u{u}", "timestamp": "2026-01-02", "event_type": "purchase",
             "text": spellings[u % 4]} for u in range(12)]
    con = _events_con(write_events(rows))
    monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path / "cache"))
    local = LocalEngine().embed(con, "minilm+normalise")
    engine = RayEngine.start()
    try:
        remote = engine.embed(con, "minilm+normalise")
    finally:
        engine.close()
    # The three spellings of one text are one text on both engines, encoded once.
    assert len(remote.documents.texts) == len(local.documents.texts) == 2
    assert remote.user_ids == local.user_ids
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-5)


@pytest.mark.parametrize("rows_per_task", [1, 13, 10_000])
def test_pooling_in_blocks_is_exact(ray_runtime: None, rows_per_task: int) -> None:
    rng = np.random.default_rng(rows_per_task)
    weights = sp.random(120, 50, density=0.1, format="csr", random_state=rows_per_task,
                        dtype=np.float32)
    text_vectors = rng.normal(size=(50, 16)).astype(np.float32)
    engine = RayEngine(None, started=False, rows_per_task=rows_per_task)
    np.testing.assert_array_equal(engine.pool(weights, text_vectors),
                                  pool_users(weights, text_vectors))


@pytest.mark.parametrize("rows_per_task", [97, 1_000_000])
def test_assignment_in_blocks_is_exact(ray_runtime: None, rows_per_task: int) -> None:
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 32))
    vectors = (centres[rng.integers(4, size=900)] + 0.4 * rng.normal(size=(900, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    has_text = rng.random(900) > 0.1
    behaviour = np.column_stack([rng.integers(0, 300, 900), rng.integers(1, 9, 900),
                                 rng.gamma(2, 50, 900), rng.integers(1, 40, 900)]).astype(float)
    local = build_segments(vectors, has_text, behaviour, k=4)
    model = local.model
    engine = RayEngine(None, started=False, rows_per_task=rows_per_task)
    for got, want in zip(engine.predict(model, vectors, has_text, behaviour),
                         model.predict(vectors, has_text, behaviour), strict=True):
        np.testing.assert_array_equal(got, want)
    # The segment step's own FAISS pass, in Ray tasks: the same segments for every customer.
    remote = build_segments(vectors, has_text, behaviour, k=4, assign=engine.assign)
    np.testing.assert_array_equal(remote.labels, local.labels)
    np.testing.assert_allclose(remote.membership, local.membership, atol=1e-4)


def test_run_with_ray_engine_gives_the_local_segments(ray_runtime: None, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shop = generate(400, tmp_path / "shop.parquet", seed=3).events_path
    results = {}
    for engine in ("local", "ray"):
        ws = Workspace(tmp_path / engine)
        # Cold caches: the Ray run encodes on actors holding both CPUs, then pools in tasks
        # (which must not wait for CPUs the idle actors still hold).
        monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path / f"cache-{engine}"))
        results[engine] = run(ws, [shop], RunConfig(embedder="minilm-numpy"), engine=engine)
        with contextlib.closing(ws.connect()) as con:
            results[engine + "_users"] = con.execute(
                "SELECT user_id, segment_id, membership FROM users ORDER BY user_id").fetchall()
            results[engine + "_segments"] = con.execute(
                "SELECT segment_id, size, name FROM segments ORDER BY segment_id").fetchall()
    assert results["ray"].engine is not None and results["ray"].engine["engine"] == "ray"
    assert results["ray"].engine["encoder_actors"] >= 1
    assert results["ray"].embedding is not None and results["ray"].embedding["embedded"] > 0
    # Actors encode the very batches a local run does (the same vectors, bit for bit) and Ray
    # tasks assign them: the same segment for everyone. Memberships (interpolated between
    # similarity quantiles) agree to 1e-4, since a Ray worker's BLAS sums in its own order.
    ray_users, local_users = results["ray_users"], results["local_users"]
    assert [u[:2] for u in ray_users] == [u[:2] for u in local_users]
    np.testing.assert_allclose([u[2] for u in ray_users], [u[2] for u in local_users], atol=1e-4)
    assert results["ray_segments"] == results["local_segments"]


@pytest.mark.parametrize(("engine", "address"), [("spark", None), ("local", "10.0.0.1:6379")])
def test_bad_engine_options_are_usage_errors(engine: str, address: str | None) -> None:
    with pytest.raises(UsageError), open_engine(engine, address):
        pass
