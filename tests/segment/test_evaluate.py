"""Agreement with known groups and label-free quality."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.agent.core.errors import InputError
from segmint.agent.segment.evaluate import agreement, dbcv, evaluate_labels_file, label_free_quality


def test_perfect_agreement_scores_one_whatever_the_names() -> None:
    truth = np.array(["a", "a", "b", "b", "c", "c"])
    pred = np.array([7, 7, 3, 3, 9, 9])
    out = agreement(truth, pred)
    for key in ("ari", "nmi", "homogeneity", "completeness", "v_measure"):
        assert out[key] == pytest.approx(1.0)
    assert out["noise_share"] == 0.0
    assert out["groups"] == 3 and out["segments"] == 3 and out["n"] == 6


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=4, max_size=60), st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_segment_numbering(pred: list[int], rnd) -> None:
    truth = np.array([i % 3 for i in range(len(pred))]).astype(str)
    p = np.array(pred) + 1
    mapping = list(range(1, 6))
    rnd.shuffle(mapping)
    relabelled = np.array([mapping[v - 1] for v in p])
    a, b = agreement(truth, p), agreement(truth, relabelled)
    assert a["ari"] == pytest.approx(b["ari"])
    assert a["nmi"] == pytest.approx(b["nmi"])


def test_unassigned_costs_agreement_and_is_reported() -> None:
    truth = np.array(["a"] * 10 + ["b"] * 10)
    perfect = np.array([1] * 10 + [2] * 10)
    some_out = perfect.copy()
    some_out[:3] = 0
    a, b = agreement(truth, perfect), agreement(truth, some_out)
    assert b["noise_share"] == pytest.approx(0.15)
    assert b["ari"] < a["ari"]
    # Among customers that got a segment the split is still perfect.
    assert b["ari_assigned"] == pytest.approx(1.0)
    assert b["segments"] == 2


def test_empty_input_gives_nones() -> None:
    out = agreement(np.array([]), np.array([]))
    assert out["n"] == 0 and out["ari"] is None


def _blobs(separation: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, (80, 5))
    b = rng.normal(0, 1, (80, 5)) + separation
    return np.vstack([a, b]), np.array([1] * 80 + [2] * 80)


def test_dbcv_and_silhouette_prefer_separated_groups() -> None:
    far, lab = _blobs(12.0)
    near, _ = _blobs(1.0)
    q_far, q_near = label_free_quality(far, lab), label_free_quality(near, lab)
    assert q_far["silhouette"] > 0.7 > q_near["silhouette"]
    assert q_far["dbcv"] > 0.5 > q_near["dbcv"]
    assert -1.0 <= q_near["dbcv"] <= 1.0


def test_dbcv_counts_noise_against_the_score() -> None:
    X, lab = _blobs(12.0)
    noisy = lab.copy()
    noisy[::4] = -1
    assert dbcv(X, noisy) < dbcv(X, lab)


def test_label_free_quality_samples_and_skips_single_segment() -> None:
    X, lab = _blobs(8.0)
    q = label_free_quality(X, lab, sample_size=50, seed=1)
    assert q["sample"] == 50
    one = label_free_quality(X, np.ones(len(X), dtype=np.int64))
    assert one["silhouette"] is None and one["dbcv"] is None


def test_dbcv_works_in_high_dimensions() -> None:
    rng = np.random.default_rng(0)
    c = rng.standard_normal((2, 384))
    X = np.vstack([c[0] + 0.1 * rng.standard_normal((40, 384)),
                   c[1] + 0.1 * rng.standard_normal((40, 384))])
    value = dbcv(X, np.array([0] * 40 + [1] * 40))
    assert np.isfinite(value) and value > 0.5


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("CREATE TABLE users (user_id VARCHAR, segment_id INTEGER)")
    c.execute("INSERT INTO users VALUES ('17850', 1), ('17851', 1), ('00042', 2), ('00043', 2), "
              "('x', 0), ('lonely', 2)")
    return c


def test_labels_file_is_joined_on_normalised_ids(con: duckdb.DuckDBPyConnection, tmp_path: Path
                                                 ) -> None:
    f = tmp_path / "labels.csv"
    f.write_text("user_id,label\n17850.0,gift\n17851,gift\n00042,tea\n00043,tea\nghost,tea\n")
    out = evaluate_labels_file(con, f)
    assert out["n"] == 4
    assert out["ari"] == pytest.approx(1.0)
    assert out["unmatched_labels"] == 1
    assert out["workspace_customers"] == 6
    # The temporary table is gone and the connection usable.
    assert con.execute("SELECT count(*) FROM users").fetchall() == [(6,)]


def test_labels_file_with_other_label_column_name(con: duckdb.DuckDBPyConnection, tmp_path: Path
                                                  ) -> None:
    f = tmp_path / "labels.csv"
    f.write_text("USER_ID,persona\n17850,a\n00042,b\nx,b\n")
    out = evaluate_labels_file(con, f)
    assert out["n"] == 3 and out["noise_share"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("content, match", [
    ("id,label\n1,a\n", "user_id"),
    ("user_id,label\nnobody,a\n", "no customer"),
])
def test_bad_labels_files_say_what_to_fix(con: duckdb.DuckDBPyConnection, tmp_path: Path,
                                          content: str, match: str) -> None:
    f = tmp_path / "labels.csv"
    f.write_text(content)
    with pytest.raises(InputError, match=match):
        evaluate_labels_file(con, f)


def test_missing_labels_file_is_an_input_error(con: duckdb.DuckDBPyConnection, tmp_path: Path
                                               ) -> None:
    with pytest.raises(InputError, match="cannot read"):
        evaluate_labels_file(con, tmp_path / "nope.csv")


def test_ignored_labels_are_left_out_of_the_scores(con: duckdb.DuckDBPyConnection, tmp_path: Path
                                                   ) -> None:
    f = tmp_path / "labels.csv"
    # 'lonely' sits in the tea segment but is a wanderer: scored, it breaks the perfect match.
    f.write_text("user_id,label\n17850,gift\n17851,gift\n00042,tea\n00043,tea\nlonely,mixed\n")
    assert evaluate_labels_file(con, f)["ari"] < 1.0
    out = evaluate_labels_file(con, f, ignore=["mixed"])
    assert out["ari"] == pytest.approx(1.0)
    assert (out["n"], out["ignored"], out["unmatched_labels"]) == (4, 1, 0)
    with pytest.raises(InputError, match="ignored label"):
        evaluate_labels_file(con, f, ignore=["gift", "tea", "mixed"])
