"""The built-in namer: a segment's name and description from its facts alone (deterministic,
offline), and the fallback of every other namer (docs/definitions.md "Segment names").

A name is `[lifecycle/value words · ]phrase[ & phrase]`: the phrases members bought
(agent/describe/support.py), led by a lifecycle or value word only when that word holds for most
members. The description states the segment's size and revenue, the name's support ("62% bought a
product containing “Hot Water Bottle” (2.9× the shop's 31%)") and, when a segment's members buy
much like another's, what sets it apart. Every number in it is one of the segment's facts.
"""

from __future__ import annotations

from segmint.agent.core.records import SegmentProfile
from segmint.agent.describe.naming import MAX_NAME_WORDS, SegmentText, name_words
from segmint.agent.describe.support import NameFacts
from segmint.agent.describe.why import money

__all__ = ["LIFECYCLE_MAJORITY", "builtin_name", "builtin_text", "percent", "unique_names"]

# A name's lifecycle or value word must be true of most members: "One-time" on a segment where 40%
# bought once put a 34-order customer in a "One-time" segment (Online Retail).
LIFECYCLE_MAJORITY = 0.5
MIXED = "Mixed interests"


def percent(share: float) -> str:
    """A share as a text states it: whole percents, one decimal under 10% ('62%', '3.1%')."""
    value = share * 100
    return f"{value:.0f}%" if value >= 9.95 or value == 0 else f"{value:.1f}%"


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
    """A value word, when it holds for most members and clearly more than in the shop."""
    for key, word in (("high_spenders", "high-value"), ("frequent", "loyal"),
                      ("low_spenders", "low-spend")):
        share = p.term_shares.get(key, 0.0)
        if share >= LIFECYCLE_MAJORITY and share >= 1.5 * shop.get(key, 0.2):
            return word
    return None


def _category(p: SegmentProfile) -> str | None:
    """A category most members engage with, far more than the shop does."""
    top = p.top_categories[0] if p.top_categories else None
    if top is not None and top["share"] >= 0.5 and top["lift"] >= 2:
        return str(top["category"])
    return None


def _interest(p: SegmentProfile, facts: NameFacts | None) -> str:
    """The name's interest: supported phrases, else a dominant category, else any phrase."""
    phrases = facts.phrases if facts is not None else []
    if phrases and facts is not None and facts.supported:
        return " & ".join(ph.text for ph in phrases)
    category = _category(p)
    if category is not None:
        return category
    if phrases:
        return " & ".join(ph.text for ph in phrases)
    return MIXED


def builtin_name(p: SegmentProfile, shop_shares: dict[str, float],
                 facts: NameFacts | None = None) -> str:
    """A segment's name: lifecycle and value words (when true of most members) and its interest."""
    prefix = " ".join(w for w in (_lifecycle(p, shop_shares), _value(p, shop_shares)) if w)
    if prefix:
        prefix = prefix[0].upper() + prefix[1:]
    interest = _interest(p, facts)
    if facts is not None and len(facts.phrases) == 2 and interest.count(" & ") == 1 and (
            len(name_words(f"{prefix} {interest}")) > MAX_NAME_WORDS):
        interest = facts.phrases[0].text  # two phrases would not fit; the first one stays
    return f"{prefix} · {interest}" if prefix else interest


def _support_sentence(p: SegmentProfile, facts: NameFacts | None) -> str | None:
    support = facts.support if facts is not None else None
    if support is not None and facts is not None:
        quoted = " or ".join(f"“{ph.text}”" for ph in facts.phrases)
        what = f"in {quoted}" if support.category else f"a product containing {quoted}"
        return (f"{percent(support.support)} bought {what} "
                f"({support.lift:.1f}× the shop's {percent(support.shop_support)}).")
    category = _category(p)
    if category is not None:
        top = p.top_categories[0]
        return f"{percent(top['share'])} engage with {category} ({top['lift']:.1f}× the shop's rate)."
    if facts is not None:
        # The phrases of what members bought were searched and none is theirs more than the shop's.
        return "No phrase of what they bought sets them apart from the shop."
    if p.top_terms:
        return f"They engage most with {', '.join(p.top_terms[:3])}."
    return None


def _contrast_sentence(facts: NameFacts | None, names: dict[str, str]) -> str | None:
    contrast = facts.contrast if facts is not None else None
    if contrast is None or contrast.phrase is None or contrast.ratio < 1.5:
        return None
    other = names.get(contrast.segment_id, f"segment {contrast.segment_id}")
    return (f"Members buy most like segment {contrast.segment_id} “{other}” (similarity "
            f"{contrast.similarity:.2f}), but are {contrast.ratio:.1f}× as likely to have bought "
            f"“{contrast.phrase.text}” ({percent(contrast.phrase.support)} vs "
            f"{percent(contrast.neighbour_support)}).")


def builtin_text(p: SegmentProfile, shop_shares: dict[str, float], currency: str = "",
                 facts: NameFacts | None = None, *, names: dict[str, str] | None = None,
                 actions: list[str] | None = None) -> SegmentText:
    """Name and describe a segment from its facts alone (deterministic, offline).

    Args:
        p: the segment's profile.
        shop_shares: each glossary term's share over the whole shop.
        currency: symbol for money.
        facts: the name's phrases, their support and the contrast with the nearest segment.
        names: the other segments' names by id (the contrast names its nearest segment).
        actions: the suggested actions (agent/describe/offers.py, the one source of them).
    """
    name = builtin_name(p, shop_shares, facts)
    med = p.median
    first = (f"{p.size:,} customers ({p.share * 100:.1f}% of all) bringing "
             f"{p.revenue_share * 100:.1f}% of revenue")
    if med.get("revenue") is not None and med.get("orders") is not None:
        orders = f"{med['orders']:g} order{'' if med['orders'] == 1 else 's'}"
        first += (f"; median revenue {money(med['revenue'], currency)} over {orders}, "
                  f"{p.term_shares.get('lapsed', 0) * 100:.0f}% lapsed")
    parts = [first + ".", _support_sentence(p, facts), _contrast_sentence(facts, names or {})]
    traits = []
    support = facts.support if facts is not None else None
    if support is not None and facts is not None:
        traits.append(f"{percent(support.support)} bought “{' or '.join(ph.text for ph in facts.phrases)}”")
    traits += [w for w in (_lifecycle(p, shop_shares), _value(p, shop_shares)) if w]
    traits += [str(c["category"]) for c in p.top_categories[:2]]
    return SegmentText(name=name, description=" ".join(x for x in parts if x), key_traits=traits,
                       suggested_actions=list(actions or []))


def unique_names(texts: list[SegmentText], profiles: list[SegmentProfile]) -> list[SegmentText]:
    """Make names unique: a repeated name gets its segment's id ("Mixed interests 10")."""
    seen: set[str] = set()
    out = []
    for text, prof in zip(texts, profiles, strict=True):
        name = text.name
        if name.lower() in seen:
            base = text.name
            while len(name_words(base)) >= MAX_NAME_WORDS:
                base = base.rsplit(" ", 1)[0]
            name = f"{base} {prof.id}"
        seen.add(name.lower())
        out.append(text.model_copy(update={"name": name}))
    return out
