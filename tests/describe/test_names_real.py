"""Names on real shops, checked with pandas from the raw files: a name's phrase is contained in a
product most members bought (at least twice the shop's rate), every number of a description is
true, names are distinct, and each member's "why" names a product they bought."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from conftest import AMAZON, ONLINE_RETAIL, run_cli
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.naming import numbers_in
from segmint.agent.describe.why import segment_reasons

pd = pytest.importorskip("pandas")
TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
BREAK = re.compile(r"[,;:|/()\[\]{}!?+]+|\s[-–—]+\s")  # a phrase never spans punctuation
SUPPORTED_SEGMENTS = 0.8


def _tokens(text: str) -> str:
    runs = BREAK.split(str(text).lower())
    return " " + " | ".join(" ".join(TOKEN.findall(r)) for r in runs) + " "


def _retail_purchases() -> Any:
    raw = pd.read_csv(ONLINE_RETAIL, dtype={"CustomerID": str, "InvoiceNo": str, "StockCode": str})
    raw = raw[raw["CustomerID"].notna()].copy()
    raw["user_id"] = raw["CustomerID"].str.replace(r"\.0$", "", regex=True)
    raw["text"] = raw["Description"].str.strip()
    raw["item"] = raw["StockCode"]
    buy = raw[(raw["Quantity"] >= 0) & (raw["Quantity"] * raw["UnitPrice"] >= 0) & raw["text"].notna()]
    return buy[["user_id", "text", "item"]].drop_duplicates()


def _document(ws: Path) -> tuple[dict[str, Any], Any]:
    """`segments --json` and each customer's segment (what an export of every segment holds)."""
    doc = json.loads(run_cli("segments", "-w", str(ws), "--json", check=True).stdout)
    with Workspace(ws).connect() as con:
        users = con.execute("SELECT user_id, CAST(segment_id AS VARCHAR) AS seg, orders, "
                            "recency_days, revenue FROM users").df()
    return doc, users


def _phrase_share(purchases: Any, phrases: list[str], who: set[str]) -> float:
    """Share of `who` who bought a text containing any of the phrases (whole words, in order)."""
    keys = [_tokens(p) for p in phrases]
    texts = purchases[purchases["words"].map(lambda w: any(k in w for k in keys))]
    return len(set(texts["user_id"]) & who) / max(len(who), 1)


def _check_names(ws: Path, purchases: Any) -> None:
    doc, users = _document(ws)
    purchases = purchases.assign(words=purchases["text"].map(_tokens))
    everyone = set(users["user_id"])
    interest = [s for s in doc["segments"] if s["kind"] == "interest" and s["size"]]
    supported = 0
    for seg in interest:
        support = seg.get("name_support") or {}
        phrases = [p["phrase"] for p in support.get("phrases", [])]
        if not phrases:
            continue
        # The phrase reads in the name as in the data, and the name states the recounted support.
        assert all(p.lower() in seg["name"].lower() for p in phrases), seg["name"]
        members = set(users[users["seg"] == seg["id"]]["user_id"])
        share = _phrase_share(purchases, phrases, members)
        shop = _phrase_share(purchases, phrases, everyone)
        assert support["support"] == pytest.approx(share, abs=1e-4), seg["name"]
        assert support["shop_support"] == pytest.approx(shop, abs=1e-4), seg["name"]
        supported += share >= 0.5 and share >= 2 * shop
    assert supported >= SUPPORTED_SEGMENTS * len(interest), (supported, len(interest))
    names = [s["name"].lower() for s in doc["segments"]]
    assert len(set(names)) == len(names)
    _check_numbers(doc, users, purchases)


def _cosines(purchases: Any, users: Any) -> dict[tuple[str, str], float]:
    seg_of = dict(zip(users["user_id"], users["seg"], strict=True))
    bought = purchases[["user_id", "item"]].drop_duplicates().assign(
        seg=lambda f: f["user_id"].map(seg_of))
    sizes = users.groupby("seg").size()
    share = (bought.groupby(["seg", "item"]).size() / sizes).unstack(fill_value=0.0)
    share = share.drop(index="0", errors="ignore")
    M = share.to_numpy()
    M = M / np.linalg.norm(M, axis=1, keepdims=True)
    C = M @ M.T
    ids = list(share.index)
    return {(a, b): float(C[i, j]) for i, a in enumerate(ids) for j, b in enumerate(ids)}


