"""The built-in question parser: plain words -> QuerySpec, offline and deterministic.

It reads, in order: intent, ranking (top-N, sort), explicit numbers with units (which override a
glossary term's default threshold), glossary terms and synonyms, segment references, interests
("who buys candles") and attribute values present in the data ("in Germany", "aged 25-34").
Each recognised piece is blanked out of the working text so no later pass reads it twice, and
remembers where it stood, so negation ("not", "except those in") and "or" can be read from the
words around it. Whatever remains is checked for words nobody understood: the parser refuses
rather than guesses.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from segmint.agent.ask.paraphrase import PhraseMapper, Rewrite, coverable, default_mapper
from segmint.agent.ask.paraphrase import apply as apply_rewrites
from segmint.agent.query.glossary import Glossary
from segmint.agent.query.spec import Catalogue, Condition, Intent, QuerySpec

UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "year": 365,
         "years": 365}
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100, "a": 1, "an": 1}
NUM = r"(\d[\d,]*(?:\.\d+)?k?|" + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True)) + r")\b"
CURRENCY = r"(?:[£$€¥]\s*)?"
MONEY = CURRENCY + NUM + r"(?:\s*(?:gbp|usd|euros|eur|pounds|dollars|quid))?"
UNIT = r"(days?|weeks?|months?|years?)\b"
MORE = r"(more than|over|above|greater than|at least|>=|>|no less than|exceeding|upwards of)"
LESS = r"(less than|under|below|fewer than|at most|<=|<|no more than|up to)"
COMPARE = r"(" + MORE[1:-1] + "|" + LESS[1:-1] + r")"
OP_WORDS = {"more than": ">", "over": ">", "above": ">", "greater than": ">", "exceeding": ">",
            "upwards of": ">", "at least": ">=", ">=": ">=", ">": ">", "no less than": ">=",
            "less than": "<", "under": "<", "below": "<", "fewer than": "<", "at most": "<=",
            "<=": "<=", "<": "<", "no more than": "<=", "up to": "<=", "exactly": "=", "": "="}
SORT_FIELDS = {"revenue": "revenue", "spend": "revenue", "spending": "revenue", "spent": "revenue",
               "total spend": "revenue", "value": "revenue", "sales": "revenue",
               "lifetime value": "revenue", "ltv": "revenue", "orders": "orders",
               "number of orders": "orders", "order count": "orders", "frequency": "orders",
               "aov": "aov", "average order value": "aov", "average order": "aov",
               "basket size": "aov", "average basket": "aov", "basket": "aov", "units": "units",
               "items": "units", "returns": "returns", "recency": "recency_days",
               "tenure": "tenure_days"}
SORT = "(" + "|".join(sorted(SORT_FIELDS, key=len, reverse=True)) + r")\b"
# Words that only frame a request in this domain ("show me", "customers who are"); a word that
# could change which customers are meant (a negation, a time word) must never be here.
STOPWORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "and", "or", "but",
    "who", "whom", "whose", "which", "that", "what", "are", "is", "be", "been", "being", "my", "our",
    "their", "customers", "customer", "clients", "client", "people", "users", "user", "shoppers",
    "buyers", "accounts", "folks", "show", "me", "list", "give", "find", "get", "got", "all", "any",
    "those", "these", "them", "they", "do", "does", "did", "have", "has", "had", "how", "many",
    "much", "number", "count", "please", "can", "could", "would", "you", "i", "we", "us", "want",
    "see", "were", "was", "there", "here", "as", "than", "only", "just", "also", "very", "ones",
    "one", "some", "who's", "whos", "segment", "segments", "buy", "buys", "bought", "purchased",
    "like", "likes", "love", "loves", "what's", "whats", "looking", "searched", "anyone", "anybody",
    "everyone", "ever", "currently", "still", "already", "anything", "something", "based",
    "located", "living", "display", "pull", "fetch", "export", "identify",
    "live", "lives", "let", "know", "we've", "i'd", "we're", "they're", "it", "its", "am", "it's",
    "so", "up", "each", "every", "both", "either", "shop", "store", "right", "now",
})
NEGATION = (r"(?:\b(?:not|never|no longer|excluding|exclude|except(?:\s+for)?|other than|"
            r"outside(?:\s+of)?|(?:are|is|do|does|did|have|has|were|was)n'?t|non)\b)")
NEG_FILLER = (r"(?:(?:those|ones|the|customers|people|who|that|are|is|in|from|of|a|an|based|living|"
              r"located|live|lives)\s+)*")
NEG_BEFORE = re.compile(NEGATION + r"\s*" + NEG_FILLER + r"$")
OR_GAP = re.compile(r"\bor\b")
LIST_GAP = re.compile(r"^(?:\s|,|\band\b|\bor\b|&|\bthe\b|\bin\b|\bfrom\b)*$")
SPACES = re.compile(r"\s+")


def number(text: str) -> float:
    """Read '2,015', '1.5k' or 'six' as a number."""
    text = text.strip().lower()
    if text in WORD_NUMBERS:
        return float(WORD_NUMBERS[text])
    scale = 1000.0 if text.endswith("k") else 1.0
    return float(text.rstrip("k").replace(",", "")) * scale


def days(amount: str, unit: str) -> float:
    """'6', 'months' -> 180 (docs/definitions.md: a month is 30 days, a year 365)."""
    return number(amount) * UNITS[unit]


@dataclass
class Piece:
    """A recognised part of the question: where it started, what it means.

    Attributes:
        start: offset in the normalised question (orders pieces; finds the words between them).
        end: offset just past the piece.
        conditions: what a customer must satisfy (several for "lapsed for 4 months").
        attribute: for "country = X" pieces, the field, so "France or Germany" can merge.
    """

    start: int
    end: int
    conditions: list[Condition]
    attribute: str | None = None


@dataclass
class Parse:
    """A parse in progress: the text still unread, and what was recognised."""

    text: str
    pieces: list[Piece] = field(default_factory=list)
    intent: Intent = "list"
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = None

    def take(self, start: int, end: int) -> None:
        """Blank out a recognised span so no later pass reads it again."""
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def free(self, start: int, end: int) -> bool:
        """Whether no earlier pass has already read any of this span."""
        return "  " not in self.text[start:end].strip() and self.text[start:end].strip() != ""

    def add(self, start: int, end: int, conditions: list[Condition], *,
            attribute: str | None = None) -> None:
        """Record a piece, negated when a negation closes the text before it, and blank it out."""
        neg = NEG_BEFORE.search(self.text, 0, start)
        if neg is not None:
            conditions = [c.model_copy(update={"negate": not c.negate}) for c in conditions]
            self.take(neg.start(), start)
        self.pieces.append(Piece(start, end, conditions, attribute))
        self.take(start, end)


def _field(name: str, op: str, value: float | list[float]) -> Condition:
    return Condition(kind="field", field=name, op=op, value=value)


Build = Callable[[re.Match[str]], list[Condition]]
NEVER = r"(?:haven'?t|have not|hasn'?t|has not|didn'?t|did not|not|no|never|without)"
BUY = r"(?:bought|purchased|ordered|shopped|buy|purchase|purchases|order|orders|shop|made a purchase|" \
      r"placed an order)"
MONEY_WORD = r"(?:spent|spend|spending|spends|revenue|lifetime value|ltv|total spend|sales)"
AOV_WORD = r"(?:aov|average order value|average order|average basket|basket size|average spend per order)"
ORDERS = r"(?:orders?|purchases?)\b"
COUNT_VERB = r"(?:(?:ordered|bought|purchased|shopped|placed|made|with|having)\s+)?"
COUNT_FIELDS = {"number of orders": "orders", "order count": "orders", "orders": "orders",
                "returns": "returns", "units": "units", "items": "units"}
END = r"(?=\s*(?:$|,|\b(?:and|or|who|in|from|but|with)\b))"


def _between(m: re.Match[str], name: str) -> list[Condition]:
    low, high = sorted((number(m[1]), number(m[2])))
    return [_field(name, "between", [low, high])]


RULES: list[tuple[re.Pattern[str], Build]] = [(re.compile(p), b) for p, b in (
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
    (r"(?:bought|purchased|ordered|shopped|active|purchase|order|made a purchase|placed an order)"
     r"(?:\s+(?:customers|buyers|something|anything))?\s+(?:in|within|during)\s+(?:the\s+)?"
     r"(?:last|past)\s+" + NUM + r"\s+" + UNIT,
     lambda m: [_field("recency_days", "<=", days(m[1], m[2]))]),
    (r"(?:joined|signed up|first (?:purchase|order)|started buying|acquired|new(?:\s+(?:customers?|"
     r"buyers|shoppers|clients))?)\s+(?:in|within|during)\s+(?:the\s+)?(?:last|past)\s+" + NUM
     + r"\s+" + UNIT,
     lambda m: [_field("tenure_days", "<=", days(m[1], m[2]))]),
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
    # returns, before order counts: "returned more than 5 times" is about returns
    (r"(?:returned|returns?)\s+" + COMPARE + r"\s+" + NUM + r"(?:\s+(?:times|items|orders|products))?",
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
    (r"(?:with|placed|made|having)\s+" + NUM + r"\s+" + ORDERS + END,
     lambda m: [_field("orders", "=", number(m[1]))]),
    (r"(?:never|not yet|no)\s+(?:bought|purchased|ordered|purchases|orders)"
     r"(?:\s+(?:anything|a thing|yet))?" + END,
     lambda m: [_field("orders", "=", 0)]),
)]


# ---------------------------------------------------------------------------- intent and ranking

INTENTS: tuple[tuple[re.Pattern[str], Intent], ...] = (
    (re.compile(r"^\s*(?:how many|(?:the |total )?number of|count(?: of)?|what(?:'s| is) the number of)\b"),
     "count"),
    (re.compile(r"^\s*(?:describe|tell me about|give me a profile of|profile)\b"), "describe"),
    (re.compile(r"^\s*compare\b"), "compare"),
)
LOOK_LIKE = (re.compile(r"^\s*what (?:do|does)\b"), re.compile(r"\blook like\b"))
TOP = re.compile(r"\b(?:the\s+)?(top|best|biggest|largest|highest|bottom|lowest|smallest|worst)\s+"
                 + NUM + r"(?:\s+(?:customers|clients|buyers|spenders|shoppers|accounts))?"
                 r"(?:\s+(?:by|for|in|on)\s+" + SORT + r")?")
N_SPENDERS = re.compile(r"\b" + NUM + r"\s+(biggest|top|highest|largest|best|lowest|smallest)\s+"
                        r"(?:spenders|customers|buyers|clients)\b")
N_MOST = re.compile(r"\b(?:which|what|the)\s+" + NUM + r"\s+(?:customers\s+|clients\s+|buyers\s+|"
                    r"shoppers\s+)?(?:who\s+)?(spent|spend|spending|ordered|bought|order|buy|purchased)"
                    r"\s+the\s+(most|least)\b")
N_WITH = re.compile(r"\b(?:the\s+)?" + NUM + r"\s+(?:customers|clients|buyers|shoppers)\s+with\s+the\s+"
                    r"(most|highest|largest|biggest|fewest|lowest|smallest)\s+" + SORT)
SORTED = re.compile(r"\b(?:sorted|ranked|ordered|sort|rank)\s+by\s+" + SORT
                    + r"(?:\s+(ascending|descending|asc|desc))?")
BY = re.compile(r"\bby\s+" + SORT)
# "show me 20 lapsed customers" is a limit; "show me 5 orders" is not.
NOT_A_COUNT = (r"(?![\s-]*(?:orders?|purchases?|times|days?|weeks?|months?|years?|returns|items|units|"
               r"%|\+|off))")
LIMIT = re.compile(r"\b(?:first|limit(?: to)?|(?:show|list|give|find|get|pull|export)(?: me)?(?: the)?)"
                   r"\s+(?!an?\b)" + NUM + NOT_A_COUNT)
# "just one time" is not a limit: after "only"/"just", a limit is followed by who is counted.
ONLY = re.compile(r"\b(?:only(?: the)?(?: top)?|just(?: the)?)\s+" + NUM
                  + r"(?=\s+(?:customers|clients|buyers|shoppers|people|results|rows|of them)\b|\s*$)")
SORT_ONLY = re.compile(r"\b(?:with|by|having)\s+the\s+(most|highest|largest|biggest|fewest|lowest|"
                       r"smallest)\s+" + SORT)
ASCENDING = {"bottom", "lowest", "smallest", "worst", "least", "fewest", "ascending", "asc"}
VERB_FIELD = {"spent": "revenue", "spend": "revenue", "spending": "revenue"}


def _intent(p: Parse) -> None:
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


def _top(p: Parse) -> None:
    if m := TOP.search(p.text):
        _rank(p, "top", SORT_FIELDS.get(m[3] or "", "revenue"), m[2], m[1] in ASCENDING, m.span())
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


# ---------------------------------------------------------------------------- glossary terms


# Buying verbs are interchangeable inside a synonym: "stopped buying" also reads "stopped ordering".
VERB_CLASSES = (("bought", "purchased", "ordered", "shopped"),
                ("buying", "purchasing", "ordering", "shopping"))
VERB_CLASS = {verb: "(?:" + "|".join(group) + ")" for group in VERB_CLASSES for verb in group}


def _phrase_pattern(phrase: str) -> str:
    """A synonym as a regex: hyphen or space alike, buying verbs alike, a plural also read singular."""
    words = phrase.lower().replace("-", " ").split()
    # typed without the apostrophe too: "havent bought recently"
    parts = [VERB_CLASS.get(w, re.escape(w).replace("'", "'?")) for w in words]
    if len(words[-1]) > 4 and words[-1].endswith("s") and not words[-1].endswith("ss"):
        parts[-1] = re.escape(words[-1][:-1]) + "s?"
    return r"(?<![\w-])" + r"[\s-]+".join(parts) + r"(?![\w-])"


@lru_cache(maxsize=8)
def _term_pattern(synonyms: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One alternation of every synonym, longest first, so the leftmost-longest one wins."""
    ordered = sorted(synonyms, key=lambda s: -len(s[0]))
    alternation = "|".join(f"({_phrase_pattern(syn)})" for syn, _ in ordered)
    return re.compile(alternation), tuple(key for _, key in ordered)


