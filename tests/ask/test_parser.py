"""The built-in parser's rules one by one, and the paraphrase mapping with a stand-in encoder.

The catalogue here names no product words: any phrase after a verb is read (test_parse_events.py
checks phrases against a shop's products)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from segmint.agent.ask.paraphrase import PhraseMapper, candidate_spans
from segmint.agent.ask.parser import normalise, parse, parse_question, unknown_words
from segmint.agent.core.arrays import F32 as Vectors
from segmint.agent.core.schema import NUMERIC_FEATURES
from segmint.agent.query import Catalogue, Condition, Measure, QuerySpec
from segmint.agent.query.glossary import load_glossary

CAT = Catalogue(numeric=list(NUMERIC_FEATURES), text=["country", "top_category", "age_band"],
                attribute_values={"country": ["Germany", "France", "United Kingdom", "EIRE", "USA"],
                                  "top_category": ["Coffee", "Tea"],
                                  "age_band": ["18-24", "25-34", "55+"]})


def rules(question: str) -> tuple[QuerySpec, list[str]]:
    return parse_question(question, load_glossary(), CAT, paraphrase=False)


def groups(question: str) -> list[list[str]]:
    spec, unknown = rules(question)
    assert unknown == [], unknown
    return [sorted(_short(c) for c in g) for g in spec.any_of]


def _short(c: Condition) -> str:
    neg = "not " if c.negate else ""
    if c.kind == "term":
        return f"{neg}{c.term}"
    if c.kind == "field":
        return f"{neg}{c.field} {c.op} {c.value}"
    if c.kind == "events":
        return f"{neg}{c.event} {c.product}"
    return f"{neg}{c.kind} {c.interest or c.segment}"


@pytest.mark.parametrize(("question", "expected"), [
    ("high spenders who are not lapsed", [["high_spenders", "not lapsed"]]),
    ("lapsed customers except those in France", [["lapsed", "not country = France"]]),
    ("non-UK VIPs", [["high_spenders", "not country = United Kingdom"]]),
    ("customers who never bought candles", [["not purchase candles"]]),
    ("customers not in France or Germany", [["not country in ['France', 'Germany']"]]),
])
def test_negation_attaches_to_the_piece_after_it(question: str, expected: list[list[str]]) -> None:
    assert groups(question) == expected


@pytest.mark.parametrize("question", [
    "customers who are not",          # a negation with nothing to negate
    "lapsed customers 2024",          # a number nobody read
    "customers who bought candles recently",  # a time window on an interest: not expressible
    "high spenders in the last 30 days",
    "customers who spent 500",        # no comparison given
])
def test_words_left_over_are_refused_not_dropped(question: str) -> None:
    _, unknown = rules(question)
    assert unknown


def test_or_distributes_over_the_rest_of_the_question() -> None:
    assert groups("high spenders who are lapsed or at risk") == [
        ["high_spenders", "lapsed"], ["at_risk", "high_spenders"]]
    assert groups("customers in France, Germany and EIRE") == [
        ["country in ['France', 'Germany', 'EIRE']"]]


def test_products_after_a_verb_win_over_attribute_values() -> None:
    assert groups("who buys coffee") == [["purchase coffee"]]
    assert groups("customers whose top category is Coffee") == [["top_category = Coffee"]]
    assert groups("tea lovers") == [["interest tea"]]
    assert groups("who bought candles or lanterns") == [["purchase candles"], ["purchase lanterns"]]
    assert groups("customers interested in coffee") == [["interest coffee"]]


def test_an_explicit_number_replaces_the_default_it_refines() -> None:
    assert groups("high spenders who spent more than £5,000") == [["revenue > 5000.0"]]
    assert groups("at risk customers who haven't bought in 60 days") == [
        ["orders >= 2.0", "recency_days > 60.0"]]
    assert groups("lapsed customers in France") == [["country = France", "lapsed"]]


@pytest.mark.parametrize(("question", "expected"), [
    ("haven't bought in the last month", "recency_days > 30.0"),
    ("customers who ordered 3 times", "orders = 3.0"),
    ("customers with orders > 5", "orders > 5.0"),
    ("spent 1.5k or more", "revenue >= 1500.0"),
    ("customers aged 25 to 34", "age_band = 25-34"),
    ("customers over 55", "age_band = 55+"),
    ("US customers", "country = USA"),
    ("Irish customers", "country = EIRE"),
    # products bought are distinct purchased products, not units and not products only viewed
    ("customers who bought more than 10 different products", "products_bought > 10.0"),
    ("bought at least 5 distinct products", "products_bought >= 5.0"),
    ("customers who bought 20 or more products", "products_bought >= 20.0"),
    ("customers who bought more than 100 items", "units > 100.0"),
    ("customers with more than 12 items per order", "units_per_order > 12.0"),
    ("customers with more than 5 views", "n_view > 5.0"),
    ("customers with at least 3 searches", "n_search >= 3.0"),
    # against the field's mean, resolved when the question runs (agent/query/compile.py)
    ("customers who spent more than average", "revenue > average"),
    ("customers with above-average order value", "aov > average"),
    ("customers whose average order value is below the average", "aov < average"),
])
def test_numbers_units_and_value_words(question: str, expected: str) -> None:
    assert groups(question) == [[expected]]


@pytest.mark.parametrize("question", ["average number of items per order", "the average basket size",
                                      "mean units per order"])
def test_items_per_order_is_its_own_pooled_measure_not_order_value(question: str) -> None:
    spec, unknown = rules(question)
    assert (spec.measure, unknown) == (Measure(agg="mean", field="units_per_order"), [])


def test_ranking_phrasings() -> None:
    spec, _ = rules("bottom 5 customers by orders")
    assert (spec.intent, spec.sort_by, spec.limit, spec.descending) == ("top", "orders", 5, False)
    spec, _ = rules("which 3 customers spent the most")
    assert (spec.intent, spec.sort_by, spec.limit) == ("top", "revenue", 3)
    spec, _ = rules("customers with the highest revenue")
    assert (spec.intent, spec.sort_by, spec.limit) == ("list", "revenue", None)
    spec, unknown = rules("which customers bought the most items?")
    assert (spec.sort_by, spec.descending, unknown) == ("units", True, [])


@pytest.mark.parametrize(("question", "limit"), [
    ("show me 20 lapsed customers", 20),
    ("list the first 100 high spenders", 100),
    ("list one-off buyers", None),          # "one" of "one-off" is no limit
    ("show me a list of lapsed customers", None),
    ("customers who purchased just one time", None),
])
def test_limits(question: str, limit: int | None) -> None:
    spec, unknown = rules(question)
    assert unknown == [] and spec.limit == limit


def test_and_between_terms_no_one_can_meet_together_means_both_lists() -> None:
    assert groups("churned customers and at risk customers") == [["lapsed"], ["at_risk"]]
    assert groups("one-time and repeat buyers") == [["one_time_buyers"], ["repeat_buyers"]]
    assert groups("high spenders and low spenders") == [["high_spenders"], ["low_spenders"]]
    assert groups("high spenders and frequent buyers") == [["frequent", "high_spenders"]]


def test_normalise_is_idempotent() -> None:
    text = normalise("Non-UK VIPs who haven’t bought in the last month?")
    assert normalise(text) == text and "1 month" in text and "non uk" in text


def test_parser_is_fast_and_deterministic() -> None:
    question = "lapsed or at-risk high spenders in France, Germany or EIRE who spent over £2k"
    first = rules(question)
    start = time.perf_counter()
    for _ in range(50):
        assert rules(question) == first
    assert (time.perf_counter() - start) / 50 < 0.02


# ---------------------------------------------------------------- paraphrase mapping


def fake_encoder(aliases: dict[str, str],
                 blend: dict[str, tuple[str, float]] | None = None) -> Callable[[list[str]], Vectors]:
    """A stand-in encoder: every text a fixed random direction (near-orthogonal in 512 dims).

    `aliases` give a text the same direction as another, `blend` a chosen cosine with another.
    """
    blend = blend or {}

    def direction(text: str) -> Vectors:
        v = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(512)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def encode(texts: list[str]) -> Vectors:
        rows = []
        for text in texts:
            if text in blend:
                other, cos = blend[text]
                a, b = direction(other), direction(text)
                b = b - (b @ a) * a
                b /= np.linalg.norm(b)
                rows.append(cos * a + np.sqrt(1 - cos ** 2) * b)
            else:
                rows.append(direction(aliases.get(text, text)))
        return np.array(rows, dtype=np.float32)

    return encode


def mapped(question: str, mapper: PhraseMapper) -> tuple[QuerySpec, list[str]]:
    parsed = parse(question, load_glossary(), CAT, mapper=lambda: mapper)
    return parsed.spec, parsed.unknown


def test_a_close_paraphrase_is_read_as_its_synonym() -> None:
    mapper = PhraseMapper(fake_encoder({"went silent": "went quiet"}))
    spec, unknown = mapped("customers in France who went silent", mapper)
    assert unknown == []
    assert sorted(map(_short, spec.any_of[0])) == ["country = France", "lapsed"]


def test_below_threshold_or_without_margin_stays_unknown() -> None:
    weak = PhraseMapper(fake_encoder({}, {"went silent": ("went quiet", 0.7)}), threshold=0.77)
    assert mapped("customers who went silent", weak)[1] == ["went", "silent"]
    strong = PhraseMapper(fake_encoder({}, {"went silent": ("went quiet", 0.9)}), threshold=0.77)
    assert mapped("customers who went silent", strong)[1] == []
    # as close to a synonym of another term: ambiguous, so no mapping
    torn = PhraseMapper(fake_encoder({"went silent": "went quiet", "gone quiet": "went quiet",
                                      "going quiet": "went quiet"}))
    assert mapped("customers who went silent", torn)[1] == ["went", "silent"]


def test_polarity_must_agree() -> None:
    mapper = PhraseMapper(fake_encoder({"haven't come back": "came back"}))
    spec, unknown = mapped("customers who haven't come back", mapper)
    assert unknown and spec.any_of == []


def test_a_fragment_is_never_read_out_of_its_clause() -> None:
    # "risk" alone would map onto "at risk", but "high ... fraud" stay unexplained
    mapper = PhraseMapper(fake_encoder({"risk": "at risk"}))
    assert mapped("customers at high risk of fraud", mapper)[1]
    residual = normalise("customers who went silent and faithful customers")
    spans = [residual[s:e] for s, e in candidate_spans(residual, lambda w: bool(unknown_words(w)))]
    assert "went silent" in spans and "faithful customers" in spans
    assert not any(s.startswith("customers") for s in spans)


def test_the_encoder_is_loaded_only_for_unknown_words() -> None:
    def never() -> PhraseMapper:
        raise AssertionError("the encoder was loaded for a question the rules understood")

    parsed = parse("lapsed high spenders in Germany", load_glossary(), CAT, mapper=never)
    assert parsed.unknown == [] and parsed.rewrites == []


def test_the_encoder_is_not_loaded_when_no_mapping_could_explain_the_question() -> None:
    def never() -> PhraseMapper:
        raise AssertionError("the encoder was loaded for a question it cannot help with")

    # five unknown words in one clause: longer than any run a synonym may replace
    parsed = parse("new products launched this week", load_glossary(), CAT, mapper=never)
    assert parsed.unknown and parsed.rewrites == []
