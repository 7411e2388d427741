"""Customer documents: each customer's weighted set of texts, computed in DuckDB.

A customer's "document" is not one concatenated string but a sparse row of weights over the
shop's distinct texts (search queries and product titles). Encoding each distinct text once and
pooling with these weights is what lets the embedding stage scale with the catalogue instead of
with the event log.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = {
    "search": 1.0,
    "view": 1.0,
    "cart": 2.0,
    "purchase": 3.0,
    # A return still says what the customer was interested in, but much less than a kept purchase.
    "return": 0.5,
}

# Strings that pandas and friends write for a missing value; a product titled "nan" is far less
# likely than a NaN that was stringified on its way into the events table.
MISSING_TEXT_MARKERS: tuple[str, ...] = ("nan", "none", "null", "<na>", "n/a")


@dataclass(frozen=True)
class DocumentConfig:
    """How events turn into per-customer text weights.

    Attributes:
        event_weights: weight per event type; types not listed (or weight 0) contribute nothing.
        half_life_days: an event this many days older than ``as_of`` counts half; ``None``
            (the default) disables recency decay.
        as_of: reference time for recency; default the latest event in the table.
        sublinear_counts: use ``log1p(sum of weights)`` so a title bought 200 times does not
            drown out everything else the customer did.
        max_chars: texts are cut to this many characters before deduplication; the encoders
            truncate at their token limit anyway, this only bounds memory for pathological rows.
    """

    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    # No decay by default: an interest segment is what a customer engages with over their whole
    # history (recency is a fact inside each segment). A 180-day half-life cut ARI on
    # amazon_user_histories from 0.77 to 0.62: a long-time customer became their latest title.
    half_life_days: float | None = None
    as_of: datetime | None = None
    sublinear_counts: bool = True
    max_chars: int = 4096

    def __post_init__(self) -> None:
        for event_type, weight in self.event_weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"event weight for {event_type!r} must be >= 0, got {weight}")
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0 or None, got {self.half_life_days}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")


@dataclass(frozen=True)
class CustomerDocuments:
    """Every customer's weighted texts.

    Attributes:
        user_ids: customer ids, sorted; row ``i`` of ``weights`` belongs to ``user_ids[i]``.
        texts: distinct normalised texts; column ``j`` of ``weights`` is ``texts[j]``.
        weights: CSR matrix (users x texts), float32, non-negative.
        has_text: bool per user; ``False`` for customers whose events carry no usable text
            (they are kept so that a behaviour-only representation can cover them).
        searched_only: bool per text: every counted event carrying it is a search naming no
            product (a typed query, not a catalogue title); ``None`` when unknown (all texts
            count as catalogue texts).
    """

    user_ids: list[str]
    texts: list[str]
    weights: sp.csr_matrix
    has_text: np.ndarray
    searched_only: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        """Number of customers (with or without text)."""
        return len(self.user_ids)


# One pass over the events: each joins its type's weight and its text's normal form, and the
# products are summed per (user, normalised text). Whitespace normalisation (a regex) runs once
# per distinct raw text: `norm` is MATERIALIZED so that the filter on its result is not pushed
# below the DISTINCT (that ran the regex once per event: 19 of 20 s at 200k long-tail customers).
# Sums are DOUBLE, not the DECIMAL that literals like 1.0 would give. ``q``: the text came only
# from searches naming no product (what `segmint.embeddings.tail` may send to the static model).
_AGG_SQL = """
WITH
weights(event_type, w) AS (
    SELECT event_type, w::DOUBLE FROM (VALUES {weight_rows}) AS v(event_type, w)
),
norm AS MATERIALIZED (
    SELECT text, left(trim(regexp_replace(text, '[\\s\\p{{Z}}]+', ' ', 'g')), {max_chars}) AS t
    FROM (SELECT DISTINCT text FROM events WHERE text IS NOT NULL)
)
SELECT events.user_id, norm.t, sum(({decay})::DOUBLE * weights.w) AS w,
       bool_and(lower(events.event_type) = 'search' AND {no_product}) AS q
