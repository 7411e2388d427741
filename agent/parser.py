"""The built-in question parser: plain words -> QuerySpec, offline and deterministic.

It reads, in order: intent, top-N, explicit numbers with units (which override a glossary term's
default threshold), glossary terms and synonyms (with negation), attribute values present in the
data, segment references and interests. Each recognised piece is blanked out of the text so later
passes cannot read it twice. What remains is checked for content words nobody understood.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from segmint.agent.glossary import Glossary
from segmint.agent.query import Catalogue, Condition, Intent, QuerySpec

UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "year": 365,
         "years": 365}
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100, "a": 1, "an": 1}
NUM = r"(\d[\d,]*(?:\.\d+)?k?|" + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True)) + r")"
MONEY = r"(?:[£$€¥]\s*)?" + NUM + r"(?:\s*(?:gbp|usd|eur|pounds|dollars|euros))?"
UNIT = r"(days?|weeks?|months?|years?)"
MORE = r"(more than|over|above|greater than|at least|>=|>|no less than|exceeding)"
LESS = r"(less than|under|below|fewer than|at most|<=|<|no more than)"
OP_WORDS = {"more than": ">", "over": ">", "above": ">", "greater than": ">", "exceeding": ">",
            "at least": ">=", ">=": ">=", ">": ">", "no less than": ">=", "less than": "<",
            "under": "<", "below": "<", "fewer than": "<", "at most": "<=", "<=": "<=", "<": "<",
            "no more than": "<=", "exactly": "=", "": "="}
SORT_FIELDS = {"revenue": "revenue", "spend": "revenue", "spending": "revenue", "spent": "revenue",
               "value": "revenue", "sales": "revenue", "orders": "orders", "order count": "orders",
               "frequency": "orders", "aov": "aov", "average order value": "aov",
               "basket": "aov", "units": "units", "returns": "returns", "recency": "recency_days"}
NEGATIONS = ("not ", "non-", "non ", "aren't ", "are not ", "isn't ", "excluding ", "except ",
             "other than ", "but not ", "no ")
STOPWORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "and", "or", "but",
    "who", "whom", "which", "that", "what", "are", "is", "be", "been", "being", "my", "our",
    "their", "customers", "customer", "clients", "client", "people", "users", "user", "shoppers",
    "buyers", "show", "me", "list", "give", "find", "get", "all", "any", "those", "these", "them",
    "they", "do", "does", "did", "have", "has", "had", "how", "many", "much", "number", "count",
    "please", "can", "you", "i", "we", "want", "see", "were", "was", "there", "here", "as",
    "than", "more", "less", "only", "just", "also", "very", "ones", "one", "some", "who's",
    "whos", "segment", "segments", "not", "outside", "interested", "buy", "buys", "bought",
    "purchased", "like", "likes", "love", "loves", "what's", "whats", "looking", "searched",
    "anyone", "anybody", "everyone", "recently", "ever", "currently"
})


def number(text: str) -> float:
    """Read '2,015', '1.5k' or 'six' as a number."""
    text = text.strip().lower()
    if text in WORD_NUMBERS:
        return float(WORD_NUMBERS[text])
    scale = 1000.0 if text.endswith("k") else 1.0
    return float(text.rstrip("k").replace(",", "")) * scale


@dataclass
class Parse:
    """A parse in progress: the text still unread, and what was recognised."""

    text: str
    conditions: list[Condition] = field(default_factory=list)
    intent: Intent = "list"
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = None
    recognised: list[str] = field(default_factory=list)

    def take(self, match: re.Match[str]) -> None:
        """Blank out a recognised span so no later pass reads it again."""
        start, end = match.span()
        self.recognised.append(match.group(0).strip())
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def negated_before(self, start: int) -> bool:
        """Whether a negation word closes the text just before `start`."""
        before = self.text[max(0, start - 14):start]
        return any(before.endswith(neg) or before.rstrip().endswith(neg.strip())
                   for neg in NEGATIONS)


def _field(p: Parse, name: str, op: str, value: float | list[float]) -> None:
    p.conditions.append(Condition(kind="field", field=name, op=op, value=value))


def _lapsed_for(p: Parse, days: float) -> None:
    _field(p, "orders", ">=", 1)
    _field(p, "recency_days", ">", days)


Rule = tuple[str, Callable[[Parse, re.Match[str]], None]]

RULES: list[Rule] = [
    # "haven't bought in 6 months", "no purchase for over 3 months", "lapsed for 120 days"
    (r"(?:haven'?t|have not|hasn'?t|has not|didn'?t|did not|not|no|without)\s+(?:bought|purchased|"
     r"ordered|shopped|buy|purchase|order|orders|purchases|shop)(?:\s+anything)?\s+(?:in|for|within|"
     r"during)\s+(?:the\s+)?(?:last\s+|past\s+)?(?:over\s+|more than\s+)?" + NUM + r"\s+" + UNIT,
     lambda p, m: _field(p, "recency_days", ">", number(m[1]) * UNITS[m[2]])),
    (r"(?:inactive|lapsed|dormant|quiet|churned)\s+(?:for|in|over)\s+(?:the\s+)?(?:last\s+|past\s+)?"
     r"(?:over\s+|more than\s+)?" + NUM + r"\s+" + UNIT,
     lambda p, m: _lapsed_for(p, number(m[1]) * UNITS[m[2]])),
    (r"last\s+(?:purchase|order|bought)\s+(?:was\s+)?" + MORE + r"\s+" + NUM + r"\s+" + UNIT
     + r"\s+ago", lambda p, m: _field(p, "recency_days", OP_WORDS[m[1]], number(m[2]) * UNITS[m[3]])),
    (r"(?:bought|purchased|ordered|shopped|active|purchase|order)(?:\s+something)?\s+(?:in|within|"
     r"during)\s+(?:the\s+)?(?:last|past)\s+" + NUM + r"\s+" + UNIT,
     lambda p, m: _field(p, "recency_days", "<=", number(m[1]) * UNITS[m[2]])),
    (r"(?:joined|signed up|first (?:purchase|order)|started buying|new)\s+(?:in|within)\s+(?:the\s+)?"
     r"(?:last|past)\s+" + NUM + r"\s+" + UNIT,
     lambda p, m: _field(p, "tenure_days", "<=", number(m[1]) * UNITS[m[2]])),
    (r"(?:customers?|with us|buying|shopping)\s+for\s+" + MORE + r"\s+" + NUM + r"\s+" + UNIT,
     lambda p, m: _field(p, "tenure_days", OP_WORDS[m[1]], number(m[2]) * UNITS[m[3]])),
    # money
    (r"(?:spent|spend|spending|spends|revenue|lifetime value|ltv|total)\s+(?:of\s+)?between\s+"
     + MONEY + r"\s+and\s+" + MONEY,
     lambda p, m: _field(p, "revenue", "between", [number(m[1]), number(m[2])])),
    (r"(?:spent|spend|spending|spends|revenue|lifetime value|ltv)\s+(?:of\s+|is\s+)?" + MORE
     + r"\s+" + MONEY, lambda p, m: _field(p, "revenue", OP_WORDS[m[1]], number(m[2]))),
    (r"(?:spent|spend|spending|spends|revenue|lifetime value|ltv)\s+(?:of\s+|is\s+)?" + LESS
     + r"\s+" + MONEY, lambda p, m: _field(p, "revenue", OP_WORDS[m[1]], number(m[2]))),
    (r"(?:aov|average order value|average order|average basket|basket size)\s+(?:of\s+|is\s+)?"
     r"(" + MORE[1:-1] + "|" + LESS[1:-1] + r")\s+" + MONEY,
     lambda p, m: _field(p, "aov", OP_WORDS[m[1]], number(m[2]))),
    # order counts
    (r"between\s+" + NUM + r"\s+and\s+" + NUM + r"\s+orders",
     lambda p, m: _field(p, "orders", "between", [number(m[1]), number(m[2])])),
    (r"(" + MORE[1:-1] + "|" + LESS[1:-1] + r"|exactly)\s+" + NUM + r"\s+(?:orders|purchases|times)",
     lambda p, m: _field(p, "orders", OP_WORDS[m[1]], number(m[2]))),
    (NUM + r"\s+(?:or more|\+)\s+(?:orders|purchases)",
     lambda p, m: _field(p, "orders", ">=", number(m[1]))),
    (NUM + r"\s+(?:or fewer|or less)\s+(?:orders|purchases)",
     lambda p, m: _field(p, "orders", "<=", number(m[1]))),
    (r"(?:never|no)\s+(?:bought|purchased|ordered|purchases|orders)(?!\s+(?:in|for|within))",
     lambda p, m: _field(p, "orders", "=", 0)),
    (r"(?:returned|returns?)\s+(" + MORE[1:-1] + "|" + LESS[1:-1] + r")\s+" + NUM
     + r"(?:\s+(?:times|items|orders))?",
     lambda p, m: _field(p, "returns", OP_WORDS[m[1]], number(m[2]))),
    (r"never returned|no returns|without returns",
     lambda p, m: _field(p, "returns", "=", 0)),
    (r"(?:who|that)?\s*(?:returned (?:something|items?|products?)|made returns|with returns)",
     lambda p, m: _field(p, "returns", ">=", 1)),
]


def _top(p: Parse) -> None:
    m = re.search(r"\b(?:top|best|biggest|largest|highest)\s+" + NUM
                  + r"(?:\s+(?:customers|clients|buyers|spenders|shoppers))?(?:\s+(?:by|for|in|on)\s+"
                  r"(" + "|".join(sorted(SORT_FIELDS, key=len, reverse=True)) + r"))?", p.text)
    if m:
        p.limit = int(number(m[1]))
        p.sort_by = SORT_FIELDS.get(m[2] or "", "revenue")
        p.intent = "top"
        p.take(m)
        return
    m = re.search(r"\b(?:sorted|ranked|ordered)\s+by\s+("
                  + "|".join(sorted(SORT_FIELDS, key=len, reverse=True)) + r")", p.text)
    if m:
        p.sort_by = SORT_FIELDS[m[1]]
        p.take(m)
    m = re.search(r"\b(?:first|limit(?: to)?|only(?: the)?(?: top)?|just)\s+" + NUM + r"\b", p.text)
    if m:
        p.limit = int(number(m[1]))
        p.take(m)


def _intent(p: Parse) -> None:
    rules: tuple[tuple[str, Intent], ...] = ((r"^\s*(?:how many|number of|count(?: of)?)\b", "count"),
                            (r"^\s*(?:describe|tell me about|what (?:do|does) .* look like)\b",
                             "describe"),
                            (r"^\s*compare\b", "compare"))
    for pattern, intent in rules:
        m = re.search(pattern, p.text)
        if m:
            p.intent = intent
            if intent != "describe":
                p.take(m)
            return


def _terms(p: Parse, glossary: Glossary) -> None:
    synonyms = sorted(((syn.lower(), key) for key, term in glossary.terms.items()
                       for syn in (*term.synonyms, term.label)), key=lambda s: -len(s[0]))
    for syn, key in synonyms:
        for m in re.finditer(r"(?<![\w-])" + re.escape(syn) + r"(?![\w-])", p.text):
            negate = p.negated_before(m.start())
            if not any(c.kind == "term" and c.term == key for c in p.conditions):
                p.conditions.append(Condition(kind="term", term=key, negate=negate))
            p.take(m)


def _values(p: Parse, cat: Catalogue) -> None:
    pairs = sorted(((v, f) for f, vals in cat.attribute_values.items() for v in vals if v.strip()),
                   key=lambda s: -len(s[0]))
    for value, name in pairs:
        m = re.search(r"(?<![\w-])" + re.escape(value.lower()) + r"(?![\w-])", p.text)
        if m and len(value) > 1:
            negate = p.negated_before(m.start()) or bool(
                re.search(r"(?:outside|not (?:in|from))\s*$", p.text[:m.start()]))
            p.conditions.append(Condition(kind="field", field=name, op="=", value=value,
                                          negate=negate))
            p.take(m)


def _segments(p: Parse, cat: Catalogue) -> None:
    for m in re.finditer(r"\bsegment\s+(?:#|id\s+|number\s+)?([\w-]+)", p.text):
        if m[1] in cat.segments:
            p.conditions.append(Condition(kind="segment", segment=m[1]))
            p.take(m)
            return
    names = {name.lower(): sid for sid, name in cat.segments.items()}
    for name in sorted(names, key=len, reverse=True):
        idx = p.text.find(name)
        if idx >= 0 and name:
            p.conditions.append(Condition(kind="segment", segment=names[name]))
            p.text = p.text[:idx] + " " * len(name) + p.text[idx + len(name):]
            p.recognised.append(name)
            return
    found = re.search(r"(?:in|from)\s+(?:the\s+)?([\w' -]+?)\s+segment", p.text)
    if found:
        m = found
        close = difflib.get_close_matches(m[1].strip(), list(names), n=1, cutoff=0.6)
        if close:
            p.conditions.append(Condition(kind="segment", segment=names[close[0]]))
            p.take(m)


INTEREST_PATTERNS = (
    r"interested in\s+(.+)",
    r"(?:searched|searching|search|looking|looked|shopping)\s+for\s+(.+)",
    r"(?:who|that)\s+(?:buy|buys|bought|purchase|purchases|purchased|order|orders|ordered|like|"
    r"likes|love|loves)\s+(.+)",
    r"(?:buyers|fans|shoppers|lovers|purchasers)\s+of\s+(.+)",
    r"\binto\s+(.+)",
)
INTEREST_STOP = r"\s+(?:and|or|but|who|with|from|in the last|in|last|over|more|less|sorted)\b.*$"


def _interests(p: Parse) -> None:
    for pattern in INTEREST_PATTERNS:
        m = re.search(pattern, p.text)
        if not m:
            continue
        phrase = re.sub(INTEREST_STOP, "", m[1]).strip(" ?.!,")
        phrase = re.sub(r"^(?:the|some|any|our|a|an)\s+", "", phrase)
        words = [w for w in re.findall(r"[\w'-]+", phrase) if w not in STOPWORDS]
        if not words or phrase in {"anything", "something", "stuff", "things"}:
            continue
        p.conditions.append(Condition(kind="interest", interest=phrase))
        start = m.start(1)
        p.text = p.text[:start] + " " * len(phrase) + p.text[start + len(phrase):]
        p.recognised.append(phrase)


def _groups(p: Parse, original: str) -> list[list[Condition]]:
    """AND everything, unless 'or' joins two recognised pieces: then split there."""
    if " or " not in original or len(p.conditions) < 2:
        return [p.conditions] if p.conditions else []
    # Conditions were appended in reading order per pass; split by their position in the text.
    positions = []
    for c, piece in zip(p.conditions, _pieces(p), strict=False):
        positions.append((original.find(piece) if piece else -1, c))
    positions.sort(key=lambda x: x[0])
    groups: list[list[Condition]] = [[]]
    last = 0
    for pos, c in positions:
        if groups[-1] and pos > 0 and " or " in original[last:pos]:
            groups.append([])
        groups[-1].append(c)
        last = max(pos, last)
    return [g for g in groups if g]


def _pieces(p: Parse) -> list[str]:
    return p.recognised


def unknown_words(text: str) -> list[str]:
    """Content words nobody recognised (the parser refuses rather than guesses)."""
    return [w for w in re.findall(r"[a-z][a-z'-]+", text) if w not in STOPWORDS and len(w) > 2]


def parse_question(question: str, glossary: Glossary, cat: Catalogue) -> tuple[QuerySpec, list[str]]:
    """Parse a question into a QuerySpec.

    Returns:
        The spec and the content words that were left unrecognised.
    """
    text = " " + re.sub(r"\s+", " ", question.lower().replace("’", "'")).strip() + " "
    p = Parse(text)
    _intent(p)
    _top(p)
    for pattern, build in RULES:
        for m in list(re.finditer(pattern, p.text)):
            if p.text[m.start():m.end()].strip() == m.group(0).strip():
                build(p, m)
                p.take(m)
    # An explicit number replaces the term it refines ("lapsed for 6 months").
    _terms(p, glossary)
    if any(c.kind == "field" and c.field == "recency_days" for c in p.conditions):
        p.conditions = [c for c in p.conditions
                        if not (c.kind == "term" and c.term in {"lapsed", "active"} and not c.negate)]
    _values(p, cat)
    _segments(p, cat)
    _interests(p)
    spec = QuerySpec(intent=p.intent, any_of=_groups(p, text), sort_by=p.sort_by,
                     descending=p.descending, limit=p.limit)
    return spec, unknown_words(p.text)
