"""What a segment's name rests on: one or two phrases its members bought, chosen across all segments
so no two share one, recounted over every customer, and what sets the segment apart from the
segment whose members buy most alike (docs/definitions.md "Segment names").

Choice of a segment's phrases, from its candidates (agent/describe/phrases.py) and the product
categories its members bought in (counted the same way, exactly):

1. a phrase is dropped when a longer candidate containing it was bought by at least
   `SPECIFIC` of its buyers ("Hot Water Bottle" rather than "Water Bottle");
2. supported phrases (bought by at least half the members, at least twice the shop's rate) come
   first, then the rest; within each, by score (support x log2 lift), a longer phrase winning a
   near-tie (within `NEAR_TIE`);
3. segments choose in order of their best score; a phrase another segment already named itself
   after is skipped, so names are distinct;
4. a phrase short of support gets a second one when members who bought either reach support
   (a name of two phrases, "A & B");
5. the contrast: among the segment's candidates that share no word with its name and were
   bought by at least `CONTRAST_SUPPORT` of members, the one bought most more often than in the
   nearest segment (at least `CONTRAST_RATIO` times; by support x log2 ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from segmint.agent.describe.phrases import (
    Phrase,
    ShopPhrases,
    category_support,
    normalise,
    shop_phrases,
    verify_support,
)
from segmint.agent.llm.plain_text import MAX_NAME_CHARS, plain_text_problems
from segmint.agent.llm.privacy import pii_count

__all__ = ["SUPPORTED_LIFT", "SUPPORTED_SHARE", "Contrast", "NameFacts", "name_facts"]

SUPPORTED_SHARE = 0.5
SUPPORTED_LIFT = 2.0
SPECIFIC = 0.85
NEAR_TIE = 0.05
CONTRAST_SUPPORT = 0.2
CONTRAST_RATIO = 1.5
MIN_SIMILARITY = 0.25  # segments that share less than this need no contrast: they are apart
MAX_TERMS = 10
# Words any name may add to its phrases ("Hot Water Bottle Fans").
ROLE_WORDS = frozenset("""
fans buyers lovers shoppers customers collectors enthusiasts makers people and of the
""".split())


@dataclass(frozen=True)
class Contrast:
    """How a segment differs from the segment whose members buy most alike.

    Attributes:
        segment_id: that nearest segment.
        similarity: cosine of the two segments' member product-share vectors.
        phrase: a phrase bought far more often here (None when none stands out).
        neighbour_buyers: members of the nearest segment who bought it.
        neighbour_members: members of the nearest segment.
    """

    segment_id: str
    similarity: float
    phrase: Phrase | None = None
    neighbour_buyers: int = 0
    neighbour_members: int = 0

    @property
    def neighbour_support(self) -> float:
        """Share of the nearest segment's members who bought the phrase."""
        return self.neighbour_buyers / self.neighbour_members if self.neighbour_members else 0.0

    @property
    def ratio(self) -> float:
        """How many times as often members here bought it (0 when there is no phrase)."""
        if self.phrase is None:
            return 0.0
        return self.phrase.support / max(self.neighbour_support, 1 / max(self.neighbour_members, 1))

    def to_json(self) -> dict[str, Any]:
        """The contrast as facts."""
        out: dict[str, Any] = {"segment_id": self.segment_id, "similarity": round(self.similarity, 4)}
        if self.phrase is not None:
            out |= {"phrase": self.phrase.text, "support": round(self.phrase.support, 4),
                    "neighbour_support": round(self.neighbour_support, 4),
                    "ratio": round(self.ratio, 2), "detail": self.phrase.to_json(),
                    "neighbour_buyers": self.neighbour_buyers,
                    "neighbour_members": self.neighbour_members}
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Contrast:
        """The contrast back from `to_json`."""
        detail = doc.get("detail")
        return cls(str(doc["segment_id"]), float(doc["similarity"]),
                   None if detail is None else Phrase.from_json(detail),
                   int(doc.get("neighbour_buyers") or 0), int(doc.get("neighbour_members") or 0))


