"""Long-tail ways: near-duplicate merging, rare-text discount, the static tail and its alignment."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from segmint.agent.core.schema import EVENTS_DDL
from segmint.embeddings import TailPolicy, build_documents, embed_customers, make_encoder
from segmint.embeddings.specs import split_spec
from segmint.embeddings.tail import (
    aligned,
    customers_per_text,
    fit_alignment,
    normal_form,
    normalise_documents,
)


def _events(rows: list[tuple[str, str, str]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    con.executemany(
        "INSERT INTO events (user_id, ts, event_type, text, source_file, source_row) "
        "VALUES (?, TIMESTAMP '2026-01-01', ?, ?, 'x', 0)", rows)
    return con


def test_normal_form_merges_spellings_only() -> None:
    assert normal_form("Baby  Monitor!") == normal_form("monitor, baby") == "baby monitor"
    assert normal_form("ＢＡＢＹ monitor") == "baby monitor"  # full-width letters (NFKC)
    assert normal_form("baby monitor") != normal_form("baby monitr")
    assert normal_form("!!!") == "!!!"  # nothing left: the text stays itself


def test_normalise_documents_adds_weights_of_merged_texts() -> None:
    con = _events([("u1", "search", "Baby Monitor"), ("u1", "search", "baby monitor"),
                   ("u2", "view", "monitor baby"), ("u2", "purchase", "Coffee Beans")])
    docs = build_documents(con)
    merged = normalise_documents(docs)
    assert len(docs.texts) == 4 and len(merged.texts) == 2
    assert set(merged.texts) <= set(docs.texts)
    np.testing.assert_allclose(merged.weights.sum(axis=1), docs.weights.sum(axis=1), rtol=1e-6)
    assert customers_per_text(merged.weights)[merged.texts.index(
        next(t for t in merged.texts if "onitor" in t))] == 2


def test_alignment_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(0)
    static = rng.standard_normal((3000, 16)).astype(np.float32)
    truth = rng.standard_normal((16, 16)).astype(np.float32)
    full = static @ truth
    full /= np.linalg.norm(full, axis=1, keepdims=True)
    got = aligned(static, fit_alignment(static, full))
    assert np.sum(got * full, axis=1).min() > 0.99  # the targets were normalised: nearly linear


def test_static_tail_encodes_one_customer_texts_with_the_static_model() -> None:
    shared = [f"ceramic coffee mug {i}" for i in range(30)]
    rows = [(f"u{k}", "view", t) for t in shared for k in range(2)]
    rows += [(f"u{k % 5}", "search", f"mug query number {k}") for k in range(40)]
    con = _events(rows)
    full, static = make_encoder("minilm"), make_encoder("minilm-numpy")
    plain = embed_customers(con, full, use_cache=False)
    tail = embed_customers(con, full, use_cache=False, static=static,
                           tail=TailPolicy(static_below=2, min_static=0))
    assert plain.stats.static == 0
    # 40 one-customer queries: a tenth go to the full model too (to fit the map), the rest static.
    assert tail.stats.static == 36
    assert tail.stats.embedded == len(tail.documents.texts) - 36
    norms = np.linalg.norm(tail.vectors, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    cos = np.sum(plain.vectors * tail.vectors, axis=1)
    assert cos.min() > 0.95  # mapped into the full model's space, not left in the static one's
    skipped = embed_customers(con, full, use_cache=False, tail=TailPolicy(static_below=2))
    assert skipped.stats.static == 0  # fewer rare texts than min_static: all go to the full model


def test_spec_options() -> None:
    assert split_spec("minilm-onnx-int8+static-tail") == ("minilm-onnx-int8",
                                                          TailPolicy(static_below=2))
    assert split_spec("minilm") == ("minilm", TailPolicy())
    assert split_spec("minilm+static-tail+normalise")[1] == TailPolicy(normalise=True, static_below=2)
    with pytest.raises(ValueError, match="static-tail"):
        make_encoder("minilm+everything")
