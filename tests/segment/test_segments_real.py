"""The segment step on real shop data (skipped when ../shared/datasets is absent) and on the
sample shop. Only the behaviour check is fast; the text ones embed thousands of titles."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from conftest import AMAZON, ONLINE_RETAIL
from segmint.agent.core.arrays import UNASSIGNED
from segmint.agent.segment.build import build_segments

needs_retail = pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="Online Retail not present")
needs_amazon = pytest.mark.skipif(not AMAZON.exists(), reason="amazon_user_histories not present")

RETAIL_EVENTS = f"""
CREATE TABLE events AS
SELECT regexp_replace(CAST(CustomerID AS VARCHAR), '\\.0+$', '') AS user_id,
       CAST(InvoiceDate AS TIMESTAMP) AS ts,
       CASE WHEN Quantity < 0 THEN 'return' ELSE 'purchase' END AS event_type,
       trim(Description) AS text, CAST(InvoiceNo AS VARCHAR) AS order_id,
       Quantity * UnitPrice AS amount
FROM read_csv('{ONLINE_RETAIL}', all_varchar = false)
WHERE CustomerID IS NOT NULL
"""

RFM = """
SELECT user_id,
       date_diff('day', max(ts) FILTER (WHERE event_type = 'purchase'),
                 (SELECT max(ts) FROM events)) AS recency_days,
       count(DISTINCT order_id) FILTER (WHERE event_type = 'purchase') AS orders,
       sum(amount) AS revenue, count(*) AS n_events
FROM events GROUP BY user_id ORDER BY user_id
"""


@pytest.fixture(scope="module")
def retail() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(RETAIL_EVENTS)
    return con


def _rfm(con: duckdb.DuckDBPyConnection) -> tuple[list[str], np.ndarray]:
    d = con.execute(RFM).fetchnumpy()
    cols = [np.ma.filled(np.ma.asarray(d[c], dtype=float), np.nan)
            for c in ("recency_days", "orders", "revenue", "n_events")]
    return [str(u) for u in d["user_id"]], np.stack(cols, axis=1)


@needs_retail
def test_online_retail_behaviour_segments_separate_value(retail: duckdb.DuckDBPyConnection) -> None:
    ids, beh = _rfm(retail)
    n = len(ids)
    r = build_segments(np.zeros((n, 8), np.float32), np.zeros(n, bool), beh)
    assert 4 <= r.n_segments <= 6
    assert r.noise_share == 0.0
    med_rev = {s.id: np.median(beh[r.labels == s.id, 2]) for s in r.segments if s.id}
    med_rec = {s.id: np.nanmedian(beh[r.labels == s.id, 0]) for s in r.segments if s.id}
    # Some segment holds the big recent spenders, another the lapsed small ones.
    best = max(med_rev, key=med_rev.__getitem__)
    worst = min(med_rev, key=med_rev.__getitem__)
    assert med_rev[best] > 5 * med_rev[worst]
    assert med_rec[best] < med_rec[worst]


def _vectors(con: duckdb.DuckDBPyConnection, **config: object):
    from segmint.embeddings import embed_customers
    from segmint.embeddings.documents import DocumentConfig

    return embed_customers(con, "minilm", config=DocumentConfig(**config))  # type: ignore[arg-type]


@needs_retail
@pytest.mark.slow
def test_online_retail_interest_segments(retail: duckdb.DuckDBPyConnection) -> None:
    cv = _vectors(retail)
    ids, beh = _rfm(retail)
    assert ids == cv.user_ids
    r = build_segments(cv.vectors, cv.has_text, beh)
    interest = [s for s in r.segments if s.kind == "interest"]
    assert 5 <= len(interest) <= 40
    assert r.noise_share <= 0.10


@needs_amazon
@pytest.mark.slow
def test_amazon_user_histories_recover_categories() -> None:
    con = duckdb.connect()
    con.execute(f"""CREATE TABLE events AS SELECT user_id || '|' || category AS user_id,
        CAST(timestamp AS TIMESTAMP) AS ts, 'purchase' AS event_type, product_title AS text
        FROM read_csv('{AMAZON}')""")
    cv = _vectors(con)  # default documents, as `segmint run` builds them
    truth = np.array([u.split("|", 1)[1] for u in cv.user_ids])
    r = build_segments(cv.vectors, cv.has_text, np.zeros((len(truth), 4)))
    assert r.noise_share <= 0.10
    assert adjusted_rand_score(truth, r.labels) >= 0.75


@pytest.mark.slow
def test_sample_shop_personas_are_recovered(tmp_path: Path) -> None:
    from segmint.data.synth import generate

    out = tmp_path / "shop.parquet"
    res = generate(3000, out, seed=3)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE events AS SELECT user_id, timestamp AS ts, event_type, text "
                f"FROM '{out}'")
    cv = _vectors(con)
    labels = dict(con.execute(f"SELECT user_id, label FROM read_csv('{res.labels_path}', "
                              "all_varchar = true)").fetchall())
    truth = np.array([labels[u] for u in cv.user_ids])
    r = build_segments(cv.vectors, cv.has_text, np.zeros((len(truth), 4)))
    persona = truth != "mixed"
    assert adjusted_rand_score(truth[persona], r.labels[persona]) >= 0.90
    assert (r.labels[persona] == UNASSIGNED).mean() <= 0.05
