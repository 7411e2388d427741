"""Persistent vector cache: embed only never-seen texts, survive killed writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pytest

from segmint.agent.core.schema import EVENTS_DDL
from segmint.embeddings import (
    Encoder,
    VectorCache,
    embed_customers,
    embed_texts,
    make_encoder,
)
from segmint.embeddings.cache import text_keys


class Counting:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.calls = 0
        self.texts = 0

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return make_encoder("minilm")


def shop(rows: list[tuple[str, str, str]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    add_events(con, rows)
    return con


def add_events(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str]]) -> None:
    con.executemany(
        "INSERT INTO events (user_id, ts, event_type, text, source_file) VALUES (?, ?, ?, ?, 'f')",
        [(u, datetime(2024, 5, 1), t, x) for u, t, x in rows],
    )


ROWS = [
    ("u1", "purchase", "red coffee mug"),
    ("u1", "view", "blue tea cup"),
    ("u2", "search", "mountain bike"),
    ("u2", "purchase", "bike helmet"),
    ("u3", "purchase", "red coffee mug"),
    ("u4", "purchase", None),
]


def test_rerun_embeds_nothing_and_gives_identical_vectors(minilm: Encoder, tmp_path: Path) -> None:
    con = shop(ROWS)  # type: ignore[arg-type]
    first_encoder = Counting(minilm)
    first = embed_customers(con, first_encoder, cache_root=tmp_path)
    assert first.stats.embedded == 4 and first_encoder.texts == 4
    again = Counting(minilm)
    second = embed_customers(con, again, cache_root=tmp_path)
    assert again.calls == 0 and again.texts == 0
    assert second.stats.embedded == 0 and second.stats.cached == 4
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert second.has_text.tolist() == [True, True, True, False]


def test_incremental_run_and_other_workspace_embed_only_new_texts(
    minilm: Encoder, tmp_path: Path
) -> None:
    con = shop(ROWS)  # type: ignore[arg-type]
    embed_customers(con, minilm, cache_root=tmp_path)
    add_events(con, [("u5", "purchase", "bike helmet"), ("u5", "search", "yoga mat"),
                     ("u1", "cart", "yoga mat"), ("u6", "view", "espresso machine")])
    counting = Counting(minilm)
    result = embed_customers(con, counting, cache_root=tmp_path)
    assert counting.texts == 2 and result.stats.embedded == 2
    other_workspace = shop([("x", "purchase", "espresso machine"), ("y", "view", "red coffee mug")])
    counting = Counting(minilm)
    embed_customers(other_workspace, counting, cache_root=tmp_path)
    assert counting.texts == 0


def test_cached_vectors_equal_fresh_ones(minilm: Encoder, tmp_path: Path) -> None:
    texts = ["lamp shade", "garden hose", "lamp shade"]
    cache = VectorCache.for_encoder(minilm, tmp_path)
    counting = Counting(minilm)
    vectors, stats = embed_texts(texts, counting, cache)
    assert stats.embedded == 2 and counting.texts == 2  # the duplicate is embedded once
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_allclose(vectors, minilm.encode(texts), atol=1e-6)
    reopened = VectorCache.for_encoder(minilm, tmp_path)
    found, stored = reopened.lookup(text_keys(texts))
    assert found.all()
    np.testing.assert_array_equal(stored, vectors)


def test_different_encoders_do_not_share_vectors(minilm: Encoder, tmp_path: Path) -> None:
    embed_texts(["lamp"], minilm, VectorCache.for_encoder(minilm, tmp_path))
    other = VectorCache("some-other-model:v1", 384, tmp_path)
    assert len(other) == 0
    with pytest.raises(ValueError):
        VectorCache(minilm.fingerprint, 128, tmp_path)


def fake_vectors(ids: np.ndarray, dim: int) -> np.ndarray:
    """Deterministic per-id vectors, so any stored row can be checked against its key."""
    return (np.asarray(ids)[:, None] * 1000.0 + np.arange(dim)[None, :]).astype(np.float32)


def test_many_shards_are_compacted_without_losing_vectors(tmp_path: Path) -> None:
    cache = VectorCache("shards:v1", 4, tmp_path)
    for start in range(0, 400, 10):
        ids = np.arange(start, start + 10)
        cache.put(text_keys([f"t{i}" for i in ids]), fake_vectors(ids, 4))
    assert len(list(cache.path.glob("*.keys.npy"))) < 32
    found, vectors = VectorCache("shards:v1", 4, tmp_path).lookup(
        text_keys([f"t{i}" for i in range(400)] + ["never"])
    )
    assert found[:400].all() and not found[400]
    np.testing.assert_array_equal(vectors[:400], fake_vectors(np.arange(400), 4))


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from pathlib import Path
    from segmint.embeddings import VectorCache
    from segmint.embeddings.cache import text_keys
    cache = VectorCache("crash:v1", 256, Path(sys.argv[1]))
    start = 0
    while True:
        ids = np.arange(start, start + 2000)
        vecs = (ids[:, None] * 1000.0 + np.arange(256)[None, :]).astype(np.float32)
        cache.put(text_keys([f"t{i}" for i in ids]), vecs)
        print(start, flush=True)
        start += 2000
    """
)


def test_killed_writer_leaves_a_consistent_cache(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    for _ in range(3):  # let it complete a few shards, then kill it mid-stream
        proc.stdout.readline()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    cache = VectorCache("crash:v1", 256, tmp_path)
    n = len(cache)
    assert n >= 6000 and n % 2000 == 0  # whole shards only
    ids = np.arange(n + 4000)
    found, vectors = cache.lookup(text_keys([f"t{i}" for i in ids]))
    assert found[:n].all() and not found[n:].any()
    np.testing.assert_array_equal(vectors[:n], fake_vectors(ids[:n], 256))
    cache.put(text_keys(["after"]), np.ones((1, 256), np.float32))
    cache.compact()
    assert len(VectorCache("crash:v1", 256, tmp_path)) == n + 1


def test_customer_with_100k_events_end_to_end(minilm: Encoder, tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    con.execute(
        """
        INSERT INTO events (user_id, ts, event_type, text, source_file, source_row)
        SELECT 'whale', TIMESTAMP '2024-01-01' + to_seconds(i), 'purchase',
               'garden item ' || (i % 40), 'gen', i
        FROM range(100000) t(i)
        UNION ALL SELECT 'minnow', TIMESTAMP '2024-01-01', 'view', 'garden item 3', 'gen', -1
        """
    )
    counting = Counting(minilm)
    result = embed_customers(con, counting, cache_root=tmp_path)
    assert counting.texts == 40
    assert result.has_text.all()
    assert np.linalg.norm(result.vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
