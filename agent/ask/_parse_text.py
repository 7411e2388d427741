"""The built-in parser's vocabulary and working state: numbers, stopwords, negation, `Parse`.

Every pass (agent/ask/parser.py lists them in order) reads `Parse.text`, records what it recognised
as a `Piece` (a condition), a `WindowSpan` (a time window, attached to a piece later) or a part of
the answer's shape (measure, group-by), and blanks the span out, so no later pass reads it twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, EventMeasure, Intent, Measure, Window

UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "year": 365,
         "years": 365}
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100, "a": 1, "an": 1}
NUM = r"(\d[\d,]*(?:\.\d+)?k?|" + "|".join(sorted(WORD_NUMBERS, key=len, reverse=True)) + r")\b"
UNIT = r"(days?|weeks?|months?|years?)\b"
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
    # customers by other names (a grocer's households, a club's members)
    "households", "household", "members", "member", "patrons", "patron", "subscribers",
    "subscriber", "consumers", "consumer", "families", "family", "purchasers", "purchaser",
    "account", "individuals", "persons", "guests", "guest", "buyer", "shopper", "base",
    "altogether", "kindly", "among", "amongst", "who've", "who'd", "they've", "i've", "you've",
    "need", "everybody", "someone", "somebody", "shops", "businesses", "companies", "firms",
    "retailers", "stores", "resellers", "wholesalers", "organisations", "organizations",
    "actually", "really", "even",
})
NEGATION = (r"(?:\b(?:not|never|no longer|excluding|exclude|except(?:\s+for)?|other than|"
            r"outside(?:\s+of)?|(?:are|is|do|does|did|have|has|were|was)n'?t|non)\b)")
NEG_FILLER = (r"(?:(?:those|ones|the|customers|people|who|that|are|is|in|from|of|a|an|based|living|"
              r"located|live|lives|actually|really|ever|even|yet)\s+)*")
NEG_BEFORE = compiled(NEGATION + r"\s*" + NEG_FILLER + r"$")
SPACES = compiled(r"\s+")
# The start of a question, past polite framing ("can you tell me how many ..."): patterns that
# read a question's opening words ("how many", "compare") start here.
START = (r"^\s*(?:(?:please|kindly|can|could|would|will|you|show|tell|me|us|i|we|want|to|see|know|list|give|"
         r"let|find|out|get|need|like|so|ok|okay|hi|hey)\s+)*")


def said_names(names: Iterable[str], text: str) -> str:
    """A regex group matching whichever of `names` the text says (longest first), at a word end.

    Only the names found in the text go in, so a question compiles a short pattern: one of every
    name a shop has (its fields, attributes, periods) took a cold `ask` 15-30 ms to compile
    (bench/RESULTS.md "Cold start"). A name the text lacks could not match anyway; blanking read
    words never makes one appear. With none said, the group never matches.
    """
    found = sorted((n for n in names if n in text), key=len, reverse=True)
    return "(" + "|".join(re.escape(n) for n in found) + r")\b" if found else "((?!))"


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
        becomes: for a spend, order or unit threshold ("spent over 1000"), what it counts when a
            window or a product attaches to it ("... in the last 90 days": purchase spend).
        objects: the other pieces of one verb's list of objects ("bought doormats or cushion
            covers in 2011"): a window said after the list is all of theirs.
    """

    start: int
    end: int
    conditions: list[Condition]
    attribute: str | None = None
    becomes: EventMeasure | None = None
    objects: list[Piece] = field(default_factory=list, repr=False, compare=False)

    @property
    def event(self) -> Condition | None:
        """The events condition this piece stands for, if it is one."""
        if len(self.conditions) == 1 and self.conditions[0].kind == "events":
            return self.conditions[0]
        return None


@dataclass
class WindowSpan:
    """A time window read in the question, waiting for the event or measure it belongs to.

    Attributes:
        start: offset in the normalised question.
        end: offset just past it.
        window: the window.
        notes: how an ambiguous phrase was read ("last quarter": the previous calendar quarter).
    """

    start: int
    end: int
    window: Window
    notes: list[str] = field(default_factory=list)


