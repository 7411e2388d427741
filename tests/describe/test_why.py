"""The plain-words reason every answer and export carries per customer."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.why import LOOSE, Reason, describe_customer, money, segment_reasons


@pytest.mark.parametrize(("revenue", "shown"), [(-1e-13, "revenue £0.00"), (1e-13, "revenue £0.00"),
                                                 (-1126.0, "revenue -£1,126.00"),
                                                 (3120.0, "revenue £3,120.00")])
def test_why_shows_money_the_same_way_everywhere(revenue: float, shown: str) -> None:
    assert describe_customer({"revenue": revenue, "orders": 1, "recency_days": 3}, "£").startswith(shown)
    assert money(revenue, "£") == shown.removeprefix("revenue ")


def test_a_reason_names_products_typicality_and_loose_placement() -> None:
    typical = Reason("3", "Hot Water Bottle", "interest", 0.84,
                     [("HOT WATER BOTTLE TEA AND SYMPATHY", 3), ("CHOCOLATE HOT WATER BOTTLE", 1)], True)
    assert typical.text() == ("in “Hot Water Bottle” (typicality 0.84): bought HOT WATER BOTTLE "
                              "TEA AND SYMPATHY ×3, CHOCOLATE HOT WATER BOTTLE")
    assert not typical.loose
    odd = Reason("3", "Metal Sign", "interest", LOOSE / 2, [("HAND WARMER UNION JACK", 17)], False)
    assert odd.loose and odd.text().startswith("loosely placed in “Metal Sign” (typicality 0.05)")
    assert "none of it contains the segment's phrases" in odd.text()
    outside = Reason("0", "Metal Sign", "unassigned", 0.0, [], False)
    assert outside.text() == ("not close enough to any segment (nearest: “Metal Sign”); "
                              "no purchase with a product text")


def test_sample_shop_reasons_quote_what_each_member_bought(shop_with_users: tuple[Path, Path]) -> None:
    ws, events = shop_with_users
    raw = pd.read_parquet(events)
    bought = raw[raw["event_type"] == "purchase"].groupby("user_id")["text"].agg(set)
    with Workspace(ws).connect() as con:
        seg = dict(con.execute("SELECT user_id, CAST(segment_id AS VARCHAR) FROM users").fetchall())
        terms = {str(s): t for s, t in con.execute(
            "SELECT segment_id, json_extract_string(facts, '$.top_terms') FROM segments").fetchall()}
        reasons = segment_reasons(con, sorted(seg))
    assert set(reasons) == set(seg)
    for uid, reason in reasons.items():
        shown = [t for t, _ in reason.products]
        assert set(shown) <= bought.get(uid, set())  # only products they bought, as written
        assert reason.segment_id == seg[uid]
        if reason.matched and reason.kind != "unassigned":  # each contains a segment phrase
            phrases = [p.lower() for p in json.loads(terms[seg[uid]] or "[]")]
            assert all(any(p in t.lower() for p in phrases) for t in shown), (uid, shown)
    quoted = sum(bool(r.products) for r in reasons.values())
    assert quoted >= 0.9 * sum(1 for u in seg if u in bought)

