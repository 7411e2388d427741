"""Parser pass: one number about a product, over the customers' events ("how many teapots did
we sell in 2011?", "how much revenue came from teapots?", "how many orders included candles?").

The number is `Measure.events`: an events condition with a measure and no threshold, totalled
over the selected customers' events (units and spend of purchases net of returns, orders with a
matching line, returned units). The window said with it goes on that condition
(agent/ask/_parse_attach.py). "Revenue of teapot buyers" is not this: it is the buyers' whole
revenue, a users-table field over the customers who bought teapots.
"""

from __future__ import annotations

import re

from segmint.agent.ask._parse_products import GENERIC, phrase_at
from segmint.agent.ask._parse_text import Parse
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, EventMeasure, EventType, Measure

__all__ = ["read_product_totals"]

_WHO = r"(?:we|you|customers|people|shoppers|households|they|our\s+customers)"
_SOLD = r"(?:sold|bought|purchased|ordered)"
# (pattern with a `prod` group, event, measure); the product phrase is read inside `prod`.
_RULES: tuple[tuple[re.Pattern[str], EventType, EventMeasure], ...] = tuple(
    (compiled(pattern), event, measure) for pattern, event, measure in (
        # units: "how many teapots did we sell", "how many units of teapots were sold"
        (r"\bhow\s+many\s+(?:units\s+of\s+|pieces\s+of\s+)?(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4}?)\s+"
         r"(?:did\s+(?P<mid>(?:[\w'-]+\s+){0,3}?)(?:sell|buy|purchase|order)|(?:were|have\s+been|got)\s+"
         + _SOLD + r"|(?:have\s+)?we\s+sold)\b", "purchase", "units"),
        (r"\bhow\s+many\s+(?:units\s+of\s+|pieces\s+of\s+)?(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4}?)\s+"
         r"(?:were|have\s+been|got)\s+(?:returned|sent\s+back)\b", "return", "units"),
        (r"\b(?:the\s+)?(?:total\s+)?(?:number\s+of\s+)?units\s+of\s+(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4}?)\s+"
         + _SOLD + r"\b", "purchase", "units"),
        # orders: "how many orders included candles"
        (r"\bhow\s+many\s+orders\s+(?:included|contained|had|with|containing|including)\s+"
         r"(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4})", "purchase", "orders"),
        # spend: "how much revenue came from teapots", "how much did customers spend on teapots"
        (r"\bhow\s+much\s+(?:revenue|money|sales|income|turnover)\s+(?:came|comes|come|did\s+we\s+"
         r"(?:make|get|take|earn)|have\s+we\s+(?:made|taken))\s+(?:in\s+)?(?:from|on|with)\s+"
         r"(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4})", "purchase", "spend"),
        (r"\bhow\s+much\s+(?:revenue|money|sales)?\s*(?:did|do|have)\s+(?P<prod>[\w'-]+(?:\s+[\w'-]+)"
         r"{0,4}?)\s+(?:bring\s+in|bring|brought\s+in|make|made|generate|generated|earn|earned)\b",
         "purchase", "spend"),
        (r"\bhow\s+much\s+(?:did|do|have)\s+" + _WHO + r"\s+(?:spend|spent)\s+on\s+"
         r"(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4})", "purchase", "spend"),
        (r"\b(?:the\s+)?(?:total\s+)?(?:(?:revenue|spend|spending|turnover|income)\s+(?:from|on)|sales\s+of)\s+"
         r"(?P<prod>[\w'-]+(?:\s+[\w'-]+){0,4})", "purchase", "spend"),
    ))
# "revenue from teapot buyers": the buyers' whole revenue (a field over customers), not this
_NEXT_WORD = compiled(r"\s*(?:\w+\s+){0,1}?(\w+)")
_PEOPLE = frozenset({"buyers", "customers", "purchasers", "shoppers", "households", "people", "clients",
                     "segment", "segments", "cluster", "clusters", "group", "groups", "audience",
                     "members", "lovers", "fans"})


def read_product_totals(p: Parse, words: frozenset[str]) -> None:
    """Read one number about a product's events (see the module docstring)."""
    if p.measure is not None or p.group_by is not None:
        return
    for pattern, event, measure in _RULES:
        for m in pattern.finditer(p.text):
            if not p.free(*m.span()):
                continue
            # the phrase is read inside its group: a verb after it ("did", "bring") is not product
            phrase = phrase_at(p.text[:m.end("prod")], m.start("prod"), words)
            after = _NEXT_WORD.match(p.text, phrase.end) if phrase else None
            if phrase is None or set(phrase.text.split()) <= GENERIC | _PEOPLE or (
                    after is not None and after[1] in _PEOPLE):
                continue
            events = Condition(kind="events", event=event, measure=measure, product=phrase.text,
                               match="meaning" if phrase.meaning else "exact")
            p.measure, p.measure_at = Measure(agg="sum", events=events), m.start()
            p.intent = "count"
            if "sales" in m[0].split():
                p.note("“sales” is read as spend (net of returns); “how many … were sold” counts units")
            # a phrase said last ends the match there: what follows ("in 2011") is for other passes;
            # who did it ("did German customers buy") is for them too
            end = m.end() if m.end("prod") < m.end() else phrase.end
            mid = m.span("mid") if "mid" in pattern.groupindex and m["mid"] else (end, end)
            p.take(m.start(), mid[0])
            p.take(mid[1], end)
            return
