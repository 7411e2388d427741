"""Parser pass: the number a question asks for (docs/definitions.md "Questions").

"what share / percentage / proportion of ..." is a share; "average / median / total / min / max"
with a field ("average order value", "total revenue", "median recency") aggregates that field;
"how much did X spend" is total revenue, "how many orders did X place" total orders. A field said
without an aggregate ("revenue by country") is summed when it adds up over customers (revenue,
orders, units, returns) and averaged otherwise. Only fields the workspace has are read, so a
question about a missing field is refused, never answered about another one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from segmint.agent.ask._parse_text import START, Parse, said_names
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Aggregate, Catalogue, Condition, Measure
from segmint.agent.query.measures import SHARE_FIELDS

# Everyday names of the users-table numeric fields (docs/definitions.md "Customer features").
FIELD_NAMES: dict[str, str] = {
    "revenue": "revenue", "spend": "revenue", "spending": "revenue", "sales": "revenue",
    "total spend": "revenue", "money spent": "revenue", "amount spent": "revenue",
    "lifetime value": "revenue", "ltv": "revenue", "customer value": "revenue", "turnover": "revenue",
    "customer lifetime value": "revenue",
    "order value": "aov", "aov": "aov", "basket value": "aov", "basket": "aov",
    "spend per order": "aov", "order size": "aov", "ticket size": "aov",
    "orders": "orders", "number of orders": "orders", "order count": "orders", "purchases": "orders",
    "number of purchases": "orders", "transactions": "orders", "baskets": "orders",
    "number of baskets": "orders", "shopping trips": "orders", "trips": "orders", "visits": "orders",
    "order frequency": "orders", "purchase frequency": "orders", "frequency": "orders",
    "recency": "recency_days", "days since last order": "recency_days",
    "days since last purchase": "recency_days", "days since their last order": "recency_days",
    "days since their last purchase": "recency_days",
    "tenure": "tenure_days", "days since first order": "tenure_days",
    "days since first purchase": "tenure_days", "customer lifetime": "tenure_days",
    "units": "units", "items": "units", "quantity": "units", "units bought": "units",
    "units sold": "units", "items sold": "units", "quantity sold": "units",
    "items bought": "units", "items purchased": "units", "number of items": "units",
    "number of units": "units",
    "returns": "returns", "number of returns": "returns", "refunds": "returned_amount",
    "refund amount": "returned_amount", "returned amount": "returned_amount",
    "amount returned": "returned_amount", "return rate": "return_rate",
    "items per order": "units_per_order", "units per order": "units_per_order",
    "number of items per order": "units_per_order", "items per basket": "units_per_order",
    "basket size": "units_per_order", "items in a basket": "units_per_order",
    "different products": "products_bought", "distinct products": "products_bought",
    "unique products": "products_bought", "number of products": "products_bought",
    "products bought": "products_bought", "number of different products": "products_bought",
    "products viewed or bought": "n_products",
    "active days": "active_days", "days active": "active_days", "risk score": "risk_score",
    "number of events": "n_events", "events": "n_events", "views": "n_view",
    "number of views": "n_view", "page views": "n_view", "searches": "n_search",
    "number of searches": "n_search",
    "expected value": "expected_value", "predicted value": "expected_value",
    "expected spend": "expected_spend", "expected purchases": "expected_purchases",
    "chance of being active": "p_alive", "probability of being active": "p_alive",
}
ADDITIVE = frozenset({"revenue", "orders", "units", "returns", "returned_amount", "n_events",
                      "n_search", "n_view", "n_cart", "n_purchase", "n_return"})
AGGREGATES: dict[str, Aggregate] = {
    "average": "mean", "avg": "mean", "mean": "mean", "typical": "mean", "median": "median",
    "total": "sum", "sum of": "sum", "sum": "sum", "overall": "sum", "combined": "sum",
    "aggregate": "sum", "cumulative": "sum", "minimum": "min", "min": "min", "lowest": "min",
    "smallest": "min", "maximum": "max", "max": "max", "highest": "max", "largest": "max",
    "biggest": "max",
}
AGG = "(" + "|".join(sorted(AGGREGATES, key=len, reverse=True)) + r")\b"
COMPARISON = (r"(?!\s+(?:of\s+|is\s+|was\s+|are\s+|were\s+)?(?:more|less|over|under|above|below|at least|"
              r"at most|greater|fewer|between|exceeding|>|<|=|[£$€¥]|\d))")
NOT_WHO = r"(?!\s+(?:customers|buyers|shoppers|clients|households|people|users|spenders)\b)"
SHARE = compiled(r"\b(?:the\s+)?(?:share|percentage|percent|proportion|fraction|portion|%)\s+of\b"
                   r"|\bhow many percent of\b")
# "the repeat purchase rate", "our churn rate": the share of customers the words before it name
RATE = compiled(r"(?<=\w)\s+(?:rate|ratio|percentage|share)\b(?!\s+of\b)")
CLAUSE_VERB = compiled(r"\b(?:bought|buy|buys|purchased|ordered|viewed|view|views|searched|search|"
                         r"returned|added|put|spent|spend|are|were|is|was|have|has|had|did|do|does|"
                         r"came|come|live|lives)\b")
RETENTION_RATE = compiled(r"\b(?:customer\s+)?retention\s+(?:rate|ratio)\b")
RATE_OF = compiled(r"\b(?:the\s+)?(?:rate|ratio)\s+of\b")  # "the rate of repeat buyers": what is counted
# Where a share's base ("of German customers") ends and what is counted begins ("are lapsed").
BASE_END = compiled(r"\b(?:are|is|were|was|have|has|had|who|that|did|do|does|bought|buy|"
                      r"purchased|ordered|spent|placed|made|live|come)\b")
SHARE_OF = (r"\b(?:the\s+)?(?:share|percentage|percent|proportion|fraction|portion|part|%|how much)\s+of\s+"
            r"(?:(?:our|the|total|all|my|overall)\s+)*")
SHARE_FROM = (r"(?:\s+(?:that\s+)?(?:comes?|came|is|was|are|were|do|does|did|goes|went)\b)?"
              r"(?:\s+(?:from|by|generated by|made by|brought in by|spent by|contributed by|"
              r"accounted for by)\b)?")
FROM_EVENTS = compiled(r"\s*(?:returns|refunds|returned\s+(?:items|products|orders|goods)|searches|views|"
                         r"carts|discounts)\b")
ACCOUNT_FOR = compiled(r"\b(?:account(?:s|ed)?\s+for|generated?|generates|bring\s+in|brings\s+in|"
                         r"brought\s+in|make\s+up|makes\s+up|made\s+up|contribute[sd]?|represent(?:s|ed)?|spend|spent)\b")
HOW_MUCH = compiled(r"(?:" + START + r"|\bby\s+)(?:how much(?:\s+(?:money|revenue|sales|cash))?"
                      r"(?:\s+(?:did|do|does|"
                      r"have|has|had|was|is|were|came|comes|come|they|we|customers|people))?|"
                      r"what\s+(?:did|do|does|have|has|had)\b)\b")
HOW_MUCH_VERB = compiled(r"\b(?:spend|spent|spending|spends|sell|sold|generated?|generates|bring in|"
                           r"brought in|brings in|bring|brought|pay|paid|make|made|earn|earned|book|booked|"
                           r"take in|took in|take|took|get|got|see|saw|pull in|pulled in|in from|from)\b")
TRAILING_AGG = compiled(r",?\s*\b(median|average|mean|total|minimum|maximum)\s*$")
MONEY_AFTER = compiled(r"\s+(?:in\s+)?(?:money|revenue|sales|cash)\b")
REFUND_VERB = compiled(r"\b(?:refund|refunded|refunds|refunding|paid back|pay back|gave back|give back)\b")
# Said with a measure, they change only how it is taken: "spend per order on average".
ON_AVERAGE = compiled(r"\b(?:on average|on avg|in average|typically)\b|\b(?:per|a|each)\s+(?:customer|"
                        r"household|shopper|buyer|client|person|head|member|user)\b(?:\s+on average)?")
UNIT_WORDS = compiled(r"\b(?:in|as|measured in)\s+(?:days|pounds|dollars|euros|gbp|usd|eur|£|\$|€)\b|"
                        r"\bin total\b|\ball together\b|\ball in\b|\bso far\b(?!\s+this)|\bto date\b|"
                        r"\b(?:of\s+)?all[\s-]time\b|\bever\b")
PER_ORDER = compiled(r"\b(?:spend|spends|spent|spending|pay|pays|paid)\s+(?:more\s+|less\s+)?per\s+"
                       r"(?:order|basket|visit|trip|transaction|purchase)\b")
MORE = compiled(r"\b(spend|spends|spent|order|orders|ordered|buy|buys|bought)\s+(?:more|less)\b(?!\s+than)")
HOW_MANY = compiled(START + r"(?:how many|(?:the |total )?number of|count(?: of)?)\s+(?:the\s+)?(orders|"
                      r"purchases|items|units|returns|transactions|baskets|trips|visits)\b")
HOW_MANY_VERB = compiled(r"\b(?:place|placed|make|made|buy|bought|return|returned|order|ordered|"
                           r"purchase|purchased|come from|came from|came in|come in|came|arrived|"
                           r"did we get|did we take|did we have|we got|were placed|were made)\b")
HOW_MANY_FIELDS = {"orders": "orders", "purchases": "orders", "transactions": "orders",
                   "baskets": "orders", "trips": "orders", "visits": "orders", "items": "units",
                   "units": "units", "returns": "returns"}
FRAME = (START + r"(?:(?:what|show|give|tell|list|get|find|calculate|compute)(?:\s+(?:is|was|are|were|me|"
         r"us)|'s)*\s+)?")


@lru_cache(maxsize=16)
def _fields(numeric: frozenset[str]) -> dict[str, str]:
    """The field names a workspace has, with their everyday names: name said -> field."""
    names = {k: v for k, v in FIELD_NAMES.items() if v in numeric}
    names.update({f.replace("_", " "): f for f in numeric})
    names.update({f: f for f in numeric})  # "by recency_days", as the field is named
    return names


def _default(field: str) -> Aggregate:
    return "sum" if field in ADDITIVE else "mean"


def _set(p: Parse, measure: Measure, span: tuple[int, int]) -> None:
    p.measure, p.measure_at = measure, span[0]
    p.take(*span)


def read_measures(p: Parse, cat: Catalogue) -> None:
    """Read the number asked for: a share, an aggregate of a field, "how much", "how many orders"."""
    if p.measure is None:
        _read_measure(p, cat)
    m = p.measure
    if m is None:
        return
    if avg := ON_AVERAGE.search(p.text):  # "per customer", "on average": the mean of a total
        p.take(*avg.span())
        if m.agg == "sum" and m.field:
            p.measure = m.model_copy(update={"agg": "mean"})
    if (last := TRAILING_AGG.search(p.text)) and m.field:  # "what does a household spend, median?"
        p.take(*last.span())
        p.measure = p.measure.model_copy(update={"agg": AGGREGATES[last[1]]}) if p.measure else None
    for unit in list(UNIT_WORDS.finditer(p.text)):
        p.take(*unit.span())


def _read_measure(p: Parse, cat: Catalogue) -> None:
    names = _fields(frozenset(cat.numeric))
    field = said_names(names, p.text)
    # "what share of revenue comes from repeat buyers": their share of the total, not of customers
    share_of = re.compile(SHARE_OF + field + SHARE_FROM)
    if (m := share_of.search(p.text)) and names[m[1]] in SHARE_FIELDS:
        if (events := FROM_EVENTS.match(p.text, m.end())) is not None:
            # "what percentage of revenue came from returns": a share of what was done, not of
            # the customers who did it; read as the latter it would be a wrong number
            p.refused.append(" ".join(events[0].split()))
            p.take(*events.span())
        _set(p, Measure(agg="share", field=names[m[1]]), m.span())
        if verb := ACCOUNT_FOR.search(p.text, m.end()):  # "... do repeat buyers account for"
            p.take(*verb.span())
        return
    if m := SHARE.search(p.text):
        base_end = BASE_END.search(p.text, m.end())
        end = base_end.start() if base_end else len(p.text)
        if base_end is not None and base_end[0] in ("who", "that"):
            # "what share of customers who viewed X bought it": the base is a clause of its own
            # (up to the next verb), which only an attribute value can be here: refused, not
            # answered as a share of all customers
            verbs = list(CLAUSE_VERB.finditer(p.text, base_end.end()))
            if len(verbs) >= 2:
                end = verbs[1].start()
        p.share_base = (m.end(), end)
        _set(p, Measure(agg="share"), m.span())
        return
    if m := RATE_OF.search(p.text):
        _set(p, Measure(agg="share"), m.span())
        return
    if (m := RETENTION_RATE.search(p.text)) and "orders" in cat.numeric:
        # not the retention campaign's at-risk customers: the share who bought again
        p.share_base = (m.end(), len(p.text))
        _set(p, Measure(agg="share"), m.span())
        p.add(*m.span(), [Condition(kind="term", term="repeat_buyers")])
        p.note(f"“{m[0]}” is read as the share of repeat buyers (two or more orders)")
        return
    if m := RATE.search(p.text):  # "the repeat rate in Germany": among the customers named after it
        p.share_base = (m.end(), len(p.text))
        _set(p, Measure(agg="share"), m.span())
        return
    if (m := PER_ORDER.search(p.text)) and "aov" in cat.numeric:  # "what do they spend per order"
        _compare_more(p, m)
        _set(p, Measure(agg="mean", field="aov"), m.span())
        return
    if m := HOW_MUCH.search(p.text):
        if (refund := REFUND_VERB.search(p.text, m.end())) and "returned_amount" in cat.numeric:
            p.take(*refund.span())
            _set(p, Measure(agg="sum", field="returned_amount"), m.span())
            return
        if _how_much(p, m, cat):
            return
    if m := HOW_MANY.search(p.text):
        name = HOW_MANY_FIELDS[m[1]]
        if name in cat.numeric:
            if verb := HOW_MANY_VERB.search(p.text, m.end()):
                p.take(*verb.span())
            _set(p, Measure(agg="sum", field=name), m.span())
            return
    aggregate = re.compile(r"\b(?:the\s+)?" + AGG + r"\s+(?:of\s+(?:the\s+|their\s+)?)?(?:number of\s+)?"
                           + field + COMPARISON + NOT_WHO)
    if m := aggregate.search(p.text):
        _set(p, Measure(agg=AGGREGATES[m[1]], field=names[m[2]]), m.span())
        return
    m = re.search(r"\b(average|avg|mean|median)\s+order\b(?!\s+(?:count|value))", p.text)
    if m and "aov" in cat.numeric:  # "the average order" is the average order value
        _set(p, Measure(agg=AGGREGATES[m[1]], field="aov"), m.span())
        return
    if (m := MORE.search(p.text)) and (field_name := VERB_FIELDS[m[1]]) in cat.numeric:
        _compare_more(p, m)  # "do French or German customers spend more?"
        _set(p, Measure(agg="sum", field=field_name), m.span())
        return
    anywhere = p.group_by is not None or p.compare or p.intent == "compare"
    bare = re.compile((r"\b(?:the\s+|our\s+|their\s+)?" if anywhere else FRAME
                       + r"(?:the\s+|our\s+|my\s+)?") + field + COMPARISON + NOT_WHO)
    if m := bare.search(p.text):
        name = names[m[1]]
        _set(p, Measure(agg=_default(name), field=name), m.span())


def _how_much(p: Parse, m: re.Match[str], cat: Catalogue) -> bool:
    """"how much did X spend", "how much money came in", "what did we take in revenue"."""
    if "revenue" not in cat.numeric:
        return False
    verb = HOW_MUCH_VERB.search(p.text, m.end())
    if m[0].lstrip().startswith("what"):
        # "what" asks for money only with a money verb and the money named after it
        after = MONEY_AFTER.match(p.text, verb.end()) if verb is not None else None
        if after is not None:
            p.take(*after.span())
        elif verb is None or verb[0] not in ("spend", "spent", "spends", "pay", "paid"):
            return False  # "what does a household spend": money; "what did customers get": not
    elif verb is None and not re.search(r"money|revenue|sales|cash", m[0]):
        return False
    if verb is not None:
        p.take(*verb.span())
    _set(p, Measure(agg="sum", field="revenue"), m.span())
    return True


VERB_FIELDS = {"spend": "revenue", "spends": "revenue", "spent": "revenue", "order": "orders",
               "orders": "orders", "ordered": "orders", "buy": "orders", "buys": "orders",
               "bought": "orders"}


def _compare_more(p: Parse, m: re.Match[str]) -> None:
    """"spend more", "who spends more per order, the UK or Germany?": a comparison."""
    if re.search(r"\b(?:more|less)\b", m[0]):
        p.compare = True
