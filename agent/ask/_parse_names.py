"""Parser passes for names the glossary or the data define: glossary terms and their synonyms,
segment ids and names, and attribute values present in the data ("in Germany", "aged 25-34").
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from segmint.agent.ask._parse_products import NOUN_AFTER
from segmint.agent.ask._parse_text import STOPWORDS, Parse
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Catalogue, Condition
from segmint.agent.query.glossary import Glossary, Term

# Buying verbs are interchangeable inside a synonym: "stopped buying" also reads "stopped ordering".
VERB_CLASSES = (("bought", "purchased", "ordered", "shopped"),
                ("buying", "purchasing", "ordering", "shopping"))
VERB_CLASS = {verb: "(?:" + "|".join(group) + ")" for group in VERB_CLASSES for verb in group}
# Customers by any name inside a synonym: "best customers" also reads "best shoppers", "households".
CUSTOMER_NOUNS = ("(?:customers?|shoppers?|households?|clients?|buyers?|members?|accounts?|users?|people|"
                  "patrons?)")
VERB_CLASS.update({"customers": CUSTOMER_NOUNS, "customer": CUSTOMER_NOUNS})


@lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> tuple[str, str]:
    """A synonym as a regex (hyphen or space alike, buying verbs alike, customers by any name, a
    plural also read singular), and the longest text every match of it contains."""
    words = phrase.lower().replace("-", " ").split()
    parts, pieces = [], []
    for i, w in enumerate(words):
        if w in VERB_CLASS:
            parts.append(VERB_CLASS[w])
        elif i == len(words) - 1 and len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            parts.append(re.escape(w[:-1]) + "s?")
            pieces.append(w[:-1])
        else:  # typed without the apostrophe too: "havent bought recently"
            parts.append(re.escape(w).replace("'", "'?"))
            pieces += w.split("'")
    return r"(?<![\w-])" + r"[\s-]+".join(parts) + r"(?![\w-])", max(pieces, key=len, default="")


def _term_pattern(synonyms: tuple[tuple[str, str], ...], text: str
                  ) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    """One alternation of the synonyms that can occur in `text`, longest first, so the
    leftmost-longest one wins; None when none can. Only those are compiled: compiling every
    synonym was a large part of a cold `segmint ask` (bench/RESULTS.md "Cold start")."""
    return _alternation(tuple(s for s in synonyms if _phrase_pattern(s[0])[1] in text))


@lru_cache(maxsize=64)
def _alternation(synonyms: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    if not synonyms:
        return None
    ordered = sorted(synonyms, key=lambda s: -len(s[0]))
    alternation = "|".join(f"({_phrase_pattern(syn)[0]})" for syn, _ in ordered)
    return re.compile(alternation), tuple(key for _, key in ordered)


def read_terms(p: Parse, glossary: Glossary, cat: Catalogue) -> None:
    """Read glossary terms by any of their synonyms or their label, and campaign intents.

    Terms the workspace can answer are read first: a phrase shared with a term whose field the
    workspace lacks (p_alive without `--ltv`) never goes to that term.
    """
    fields = set(cat.numeric)
    answerable = glossary.answerable(fields) if fields else glossary
    _read_intents(p, answerable)
    for terms in (answerable.terms, {k: t for k, t in glossary.terms.items() if k not in answerable.terms}):
        found = _term_pattern(_synonyms(terms), p.text)
        if found is None:
            continue
        pattern, keys = found
        for m in list(pattern.finditer(p.text)):
            if p.free(*m.span()) and m.lastindex is not None:
                p.add(*m.span(), [Condition(kind="term", term=keys[m.lastindex - 1])])


def _synonyms(terms: dict[str, Term]) -> tuple[tuple[str, str], ...]:
    return tuple((syn, key) for key, term in terms.items() for syn in (*term.synonyms, term.label))


# Words that only frame a campaign ("who should I send a win-back email to?"): read only once an
# intent is read, so "customers with an email" is never silently dropped.
FRAMING = compiled(r"\b(?:e-?mails?|mail(?:ing|shot)?s?|campaigns?|offers?|messages?|promotions?|promos?|"
                     r"newsletters?|push(?:es)?|flows?|audiences?|lists?|targets?|targeting|send|sent|"
                     r"should|could|worth|contact|reach out to|invite|include|run|running|plan|"
                     r"planning|candidates?|good for|suitable for|right for|fit for|coupons?|vouchers?|"
                     r"discounts?|deals?|rewards?|get|receive|deserve|good|ideal|great)\b")


def _read_intents(p: Parse, glossary: Glossary) -> None:
    synonyms = tuple((syn, key) for key, intent in glossary.intents.items() for syn in intent.synonyms)
    read = _term_pattern(synonyms, p.text)
    if read is None:
        return
    pattern, keys = read
    found = False
    for m in list(pattern.finditer(p.text)):
        if p.free(*m.span()) and m.lastindex is not None:
            intent = glossary.intents[keys[m.lastindex - 1]]
            p.add(*m.span(), [Condition(kind="term", term=t) for t in intent.terms])
            labels = " and ".join(glossary.terms[t].label for t in intent.terms)
            p.note(f"“{m[0].strip()}” is read as {labels}: {intent.why}")
            found = True
    if found:
        for m in list(FRAMING.finditer(p.text)):
            if p.free(*m.span()):
                p.take(*m.span())


SEGMENT_ID = compiled(r"\b(?:segment|cluster)\s+(?:#|id\s+|number\s+|no\.?\s+)?([\w-]+)")
SEGMENT_NAME = compiled(r"\b(?:in|from)\s+(?:the\s+)?([\w' -]+?)\s+segment\b")
SEGMENT_WORD = compiled(r"(?<=\s)(?:segment|cluster|group)s?\b")
WORDS_BEFORE = compiled(r"((?:[^\s]+\s){1,8})$")
NAME_WORD = compiled(r"[a-z0-9]+")
BUYER_NOUN = compiled(r"\s" + NOUN_AFTER.pattern[len("(?<=\\s)"):])


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def read_segments(p: Parse, cat: Catalogue, glossary: Glossary) -> None:
    """Read "segment 3", words of a name before "segment" ("the Christmas card segment"), a name
    holding a glossary word ("Active · Pencils"), or "in the <close spelling> segment".

    Runs before the glossary, so "active" of "Active · Pencils" is the segment's. Other names
    ("Lunch bags", "Coffee") are read later, after what customers bought (`read_segment_words`).
    """
    for m in list(SEGMENT_ID.finditer(p.text)):
        if m[1] in cat.segments:
            p.add(*m.span(), [Condition(kind="segment", segment=m[1])])
    names = _names(cat)
    _read_name_words(p, names)
    _read_full_names(p, {n: sid for n, sid in names.items() if _holds_term(n, glossary)}, cat)
    for m in list(SEGMENT_NAME.finditer(p.text)):
        close = difflib.get_close_matches(m[1].strip(), list(names), n=1, cutoff=0.75)
        if close and p.free(*m.span(1)):
            p.add(*m.span(1), [Condition(kind="segment", segment=names[close[0]])])


def read_segment_words(p: Parse, cat: Catalogue) -> None:
    """Segment names left after the product passes: "lapsed customers in Coffee"."""
    _read_full_names(p, _names(cat), cat)


def _holds_term(name: str, glossary: Glossary) -> bool:
    found = _term_pattern(_synonyms(glossary.terms), f" {name} ")
    return found is not None and found[0].search(f" {name} ") is not None


def _names(cat: Catalogue) -> dict[str, str]:
    return {name.lower(): sid for sid, name in cat.segments.items() if name.strip()}


def _read_full_names(p: Parse, names: dict[str, str], cat: Catalogue) -> None:
    labels = "|".join(re.escape(w) for a in cat.text for w in {a.replace("_", " "), a.split("_")[-1]})
    # "top category is Coffee" is the attribute, not the segment named Coffee
    after_label = re.compile(rf"\b(?:{labels})\s+(?:is\s+|of\s+|=\s*|:\s*)?$") if labels else None
    for name in sorted(names, key=len, reverse=True):
        pattern, anchor = _phrase_pattern(name)
        if anchor not in p.text:
            continue  # cannot match: not compiled
        for m in list(re.finditer(pattern, p.text)):
            if BUYER_NOUN.match(p.text, m.end()):
                continue  # "tea drinkers" buy tea (agent/ask/_parse_products.py)
            if p.free(*m.span()) and not (after_label and after_label.search(p.text, 0, m.start())):
                p.add(*m.span(), [Condition(kind="segment", segment=names[name])])


def _read_name_words(p: Parse, names: dict[str, str]) -> None:
    """The words before "segment" that belong to one segment's name only."""
    words_of = {sid: {_stem(w) for w in NAME_WORD.findall(name)} for name, sid in names.items()}
    for m in list(SEGMENT_WORD.finditer(p.text)):
        run = WORDS_BEFORE.search(p.text, 0, m.start())
        if run is None:
            continue
        said = run[1].split()
        for k in range(len(said), 0, -1):  # the longest run of words that names one segment
            content = [_stem(w) for x in said[-k:] if x not in STOPWORDS for w in NAME_WORD.findall(x)]
            if not content or said[-k] in STOPWORDS:
                continue
            hits = [sid for sid, words in words_of.items() if set(content) <= words]
            if len(hits) == 1:
                start = m.start() - len(" ".join(said[-k:])) - 1
                p.add(start, m.end(), [Condition(kind="segment", segment=hits[0])])
                break


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
    "homeowner": ("home owners", "home owner", "owns their home", "own their home", "own their homes",
                  "owns a home", "own a home"),
    "renter": ("rents their home", "rent their home", "rent their homes", "renting"),
}
AGE_RANGE = compiled(r"^(\d+)\s*-\s*(\d+)$")
AGE_OPEN = compiled(r"^(\d+)\s*\+$")
AGE_SUFFIX = r"(?:\s*(?:year[- ]olds?|years? old|years|yo|y/o|s))?"