@dataclass
class NameFacts:
    """The facts a segment's name and description state (every count recounted on all customers).

    Attributes:
        phrases: the one or two phrases of the name.
        either: for two phrases, the members who bought either (a phrase whose text joins both).
        candidates: the segment's phrases, best first (its top terms).
        contrast: how it differs from its nearest segment.
    """

    phrases: list[Phrase] = field(default_factory=list)
    either: Phrase | None = None
    candidates: list[Phrase] = field(default_factory=list)
    contrast: Contrast | None = None

    @property
    def support(self) -> Phrase | None:
        """What the name's support states: the single phrase, or both phrases together."""
        return self.either if self.either is not None else (self.phrases[0] if self.phrases else None)

    @property
    def supported(self) -> bool:
        """Bought by at least half the members, at least twice the shop's rate."""
        return self.support is not None and _supported(self.support)

    def numbers(self) -> dict[str, list[float]]:
        """Numbers a text about these facts may state, by kind (naming.allowed_numbers)."""
        shown = [p for p in [*self.phrases, self.either] if p is not None]
        percent = [v * 100 for p in shown for v in (p.support, p.shop_support)]
        plain = [p.lift for p in shown] + [float(p.buyers) for p in shown]
        if self.contrast is not None:
            plain += [self.contrast.similarity, self.contrast.ratio, float(self.contrast.segment_id)]
            percent += [self.contrast.neighbour_support * 100]
            if self.contrast.phrase is not None:
                percent.append(self.contrast.phrase.support * 100)
        return {"percent": percent, "plain": plain, "money": []}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> NameFacts:
        """The facts back from `to_json` (`name_support` of `segments --json`), to verify a stored
        text against (candidates are not stored)."""
        either = doc.get("either")
        contrast = doc.get("contrast")
        return cls([Phrase.from_json(p) for p in doc.get("phrases") or []],
                   None if either is None else Phrase.from_json(either), [],
                   None if contrast is None else Contrast.from_json(contrast))

    def to_json(self) -> dict[str, Any]:
        """The facts as `segments --json` shows them (`name_support`)."""
        support = self.support
        return {
            "phrases": [p.to_json() for p in self.phrases],
            "either": None if self.either is None else self.either.to_json(),
            "supported": self.supported,
            "support": None if support is None else round(support.support, 4),
            "shop_support": None if support is None else round(support.shop_support, 4),
            "lift": None if support is None else round(support.lift, 2),
            "contrast": None if self.contrast is None else self.contrast.to_json(),
        }


    def name_problems(self, name: str, current: str) -> list[str]:
        """Why another namer's `name` lacks the support of the `current` (built-in) name: each of
        its words must belong to a phrase members bought (in order) or to the lifecycle and value
        words `current` uses or `ROLE_WORDS`, and its phrases must reach the current support."""
        if self.support is None:
            return []  # no phrase names this segment: there is no support to hold a name to
        words = normalise(name.replace("·", " ")).split()
        own = set(normalise(current.replace("·", " ")).split())
        used: list[Phrase] = []
        covered = [False] * len(words)
        for p in sorted(self.candidates + self.phrases, key=lambda p: -len(p.key.split())):
            key = p.key.split()
            for i in range(len(words) - len(key) + 1):
                if all(_same_word(words[i + j], k) for j, k in enumerate(key)):
                    used.append(p)
                    covered[i:i + len(key)] = [True] * len(key)
        loose = [w for w, c in zip(words, covered, strict=True)
                 if not c and w not in ROLE_WORDS and w not in own]
        if loose:
            return [f"the name's words {', '.join(repr(w) for w in loose)} are not a phrase members "
                    "bought (use the phrases in phrases_members_bought, in their order)"]
        if {p.key for p in self.phrases} <= {p.key for p in used}:
            return []
        best = max((p.support for p in used), default=0.0)
        if best + 0.01 < self.support.support:
            return [f"the name's phrases were bought by {best * 100:.0f}% of members; the current "
                    f"name's by {self.support.support * 100:.0f}%: name it after better-supported "
                    "phrases"]
        return []


def _same_word(a: str, b: str) -> bool:
    """The same word, singular or plural ('sign', 'signs'; 'box', 'boxes')."""
    return a == b or a in (b + "s", b + "es") or b in (a + "s", a + "es")


def _supported(p: Phrase) -> bool:
    return p.support >= SUPPORTED_SHARE and p.lift >= SUPPORTED_LIFT


def _inside(short: str, long: str) -> bool:
    return short != long and f" {short} " in f" {long} "


def _pruned(candidates: list[Phrase]) -> list[Phrase]:
    """Drop phrases a longer candidate says as well (step 1), and any a name could not hold:
    product texts are data, and one may carry an instruction or personal data; best-first order
    kept."""
    fit = [p for p in candidates
           if not plain_text_problems(p.text, "a phrase", MAX_NAME_CHARS) and not pii_count(p.text)]
    return [p for p in fit
            if not any(_inside(p.key, q.key) and q.buyers >= SPECIFIC * p.buyers for q in fit)]


def _ranked(candidates: list[Phrase]) -> list[Phrase]:
    """Supported phrases first, then by score; a longer phrase wins a near-tie (step 2)."""
    out: list[Phrase] = []
    for tier in ([p for p in candidates if _supported(p)], [p for p in candidates if not _supported(p)]):
        rest = sorted(tier, key=lambda p: (-p.score, p.key))
        while rest:
            best = rest[0]
            # A near-tie that says more of the same words wins ("Metal Sign" over "Sign").
            longer = [p for p in rest if _inside(best.key, p.key) and p.score >= best.score * (1 - NEAR_TIE)]
            if longer:
                best = max(longer, key=lambda p: (len(p.key.split()), p.score, p.key))
            out.append(best)
            rest.remove(best)
    return out


