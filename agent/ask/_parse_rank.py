"""Parser pass: customers ranked by what they did ("who bought the most teapots?").

A ranking verb with a product ranks the customers by a measure of their events about that
product: "bought the most teapots" by units of teapots bought (net of returns), "spent the most on
teapots" by spend on them. Views, searches and returns rank by how many there were ("which 10
customers viewed the most products?", "who viewed the most yoga mats?"). The customers listed
are those who did it; the definition names the measure. Without a product the ranking
stays a users-table field ("who spent the most?": revenue), unless a window is said, which
agent/ask/_parse_attach.py turns into a ranking by the window's events.
"""

from __future__ import annotations

from segmint.agent.ask._parse_products import GENERIC, phrase_at
from segmint.agent.ask._parse_text import NUM, Parse, Piece, number
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, EventMeasure, EventType

VERB = compiled(
    r"\b(?P<v>spent|spend|spends|spending|bought|buy|buys|buying|purchased|purchase|purchases|"
    r"ordered|order|orders|viewed|view|views|looked\s+at|browsed|searched\s+for|searched|"
    r"returned|return|returns)\s+the\s+(?P<dir>most|least|fewest)\s+"
    r"(?:(?P<of>units|items|pieces)\s+of\s+|(?:money\s+)?(?:on|for)\s+)?")
# Verbs of other events: ranked by how many such events (the users table has no per-product count)
OTHER_EVENTS: dict[str, EventType] = {
    "viewed": "view", "view": "view", "views": "view", "looked at": "view", "browsed": "view",
    "searched for": "search", "searched": "search", "returned": "return", "return": "return",
    "returns": "return"}
# "which 10 customers ...", "the 5 customers who ...": how many are asked for
HOW_MANY_BEFORE = compiled(r"\b(?:which|what|the|top)\s+" + NUM + r"\s+(?:customers|clients|buyers|"
                             r"shoppers|households|people|accounts|members)\s+(?:who\s+|that\s+)?$")
SPEND = ("spent", "spend", "spends", "spending")
NOT_A_PRODUCT = GENERIC | {"units", "unit", "pieces", "money", "orders", "order", "times", "often"}
GENERIC_OBJECT = compiled(r"(?:(?:different|distinct)\s+)?(?:products?|items?|things|times|pages)\b")


def generic_end(text: str, pos: int) -> int | None:
    """Where "products" / "different items" said after a ranking verb ends (None: not said)."""
    m = GENERIC_OBJECT.match(text, pos)
    return m.end() if m else None


def read_event_ranking(p: Parse, words: frozenset[str]) -> None:
    """Read "bought the most <product>" and "spent the most on <product>" (see module)."""
    if p.group_by is not None:  # a table ranks its rows, not customers
        return
    for m in VERB.finditer(p.text):
        if not p.free(*m.span("v")):
            continue
        verb = " ".join(m["v"].split())
        event: EventType = OTHER_EVENTS.get(verb, "purchase")
        phrase = phrase_at(p.text, m.end(), words, strict=event != "search")
        generic = phrase is not None and set(phrase.text.split()) <= NOT_A_PRODUCT
        if event == "purchase" and (phrase is None or generic):
            continue  # "bought the most items": a users-table field (agent/ask/_parse_ranking.py)
        if generic:  # "viewed the most products": the views themselves
            phrase = None
        measure: EventMeasure = "spend" if verb in SPEND else "units" if event == "purchase" else "events"
        end = phrase.end if phrase else (generic_end(p.text, m.end()) or m.end("dir"))
        piece = Piece(m.start(), end, [Condition(
            kind="events", event=event, **({} if phrase is None else {
                "product": phrase.text, "match": "meaning" if phrase.meaning else "exact"}))])
        start = m.start()
        if (n := HOW_MANY_BEFORE.search(p.text, 0, m.start())) is not None:
            p.limit, p.intent = int(number(n[1])), "top"
            start = n.start()
        p.pieces.append(piece)
        p.take(start, end)
        p.rank, p.descending = (piece, measure), m["dir"] == "most"
        return