def _terms(p: Parse, glossary: Glossary) -> None:
    synonyms = tuple((syn, key) for key, term in glossary.terms.items()
                     for syn in (*term.synonyms, term.label))
    pattern, keys = _term_pattern(synonyms)
    for m in list(pattern.finditer(p.text)):
        if p.free(*m.span()) and m.lastindex is not None:
            p.add(*m.span(), [Condition(kind="term", term=keys[m.lastindex - 1])])


# ---------------------------------------------------------------------------- segments

SEGMENT_ID = re.compile(r"\bsegment\s+(?:#|id\s+|number\s+|no\.?\s+)?([\w-]+)")
SEGMENT_NAME = re.compile(r"\b(?:in|from)\s+(?:the\s+)?([\w' -]+?)\s+segment\b")


def _segments(p: Parse, cat: Catalogue) -> None:
    for m in list(SEGMENT_ID.finditer(p.text)):
        if m[1] in cat.segments:
            p.add(*m.span(), [Condition(kind="segment", segment=m[1])])
    names = {name.lower(): sid for sid, name in cat.segments.items() if name.strip()}
    for name in sorted(names, key=len, reverse=True):
        for m in list(re.finditer(_phrase_pattern(name), p.text)):
            p.add(*m.span(), [Condition(kind="segment", segment=names[name])])
    for m in list(SEGMENT_NAME.finditer(p.text)):
        close = difflib.get_close_matches(m[1].strip(), list(names), n=1, cutoff=0.75)
        if close and p.free(*m.span(1)):
            p.add(*m.span(1), [Condition(kind="segment", segment=names[close[0]])])


