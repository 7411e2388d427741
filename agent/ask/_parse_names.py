"""Parser passes for names the glossary or the data define: glossary terms and their synonyms,
segment ids and names, and attribute values present in the data ("in Germany", "aged 25-34").
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from segmint.agent.ask._parse_text import Parse
from segmint.agent.query import Catalogue, Condition
from segmint.agent.query.glossary import Glossary

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


def read_terms(p: Parse, glossary: Glossary) -> None:
    """Read glossary terms by any of their synonyms or their label."""
    synonyms = tuple((syn, key) for key, term in glossary.terms.items()
                     for syn in (*term.synonyms, term.label))
    pattern, keys = _term_pattern(synonyms)
    for m in list(pattern.finditer(p.text)):
        if p.free(*m.span()) and m.lastindex is not None:
            p.add(*m.span(), [Condition(kind="term", term=keys[m.lastindex - 1])])


SEGMENT_ID = re.compile(r"\bsegment\s+(?:#|id\s+|number\s+|no\.?\s+)?([\w-]+)")
SEGMENT_NAME = re.compile(r"\b(?:in|from)\s+(?:the\s+)?([\w' -]+?)\s+segment\b")


def read_segments(p: Parse, cat: Catalogue) -> None:
    """Read "segment 3", a segment's name, or "in the <close spelling> segment"."""
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


def read_values(p: Parse, cat: Catalogue) -> None:
    """Read attribute values the workspace has, longest first, as `field = value`."""
    values = tuple((v, name) for name, vals in cat.attribute_values.items() for v in vals
                   if len(v.strip()) > 1)
    for pattern, name, value in _value_patterns(values):
        for m in list(pattern.finditer(p.text)):
            if p.free(*m.span()):
                p.add(*m.span(), [Condition(kind="field", field=name, op="=", value=value)],
                      attribute=name)