def _value_forms(value: str, name: str) -> list[tuple[str, str]]:
    """How a value may be written: as in the data, an everyday alias, or an age band in words;
    each form with a word that every match of it contains."""
    low = value.lower()
    words = low.replace("-", " ").split()
    form = r"[\s-]+".join(re.escape(w) for w in words)
    if re.fullmatch(r"[a-z]{4,}", words[-1] if words else ""):
        form += "s?"  # "renters", "homeowners"
    forms = [(words[0] if words else "", form)]
    forms += [(a.split()[0], r"[\s-]+".join(re.escape(w) for w in a.split()))
              for a in VALUE_ALIASES.get(low, ())]
    if "age" in name.split("_"):
        if m := AGE_RANGE.match(low):
            forms.append((m[1], rf"(?:between\s+)?{m[1]}\s*(?:-|–|to|and)\s*{m[2]}{AGE_SUFFIX}"))
        elif m := AGE_OPEN.match(low):
            forms.append((m[1], rf"(?:{m[1]}\s*\+|{m[1]}\s+(?:and|or)\s+(?:over|older|above|up)|"
                                rf"{m[1]}\s+plus|(?:over|above|older than)[\s-]+{m[1]}){AGE_SUFFIX}"))
    return forms


def _value_pattern(name: str, forms: list[tuple[str, str]]) -> str:
    """A value's forms, with or without the attribute's name before or after ("region is North")."""
    words = name.replace("_", " ")
    labels = "|".join(dict.fromkeys((re.escape(words), re.escape(name), re.escape(words.split()[-1]))))
    prefix = rf"(?:(?:{labels})\s+(?:is\s+|of\s+|=\s*|:\s*)?)?"
    if "age" in name.split("_"):
        prefix = rf"(?:(?:aged|ages?|{labels})\s+(?:is\s+|of\s+|=\s*|:\s*)?)?"
    suffix = rf"(?:\s+(?:{labels})(?:\s+(?:band|group|range|bracket|level))?)?"
    body = "|".join(sorted((f for _, f in forms), key=len, reverse=True))
    return rf"(?<![\w-]){prefix}(?:{body}){suffix}(?![\w-])"


@lru_cache(maxsize=1024)
def _value_regex(value: str, name: str) -> re.Pattern[str]:
    return re.compile(_value_pattern(name, _value_forms(value, name)))


def read_values(p: Parse, cat: Catalogue) -> None:
    """Read attribute values the workspace has, longest first, as `field = value`."""
    values = sorted(((v, name) for name, vals in cat.attribute_values.items() for v in vals
                     if len(v.strip()) > 1), key=lambda v: -len(v[0]))
    for value, name in values:
        # Only a value whose words are in the question is compiled: compiling every value's
        # pattern was most of a cold `segmint ask` (bench/RESULTS.md "Cold start").
        if not any(anchor in p.text for anchor, _ in _value_forms(value, name)):
            continue
        pattern = _value_regex(value, name)
        for m in list(pattern.finditer(p.text)):
            if BUYER_NOUN.match(p.text, m.end()) and m[0].strip() == value.lower() in cat.product_words:
                continue  # "tea drinkers" buy tea; "French buyers" are in France
            if p.free(*m.span()):
                p.add(*m.span(), [Condition(kind="field", field=name, op="=", value=value)],
                      attribute=name)
