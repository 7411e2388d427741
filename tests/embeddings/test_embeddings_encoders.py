"""Encoders on the real packaged MiniLM: bad inputs, truncation, fingerprints, backend agreement."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from segmint.embeddings import (
    ENCODERS,
    Encoder,
    SentenceTransformerEncoder,
    known_specs,
    make_encoder,
    resolve_spec,
)
from segmint.embeddings.encoders import clean_text, length_batches, packaged_model_dir
from segmint.embeddings.numpy_backend import NumpyBertEncoder
from segmint.embeddings.onnx_backend import OnnxEncoder
from segmint.embeddings.static_backend import StaticEncoder

BAD_INPUTS: list[object] = [
    "",
    "   \t\n ",
    None,
    float("nan"),
    "😀🎉🛒",
    "Tasse à café 咖啡杯 кружка カップ كوب",
    "word " * 2000,  # 10,000 characters, far beyond 256 tokens
    "x" * 10_000,  # one 10,000-character "word"
    "mug\ud800",  # a lone surrogate, as broken decoders leave behind
    "red mug",
]
EMPTY = {0, 1, 2, 3}

SAMPLE = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "JUMBO BAG RED RETROSPOT",
    "REGENCY CAKESTAND 3 TIER",
    "PARTY BUNTING",
    "wireless noise cancelling headphones",
    "organic green tea 100 bags",
    "kids rain boots size 10",
    "Tasse à café en céramique",
    "stainless steel water bottle 1l",
    "vintage leather notebook a5",
]


@pytest.fixture(scope="module")
def model_cache(request: pytest.FixtureRequest) -> Iterator[Path]:
    """SEGMINT_CACHE_DIR in pytest's cache, so the ONNX export is built once, not every run."""
    path = Path(request.config.cache.mkdir("segmint-cache"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEGMINT_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def minilm(model_cache: Path) -> Encoder:
    return make_encoder("minilm")


@pytest.fixture(scope="module")
def sentence_transformers() -> Encoder:
    return make_encoder("minilm-st")


@pytest.fixture(scope="module")
def onnx_int8(model_cache: Path) -> Encoder:
    return make_encoder("minilm-onnx-int8")


def check_bad_inputs(encoder: Encoder) -> np.ndarray:
    vectors = encoder.encode(BAD_INPUTS)  # type: ignore[arg-type,unused-ignore]
    assert vectors.shape == (len(BAD_INPUTS), encoder.dim)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    norms = np.linalg.norm(vectors, axis=1)
    for i, norm in enumerate(norms):
        expected = 0.0 if i in EMPTY else 1.0
        assert norm == pytest.approx(expected, abs=1e-4), (BAD_INPUTS[i], norm)
    return vectors


def test_minilm_bad_inputs(minilm: Encoder) -> None:
    check_bad_inputs(minilm)


def test_minilm_truncates_long_text_at_256_tokens(minilm: Encoder) -> None:
    # 300 distinct words tokenise to more than 256 tokens; what lies beyond must not matter.
    head = " ".join(f"w{i}" for i in range(300))
    a, b = minilm.encode([head + " apples " * 500, head + " bicycles " * 500])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)


def test_minilm_semantics_and_batch_independence(minilm: Encoder) -> None:
    vectors = minilm.encode(["red coffee mug", "ceramic tea cup", "mountain bike tyre"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    alone = minilm.encode(["ceramic tea cup"])[0]
    assert float(alone @ vectors[1]) == pytest.approx(1.0, abs=1e-5)


def test_empty_input_list(minilm: Encoder) -> None:
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_reproduces_sentence_transformers(
    minilm: Encoder, sentence_transformers: Encoder
) -> None:
    # The bar `minilm` is chosen by (docs/cli.md): cosine >= 0.999 on every text.
    texts = SAMPLE + [str(t) for t in BAD_INPUTS[4:]] + [f"{w} bag size {i}" for i, w in
                                                         enumerate(["canvas", "tote", "gym"])]
    ref, got = sentence_transformers.encode(texts), minilm.encode(texts)
    assert np.sum(ref * got, axis=1).min() >= 0.999
    np.testing.assert_allclose(got, ref, atol=2e-4)


def test_threads_and_batching_do_not_change_the_vectors(model_cache: Path) -> None:
    texts = [f"linen tea towel set of {i}" for i in range(300)] + ["word " * 300]
    one = OnnxEncoder(packaged_model_dir(), quantize=False, threads=1).encode(texts)
    two = OnnxEncoder(packaged_model_dir(), quantize=False, threads=2).encode(texts)
    np.testing.assert_array_equal(one, two)


def test_length_batches_bound_padding_and_rows() -> None:
    lengths = np.array([3, 250, 7, 7, 3, 40, 12] * 50)
    batches = length_batches(lengths, max_tokens=256, max_rows=16)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 16 and (len(b) == 1 or len(b) * lengths[b].max() <= 256)
        assert lengths[b].max() - lengths[b].min() <= 40  # sorted: similar lengths together
    assert length_batches(np.array([], dtype=np.int64), 256, 16) == []


def test_fingerprints_identify_model_and_backend(
    minilm: Encoder, sentence_transformers: Encoder
) -> None:
    assert minilm.dim == 384
    assert minilm.fingerprint == make_encoder("minilm").fingerprint
    same_dir = make_encoder(f"st:{packaged_model_dir()}")
    # Same weights, same backend: they share cached vectors.
    assert same_dir.fingerprint == sentence_transformers.fingerprint
    specs = ("minilm", "minilm-st", "minilm-numpy", "minilm-onnx-int8", "minilm-static")
    assert len({make_encoder(s).fingerprint for s in specs}) == len(specs)


def test_fingerprint_changes_when_weights_change(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(packaged_model_dir(), copy)
    before = make_encoder(f"st:{copy}").fingerprint
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("384", "384 "))
    assert make_encoder(f"st:{copy}").fingerprint != before


def test_unknown_spec_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="minilm-onnx-int8"):
        make_encoder("bert-xxl")
    assert "minilm" in known_specs()


def test_specs_are_the_registry_in_the_documented_order() -> None:
    assert known_specs() == ("minilm", "minilm-st", "st:NAME_OR_PATH", "minilm-numpy",
                             "minilm-onnx-int8", "minilm-static", "auto")
    assert ENCODERS.names() == known_specs()[:-1]
    with pytest.raises(ValueError) as err:
        make_encoder("st:")
    assert str(err.value) == ("unknown embedder 'st:'; use one of: minilm, minilm-st, "
                              "st:NAME_OR_PATH, minilm-numpy, minilm-onnx-int8, minilm-static, auto")


def test_spec_picks_the_backend(tmp_path: Path) -> None:
    st = make_encoder(f"st:{tmp_path}", device="cpu")
    assert isinstance(st, SentenceTransformerEncoder)
    assert (st.name_or_path, st.device) == (str(tmp_path), "cpu")
    assert isinstance(make_encoder(" minilm-numpy "), NumpyBertEncoder)
    assert isinstance(make_encoder("minilm-static"), StaticEncoder)
    assert isinstance(make_encoder("minilm-st"), SentenceTransformerEncoder)
    onnx = [make_encoder(s) for s in ("minilm", "minilm-onnx-int8")]
    assert [e.quantize for e in onnx if isinstance(e, OnnxEncoder)] == [False, True]


def test_auto_spec_picks_a_concrete_backend() -> None:
    assert resolve_spec("auto", gpu=True) == "minilm-st"
    assert resolve_spec("auto", gpu=False) == "minilm"
    assert resolve_spec("minilm-static") == "minilm-static"


def test_clean_text() -> None:
    assert clean_text(None) == "" and clean_text(float("nan")) == ""
    assert clean_text("  a \n\t b ") == "a b"
    assert clean_text(12.5) == "12.5"
    assert len(clean_text("y" * 1_000_000)) == 20_000


def test_onnx_int8_agrees_with_minilm(minilm: Encoder, onnx_int8: Encoder) -> None:
    ref = minilm.encode(SAMPLE)
    vecs = onnx_int8.encode(SAMPLE)
    cos = np.sum(ref * vecs, axis=1)
    assert cos.mean() >= 0.98
    assert cos.min() >= 0.93


def test_onnx_int8_bad_inputs(minilm: Encoder, onnx_int8: Encoder) -> None:
    vectors = check_bad_inputs(onnx_int8)
    ref = minilm.encode(BAD_INPUTS[4:])  # type: ignore[arg-type,unused-ignore]
    assert np.sum(ref * vectors[4:], axis=1).min() >= 0.9


def test_onnx_export_never_imports_torch(tmp_path: Path) -> None:
    # The graph is written from the packaged weights: a cold cache costs no torch import.
    code = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from segmint.embeddings.onnx_backend import OnnxEncoder\n"
        "from segmint.embeddings.encoders import packaged_model_dir\n"
        "v = [OnnxEncoder(packaged_model_dir(), quantize=q).encode(['red mug', 'mug']) for q in (0, 1)]\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "print(float(np.sum(v[0] * v[1], axis=1).min()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "SEGMINT_CACHE_DIR": str(tmp_path)})
    assert float(out.stdout) >= 0.98  # int8 agrees with float32, both from the built graph
    assert len(list(tmp_path.glob("models/*/model.onnx"))) == 2


def test_onnx_model_is_cached(onnx_int8: Encoder, model_cache: Path) -> None:
    onnx_int8.encode(["warm"])
    path = onnx_int8.model_path  # type: ignore[attr-defined,unused-ignore]
    assert path.exists() and model_cache in path.parents
    assert not list(path.parent.glob("*.tmp*"))


@pytest.mark.slow
def test_static_backend_bad_inputs_and_rough_agreement(minilm: Encoder, model_cache: Path) -> None:
    static = make_encoder("minilm-static")
    check_bad_inputs(static)
    cos = np.sum(static.encode(SAMPLE) * minilm.encode(SAMPLE), axis=1)
    assert cos.mean() >= 0.5
    # Same tokens in a different order: a static model cannot tell them apart.
    a, b = static.encode(["red mug", "mug red"])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-5)
