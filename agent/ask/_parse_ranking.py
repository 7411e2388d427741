"""Parser passes: the intent ("how many", "describe") and the ranking (top-N, sort, limit)."""

from __future__ import annotations

import re

from segmint.agent.ask._parse_measures import HOW_MANY
from segmint.agent.ask._parse_text import NUM, START, Parse, number
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Intent

SORT_FIELDS = {"revenue": "revenue", "spend": "revenue", "spending": "revenue", "spent": "revenue",
               "total spend": "revenue", "value": "revenue", "sales": "revenue",
               "lifetime value": "revenue", "ltv": "revenue", "orders": "orders",
               "number of orders": "orders", "order count": "orders", "frequency": "orders",
               "aov": "aov", "average order value": "aov", "average order": "aov",
               "basket value": "aov", "average basket": "aov", "basket": "aov", "units": "units",
               "basket size": "units_per_order", "items per order": "units_per_order",
               "different products": "products_bought", "distinct products": "products_bought",
               "items": "units", "returns": "returns", "recency": "recency_days",
               "tenure": "tenure_days"}
SORT = "(" + "|".join(sorted(SORT_FIELDS, key=len, reverse=True)) + r")\b"

INTENTS: tuple[tuple[re.Pattern[str], Intent], ...] = (
    (compiled(START + r"(?:how many|(?:the |total )?number of|count(?: of)?|what(?:'s| is) the number of|"
                r"how (?:big|large) (?:is|are)|what(?:'s| is) the size of|size of)\b"), "count"),
    (compiled(START + r"(?:describe|tell me about|give me a profile of|profile)\b"), "describe"),
    (compiled(START + r"compare\b"), "compare"),
)
LOOK_LIKE = (compiled(START + r"what (?:do|does)\b"), compiled(r"\blook like\b"))
TOP = compiled(r"\b(?:the\s+)?(top|best|biggest|largest|highest|bottom|lowest|smallest|worst)\s+"
                 + NUM + r"(?:\s+(?:customers|clients|buyers|spenders|shoppers|accounts))?"
                 r"(?:\s+(?:by|for|in|on)\s+" + SORT + r")?")
N_SPENDERS = compiled(r"\b" + NUM + r"\s+(biggest|top|highest|largest|best|lowest|smallest)\s+"
                        r"(?:spenders|customers|buyers|clients)\b")
N_MOST = compiled(r"\b(?:which|what|the)\s+" + NUM + r"\s+(?:(?:customers|clients|buyers|shoppers|"
                    r"households|people|accounts|members)\s+)?(?:who\s+|that\s+)?(spent|spend|spends|spending|ordered|bought|"
                    r"order|orders|buy|buys|purchased)\s+the\s+(most|least)\b")
N_WITH = compiled(r"\b(?:the\s+|which\s+|what\s+)?" + NUM + r"\s+(?:customers|clients|buyers|shoppers)\s+"
                    r"(?:with|have|has|had|having)\s+the\s+"
                    r"(most|highest|largest|biggest|fewest|lowest|smallest)\s+" + SORT)
SORTED = compiled(r"\b(?:sorted|ranked|ordered|sort|rank)\s+by\s+" + SORT
                    + r"(?:\s+(ascending|descending|asc|desc))?")
BY = compiled(r"\bby\s+" + SORT)
# "show me 20 lapsed customers" is a limit; "show me 5 orders" is not.
NOT_A_COUNT = (r"(?![\s-]*(?:orders?|purchases?|times|days?|weeks?|months?|years?|returns|items|units|"
               r"%|\+|off))")
LIMIT = compiled(r"\b(?:first|limit(?: to)?|(?:show|list|give|find|get|pull|export)(?: me)?(?: the)?)"
                   r"\s+(?!an?\b)" + NUM + NOT_A_COUNT)
# "just one time" is not a limit: after "only"/"just", a limit is followed by who is counted.
ONLY = compiled(r"\b(?:only(?: the)?(?: top)?|just(?: the)?)\s+" + NUM
                  + r"(?=\s+(?:customers|clients|buyers|shoppers|people|results|rows|of them)\b|\s*$)")
