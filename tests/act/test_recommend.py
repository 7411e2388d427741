"""Recommendations: every number is the true share, recomputed independently from the raw data."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ONLINE_RETAIL, run_cli
from segmint.agent.act.recommend import (
    MIN_BUYERS_SHARE,
    recommend_segment,
    recommend_user,
    segment_items,
)
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import segment_reasons

pd = pytest.importorskip("pandas")


def _segments(ws: Path) -> dict[str, str]:
    with Workspace(ws).connect() as con:
        return dict(con.execute(
            "SELECT user_id, CAST(segment_id AS VARCHAR) FROM users").fetchall())


def _check_segment(ws: Path, sid: str, buyers: Any, texts: dict[str, set[str]],
                   modes: dict[str, str]) -> int:
    """Compare `segmint recommend --segment` with shares computed by pandas; returns #items."""
    doc = recommend_segment(Workspace(ws), sid, limit=50)
    seg_of = _segments(ws)
    members = {u for u, s in seg_of.items() if s == sid}
    assert doc["segment"]["size"] == len(members)
    for item in doc["items"]:
        who = buyers.get(item["product_id"], set())
        share = len(who & members) / len(members)
        population = len(who) / len(seg_of)
        assert item["buyers_share"] == pytest.approx(share, abs=1e-6)
        assert item["buyers_share"] >= MIN_BUYERS_SHARE
        assert item["lift"] == pytest.approx(share / population, rel=1e-3)
        assert item["text"] in texts[item["product_id"]]
        assert item["text"] == modes[item["product_id"]]
    scores = [i["score"] for i in doc["items"]]
    assert scores == sorted(scores, reverse=True)
    return len(doc["items"])


def _buyers_and_texts(purchases: Any, user: str, product: str, text: str
                      ) -> tuple[Any, dict[str, set[str]], dict[str, str]]:
    buyers = purchases.groupby(product)[user].agg(set)
    with_text = purchases[purchases[text].notna()]
    texts = with_text.groupby(product)[text].agg(set).to_dict()
    counts = with_text.groupby([product, text]).size().reset_index(name="n")
    counts = counts.sort_values([product, "n", text], ascending=[True, False, True])
    modes = counts.drop_duplicates(product).set_index(product)[text].to_dict()
    return buyers, texts, modes


def test_sample_shop_recommendations_are_true_shares(shop_with_users: tuple[Path, Path]) -> None:
    ws, events = shop_with_users
    raw = pd.read_parquet(events)
    purchases = raw[(raw["event_type"] == "purchase") & (raw["quantity"] > 0)]
    buyers, texts, modes = _buyers_and_texts(purchases, "user_id", "product_id", "text")
    sids = sorted(set(_segments(ws).values()) - {"0"}, key=int)
    total = sum(_check_segment(ws, sid, buyers, texts, modes) for sid in sids[:6])
    assert total > 0


def test_online_retail_recommendations_are_true_shares(
        online_retail: tuple[Path, dict[str, Any]]) -> None:
    ws, _ = online_retail
    raw = pd.read_csv(ONLINE_RETAIL, dtype={"CustomerID": str, "InvoiceNo": str, "StockCode": str})
    raw = raw[raw["CustomerID"].notna()].copy()
    raw["uid"] = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    raw["Description"] = raw["Description"].str.strip().replace("", None)
    purchases = raw[(raw["Quantity"] >= 0) & (raw["Quantity"] * raw["UnitPrice"] >= 0)]
    buyers, texts, modes = _buyers_and_texts(purchases, "uid", "StockCode", "Description")
    sids = sorted(set(_segments(ws).values()) - {"0"}, key=int)
    total = sum(_check_segment(ws, sid, buyers, texts, modes) for sid in sids[:4])
    assert total > 0


