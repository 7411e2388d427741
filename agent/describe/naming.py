"""Segment names and descriptions: the contract every namer's text must pass (the verifier).

The verifier is the contract: a name of at most five words and 60 characters, unique across
segments; a description of one to three sentences and at most 600 characters in which every number
equals a fact about the segment (allowing for rounding); plain text only (llm/plain_text.py: no
markup, links, code, SQL or instructions); no personal data. The built-in namer
(agent/describe/builtin_namer.py) and the LLM chain (agent/describe/naming_chain.py) both must
pass it; an LLM text that does not is replaced by the built-in one, with the reason recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from segmint.agent.describe.profile import SegmentProfile
from segmint.agent.describe.support import NameFacts
from segmint.agent.llm.plain_text import (
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS,
    MAX_PHRASE_CHARS,
    plain_text_problems,
)
from segmint.agent.llm.privacy import pii_count

MAX_NAME_WORDS = 5


class SegmentText(BaseModel):
    """What a namer produces for one segment (the LLM's structured output has this shape)."""

    name: str = Field(description="at most 5 words")
    description: str = Field(description="1-3 sentences; every number must be one of the facts")
    key_traits: list[str] = Field(default_factory=list, max_length=6)
    suggested_actions: list[str] = Field(default_factory=list, max_length=4)


@dataclass
class NamedSegment:
    """A segment's text and where it came from."""

    id: str
    text: SegmentText
    namer: str
    reason: str = ""


class Namer(Protocol):
    """Names segments; the built-in names come first and stay wherever a namer has no better text."""

    def name(self, profiles: list[SegmentProfile], builtin: list[NamedSegment],
             facts: dict[str, NameFacts] | None = None) -> list[NamedSegment]:
        """One named segment per profile, in order.

        Args:
            profiles: the segments' facts.
            builtin: the built-in namer's result for each (the fallback).
            facts: per segment id, the phrases its members bought and their support.
        """
        ...


@dataclass
class Verdict:
    """The verifier's result: ok, or the complaints to send back for one repair attempt."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is nothing to complain about."""
        return not self.problems


def allowed_numbers(profile: SegmentProfile, total_customers: int | None = None,
                    facts: NameFacts | None = None) -> dict[str, list[float]]:
    """Every number a description may state about a segment, by kind.

    Kinds: "percent" (shares x 100), "money" (revenue and order-value statistics) and "plain"
    (counts, medians, means, lifts, the segment's id). A number is checked against the facts of
    its kind only, so a wrong percentage cannot pass because it happens to equal some count.
    `facts` adds the name's support and the contrast with the nearest segment.
    """
    shares = [profile.share, profile.revenue_share, *profile.term_shares.values()]
    shares += [c["share"] for c in profile.top_categories + profile.top_products]
    shares += [a["share"] for vals in profile.attributes.values() for a in vals]
    money = [v for k in ("revenue", "aov") for v in (profile.median[k], profile.mean[k])
             if v is not None]
    plain = [profile.size, total_customers or 0]
    plain += [c["lift"] for c in profile.top_categories + profile.top_products]
    plain += [a["lift"] for vals in profile.attributes.values() for a in vals]
    plain += [c["buyers"] for c in profile.top_categories + profile.top_products]
    plain += [v for v in (*profile.median.values(), *profile.mean.values()) if v is not None]
    if profile.id.isdigit():
        plain.append(int(profile.id))
    out = {"percent": [s * 100 for s in shares], "money": money, "plain": plain}
    for kind, values in (facts.numbers() if facts is not None else {}).items():
        out[kind] = out[kind] + values
    return out


NUMBER = re.compile(
    r"(?<![\w.])[-+]?([£$€])?\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?(%|k\b)?"
)


def numbers_in(text: str) -> list[tuple[str, float, int, str]]:
    """The numbers a text states: (as written, value, decimals written, kind)."""
    found = []
    for m in NUMBER.finditer(text):
        whole = float(m[2].replace(",", ""))
        decimals = len(m[3]) if m[3] else 0
        value = whole + (float("0." + m[3]) if m[3] else 0.0)
        if m[4] == "k":
            value *= 1000
            decimals = max(decimals - 3, -3)
        kind = "percent" if m[4] == "%" else "money" if m[1] else "plain"
        found.append((m[0].strip(), value, decimals, kind))
    return found


def matches_fact(value: float, decimals: int, facts: Iterable[float]) -> bool:
    """A stated number is true if some fact rounds to it at the precision it was written with."""
    tolerance = 0.5 * 10 ** (-decimals) + 1e-9
    return any(abs(fact - value) <= tolerance for fact in facts)


def verify(text: SegmentText, profile: SegmentProfile, other_names: Iterable[str],
           total_customers: int | None = None, facts: NameFacts | None = None,
           quoted: Iterable[str] = ()) -> Verdict:
    """Check a segment's name and description against its facts and the other names.

    Args:
        text: the name, description, traits and actions.
        profile: the segment's facts.
        other_names: the names other segments already have.
        total_customers: the shop's customer count (a number a text may state).
        facts: the name's support and contrast (more numbers a text may state).
        quoted: names from the data a text may quote, digits and all (phrases, segment names).
    """
    phrases = [*text.key_traits, *text.suggested_actions]
    problems = plain_text_problems(text.name, "the name", MAX_NAME_CHARS)
    problems += plain_text_problems(text.description, "the description", MAX_DESCRIPTION_CHARS,
                                    one_line=False)
    for i, phrase in enumerate(phrases, 1):
        problems += plain_text_problems(phrase, f"phrase {i} of the traits and actions", MAX_PHRASE_CHARS)
    if (len(text.name) > MAX_NAME_CHARS or len(text.description) > MAX_DESCRIPTION_CHARS
            or any(len(p) > MAX_PHRASE_CHARS for p in phrases)):
        return Verdict(problems)  # a huge text would only add a complaint per number in it
    words = name_words(text.name)
    if not words:
        problems.append("the name is empty")
    if len(words) > MAX_NAME_WORDS:
        problems.append(f"the name has {len(words)} words; use at most {MAX_NAME_WORDS}")
    if text.name.strip().lower() in {n.strip().lower() for n in other_names}:
        problems.append(f"the name '{text.name}' is already used by another segment")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.description.strip()) if s]
    if not 1 <= len(sentences) <= 3:
        problems.append(f"the description has {len(sentences)} sentences; use 1 to 3")
    allowed = allowed_numbers(profile, total_customers, facts)
    checked = " ".join([text.name, text.description, *text.key_traits])
    for name in sorted({q for q in quoted if q}, key=len, reverse=True):
        checked = checked.replace(f"“{name}”", " ")  # a quoted name may hold digits of its own
    for written, value, decimals, kind in numbers_in(checked):
        if not matches_fact(value, decimals, allowed[kind]):
            problems.append(f"the number {written} is not one of the segment's facts")
    if pii_count(" ".join([text.name, text.description, *phrases])):
        problems.append("the text contains personal data")
    ids = set(profile.representatives)
    if any(uid in text.description or uid in text.name for uid in ids if len(uid) >= 4):
        problems.append("the text names individual customers")
    return Verdict(problems)


def name_words(name: str) -> list[str]:
    """The words of a name; separators such as '·' or '&' do not count."""
    return [w for w in name.split() if any(ch.isalnum() for ch in w)]
