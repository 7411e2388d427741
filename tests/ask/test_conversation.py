"""Follow-up questions refine the previous answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import WriteEvents
from segmint.agent.ask.conversation import Conversation
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import NotUnderstood
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.pipeline import run


@pytest.fixture
def conv(write_events: WriteEvents, workspace_dir: Path) -> Conversation:
    rows = [{"user_id": str(u), "timestamp": f"2024-{1 + u % 12:02d}-01", "order_id": f"o{u}",
             "price": str(10 * (u + 1)), "country": ["Germany", "France", "Spain"][u % 3]}
            for u in range(60)]
    run(workspace_dir, [write_events(rows)],
        RunConfig.model_validate({"attr": {"country": "country"}}))
    return Conversation(Workspace(workspace_dir))


def test_follow_ups_narrow_the_previous_answer(conv: Conversation) -> None:
    everyone = conv.ask("who are my high spenders?")
    german = conv.ask("of those, who is in Germany?")
    top = conv.ask("now only the top 3")
    assert everyone.count == 12  # revenue >= p80 of 10..600: the 12 highest
    assert german.count == 4 and "Germany" in german.definition
    assert top.count == 3 and [r["revenue"] for r in top.sample] == [580.0, 550.0, 520.0]
    assert "high" not in conv.ask("lapsed customers").definition  # a new question starts over


def test_reset_and_refusal_keep_context(conv: Conversation) -> None:
    conv.ask("who are my high spenders?")
    with pytest.raises(NotUnderstood):
        conv.ask("of those, who likes turnips in the rain")
    assert conv.ask("of those, who is in Spain?").count == 4
    conv.reset()
    assert conv.ask("customers in Spain").count == 20
