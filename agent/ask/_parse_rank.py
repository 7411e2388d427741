"""Parser pass: customers ranked by what they did ("who bought the most teapots?").

A ranking verb with a product ranks the customers by a measure of their events about that
product: "bought the most teapots" by units of teapots bought (net of returns), "spent the most on
teapots" by spend on them, "ordered teapots the most often" by orders with them. The customers
listed are those who bought it; the definition names the measure. Without a product the ranking
stays a users-table field ("who spent the most?": revenue), unless a window is said, which
agent/ask/_parse_attach.py turns into a ranking by the window's events.
"""

from __future__ import annotations

import re

from segmint.agent.ask._parse_products import GENERIC, phrase_at
from segmint.agent.ask._parse_text import NUM, Parse, Piece, number
from segmint.agent.query import Condition, EventMeasure

VERB = re.compile(
    r"\b(?P<v>spent|spend|spends|spending|bought|buy|buys|buying|purchased|purchase|purchases|"
    r"ordered|order|orders)\s+the\s+(?P<dir>most|least|fewest)\s+(?:(?P<of>units|items|pieces)\s+of\s+|"
    r"(?:money\s+)?(?:on|for)\s+)?")
# "which 10 customers ...", "the 5 customers who ...": how many are asked for
HOW_MANY_BEFORE = re.compile(r"\b(?:which|what|the|top)\s+" + NUM + r"\s+(?:customers|clients|buyers|"
                             r"shoppers|households|people|accounts|members)\s+(?:who\s+|that\s+)?$")
SPEND = ("spent", "spend", "spends", "spending")
NOT_A_PRODUCT = GENERIC | {"units", "unit", "pieces", "money", "orders", "order", "times", "often"}


def read_event_ranking(p: Parse, words: frozenset[str]) -> None:
    """Read "bought the most <product>" and "spent the most on <product>" (see module)."""
    if p.group_by is not None:  # a table ranks its rows, not customers
        return
    for m in VERB.finditer(p.text):
        if not p.free(*m.span("v")):
            continue
        phrase = phrase_at(p.text, m.end(), words)
        if phrase is None or set(phrase.text.split()) <= NOT_A_PRODUCT:
            continue  # "bought the most items": a users-table field (agent/ask/_parse_ranking.py)
        measure: EventMeasure = "spend" if m["v"] in SPEND else "units"
        piece = Piece(m.start(), phrase.end, [Condition(
            kind="events", event="purchase", product=phrase.text,
            match="meaning" if phrase.meaning else "exact")])
        start = m.start()
        if (n := HOW_MANY_BEFORE.search(p.text, 0, m.start())) is not None:
            p.limit, p.intent = int(number(n[1])), "top"
            start = n.start()
        p.pieces.append(piece)
        p.take(start, phrase.end)
        p.rank, p.descending = (piece, measure), m["dir"] == "most"
        return
