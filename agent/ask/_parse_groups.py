"""Parser pass: tables, one number per group (docs/definitions.md "Questions").

"by / per / for each / broken down by" a text attribute, the segment, a calendar period of the
events (month, quarter, year, week) or of the first purchase ("first-order cohorts by month");
"monthly revenue"; ranked groups ("which segment has the most lapsed customers", "top 5 countries
by revenue", "countries by revenue"); and comparisons ("France vs Germany", "compare France and
Germany"), whose groups are kept in the order asked (agent/ask/_parse_combine.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from segmint.agent.ask._parse_measures import AGGREGATES, FIELD_NAMES
from segmint.agent.ask._parse_text import NUM, START, STOPWORDS, Parse, number, said_names
from segmint.agent.core.patterns import compiled
from segmint.agent.query import PRODUCT, Catalogue, Measure
from segmint.agent.query.measures import CATEGORY, SEARCH

PERIODS = {"month": "month", "months": "month", "quarter": "quarter", "quarters": "quarter",
           "year": "year", "years": "year", "week": "week", "weeks": "week",
           "weekday": "weekday", "weekdays": "weekday", "day of the week": "weekday",
           "days of the week": "weekday", "day of week": "weekday", "hour": "hour", "hours": "hour",
           "hour of the day": "hour", "hour of day": "hour", "time of day": "hour",
           "time of the day": "hour"}
PERIOD_ADJ = {"monthly": "month", "quarterly": "quarter", "yearly": "year", "annual": "year",
              "weekly": "week"}
# Parts of an attribute's name too generic to name it alone ("size" of household_size).
GENERIC_PARTS = frozenset({"top", "size", "count", "band", "type", "status", "level", "group", "name",
                           "code", "id", "num", "number"})
LEAD = (r"\b(?:(?:month|week|quarter|year) by|by|per|for each|for every|in each|across(?:\s+all)?"
        r"(?:\s+the)?|broken down by|break(?:ing)? (?:it |them )?down by|breakdown by|split by|grouped by|"
        r"group(?:ed)? by|by each|each)\s+")
ASCENDING = {"fewest", "least", "lowest", "smallest", "bottom", "worst", "quietest", "fewer", "less",
             "lower", "smaller", "worse"}
# What a group is best at when no number is named: "which region did best last month on revenue"
VERB_MEASURE = {"spend": "revenue", "spends": "revenue", "spent": "revenue", "brings in": "revenue",
                "brought in": "revenue", "generates": "revenue", "generated": "revenue",
                "makes": "revenue", "made": "revenue", "earns": "revenue", "earned": "revenue",
                "is worth": "revenue", "are worth": "revenue", "was worth": "revenue", "buy": "orders",
                "buys": "orders", "bought": "orders", "order": "orders", "orders": "orders",
                "ordered": "orders", "purchase": "orders", "purchases": "orders",
                "purchased": "orders"}
VS = compiled(r"\s(?:vs\.?|versus|v\.|compared (?:to|with)|against|(?:better|worse|bigger|higher|lower|"
                r"stronger|weaker) than|(?:better|worse|stronger|weaker)(?: off)?"
                r"(?=\s+(?:on|for|in terms of|at)\b))(?=\s)")
# Only frame a table: "break 2011 revenue down by month", "rank our countries by ...".
TABLE_FRAME = compiled(r"\b(?:break(?:ing)?|broken|split|rank|ranking)\b(?:\s+(?:it|this|that|them)\b)?|"
                         r"\bdown\b")
PER_HEAD = compiled(r"\b(?:across|for|of|among|over)\s+all\s+(?:(?:our|my|the)\s+)?(?:customers|households|"
                      r"shoppers|buyers|clients|members|users)\b")
MORE_OR = compiled(r"\b((?:are there|do (?:we|i|you) have|have (?:we|i) got|is there)\s+more)\b.*?\s(or)\s")
HOW_DOING = compiled(START + r"how\s+(?:are|is|do|does|did|were)\b(?=.*\b(doing|performing|compare|"
                       r"comparing|stack up)\b)")
WHERE = compiled(START + r"where\s+(?:do|does|did|are|is)\s+(?:the\s+)?(?:most|majority|bulk)\s+(?:of\s+)?")
LIVE = compiled(r"\b(?:live|lives|living|come from|comes from|based|located|are from|is from)\b")
PLACES = ("country", "region", "city", "state", "location", "area", "county")
COHORTS_BY = compiled(r"\b(?:first[\s-](?:order|purchase)\s+|acquisition\s+|signup\s+)?cohorts?\s+"
                        r"(?:by|per)\s+(month|quarter|year)\b")
NEW_BY = compiled(r"\bnew\s+(?:customers|buyers|shoppers|households|clients)\s+(?:(?:did|do|have|has)\s+"
                    r"(?:we|you|i)\s+(?:get|got|gain|gained|acquire|acquired|win|won|add|added|see|saw)\s+)?"
                    r"(?:by|per|each|every|a|in each)\s+(month|quarter|year)\b")
NEW_COUNTED = compiled(r"\s+new\s+(?:customers|buyers|shoppers|households|clients|accounts)\b"
                         r"(?:\s+(?:did\s+we\s+(?:get|gain|win|add)|joined|came))?")
RANK = compiled(r"\s+(?:(?:of|in|during)\s+[\w-]+(?:\s+\d{4})?\s+)?((?:(?:did|do|does)\s+(?:we|you|i)\s+"
                  r"(?:get|gain|win|add|see|have|make)|has|have|had|with|is|are|was|were|"
                  r"gets?|got|sees?|saw|contains?|holds?|brought|brings?|generated|generates?|made|makes?|drives?|drove|"
                  r"did|does|do|performed)\s+)"
                  r"(?:(lost|gained|won|kept)\s+)?((?:the\s+|our\s+)?(most|highest|largest|biggest|greatest|fewest|"
                  r"least|lowest|smallest|best|worst|busiest|quietest|higher|lower|bigger|larger|smaller|"
                  r"more|fewer|less|better|worse)(?:\s+number\s+of)?)")
# Products ranked by how many of the customers bought them (or by revenue, units, orders).
_PW = r"(?P<noun>products?|items?|lines|skus|articles|categor(?:y|ies)|departments?)"
_POPULAR = r"(?:popular|bought|purchased|ordered|sold|wanted|in demand)"
_WITH = (r"(?:\s+(?:with|among|amongst|by(?!\s+(?:revenue|sales|spend|units|quantity|orders)\b)|for|from|"
         r"to|in|of))?")
PRODUCTS_RANKED = (
    compiled(r"\b(?:which|what)\s+(?:are\s+|were\s+)?(?:(?:the|our|my)\s+)?(?:(?:top\s+)?(?P<n>" + NUM
               + r")\s+)?" + _PW + r"\s+(?:(?:are|were|is|was|do|did|does|get|got)\s+)?(?:(?:the|our|my)\s+)?"
               r"(?P<dir>most|least)\s+(?:often\s+|frequently\s+)?" + _POPULAR + r"\b" + _WITH),
    compiled(r"\b(?:which|what)\s+(?:(?:the|our|my)\s+)?" + _PW + r"\s+(?:sell|sold|sells|do)\s+(?:the\s+)?"
               r"(?P<dir>best|most|worst|least)\b" + _WITH),
    compiled(r"\b(?:(?:the|our|my)\s+)?(?P<dir>top|bottom|best[\s-]?selling|most\s+popular|least\s+popular|"
               r"most\s+(?:bought|purchased|ordered|sold)|least\s+(?:bought|purchased|ordered|sold)|"
               r"worst[\s-]?selling)\s+(?:(?P<n>" + NUM + r")\s+)?" + _PW + _WITH),
    compiled(r"\b(?:(?:the|our|my)\s+)?(?P<dir>top\s+)?(?:(?P<n>" + NUM + r")\s+)?(?:best[\s-]?sellers|"
               r"top[\s-]sellers|bestsellers)\b" + _WITH),
    compiled(r"\b(?:which|what)\s+(?:(?P<n>" + NUM + r")\s+)?" + _PW + r"\s+(?:do|does|did)\b"
               r"(?=.*\b(?P<verb>buy|buys|bought|purchase|purchased|order|ordered)"
               r"(?:\s+(?:the\s+)?(?P<dir>most|least))?\s*\??\s*$)"),
    compiled(r"\bwhat\s+(?:do|does|did)\b(?=.*\b(?P<verb>buy|buys|bought|purchase|purchased|order|ordered)"
               r"(?:\s+(?:the\s+)?(?P<dir>most|least))?\s*\??\s*$)"),
)
TOP_CUSTOMERS = compiled(r"\b(?:top|best|biggest|largest)\s+" + NUM + r"\s+(?:customers|clients|buyers|"
                           r"spenders|shoppers|households)\b")
# Products ranked by how often the customers returned them.
_RW = r"(?P<noun>products?|items?|lines|skus|articles)"
RETURNED_RANKED = (
    compiled(r"\b(?:which|what)\s+(?:are\s+|were\s+)?(?:(?:the|our|my)\s+)?(?:(?:top\s+)?(?P<n>" + NUM
               + r")\s+)?" + _RW + r"\s+(?:(?:are|were|is|was|get|got)\s+)?(?:(?:the|our|my)\s+)?"
               r"(?P<dir>most|least)\s+(?:often\s+|frequently\s+)?returned\b" + _WITH),
    compiled(r"\b(?:which|what)\s+(?:(?P<n>" + NUM + r")\s+)?" + _RW + r"\s+(?:are|were|is|was|get|got)\s+"
               r"returned\s+(?:the\s+)?(?P<dir>most|least)(?:\s+(?:often|frequently))?\b" + _WITH),
    compiled(r"\b(?:(?:the|our|my)\s+)?(?:(?P<n>" + NUM + r")\s+)?(?P<dir>most|least)[\s-](?:often[\s-]|"
               r"frequently[\s-])?returned\s+" + _RW + _WITH),
    compiled(r"\b(?:which|what)\s+(?:(?P<n>" + NUM + r")\s+)?" + _RW
               + r"\s+(?:have|had|has|with|get|got)\s+the\s+(?P<dir>most|fewest|least)\s+returns\b" + _WITH),
    # "which products do lapsed customers return most": the verb after the customers
    compiled(r"\b(?:which|what)\s+(?:(?P<n>" + NUM + r")\s+)?" + _RW + r"\s+(?:do|does|did)\b"
               r"(?=.*\b(?P<verb>return|returns|returned|send back|sent back)"
               r"(?:\s+(?:the\s+)?(?P<dir>most|least))?\s*\??\s*$)"),
)
_SEARCHES = r"(?:searches|search terms|search queries|queries|searched terms|things searched for)"
SEARCHES_RANKED = compiled(
    r"\b(?:(?:the|our|my)\s+)?(?:(?P<dir>top|most\s+(?:common|popular|frequent)|least\s+common|bottom)\s+"
    r"(?:(?P<n>" + NUM + r")\s+)?" + _SEARCHES + r"|(?:what|which)\s+(?:did|do|does)\b"
    r"(?=.*\bsearch(?:ed)?\s+for\s+(?:the\s+)?most\b)|(?:what|which)\s+(?:is|are|was|were)\s+(?:the\s+)?most\s+"
    r"searched(?:\s+for)?(?:\s+(?:terms?|queries|words|things))?|most\s+searched(?:\s+for)?\s+"
    r"(?:terms?|queries|words|things))\b")
SEARCH_MOST = compiled(r"\bsearch(?:ed)?\s+for\s+(?:the\s+)?most\b")
PRODUCTS_BY = compiled(r"\s+(?:(?:by|in terms of|ranked by|sorted by|in)\s+)?(revenue|sales|spend|units|"
                         r"quantity|orders)\b(?:\s+(?:sold|bought|ordered|purchased)\b)?")
PRODUCT_MEASURES = {"revenue": "revenue", "sales": "revenue", "spend": "revenue", "units": "units",
                    "quantity": "units", "orders": "orders"}
PRODUCTS_SHOWN = 10  # a table by product shows this many unless a number is asked
# "monthly revenue", "weekly new customers": a period said of a number (never "buys monthly")
ADJECTIVE = compiled(r"\b(" + "|".join(PERIOD_ADJ) + r")\s+(?=(?:" + "|".join(
    re.escape(n) for n in sorted(FIELD_NAMES, key=len, reverse=True)) + r"|new|active|customers|buyers|"
    r"shoppers|households|sales|spend|number|count|totals?|average|median)\b)")
SIZE = compiled(r"\s*(?:size|number of customers|customer count|customers|headcount|members)\b")


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def has_categories(cat: Catalogue) -> bool:
    """Whether the shop's products have categories (some customer has a top category)."""
    return bool(cat.attribute_values.get("top_category"))


