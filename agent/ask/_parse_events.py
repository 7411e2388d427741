"""Parser pass: what customers did, as events conditions (docs/definitions.md "Questions").

"bought/ordered/purchased X" is a purchase, "viewed/looked at/browsed/clicked X" a view, "searched
for X" a search, "added X to their cart" a cart event, "returned/sent back X" a return; "abandoned
their cart" is a cart event without a purchase. The product phrase after the verb is read against
the shop's product words (agent/ask/_parse_products.py). How often ("at least twice", "3 times",
"on 2 different days") and how much ("at least 3 teapots") become the condition's threshold;
"never", "didn't" and "without" negate it, and "teapots but never a cake stand" repeats the verb.
A verb said without its object shares the object of the verb beside it ("viewed teapots but
never bought them", "viewed but never bought teapots").
"""

from __future__ import annotations

import itertools
import re

from segmint.agent.ask._parse_attach import event_of
from segmint.agent.ask._parse_numbers import OP_WORDS
from segmint.agent.ask._parse_products import GENERIC, Phrase, phrase_at, phrases_at
from segmint.agent.ask._parse_text import NEG_BEFORE, NUM, STOPWORDS, Parse, Piece, number
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, EventMeasure, EventType

VERBS: tuple[tuple[EventType, re.Pattern[str]], ...] = tuple((e, compiled(p)) for e, p in (
    ("purchase", r"\b(?P<v>bought|buys|buy|buying|purchased|purchases|purchase|purchasing|ordered|"
                 r"ordering|paid for|pays for|pay for)\b"),
    ("purchase", r"\b(?:who|that|which|to|never|not|also|they|we|and|or|did|do|does|didn't|don't|"
                 r"doesn't|n't)\s+(?P<v>orders?)\b"),
    ("purchase", r"\b(?P<v>got|get|gets|getting|picked up|picks up|pick up|grabbed|grab|grabs|snapped up|"
                 r"had)\b"),
    # a grocer's "came in during January": a shopping trip
    ("purchase", r"\b(?P<v>came in|come in|comes in|coming in|been in)\b(?!\s+from)"),
    ("purchase", r"\b(?P<v>shopped|shops)\b(?!\s+for\b)"),

    ("purchase", r"\b(?P<v>(?:made|placed|make|place|placing|making)\s+(?:an?\s+|any\s+)?(?:orders?|"
                 r"purchases?)\s+(?:of|for))(?=\s)"),
    ("view", r"\b(?P<v>viewed|views|view|viewing|looked at|look at|looks at|browsed|browses|browse|"
             r"browsing|clicked on|clicked|clicks on|click on)\b"),
    ("search", r"\b(?P<v>searched for|searches for|search for|searching for|searched|searched on)\b"),
    ("return", r"\b(?P<v>returned|returns|return|returning|sent back|send back|sends back|"
               r"brought back)\b"),
    ("cart", r"\b(?P<v>carted)\b"),
))
CART = r"(?:(?:their|the|a|an|his|her|my|our)\s+)?(?:shopping\s+)?(?:cart|basket|trolley)s?\b"
ADDED = compiled(r"\b(?P<v>added|add|adds|adding|put|puts|putting)\s+(?:(?P<obj>[\w'&-]+(?:\s[\w'&-]+)"
                   r"{0,5}?)\s+)?(?:to|in|into)\s+" + CART)
SENT_BACK = compiled(r"\b(?P<v>sent|send|sends)\s+(?P<obj>[\w'&-]+(?:\s[\w'&-]+){0,5}?)\s+back\b")
ABANDONED = compiled(
    r"\b(?:abandon(?:ed|s|ing)?\s+" + CART + r"|(?:cart|basket)\s+abandon(?:ers|ment|ed)\b|"
    r"abandoned[\s-](?:cart|basket)s?\b|left\s+(?P<obj>[\w'&-]+(?:\s[\w'&-]+){0,5}?)\s+in\s+" + CART
    + r")")
