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
    assert split_spec("minilm-onnx-int8+static-queries+static-tail") == (
        "minilm-onnx-int8", TailPolicy(static_below=2, static_queries=True))
    assert split_spec("minilm") == ("minilm", TailPolicy())
    assert split_spec("minilm+static-tail+normalise+static-queries")[1] == TailPolicy(
        normalise=True, static_below=2, static_queries=True)
    assert split_spec("minilm+static-queries")[1] == TailPolicy(static_queries=True)
    with pytest.raises(ValueError, match="static-tail"):
        make_encoder("minilm+everything")
    # alone it would put one-customer catalogue titles on the static model (fails on Amazon)
    with pytest.raises(ValueError, match="narrows"):
        split_spec("minilm+static-tail")


def test_static_queries_keeps_every_catalogue_text_on_the_full_model() -> None:
    titles = [f"ceramic coffee mug {i}" for i in range(30)]
    rows = [("u0", "view", t) for t in titles]  # one customer each: static_below would take them
    rows += [(f"u{1 + k % 5}", "search", f"mug query number {k}") for k in range(40)]
    rows += [("u1", "search", titles[0])]  # searched and viewed: a catalogue text
    rows += [(u, "search", "shared mug query") for u in ("u1", "u2")]
    con = _events(rows)
    docs = build_documents(con)
    assert docs.searched_only is not None
    assert {t for t, q in zip(docs.texts, docs.searched_only, strict=True) if q} == {
        "shared mug query", *(f"mug query number {k}" for k in range(40))}
    full, static = make_encoder("minilm"), make_encoder("minilm-numpy")
    plain = embed_customers(con, full, use_cache=False)
    got = embed_customers(con, full, use_cache=False, static=static,
                          tail=TailPolicy(static_queries=True, min_static=0))
    assert got.stats.static == 37  # 41 queries, a tenth kept on the full model to fit the map
    # Both conditions: the 40 one-customer queries only (the titles are one customer's too).
    rare = embed_customers(con, full, use_cache=False, static=static,
                           tail=TailPolicy(static_below=2, static_queries=True, min_static=0))
    assert rare.stats.static == 36
    # Customer u0 has titles only: exactly the full model's vector.
    u0 = got.user_ids.index("u0")
    np.testing.assert_allclose(got.vectors[u0], plain.vectors[u0], atol=1e-6)
    assert np.sum(plain.vectors * got.vectors, axis=1).min() > 0.95


def test_query_flag_survives_normalising_and_missing_product_column() -> None:
    con = _events([("u1", "search", "Baby Monitor"), ("u2", "view", "baby monitor"),
                   ("u2", "search", "red kettle"), ("u3", "search", "Kettle, red")])
    merged = normalise_documents(build_documents(con))
    assert merged.searched_only is not None
    assert dict(zip(merged.texts, merged.searched_only.tolist(), strict=True)) == {
        "Baby Monitor": False, "Kettle, red": True}
    bare = duckdb.connect()  # an events table built by hand, without product_id
    bare.execute("CREATE TABLE events AS SELECT 'u1' AS user_id, TIMESTAMP '2026-01-01' AS ts, "
                 "'search' AS event_type, 'tea' AS text")
    assert build_documents(bare).searched_only.tolist() == [True]
