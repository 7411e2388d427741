"""The LLM naming chain: facts -> structured output -> verifier -> one repair -> else built-in.

Only aggregates go into the prompt: attribute values held by at least 20 customers (as shares),
example texts at least 5 customers share, scrubbed (llm/privacy.py); customer ids, free-text
attributes and one-off texts never are. Whatever the
model writes is data: it is accepted only when the verifier finds every number true, the name
short and unique and no personal data, and when its name rests on phrases members bought at least
as widely as the built-in name's — otherwise the built-in text stays, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segmint.agent.describe.naming import NamedSegment, SegmentText, verify
from segmint.agent.describe.profile import SegmentProfile
from segmint.agent.describe.support import NameFacts
from segmint.agent.llm.backends import LLMUnavailable
from segmint.agent.llm.privacy import MIN_TEXT_CUSTOMERS, scrub, shared_text, shared_values
from segmint.agent.llm.structured import StructuredChat, StructuredOutputUnsupported
from segmint.agent.query.glossary import Glossary
from segmint.prompts import RenderedPrompt, render

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

PURPOSE = "name_segment"
MAX_EXAMPLES = 8
MIN_SIZE_FOR_EXAMPLES = 20  # below this, example texts could point at individual customers


def prompt_facts(profile: SegmentProfile, name_facts: NameFacts | None = None,
                 current_name: str | None = None) -> dict[str, Any]:
    """The facts sent to the model: aggregates only (no representative customers, no value or text
    that few customers share); with the phrases members bought and the current (built-in) name."""
    facts = profile.to_json()
    facts.pop("representatives", None)
    facts["attributes"] = {a: kept for a, vals in profile.attributes.items()
                           if (kept := shared_values(vals))}
    facts["share_percent"] = round(profile.share * 100, 1)
    facts["revenue_share_percent"] = round(profile.revenue_share * 100, 1)
    facts["term_percent"] = {k: round(v * 100, 1) for k, v in profile.term_shares.items()}
    for item in facts.get("top_products", []):
        item["text"] = shared_text(item)
        item.pop("text_customers", None)
    if name_facts is not None:
        # A phrase is a piece of product texts: sent only when enough customers bought it.
        facts["phrases_members_bought"] = [
            {"phrase": scrub(p.text), "percent_of_members": round(p.support * 100, 1),
             "shop_percent": round(p.shop_support * 100, 1), "lift": round(p.lift, 2)}
            for p in name_facts.candidates if p.shop_buyers >= MIN_TEXT_CUSTOMERS]
        support = name_facts.support
        if support is not None:
            facts["name_support"] = {"percent_of_members": round(support.support * 100, 1),
                                     "shop_percent": round(support.shop_support * 100, 1),
                                     "lift": round(support.lift, 2)}
    if current_name is not None:
        facts["current_name"] = scrub(current_name)
    return _rounded(facts)


def _rounded(value: Any) -> Any:
    """Floats to 3 decimals: enough for any fact, and long digit runs never pass for phone numbers."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def example_texts(profile: SegmentProfile) -> list[str]:
    """A few shared, scrubbed product texts typical of the segment; none for very small segments."""
    if profile.size < MIN_SIZE_FOR_EXAMPLES:
        return []
    texts = [shared_text(p) for p in profile.top_products]
    return [t[:160] for t in texts if t][:MAX_EXAMPLES]


@dataclass
class LLMNamer:
    """Names segments with a chat model, keeping only verified text (a `Namer`).

    Args:
        chat_model: a LangChain chat model (from `llm.open_chat_model`).
        backend: the `--llm` label, for reasons and errors.
        glossary: business terms injected into the prompt.
        total_customers: the shop's customer count (a number descriptions may state).
        prompts_dir: a directory of prompt overrides.
    """

    chat_model: BaseChatModel
    backend: str
    glossary: Glossary
    total_customers: int | None = None
    prompts_dir: str | None = None

    def name(self, profiles: list[SegmentProfile], builtin: list[NamedSegment],
             facts: dict[str, NameFacts] | None = None) -> list[NamedSegment]:
        """Name each segment; a segment keeps its built-in text when the LLM's fails.

        Args:
            profiles: the segments' facts, in the order of `builtin`.
            builtin: the built-in namer's results (the fallback for each segment).
            facts: per segment id, the phrases its members bought: an LLM name must have the
                support of the built-in one.
        """
        try:
            chat = StructuredChat(self.chat_model, SegmentText, backend=self.backend, purpose=PURPOSE)
        except StructuredOutputUnsupported as exc:
            return [_fallback(b, str(exc)) for b in builtin]
        out: list[NamedSegment] = []
        taken: list[str] = []
        unreachable: str | None = None
        for prof, fallback in zip(profiles, builtin, strict=True):
            if unreachable is not None:
                named = _fallback(fallback, unreachable)
            else:
                try:
                    named = self._name_one(chat, prof, fallback, taken, (facts or {}).get(prof.id))
                except LLMUnavailable as exc:
                    # Every later segment would wait for the same dead server: stop asking.
                    unreachable = f"{exc.backend} unreachable: {exc.reason}"
                    named = _fallback(fallback, unreachable)
            out.append(named)
            taken.append(named.text.name)
        return out

    def _name_one(self, chat: StructuredChat[SegmentText], prof: SegmentProfile,
                  fallback: NamedSegment, taken: list[str], facts: NameFacts | None
                  ) -> NamedSegment:
        current = fallback.text.name

        def prompt(feedback: str) -> RenderedPrompt:
            return render("name_segment", prompts_dir=self.prompts_dir, glossary=self.glossary,
                          facts=json.dumps(prompt_facts(prof, facts, current), ensure_ascii=False),
                          examples="\n".join(example_texts(prof)),
                          taken_names="\n".join(taken), feedback=feedback)

        def problems(text: SegmentText) -> list[str]:
            found = verify(text, prof, taken, self.total_customers, facts,
                           quoted=[p.text for p in (facts.candidates if facts else [])]).problems
            return found + (facts.name_problems(text.name, current) if facts is not None else [])

        outcome = chat.ask(prompt, problems, rejected="LLM text rejected twice")
        if outcome.value is None:
            return _fallback(fallback, outcome.reason)
        note = "verified after one repair" if outcome.repaired else "verified"
        return NamedSegment(prof.id, outcome.value, f"llm:{self.backend}", note)


def _fallback(builtin: NamedSegment, reason: str) -> NamedSegment:
    return NamedSegment(builtin.id, builtin.text, "builtin", reason)