@lru_cache(maxsize=16)
def _targets(text: tuple[str, ...], categories: bool) -> dict[str, str]:
    """Every way a question may name a grouping, and the grouping it names."""
    names: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for attr in text:
        words = attr.replace("_", " ")
        names[words] = names[_plural(words)] = names[attr] = attr
        for alias in ("band", "group", "range", "bracket", "level"):  # "income band", "age group"
            names[f"{words} {alias}"] = names[f"{words} {alias}s"] = attr
        for part in attr.split("_"):
            if len(part) >= 3 and part not in GENERIC_PARTS and part not in STOPWORDS:
                parts.setdefault(part, []).append(attr)
    for part, attrs in parts.items():
        if len(attrs) == 1 and part not in names:
            names[part] = names[_plural(part)] = attrs[0]
            for alias in ("band", "group", "range", "bracket", "level"):
                names.setdefault(f"{part} {alias}", attrs[0])
                names.setdefault(f"{part} {alias}s", attrs[0])
    # "by segment" before segments exist is still read: the answer says there are none yet
    names.update({"segment": "segment", "segments": "segment", "cluster": "segment",
                  "clusters": "segment"})
    names.update(PERIODS)
    names.update({w: PRODUCT for w in ("product", "products", "item", "items")})
    if categories:  # "by category" groups what was bought, not each customer's top category
        names.update({w: CATEGORY for w in ("category", "categories", "product category",
                                            "product categories", "department", "departments")})
    for unit in ("month", "quarter", "year", "week"):
        first = f"first_purchase_{unit}" if unit != "week" else "week"
        for form in (f"first order {unit}", f"first purchase {unit}", f"first-order {unit}",
                     f"{unit} of first order", f"{unit} of first purchase", f"{unit} of their first order",
                     f"{unit} of their first purchase", f"signup {unit}", f"acquisition {unit}",
                     f"cohort {unit}"):
            if unit != "week":
                names[form] = first
    return names