def _check_user(ws: Path, uid: str, purchases: Any, product: str, user: str, text: str) -> dict[str, Any]:
    """`recommend --user` against pandas: nothing owned, every item tied to a product they bought
    (the co-purchase share and lift recomputed), a typical member's items from their segment."""
    doc = recommend_user(Workspace(ws), uid, limit=20)
    buyers = purchases.groupby(product)[user].agg(set)
    n_users = len(_segments(ws))
    mine = purchases[purchases[user] == uid]
    owned = set(mine[product])
    assert not {i["product_id"] for i in doc["items"]} & owned
    if not owned:  # nothing bought yet: the segment's products, and it says so
        assert doc["note"].startswith("no purchase yet") and doc["basis"] == "segment"
        return doc
    for item in doc["items"]:
        # `because` is the text of one of their own products; its other buyers bought this one
        # at least 1.5 times as often as the shop does.
        theirs = set(mine[mine[text] == item["because"]][product])
        assert theirs, (uid, item)
        co = buyers[next(iter(sorted(theirs)))] - {uid}
        both = len(co & buyers[item["product_id"]])
        tie = item["related"]
        assert tie["buyers"] == both >= 2
        assert tie["buyers_share"] == pytest.approx(both / len(co), abs=1e-6)
        pop = len(buyers[item["product_id"]]) / n_users
        assert tie["buyers_share"] >= 1.5 * pop - 1e-9
        assert tie["lift"] == pytest.approx(tie["buyers_share"] / pop, rel=1e-3)
    if doc["basis"] == "segment":
        assert not doc["loosely_placed"]
        promoted = [i["product_id"] for i in recommend_segment(Workspace(ws), doc["segment"]["id"],
                                                               limit=500)["items"]]
        got = [i["product_id"] for i in doc["items"]]
        assert got == [p for p in promoted if p in set(got)]  # the segment's order
    else:
        assert "tied to what they bought" in doc["note"] or "own history" in doc["note"]
    return doc


def test_user_gets_products_tied_to_what_they_bought(shop_with_users: tuple[Path, Path]) -> None:
    ws, events = shop_with_users
    raw = pd.read_parquet(events)
    purchases = raw[(raw["event_type"] == "purchase") & (raw["quantity"] > 0)]
    seg_of = _segments(ws)
    docs = [_check_user(ws, uid, purchases, "product_id", "user_id", "text")
            for uid in sorted(u for u, s in seg_of.items() if s != "0")[:60:4]]
    assert sum(len(d["items"]) for d in docs) > 0
    assert {d["basis"] for d in docs} >= {"segment"}


def test_online_retail_loosely_placed_customer_gets_his_own_history(
        online_retail: tuple[Path, dict[str, Any]]) -> None:
    """A loosely placed customer (typicality under 0.1, or nothing bought says the segment) gets
    products tied to his own purchases, and is told so."""
    ws, _ = online_retail
    with contextlib.closing(Workspace(ws).reader()) as con:
        ids = [str(u) for (u,) in con.sql("SELECT user_id FROM users WHERE orders >= 3 ORDER BY user_id"
                                           ).fetchall()]
        reasons = segment_reasons(con, ids)
    loose = [u for u in ids if (r := reasons.get(u)) is not None and r.loose]
    assert loose, "Online Retail has loosely placed customers"
    uid = next(u for u in loose if recommend_user(Workspace(ws), u, limit=5)["items"])
    raw = pd.read_csv(ONLINE_RETAIL, dtype={"CustomerID": str, "InvoiceNo": str, "StockCode": str})
    raw = raw[raw["CustomerID"].notna()].copy()
    raw["uid"] = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    raw["Description"] = raw["Description"].str.strip()
    purchases = raw[(raw["Quantity"] >= 0) & (raw["Quantity"] * raw["UnitPrice"] >= 0)]
    doc = _check_user(ws, uid, purchases, "StockCode", "uid", "Description")
    assert doc["loosely_placed"] and doc["basis"] == "own history" and doc["items"]
    assert "loosely placed" in doc["note"]


def test_cli_json_document(shop_with_users: tuple[Path, Path]) -> None:
    ws, _ = shop_with_users
    sid = next(s for s in sorted(set(_segments(ws).values()), key=int) if s != "0")
    doc = json.loads(run_cli("recommend", "--segment", sid, "-w", str(ws), "--json",
                             check=True).stdout)
    assert doc == recommend_segment(Workspace(ws), sid)
    assert doc["items"] and set(doc["items"][0]) >= {"product_id", "text", "score", "buyers_share"}


