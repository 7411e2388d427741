"""The customer map's projection: classical MDS and the centre-weighted placement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmint.agent.act.projection import classical_mds, project


def _dist(points: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.just(2)),
              elements=st.floats(-100, 100, allow_nan=False)))
def test_mds_recovers_planar_distances(points: np.ndarray) -> None:
    got = classical_mds(_dist(points))
    assert got.shape == points.shape
    np.testing.assert_allclose(_dist(got), _dist(points), atol=1e-6 * (1 + np.abs(points).max()))


def _clusters(seed: int, k: int, per: int, dim: int = 24, noise: float = 0.15
              ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    labels = np.repeat(np.arange(1, k + 1), per)
    vectors = centres[labels - 1] + noise * rng.normal(size=(k * per, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


@pytest.mark.parametrize(("seed", "k"), [(0, 2), (1, 3), (2, 5), (3, 8)])
def test_separated_segments_land_around_their_own_centre(seed: int, k: int) -> None:
    vectors, labels = _clusters(seed, k, per=60)
    xy, centres = project(vectors, labels)
    assert xy.shape == (len(vectors), 2) and set(centres) == set(range(1, k + 1))
    keys = sorted(centres)
    grid = np.stack([centres[s] for s in keys])
    nearest = np.array(keys)[np.argmin(((xy[:, None, :] - grid[None]) ** 2).sum(-1), axis=1)]
    assert (nearest == labels).mean() > 0.9


def test_projection_is_deterministic_and_unassigned_gets_no_centre() -> None:
    vectors, labels = _clusters(7, 4, per=30)
    labels[:10] = 0
    first, centres = project(vectors, labels)
    again, _ = project(vectors.copy(), labels.copy())
    np.testing.assert_array_equal(first, again)
    assert 0 not in centres and np.isfinite(first).all()


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_inputs(n: int) -> None:
    vectors, labels = _clusters(0, 1, per=max(n, 1))
    xy, _ = project(vectors[:n], labels[:n])
    assert xy.shape == (n, 2) and np.isfinite(xy).all()
