"""The entry point: `generate` writes a sample shop chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.agent.core.schema import EVENT_TYPES
from segmint.data.synth._catalogue import Catalogue, make_catalogue, sample_groups
from segmint.data.synth._customers import Users, draw_users
from segmint.data.synth._events import Events, browse_events, order_events, tail_texts
from segmint.data.synth._long_tail import CATALOGUES, DEFAULT
from segmint.data.synth._shop import (
    AGE_BANDS,
    DAY,
    DEFAULT_END,
    EVENT_SCHEMA,
    GENDERS,
    LABEL_SCHEMA,
    LIFECYCLES,
    MISSING_AGE,
    MISSING_GENDER,
    REGION_SHARES,
    REGIONS,
    SEARCH,
    USER_SCHEMA,
    VIEW,
)
from segmint.data.synth._sinks import Sink, atomic, open_sink, output_format

_ORDER_BASE = 1_000_000


@dataclass(frozen=True)
class SynthResult:
    """What :func:`generate` wrote.

    Attributes:
        events_path: The events file.
        labels_path: ``user_id,label`` with the planted persona (or ``mixed``).
        users_path: ``user_id,age_band,gender,region,signup_date``.
        n_users: Customers generated.
        n_events: Event rows written.
    """

    events_path: Path
    labels_path: Path
    users_path: Path
    n_users: int
    n_events: int

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        """The three files written: events, labels, users."""
        return (self.events_path, self.labels_path, self.users_path)


@dataclass(frozen=True)
class _Chunk:
    events: pa.Table
    labels: pa.Table
    users: pa.Table
    n_orders: int


def _user_ids(first: int, n: int, width: int) -> pa.Array:
    numbers = pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64))
    out: pa.Array = pc.utf8_lpad(pc.cast(numbers, pa.string()), width=width, padding="0")
    return out


def _events_table(cat: Catalogue, ev: Events, ids: pa.Array, extra_texts: pa.Array) -> pa.Table:
    no_product = ev.product < 0
    no_qty = (ev.etype == SEARCH) | (ev.etype == VIEW)
    persona = np.where(no_product, 0, cat.product_persona[np.maximum(ev.product, 0)])
    columns = [
        ids.take(pa.array(ev.user)),
        pa.array(ev.ts * 1_000_000, type=pa.timestamp("us")),
        pa.array(EVENT_TYPES, pa.string()).take(pa.array(ev.etype)),
        (pa.concat_arrays([cat.text_vocab, extra_texts]) if len(extra_texts) else cat.text_vocab)
        .take(pa.array(ev.text)),
        cat.product_ids.take(pa.array(ev.product, mask=no_product)),
        pc.cast(pa.array(ev.order, mask=ev.order < 0), pa.string()),
        cat.categories.take(pa.array(persona, mask=no_product)),
        pa.array(ev.qty, mask=no_qty, type=pa.int64()),
        pa.array(ev.price, mask=np.isnan(ev.price), type=pa.float64()),
    ]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def _users_table(
    rng: np.random.Generator, cat: Catalogue, users: Users, ids: pa.Array, end: date
) -> pa.Table:
    n = users.n
    age = sample_groups(rng, cat.age_cdf, np.arange(1, cat.n_personas + 2) * len(AGE_BANDS), users.label)
    gender = sample_groups(rng, cat.gender_cdf, np.arange(1, cat.n_personas + 2) * len(GENDERS), users.label)
    region = rng.choice(len(REGIONS), size=n, p=np.array(REGION_SHARES) / sum(REGION_SHARES))
    new = users.lifecycle == [lc.name for lc in LIFECYCLES].index("new")
    lead = np.where(new, rng.integers(0, 4, n), np.rint(rng.exponential(300.0, n)).astype(np.int64))
    signup_day = users.act_start + np.minimum(lead, 2500)
    end_days = (end - date(1970, 1, 1)).days
    return pa.Table.from_arrays(
        [
            ids,
            pa.array(AGE_BANDS).take(pa.array(age % len(AGE_BANDS), mask=rng.random(n) < MISSING_AGE)),
            pa.array(GENDERS).take(pa.array(gender % len(GENDERS), mask=rng.random(n) < MISSING_GENDER)),
            pa.array(REGIONS).take(pa.array(region)),
            pa.array((end_days - signup_day).astype(np.int32), type=pa.date32()),
        ],
        schema=USER_SCHEMA,
    )


def _make_chunk(
    cat: Catalogue,
    seed: int,
    index: int,
    first_user: int,
    n: int,
    order_base: int,
    end: date,
    width: int,
) -> _Chunk:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))
    t_end = ((end - date(1970, 1, 1)).days + 1) * DAY
    users = draw_users(rng, cat, n)
    orders, n_orders = order_events(rng, cat, users, t_end, order_base)
    ev = Events.concat([orders, browse_events(rng, cat, users, t_end)])
    ev = ev.take(np.lexsort((ev.etype, ev.ts, ev.user)))
    ev, extra_texts = tail_texts(rng, cat, ev)
    ids = _user_ids(first_user, n, width)
    labels = pa.Table.from_arrays([ids, cat.labels.take(pa.array(users.label))], schema=LABEL_SCHEMA)
    return _Chunk(_events_table(cat, ev, ids, extra_texts), labels,
                  _users_table(rng, cat, users, ids, end), n_orders)


def side_paths(out: Path) -> tuple[Path, Path]:
    """The labels and users files that go with an events file.

    Args:
        out: The events file.

    Returns:
        ``(out + ".labels.csv", out + ".users.csv")``.
    """
    out = Path(out)
    return out.with_name(out.name + ".labels.csv"), out.with_name(out.name + ".users.csv")


def generate(
    n_users: int,
    out: Path,
    seed: int = 0,
    *,
    chunk_users: int = 50_000,
    end: date | None = None,
    catalogue: str = DEFAULT,
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Write a sample shop: events, planted labels and customer attributes.

    Args:
        n_users: Customers to generate (each gets ~20 events on average).
        out: Events file; the format follows the suffix (``.parquet``, ``.csv``,
            ``.csv.gz``, ``.jsonl``). ``out.labels.csv`` and ``out.users.csv`` are
            written next to it.
        seed: Non-negative seed; the output depends only on ``n_users``, ``seed``,
            ``chunk_users`` and ``end``.
        chunk_users: Customers generated and written per step (bounds memory).
        end: Last day of the shop's one-year window (default 2026-06-30); no event is
            later than the end of that day.
        catalogue: ``default`` (the packaged personas' ~1,300 titles and queries) or
            ``long-tail`` (about 0.3 products per customer with Zipf popularity, and search
            queries typed from product words with fillers and typos, nearly all unique).
        progress: Called as ``progress(users_done, n_users)`` after each chunk.

    Returns:
        The paths written and the counts.

    Raises:
        ValueError: On a negative ``n_users`` or ``seed``, ``chunk_users < 1``, an
            unknown file suffix or an unknown catalogue.
    """
    if n_users < 0 or seed < 0 or chunk_users < 1:
        raise ValueError("n_users and seed must be >= 0 and chunk_users >= 1")
    if catalogue not in CATALOGUES:
        raise ValueError(f"unknown catalogue {catalogue!r}; use one of: {', '.join(CATALOGUES)}")
    out = Path(out)
    fmt = output_format(out)
    end = date(end.year, end.month, end.day) if end is not None else DEFAULT_END
    labels_path, users_path = side_paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cat = make_catalogue(catalogue, n_users, seed)
    width = max(7, len(str(n_users)))
    n_events = 0
    with atomic([labels_path, users_path, out]) as (tmp_labels, tmp_users, tmp_events), ExitStack() as stack:
        sinks: list[Sink] = []
        for path, kind, schema in (
            (tmp_events, fmt, EVENT_SCHEMA),
            (tmp_labels, "csv", LABEL_SCHEMA),
            (tmp_users, "csv", USER_SCHEMA),
        ):
            sinks.append(open_sink(path, kind, schema))
            stack.callback(sinks[-1].close)
        order_base = _ORDER_BASE
        for index, first in enumerate(range(0, n_users, chunk_users)):
            n = min(chunk_users, n_users - first)
            chunk = _make_chunk(cat, seed, index, first, n, order_base, end, width)
            for sink, table in zip(sinks, (chunk.events, chunk.labels, chunk.users), strict=True):
                sink.write(table)
            order_base += chunk.n_orders
            n_events += chunk.events.num_rows
            if progress is not None:
                progress(first + n, n_users)
    return SynthResult(out, labels_path, users_path, n_users, n_events)
