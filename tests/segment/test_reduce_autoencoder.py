"""The autoencoder reducer: deterministic for a seed, behaviour joined by row, usable by segments."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from segmint.agent.segment.build import SegmentParams, build_segments
from segmint.agent.segment.reduce import make_reducer
from segmint.agent.segment.reduce_autoencoder import AutoencoderReducer, scale_behaviour


def _groups(n: int = 600, k: int = 4, d: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    y = rng.integers(0, k, n)
    X = centres[y] + 0.35 * rng.normal(size=(n, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def test_factory_registers_the_autoencoder() -> None:
    reducer = make_reducer("autoencoder", seed=3, n_components=8)
    assert isinstance(reducer, AutoencoderReducer) and reducer.n_components == 8
    with pytest.raises(ValueError, match="autoencoder"):
        make_reducer("nope")


@pytest.mark.parametrize("seed", [0, 5])
def test_same_seed_same_codes(seed: int) -> None:
    X, _ = _groups()
    a = AutoencoderReducer(epochs=5, seed=seed).fit_transform(X)
    b = AutoencoderReducer(epochs=5, seed=seed).fit_transform(X)
    assert a.shape == (len(X), 16)
    np.testing.assert_array_equal(a, b)
    c = AutoencoderReducer(epochs=5, seed=seed + 1).fit_transform(X)
    assert not np.array_equal(a, c)


def test_behaviour_is_joined_to_the_right_rows() -> None:
    from segmint.agent.segment.model import SpaceModel

    X, _ = _groups(n=200)
    behaviour = np.arange(200 * 4, dtype=float).reshape(200, 4)
    red = AutoencoderReducer(epochs=2).attach_behaviour(X, behaviour)
    perm = np.random.default_rng(1).permutation(200)[:150]
    # The segment step hands the reducer a sample, centred on the sample's own mean direction.
    embedded = SpaceModel.for_kind("interest", X[perm]).embed(X[perm])
    joined = red._inputs(embedded)
    np.testing.assert_allclose(joined[:, :X.shape[1]], embedded)
    expected = red.behaviour_weight * scale_behaviour(behaviour)[perm] / 2.0
    np.testing.assert_allclose(joined[:, X.shape[1]:], expected, rtol=1e-5, atol=1e-6)


def test_scale_behaviour_handles_missing_values() -> None:
    B = np.array([[1.0, np.nan], [10.0, 3.0], [100.0, np.nan]])
    Z = scale_behaviour(B)
    assert np.isfinite(Z).all()
    assert Z[:, 0] == pytest.approx(Z[:, 0] - Z[:, 0].mean() + 0.0, abs=1e-6)
    assert Z[0, 1] == 0.0


def test_segments_with_the_autoencoder_find_planted_groups() -> None:
    X, y = _groups(n=800, k=4)
    red = AutoencoderReducer(epochs=30, seed=0)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)),
                       params=SegmentParams(reducer=red))
    assert adjusted_rand_score(y, r.labels) > 0.8
