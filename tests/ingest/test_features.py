"""Every feature definition of docs/definitions.md on hand-made cases, and on Online Retail independently."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import ONLINE_RETAIL, WriteEvents
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.pipeline import run

ROWS = [
    # user a: two orders (3 lines), one return, a view; last purchase 10.5 days before as_of
    {"user_id": "a", "timestamp": "2024-01-01 09:00", "event_type": "purchase", "order_id": "o1",
     "quantity": "2", "price": "10", "category": "mugs"},
    {"user_id": "a", "timestamp": "2024-01-01 09:00", "event_type": "purchase", "order_id": "o1",
     "quantity": "1", "price": "5", "category": "tea"},
    {"user_id": "a", "timestamp": "2024-01-20 12:00", "event_type": "purchase", "order_id": "o2",
     "quantity": "1", "price": "30", "category": "tea"},
    {"user_id": "a", "timestamp": "2024-01-22 00:00", "event_type": "return", "order_id": "o2",
     "quantity": "1", "price": "30"},
    {"user_id": "a", "timestamp": "2024-01-25 00:00", "event_type": "view", "price": "99",
     "category": "mugs"},
    # user b: browses only
    {"user_id": "b", "timestamp": "2024-01-10 00:00", "event_type": "search", "text": "tea"},
    {"user_id": "b", "timestamp": "2024-01-11 00:00", "event_type": "cart", "price": "3"},
    # user c: one purchase exactly 31 days before as_of; sets as_of (latest event) on 2024-01-31
    {"user_id": "c", "timestamp": "2023-12-31 00:00", "event_type": "purchase", "order_id": "o3",
     "price": "7"},
    {"user_id": "c", "timestamp": "2024-01-31 00:00", "event_type": "view"},
]


@pytest.fixture
def users(write_events: WriteEvents, workspace_dir: Path) -> dict[str, dict[str, Any]]:
    path = write_events(ROWS)
    run(workspace_dir, [path], RunConfig())
    with Workspace(workspace_dir).connect() as con:
        cur = con.execute("SELECT * FROM users")
        names = [d[0] for d in cur.description or []]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def test_orders_revenue_aov_units(users: dict[str, dict[str, Any]]) -> None:
    a = users["a"]
    assert a["orders"] == 2  # distinct order ids over purchase rows
    assert a["revenue"] == pytest.approx(2 * 10 + 5 + 30 - 30)  # returns are negative
    assert a["aov"] == pytest.approx(25 / 2)
    assert a["units"] == 4
    assert a["returns"] == 1 and a["returned_amount"] == pytest.approx(30)
    assert a["top_category"] == "mugs"  # mugs 2, tea 2: ties go to the first name


def test_recency_and_tenure_are_whole_days_to_as_of(users: dict[str, dict[str, Any]]) -> None:
    # as_of = 2024-01-31 00:00; a's last purchase 2024-01-20 12:00 -> 10.5 days -> 10
    assert users["a"]["recency_days"] == 10
    assert users["a"]["tenure_days"] == 29  # from 2024-01-01 09:00: 29.6 days
    assert users["c"]["recency_days"] == 31 and users["c"]["tenure_days"] == 31
    assert users["a"]["first_seen"] == datetime(2024, 1, 1, 9)
    assert users["a"]["last_seen"] == datetime(2024, 1, 25)


def test_browsers_have_no_purchase_features(users: dict[str, dict[str, Any]]) -> None:
    b = users["b"]
    assert b["orders"] == 0 and b["revenue"] == 0
    assert b["recency_days"] is None and b["tenure_days"] is None and b["aov"] is None
    assert (b["n_search"], b["n_cart"], b["n_events"]) == (1, 1, 2)


def test_orders_count_rows_without_order_id(write_events: WriteEvents, workspace_dir: Path) -> None:
    rows = [{"user_id": "x", "timestamp": f"2024-01-0{d}", "price": "2"} for d in (1, 2, 2)]
    run(workspace_dir, [write_events(rows)], RunConfig())
    with Workspace(workspace_dir).connect() as con:
        assert con.execute("SELECT orders, revenue FROM users").fetchone() == (3, 6.0)


def test_as_of_override(write_events: WriteEvents, workspace_dir: Path) -> None:
    result = run(workspace_dir, [write_events(ROWS)],
                 RunConfig(as_of=datetime(2024, 3, 1)))
    assert result.as_of == datetime(2024, 3, 1)
    with Workspace(workspace_dir).connect() as con:
        assert con.execute("SELECT recency_days FROM users WHERE user_id='c'").fetchone() == (61,)


def test_users_file_joins_attributes(write_events: WriteEvents, workspace_dir: Path,
                                     tmp_path: Path) -> None:
    events = write_events(ROWS)
    users_file = tmp_path / "users.csv"
    users_file.write_text("user_id,Age Band,region\na,25-34,North\nb,55+,South\nb,18-24,West\n,x,y\n")
    result = run(workspace_dir, [events], RunConfig(users=users_file))
    assert result.users_file == {"rows": 4, "matched_users": 2, "rejected": 1, "duplicate_ids": 1}
    with Workspace(workspace_dir).connect() as con:
        got = con.execute("SELECT user_id, age_band, region FROM users ORDER BY user_id").fetchall()
    assert got == [("a", "25-34", "North"), ("b", "55+", "South"), ("c", None, None)]


@pytest.mark.parametrize("column", ["Revenue", "segment_id", "risk_score"])
def test_users_file_columns_may_not_shadow_computed_ones(write_events: WriteEvents, workspace_dir: Path,
                                                         tmp_path: Path, column: str) -> None:
    # `users` holds the features and the segment, risk and LTV columns: none may appear twice.
    users_file = tmp_path / "users.csv"
    users_file.write_text(f"user_id,{column}\na,1\n")
    with pytest.raises(InputError, match=f"'{column}': clashes with a computed feature"):
        run(workspace_dir, [write_events(ROWS)], RunConfig(users=users_file))
    assert not Workspace(workspace_dir).exists()


def test_online_retail_features_match_an_independent_computation(
    online_retail: tuple[Path, dict[str, Any]]
) -> None:
    """Recompute docs/definitions.md with pandas straight from the raw file and compare every customer."""
    pd = pytest.importorskip("pandas")
    from conftest import run_cli

    ws, summary = online_retail
    assert (summary["events_in"], summary["events_rejected"], summary["users"]) == (
        541_909, 135_080, 4_372)
    assert summary["events_ok"] == 541_909 - 135_080
    assert summary["reject_reasons"] == {"missing user_id": 135_080}

    raw = pd.read_csv(ONLINE_RETAIL, dtype={"CustomerID": str, "InvoiceNo": str})
    raw = raw[raw["CustomerID"].notna()].copy()
    raw["uid"] = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    raw["ts"] = pd.to_datetime(raw["InvoiceDate"])
    raw["amount"] = raw["Quantity"] * raw["UnitPrice"]
    is_return = (raw["Quantity"] < 0) | (raw["amount"] < 0)
    purchases = raw[~is_return]
    as_of = raw["ts"].max()
    expected = pd.DataFrame({
        "orders": purchases.groupby("uid")["InvoiceNo"].nunique(),
        "last": purchases.groupby("uid")["ts"].max(),
    }).reindex(raw["uid"].unique())
    expected["orders"] = expected["orders"].fillna(0)
    expected["revenue"] = raw.groupby("uid")["amount"].sum()
    expected["recency"] = ((as_of - expected["last"]).dt.total_seconds() // 86400)

    with Workspace(ws).connect() as con:
        got = con.execute("SELECT user_id, orders, revenue, recency_days, country FROM users").df()
    got = got.set_index("user_id").loc[expected.index]
    assert (got["orders"].to_numpy() == expected["orders"].to_numpy()).all()
    assert got["revenue"].to_numpy() == pytest.approx(expected["revenue"].to_numpy(), abs=1e-6)
    both = expected["recency"].notna()
    assert got["recency_days"].isna().equals(~both)
    assert (got["recency_days"][both].to_numpy() == expected["recency"][both].to_numpy()).all()
    assert got.loc["12346", "country"] == "United Kingdom"

    # And the CLI's user view shows the same numbers for a customer.
    import json

    doc = json.loads(run_cli("user", "17850.0", "-w", str(ws), "--json", check=True).stdout)
    row = expected.loc["17850"]
    assert doc["features"]["orders"] == row["orders"]
    assert math.isclose(doc["features"]["revenue"], row["revenue"], abs_tol=1e-4)
    assert doc["features"]["recency_days"] == row["recency"]
