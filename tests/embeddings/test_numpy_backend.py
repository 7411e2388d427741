"""`minilm-numpy`: the packaged MiniLM evaluated in NumPy agrees with sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.embeddings import make_encoder
from segmint.embeddings.encoders import packaged_model_dir
from segmint.embeddings.numpy_backend import NumpyBertEncoder, _gelu

TEXTS = ["WHITE HANGING HEART T-LIGHT HOLDER", "espresso beans 1kg", "", "  ", "ceramic mug",
         "red retrospot cake stand " * 60, "Über-größe Wollpullover ☕", "a"]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return make_encoder("minilm-st").encode(TEXTS)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_vectors_as_sentence_transformers(reference: np.ndarray, threads: int) -> None:
    got = NumpyBertEncoder(packaged_model_dir(), threads=threads).encode(TEXTS)
    assert got.shape == reference.shape and got.dtype == np.float32
    text = np.linalg.norm(reference, axis=1) > 0
    np.testing.assert_array_equal(np.linalg.norm(got, axis=1) > 0, text)
    cos = (got[text] * reference[text]).sum(axis=1)
    assert cos.min() > 0.9999
    np.testing.assert_allclose(got, reference, atol=1e-5)


def test_threads_do_not_change_the_vectors() -> None:
    texts = [f"linen tea towel set of {i}" for i in range(300)]
    one = NumpyBertEncoder(packaged_model_dir(), threads=1).encode(texts)
    two = NumpyBertEncoder(packaged_model_dir(), threads=2).encode(texts)
    np.testing.assert_array_equal(one, two)


def test_spec_and_fingerprint() -> None:
    enc = make_encoder("minilm-numpy")
    assert isinstance(enc, NumpyBertEncoder) and enc.dim == 384
    assert enc.fingerprint not in {make_encoder(s).fingerprint for s in ("minilm", "minilm-st")}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-12, 12, width=32), min_size=1, max_size=50))
def test_gelu_is_exact_to_float32(values: list[float]) -> None:
    from scipy.special import erf

    x = np.asarray(values, dtype=np.float32)
    want = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    np.testing.assert_allclose(_gelu(x.copy()), want, atol=1e-6, rtol=1e-6)
