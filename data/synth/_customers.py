"""Customers of one chunk: persona, tier, lifecycle, purchase plan and activity window; and the
day and time helpers the events share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segmint.agent.core.arrays import F64, IntArray
from segmint.data.synth._catalogue import Catalogue
from segmint.data.synth._shop import (
    DAY,
    LAST_DAY,
    LIFECYCLES,
    MIXED_SHARE,
    NEW_ORDER_COUNTS,
    TIER_SHARES,
    TIERS,
)

# Order frequency per value tier, relative to the persona's cadence.
_TIER_ORDER_RATE = np.array([0.7, 1.0, 1.6])
# Relative traffic per hour of day (UTC), evening-heavy like most web shops.
_HOUR_WEIGHTS = np.array(
    [
        *(1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0),
        *(3.2, 3.1, 3.0, 3.0, 3.1, 3.4, 4.0, 4.6, 5.0, 4.6, 3.4, 2.0),
    ]
)


@dataclass(frozen=True)
class Users:
    """The customers of one chunk, one row each; days count back from the end date."""

    label: IntArray  # persona index, or n_personas for mixed customers
    stray: F64  # chance that a session or order is about a related persona
    lifecycle: IntArray
    tier: IntArray
    engagement: F64
    n_orders: IntArray
    last_day: IntArray
    first_day: IntArray
    act_end: IntArray  # browsing happens between these days
    act_start: IntArray

    @property
    def n(self) -> int:
        return len(self.label)


def uniform_days(rng: np.random.Generator, lo: IntArray, hi: IntArray) -> IntArray:
    """Integer day in [lo, hi] per row (hi >= lo)."""
    out: IntArray = lo + (rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)
    return np.minimum(out, hi)


def _purchase_plan(
    rng: np.random.Generator, cat: Catalogue, label: IntArray, lifecycle: IntArray, tier: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Number of orders and days of the last and first order for each customer."""
    n = len(label)
    n_orders = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    for code, lc in enumerate(LIFECYCLES):
        rows = np.flatnonzero(lifecycle == code)
        m = len(rows)
        lo = np.full(m, lc.last[0], dtype=np.int64)
        d_last = uniform_days(rng, lo, np.full(m, lc.last[1], dtype=np.int64))
        f_lo = np.maximum(d_last + (lc.kind == "repeat"), lc.first[0])
        d_first = uniform_days(rng, np.maximum(f_lo, d_last), np.full(m, lc.first[1]))
        if lc.kind == "none":
            count = np.zeros(m, dtype=np.int64)
        elif lc.kind == "one":
            count, d_first = np.ones(m, dtype=np.int64), d_last
        elif lc.kind == "few":
            r = rng.random(m)
            count = 1 + (r < 1 - NEW_ORDER_COUNTS[0]) + (r < NEW_ORDER_COUNTS[2])
        else:
            span = (d_first - d_last).astype(np.float64)
            rate = span / cat.cadence[label[rows]] * _TIER_ORDER_RATE[tier[rows]]
            count = 2 + np.minimum(rng.poisson(rate), 40)
        d_first = np.where(count > 1, d_first, d_last)
        n_orders[rows], last[rows], first[rows] = count, d_last, d_first
    return n_orders, last, first


def _activity_window(
    rng: np.random.Generator, n_orders: IntArray, last: IntArray, first: IntArray
) -> tuple[IntArray, IntArray]:
    """Days between which a customer browses: around their purchases, or anywhere for browsers."""
    n = len(n_orders)
    buyer = n_orders > 0
    anchor_end = np.where(buyer, last, rng.integers(0, LAST_DAY + 1, n))
    anchor_start = np.where(buyer, first, anchor_end)
    after = np.rint(rng.exponential(15.0, n)).astype(np.int64)
    before = np.rint(rng.exponential(np.where(buyer, 15.0, 40.0))).astype(np.int64)
    act_end = np.maximum(anchor_end - after, 0)
    act_start = np.minimum(anchor_start + before, LAST_DAY)
    return act_end, act_start


def draw_users(rng: np.random.Generator, cat: Catalogue, n: int) -> Users:
    """Draw `n` customers: persona (or mixed), lifecycle, tier, purchase plan, activity window."""
    n_p = cat.n_personas
    label = rng.choice(n_p, size=n, p=cat.persona_p).astype(np.int64)
    label = np.where(rng.random(n) < MIXED_SHARE, n_p, label)
    shares = np.array([lc.share for lc in LIFECYCLES])
    lifecycle = rng.choice(len(LIFECYCLES), size=n, p=shares / shares.sum()).astype(np.int64)
    tier = rng.choice(len(TIERS), size=n, p=np.array(TIER_SHARES)).astype(np.int64)
    n_orders, last, first = _purchase_plan(rng, cat, label, lifecycle, tier)
    act_end, act_start = _activity_window(rng, n_orders, last, first)
    return Users(
        label=label,
        stray=rng.beta(1.2, 16.0, n),
        lifecycle=lifecycle,
        tier=tier,
        engagement=rng.gamma(2.0, 0.5, n),
        n_orders=n_orders,
        last_day=last,
        first_day=first,
        act_end=act_end,
        act_start=act_start,
    )


def interest(rng: np.random.Generator, cat: Catalogue, users: Users, who: IntArray) -> IntArray:
    """The persona a session or order is about: mostly the customer's own."""
    m = len(who)
    label = users.label[who]
    mixed = label == cat.n_personas
    own = np.where(mixed, 0, label)
    pick = (rng.random(m) * cat.related_len[own]).astype(np.int64)
    related = cat.related_flat[cat.related_start[own] + pick]
    stray = rng.random(m) < users.stray[who]
    anywhere = rng.integers(0, cat.n_personas, m)
    out: IntArray = np.where(mixed, anywhere, np.where(stray, related, own))
    return out


def time_of_day(rng: np.random.Generator, m: int) -> IntArray:
    """Seconds into the day for `m` events, following the hourly traffic of a web shop."""
    hours = rng.choice(24, size=m, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    out: IntArray = hours * 3600 + rng.integers(0, 3600, m)
    return out


def day_start(t_end: int, day: IntArray) -> IntArray:
    """Epoch seconds at which each day (counted back from the end, 0 = last day) begins."""
    out: IntArray = t_end - (day + 1) * DAY
    return out


def segment_index(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For rows expanded by ``counts``: the parent of each row and its position in the parent."""
    parent = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pos: IntArray = np.arange(len(parent), dtype=np.int64) - starts[parent]
    return parent, pos