@pytest.mark.parametrize("args", [[], ["--segment", "1", "--user", "x"]])
def test_recommend_needs_exactly_one_target(shop_with_users: tuple[Path, Path], args: list[str]) -> None:
    proc = run_cli("recommend", *args, "-w", str(shop_with_users[0]))
    assert proc.returncode == 2
    assert "exactly one" in proc.stderr


@pytest.mark.parametrize("args", [["--segment", "no such segment"], ["--user", "nobody-here"]])
def test_unknown_target_is_a_one_line_error(shop_with_users: tuple[Path, Path], args: list[str]) -> None:
    proc = run_cli("recommend", *args, "-w", str(shop_with_users[0]))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1


purchases_strategy = st.lists(
    st.tuples(st.integers(0, 29), st.integers(0, 7)), min_size=1, max_size=200)
segments_strategy = st.lists(st.integers(0, 3), min_size=30, max_size=30)


@settings(max_examples=40, deadline=None)
@given(purchases=purchases_strategy, segment_of=segments_strategy, sid=st.integers(0, 3))
def test_segment_items_match_a_direct_count(purchases: list[tuple[int, int]],
                                            segment_of: list[int], sid: int) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE users (user_id VARCHAR, segment_id INTEGER)")
    con.executemany("INSERT INTO users VALUES (?, ?)", [[f"u{i}", s] for i, s in enumerate(segment_of)])
    con.execute("CREATE TABLE events (user_id VARCHAR, event_type VARCHAR, product_id VARCHAR, "
                "text VARCHAR)")
    con.executemany("INSERT INTO events VALUES (?, 'purchase', ?, ?)",
                    [[f"u{u}", f"p{p}", f"Product {p}"] for u, p in purchases])
    got = {i["product_id"]: i for i in segment_items(con, str(sid), limit=None)}
    members = {f"u{i}" for i, s in enumerate(segment_of) if s == sid}
    bought: dict[str, set[str]] = {}
    for u, p in purchases:
        bought.setdefault(f"p{p}", set()).add(f"u{u}")
    expected = {}
    for product, who in bought.items():
        inside = len(who & members)
        if not members or inside < 2:
            continue
        share, population = inside / len(members), len(who) / len(segment_of)
        if share >= MIN_BUYERS_SHARE and share > population:
            expected[product] = (share, share / population)
    assert set(got) == set(expected)
    for product, (share, lift) in expected.items():
        assert got[product]["buyers_share"] == pytest.approx(share, abs=1e-6)
        assert got[product]["lift"] == pytest.approx(lift, rel=1e-3)
        assert got[product]["score"] == pytest.approx(share * math.log2(lift), abs=1e-5)
        assert got[product]["text"] == f"Product {product[1:]}"
    ids = [i["product_id"] for i in segment_items(con, str(sid), limit=None)]
    assert len(ids) == len(set(ids))


def test_api_routes_return_the_cli_documents(shop_with_users: tuple[Path, Path]) -> None:
    from fastapi.testclient import TestClient

    from segmint.agent.act.audit import audit
    from segmint.agent.act.brief import campaign_brief
    from segmint.agent.api.app import create_app

    ws, _ = shop_with_users
    sid = next(s for s in sorted(set(_segments(ws).values()), key=int) if s != "0")
    client = TestClient(create_app(ws))
    assert client.get("/api/recommend", params={"segment": sid}).json() == recommend_segment(
        Workspace(ws), sid)
    assert client.get("/api/brief", params={"segment": sid}).json() == campaign_brief(Workspace(ws), sid)
    assert client.get("/api/audit", params={"attribute": "gender"}).json() == audit(Workspace(ws),
                                                                                    "gender")
    assert client.get("/api/recommend").status_code == 400
    assert client.get("/api/audit", params={"attribute": "nope"}).status_code == 400