def name_facts(con: duckdb.DuckDBPyConnection, segment_ids: list[str],
               found: ShopPhrases | None = None) -> dict[str, NameFacts]:
    """The name facts of every segment in `segment_ids` (see the module docstring).

    Args:
        con: a workspace connection with `users` (with `segment_id`) and `events`.
        segment_ids: the segments to name (the Unassigned group left out by the caller).
        found: the shop's candidate phrases, when already computed.

    Returns:
        Per segment id its facts; a segment whose members bought no text has empty facts.
    """
    found = found if found is not None else shop_phrases(con)
    categories = category_support(con)
    # Categories compete with the phrases for the name (counted exactly, never pruned by words).
    ranked = {s: _ranked(_pruned(found.candidates.get(s, [])) + categories.get(s, []))
              for s in segment_ids}
    order = sorted(segment_ids, key=lambda s: (-(ranked[s][0].score if ranked[s] else 0.0), s))
    taken: set[str] = set()
    chosen: dict[str, Phrase] = {}
    for sid in order:
        pick = next((p for p in ranked[sid] if p.key not in taken), None)
        if pick is not None:
            chosen[sid] = pick
            taken.add(pick.key)
    # Second phrases are tried for every unsupported name at once: one recount for all of them.
    pairs = {sid: [(p.key, q.key) for q in ranked[sid][:6] if not q.category and q.key != p.key
                   and not _inside(p.key, q.key) and not _inside(q.key, p.key)]
             for sid, p in chosen.items() if not _supported(p) and not p.category}
    contrasts = {sid: _contrast(sid, ranked[sid], chosen.get(sid), found) for sid in segment_ids}
    keys = set(chosen[s].key for s in chosen) | {k for ps in pairs.values() for pair in ps for k in pair}
    keys |= {c.phrase.key for c in contrasts.values() if c is not None and c.phrase is not None}
    per_seg, shop, sizes, customers = verify_support(
        con, keys, [pair for ps in pairs.values() for pair in ps])

    def recount(p: Phrase, sid: str, key: str | None = None, text: str | None = None) -> Phrase:
        group = key or p.key
        return replace(p, key=group, text=text or p.text, buyers=per_seg.get((sid, group), 0),
                       members=sizes.get(sid, 0), shop_buyers=shop.get(group, 0),
                       customers=customers)

    out: dict[str, NameFacts] = {}
    for sid in segment_ids:
        facts = NameFacts(candidates=[p for p in ranked[sid] if not p.category][:MAX_TERMS])
        if sid in chosen:
            first = chosen[sid] if chosen[sid].category else recount(chosen[sid], sid)
            facts.phrases = [first]
            if not _supported(first):
                facts.phrases, facts.either = _second(first, sid, pairs.get(sid, []), ranked[sid],
                                                      recount)
        contrast = contrasts[sid]
        if contrast is not None and contrast.phrase is not None:
            nb = contrast.segment_id
            contrast = replace(contrast, phrase=recount(contrast.phrase, sid),
                               neighbour_buyers=per_seg.get((nb, contrast.phrase.key), 0),
                               neighbour_members=sizes.get(nb, 0))
        facts.contrast = contrast
        out[sid] = facts
    return out


def _second(first: Phrase, sid: str, pairs: list[tuple[str, str]], ranked: list[Phrase],
            recount: Any) -> tuple[list[Phrase], Phrase | None]:
    """The name's phrases: `first` alone, or with the partner that makes the pair supported."""
    by_key = {p.key: p for p in ranked}
    best: tuple[float, Phrase, Phrase] | None = None
    for a, b in pairs:
        either = recount(first, sid, key=f"{a} | {b}",
                         text=f"{by_key[a].text} or {by_key[b].text}")
        if _supported(either) and (best is None or either.score > best[0]):
            best = (either.score, recount(by_key[b], sid), either)
    if best is None:
        return [first], None
    return [first, best[1]], best[2]


def _contrast(sid: str, ranked: list[Phrase], name: Phrase | None, found: ShopPhrases
              ) -> Contrast | None:
    near = found.nearest(sid)
    if near is None:
        return None
    nb, similarity = near
    if similarity < MIN_SIMILARITY:
        return None
    nb_size = found.sizes.get(nb, 0)
    best: tuple[float, Phrase] | None = None
    named = set(name.key.split()) if name is not None else set()
    for p in ranked:
        # Something besides the name: a phrase sharing a word with it would only repeat it.
        if p.category or p.support < CONTRAST_SUPPORT or named & set(p.key.split()):
            continue
        theirs = found.counts.get(nb, {}).get(p.key, 0) / nb_size if nb_size else 0.0
        ratio = p.support / max(theirs, 1 / max(nb_size, 1))
        score = p.support * math.log2(ratio) if ratio > 1 else 0.0
        if ratio >= CONTRAST_RATIO and (best is None or score > best[0]):
            best = (score, p)
    return Contrast(nb, similarity, best[1] if best else None)
