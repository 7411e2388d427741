"""Product phrases: the words after a verb ("bought cake stands"), checked against the words of the
shop's products (`Catalogue.product_words`), and the product nouns said without a verb ("teapot
buyers", "customers of cake stands").

A phrase matches products exactly (whole words, singular or plural) unless the question asks for
things close in meaning ("anything like teapots", "tea-related", "similar to X"). Every word of an
exact phrase must be a word of some product: a phrase the shop's products do not hold is left
unread, and the question refused, rather than matched by meaning unasked.
"""

from __future__ import annotations

from dataclasses import dataclass

from segmint.agent.ask._parse_text import STOPWORDS, Parse
from segmint.agent.core.patterns import compiled

BOUNDARY = frozenset({
    "and", "or", "but", "who", "whom", "whose", "which", "that", "with", "without", "from", "in",
    "on", "at", "during", "since", "over", "under", "more", "less", "than", "last", "past", "sorted",
    "ranked", "by", "are", "is", "were", "was", "have", "has", "had", "not", "never", "aged",
    "between", "within", "based", "living", "located", "outside", "except", "excluding", "this",
    "these", "those", "they", "also", "and/or", "recently", "often", "again", "once", "twice",
    # how often or when, not what: "buy frequently" is no interest in "frequently"
    "frequently", "regularly", "repeatedly", "rarely", "occasionally", "lately", "daily", "weekly",
    "monthly", "yearly", "annually", "constantly", "consistently", "online", "lot", "much",
    "time", "times", "before", "after", "until", "till", "through", "per", "each", "vs",
    "versus", "compared", "against", "at least", "exactly", "only", "just", "to", "into", "back",
    "then", "yet", "first", "do", "does", "did", "didn't", "don't", "doesn't", "haven't", "hasn't",
    "it", "them", "one", "ones", "any",
})
DETERMINER = compiled(r"(?:(?:the|some|any|our|a|an|their|your|my|his|her|both|either)\s+)?")
LIKE = compiled(
    r"(?:(?:anything|something|items?|products?|things?|stuff|goods)\s+(?:that\s+(?:is|are|looks?)\s+)?"
    r"(?:like|similar to|related to|resembling|close to)|similar to|related to|resembling)\s+")
WORD = compiled(r"[a-z0-9][\w'&+.-]*")
JOIN = compiled(r"\s*(?:,\s*(?:(?:and|or)\s+)?|\s(?:and|or|&)\s+)")
GENERIC = frozenset({"products", "product", "items", "item", "things", "thing", "stuff", "goods"})
RELATED = compiled(r"^(.+?)-(?:related|type|style|themed|like)$")


@dataclass(frozen=True)
class Phrase:
    """A product phrase read in the question.

    Attributes:
        start: offset of its first word.
        end: offset just past its last word.
        text: the words ("cake stands").
        meaning: matched by meaning ("anything like teapots"), not exactly.
    """

    start: int
    end: int
    text: str
    meaning: bool


def is_product_word(word: str, words: frozenset[str]) -> bool:
    """Whether a question's word names products, as written or singular/plural of a product word."""
    forms = {word, word + "s", word + "es"}
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("s"):
        forms.add(word[:-1])
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    return bool(forms & words)


def _phrase_end(text: str, pos: int) -> int:
    """End of the run of single-spaced content words that starts at `pos` (may be `pos`)."""
    end = pos
    while (m := WORD.match(text, pos)) and m[0] not in BOUNDARY and not m[0][0].isdigit():
        end = m.end()
        if text[end:end + 1] != " " or text[end + 1:end + 2] == " ":
            break
        pos = end + 1
    return end


def phrase_at(text: str, pos: int, words: frozenset[str], *, strict: bool = True) -> Phrase | None:
    """The product phrase starting at `pos` ("the regency teapot", "anything like candles").

    Args:
        text: the working text.
        pos: where the phrase may start (after the verb and its space).
        words: the shop's product words (empty: any content words are taken).
        strict: every word of an exact phrase must be a product word.
    """
    meaning = False
    if like := LIKE.match(text, pos):
        meaning, pos = True, like.end()
    det = DETERMINER.match(text, pos)
    start = det.end() if det else pos
    found = [(w[0], w.start(), w.end()) for w in WORD.finditer(text, start, _phrase_end(text, start))]
    while found and found[-1][0] in STOPWORDS:
        found.pop()  # "candles recently"
    end = found[-1][2] if found else start
    while len(found) > 1 and found[-1][0] in GENERIC:
        found.pop()  # "babushka products", "tea-related items": the products are the phrase
    if not found or found[0][0] in STOPWORDS or found[0][0][0].isdigit():
        return None
    names = [w for w, _, _ in found]
    if related := RELATED.match(names[-1]):
        meaning, names[-1] = True, related[1]
    elif len(names) > 1 and names[-1] == "related":
        meaning, names = True, names[:-1]
    if strict and words and not meaning and not all(
            w in STOPWORDS or is_product_word(w, words) for w in names):
        return None
    return Phrase(found[0][1], end, " ".join(names), meaning)


def phrases_at(text: str, pos: int, words: frozenset[str], *, strict: bool = True) -> list[Phrase]:
    """The phrases after a verb: 'candles', or 'candles or lanterns' as two."""
    out: list[Phrase] = []
    while (phrase := phrase_at(text, pos, words, strict=strict)) is not None:
        out.append(phrase)
        join = JOIN.match(text, phrase.end)
        if join is None:
            break
        pos = join.end()
    return out


# Who buys a product, said without a verb: "teapot buyers", "buyers of cake stands".
NOUN_AFTER = compiled(r"(?<=\s)(?:buyers|purchasers|shoppers|drinkers|eaters)\b")
NOUN_BEFORE = compiled(r"\b(?:customers|buyers|purchasers|shoppers|households|clients)\s+(?:of|for)\s+")
WORDS_BEFORE = compiled(r"((?:[a-z][\w'&-]*\s)+)$")


def read_product_nouns(p: Parse, words: frozenset[str]) -> list[tuple[int, int, Phrase]]:
    """Product phrases named as what customers buy, without a verb; (span, phrase) each.

    Only words no other pass has read, all of them product words, count: "lapsed teapot buyers"
    is lapsed and teapot, "German buyers" is already the country.
    """
    if not words:
        return []
    found: list[tuple[int, int, Phrase]] = []
    for m in list(NOUN_BEFORE.finditer(p.text)):
        phrase = phrase_at(p.text, m.end(), words)
        if phrase is not None and p.free(m.start(), phrase.end):
            found.append((m.start(), phrase.end, phrase))
    for m in list(NOUN_AFTER.finditer(p.text)):
        run = WORDS_BEFORE.search(p.text, 0, m.start())
        names = run[1].split() if run else []
        while names and (names[0] in STOPWORDS or not is_product_word(names[0], words)):
            names.pop(0)
        if names and all(is_product_word(w, words) or w in STOPWORDS for w in names):
            text = " ".join(names)
            start = m.start() - 1 - len(text)
            found.append((start, m.end(), Phrase(start, m.start() - 1, text, False)))
    return found