def _group(p: Parse, by: str, span: tuple[int, int], *, ascending: bool | None = None,
           limit: int | None = None) -> None:
    p.group_by = by
    if ascending is not None:
        p.by_value, p.descending = True, not ascending
    if limit is not None:
        p.limit = limit
    p.take(*span)


def read_groups(p: Parse, cat: Catalogue) -> None:
    """Read the grouping of a table question, its ranking, and "vs" comparisons."""
    names = _targets(tuple(cat.text), has_categories(cat))
    target = said_names(names, p.text)
    for m in list(VS.finditer(p.text)):
        p.compare = True
        p.take(*m.span())
    for m in list(PER_HEAD.finditer(p.text)):  # "average spend per customer": the mean already
        p.take(*m.span())
    if (more := MORE_OR.search(p.text)) is not None:  # "are there more lapsed or active women?"
        p.compare = True
        p.take(*more.span(1))
        p.take(*more.span(2))
    if how := HOW_DOING.search(p.text):  # "how are France and Germany doing on revenue?"
        p.compare = True
        p.take(*how.span(1))
        p.take(*how.span())
    readers: tuple[Reader, ...] = (_where, _cohorts, _searches, _returned, _products, _which, _which_verb,
                                   _top, _ranked, _by, _adjective)
    for reader in readers:
        if reader(p, cat, names, target):
            if p.group_by not in COHORT_GROUPS:
                _frame(p)
            return