# ---------------------------------------------------------------------------- interests

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


def _interests(p: Parse) -> None:
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


# ---------------------------------------------------------------------------- attribute values

# Everyday words for values the data spells differently; used only when the value is present.
VALUE_ALIASES: dict[str, tuple[str, ...]] = {
    "united kingdom": ("uk", "u.k", "britain", "great britain", "british"),
    "eire": ("ireland", "republic of ireland", "irish"),
    "usa": ("united states", "america", "u.s.a", "u.s", "american", "the us"),
    "rsa": ("south africa", "south african"),
    "united arab emirates": ("uae",),
    "czech republic": ("czechia", "czech"),
    "netherlands": ("holland", "dutch"),
    "germany": ("german",), "france": ("french",), "spain": ("spanish",), "italy": ("italian",),
    "belgium": ("belgian",), "switzerland": ("swiss",), "portugal": ("portuguese",),
    "australia": ("australian",), "austria": ("austrian",), "sweden": ("swedish",),
    "denmark": ("danish",), "norway": ("norwegian",), "finland": ("finnish",),
    "japan": ("japanese",), "canada": ("canadian",), "greece": ("greek",), "cyprus": ("cypriot",),
    "scotland": ("scottish",), "wales": ("welsh",), "london": ("londoners",),
    "female": ("women", "woman", "ladies", "females"),
    "male": ("men", "man", "males"),
    "non-binary": ("nonbinary",),
}
AGE_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
AGE_OPEN = re.compile(r"^(\d+)\s*\+$")
AGE_SUFFIX = r"(?:\s*(?:year[- ]olds?|years? old|years|yo|y/o|s))?"


