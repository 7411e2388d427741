"""Parser pass: explicit numbers with their units and comparisons ("haven't bought in 6 months",
"spent more than £500", "at least 3 orders"); they override a glossary term's default threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from segmint.agent.ask._parse_text import NUM, UNIT, Parse, days, number
from segmint.agent.ask._parse_text import field_condition as _field
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, EventMeasure
from segmint.agent.query.compile import AVERAGE

CURRENCY = r"(?:[£$€¥]\s*)?"
MONEY = CURRENCY + NUM + r"(?:\s*(?:gbp|usd|euros|eur|pounds|dollars|quid))?"
MORE = r"(more than|over|above|greater than|at least|>=|>|no less than|exceeding|upwards of)"
LESS = r"(less than|under|below|fewer than|at most|<=|<|no more than|up to)"
COMPARE = r"(" + MORE[1:-1] + "|" + LESS[1:-1] + r")"
OP_WORDS = {"more than": ">", "over": ">", "above": ">", "greater than": ">", "exceeding": ">",
            "upwards of": ">", "at least": ">=", ">=": ">=", ">": ">", "no less than": ">=",
            "less than": "<", "under": "<", "below": "<", "fewer than": "<", "at most": "<=",
            "<=": "<=", "<": "<", "no more than": "<=", "up to": "<=", "exactly": "=", "": "="}


Build = Callable[[re.Match[str]], list[Condition]]
NEVER = r"(?:haven'?t|have not|hasn'?t|has not|didn'?t|did not|not|no|never|without)"
BUY = r"(?:bought|purchased|ordered|shopped|buy|purchase|purchases|order|orders|shop|made a purchase|" \
      r"placed an order|been back|come back|visited|been shopping|been in|come in|shopped with us)"
MONEY_WORD = (r"(?:spent|spend|spending|spends|revenue|lifetime value|ltv|total spend|sales|dropped|paid|"
              r"splashed out|shelled out|forked out|laid out)")
AOV_WORD = r"(?:aov|average order value|average order|average basket|basket size|average spend per order)"
ORDERS = r"(?:orders?|purchases?|baskets?|transactions?|shopping trips?|trips?)\b"
COUNT_VERB = r"(?:(?:ordered|bought|purchased|shopped|placed|made|with|having)\s+)?"
COUNT_FIELDS = {"number of orders": "orders", "order count": "orders", "orders": "orders",
                "returns": "returns", "units": "units", "items": "units"}
UNITS = r"(?:units|items|pieces)\b"
PER_ORDER = r"\s+(?:units|items|pieces|products)\s+(?:per|an|a|each)\s+(?:order|basket|purchase)\b"
PRODUCTS = r"\s+(?:different|distinct|unique|separate)?\s*products\b"
# What a threshold on a customer field counts once a window or a product is said with it
# ("spent over 1000 in the last 90 days", "at least 3 orders of teapots").
BECOMES: dict[str, EventMeasure] = {"revenue": "spend", "orders": "orders", "units": "units",
                                    "returns": "events"}
END = r"(?=\s*(?:$|,|\b(?:and|or|who|in|from|but|with)\b))"
# "than (the) average (customer)": the field's mean (agent/query/compile.py AVERAGE)
AVERAGE_WORD = (r"(?:the\s+)?(?:average|mean)\b(?:\s+(?:customer|shopper|buyer|household|client|amount))?"
                r"(?!\s+order)")
AVERAGE_FIELDS = {"average order value": "aov", "order value": "aov", "order values": "aov", "aov": "aov",
                  "basket value": "aov",
                  "spend": "revenue", "spending": "revenue", "spenders": "revenue", "revenue": "revenue",
                  "orders": "orders", "order count": "orders", "number of orders": "orders",
                  "items per order": "units_per_order", "basket size": "units_per_order",
                  "units": "units", "items": "units"}


def _between(m: re.Match[str], name: str) -> list[Condition]:
    low, high = sorted((number(m[1]), number(m[2])))
    return [_field(name, "between", [low, high])]


RULES: list[tuple[re.Pattern[str], Build]] = [(compiled(p), b) for p, b in (
    # "haven't bought in 6 months", "no purchase for over a year", "hasn't ordered in the last 8 weeks"
    (NEVER + r"\s+" + BUY + r"(?:\s+(?:anything|a thing))?\s+(?:in|for|within|during|since)\s+(?:the\s+)?"
     r"(?:last\s+|past\s+)?(?:over\s+|more than\s+)?" + NUM + r"\s+" + UNIT,
     lambda m: [_field("recency_days", ">", days(m[1], m[2]))]),
    # "lapsed for 4 months": lapsed's own rule with the explicit threshold
    (r"(?:inactive|lapsed|dormant|quiet|churned)\s+(?:for|in|over)\s+(?:the\s+)?(?:last\s+|past\s+)?"
     r"(?:over\s+|more than\s+)?" + NUM + r"\s+" + UNIT,
     lambda m: [_field("orders", ">=", 1), _field("recency_days", ">", days(m[1], m[2]))]),
    (r"last\s+(?:purchase|order|bought|ordered|purchased)\s+(?:was\s+|is\s+)?" + COMPARE + r"\s+"
     + NUM + r"\s+" + UNIT + r"\s+ago",
     lambda m: [_field("recency_days", OP_WORDS[m[1]], days(m[2], m[3]))]),
    # "active in the last 2 weeks": active's own rule with the explicit threshold; "bought in the
    # last 14 days" is a purchase in that window (agent/ask/_parse_windows.py), a first order in
    # it a cohort (agent/ask/_parse_cohorts.py)
    (r"(?:active|engaged)(?:\s+(?:customers|buyers|shoppers))?\s+(?:in|within|during|over)\s+(?:the\s+)?"
     r"(?:last|past)\s+" + NUM + r"\s+" + UNIT,
     lambda m: [_field("recency_days", "<=", days(m[1], m[2]))]),
    (r"(?:customers?|with us|buying|shopping|ordering)\s+for\s+" + MORE + r"\s+" + NUM + r"\s+" + UNIT,
     lambda m: [_field("tenure_days", OP_WORDS[m[1]], days(m[2], m[3]))]),
    # money
    (MONEY_WORD + r"\s+(?:of\s+)?between\s+" + MONEY + r"\s+and\s+" + MONEY,
     lambda m: _between(m, "revenue")),
    (MONEY_WORD + r"\s+(?:of\s+)?(?:from\s+)?" + MONEY + r"\s*(?:to|-|–)\s*" + MONEY,
     lambda m: _between(m, "revenue")),
    (MONEY_WORD + r"\s+(?:of\s+|is\s+|was\s+|totalling\s+)?" + COMPARE + r"\s+" + MONEY,
     lambda m: [_field("revenue", OP_WORDS[m[1]], number(m[2]))]),
    (MONEY_WORD + r"\s+(?:of\s+)?" + MONEY + r"\s*(?:or more|or over|\+|and up|and above|plus)",
     lambda m: [_field("revenue", ">=", number(m[1]))]),
    (MONEY_WORD + r"\s+(?:of\s+)?" + MONEY + r"\s*(?:or less|or under|and under|and below)",
     lambda m: [_field("revenue", "<=", number(m[1]))]),
    (COMPARE + r"\s+" + MONEY + r"\s+(?:in|of)\s+(?:revenue|sales|spend|spending|total spend)",
     lambda m: [_field("revenue", OP_WORDS[m[1]], number(m[2]))]),
    (AOV_WORD + r"\s+(?:of\s+|is\s+)?between\s+" + MONEY + r"\s+and\s+" + MONEY,
     lambda m: _between(m, "aov")),
    (AOV_WORD + r"\s+(?:of\s+|is\s+)?" + COMPARE + r"\s+" + MONEY,
     lambda m: [_field("aov", OP_WORDS[m[1]], number(m[2]))]),
    # against the average: "spent more than average", "above-average order value"
    (MONEY_WORD + r"\s+" + COMPARE + r"\s+" + AVERAGE_WORD,
     lambda m: [_field("revenue", OP_WORDS[m[1]], AVERAGE)]),
    (r"\b(above|below|over|under)[\s-]+(?:the\s+)?average\s+(" + "|".join(AVERAGE_FIELDS) + r")\b",
     lambda m: [_field(AVERAGE_FIELDS[m[2]], ">" if m[1] in ("above", "over") else "<", AVERAGE)]),
    (r"\b(" + "|".join(AVERAGE_FIELDS) + r")\s+(?:is\s+|are\s+)?" + COMPARE + r"\s+" + AVERAGE_WORD,
     lambda m: [_field(AVERAGE_FIELDS[m[1]], OP_WORDS[m[2]], AVERAGE)]),
    (r"\b(more|fewer|less)\s+(orders|items|units)\s+than\s+" + AVERAGE_WORD,
     lambda m: [_field("orders" if m[2] == "orders" else "units", ">" if m[1] == "more" else "<", AVERAGE)]),
    # returns, before order counts: "returned more than 5 times" is about returns
    (r"(?:returned|returns?|sent back|send back)\s+" + COMPARE + r"\s+" + NUM
     + r"(?:\s+(?:times|items|orders|products|things))?",
     lambda m: [_field("returns", OP_WORDS[m[1]], number(m[2]))]),
    (COMPARE + r"\s+" + NUM + r"\s+returns\b",
     lambda m: [_field("returns", OP_WORDS[m[1]], number(m[2]))]),
    (r"(?:never returned(?:\s+(?:anything|a thing|any items?|any products?))?|no returns|without returns|"
     r"(?:haven'?t|hasn'?t|didn'?t) returned anything)",
     lambda m: [_field("returns", "=", 0)]),
    (r"(?:returned (?:something|anything|items?|products?|an item|a product)|made (?:a )?returns?|"
     r"with returns)",
     lambda m: [_field("returns", ">=", 1)]),
    # order counts
    (r"(" + "|".join(COUNT_FIELDS) + r")\s+(?:of\s+|is\s+|are\s+)?" + COMPARE + r"\s+" + NUM,
     lambda m: [_field(COUNT_FIELDS[m[1]], OP_WORDS[m[2]], number(m[3]))]),
    (COUNT_VERB + r"between\s+" + NUM + r"\s+and\s+" + NUM + r"\s+" + ORDERS,
     lambda m: _between(m, "orders")),
    (COUNT_VERB + NUM + r"\s*(?:to|-|–)\s*" + NUM + r"\s+" + ORDERS,
     lambda m: _between(m, "orders")),
    (COUNT_VERB + r"(" + COMPARE[1:-1] + r"|exactly)\s+" + NUM + r"\s+(?:" + ORDERS + r"|times\b)",
     lambda m: [_field("orders", OP_WORDS[m[1]], number(m[2]))]),
    (COUNT_VERB + NUM + r"\s*(?:or more|\+|or over)\s+" + ORDERS,
     lambda m: [_field("orders", ">=", number(m[1]))]),
    (COUNT_VERB + NUM + r"\s+" + ORDERS + r"\s*(?:or more|\+|or over)",
     lambda m: [_field("orders", ">=", number(m[1]))]),
    (COUNT_VERB + NUM + r"\s+(?:or fewer|or less)\s+" + ORDERS,
     lambda m: [_field("orders", "<=", number(m[1]))]),
    (r"(?:ordered|bought|purchased|shopped)\s+(?:exactly\s+)?" + NUM + r"\s+times\b",
     lambda m: [_field("orders", "=", number(m[1]))]),
    (r"(?:with|placed|made|having)\s+(?:only\s+|just\s+)?" + NUM + r"\s+" + ORDERS + END,
     # "placed an order" is at least one; "placed only one order", "with 2 orders" exactly that
     lambda m: [_field("orders", ">=" if m[1] in ("a", "an") else "=", number(m[1]))]),
    # items per order: "more than 5 items per order"; products: "more than 10 different products"
    (COUNT_VERB + r"(" + COMPARE[1:-1] + r"|exactly)\s+" + NUM + r"(?:\s+(?:on average|on avg))?" + PER_ORDER,
     lambda m: [_field("units_per_order", OP_WORDS[m[1]], number(m[2]))]),
    (COUNT_VERB + r"(" + COMPARE[1:-1] + r"|exactly)\s+" + NUM + PRODUCTS,
     lambda m: [_field("products_bought", OP_WORDS[m[1]], number(m[2]))]),
    (COUNT_VERB + NUM + r"\s*(?:or more|\+|or over)" + PRODUCTS,
     lambda m: [_field("products_bought", ">=", number(m[1]))]),
    (COUNT_VERB + NUM + PRODUCTS + r"\s*(?:or more|\+|or over)",
     lambda m: [_field("products_bought", ">=", number(m[1]))]),
    # events of a type: "more than 5 views", "at least 3 searches"
    (r"(?:with\s+|having\s+|made\s+)?(" + COMPARE[1:-1] + r"|exactly)\s+" + NUM
     + r"\s+(views|page views|searches)\b",
     lambda m: [_field("n_view" if "view" in m[3] else "n_search", OP_WORDS[m[1]], number(m[2]))]),
    # units: "bought 10 or more units", "more than 100 items"
    (COUNT_VERB + r"(" + COMPARE[1:-1] + r"|exactly)\s+" + NUM + r"\s+" + UNITS,
     lambda m: [_field("units", OP_WORDS[m[1]], number(m[2]))]),
    (COUNT_VERB + NUM + r"\s*(?:or more|\+|or over)\s+" + UNITS,
     lambda m: [_field("units", ">=", number(m[1]))]),
    # "... who bought before": has bought at all, said beside a window ("not in the last 90 days");
    # "bought before 2011" (a date follows) is a window's
    (r"\b(?:who|that|but|and|yet)\s+(?:have\s+|has\s+|had\s+|did\s+)?(?:bought|ordered|purchased|shopped)"
     r"(?:\s+(?:from|with)\s+us)?\s+(?:before|previously|in the past)(?=\s*(?:[?.!,;]|$|(?:and|but|who|with|"
     r"from|in|not)\b))",
     lambda m: [Condition(kind="events", event="purchase")]),
    # "never bought" is an event (agent/ask/_parse_events.py): it may share a product
    (r"\bno\s+(?:purchases|orders)(?:\s+(?:at all|yet))?" + END,
     lambda m: [_field("orders", "=", 0)]),
)]


# "spent over £500 in total": a lifetime amount said to be one
IN_TOTAL = compiled(r"\s+(?:in total|in all|altogether|overall|all told)\b")


def read_numbers(p: Parse) -> None:
    """Read every rule's matches that no earlier pass has read."""
    for pattern, build in RULES:
        for m in list(pattern.finditer(p.text)):
            if p.free(*m.span()):
                conditions = build(m)
                becomes = BECOMES.get(conditions[0].field or "") if len(conditions) == 1 else None
                end = m.end()
                if becomes is not None and (total := IN_TOTAL.match(p.text, end)):
                    end = total.end()
                p.add(m.start(), end, conditions, becomes=becomes)
