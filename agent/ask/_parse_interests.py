"""Parser pass: interests, what customers searched for, viewed or bought ("who buys candles",
"interested in camping gear", "tea lovers")."""

from __future__ import annotations

import re

from segmint.agent.ask._parse_text import NEG_BEFORE, STOPWORDS, Parse, Piece
from segmint.agent.query import Condition

BOUNDARY = frozenset({
    "and", "or", "but", "who", "whom", "whose", "which", "that", "with", "without", "from", "in",
    "on", "at", "during", "since", "over", "under", "more", "less", "than", "last", "past", "sorted",
    "ranked", "by", "are", "is", "were", "was", "have", "has", "had", "not", "never", "aged",
    "between", "within", "based", "living", "located", "outside", "except", "excluding", "this",
    "these", "those", "they", "also", "and/or", "recently", "often", "again", "once", "twice",
    # how often or when, not what: "buy frequently" is no interest in "frequently"
    "frequently", "regularly", "repeatedly", "rarely", "occasionally", "lately", "daily", "weekly",
    "monthly", "yearly", "annually", "constantly", "consistently", "online", "lot", "much",
    "time", "times",
})
DETERMINER = re.compile(r"(?:(?:the|some|any|our|a|an|their|your|my)\s+)?")
FRAME = re.compile(
    r"\b(?:interested in|(?:searched|searching|searches|search|looking|looked|shopping|shopped|shop)"
    r"\s+for|(?:fans?|lovers?|buyers|purchasers|shoppers) of|into|(?:buy|buys|bought|buying|"
    r"purchase|purchases|purchased|purchasing|order|orders|ordered|ordering|like|likes|liked|love|"
    r"loves|loved|browse|browsed|browsing|viewed|view|views)(?:\s+(?:items|products)\s+like)?)\s+")
POSTFIX = re.compile(r"((?:[a-z][\w'&-]*\s)?[a-z][\w'&-]*)\s+(?:lovers|fans|enthusiasts|addicts)\b")
WORD = re.compile(r"[a-z0-9][\w'&+.-]*")
JOIN = re.compile(r"\s*(?:,\s*(?:(?:and|or)\s+)?|\s(?:and|or|&)\s+)")


def _phrase_end(text: str, pos: int) -> int:
    """End of the run of single-spaced content words that starts at `pos` (may be `pos`)."""
    end = pos
    while (m := WORD.match(text, pos)) and m[0] not in BOUNDARY:
        end = m.end()
        if text[end:end + 1] != " " or text[end + 1:end + 2] == " ":
            break
        pos = end + 1
    return end


def _objects(text: str, pos: int) -> list[tuple[int, int]]:
    """The phrases after an interest verb: 'candles', or 'candles or lanterns' as two."""
    spans: list[tuple[int, int]] = []
    while True:
        det = DETERMINER.match(text, pos)
        start = det.end() if det else pos
        words = [(w[0], w.end()) for w in WORD.finditer(text, start, _phrase_end(text, start))]
        while words and words[-1][0] in STOPWORDS:  # "candles recently" -> "candles"
            words.pop()
        if not words or words[0][0] in STOPWORDS or words[0][0].isdigit():
            return spans
        spans.append((start, words[-1][1]))
        join = JOIN.match(text, words[-1][1])
        if join is None:
            return spans
        pos = join.end()


def read_interests(p: Parse) -> None:
    """Read the phrases after an interest verb ("buys", "searched for") and before "lovers"."""
    for m in list(FRAME.finditer(p.text)):
        if not p.free(*m.span()):
            continue
        spans = _objects(p.text, m.end())
        if not spans:
            continue
        frame_start = m.start()
        negated = NEG_BEFORE.search(p.text, 0, frame_start)
        for i, (start, end) in enumerate(spans):
            condition = Condition(kind="interest", interest=p.text[start:end].strip(),
                                  negate=negated is not None)
            p.pieces.append(Piece(frame_start if i == 0 else start, end, [condition]))
        if negated is not None:
            p.take(negated.start(), frame_start)
        p.take(frame_start, m.end())
        for start, end in spans:
            p.take(start, end)
    for m in list(POSTFIX.finditer(p.text)):
        words = m[1].split()
        while words and words[0] in STOPWORDS | BOUNDARY:
            words.pop(0)
        if words and p.free(*m.span()) and not any(w in BOUNDARY for w in words):
            start = m.end(1) - len(" ".join(words))
            p.add(start, m.end(), [Condition(kind="interest", interest=" ".join(words))])