def _check_numbers(doc: dict[str, Any], users: Any, purchases: Any) -> None:
    """Every number of every description: a fact recomputed here."""
    total_revenue = users["revenue"].sum()
    cos = _cosines(purchases, users)
    everyone = set(users["user_id"])
    for seg in doc["segments"]:
        if seg["id"] == "0":
            continue
        members = users[users["seg"] == seg["id"]]
        lapsed = ((members["orders"] >= 1) & (members["recency_days"] > 90)).mean()
        truth: dict[str, list[float]] = {
            "plain": [len(members), members["orders"].median()],
            "percent": [100 * len(members) / len(users),
                        100 * members["revenue"].sum() / total_revenue, 100 * lapsed],
            "money": [members["revenue"].median()],
        }
        truth["plain"] += truth["money"]  # without a currency symbol money reads as a plain number
        support = seg.get("name_support") or {}
        phrases = [p["phrase"] for p in support.get("phrases", [])]
        if phrases:
            share = _phrase_share(purchases, phrases, set(members["user_id"]))
            shop = _phrase_share(purchases, phrases, everyone)
            truth["percent"] += [100 * share, 100 * shop]
            truth["plain"].append(share / shop)
        contrast = support.get("contrast") or {}
        if contrast.get("phrase"):
            other = contrast["segment_id"]
            here = _phrase_share(purchases, [contrast["phrase"]], set(members["user_id"]))
            there = _phrase_share(purchases, [contrast["phrase"]],
                                  set(users[users["seg"] == other]["user_id"]))
            truth["percent"] += [100 * here, 100 * there]
            truth["plain"] += [int(other), cos[(seg["id"], other)], here / there]
        text = seg["description"]
        for name in sorted((s["name"] for s in doc["segments"]), key=len, reverse=True):
            text = text.replace(f"“{name}”", " ")  # a quoted segment name may hold digits
        for written, value, decimals, kind in numbers_in(text):
            tolerance = 0.5 * 10 ** (-decimals) + 1e-6
            assert any(abs(t - value) <= tolerance for t in truth[kind]), (
                f"segment {seg['id']}: {written} is not a true {kind} fact: {seg['description']}")


def _check_why(ws: Path, purchases: Any) -> None:
    """At least 90% of members' reasons quote a product text they bought."""
    with Workspace(ws).connect() as con:
        ids = [r[0] for r in con.execute("SELECT user_id FROM users WHERE segment_id <> 0").fetchall()]
        reasons = segment_reasons(con, ids)
    texts = purchases.groupby("user_id")["text"].agg(set)
    named = 0
    for uid in ids:
        said = reasons[uid].text()
        named += any(t[:60] in said for t in texts.get(uid, ()))
    assert named >= 0.9 * len(ids), (named, len(ids))


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="Online Retail not present")
def test_online_retail_names_are_supported_true_and_distinct(
        online_retail: tuple[Path, dict[str, Any]]) -> None:
    ws, _ = online_retail
    _check_names(ws, _retail_purchases())


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="Online Retail not present")
def test_online_retail_why_names_what_each_member_bought(
        online_retail: tuple[Path, dict[str, Any]]) -> None:
    ws, _ = online_retail
    _check_why(ws, _retail_purchases())


@pytest.fixture(scope="module")
def amazon(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The Amazon histories run as a shop: one customer per user and sampled category."""
    if not AMAZON.exists():
        pytest.skip("amazon_user_histories not present")
    root = tmp_path_factory.mktemp("amazon")
    events = root / "amazon.csv"
    duckdb.connect().execute(f"""COPY (SELECT user_id || '|' || category AS user_id, timestamp,
        'purchase' AS event_type, product_title AS text, parent_asin AS product_id, price
        FROM read_csv('{AMAZON}')) TO '{events}' (HEADER)""")
    run_cli("run", str(events), "-w", str(root / "ws"), check=True)
    raw = pd.read_csv(events, dtype=str)
    purchases = raw.rename(columns={"product_id": "item"})[["user_id", "text", "item"]]
    return root / "ws", purchases[purchases["text"].notna()].drop_duplicates()


@pytest.mark.slow  # embeds 3,455 product titles on a cold cache
def test_amazon_names_are_supported_true_and_distinct(amazon: tuple[Path, Any]) -> None:
    ws, purchases = amazon
    _check_names(ws, purchases)
    _check_why(ws, purchases)