HOLDING = compiled(r"\s+(?:with|containing|holding|full of)\s+")
NEG_WITHOUT = compiled(r"\b(?:without|no)\s+$")
COMPARE_WORDS = (r"at least|more than|over|fewer than|less than|at most|no more than|exactly|only|"
                 r"just|no less than")
FREQ_WORDS = {"once": 1, "twice": 2, "thrice": 3}
FREQ = compiled(r"\s+(?:(" + COMPARE_WORDS + r")\s+)?(?:(once|twice|thrice)\b|" + NUM
                  + r"\s*(\+|or more|or over|or fewer|or less)?\s+(?:times|occasions)\b|on\s+(?:("
                  + COMPARE_WORDS + r")\s+)?" + NUM + r"\s*(\+|or more)?\s+(?:different\s+|separate\s+|"
                  r"distinct\s+)?days\b)")
QTY = compiled(r"(?:(" + COMPARE_WORDS + r")\s+)?" + NUM + r"\s*(\+|or more|or over|or fewer|or less)?"
                 r"\s+(?:units?\s+of\s+|items?\s+of\s+|pieces?\s+of\s+|packs?\s+of\s+)?")
BUT_NOT = compiled(r"\s*,?\s+(?:but|and)\s+(?:(?:have|has|had|did|do|does)\s+)?(?:never|not|no)\s+"
                     r"(?:(?:had|got|bought|purchased|ordered|buy|get|order|purchase)\s+)?(?:an?\s+|any\s+)?")
JOINED = compiled(r"[\s,]*(?:\b(?:but|and|then)\b)?[\s,]*")
# "got", "had" name a purchase only with what was got
NEEDS_OBJECT = frozenset({"got", "get", "gets", "getting", "picked up", "picks up", "pick up", "grabbed",
                          "grab", "grabs", "snapped up", "had"})
NOTHING = compiled(r"\s+(?:nothing|none)\b")  # "bought nothing in the last 7 days": no purchase
# "keep buying teapots", "keep coming back for teapots": bought more than once
KEEP = compiled(r"\b(?:keep|keeps|kept|keeping)\s+(?:on\s+)?(?:coming back for|coming back to buy|buying|"
                  r"ordering|purchasing|getting|returning for)\s+")
PASSIVE = compiled(r"\s+by\b")  # "units bought by French customers": no condition of its own
SUFFIX_OPS = {"+": ">=", "or more": ">=", "or over": ">=", "or fewer": "<=", "or less": "<="}


def _op(compare: str | None, suffix: str | None) -> str:
    if suffix:
        return SUFFIX_OPS[suffix]
    return OP_WORDS.get(compare or "exactly", "=") if compare not in ("only", "just") else "="


def _negated(p: Parse, start: int) -> int | None:
    """Where a negation before `start` begins ("never", "didn't", "without"), if there is one."""
    neg = NEG_BEFORE.search(p.text, 0, start) or NEG_WITHOUT.search(p.text, 0, start)
    return neg.start() if neg is not None else None


def _event(event: EventType, phrase: Phrase | None, negate: bool, **threshold: object) -> Condition:
    return Condition.model_validate({
        "kind": "events", "event": event, "negate": negate,
        **({"product": phrase.text, "match": "meaning" if phrase.meaning else "exact"} if phrase else {}),
        **threshold})


def _frequency(p: Parse, pos: int, event: EventType) -> tuple[dict[str, object], int]:
    """A threshold said after the object ("at least twice", "on 3 different days")."""
    m = FREQ.match(p.text, pos)
    if m is None or not p.free(*m.span()):
        return {}, pos
    if m[5] is not None:  # "on N days"
        measure: EventMeasure = "days"
        value, op = number(m[6]), _op(m[5], m[7])
    else:
        measure = "orders" if event == "purchase" else "events"
        value = float(FREQ_WORDS[m[2]]) if m[2] else number(m[3])
        op = _op(m[1], m[4])
    return {"measure": measure, "op": op, "value": value}, m.end()