def _value_pattern(value: str, name: str) -> str:
    """How a value may be written: as in the data, an everyday alias, or an age band in words."""
    low = value.lower()
    forms = [r"[\s-]+".join(re.escape(w) for w in low.replace("-", " ").split())]
    forms += [r"[\s-]+".join(re.escape(w) for w in a.split()) for a in VALUE_ALIASES.get(low, ())]
    if "age" in name.split("_"):
        if m := AGE_RANGE.match(low):
            forms.append(rf"(?:between\s+)?{m[1]}\s*(?:-|–|to|and)\s*{m[2]}{AGE_SUFFIX}")
        elif m := AGE_OPEN.match(low):
            forms.append(rf"(?:{m[1]}\s*\+|{m[1]}\s+(?:and|or)\s+(?:over|older|above|up)|{m[1]}\s+plus|"
                         rf"(?:over|above|older than)[\s-]+{m[1]}){AGE_SUFFIX}")
    words = name.replace("_", " ")
    labels = "|".join(dict.fromkeys((re.escape(words), re.escape(words.split()[-1]))))
    prefix = rf"(?:(?:{labels})\s+(?:is\s+|of\s+|=\s*|:\s*)?)?"
    if "age" in name.split("_"):
        prefix = rf"(?:(?:aged|ages?|{labels})\s+(?:is\s+|of\s+|=\s*|:\s*)?)?"
    suffix = rf"(?:\s+(?:{labels}))?"
    body = "|".join(sorted(forms, key=len, reverse=True))
    return rf"(?<![\w-]){prefix}(?:{body}){suffix}(?![\w-])"


