"""The Audiences view in a real headless Chromium against `segmint serve`: saving an answer with one
click, the list with sparklines of size over runs, who entered and left (and its export), a trend
with cohort retention, the comparison and the overlap picture. Every number shown is checked
against the CLI's JSON for the same workspace. Screenshots go to /tmp/shots/.

The workspace is the sample shop cut by time: a first run over its events before 2026-04-01, three
audiences saved, then the rest appended, so every saved audience has two recorded runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import run_cli
from segmint.data.synth import generate

from .conftest import HAS_CHROMIUM, NO_CHROMIUM, fresh, shot

pytestmark = pytest.mark.skipif(not HAS_CHROMIUM, reason=NO_CHROMIUM)

SHOTS = Path("/tmp/shots")
CUT = "2026-04-01"
SAVED = {"lapsed high spenders": ["--question", "lapsed high spenders"],
         "repeat buyers": ["--question", "repeat buyers"],
         "segment 2": ["--segment", "2"]}


def cli(shop: Path, *args: str) -> Any:
    return json.loads(run_cli(*args, "-w", str(shop), "--json", check=True).stdout)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample shop in two runs (before and after CUT) with three audiences saved between."""
    root = tmp_path_factory.mktemp("web-audiences")
    made = generate(1500, root / "shop.parquet", seed=0)
    con = duckdb.connect()
    for name, test in (("first", "<"), ("later", ">=")):
        con.execute(f"COPY (SELECT * FROM read_parquet('{made.events_path}') WHERE timestamp {test} "
                    f"TIMESTAMP '{CUT}') TO '{root / name}.parquet'")
    ws = root / "ws"
    common = ["--users", str(made.users_path), "--currency", "£", "-w", str(ws), "--json"]
    run_cli("run", str(root / "first.parquet"), *common, check=True)
    for name, how in SAVED.items():
        run_cli("audience", "save", name, *how, "-w", str(ws), check=True)
    run_cli("run", str(root / "later.parquet"), "--append", *common, check=True)
    return ws


def _open_audiences(page: Any) -> None:
    page.click(".tab[data-view=audiences]")
    page.locator("[data-testid=audience-card]").first.wait_for()


def _card(page: Any, name: str) -> Any:
    return page.locator(f"[data-testid=audience-card][data-audience='{name}']")


def test_an_answer_is_saved_as_an_audience_with_one_click(browser_page: tuple[Any, list[str]],
                                                          shop: Path) -> None:
    page, blocked = browser_page
    question = "customers who bought in the last 30 days"
    fresh(page)
    page.fill("[data-testid=question]", question)
    page.press("[data-testid=question]", "Enter")
    answer = page.locator("[data-testid=answer]").last
    answer.locator("[data-testid=answer-count]").wait_for()
    count = int(answer.locator("[data-testid=answer-count]").inner_text().replace(",", ""))
    answer.locator("[data-testid=audience-save]").click()  # the name is filled in from the question
    answer.locator("[data-testid=audience-saved]").wait_for()
    saved = cli(shop, "audience", "show", question)
    assert saved["size"] == count > 0 and saved["source"] == "question"
    assert saved["query"] == cli(shop, "ask", question)["query"]
    assert f"“{question}” ({count:,} customers)" in answer.inner_text()
    shot(page, "audience-saved", SHOTS)
    _open_audiences(page)
    assert f"{count:,} customers" in _card(page, question).inner_text()
    assert not blocked


def test_the_list_shows_every_audience_with_its_size_over_runs(browser_page: tuple[Any, list[str]],
                                                               shop: Path) -> None:
    page, blocked = browser_page
    _open_audiences(page)
    listed = cli(shop, "audience", "list")["audiences"]
    assert page.locator("[data-testid=audience-card]").count() == len(listed)
    for i, a in enumerate(listed):
        card = _card(page, a["name"])
        assert f"{a['sizes'][-1]['size']:,} customers" in card.inner_text()
        assert a["question"] in card.inner_text()
        page.wait_for_selector(f"#spark-{i} .main-svg")
        plotted = page.evaluate(f"document.getElementById('spark-{i}').data[0].y")
        assert plotted == [s["size"] for s in a["sizes"]]
    assert all(len(a["sizes"]) == 2 for a in listed if a["name"] in SAVED)
    shot(page, "audiences", SHOTS)
    assert not blocked


