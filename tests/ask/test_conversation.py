"""Follow-up questions refine the previous answer, with the built-in parser or an LLM, on every
entry point that keeps a conversation (the library, `segmint chat`, `POST /api/ask`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from scripted_openai import scripted_openai
from typer.testing import CliRunner

from conftest import WriteEvents
from segmint.agent.api.app import create_app
from segmint.agent.ask.answer import Answerer
from segmint.agent.ask.conversation import Conversation, merge
from segmint.agent.cli import app
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import NotUnderstood
from segmint.agent.core.workspace import Workspace
from segmint.agent.query import QuerySpec
from segmint.agent.run.pipeline import run

HIGH_SPENDERS = {"intent": "list", "conditions": [{"kind": "term", "name": "high_spenders"}]}
IN_GERMANY = {"intent": "list", "conditions": [{"kind": "field", "name": "country", "op": "=",
                                                "value": "Germany"}]}


@pytest.fixture
def ws(write_events: WriteEvents, workspace_dir: Path) -> Workspace:
    rows = [{"user_id": str(u), "timestamp": f"2024-{1 + u % 12:02d}-01", "order_id": f"o{u}",
             "price": str(10 * (u + 1)), "country": ["Germany", "France", "Spain"][u % 3]}
            for u in range(60)]
    run(workspace_dir, [write_events(rows)],
        RunConfig.model_validate({"attr": {"country": "country"}}))
    return Workspace(workspace_dir)


@pytest.fixture
def conv(ws: Workspace) -> Conversation:
    return Conversation(Answerer(ws))


def test_follow_ups_narrow_the_previous_answer(conv: Conversation) -> None:
    everyone = conv.ask("who are my high spenders?")
    german = conv.ask("of those, who is in Germany?")
    top = conv.ask("now only the top 3")
    assert everyone.count == 12  # revenue >= p80 of 10..600: the 12 highest
    assert german.count == 4 and "Germany" in german.definition
    assert top.count == 3 and [r["revenue"] for r in top.sample] == [580.0, 550.0, 520.0]
    assert {a.parser for a in (everyone, german, top)} == {"builtin"}
    assert "high" not in conv.ask("lapsed customers").definition  # a new question starts over


def test_reset_and_refusal_keep_context(conv: Conversation) -> None:
    conv.ask("who are my high spenders?")
    with pytest.raises(NotUnderstood):
        conv.ask("of those, who likes turnips in the rain")
    assert conv.ask("of those, who is in Spain?").count == 4
    conv.reset()
    assert conv.ask("customers in Spain").count == 20


def test_follow_ups_go_through_the_llm_parser(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_openai([HIGH_SPENDERS, IN_GERMANY]) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        conv = Conversation(Answerer(ws, llm="openai:scripted"))
        everyone = conv.ask("who are my high spenders?")
        german = conv.ask("of those, who is in Germany?")
    assert [a.parser for a in (everyone, german)] == ["llm:openai:scripted"] * 2
    assert (everyone.count, german.count) == (12, 4)
    # The model is asked the refinement only; the context is merged by code.
    asked = llm.questions()
    assert "who is in Germany" in asked[1] and "of those" not in asked[1]
    assert (ws.path / "llm_calls.jsonl").read_text().count("parse_question") == 2


def test_a_failing_llm_falls_back_and_says_why(ws: Workspace, tmp_path: Path) -> None:
    conv = Conversation(Answerer(ws, llm=f"llamacpp:{tmp_path / 'missing.gguf'}"))
    answer = conv.ask("who are my high spenders?")
    assert answer.count == 12
    assert answer.parser.startswith("builtin (fallback: ") and "model file not found" in answer.parser


def test_chat_takes_the_llm_option(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_openai([HIGH_SPENDERS, IN_GERMANY]) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        result = CliRunner().invoke(
            app, ["chat", "-w", str(ws.path), "--llm", "openai:scripted"],
            input="who are my high spenders?\nof those, who is in Germany?\n\n")
    assert result.exit_code == 0, result.output
    assert "12 customers match" in result.stdout and "4 customers match" in result.stdout
    assert len(llm.requests) == 2


def test_the_api_answers_follow_ups_with_its_llm(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_openai([HIGH_SPENDERS, IN_GERMANY]) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        client = TestClient(create_app(ws.path, llm="openai:scripted"))
        first = client.post("/api/ask", json={"question": "who are my high spenders?"}).json()
        follow = client.post("/api/ask", json={"question": "of those, who is in Germany?",
                                               "context": first["query"]}).json()
    assert (first["count"], follow["count"]) == (12, 4)
    assert first["parser"] == follow["parser"] == "llm:openai:scripted"


def _revenue(u: int) -> float:
    return 10.0 * (u + 1)  # the `ws` shop: one order per customer, at 10 x (u + 1)


COUNTRY = ["Germany", "France", "Spain"]


def test_follow_ups_narrow_a_number(conv: Conversation) -> None:
    conv.spec = QuerySpec.model_validate({"any_of": [[{"kind": "field", "field": "country", "op": "=",
                                                       "value": "Germany"}]],
                                          "measure": {"agg": "mean", "field": "revenue"}})
    narrowed = conv.ask("of those, who spent over 300?")
    kept = [_revenue(u) for u in range(60) if u % 3 == 0 and _revenue(u) > 300]
    assert narrowed.kind == "number" and narrowed.value == pytest.approx(sum(kept) / len(kept))
    assert narrowed.customers == len(kept) and "Germany" in narrowed.definition
    counted = conv.ask("of those, how many spent over 500?")
    assert counted.kind == "number" and counted.value == counted.count == sum(
        1 for u in range(60) if u % 3 == 0 and _revenue(u) > 500)


def test_follow_ups_narrow_a_table(conv: Conversation) -> None:
    conv.spec = QuerySpec.model_validate({"measure": {"agg": "sum", "field": "revenue"},
                                          "group_by": "country", "groups": ["Spain", "France"]})
    narrowed = conv.ask("of those, who spent over 300?")
    assert narrowed.kind == "table" and [r["group"] for r in narrowed.rows] == ["Spain", "France"]
    for row in narrowed.rows:
        mine = [_revenue(u) for u in range(60) if COUNTRY[u % 3] == row["group"] and _revenue(u) > 300]
        assert row["value"] == pytest.approx(sum(mine)) and row["customers"] == len(mine)


def test_merge_keeps_what_the_refinement_does_not_change() -> None:
    table = QuerySpec.model_validate({"measure": {"agg": "mean", "field": "aov"}, "group_by": "country"})
    refined = merge(table, QuerySpec.model_validate({"any_of": [[{"kind": "term", "term": "lapsed"}]]}))
    assert (refined.kind, refined.group_by, refined.measure) == ("table", "country", table.measure)
    regrouped = merge(table, QuerySpec.model_validate({"group_by": "segment"}))
    assert regrouped.group_by == "segment" and regrouped.measure == table.measure


def test_a_ranking_by_events_stays_until_another_order_replaces_it() -> None:
    teapots = {"kind": "events", "event": "purchase", "product": "teapots"}
    ranked = QuerySpec.model_validate({"any_of": [[teapots]], "rank_by": {**teapots, "measure": "units"},
                                       "limit": 5})
    lapsed = QuerySpec.model_validate({"any_of": [[{"kind": "term", "term": "lapsed"}]]})
    kept = merge(ranked, lapsed)
    assert kept.rank_by == ranked.rank_by and kept.limit == 5 and len(kept.any_of[0]) == 2
    by_revenue = merge(ranked, QuerySpec.model_validate({"sort_by": "revenue"}))
    assert by_revenue.rank_by is None and by_revenue.sort_by == "revenue"
    back = merge(by_revenue, ranked)
    assert back.sort_by is None and back.rank_by == ranked.rank_by