def _quantity(p: Parse, pos: int) -> tuple[dict[str, object], int]:
    """A quantity said before the object ("at least 3 teapots", "10 or more units of X")."""
    m = QTY.match(p.text, pos)
    if m is None or not (m[1] or m[3]):  # "bought 3 teapots": at least, exactly? not said
        return {}, pos
    return {"measure": "units", "op": _op(m[1], m[3]), "value": number(m[2])}, m.end()


def _record(p: Parse, start: int, end: int, conditions: list[Condition]) -> Piece:
    piece = Piece(start, end, conditions)
    p.pieces.append(piece)
    p.take(start, end)
    return piece


ON_PRODUCT = compiled(r"\s+(?:on|of|for)\s+")


def _threshold_products(p: Parse, words: frozenset[str]) -> None:
    """"spent over £100 on lanterns", "at least 3 orders of teapots": the threshold's product."""
    for piece in list(p.pieces):
        on = ON_PRODUCT.match(p.text, piece.end) if piece.becomes is not None else None
        phrase = phrase_at(p.text, on.end(), words) if on is not None else None
        if phrase is None or piece.becomes is None:
            continue
        event = event_of(piece.conditions[0], piece.becomes)
        piece.conditions = [event.model_copy(update={"product": phrase.text,
                                                     "match": "meaning" if phrase.meaning else "exact"})]
        piece.becomes = None
        p.take(piece.end, phrase.end)
        piece.end = phrase.end


VISIT = compiled(r"\b(?:came|come|comes|been|coming)\s+back\b")


def read_visits(p: Parse, words: frozenset[str]) -> None:
    """Before the glossary reads "came back" (repeat buyers): "came back in 2011" is a purchase in
    that window, "keep coming back for teapots" a repeat purchase of teapots."""
    for m in list(KEEP.finditer(p.text)):
        found = phrases_at(p.text, m.end(), words)
        if found and p.free(*m.span()):
            for i, phrase in enumerate(found):
                _record(p, m.start() if i == 0 else phrase.start, phrase.end, [
                    _event("purchase", phrase, False, measure="orders", op=">=", value=2.0)])
            p.take(*m.span())
    for m in list(VISIT.finditer(p.text)):
        later = [w for w in p.windows if w.start >= m.end() and not p.text[m.end():w.start].strip()]
        if later and p.free(*m.span()):
            neg = _negated(p, m.start())
            _record(p, neg if neg is not None else m.start(), m.end(),
                    [_event("purchase", None, neg is not None)])


def read_events(p: Parse, words: frozenset[str]) -> None:
    """Read every event verb with its objects, thresholds and negation."""
    _threshold_products(p, words)
    made: list[Piece] = []
    for m in list(ABANDONED.finditer(p.text)):
        if not p.free(*m.span()):
            continue
        obj = phrase_at(p.text, m.start("obj"), words) if m["obj"] else None
        if m["obj"] and obj is None:
            continue  # "left a review in the basket" names no product
        if obj is None and (holding := HOLDING.match(p.text, m.end())):  # "... carts with teapots"
            obj = phrase_at(p.text, holding.end(), words)
        neg = _negated(p, m.start())
        end = max(m.end(), obj.end if obj else 0)
        made.append(_record(p, neg if neg is not None else m.start(), end, [
            _event("cart", obj, neg is not None), _event("purchase", obj, True)]))
        p.note("“abandoned cart” is read as: added to the cart and did not buy it"
               " (in the same window, when one is given)")
    for pattern, event in ((ADDED, "cart"), (SENT_BACK, "return")):
        for m in list(pattern.finditer(p.text)):
            said, obj = _object(p, m, words)
            if not said or not p.free(*m.span()):
                continue
            neg = _negated(p, m.start())
            made.append(_record(p, neg if neg is not None else m.start(), m.end(),
                                [_event(event, obj, neg is not None)]))
    for event, pattern in VERBS:
        for m in list(pattern.finditer(p.text)):
            if not p.read(*m.span("v")):
                made += _read_verb(p, event, m.start("v"), m.end("v"), words)
    _share_objects(p, made)


