"""The segment step on synthetic customer vectors: recovery, noise, determinism, scale, kinds."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from conftest import BLOB_DIM, blobs, build_workspace, purchase_rows
from segmint.agent.core.arrays import UNASSIGNED
from segmint.agent.segment._vectors import center_normalise, knn
from segmint.agent.segment.build import SegmentParams, build_segments, row_keys
from segmint.agent.segment.model import SegmentModel
from segmint.agent.segment.reduce import PCAReducer, SpectralReducer


def no_behaviour(n: int) -> npt.NDArray[np.float64]:
    return np.zeros((n, 4))


def rfm(n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    """Plausible raw recency_days, orders, revenue, n_events; a tenth never bought."""
    rng = np.random.default_rng(seed)
    orders = rng.geometric(0.3, n).astype(float)
    revenue = orders * rng.lognormal(3.5, 0.8, n)
    recency = rng.integers(0, 365, n).astype(float)
    never = rng.random(n) < 0.1
    recency[never], orders[never], revenue[never] = np.nan, 0, 0
    return np.stack([recency, orders, revenue, orders * rng.integers(3, 20, n)], axis=1)


def test_recovers_planted_groups_without_being_told_how_many() -> None:
    X, y = blobs([150, 120, 100, 90, 80, 60])
    r = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)))
    assert r.n_segments == 6
    assert adjusted_rand_score(y, r.labels) >= 0.95
    assert r.noise_share <= 0.05


def test_exact_k_with_kmeans() -> None:
    X, _ = blobs([100, 100, 100, 100])
    r = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), k=7)
    assert r.n_segments == 7
    assert r.fit["interest"]["k"] == 7


def test_every_customer_gets_exactly_one_segment_and_sizes_add_up() -> None:
    X, _ = blobs([80, 80, 80])
    r = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)))
    ids = {s.id for s in r.segments}
    assert set(r.labels.tolist()) <= ids
    assert sum(s.size for s in r.segments) == len(X)
    assert r.segments[0].id == UNASSIGNED and r.segments[0].kind == "unassigned"
    assert r.segments[0].size == int((r.labels == UNASSIGNED).sum())
    assert np.all((r.membership >= 0) & (r.membership <= 1))
    assert np.all(r.membership[r.labels == UNASSIGNED] == 0)


def test_far_outliers_are_unassigned_not_forced_into_a_segment() -> None:
    X, _ = blobs([100] * 10, spread=0.8)
    rng = np.random.default_rng(5)
    out = rng.standard_normal((30, BLOB_DIM)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    V = np.concatenate([X, out])
    r = build_segments(V, np.ones(len(V), bool), no_behaviour(len(V)))
    assert (r.labels[-30:] == UNASSIGNED).mean() >= 0.8
    assert (r.labels[:-30] != UNASSIGNED).mean() >= 0.97
    assert r.noise_share == pytest.approx((r.labels == UNASSIGNED).mean())
    # The Unassigned still learn which segment they are closest to.
    assert np.all(r.nearest > 0)


def test_same_data_and_seed_give_identical_assignments() -> None:
    X, _ = blobs([90, 70, 60, 40], spread=0.9)
    a = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), seed=3)
    b = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), seed=3)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.membership, b.membership)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perm_seed=st.integers(0, 2**31 - 1), seed=st.integers(0, 50))
def test_labels_do_not_depend_on_input_order(perm_seed: int, seed: int) -> None:
    X, _ = blobs([60, 50, 40], spread=0.8, seed=1)
    base = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), seed=seed)
    perm = np.random.default_rng(perm_seed).permutation(len(X))
    shuffled = build_segments(X[perm], np.ones(len(X), bool), no_behaviour(len(X)), seed=seed)
    assert np.array_equal(shuffled.labels, base.labels[perm])
    assert np.allclose(shuffled.membership, base.membership[perm], atol=1e-5)


def test_different_seeds_agree_when_fitting_on_samples() -> None:
    X, _ = blobs([900, 700, 600, 500, 300], spread=0.8)
    p = SegmentParams(fit_sample=800)
    a = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), seed=0, params=p)
    b = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), seed=1, params=p)
    assert a.fit["interest"]["sample"] == 800
    assert adjusted_rand_score(a.labels, b.labels) >= 0.9


def test_fit_on_a_sample_assigns_everyone_like_the_model_does() -> None:
    X, y = blobs([700, 500, 400, 400], spread=0.7)
    r = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)),
                       params=SegmentParams(fit_sample=300))
    assert r.fit["interest"]["sample"] == 300
    assert adjusted_rand_score(y, r.labels) >= 0.95
    labels, member, _ = r.model.predict(X, np.ones(len(X), bool), no_behaviour(len(X)))
    assert np.array_equal(labels, r.labels)
    assert np.allclose(member, r.membership, atol=1e-5)


def test_model_file_round_trip_predicts_the_same(tmp_path) -> None:
    X, _ = blobs([120, 100, 80])
    beh = rfm(len(X))
    has_text = np.arange(len(X)) % 5 != 0
    r = build_segments(X, has_text, beh)
    path = r.model.save(tmp_path / "m.npz")
    loaded = SegmentModel.load(path)
    labels, member, near = loaded.predict(X, has_text, beh)
    assert np.array_equal(labels, r.labels)
    assert np.allclose(member, r.membership, atol=1e-5)
    assert np.array_equal(near, r.nearest)
    assert loaded.next_id == r.model.next_id


def test_customers_without_text_get_behaviour_segments() -> None:
    X, _ = blobs([200, 200])
    has_text = np.ones(len(X), bool)
    has_text[:150] = False
    r = build_segments(X, has_text, rfm(len(X)))
    kinds = {s.id: s.kind for s in r.segments}
    assert {kinds[i] for i in r.labels[:150]} == {"behaviour"}
    assert {kinds[i] for i in r.labels[150:] if i != UNASSIGNED} == {"interest"}
    assert r.fit["behaviour"]["customers"] == 150
    # Ids never collide across the two kinds.
    assert len(kinds) == len(set(kinds))


def test_a_shop_without_any_text_is_segmented_on_rfm() -> None:
    beh = rfm(1200)
    r = build_segments(np.zeros((1200, 8), np.float32), np.zeros(1200, bool), beh)
    assert 2 <= r.n_segments <= 6
    assert r.noise_share == 0.0
    # Segments differ in value: the best segment's median revenue is well above the worst's.
    med = [np.median(beh[r.labels == s.id, 2]) for s in r.segments if s.id]
    assert max(med) > 3 * max(min(med), 1.0)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_tiny_shops_do_not_crash(n: int) -> None:
    X, _ = blobs([max(n, 1)])
    X = X[:n]
    r = build_segments(X, np.ones(n, bool), rfm(n))
    assert len(r.labels) == n
    assert r.noise_share == (0.0 if n == 0 else pytest.approx((r.labels == 0).mean()))


def test_identical_customers_form_one_segment() -> None:
    X = np.tile(np.eye(BLOB_DIM, dtype=np.float32)[:1], (60, 1))
    r = build_segments(X, np.ones(60, bool), no_behaviour(60))
    assert r.n_segments == 1 and set(r.labels.tolist()) == {r.segments[1].id}


def test_a_shop_of_two_products_never_leaves_an_empty_segment(tmp_path: Path) -> None:
    # Each customer buys one of two products: Lloyd's last update left two centroids equal, and
    # the segment that held no one crashed the fit.
    ws = build_workspace(tmp_path, purchase_rows(40, seed=3, texts=["Red Teapot", "Cake Stand"],
                                                 countries=["France", "Spain"]))
    with contextlib.closing(ws.reader()) as con:
        sizes = [n for (n,) in con.execute("SELECT size FROM segments WHERE segment_id <> 0").fetchall()]
    assert sizes and min(sizes) > 0


def test_min_segment_size_bounds_the_smallest_segment() -> None:
    X, _ = blobs([300, 250, 30, 25])
    r = build_segments(X, np.ones(len(X), bool), no_behaviour(len(X)), min_segment_size=100)
    sizes = [s.size for s in r.segments if s.id != UNASSIGNED]
    assert r.n_segments == 2
    assert min(sizes) >= 100


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="segments"):
        SegmentParams(k=0)
    with pytest.raises(ValueError, match="min-segment-size"):
        SegmentParams(min_segment_size=1)
    X, _ = blobs([10])
    with pytest.raises(ValueError, match="one row per customer"):
        build_segments(X, np.ones(len(X) + 1, bool), no_behaviour(len(X) + 1))


def test_row_keys_depend_on_content_and_seed_only() -> None:
    X, _ = blobs([50])
    k0 = row_keys(X, 0)
    assert np.array_equal(row_keys(X[::-1], 0), k0[::-1])
    assert not np.array_equal(row_keys(X, 1), k0)
    assert len(np.unique(k0)) == len(X)


def test_knn_skips_self_even_among_duplicates() -> None:
    X, _ = blobs([20])
    X = np.concatenate([X, X[:3]])
    sims, idx = knn(X, 4)
    assert idx.shape == (23, 4)
    assert not np.any(idx == np.arange(23)[:, None])
    assert np.all(np.diff(sims, axis=1) <= 1e-6)


def test_spectral_reducer_separates_groups_and_places_new_rows() -> None:
    X, y = blobs([80, 80, 80], spread=0.8)
    Xc = center_normalise(X, X.mean(axis=0))
    red = SpectralReducer(n_components=3, n_neighbors=10, seed=0).fit(Xc)
    Z = red.embedding_
    # Rows of a group point the same way; rows of different groups do not.
    same = np.mean([Z[y == g] @ Z[y == g].mean(0) for g in range(3)])
    other = np.mean(Z[y == 0] @ Z[y == 1].mean(0))
    assert same > 0.9 and other < 0.5
    again = SpectralReducer(n_components=3, n_neighbors=10, seed=0).fit(Xc).embedding_
    assert np.array_equal(again, Z)
    placed = red.transform(Xc[:20])
    assert np.all(np.sum(placed * Z[:20], axis=1) > 0.9)


def test_pca_reducer_is_the_plain_baseline() -> None:
    X, _ = blobs([40, 40])
    Z = PCAReducer(n_components=5).fit_transform(X)
    assert Z.shape == (80, 5)