SORT_ONLY = compiled(r"\b(?:with|by|having|have|has|had)\s+the\s+(most|highest|largest|biggest|fewest|"
                       r"lowest|"
                       r"smallest)\s+" + SORT)
ASCENDING = {"bottom", "lowest", "smallest", "worst", "least", "fewest", "ascending", "asc"}
VERB_FIELD = {"spent": "revenue", "spend": "revenue", "spending": "revenue", "spends": "revenue"}
MOST_VERB = compiled(r"\b(spend|spends|spent|spending|order|orders|ordered|buy|buys|bought|purchase|"
                       r"purchased)\s+the\s+(most|least)\b(?:\s+(items|units|things|pieces|money|orders|"
                       r"different products|distinct products|products))?")
# "bought the most items": what the most is of
MOST_NOUN = {"items": "units", "units": "units", "things": "units", "pieces": "units", "money": "revenue",
             "orders": "orders", "different products": "products_bought",
             "distinct products": "products_bought", "products": "products_bought"}


def read_intent(p: Parse) -> None:
    """Read a leading "how many", "describe", "compare" or a "what do ... look like"."""
    if HOW_MANY.search(p.text):  # "how many orders ...": a total (agent/ask/_parse_measures.py)
        return
    for pattern, intent in INTENTS:
        m = pattern.search(p.text)
        if m:
            p.intent = intent
            p.take(*m.span())
            return
    first, second = (pattern.search(p.text) for pattern in LOOK_LIKE)
    if first and second:
        p.intent = "describe"
        p.take(*first.span())
        p.take(*second.span())


def _rank(p: Parse, intent: Intent, sort_by: str, limit: str, ascending: bool,
          span: tuple[int, int]) -> None:
    if p.intent == "list":
        p.intent = intent
    p.sort_by, p.limit, p.descending = sort_by, int(number(limit)), not ascending
    p.take(*span)


def read_ranking(p: Parse) -> None:
    """Read top-N, "sorted by", "with the most ..." and limits ("first 20", "only 5 customers")."""
    if p.group_by is not None:  # a table: its ranking was read with its grouping
        return
    if not N_MOST.search(p.text) and (m := MOST_VERB.search(p.text)):  # "who spends the most? top 5"
        p.sort_by = MOST_NOUN[m[3]] if m[3] else VERB_FIELD.get(m[1], "orders")
        p.descending = m[2] == "most"
        p.take(*m.span())
    if m := TOP.search(p.text):
        field = SORT_FIELDS[m[3]] if m[3] else p.sort_by or "revenue"
        _rank(p, "top", field, m[2], m[1] in ASCENDING if m[3] or not p.sort_by else not p.descending,
              m.span())
    elif m := N_SPENDERS.search(p.text):
        _rank(p, "top", "revenue", m[1], m[2] in ASCENDING, m.span())
    elif m := N_MOST.search(p.text):
        _rank(p, "top", VERB_FIELD.get(m[2], "orders"), m[1], m[3] in ASCENDING, m.span())
    elif m := N_WITH.search(p.text):
        _rank(p, "top", SORT_FIELDS[m[3]], m[1], m[2] in ASCENDING, m.span())
    if m := SORTED.search(p.text):
        p.sort_by, p.descending = SORT_FIELDS[m[1]], (m[2] or "") not in ASCENDING
        p.take(*m.span())
    elif (m := BY.search(p.text)) and (p.limit is not None or p.sort_by is None):
        p.sort_by = SORT_FIELDS[m[1]]
        p.take(*m.span())
    if p.sort_by is None and (m := SORT_ONLY.search(p.text)):
        p.sort_by, p.descending = SORT_FIELDS[m[2]], m[1] not in ASCENDING
        p.take(*m.span())
    for pattern in (LIMIT, ONLY):
        if p.limit is None and (m := pattern.search(p.text)):
            p.limit = int(number(m[1]))
            p.take(*m.span())
