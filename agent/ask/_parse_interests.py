"""Parser pass: interests, what customers searched for, viewed or bought ("interested in camping
gear", "looking for gifts", "who likes candles", "tea lovers"). What they did with a product is an
events condition (agent/ask/_parse_events.py); an interest is any of it.
"""

from __future__ import annotations

from segmint.agent.ask._parse_products import BOUNDARY, phrases_at
from segmint.agent.ask._parse_text import NEG_BEFORE, STOPWORDS, Parse, Piece
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition

FRAME = compiled(
    r"\b(?:interested in|(?:looking|looked|shopping|shopped|shop)\s+for|(?:fans?|lovers?) of|into|"
    r"(?:like|likes|liked|love|loves|loved)(?:\s+(?:items|products)\s+like)?)\s+")
POSTFIX = compiled(r"((?:[a-z][\w'&-]*\s)?[a-z][\w'&-]*)\s+(?:lovers|fans|enthusiasts|addicts)\b")
# "our biggest fans" are no fans of "biggest": how much, not what
DEGREE = frozenset({"biggest", "best", "top", "greatest", "most", "loyal", "true", "real", "keenest",
                    "diehard", "die-hard", "number", "avid", "super", "huge"})


def read_interests(p: Parse) -> None:
    """Read the phrases after an interest verb ("interested in") and before "lovers"."""
    for m in list(FRAME.finditer(p.text)):
        if not p.free(*m.span()):
            continue
        # any words: an interest also matches what customers typed into the search box
        found = phrases_at(p.text, m.end(), frozenset(), strict=False)
        if not found:
            continue
        frame_start = m.start()
        negated = NEG_BEFORE.search(p.text, 0, frame_start)
        for i, phrase in enumerate(found):
            condition = Condition(kind="interest", interest=phrase.text, negate=negated is not None)
            p.pieces.append(Piece(frame_start if i == 0 else phrase.start, phrase.end, [condition]))
        if negated is not None:
            p.take(negated.start(), frame_start)
        p.take(frame_start, m.end())
        for phrase in found:
            p.take(phrase.start, phrase.end)
    for m in list(POSTFIX.finditer(p.text)):
        words = m[1].split()
        while words and words[0] in STOPWORDS | BOUNDARY:
            words.pop(0)
        if words and p.free(*m.span()) and not any(w in BOUNDARY or w in DEGREE for w in words):
            start = m.end(1) - len(" ".join(words))
            p.add(start, m.end(), [Condition(kind="interest", interest=" ".join(words))])
