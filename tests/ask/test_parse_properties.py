"""Properties of the built-in parser over generated questions: it refuses rather than guesses, it
is deterministic, and framing words ("please", "show me") never change what it reads."""

from __future__ import annotations

from _parse_catalogues import GIFTS, GROCER, SAMPLE, same
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.agent.ask._parse_text import STOPWORDS
from segmint.agent.ask.parser import parse
from segmint.agent.query.glossary import load_glossary

# Questions the rules read, over the three shops (interest and search phrases are excluded: what
# customers typed into a search box is free text, so any word may belong to one).
UNDERSTOOD = [
    (GIFTS, "who bought teapots in November 2011?"),
    (GIFTS, "lapsed teapot buyers in Germany"),
    (GIFTS, "customers who spent over £1,000 in the last 90 days"),
    (GIFTS, "customers who bought teapots but never a cake stand"),
    (GIFTS, "what is the average order value of German customers?"),
    (GIFTS, "which segment has the most lapsed customers?"),
    (GIFTS, "compare average revenue France vs Germany"),
    (GIFTS, "customers whose first order was in 2011"),
    (GIFTS, "top 5 countries by revenue"),
    (GIFTS, "how many high spenders haven't ordered since September?"),
    (SAMPLE, "who viewed yoga mats but never bought one?"),
    (SAMPLE, "customers who added to cart in the last 30 days but bought nothing in the last 30 days"),
    (SAMPLE, "revenue by region in 2026"),
    (SAMPLE, "women aged 25-34 who bought running shoes at least twice"),
    (GROCER, "households who buy frozen pizza"),
    (GROCER, "which income band spends the most on average?"),
    (GROCER, "new households this month"),
]
KNOWN = STOPWORDS | GIFTS.product_words | SAMPLE.product_words | GROCER.product_words
# Words without a vowel are no English word, no name and no number: nobody's vocabulary.
NONSENSE = st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=4, max_size=10).filter(lambda w: w not in KNOWN)


def test_the_base_questions_are_understood() -> None:
    for cat, question in UNDERSTOOD:
        assert parse(question, load_glossary(), cat).unknown == [], question


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(UNDERSTOOD), NONSENSE, st.integers(min_value=0, max_value=30))
def test_a_question_with_an_unknown_word_is_refused(item: tuple, word: str, at: int) -> None:
    cat, question = item
    words = question.split()
    words.insert(at % (len(words) + 1), word)
    parsed = parse(" ".join(words), load_glossary(), cat)
    assert word in parsed.unknown


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(UNDERSTOOD),
       st.sampled_from(["please ", "show me ", "can you show me ", "could you list ", "I want to see "]),
       st.sampled_from(["", " please", ", please"]))
def test_framing_words_do_not_change_the_reading(item: tuple, before: str, after: str) -> None:
    cat, question = item
    plain = parse(question, load_glossary(), cat)
    framed = parse(before + question.rstrip("?") + after, load_glossary(), cat)
    assert framed.unknown == [] and same(framed.spec, plain.spec)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(UNDERSTOOD))
def test_the_parse_is_deterministic(item: tuple) -> None:
    cat, question = item
    first = parse(question, load_glossary(), cat)
    again = parse(question, load_glossary(), cat)
    assert first.spec == again.spec and first.notes == again.notes and first.unknown == again.unknown


def test_questions_the_rules_read_never_load_the_encoder() -> None:
    def never() -> None:
        raise AssertionError("the encoder was loaded for a question the rules read")

    for cat, question in UNDERSTOOD:
        assert parse(question, load_glossary(), cat, mapper=never).unknown == []
    # nor for one refused for a window that belongs to nothing: no paraphrase could help it
    assert parse("high spenders xqzv in the last 30 days", load_glossary(), GIFTS, mapper=never).unknown