Reader = Callable[[Parse, Catalogue, dict[str, str], str], bool]
COHORT_GROUPS = frozenset({"first_purchase_month", "first_purchase_quarter", "first_purchase_year"})


def _where(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"where do most of our lapsed customers live?": the place attribute with the most."""
    place = next((a for a in PLACES if a in cat.text), None)
    m = WHERE.search(p.text)
    if m is None or place is None:
        return False
    if live := LIVE.search(p.text, m.end()):
        p.take(*live.span())
    _group(p, place, m.span(), ascending=False, limit=1)
    return True


def _cohorts(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"first-order cohorts by month", "new customers per month": by the first purchase's period."""
    m = COHORTS_BY.search(p.text)
    if m is not None:
        _group(p, f"first_purchase_{m[1]}", m.span())
        return True
    m = NEW_BY.search(p.text)
    if m is None:
        return False
    p.note(f"“{m[0].strip()}” is read by the first purchase: customers counted in the {m[1]} of "
           f"their first purchase")
    _group(p, f"first_purchase_{m[1]}", m.span())
    return True


def _searches(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"top searches", "what did customers search for most last month": the texts searched for,
    by how many of the customers searched each."""
    m = SEARCHES_RANKED.search(p.text)
    if m is None or "search" not in cat.event_types:
        return False
    asked = m.group("n")
    if p.measure is None:
        p.measure, p.measure_at = Measure(agg="count"), m.start()
    verb_first = m[0].split()[-1] in ("did", "do", "does")
    if verb_first and (most := SEARCH_MOST.search(p.text, m.end())) is not None:
        p.take(*most.span())  # "what did lapsed customers search for most": the customers stay
    _group(p, SEARCH, m.span(), ascending=(m.group("dir") or "").startswith(("least", "bottom")),
           limit=int(number(asked)) if asked else PRODUCTS_SHOWN)
    if not asked:
        p.note(f"the top {PRODUCTS_SHOWN} searches are shown; ask for “top 50 searches” for more")
    return True


def _returned(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"which products are most often returned", "the 5 most returned products": each product by
    how many times the customers returned it."""
    found = (m for pattern in RETURNED_RANKED if (m := pattern.search(p.text)) is not None)
    m = next(found, None)
    if m is None or "return" not in cat.event_types:
        return False
    asked = m.group("n")
    one = not asked and not m.group("noun").endswith("s")  # "which product is returned most"
    p.measure, p.measure_at = Measure(agg="sum", field="returns"), m.start()
    if verb := m.groupdict().get("verb"):
        verb_at = re.compile(r"\b" + verb + r"(?:\s+(?:the\s+)?(?:most|least))?\b").search(p.text, m.end())
        if verb_at is not None:
            p.take(*verb_at.span())
    _group(p, PRODUCT, m.span(), ascending=(m.group("dir") or "most") != "most",
           limit=int(number(asked)) if asked else 1 if one else PRODUCTS_SHOWN)
    if not asked and not one:
        p.note(f"the top {PRODUCTS_SHOWN} products are shown; ask for “top 50 products” for more")
    return True


def _products(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"which products are most popular with lapsed customers", "best sellers last month", "top 5
    products by revenue", "what do German customers buy most": the products they bought, ranked."""
    for pattern in PRODUCTS_RANKED:
        if (m := pattern.search(p.text)) is not None:
            break
    else:
        return False
    ascending = bool(re.match(r"least|bottom|worst", m.group("dir") or ""))
    asked = m.groupdict().get("n")
    noun = m.groupdict().get("noun") or ""
    grouping = CATEGORY if noun.startswith(("categor", "department")) else PRODUCT
    if grouping == CATEGORY and (not has_categories(cat) or (
            noun in ("category", "department") and (m.group("dir") or "").startswith("top") and not asked)):
        # no product has a category ("categories" is left for the refusal to name), or "top
        # category" names each customer's top category, an attribute
        return False
    if (top := TOP_CUSTOMERS.search(p.text)) is not None:
        # "what did our top 10 customers buy": a table's "top 10" is its rows; the customers'
        # own ranking cannot select them here, so it is refused rather than read as the rows
        p.refused.append(" ".join(top[0].split()))
        p.take(*top.span())
    if (by := PRODUCTS_BY.match(p.text, m.end())) is not None:  # "... by revenue"
        p.measure, p.measure_at = Measure(agg="sum", field=PRODUCT_MEASURES[by[1]]), by.start()
        p.take(*by.span())
    elif p.measure is None:  # how many of the customers bought each (a window may bound it)
        p.measure, p.measure_at = Measure(agg="count"), m.start()
    if verb := m.groupdict().get("verb"):  # "what do they buy most": the verb after the customers
        verb_at = re.compile(r"\b" + verb + r"(?:\s+(?:the\s+)?(?:most|least))?\b").search(p.text, m.end())
        if verb_at is not None:
            p.take(*verb_at.span())
    _group(p, grouping, m.span(), ascending=ascending, limit=int(number(asked)) if asked else PRODUCTS_SHOWN)
    if not asked:
        what = "products" if grouping == PRODUCT else "categories"
        p.note(f"the top {PRODUCTS_SHOWN} {what} are shown; ask for “top 50 {what}” for more")
    return True


def _which(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"which segment has the most lapsed customers", "which month of 2011 had the highest ..."."""
    which = re.compile(r"\b(?:which|what)\s+(?:of\s+(?:our|my|the|all)\s+)?(?:" + NUM + r"\s+)?" + target)
    m = which.search(p.text)
    r = RANK.match(p.text, m.end()) if m else None
    if m is None or r is None:
        return False
    # the window ("of 2011") stays for the windows pass, "lost" for the glossary (lapsed)
    p.take(*r.span(1))
    p.take(*r.span(3))
    by = names[m[2]]
    if by in ("month", "quarter", "year") and (new := NEW_COUNTED.match(p.text, r.end())):
        # "which month had the most new customers": the months of their first purchases
        p.take(*new.span())
        p.note(f"“new customers” is read by the first purchase: customers counted in the {by} of "
               "their first purchase")
        by = f"first_purchase_{by}"
    _group(p, by, m.span(), ascending=r[4] in ASCENDING, limit=int(number(m[1])) if m[1] else 1)
    return True


def _which_verb(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"which country spent the most": the sum of the verb's field, highest first."""
    which_verb = re.compile(r"\b(?:which|what)\s+(?:" + NUM + r"\s+)?" + target
                            + r"(?:\s+(?:do|did|does))?"
                            + r"(?:\s+(?:customers|households|shoppers|buyers|people|we|they))?\s+("
                            + "|".join(VERB_MEASURE) + r")\s+(?:the\s+)?(most|least)\b"
                            + r"(?:\s+(?:money|revenue|sales|cash))?")
    m = which_verb.search(p.text)
    if m is None:
        return False
    field = VERB_MEASURE[m[3]]
    if field in cat.numeric:
        p.measure, p.measure_at = Measure(agg="sum", field=field), m.start()
    _group(p, names[m[2]], m.span(), ascending=m[4] == "least", limit=int(number(m[1])) if m[1] else 1)
    return True


def _top(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"top 5 countries by revenue", "the best month": ranked groups (one when said singular)."""
    top = re.compile(r"\b(?:(?:the|our|my)\s+)?(top|bottom|best|worst|biggest|largest|smallest|busiest|"
                     r"quietest)\s+(?:" + NUM
                     + r"\s+)?" + target + r"(?:\s+(?:by|for|in|on|ranked by|sorted by|in terms of))?")
    m = top.search(p.text)
    if m is None:
        return False
    plural = m[3].endswith("s") and not names[m[3]].replace("_", " ").endswith(m[3])
    if not (m[2] or plural or m[0].startswith(("the", "our", "my"))):
        return False  # "top category is Coffee" names an attribute, not the top group
    limit = int(number(m[2])) if m[2] else (None if plural else 1)
    _group(p, names[m[3]], m.span(), ascending=m[1] in ASCENDING, limit=limit)
    _size(p)
    return True


def _ranked(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"countries by revenue", "segments by size": every group, highest first."""
    m = re.compile(r"\b" + target + r"\s+(?:ranked\s+|sorted\s+|ordered\s+)?by\b").search(p.text)
    if m is None or names[m[1]] in PERIODS.values() or not _rank_follows(p, m.end(), cat):
        return False
    _group(p, names[m[1]], m.span(), ascending=False)
    _size(p)
    return True


def _by(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"by country", "per month", "for each segment", "broken down by region"."""
    m = re.compile(LEAD + target).search(p.text)
    if m is None:
        return False
    _group(p, names[m[1]], m.span())
    # "revenue by country, top 5" / "(bottom 3)": the ranking said after the grouping
    if (r := re.compile(r"(?:,|\(|-|;)?\s*\b(top|bottom|best|worst|highest|lowest)\s+(" + NUM + r")\b\)?")
            .search(p.text, m.end())):
        _group(p, names[m[1]], r.span(), ascending=r[1] in ASCENDING | {"bottom", "lowest", "worst"},
               limit=int(number(r[2])))
    return True


def _adjective(p: Parse, cat: Catalogue, names: dict[str, str], target: str) -> bool:
    """"monthly revenue", "weekly orders"."""
    m = ADJECTIVE.search(p.text)
    if m is None:
        return False
    _group(p, PERIOD_ADJ[m[1]], m.span())
    return True


def _rank_follows(p: Parse, pos: int, cat: Catalogue) -> bool:
    """Whether "countries by ..." goes on with a number to rank by (not "customers by country")."""
    rest = p.text[pos:].lstrip()
    if SIZE.match(" " + rest):
        return True
    first = rest.split(" ", 1)[0] if rest else ""
    if rest.startswith("how much") or rest.startswith("how many"):
        return True
    return first in AGGREGATES or any(re.match(re.escape(n) + r"\b", rest) and v in cat.numeric
                                      for n, v in FIELD_NAMES.items())


def _frame(p: Parse) -> None:
    """Words that only ask for the table ("break ... down by", "rank")."""
    for m in list(TABLE_FRAME.finditer(p.text)):
        p.take(*m.span())


def _size(p: Parse) -> None:
    """'segments by size': the number of customers, which is a table's measure by default."""
    if m := re.search(r"\b(?:size|number of customers|customer count|headcount)\b", p.text):
        p.take(*m.span())