def test_who_entered_and_left_is_listed_and_exported(browser_page: tuple[Any, list[str]],
                                                     shop: Path, tmp_path: Path) -> None:
    page, blocked = browser_page
    name = "lapsed high spenders"
    expected = cli(shop, "audience", "diff", name)
    _open_audiences(page)
    _card(page, name).locator("[data-testid=audience-diff]").click()
    summary = page.locator("[data-testid=diff-summary]")
    summary.wait_for()
    assert f"{expected['entered_count']:,} entered, {expected['left_count']:,} left" in summary.inner_text()
    changes = [("entered", r) for r in expected["entered"]] + [("left", r) for r in expected["left"]]
    assert changes, "the appended events change nobody's state"
    rows = page.locator("[data-testid=diff] tbody tr")
    assert rows.count() == min(50, len(changes))
    first = rows.first.locator("td")
    assert [first.nth(0).inner_text(), first.nth(1).inner_text()] == [changes[0][0],
                                                                      changes[0][1]["user_id"]]
    assert first.nth(2).inner_text() == changes[0][1]["why"]
    shot(page, "audience-diff", SHOTS)
    with page.expect_download() as info:
        page.click("[data-testid=diff-export]")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    written = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert sorted((r["why"].split(":")[0], r["user_id"]) for r in written) == sorted(
        (change, r["user_id"]) for change, r in changes)
    assert not blocked


def test_trend_and_retention_charts(browser_page: tuple[Any, list[str]], shop: Path) -> None:
    page, blocked = browser_page
    name = "repeat buyers"
    expected = cli(shop, "trend", name)
    _open_audiences(page)
    _card(page, name).locator("[data-testid=audience-trend]").click()
    page.wait_for_selector("#trend-plot .main-svg")
    page.wait_for_selector("#cohort-plot .main-svg")
    traces = page.evaluate("document.getElementById('trend-plot').data.map(t => [t.name, t.x, t.y])")
    by_name = {n: (x, y) for n, x, y in traces}
    months = [m["month"] for m in expected["monthly"]]
    assert by_name["customers who bought"] == (months, [m["customers"] for m in expected["monthly"]])
    assert by_name["revenue"][1] == pytest.approx([m["revenue"] for m in expected["monthly"]])
    cohorts = page.evaluate("document.getElementById('cohort-plot').data[0]")
    assert len(cohorts["y"]) == len(expected["cohorts"])
    for shown, cohort in zip(cohorts["z"], expected["cohorts"], strict=True):
        # months after the data ends are blank, never 0%
        assert [v is None for v in shown] == [v is None for v in cohort["retained"]]
        assert [v for v in shown if v is not None] == pytest.approx(
            [100 * v for v in cohort["retained"] if v is not None])
    assert any(v is None for v in cohorts["z"][-1])
    shot(page, "audience-trend", SHOTS)
    assert not blocked


def test_two_audiences_compared_side_by_side(browser_page: tuple[Any, list[str]], shop: Path) -> None:
    page, blocked = browser_page
    a, b = "lapsed high spenders", "segment 2"
    expected = cli(shop, "compare", a, b)
    _open_audiences(page)
    page.fill("[data-testid=compare-a]", a)
    page.fill("[data-testid=compare-b]", b)
    page.press("[data-testid=compare-b]", "Enter")
    table = page.locator("[data-testid=compare]")
    table.wait_for()
    head = table.locator("thead th").all_text_contents()  # as written (CSS shows them in capitals)
    assert head[1:] == [expected["a"]["label"], expected["b"]["label"]]
    first = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first == ["customers", f"{expected['a']['size']:,}", f"{expected['b']['size']:,}"]
    differs = page.locator("[data-testid=differs] li").all_inner_texts()
    assert len(differs) == len(expected["differs_most"])
    if differs:
        assert differs[0].startswith(expected["differs_most"][0]["what"])
    overlap = expected["overlap"]
    assert f"In both: {overlap['both']:,}" in page.inner_text("#compare-result")
    shot(page, "audience-compare", SHOTS)
    assert not blocked


def test_the_overlap_picture(browser_page: tuple[Any, list[str]], shop: Path) -> None:
    page, blocked = browser_page
    targets = ["lapsed high spenders", "repeat buyers", "segment 2"]
    expected = cli(shop, "overlap", *targets)
    _open_audiences(page)
    page.fill("[data-testid=overlap-targets]", "; ".join(targets))
    page.press("[data-testid=overlap-targets]", "Enter")
    page.wait_for_selector("#overlap-plot .main-svg")
    z = page.evaluate("document.getElementById('overlap-plot').data[0].z")
    assert len(z) == len(expected["matrix"])
    for shown, row in zip(z, expected["matrix"], strict=True):
        assert shown == pytest.approx(row)
    pairs = page.locator("[data-testid=overlap-pairs] li").all_inner_texts()
    assert len(pairs) == len(expected["pairs"]) == 3
    for shown, pair in zip(pairs, expected["pairs"], strict=True):
        assert re.search(rf"∩ .*: {pair['both']:,} \(", shown), shown
    shot(page, "audience-overlap", SHOTS)
    assert not blocked
