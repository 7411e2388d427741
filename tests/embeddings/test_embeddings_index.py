"""FAISS customer index: hand-made vectors, kinds, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segmint.embeddings import UserIndex, choose_kind, normalize_rows, similar
from segmint.embeddings.index import IndexKind


def unit(*xs: float) -> list[float]:
    v = np.array(xs, dtype=np.float64)
    return list(v / np.linalg.norm(v))


IDS = ["a", "b", "c", "d", "e"]
VECTORS = np.array(
    [unit(1, 0, 0), unit(0.9, 0.1, 0), unit(0.5, 0.5, 0), unit(0, 0, 1), [0, 0, 0]],
    dtype=np.float32,
)


def test_similar_on_hand_made_vectors() -> None:
    index = UserIndex.build(IDS, VECTORS)
    assert index.kind == "flat"
    assert "e" not in index and len(index) == 4  # the zero vector (no text) is not indexed
    result = index.similar("a", k=3)
    assert [u for u, _ in result] == ["b", "c", "d"]
    assert result[0][1] == pytest.approx(float(VECTORS[0] @ VECTORS[1]), abs=1e-6)
    assert result[2][1] == pytest.approx(0.0, abs=1e-6)
    assert len(index.similar("a", k=100)) == 3  # never itself, never more than exist
    with pytest.raises(KeyError):
        index.similar("e")
    with pytest.raises(KeyError):
        index.similar("nobody")


def test_save_load_round_trip_and_replace(tmp_path: Path) -> None:
    path = tmp_path / "ws" / "user_index"
    UserIndex.build(IDS, VECTORS, fingerprint="fp1").save(path)
    loaded = UserIndex.load(path)
    assert loaded.user_ids == ["a", "b", "c", "d"] and loaded.fingerprint == "fp1"
    assert loaded.similar("a", 2) == UserIndex.build(IDS, VECTORS).similar("a", 2)
    assert similar(path, "b", 1)[0][0] == "a"
    # Saving again replaces the whole directory and leaves no temp folders behind.
    UserIndex.build(["x", "y"], VECTORS[:2]).save(path)
    assert UserIndex.load(path).user_ids == ["x", "y"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["user_index"]
    with pytest.raises(FileNotFoundError):
        UserIndex.load(tmp_path / "missing")


def test_duplicate_ids_and_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError):
        UserIndex.build(["a", "a"], VECTORS[:2])
    with pytest.raises(ValueError):
        UserIndex.build(["a"], VECTORS[:2])


def clustered(n: int, dim: int = 32, centers: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, dim))
    x = c[rng.integers(0, centers, n)] + 0.3 * rng.normal(size=(n, dim))
    return normalize_rows(x.astype(np.float32))


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_agree_with_exact(kind: IndexKind, tmp_path: Path) -> None:
    vectors = clustered(5000)
    ids = [f"u{i}" for i in range(len(vectors))]
    exact = UserIndex.build(ids, vectors, kind="flat")
    approx = UserIndex.build(ids, vectors, kind=kind)
    approx.save(tmp_path / kind)
    approx = UserIndex.load(tmp_path / kind)
    assert approx.kind == kind
    recall = []
    for u in ids[:200]:
        truth = {v for v, _ in exact.similar(u, 10)}
        recall.append(len(truth & {v for v, _ in approx.similar(u, 10)}) / 10)
    assert np.mean(recall) >= 0.8


def test_kind_is_chosen_by_size() -> None:
    assert choose_kind(1_000) == "flat"
    assert choose_kind(5_000_000) == "ivf"
    assert UserIndex.build(["a", "b"], VECTORS[:2], kind="ivf").kind == "flat"  # too few to train