@lru_cache(maxsize=16)
def _value_patterns(values: tuple[tuple[str, str], ...]) -> list[tuple[re.Pattern[str], str, str]]:
    ordered = sorted(values, key=lambda v: -len(v[0]))
    return [(re.compile(_value_pattern(v, name)), name, v) for v, name in ordered]


def _values(p: Parse, cat: Catalogue) -> None:
    values = tuple((v, name) for name, vals in cat.attribute_values.items() for v in vals
                   if len(v.strip()) > 1)
    for pattern, name, value in _value_patterns(values):
        for m in list(pattern.finditer(p.text)):
            if p.free(*m.span()):
                p.add(*m.span(), [Condition(kind="field", field=name, op="=", value=value)],
                      attribute=name)


# ---------------------------------------------------------------------------- and / or


def _merge_values(pieces: list[Piece], text: str) -> list[Piece]:
    """'France or Germany', 'Spain, Italy and Portugal' -> one `in` condition (one value each)."""
    merged: list[Piece] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if (prev is not None and piece.attribute is not None and prev.attribute == piece.attribute
                and not piece.conditions[0].negate and LIST_GAP.match(text[prev.end:piece.start])):
            first = prev.conditions[0]
            values = first.value if first.op == "in" and isinstance(first.value, list) else [first.value]
            values = [*values, piece.conditions[0].value]
            prev.conditions = [first.model_copy(update={"op": "in", "value": values})]
            prev.end = piece.end
            continue
        merged.append(Piece(piece.start, piece.end, list(piece.conditions), piece.attribute))
    return merged


