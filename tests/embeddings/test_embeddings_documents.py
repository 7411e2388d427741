"""Customer documents: weights by event type, count and recency, computed in DuckDB."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pytest

from segmint.agent.core.schema import EVENTS_DDL
from segmint.embeddings import CustomerDocuments, DocumentConfig, build_documents

T0 = datetime(2024, 6, 30, 12, 0, 0)


def make_events(rows: Sequence[tuple[str, datetime, str, str | None]]) -> duckdb.DuckDBPyConnection:
    """An in-memory `events` table from (user_id, ts, event_type, text) rows."""
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    if rows:
        con.executemany(
            "INSERT INTO events (user_id, ts, event_type, text, source_file, source_row) "
            "VALUES (?, ?, ?, ?, 'test.csv', ?)",
            [(*r, i) for i, r in enumerate(rows)],
        )
    return con


def weight(docs: CustomerDocuments, user: str, text: str) -> float:
    return float(docs.weights[docs.user_ids.index(user), docs.texts.index(text)])


def test_event_type_weights_and_counts_add_up() -> None:
    con = make_events(
        [
            ("a", T0, "purchase", "red mug"),
            ("a", T0, "purchase", "red mug"),
            ("a", T0, "view", "red mug"),
            ("a", T0, "search", "mugs"),
            ("b", T0, "cart", "blue cup"),
        ]
    )
    cfg = DocumentConfig(
        event_weights={"search": 1.0, "view": 0.5, "cart": 2.0, "purchase": 3.0},
        half_life_days=None,
        sublinear_counts=False,
    )
    docs = build_documents(con, cfg)
    assert docs.user_ids == ["a", "b"]
    assert sorted(docs.texts) == ["blue cup", "mugs", "red mug"]
    assert weight(docs, "a", "red mug") == pytest.approx(3 + 3 + 0.5)
    assert weight(docs, "a", "mugs") == pytest.approx(1.0)
    assert weight(docs, "b", "blue cup") == pytest.approx(2.0)
    assert weight(docs, "b", "red mug") == 0.0
    assert docs.weights.dtype == np.float32


def test_recency_half_life_relative_to_latest_event() -> None:
    con = make_events(
        [
            ("a", T0, "purchase", "new"),
            ("a", T0 - timedelta(days=30), "purchase", "old"),
            ("a", T0 - timedelta(days=60), "purchase", "older"),
        ]
    )
    docs = build_documents(con, DocumentConfig(half_life_days=30, sublinear_counts=False))
    w_new = weight(docs, "a", "new")
    assert weight(docs, "a", "old") == pytest.approx(w_new / 2, rel=1e-5)
    assert weight(docs, "a", "older") == pytest.approx(w_new / 4, rel=1e-5)


def test_explicit_as_of_and_future_events_count_as_fresh() -> None:
    con = make_events(
        [("a", T0, "purchase", "then"), ("a", T0 + timedelta(days=5), "purchase", "later")]
    )
    cfg = DocumentConfig(as_of=T0 + timedelta(days=10), half_life_days=10, sublinear_counts=False)
    docs = build_documents(con, cfg)
    assert weight(docs, "a", "then") == pytest.approx(3 * 0.5, rel=1e-5)
    cfg = DocumentConfig(as_of=T0, half_life_days=10, sublinear_counts=False)
    assert weight(build_documents(con, cfg), "a", "later") == pytest.approx(3.0)


def test_sublinear_counts_dampen_repeats() -> None:
    con = make_events([("a", T0, "purchase", "x")] * 100 + [("a", T0, "purchase", "y")])
    docs = build_documents(con, DocumentConfig(half_life_days=None))
    assert weight(docs, "a", "x") == pytest.approx(math.log1p(300), rel=1e-5)
    assert weight(docs, "a", "y") == pytest.approx(math.log1p(3), rel=1e-5)


def test_users_without_text_are_kept_and_flagged() -> None:
    con = make_events(
        [
            ("has", T0, "purchase", "lamp"),
            ("null", T0, "purchase", None),
            ("empty", T0, "purchase", ""),
            ("blank", T0, "purchase", " \t\n "),
            ("nan", T0, "purchase", "NaN"),
            ("none", T0, "view", "None"),
        ]
    )
    docs = build_documents(con)
    assert docs.user_ids == sorted(["has", "null", "empty", "blank", "nan", "none"])
    assert docs.texts == ["lamp"]
    flags = dict(zip(docs.user_ids, docs.has_text.tolist(), strict=True))
    assert flags == {"has": True, "null": False, "empty": False, "blank": False, "nan": False,
                     "none": False}
    assert docs.weights.shape == (6, 1)
    assert docs.weights.getnnz(axis=1).tolist() == [int(f) for f in docs.has_text]


def test_whitespace_variants_are_one_text_and_unicode_survives() -> None:
    con = make_events(
        [
            ("a", T0, "purchase", "  Red   mug "),
            ("b", T0, "purchase", "Red mug"),
            ("c", T0, "search", "咖啡杯 coffee ☕ 😀"),
            ("e", T0, "search", "\u00a0Red\u3000mug\t"),
            ("d", T0, "search", "кружка"),
        ]
    )
    docs = build_documents(con)
    assert sorted(docs.texts) == sorted(["Red mug", "咖啡杯 coffee ☕ 😀", "кружка"])
    assert docs.has_text.all()


def test_zero_weight_types_and_unknown_types_contribute_nothing() -> None:
    con = make_events(
        [("a", T0, "return", "only returned"), ("b", T0, "wishlist", "w"), ("b", T0, "purchase", "p")]
    )
    cfg = DocumentConfig(event_weights={"purchase": 3.0, "return": 0.0})
    docs = build_documents(con, cfg)
    assert docs.texts == ["p"]
    assert docs.has_text.tolist() == [False, True]


def test_event_type_matching_is_case_insensitive() -> None:
    con = make_events([("a", T0, "PURCHASE", "x")])
    assert build_documents(con).has_text.tolist() == [True]


def test_long_text_is_cut_to_max_chars() -> None:
    long = "word " * 4000
    con = make_events([("a", T0, "search", long), ("b", T0, "search", long + "tail")])
    docs = build_documents(con, DocumentConfig(max_chars=100))
    assert len(docs.texts) == 1
    assert len(docs.texts[0]) == 100


def test_customer_with_100k_events() -> None:
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    con.execute(
        """
        INSERT INTO events (user_id, ts, event_type, text, source_file, source_row)
        SELECT 'whale', TIMESTAMP '2024-01-01' + to_seconds(i), 'purchase', 'item ' || (i % 50),
               'gen', i
        FROM range(100000) t(i)
        UNION ALL SELECT 'minnow', TIMESTAMP '2024-01-01', 'view', 'item 1', 'gen', -1
        """
    )
    docs = build_documents(con)
    assert docs.user_ids == ["minnow", "whale"]
    assert len(docs.texts) == 50
    assert docs.weights[1].nnz == 50
    assert np.isfinite(docs.weights.data).all() and (docs.weights.data > 0).all()


def test_empty_events_table() -> None:
    docs = build_documents(make_events([]))
    assert docs.user_ids == [] and docs.texts == [] and docs.weights.shape == (0, 0)


def test_progress_bar_setting_is_restored() -> None:
    con = make_events([("a", T0, "purchase", "x")])
    con.execute("SET enable_progress_bar = true")
    build_documents(con)
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (True,)


@pytest.mark.parametrize(
    "kwargs",
    [{"event_weights": {"purchase": -1.0}}, {"half_life_days": 0}, {"max_chars": 0},
     {"event_weights": {"view": float("nan")}}],
)
def test_invalid_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DocumentConfig(**kwargs)  # type: ignore[arg-type,unused-ignore]