@dataclass
class Parse:
    """A parse in progress: the text still unread, and what was recognised."""

    text: str
    pieces: list[Piece] = field(default_factory=list)
    intent: Intent = "list"
    sort_by: str | None = None
    descending: bool = True
    limit: int | None = None
    windows: list[WindowSpan] = field(default_factory=list)
    measure: Measure | None = None
    measure_at: int = 0
    group_by: str | None = None
    groups: list[str] | None = None
    by_value: bool = False
    compare: bool = False
    share_base: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    kept: list[tuple[int, int]] = field(default_factory=list)
    # customers ranked by what they did: the piece whose events are measured, and the measure
    rank: tuple[Piece, EventMeasure] | None = None

    def take(self, start: int, end: int) -> None:
        """Blank out a recognised span so no later pass reads it again."""
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]

    def free(self, start: int, end: int) -> bool:
        """Whether no earlier pass has already read any of this span."""
        return "  " not in self.text[start:end].strip() and self.text[start:end].strip() != ""

    def add(self, start: int, end: int, conditions: list[Condition], *,
            attribute: str | None = None, becomes: EventMeasure | None = None) -> None:
        """Record a piece, negated when a negation closes the text before it, and blank it out."""
        neg = NEG_BEFORE.search(self.text, 0, start)
        if neg is not None:
            conditions = [c.model_copy(update={"negate": not c.negate}) for c in conditions]
            self.take(neg.start(), start)
        self.pieces.append(Piece(start, end, conditions, attribute, becomes))
        self.take(start, end)

    def keep(self, start: int, end: int) -> None:
        """Record a span as read but leave its words for the paraphrase mapper ("buy frequently")."""
        self.kept.append((start, end))

    def unread(self) -> str:
        """The text no pass has read (kept spans blanked too): where unknown words are looked for."""
        text = self.text
        for start, end in self.kept:
            text = text[:start] + " " * (end - start) + text[end:]
        return text

    def read(self, start: int, end: int) -> bool:
        """Whether a span was read already (blanked, or kept in the text)."""
        return not self.free(start, end) or any(a < end and start < b for a, b in self.kept)

    def note(self, text: str) -> None:
        """Say how an ambiguous phrase was read (shown with the answer), once."""
        if text not in self.notes:
            self.notes.append(text)


def field_condition(name: str, op: str, value: float | list[float]) -> Condition:
    """A comparison on one users-table field."""
    return Condition(kind="field", field=name, op=op, value=value)


TOKEN = compiled(r"[a-z0-9£$€¥][\w'+.-]*|[£$€¥%]")


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
    # "in the last month", "past week": one unit counted back; a bare "last month" is the
    # previous calendar month (agent/ask/_parse_windows.py)
    text = re.sub(r"\b((?:the|this)\s+(?:last|past)|past)\s+(day|week|month|year)\b", r"\1 1 \2", text)
    text = re.sub(r"\b(\d+(?:\.\d+)?|" + "|".join(WORD_NUMBERS) + r")\s+(?:grand|thousand)\b",
                  lambda m: str(round(number(m[1]) * 1000)), text)  # "a grand" = 1000
    # "bought from us once" is "bought once", "spent £50 with us" is "spent £50"
    text = re.sub(r"\b(bought|ordered|purchased|buy|order|purchase|spent|spend|spends|shopped)\s+"
                  r"(?:from|with)\s+us\b", r"\1", text)
    text = re.sub(r"\s+(?:on|with|from)\s+us\b(?=\s+(?:in|during|over|since|last|this)\b|\s*$)", "", text)
    text = re.sub(r"\b(ordered|bought|purchased|shopped)\s+(?:way\s+)?back\s+(in|during)\b", r"\1 \2",
                  text)  # "ordered back in 2010"
    text = re.sub(r"\b(\w+)'s\s+(customers|buyers|shoppers|households|members|clients)\b", r"\1 \2", text)
    return " " + SPACES.sub(" ", text).strip() + " "