def _read_verb(p: Parse, event: EventType, start: int, end: int, words: frozenset[str]) -> list[Piece]:
    if PASSIVE.match(p.text, end):
        p.take(start, end)
        return []
    neg = _negated(p, start)
    if (nothing := NOTHING.match(p.text, end)) and p.text[start:end] not in NEEDS_OBJECT:
        return [_record(p, neg if neg is not None else start, nothing.end(), [_event(event, None, True)])]
    found: list[Phrase] = []
    qty: dict[str, object] = {}
    if p.text[end:end + 1] == " ":
        strict = event != "search"  # search texts are no product words: any phrase is searched for
        qty, pos = _quantity(p, end + 1)
        found = phrases_at(p.text, pos, words, strict=strict)
        if qty and not found:
            qty, found = {}, phrases_at(p.text, end + 1, words, strict=strict)
    if not found and p.text[start:end] in NEEDS_OBJECT:
        return []
    threshold, last = _frequency(p, found[-1].end if found else end, event)
    threshold = qty or threshold
    first = neg if neg is not None else start
    if not found and not threshold and neg is None:
        # "customers who buy frequently": a purchase, its verb kept for the paraphrase mapper
        p.keep(start, end)
        piece = Piece(start, end, [_event(event, None, False)])
        p.pieces.append(piece)
        return [piece]
    objects: list[Phrase | None] = list(found) or [None]
    pieces = []
    for i, phrase in enumerate(objects):
        piece_start = first if i == 0 else phrase.start if phrase else start
        piece_end = max(phrase.end if phrase else end, last if i == len(objects) - 1 else 0)
        pieces.append(_record(p, piece_start, piece_end,
                              [_event(event, phrase, neg is not None, **threshold)]))
    for piece in pieces:
        piece.objects = [x for x in pieces if x is not piece]
    if neg is not None and len(objects) > 1:
        # "never bought candles or lanterns" is neither: the list joins by "and"
        span = slice(pieces[0].start, pieces[-1].end)
        p.text = p.text[:span.start] + re.sub(r"\bor\b", "  ", p.text[span]) + p.text[span.stop:]
    tail = pieces[-1].end
    while (but := BUT_NOT.match(p.text, tail)) and (other := phrase_at(p.text, but.end(), words)):
        # "teapots but never a cake stand": the same verb, negated
        pieces.append(_record(p, but.start(), other.end, [_event(event, other, True)]))
        tail = other.end
    return pieces


def _object(p: Parse, m: re.Match[str], words: frozenset[str]) -> tuple[bool, Phrase | None]:
    """The product between the verb and "to the cart" / "back": (whether it was read, the phrase).

    "added things to their cart", "sent something back": no product named, any product.
    """
    if not m["obj"]:
        return True, None
    if all(w in GENERIC or w in STOPWORDS for w in m["obj"].split()):
        return True, None
    obj = phrase_at(p.text, m.start("obj"), words)
    return (obj is not None and obj.end == m.end("obj")), obj


def _share_objects(p: Parse, made: list[Piece]) -> None:
    """A verb without an object takes the object of the verb it is joined to ("but", "and")."""
    ordered = sorted(made, key=lambda x: x.start)
    for a, b in itertools.pairwise(ordered):
        if not JOINED.fullmatch(p.text[a.end:b.start]):
            continue
        ca, cb = a.conditions[0], b.conditions[-1]
        if ca.product is None and cb.product is not None:
            a.conditions = [c.model_copy(update={"product": cb.product, "match": cb.match})
                            for c in a.conditions]
        elif cb.product is None and ca.product is not None:
            b.conditions = [c.model_copy(update={"product": ca.product, "match": ca.match})
                            for c in b.conditions]
