"""On real shop data (UCI Online Retail, when present): lookalikes share products.

Skipped when ../shared/datasets is absent; the product never depends on it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from segmint.agent.core.schema import EVENTS_DDL
from segmint.embeddings import UserIndex, embed_customers, make_encoder

DATASET = Path(__file__).resolve().parents[3] / "shared/datasets/online_retail/online_retail.csv.gz"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATASET.exists(), reason=f"dataset not present: {DATASET}"),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    con.execute(
        """
        INSERT INTO events
        SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR), InvoiceDate,
               CASE WHEN Quantity < 0 THEN 'return' ELSE 'purchase' END,
               Description, StockCode, InvoiceNo, NULL, Quantity, UnitPrice,
               Quantity * UnitPrice, 'online_retail.csv.gz', NULL
        FROM read_csv(?, header = true)
        WHERE CustomerID IS NOT NULL
        """,
        [str(DATASET)],
    )
    return con


def test_lookalikes_share_several_times_more_products(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = embed_customers(con, make_encoder("minilm"), cache_root=tmp_path)
    # Thousands of distinct descriptions, not the ~400k invoice lines.
    assert 3_000 < result.stats.embedded < 5_000
    assert len(result.user_ids) == 4372
    index = UserIndex.build(result.user_ids, result.vectors, fingerprint=result.fingerprint)
    index.save(tmp_path / "user_index")
    index = UserIndex.load(tmp_path / "user_index")

    products: dict[str, set[str]] = {}
    for user, product in con.execute(
        "SELECT DISTINCT user_id, product_id FROM events WHERE event_type = 'purchase'"
    ).fetchall():
        products.setdefault(user, set()).add(product)
    rng = np.random.default_rng(7)
    users = [u for u in index.user_ids if u in products]
    near, rand = [], []
    for i in rng.choice(len(users), size=300, replace=False):
        user = users[int(i)]
        neighbours = index.similar(user, 10)
        assert len(neighbours) == 10 and user not in {v for v, _ in neighbours}
        near.append(np.mean([len(products[user] & products.get(v, set())) for v, _ in neighbours]))
        others = [users[int(j)] for j in rng.choice(len(users), size=10, replace=False)]
        rand.append(np.mean([len(products[user] & products[v]) for v in others]))
    ratio = float(np.mean(near) / np.mean(rand))
    assert ratio >= 3.0, ratio
