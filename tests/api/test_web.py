"""The web app in a real headless Chromium (Debian's) against `segmint serve` on the sample shop.

The browser may reach nothing but the local server: every other request is blocked and recorded,
so the tests also show that the page works offline (fixtures: tests/api/conftest.py). Screenshots
go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from segmint.agent.act.export import COLUMNS
from segmint.agent.act.recommend import recommend_user
from segmint.agent.cli import app
from segmint.agent.core.workspace import Workspace

from .conftest import HAS_CHROMIUM, NO_CHROMIUM, TOKEN, fresh
from .conftest import shot as shot_in

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
QUESTION = "who are my lapsed high spenders?"

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason=NO_CHROMIUM)


def shot(page: Any, name: str) -> Path:
    return shot_in(page, name, ARTIFACTS)


def test_the_page_asks_for_the_token_and_then_shows_the_shop(browser_page: tuple[Any, list[str]],
                                                             server: str) -> None:
    page, blocked = browser_page
    summary = httpx.get(f"{server}/api/summary", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert f"{summary['customers']:,}" in page.inner_text("[data-testid=summary]")
    assert page.is_hidden("#token-bar")
    assert httpx.get(f"{server}/api/summary").status_code == 401
    assert not blocked, f"the page tried to reach the internet: {blocked}"


def test_ask_shows_the_cli_count_and_a_follow_up_narrows_it(browser_page: tuple[Any, list[str]],
                                                            shop: Path) -> None:
    page, blocked = browser_page
    cli = json.loads(CliRunner().invoke(app, ["ask", QUESTION, "-w", str(shop), "--json"],
                                        catch_exceptions=False).stdout)
    fresh(page)
    page.fill("[data-testid=question]", QUESTION)
    page.press("[data-testid=question]", "Enter")
    page.locator("[data-testid=answer]").last.locator("[data-testid=answer-count]").wait_for()
    first = page.locator("[data-testid=answer]").nth(page.locator("[data-testid=answer]").count() - 1)
    assert int(first.locator("[data-testid=answer-count]").inner_text().replace(",", "")) == cli["count"]
    assert cli["definition"] in first.locator("[data-testid=definition]").inner_text()
    rows = first.locator("[data-testid=customers] tbody tr")
    assert rows.count() == min(10, cli["count"])
    assert rows.first.locator("td").first.inner_text() == cli["sample"][0]["user_id"]

    page.fill("[data-testid=question]", "of those, who spent over 500?")
    page.press("[data-testid=question]", "Enter")
    page.wait_for_function("document.querySelectorAll('[data-testid=answer-count]').length >= 2")
    follow = page.locator("[data-testid=answer]").last
    narrowed = int(follow.locator("[data-testid=answer-count]").inner_text().replace(",", ""))
    assert 0 < narrowed < cli["count"]
    assert "revenue > £500" in follow.locator("[data-testid=definition]").inner_text()
    assert "narrows the previous answer" in follow.inner_text()
    assert "narrows the previous answer" not in first.inner_text()
    assert page.is_visible("[data-testid=context]")
    shot(page, "ask")
    assert not blocked


def _ask(page: Any, question: str) -> Any:
    fresh(page)
    before = page.locator("[data-testid=answer]").count()
    page.fill("[data-testid=question]", question)
    page.press("[data-testid=question]", "Enter")
    page.wait_for_function(f"document.querySelectorAll('[data-testid=answer]').length > {before} && "
                           "!document.querySelector('[data-testid=answer]:last-child .spinner')")
    return page.locator("[data-testid=answer]").last


def test_numbers_tables_and_matched_products_render(browser_page: tuple[Any, list[str]], shop: Path) -> None:
    page, blocked = browser_page

    def cli(question: str) -> dict[str, Any]:
        out = CliRunner().invoke(app, ["ask", question, "-w", str(shop), "--json"], catch_exceptions=False)
        return dict(json.loads(out.stdout))

    number = cli("what is the average revenue of my lapsed customers?")
    card = _ask(page, "what is the average revenue of my lapsed customers?")
    shown = f"£{number['value']:,.2f}"
    assert card.locator("[data-testid=answer-value]").inner_text() == shown
    assert f"{number['customers']:,} customers" in card.inner_text()
    table = cli("average order value by region")
    card = _ask(page, "average order value by region")
    rows = card.locator("[data-testid=answer-table] tbody tr")
    assert rows.count() == len(table["rows"])
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == \
        [r["group"] for r in table["rows"]]
    assert table["rows"][0]["group"] in card.locator("[data-testid=answer-text]").inner_text()
    products = cli("who bought tents?")
    card = _ask(page, "who bought tents?")
    chips = card.locator("[data-testid=matched-products] .chip")
    assert chips.count() == len(products["matched_products"])
    assert products["matched_products"][0]["text"] in chips.first.inner_text()
    shot(page, "ask-kinds")
    assert not blocked


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_button_downloads_the_list(browser_page: tuple[Any, list[str]], shop: Path,
                                          tmp_path: Path, fmt: str) -> None:
    page, _ = browser_page
    fresh(page)
    page.fill("[data-testid=question]", QUESTION)
    page.press("[data-testid=question]", "Enter")
    answer = page.locator("[data-testid=answer]").last
    answer.locator("[data-testid=answer-count]").wait_for()
    count = int(answer.locator("[data-testid=answer-count]").inner_text().replace(",", ""))
    answer.locator("[data-testid=export-format]").select_option(fmt)
    with page.expect_download() as info:
        answer.locator("[data-testid=export]").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.suffix == f".{fmt}"
    text = target.read_text(encoding="utf-8")
    rows = (list(csv.DictReader(io.StringIO(text))) if fmt == "csv"
            else [json.loads(line) for line in text.splitlines()])
    assert len(rows) == count > 0
    assert set(COLUMNS) <= set(rows[0])


def test_segment_card_opens_its_detail(browser_page: tuple[Any, list[str]], server: str) -> None:
    page, blocked = browser_page
    segments = httpx.get(f"{server}/api/segments", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    shown = [s for s in segments["segments"] if s["size"] > 0]  # the Unassigned group too, when not empty
    real = [s for s in shown if s["id"] != "0"]
    page.click(".tab[data-view=segments]")
    cards = page.locator("[data-testid=segment-card]")
    assert cards.count() == len(shown)
    target = real[2]
    card = page.locator(f"[data-testid=segment-card][data-segment='{target['id']}']")
    assert target["name"] in card.inner_text() and f"{target['size']:,} customers" in card.inner_text()
    for term in target["top_terms"][:3]:
        assert term in card.inner_text()
    shot(page, "segments")
    card.click()
    detail = page.locator("[data-testid=segment-detail]")
    detail.locator("h1").wait_for()
    assert detail.locator("h1").inner_text() == target["name"]
    assert target["description"] in detail.inner_text()
    products = target["facts"].get("top_products", [])
    if products:
        assert products[0]["text"] in detail.inner_text()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    rec = httpx.get(f"{server}/api/recommend", params={"segment": target["id"], "limit": 6},
                    headers=headers).json()
    brief = httpx.get(f"{server}/api/brief", params={"segment": target["id"]}, headers=headers).json()
    detail.locator("[data-testid=campaign]").wait_for()
    shown = detail.locator("[data-testid=recommend] tbody tr td:first-child").all_inner_texts()
    assert shown == [item["text"] for item in rec["items"]]
    text = detail.locator("[data-testid=brief]").inner_text()
    assert brief["goal"] in text and brief["message"] in text
    shot(page, "segment")
    with page.expect_download() as info:
        detail.locator("[data-testid=export]").click()
    assert info.value.suggested_filename == f"segment-{target['id']}.csv"
    assert not blocked


def test_pictures_draw_the_map_and_charts(browser_page: tuple[Any, list[str]], server: str) -> None:
    page, blocked = browser_page
    page.click(".tab[data-view=pictures]")
    page.wait_for_selector("#map .main-svg")
    page.wait_for_selector("#dist-revenue .main-svg")
    shown = httpx.get(f"{server}/api/map", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    plotted = page.evaluate("document.getElementById('map').data.reduce((n, t) => n + t.x.length, 0)")
    assert plotted == shown["shown"]
    traces = page.evaluate("document.getElementById('map').data.length")
    assert traces == len(set(shown["segment_id"]))
    charts = httpx.get(f"{server}/api/charts", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    bars = page.evaluate("document.getElementById('sizes').data.map(t => t.x.length)")
    assert bars == [len([s for s in charts["segments"] if s["size"] > 0])] * 2
    for field in ("recency_days", "orders", "revenue"):
        assert page.evaluate(f"document.getElementById('dist-{field}').data.length") >= len(shown["centres"])
    page.wait_for_timeout(500)
    shot(page, "pictures")
    assert not blocked


def test_customer_view_shows_features_why_and_lookalikes(browser_page: tuple[Any, list[str]],
                                                         server: str) -> None:
    page, blocked = browser_page
    headers = {"Authorization": f"Bearer {TOKEN}"}
    fresh(page)
    page.fill("[data-testid=question]", QUESTION)
    page.press("[data-testid=question]", "Enter")
    answer = page.locator("[data-testid=answer]").last
    answer.locator("[data-testid=customers] tbody tr").first.wait_for()
    uid = answer.locator("[data-testid=customers] tbody tr td").first.inner_text()
    answer.locator("[data-testid=customers] tbody tr").first.click()
    page.wait_for_selector("[data-testid=lookalikes]")
    user = httpx.get(f"{server}/api/users/{uid}", headers=headers).json()
    similar = httpx.get(f"{server}/api/similar/{uid}?k=10", headers=headers).json()
    card = page.inner_text("[data-testid=customer-card]")
    assert uid in card and user["segment"]["name"] in card
    assert page.inner_text("[data-testid=why]") == user["why"]
    shown = page.locator("[data-testid=lookalikes] tbody tr td.id").all_inner_texts()
    assert shown == [s["user_id"] for s in similar["similar"]]
    rec = httpx.get(f"{server}/api/recommend", params={"user": uid, "limit": 5}, headers=headers).json()
    page.wait_for_selector("[data-testid=recommend-note]")
    note = page.inner_text("[data-testid=recommend-note]")
    assert note.lower().rstrip(".") == rec["note"].lower()
    if rec["items"]:
        page.wait_for_selector("[data-testid=customer-recommend]")
        assert page.locator("[data-testid=customer-recommend] tbody tr td:first-child"
                            ).all_inner_texts() == [i["text"] for i in rec["items"]]
    shot(page, "customer")
    page.locator("[data-testid=lookalikes] tbody tr").first.click()
    page.wait_for_function(
        f"document.querySelector('[data-testid=customer-card] h1')?.innerText.includes('{shown[0]}')")
    page.fill("[data-testid=user-id]", "no-such-customer")
    page.press("[data-testid=user-id]", "Enter")
    page.wait_for_selector("#customer .empty")
    assert "not found" in page.inner_text("#customer")
    assert not blocked


def test_audit_view_maps_representation(browser_page: tuple[Any, list[str]], server: str) -> None:
    page, blocked = browser_page
    headers = {"Authorization": f"Bearer {TOKEN}"}
    attribute = httpx.get(f"{server}/api/summary", headers=headers).json()["attributes"][0]
    doc = httpx.get(f"{server}/api/audit", params={"attribute": attribute}, headers=headers).json()
    page.click(".tab[data-view=audit]")
    page.wait_for_selector("#audit-heatmap .main-svg")
    shown = {v for v, share in doc["population"].items() if share >= 0.01}  # the page hides tiny groups
    flagged = [s for s in doc["segments"] if s["id"] != "0" and shown & set(s["flags"])]
    rows = page.locator("[data-testid=audit-flags] tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(flagged)
    cells = page.evaluate("document.getElementById('audit-heatmap').data[0].customdata")
    assert len(cells) == len([s for s in doc["segments"] if s["id"] != "0"])
    shot(page, "audit")
    assert not blocked


def test_a_question_not_understood_says_so(browser_page: tuple[Any, list[str]]) -> None:
    page, _ = browser_page
    fresh(page)
    page.fill("[data-testid=question]", "blorp zing quux")
    page.press("[data-testid=question]", "Enter")
    error = page.locator("[data-testid=answer]").last.locator("[data-testid=answer-error]")
    error.wait_for()
    assert "could not understand" in error.inner_text()


def test_a_loosely_placed_customer_gets_suggestions_from_own_history(
        browser_page: tuple[Any, list[str]], shop: Path) -> None:
    page, blocked = browser_page
    workspace = Workspace(shop)
    with contextlib.closing(workspace.reader()) as con:
        users = [str(u) for (u,) in con.sql("SELECT user_id FROM users ORDER BY user_id").fetchall()]
    rec = next((r for r in (recommend_user(workspace, u, limit=5) for u in users)
                if r["basis"] == "own history" and r["items"]), None)
    assert rec is not None, "the sample shop has loosely placed customers with purchases"
    fresh(page)
    page.click(".tab[data-view=customer]")
    page.fill("[data-testid=user-id]", rec["user_id"])
    page.press("[data-testid=user-id]", "Enter")
    page.wait_for_selector("[data-testid=customer-recommend]")
    assert page.inner_text("[data-testid=recommend-note]").lower().rstrip(".") == rec["note"].lower()
    rows = page.locator("[data-testid=customer-recommend] tbody tr")
    assert rows.locator("td:first-child").all_inner_texts() == [i["text"] for i in rec["items"]]
    assert rows.locator("td.because").all_inner_texts() == [i["because"] or "–" for i in rec["items"]]
    shot(page, "customer-loose")
    assert not blocked
