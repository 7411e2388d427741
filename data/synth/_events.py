"""Events of one chunk: orders with their lead-up and returns, and browsing sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from segmint.agent.core.arrays import F64, IntArray
from segmint.data.synth._catalogue import Catalogue, sample_groups
from segmint.data.synth._customers import Users, day_start, interest, segment_index, time_of_day, uniform_days
from segmint.data.synth._long_tail import HEAD_QUERY_SHARE, tail_queries
from segmint.data.synth._shop import CART, DAY, LIFECYCLES, PURCHASE, RETURN, SEARCH, VIEW

_TIER_EXTRA_LINES = np.array([0.15, 0.35, 0.7])
_TIER_EXTRA_QTY = np.array([0.1, 0.25, 0.6])
_DISCOUNT_SHARE = 0.18
_DISCOUNTS = np.array([0.10, 0.15, 0.20, 0.25])
_SEARCH_BEFORE_ORDER = 0.5
_SESSION_SEARCH = 0.65
_SESSION_EXTRA_VIEWS = 0.9
_SESSION_CART = 0.15


@dataclass(frozen=True)
class Events:
    """Event rows as parallel arrays (indices into the catalogue, not text yet)."""

    user: IntArray
    ts: IntArray  # epoch seconds
    etype: IntArray
    text: IntArray  # index into the text vocabulary
    product: IntArray  # -1: none
    order: IntArray  # order number, -1: none
    qty: IntArray  # only meaningful for cart, purchase, return
    price: F64  # NaN: none

    @staticmethod
    def concat(parts: Sequence[Events]) -> Events:
        """The rows of every part, in order."""
        return Events(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Events.__dataclass_fields__)
        )

    def take(self, idx: IntArray) -> Events:
        """The rows at `idx`."""
        return Events(*(getattr(self, f)[idx] for f in Events.__dataclass_fields__))


def _product_events(
    user: IntArray,
    ts: IntArray,
    etype: int,
    product: IntArray,
    cat: Catalogue,
    *,
    order: IntArray | None = None,
    qty: IntArray | None = None,
    price: F64 | None = None,
) -> Events:
    """Events about a product; without ``price`` the list price is shown."""
    m = len(user)
    return Events(
        user=user,
        ts=ts,
        etype=np.full(m, etype, dtype=np.int64),
        text=product,
        product=product,
        order=np.full(m, -1, dtype=np.int64) if order is None else order,
        qty=np.ones(m, dtype=np.int64) if qty is None else qty,
        price=cat.product_price[product] if price is None else price,
    )


def _queries(rng: np.random.Generator, cat: Catalogue, persona: IntArray) -> IntArray:
    """Text index of one search query per row.

    With a long-tail catalogue, the share of searches that are not head queries are coded
    ``-1 - product``: a query to be typed about that product (see `tail_texts`).
    """
    query: IntArray = cat.n_products + sample_groups(rng, cat.query_cdf, cat.query_end, persona)
    if cat.query_words is None:
        return query
    # Mid-tier popularity: what people search for is what sells, whatever they then buy.
    mid = cat.n_personas + persona
    product = sample_groups(rng, cat.product_cdf, cat.product_end, mid) - cat.n_products
    out: IntArray = np.where(rng.random(len(persona)) < HEAD_QUERY_SHARE, query, -1 - product)
    return out


def tail_texts(rng: np.random.Generator, cat: Catalogue, ev: Events) -> tuple[Events, pa.Array]:
    """Type the tail queries of a chunk: their rows then index ``cat.text_vocab`` + the result.

    Args:
        rng: the chunk's generator.
        cat: the catalogue.
        ev: the chunk's events, tail queries coded as `_queries` codes them.

    Returns:
        The events with every text index valid, and the new texts to append to the vocabulary.
    """
    tail = np.flatnonzero(ev.text < 0)
    if cat.query_words is None or len(tail) == 0:
        return ev, pa.array([], pa.string())
    texts = tail_queries(rng, cat.query_words, -1 - ev.text[tail])
    text = ev.text.copy()
    text[tail] = len(cat.text_vocab) + np.arange(len(tail))
    return replace(ev, text=text), texts


def _search_events(
    rng: np.random.Generator, cat: Catalogue, user: IntArray, ts: IntArray, persona: IntArray
) -> Events:
    m = len(user)
    return Events(
        user=user,
        ts=ts,
        etype=np.full(m, SEARCH, dtype=np.int64),
        text=_queries(rng, cat, persona),
        product=np.full(m, -1, dtype=np.int64),
        order=np.full(m, -1, dtype=np.int64),
        qty=np.zeros(m, dtype=np.int64),
        price=np.full(m, np.nan),
    )


def order_events(
    rng: np.random.Generator, cat: Catalogue, users: Users, t_end: int, order_base: int
) -> tuple[Events, int]:
    """Orders with their lead-up (search, view, cart) and returns; also the order count."""
    o_user, o_pos = segment_index(users.n_orders)
    n_o = len(o_user)
    nk = users.n_orders[o_user]
    lo, hi = users.last_day[o_user], users.first_day[o_user]
    day = np.where(o_pos == 0, lo, np.where(o_pos == nk - 1, hi, uniform_days(rng, lo, hi)))
    o_ts = day_start(t_end, day) + time_of_day(rng, n_o)
    o_persona = interest(rng, cat, users, o_user)
    o_number = order_base + np.arange(n_o, dtype=np.int64)
    tier_o = users.tier[o_user]

    line_order, _ = segment_index(1 + rng.poisson(_TIER_EXTRA_LINES[tier_o]))
    l_tier = tier_o[line_order]
    group = l_tier * cat.n_personas + o_persona[line_order]
    product = sample_groups(rng, cat.product_cdf, cat.product_end, group) - l_tier * cat.n_products
    # A product appears once per order (more of it is quantity, not another line).
    _, keep = np.unique(line_order * cat.n_products + product, return_index=True)
    line_order, product, l_tier = line_order[keep], product[keep], l_tier[keep]
    n_l = len(line_order)
    l_user, l_ts = o_user[line_order], o_ts[line_order]
    qty = 1 + rng.poisson(_TIER_EXTRA_QTY[l_tier])
    discount = np.where(rng.random(n_l) < _DISCOUNT_SHARE, rng.choice(_DISCOUNTS, n_l), 0.0)
    unit = np.round(cat.product_price[product] * (1.0 - discount), 2)
    order = o_number[line_order]

    cart_ts = l_ts - rng.integers(60, 1800, n_l)
    view_ts = cart_ts - rng.integers(20, 900, n_l)
    searched = np.flatnonzero(rng.random(n_o) < _SEARCH_BEFORE_ORDER)
    returned = rng.random(n_l) < cat.return_rate[cat.product_persona[product]]
    r_ts = l_ts + rng.integers(2 * DAY, 31 * DAY, n_l)
    back = np.flatnonzero(returned & (r_ts < t_end))
    parts = [
        _search_events(
            rng,
            cat,
            o_user[searched],
            o_ts[searched] - rng.integers(2800, 4000, len(searched)),
            o_persona[searched],
        ),
        _product_events(l_user, view_ts, VIEW, product, cat),
        _product_events(l_user, cart_ts, CART, product, cat, qty=qty, price=unit),
        _product_events(l_user, l_ts, PURCHASE, product, cat, order=order, qty=qty, price=unit),
        _product_events(
            l_user[back],
            r_ts[back],
            RETURN,
            product[back],
            cat,
            order=order[back],
            qty=-qty[back],
            price=unit[back],
        ),
    ]
    return Events.concat(parts), n_o


def browse_events(rng: np.random.Generator, cat: Catalogue, users: Users, t_end: int) -> Events:
    """Sessions that end without a purchase: a search, a few views, maybe an abandoned cart."""
    rate = np.array([lc.browse_rate for lc in LIFECYCLES])[users.lifecycle] * users.engagement
    n_sessions = rng.poisson(rate)
    # Everyone on the customer list left at least one trace in the log.
    n_sessions = np.where((users.n_orders == 0) & (n_sessions == 0), 1, n_sessions)
    s_user, _ = segment_index(n_sessions)
    n_s = len(s_user)
    s_persona = interest(rng, cat, users, s_user)
    s_tier = users.tier[s_user]
    has_search = (rng.random(n_s) < _SESSION_SEARCH).astype(np.int64)
    n_views = 1 + rng.poisson(_SESSION_EXTRA_VIEWS, n_s)
    has_cart = (rng.random(n_s) < _SESSION_CART).astype(np.int64)

    e_sess, pos = segment_index(has_search + n_views + has_cart)
    n_e = len(e_sess)
    etype = np.where(
        pos < has_search[e_sess],
        SEARCH,
        np.where(pos < (has_search + n_views)[e_sess], VIEW, CART),
    )
    gaps = np.where(pos == 0, 0, rng.integers(15, 300, n_e))
    elapsed = np.cumsum(gaps)
    offset = elapsed - elapsed[np.flatnonzero(pos == 0)][e_sess]
    duration = np.zeros(n_s, dtype=np.int64)
    np.maximum.at(duration, e_sess, offset)
    day = uniform_days(rng, users.act_end[s_user], users.act_start[s_user])
    start = np.minimum(day_start(t_end, day) + time_of_day(rng, n_s), t_end - 1 - duration)
    ts = start[e_sess] + offset

    group = s_tier[e_sess] * cat.n_personas + s_persona[e_sess]
    product = sample_groups(rng, cat.product_cdf, cat.product_end, group) - s_tier[e_sess] * cat.n_products
    # The abandoned cart holds the last product looked at.
    is_cart = etype == CART
    product = np.where(is_cart, np.roll(product, 1), product)
    query = _queries(rng, cat, s_persona[e_sess])
    is_search = etype == SEARCH
    return Events(
        user=s_user[e_sess],
        ts=ts,
        etype=etype.astype(np.int64),
        text=np.where(is_search, query, product),
        product=np.where(is_search, -1, product),
        order=np.full(n_e, -1, dtype=np.int64),
        qty=np.ones(n_e, dtype=np.int64),
        price=np.where(is_search, np.nan, cat.product_price[product]),
    )