def _groups(pieces: list[Piece], text: str, glossary: Glossary) -> list[list[Condition]]:
    """AND everything, except pieces joined by 'or': each choice becomes its own AND-group.

    Two terms no customer can both meet, joined by 'and' ("churned and at-risk customers"), are
    read as a list of both groups too: the literal AND would always be empty.
    """
    slots: list[list[list[Condition]]] = []
    prev: Piece | None = None
    for piece in sorted(pieces, key=lambda x: x.start):
        gap = text[prev.end:piece.start] if prev is not None else ""
        if prev is not None and slots and (OR_GAP.search(gap) or (
                AND_GAP.match(gap) and _exclusive(prev.conditions, piece.conditions, glossary))):
            slots[-1].append(piece.conditions)
        else:
            slots.append([piece.conditions])
        prev = piece
    groups = []
    for choice in itertools.product(*slots):
        group: list[Condition] = []
        for conditions in choice:
            group += [c for c in conditions if c not in group]
        groups.append(group)
    return groups


Interval = tuple[float, bool, float, bool]  # low, low included, high, high included
AND_GAP = re.compile(r"^(?=.*(?:\band\b|,|&))(?:\s|,|&|\band\b|\bcustomers\b|\bbuyers\b|\bclients\b|"
                     r"\bpeople\b|\bshoppers\b)*$")


def _exclusive(a: list[Condition], b: list[Condition], glossary: Glossary) -> bool:
    """Whether two single glossary terms can never hold together (disjoint on some field)."""
    if len(a) != 1 or len(b) != 1 or a[0].negate or b[0].negate:
        return False
    ranges_a, ranges_b = _term_ranges(a[0], glossary), _term_ranges(b[0], glossary)
    return any(_empty(_meet(ranges_a[k], ranges_b[k])) for k in ranges_a.keys() & ranges_b.keys())


def _term_ranges(c: Condition, glossary: Glossary) -> dict[tuple[str, bool], Interval]:
    """The interval each of a term's fields must lie in (percentile thresholds on their own scale)."""
    term = glossary.terms.get(c.term or "") if c.kind == "term" else None
    ranges: dict[tuple[str, bool], Interval] = {}
    for f in term.filters if term is not None else ():
        v = f.percentile if f.percentile is not None else f.value
        if v is None or f.op == "!=":
            continue
        inf = float("inf")
        bound: Interval = {">": (v, False, inf, False), ">=": (v, True, inf, False),
                           "<": (-inf, False, v, False), "<=": (-inf, False, v, True),
                           "=": (v, True, v, True)}[f.op]
        key = (f.field, f.percentile is not None)
        ranges[key] = _meet(ranges[key], bound) if key in ranges else bound
    return ranges


def _meet(a: Interval, b: Interval) -> Interval:
    low = max((a[0], a[1]), (b[0], b[1]), key=lambda x: (x[0], not x[1]))
    high = min((a[2], a[3]), (b[2], b[3]), key=lambda x: (x[0], x[1]))
    return low[0], low[1], high[0], high[1]


def _empty(r: Interval) -> bool:
    return r[0] > r[2] or (r[0] == r[2] and not (r[1] and r[3]))


def _override(group: list[Condition], glossary: Glossary) -> list[Condition]:
    """An explicit number replaces the default it refines: 'lapsed, no purchase in 6 months'.

    A term whose field is also given explicitly in the same group is replaced by its other
    filters (fixed thresholds only; a term with another percentile filter is kept whole).
    """
    explicit = {c.field for c in group if c.kind == "field" and not c.negate}
    out: list[Condition] = []
    for c in group:
        term = glossary.terms.get(c.term or "") if c.kind == "term" and not c.negate else None
        if term is None or not explicit & {f.field for f in term.filters}:
            out.append(c)
            continue
        rest = [f for f in term.filters if f.field not in explicit]
        if any(f.percentile is not None for f in rest):
            out.append(c)
            continue
        out += [x for x in (_field(f.field, f.op, f.value or 0.0) for f in rest) if x not in out]
    return out


# ---------------------------------------------------------------------------- the parser

TOKEN = re.compile(r"[a-z0-9£$€¥][\w'+.-]*|[£$€¥%]")


def unknown_words(text: str) -> list[str]:
    """Words nobody recognised (the parser refuses rather than guesses)."""
    return [w for w in (t.strip(".'-") for t in TOKEN.findall(text)) if w and w not in STOPWORDS]