FROM events
JOIN weights ON lower(events.event_type) = weights.event_type
JOIN norm USING (text)
WHERE weights.w > 0 AND norm.t <> '' AND lower(norm.t) NOT IN ({missing})
GROUP BY events.user_id, norm.t
HAVING sum(({decay})::DOUBLE * weights.w) > 0
"""


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _decay_sql(con: duckdb.DuckDBPyConnection, config: DocumentConfig) -> str:
    if config.half_life_days is None:
        return "1.0"
    as_of = config.as_of
    if as_of is None:
        row = con.execute("SELECT max(ts) FROM events").fetchone()
        as_of = row[0] if row else None
    if as_of is None:
        return "1.0"
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    # Events after an explicit as_of count as fresh, never as more than fresh.
    age_seconds = f"greatest(epoch(TIMESTAMP '{as_of.isoformat(sep=' ')}') - epoch(ts), 0)"
    return f"pow(0.5, {age_seconds} / 86400.0 / {float(config.half_life_days)!r})"


def build_documents(
    con: duckdb.DuckDBPyConnection, config: DocumentConfig | None = None
) -> CustomerDocuments:
    """Build every customer's weighted text document from the ``events`` table.

    Weight of (customer, text) = sum over the customer's events with that text of
    ``event_weight[type] * 0.5 ** (age_days / half_life_days)``, then ``log1p`` when
    ``sublinear_counts``. Texts are whitespace-normalised (runs of any Unicode space collapsed to
one, then trimmed) and cut to
    ``max_chars``; NULL, empty, whitespace-only and stringified-missing ("nan", "None"...) texts
    are ignored.

    Args:
        con: a DuckDB connection holding the ``events`` table (see ``segmint.agent.core.schema``).
        config: weighting options; defaults to ``DocumentConfig()``.

    Returns:
        The documents; every user in ``events`` appears, with ``has_text`` False when none of
        their events carried usable text.
    """
    config = config or DocumentConfig()
    weight_rows = ", ".join(
        f"({_sql_literal(k.lower())}, {float(v)!r})" for k, v in config.event_weights.items()
    ) or "('', 0.0)"
    agg_sql = _AGG_SQL.format(
        weight_rows=weight_rows,
        max_chars=int(config.max_chars),
        missing=", ".join(_sql_literal(m) for m in MISSING_TEXT_MARKERS),
        decay=_decay_sql(con, config),
        no_product="events.product_id IS NULL" if _has_column(con, "product_id") else "TRUE",
    )
    suffix = uuid.uuid4().hex[:12]
    progress = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    # A progress bar on stdout would corrupt `--json` output of the caller.
    con.execute("SET enable_progress_bar = false")
    agg, users, texts = (f"_segmint_{name}_{suffix}" for name in ("agg", "users", "texts"))
    try:
        con.execute(f"CREATE TEMP TABLE {agg} AS {agg_sql}")
        con.execute(
            f"CREATE TEMP TABLE {users} AS SELECT user_id, "
            "(row_number() OVER (ORDER BY user_id) - 1)::BIGINT AS i "
            "FROM (SELECT DISTINCT user_id FROM events)"
        )
        con.execute(
            f"CREATE TEMP TABLE {texts} AS SELECT t, q, (row_number() OVER (ORDER BY t) - 1)::BIGINT"
            f" AS j FROM (SELECT t, bool_and(q) AS q FROM {agg} GROUP BY t)"
        )
        user_ids = _column(con, f"SELECT user_id AS v FROM {users} ORDER BY i")
        text_list = _column(con, f"SELECT t AS v FROM {texts} ORDER BY j")
        searched = con.execute(f"SELECT q FROM {texts} ORDER BY j").fetchnumpy()["q"]
        entries = con.execute(
            f"SELECT {users}.i, {texts}.j, {agg}.w FROM {agg} "
            f"JOIN {users} USING (user_id) JOIN {texts} USING (t)"
        ).fetchnumpy()
    finally:
        for table in (agg, users, texts):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        if progress and progress[0]:
            con.execute("SET enable_progress_bar = true")
    vals = np.asarray(entries["w"], dtype=np.float64)
    if config.sublinear_counts:
        vals = np.log1p(vals)
    import scipy.sparse as sp

    weights = sp.csr_matrix(
        (vals.astype(np.float32), (np.asarray(entries["i"]), np.asarray(entries["j"]))),
        shape=(len(user_ids), len(text_list)),
        dtype=np.float32,
    )
    weights.sort_indices()
    has_text = np.diff(weights.indptr) > 0
    return CustomerDocuments(user_ids=user_ids, texts=text_list, weights=weights, has_text=has_text,
                             searched_only=np.asarray(searched, dtype=bool))


def _has_column(con: duckdb.DuckDBPyConnection, column: str) -> bool:
    # Events tables built by hand (benches, tests) may lack the optional columns.
    return column in {d[0] for d in con.execute("SELECT * FROM events LIMIT 0").description}


def _column(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [str(v) for v in con.execute(sql).fetchnumpy()["v"].tolist()]
