"""Stable segment ids across runs and the kept / merged / split / new / retired report."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from segmint.agent.core.arrays import UNASSIGNED
from segmint.agent.segment.build import SegmentParams, build_segments, previous_from_result
from segmint.agent.segment.stable_ids import PreviousSegments, match_ids, transitions

DIM = 48


def centres(k: int, seed: int = 0) -> npt.NDArray[np.float64]:
    c = np.random.default_rng(seed).standard_normal((k, DIM))
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def draw(centre_rows: npt.NDArray[np.float64], sizes: list[int], seed: int, spread: float = 0.7
         ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + spread * rng.standard_normal((n, DIM)) / np.sqrt(DIM)
                        for c, n in zip(centre_rows, sizes, strict=True)])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


def run(X: npt.NDArray[np.float32], previous: PreviousSegments | None = None, **kw: object):
    return build_segments(X, np.ones(len(X), bool), np.zeros((len(X), 4)), previous=previous,
                          **kw)  # type: ignore[arg-type]


def by_group(labels: npt.NDArray[np.int64], groups: npt.NDArray[np.int64]) -> dict[int, int]:
    """The segment id most members of each planted group got."""
    return {int(g): int(np.bincount(labels[groups == g]).argmax()) for g in np.unique(groups)}


def test_first_run_numbers_segments_by_size_and_everything_is_new() -> None:
    X, y = draw(centres(4), [300, 200, 120, 80], seed=1)
    r = run(X)
    ids = by_group(r.labels, y)
    assert [ids[g] for g in range(4)] == [1, 2, 3, 4]
    assert {t.status for t in r.transitions} == {"new"}
    assert r.model.next_id == 5


def test_rerun_on_the_same_data_keeps_every_id() -> None:
    X, _ = draw(centres(5), [150, 150, 100, 100, 60], seed=2)
    first = run(X)
    again = run(X, previous_from_result(first))
    assert np.array_equal(first.labels, again.labels)
    assert {t.status for t in again.transitions} == {"kept"}
    assert all(t.jaccard == 1.0 for t in again.transitions)


def test_ids_survive_a_different_seed_and_sample() -> None:
    X, y = draw(centres(5), [900, 700, 500, 400, 300], seed=3, spread=1.0)
    p = SegmentParams(fit_sample=600)
    first = run(X, seed=0, params=p)
    second = run(X, previous_from_result(first), seed=7, params=p)
    assert by_group(first.labels, y) == by_group(second.labels, y)
    assert (first.labels == second.labels).mean() >= 0.95


def test_new_group_gets_a_fresh_id_and_old_ids_stay() -> None:
    c = centres(5)
    X, y = draw(c[:4], [200, 150, 150, 100], seed=4)
    first = run(X)
    X_new, _ = draw(c[4:], [120], seed=5)
    X2 = np.concatenate([X, X_new])
    old_ids = [str(i) for i in range(len(X))]
    new_ids = old_ids + [f"n{i}" for i in range(len(X_new))]
    second = run(X2, previous_from_result(first, old_ids, new_ids))
    assert by_group(second.labels[: len(X)], y) == by_group(first.labels, y)
    fresh = int(np.bincount(second.labels[len(X):]).argmax())
    assert fresh == first.model.next_id
    status = {t.id: t.status for t in second.transitions}
    assert status[fresh] == "new"
    assert all(status[i] == "kept" for i in by_group(first.labels, y).values())


def test_vanished_group_is_retired_and_its_id_never_reused() -> None:
    c = centres(5, seed=9)
    X, y = draw(c, [200, 150, 150, 100, 100], seed=6)
    first = run(X)
    gone = by_group(first.labels, y)[4]
    keep = y != 4
    ids = [str(i) for i in range(len(X))]
    second = run(X[keep], previous_from_result(first, ids, [u for u, k in zip(ids, keep, strict=True) if k]))
    status = {t.id: t.status for t in second.transitions}
    assert status[gone] == "retired"
    assert gone not in set(second.labels.tolist())
    # A third run with a brand-new group must not hand out the retired id again.
    X3_new, _ = draw(centres(1, seed=99), [120], seed=7)
    X3 = np.concatenate([X[keep], X3_new])
    ids2 = [u for u, k in zip(ids, keep, strict=True) if k]
    third = run(X3, previous_from_result(second, ids2, ids2 + [f"z{i}" for i in range(120)]))
    assert gone not in set(third.labels.tolist())
    assert max(third.labels) >= second.model.next_id


def test_without_shared_customers_centroids_carry_the_ids() -> None:
    c = centres(4, seed=11)
    X, y = draw(c, [200, 150, 120, 100], seed=12)
    first = run(X)
    X2, y2 = draw(c, [180, 160, 110, 90], seed=13)
    prev = previous_from_result(first, [f"a{i}" for i in range(len(X))],
                                [f"b{i}" for i in range(len(X2))])
    second = run(X2, prev)
    assert by_group(second.labels, y2) == by_group(first.labels, y)
    assert {t.status for t in second.transitions} == {"kept"}


def test_transitions_name_merges_and_splits() -> None:
    # Previous: segments 1, 2 (50 each) and 3 (100). Now: 1 and 2 merged into 1; 3 split into 3
    # and a new 4.
    prev = np.array([1] * 50 + [2] * 50 + [3] * 100)
    now = np.array([1] * 100 + [3] * 50 + [4] * 50)
    p = PreviousSegments(labels=prev, kinds={0: "unassigned", 1: "interest", 2: "interest",
                                             3: "interest"}, next_id=4)
    out = {t.id: t for t in transitions(now, p, {1: "interest", 3: "interest", 4: "interest"})}
    assert out[1].status == "merged" and out[1].previous == [1, 2]
    assert out[2].status == "retired" and out[2].current == [1]
    assert out[3].status == "kept"
    assert out[4].status == "split" and out[4].previous == [3]


def test_match_ids_keeps_ids_only_for_real_overlap() -> None:
    prev = np.array([5] * 40 + [6] * 40 + [UNASSIGNED] * 20)
    p = PreviousSegments(labels=prev, kinds={5: "interest", 6: "interest"}, next_id=9)
    # Cluster 0 = old 6's members, cluster 1 = a mix of nobody in particular.
    labels = np.array([1] * 40 + [0] * 40 + [1] * 20)
    cents = np.eye(2, dtype=np.float32)
    ids, nxt = match_ids(labels, cents, np.bincount(labels), "interest", p, 9)
    assert ids[0] == 6
    assert ids[1] in (5, 9)
    # Same labels but another kind: no id can be taken over.
    ids_b, nxt_b = match_ids(labels, cents, np.bincount(labels), "behaviour", p, 9)
    assert sorted(ids_b.tolist()) == [9, 10] and nxt_b == 11
    assert nxt >= 9


def test_previous_from_result_needs_both_id_lists() -> None:
    X, _ = draw(centres(2), [60, 60], seed=0)
    r = run(X)
    with pytest.raises(ValueError, match="both"):
        previous_from_result(r, ["a"], None)
