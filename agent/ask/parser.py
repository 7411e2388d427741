"""The built-in question parser: plain words -> QuerySpec, offline and deterministic.

It reads, in order: intent, the table's grouping ("by country", "France vs Germany", "which
segment has the most ..."), ranking (top-N, sort), explicit numbers with units (which override a
glossary term's default threshold), time windows, first/last-order cohorts, the number asked for
("average order value"), glossary terms and campaign intents, segment references, what customers
did ("bought teapots", "viewed but never bought"), interests, attribute values present in the
data ("in Germany", "aged 25-34"), and product nouns ("teapot buyers"). Each recognised piece is
blanked out of the working text so no later pass reads it twice, and remembers where it stood, so
negation ("not", "except those in") and "or" can be read from the words around it; windows and
thresholds then go to the event or measure they belong to. Whatever remains is checked for words
nobody understood: the parser refuses rather than guesses, and says how it read an ambiguous
phrase ("last quarter", "new customers this month") in `Parsed.notes`.

The passes live in private modules over the shared state of `_parse_text`: `_parse_ranking`
(intent, ranking), `_parse_groups`, `_parse_numbers`, `_parse_windows`, `_parse_cohorts`,
`_parse_measures`, `_parse_names` (terms, intents, segments, attribute values), `_parse_events`
and `_parse_products`, `_parse_interests`; `_parse_attach` gives windows and thresholds to what
they belong to and `_parse_combine` turns the pieces into the spec ("or" groups, overrides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from segmint.agent.ask._parse_attach import attach_windows, merge_thresholds
from segmint.agent.ask._parse_cohorts import read_cohorts
from segmint.agent.ask._parse_combine import build_spec
from segmint.agent.ask._parse_events import read_events, read_visits
from segmint.agent.ask._parse_groups import read_groups
from segmint.agent.ask._parse_interests import read_interests
from segmint.agent.ask._parse_measures import read_measures
from segmint.agent.ask._parse_names import read_segment_words, read_segments, read_terms, read_values
from segmint.agent.ask._parse_numbers import read_numbers
from segmint.agent.ask._parse_products import read_product_nouns
from segmint.agent.ask._parse_rank import read_event_ranking
from segmint.agent.ask._parse_ranking import read_intent, read_ranking
from segmint.agent.ask._parse_text import Parse, normalise, unknown_words
from segmint.agent.ask._parse_totals import read_product_totals
from segmint.agent.ask._parse_windows import read_windows
from segmint.agent.ask.paraphrase import PhraseMapper, Rewrite, coverable, default_mapper
from segmint.agent.ask.paraphrase import apply as apply_rewrites
from segmint.agent.query import Catalogue, Condition, QuerySpec
from segmint.agent.query.glossary import Glossary

__all__ = ["Parsed", "normalise", "parse", "parse_question", "unknown_words"]


def _passes(glossary: Glossary, cat: Catalogue) -> Iterable[Callable[[Parse], None]]:
    # before the intent pass, which reads "how many" ("how many teapots did we sell")
    yield lambda p: read_product_totals(p, cat.product_words)
    yield read_intent
    yield lambda p: read_groups(p, cat)
    yield lambda p: read_event_ranking(p, cat.product_words)
    yield read_ranking
    yield read_numbers
    yield lambda p: read_windows(p, cat.as_of)
    yield read_cohorts
    yield lambda p: read_visits(p, cat.product_words)
    yield lambda p: read_measures(p, cat)
    yield lambda p: read_segments(p, cat, glossary)
    yield lambda p: read_terms(p, glossary, cat)
    yield lambda p: read_events(p, cat.product_words)
    yield read_interests
    yield lambda p: read_segment_words(p, cat)
    yield lambda p: read_values(p, cat)
    yield lambda p: _product_nouns(p, cat.product_words)
    yield merge_thresholds
    yield lambda p: attach_windows(p, glossary)


def _product_nouns(p: Parse, words: frozenset[str]) -> None:
    """"teapot buyers", "customers of cake stands": purchases of the product."""
    for start, end, phrase in read_product_nouns(p, words):
        p.add(start, end, [Condition(kind="events", event="purchase", product=phrase.text,
                                     match="meaning" if phrase.meaning else "exact")])


@dataclass
class Parsed:
    """What the parser made of a question.

    Attributes:
        spec: the query.
        unknown: words left unrecognised (the caller refuses when there are any).
        rewrites: runs of words read as glossary synonyms by meaning (see agent/ask/paraphrase.py).
        notes: how ambiguous phrases were read ("last quarter" is the previous calendar quarter).
    """

    spec: QuerySpec
    unknown: list[str]
    rewrites: list[Rewrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
    residual = unknown_words(p.unread())
    # a verb kept in the text for the mapper ("buy frequently") is read, not unknown
    kept = {p.text[a:b] for a, b in p.kept}

    def is_unknown(word: str) -> bool:
        return word not in kept and _is_unknown(word)

    phrase_mapper = None
    # a window that belongs to nothing is refused whatever the mapper reads: do not load it then
    if residual and not p.refused and mapper is not None and coverable(p.text, is_unknown):
        phrase_mapper = mapper()
    rewrites = []
    if phrase_mapper is not None:
        # only terms this workspace can answer are candidates (no p_alive without --ltv)
        answerable = glossary.answerable(set(cat.numeric)) if cat.numeric else glossary
        rewrites = phrase_mapper.rewrite(text, p.text, is_unknown, answerable)
        if rewrites:
            p = _read(apply_rewrites(text, rewrites), glossary, cat)
    spec = build_spec(p, glossary)
    return Parsed(spec, unknown_words(p.unread()) + p.refused, rewrites, p.notes)


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