def normalise(question: str) -> str:
    """Lower case, one space between words, sentence punctuation dropped, 'non-UK' -> 'non uk'."""
    if not question.isupper():  # "US customers": the country, not the pronoun
        question = re.sub(r"\bU\.?S\.?(?:A\b\.?)?(?![\w'])", "USA", question)
    text = question.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[?!;\"()]|[.:](?=\s|$)", " ", text)
    text = re.sub(r"\bnon-(?!binary)", "non ", text)
    text = re.sub(r"\b(last|past)\s+(day|week|month|year)\b", r"\1 1 \2", text)  # "last month" = 1 month
    return " " + SPACES.sub(" ", text).strip() + " "


def _passes(glossary: Glossary, cat: Catalogue) -> Iterable[Callable[[Parse], None]]:
    yield _intent
    yield _top
    yield _rules
    yield lambda p: _terms(p, glossary)
    yield lambda p: _segments(p, cat)
    yield _interests
    yield lambda p: _values(p, cat)


def _rules(p: Parse) -> None:
    for pattern, build in RULES:
        for m in list(pattern.finditer(p.text)):
            if p.free(*m.span()):
                p.add(*m.span(), build(m))


@dataclass
class Parsed:
    """What the parser made of a question.

    Attributes:
        spec: the query.
        unknown: words left unrecognised (the caller refuses when there are any).
        rewrites: runs of words read as glossary synonyms by meaning (see agent/paraphrase.py).
    """

    spec: QuerySpec
    unknown: list[str]
    rewrites: list[Rewrite] = field(default_factory=list)


def parse(question: str, glossary: Glossary, cat: Catalogue, *,
          mapper: Callable[[], PhraseMapper | None] | None = None) -> Parsed:
    """Parse a question; with a mapper, unknown words may be read as glossary synonyms.

    Args:
        question: the question in plain words.
        glossary: business terms and their synonyms.
        cat: the workspace's fields, attribute values and segments.
        mapper: gives the mapper of unknown phrasings onto synonyms (called only when some word
            is unknown, so the encoder loads only then); None reads by rules only.
    """
    text = normalise(question)
    p = _read(text, glossary, cat)
    unknown = unknown_words(p.text)
    phrase_mapper = None
    if unknown and mapper is not None and coverable(p.text, _is_unknown):
        phrase_mapper = mapper()
    if phrase_mapper is None:
        return Parsed(_spec(p, glossary), unknown)
    rewrites = phrase_mapper.rewrite(text, p.text, _is_unknown, glossary)
    if not rewrites:
        return Parsed(_spec(p, glossary), unknown)
    p = _read(apply_rewrites(text, rewrites), glossary, cat)
    return Parsed(_spec(p, glossary), unknown_words(p.text), rewrites)


def parse_question(question: str, glossary: Glossary, cat: Catalogue, *,
                   paraphrase: bool = True) -> tuple[QuerySpec, list[str]]:
    """Parse a question into a QuerySpec.

    Args:
        question: the question in plain words.
        glossary: business terms and their synonyms.
        cat: the workspace's fields, attribute values and segments.
        paraphrase: when words remain unknown, try reading them as glossary synonyms with the
            sentence encoder (loaded then, on first need); False reads by rules only.

    Returns:
        The spec and the words that were left unrecognised (empty when all was understood).
    """
    parsed = parse(question, glossary, cat, mapper=default_mapper if paraphrase else None)
    return parsed.spec, parsed.unknown


def _is_unknown(word: str) -> bool:
    return bool(unknown_words(word))


def _read(text: str, glossary: Glossary, cat: Catalogue) -> Parse:
    p = Parse(text)
    for step in _passes(glossary, cat):
        step(p)
    return p


def _spec(p: Parse, glossary: Glossary) -> QuerySpec:
    pieces = _merge_values(sorted(p.pieces, key=lambda x: x.start), p.text)
    groups = [_override(g, glossary) for g in _groups(pieces, p.text, glossary)]
    return QuerySpec(intent=p.intent, any_of=[g for g in groups if g], sort_by=p.sort_by,
                     descending=p.descending, limit=p.limit)
