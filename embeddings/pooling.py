"""Customer vectors: the weighted mean of a customer's text vectors, L2-normalised."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


def pool_users(weights: sp.spmatrix | sp.sparray, text_vectors: np.ndarray) -> np.ndarray:
    """Pool text vectors into one unit vector per customer.

    ``normalize(weights @ text_vectors)``: dividing by the weight sum first would not change
    the direction, so the weighted mean and the weighted sum normalise to the same vector.

    Args:
        weights: sparse (users x texts) non-negative weights, e.g. ``CustomerDocuments.weights``.
        text_vectors: float32 (texts x dim).

    Returns:
        float32 (users x dim); rows of customers without text (or whose texts all have zero
        vectors) are all zeros, never NaN.
    """
    import scipy.sparse as sp

    matrix = sp.csr_matrix(weights, dtype=np.float32)
    vectors = np.asarray(text_vectors, dtype=np.float32)
    if matrix.shape[1] != vectors.shape[0]:
        raise ValueError(
            f"weights have {matrix.shape[1]} text columns but there are {vectors.shape[0]} vectors"
        )
    pooled = np.asarray(matrix @ vectors, dtype=np.float32)
    # In place: the product is ours, and a normalised copy would double the peak (1.5 GB at a
    # million customers).
    return normalize_rows(pooled, in_place=True)


def normalize_rows(vectors: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """L2-normalise rows; zero rows stay zero.

    Args:
        vectors: (n x dim) array.
        in_place: divide ``vectors`` itself (a float32 array the caller owns) instead of
            returning a new array.
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    safe = np.where(norms > 0, norms, 1.0).astype(np.float32)
    if in_place and vectors.dtype == np.float32:
        vectors /= safe
        return vectors
    return (vectors / safe).astype(np.float32, copy=False)
