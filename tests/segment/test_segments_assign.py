"""`segmint assign`'s model: newcomers land where the fit would put them; held-out accuracy."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import BLOB_DIM, blobs
from segmint.agent.core.arrays import UNASSIGNED
from segmint.agent.segment.assign import assign, holdout_report, write_assignment
from segmint.agent.segment.build import build_segments
from segmint.agent.segment.model import SegmentModel


def test_newcomers_close_to_members_join_their_segment(tmp_path: Path) -> None:
    X, _ = blobs([200, 150, 120, 100], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    model = SegmentModel.load(r.model.save(tmp_path / "model.npz"))
    rng = np.random.default_rng(1)
    pick = rng.choice(len(X), 60, replace=False)
    nudged = X[pick] + 0.02 * rng.standard_normal((60, BLOB_DIM)).astype(np.float32)
    out = assign(model, nudged, np.ones(60, bool), np.zeros((60, 4)))
    assert (out.labels == r.labels[pick]).mean() >= 0.95


def test_newcomers_unlike_anyone_are_unassigned() -> None:
    X, _ = blobs([150] * 6, spread=0.6)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    rng = np.random.default_rng(2)
    strangers = rng.standard_normal((40, BLOB_DIM)).astype(np.float32)
    out = assign(r.model, strangers, np.ones(40, bool), np.zeros((40, 4)))
    assert (out.labels == UNASSIGNED).mean() >= 0.9
    assert np.all(out.membership[out.labels == UNASSIGNED] == 0)
    assert set(out.nearest.tolist()) <= {s.id for s in r.segments}


def test_newcomers_without_text_get_behaviour_segments() -> None:
    X, _ = blobs([200, 200], spread=0.7)
    has_text = np.arange(len(X)) % 4 != 0
    rng = np.random.default_rng(3)
    beh = np.stack([rng.integers(0, 300, len(X)), rng.integers(1, 20, len(X)),
                    rng.lognormal(4, 1, len(X)), rng.integers(1, 100, len(X))], 1).astype(float)
    r = build_segments(X, has_text, beh)
    kinds = {s.id: s.kind for s in r.segments}
    new_beh = np.array([[5.0, 30, 9000.0, 400], [np.nan, 0, 0.0, 3]])
    out = assign(r.model, np.zeros((2, BLOB_DIM), np.float32), np.zeros(2, bool), new_beh)
    assert {kinds[i] for i in out.labels} == {"behaviour"}
    # A big recent spender and someone who never bought are not put together.
    assert out.labels[0] != out.labels[1]


def test_a_kind_the_model_never_saw_is_unassigned() -> None:
    X, _ = blobs([100, 100], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    out = assign(r.model, np.zeros((3, BLOB_DIM), np.float32), np.zeros(3, bool),
                 np.ones((3, 4)))
    assert np.all(out.labels == UNASSIGNED)


def test_holdout_accuracy_and_recall_on_clean_groups() -> None:
    X, _ = blobs([300, 250, 200, 150], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    rep = holdout_report(r.model, X, np.ones(len(X), bool), np.zeros((len(X), 4)), r.labels)
    assert rep["n_test"] + rep["n_train"] == len(X)
    assert 0.12 * len(X) < rep["n_test"] < 0.28 * len(X)
    assert rep["accuracy"] >= 0.97
    assert set(rep["per_segment_recall"]) >= {s.id for s in r.segments if s.size >= 20 and s.id}
    assert rep["macro_recall"] >= 0.95


def test_holdout_exposes_a_model_that_does_not_generalise() -> None:
    # Labels unrelated to the vectors: centroids learnt on 80% cannot predict the other 20%.
    X, _ = blobs([400], spread=1.5)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)), k=1)
    rng = np.random.default_rng(4)
    random_labels = rng.integers(1, 5, len(X))
    rep = holdout_report(r.model, X, np.ones(len(X), bool), np.zeros((len(X), 4)), random_labels)
    assert rep["accuracy"] < 0.6


def test_holdout_share_must_be_a_fraction() -> None:
    X, _ = blobs([50, 50], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    with pytest.raises(ValueError, match="test_share"):
        holdout_report(r.model, X, np.ones(len(X), bool), np.zeros((len(X), 4)), r.labels,
                       test_share=1.0)


def test_write_assignment_csv(tmp_path: Path) -> None:
    X, _ = blobs([80, 80], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    out = assign(r.model, X[:5], np.ones(5, bool), np.zeros((5, 4)))
    path = write_assignment(tmp_path / "a.csv", [f"u{i}" for i in range(5)], out,
                            names={int(out.labels[0]): "Tea lovers"})
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # written in place, no temp file left
    rows = list(csv.DictReader(path.open()))
    assert [r["user_id"] for r in rows] == [f"u{i}" for i in range(5)]
    assert rows[0]["segment_name"] == "Tea lovers"
    assert set(rows[0]) == {"user_id", "segment_id", "segment_name", "membership",
                            "nearest_segment_id"}


def test_holdout_uses_a_bounded_subset() -> None:
    X, _ = blobs([300, 300], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)))
    rep = holdout_report(r.model, X, np.ones(len(X), bool), np.zeros((len(X), 4)), r.labels,
                         max_customers=200)
    assert rep["n_train"] + rep["n_test"] == 200
