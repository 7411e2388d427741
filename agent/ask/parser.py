"""The built-in question parser: plain words -> QuerySpec, offline and deterministic.

It reads, in order: intent, ranking (top-N, sort), explicit numbers with units (which override a
glossary term's default threshold), glossary terms and synonyms, segment references, interests
("who buys candles") and attribute values present in the data ("in Germany", "aged 25-34").
Each recognised piece is blanked out of the working text so no later pass reads it twice, and
remembers where it stood, so negation ("not", "except those in") and "or" can be read from the
words around it. Whatever remains is checked for words nobody understood: the parser refuses
rather than guesses.

The passes live in private modules: `_parse_ranking` (intent, ranking), `_parse_numbers`,
`_parse_names` (terms, segments, attribute values) and `_parse_interests`, over the shared state
of `_parse_text`; `_parse_combine` turns the pieces into the spec ("or" groups, overrides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from segmint.agent.ask._parse_combine import build_spec
from segmint.agent.ask._parse_interests import read_interests
from segmint.agent.ask._parse_names import read_segments, read_terms, read_values
from segmint.agent.ask._parse_numbers import read_numbers
from segmint.agent.ask._parse_ranking import read_intent, read_ranking
from segmint.agent.ask._parse_text import Parse, normalise, unknown_words
from segmint.agent.ask.paraphrase import PhraseMapper, Rewrite, coverable, default_mapper
from segmint.agent.ask.paraphrase import apply as apply_rewrites
from segmint.agent.query import Catalogue, QuerySpec
from segmint.agent.query.glossary import Glossary

__all__ = ["Parsed", "normalise", "parse", "parse_question", "unknown_words"]


def _passes(glossary: Glossary, cat: Catalogue) -> Iterable[Callable[[Parse], None]]:
    yield read_intent
    yield read_ranking
    yield read_numbers
    yield lambda p: read_terms(p, glossary)
    yield lambda p: read_segments(p, cat)
    yield read_interests
    yield lambda p: read_values(p, cat)


@dataclass
class Parsed:
    """What the parser made of a question.

    Attributes:
        spec: the query.
        unknown: words left unrecognised (the caller refuses when there are any).
        rewrites: runs of words read as glossary synonyms by meaning (see agent/ask/paraphrase.py).
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
        return Parsed(build_spec(p, glossary), unknown)
    rewrites = phrase_mapper.rewrite(text, p.text, _is_unknown, glossary)
    if not rewrites:
        return Parsed(build_spec(p, glossary), unknown)
    p = _read(apply_rewrites(text, rewrites), glossary, cat)
    return Parsed(build_spec(p, glossary), unknown_words(p.text), rewrites)


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
