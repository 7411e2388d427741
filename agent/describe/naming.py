"""Segment names and descriptions: the built-in namer and the verifier every namer must pass.

The verifier is the contract: a name of at most five words and 60 characters, unique across
segments; a description of one to three sentences and at most 600 characters in which every number
equals a fact about the segment (allowing for rounding); plain text only (llm/plain_text.py: no
markup, links, code, SQL or instructions); no personal data. The LLM chain
(agent/describe/naming_chain.py) must pass it too, or the built-in namer's text is used with the
reason recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field

from segmint.agent.describe.profile import SegmentProfile
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

    def name(self, profiles: list[SegmentProfile], builtin: list[NamedSegment]) -> list[NamedSegment]:
        """One named segment per profile, in order.

        Args:
            profiles: the segments' facts.
            builtin: the built-in namer's result for each (the fallback).
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


def allowed_numbers(profile: SegmentProfile, total_customers: int | None = None
                    ) -> dict[str, list[float]]:
    """Every number a description may state about a segment, by kind.

    Kinds: "percent" (shares x 100), "money" (revenue and order-value statistics) and "plain"
    (counts, medians, means, lifts). A number is checked against the facts of its kind only, so a
    wrong percentage cannot pass because it happens to equal some count.
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
    return {"percent": [s * 100 for s in shares], "money": money, "plain": plain}


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
           total_customers: int | None = None) -> Verdict:
    """Check a segment's name and description against its facts and the other names."""
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
    facts = allowed_numbers(profile, total_customers)
    for written, value, decimals, kind in numbers_in(" ".join([text.name, text.description,
                                                               *text.key_traits])):
        if not matches_fact(value, decimals, facts[kind]):
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


# Builtin namer ---------------------------------------------------------------------------------

# A name's lifecycle word must be true of most members: "One-time" on a segment where 40% bought
# once put a 34-order customer in a "One-time" segment (Online Retail).
LIFECYCLE_MAJORITY = 0.5


def _lifecycle(p: SegmentProfile, shop: dict[str, float]) -> str | None:
    """The lifecycle word that most sets this segment apart, if any does clearly."""
    candidates = [("lapsed", "Lapsed"), ("at_risk", "At-risk"), ("new_customers", "New"),
                  ("active", "Active"), ("one_time_buyers", "One-time")]
    best, best_lift = None, 1.3
    for key, word in candidates:
        share = p.term_shares.get(key, 0.0)
        base = shop.get(key, 0.0)
        if base > 0 and share >= LIFECYCLE_MAJORITY and share / base > best_lift:
            best, best_lift = word, share / base
    return best


def _value(p: SegmentProfile, shop: dict[str, float]) -> str | None:
    high = p.term_shares.get("high_spenders", 0.0)
    if high >= 1.5 * shop.get("high_spenders", 0.2) and high >= 0.3:
        return "high-value"
    frequent = p.term_shares.get("frequent", 0.0)
    if frequent >= 1.5 * shop.get("frequent", 0.2) and frequent >= 0.35:
        return "loyal"
    if high <= 0.5 * shop.get("high_spenders", 0.2):
        return "low-spend"
    return None


def _interest(p: SegmentProfile) -> str:
    # A category most members share says more than two words; otherwise the distinctive terms.
    top = p.top_categories[0] if p.top_categories else None
    if top is not None and top["share"] >= 0.5 and top["lift"] >= 2:
        return str(top["category"])
    if p.top_terms:
        return " ".join(t.capitalize() for t in _phrase_order(p.top_terms[:2], p))
    if p.top_categories:
        return str(p.top_categories[0]["category"])
    return "Mixed interests"


def _phrase_order(terms: list[str], p: SegmentProfile) -> list[str]:
    """Two terms in the order shoppers see them together ("Jumbo Bag", not "Bag Jumbo")."""
    if len(terms) == 2:
        texts = " | ".join(str(x.get("text") or "").lower() for x in p.top_products)
        forward, backward = f"{terms[0]} {terms[1]}", f"{terms[1]} {terms[0]}"
        if texts.count(backward) > texts.count(forward):
            return [terms[1], terms[0]]
    return terms


def builtin_text(p: SegmentProfile, shop_shares: dict[str, float], currency: str = "") -> SegmentText:
    """Name and describe a segment from its facts alone (deterministic, offline)."""
    lifecycle, value = _lifecycle(p, shop_shares), _value(p, shop_shares)
    prefix = " ".join(w for w in (lifecycle, value) if w)
    if prefix:
        prefix = prefix[0].upper() + prefix[1:]
    interest = _interest(p)
    name = f"{prefix} · {interest}" if prefix else interest
    med = p.median
    parts = [f"{p.size:,} customers ({p.share * 100:.1f}% of all) bringing "
             f"{p.revenue_share * 100:.1f}% of revenue."]
    if med.get("revenue") is not None and med.get("orders") is not None:
        orders = f"{med['orders']:g} order{'' if med['orders'] == 1 else 's'}"
        parts.append(f"Median revenue {currency}{med['revenue']:,.2f} over {orders}; "
                     f"{p.term_shares.get('lapsed', 0) * 100:.0f}% are lapsed.")
    # Only categories a good part of the segment engages with; otherwise its distinctive words.
    likes = [c["category"] for c in p.top_categories[:2] if c["share"] >= 0.25] or p.top_terms[:3]
    if likes:
        parts.append(f"They engage most with {', '.join(map(str, likes))}.")
    traits = [t for t in (lifecycle, value) if t] + [str(c["category"]) for c in p.top_categories[:2]]
    actions = []
    if lifecycle == "Lapsed":
        actions.append("win-back offer on their favourite category")
    elif lifecycle == "At-risk":
        actions.append("timely reminder before they lapse")
    elif lifecycle == "New":
        actions.append("welcome series with a second-order incentive")
    if value == "high-value":
        actions.append("VIP early access rather than discounts")
    if p.top_products:
        actions.append(f"feature {p.top_products[0].get('text') or p.top_products[0]['product_id']}")
    return SegmentText(name=name, description=" ".join(parts), key_traits=traits,
                       suggested_actions=actions)


def unique_names(texts: list[SegmentText], profiles: list[SegmentProfile]) -> list[SegmentText]:
    """Make names unique by adding the next distinctive term (or a number) to repeats."""
    seen: set[str] = set()
    out = []
    for text, prof in zip(texts, profiles, strict=True):
        name = text.name
        extra = iter([t.capitalize() for t in prof.top_terms[2:6]] + [f"{i}" for i in range(2, 99)])
        while name.lower() in seen or len(name_words(name)) > MAX_NAME_WORDS:
            base = text.name
            while len(name_words(base)) >= MAX_NAME_WORDS:
                base = base.rsplit(" ", 1)[0]
            name = f"{base} {next(extra)}"
        seen.add(name.lower())
        out.append(text.model_copy(update={"name": name}))
    return out
