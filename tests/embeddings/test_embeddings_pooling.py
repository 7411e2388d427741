"""Pooling math on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.embeddings import pool_users

E1 = [1.0, 0.0, 0.0]
E2 = [0.0, 1.0, 0.0]
E3 = [0.0, 0.6, 0.8]


def test_weighted_mean_direction_and_unit_length() -> None:
    weights = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [3, 1, 0], [0, 0, 0], [0, 2, 2]]))
    pooled = pool_users(weights, np.array([E1, E2, E3], dtype=np.float32))
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(pooled[0], E1, atol=1e-6)
    np.testing.assert_allclose(pooled[1], [s, s, 0], atol=1e-6)
    np.testing.assert_allclose(pooled[2], np.array([3, 1, 0]) / np.sqrt(10), atol=1e-6)
    np.testing.assert_array_equal(pooled[3], [0, 0, 0])  # no text: zeros, not NaN
    expected = np.array([0, 1.6, 0.8]) / np.linalg.norm([0, 1.6, 0.8])
    np.testing.assert_allclose(pooled[4], expected, atol=1e-6)
    assert pooled.dtype == np.float32


def test_scaling_a_customers_weights_changes_nothing() -> None:
    vectors = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    w = sp.random(4, 5, density=0.6, random_state=2, format="csr")
    np.testing.assert_allclose(pool_users(w * 7.5, vectors), pool_users(w, vectors), atol=1e-6)


def test_zero_text_vectors_do_not_count() -> None:
    vectors = np.array([E1, [0, 0, 0]], dtype=np.float32)
    pooled = pool_users(sp.csr_matrix(np.array([[1.0, 5.0], [0.0, 1.0]])), vectors)
    np.testing.assert_allclose(pooled[0], E1, atol=1e-6)
    np.testing.assert_array_equal(pooled[1], [0, 0, 0])


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 text columns"):
        pool_users(sp.csr_matrix((3, 2)), np.zeros((3, 4), np.float32))


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 20), st.integers(1, 15), st.integers(1, 16),
    st.floats(0.05, 1.0), st.integers(0, 2**31 - 1),
)
def test_rows_are_unit_or_zero_and_match_dense_math(
    users: int, texts: int, dim: int, density: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    weights = sp.random(users, texts, density=density, format="csr", random_state=seed)
    vectors = rng.normal(size=(texts, dim)).astype(np.float32)
    pooled = pool_users(weights, vectors)
    norms = np.linalg.norm(pooled, axis=1)
    dense = weights.toarray() @ vectors
    for i in range(users):
        if np.linalg.norm(dense[i]) < 1e-6:
            assert norms[i] == pytest.approx(0, abs=1e-6) or norms[i] == pytest.approx(1, abs=1e-4)
        else:
            assert norms[i] == pytest.approx(1, abs=1e-4)
            np.testing.assert_allclose(pooled[i], dense[i] / np.linalg.norm(dense[i]), atol=1e-4)
