"""The glossary's words in every form, campaign intents, customers by other names, segment names,
and terms the workspace cannot answer (docs/definitions.md "Business terms")."""

from __future__ import annotations

import pytest
from _parse_catalogues import GIFTS, GROCER, SAMPLE, attr, ev, field, same, spec, term
from test_parser import fake_encoder

from segmint.agent.ask.paraphrase import PhraseMapper
from segmint.agent.ask.parser import parse
from segmint.agent.query import Catalogue, Condition, QuerySpec
from segmint.agent.query.glossary import load_glossary


def read(question: str, cat: Catalogue) -> QuerySpec:
    parsed = parse(question, load_glossary(), cat)
    assert parsed.unknown == [], parsed.unknown
    return parsed.spec


def segment(sid: str) -> Condition:
    return Condition(kind="segment", segment=sid)


@pytest.mark.parametrize(("question", "cat", "expected"), [
    # glossary terms in singular, plural and adjective forms
    ("one-time customers", GIFTS, spec([term("one_time_buyers")])),
    ("which customers bought only once?", GIFTS, spec([term("one_time_buyers")])),
    ("which customers placed only one order?", GIFTS, spec([field("orders", "=", 1)])),
    ("single-order households", GROCER, spec([term("one_time_buyers")])),
    ("repeat shoppers in Germany", GIFTS, spec([term("repeat_buyers"), attr("country", "Germany")])),
    ("lapsed households", GROCER, spec([term("lapsed")])),
    ("which VIP customers have gone dormant?", GIFTS, spec([term("high_spenders"), term("lapsed")])),
    ("our biggest spenders who've gone quiet", GIFTS, spec([term("high_spenders"), term("lapsed")])),
    ("who are our best shoppers?", GROCER, spec([term("high_spenders")])),
    ("who's slipping away?", GIFTS, spec([term("at_risk")])),
    ("any Spanish customers who keep coming back?", GIFTS,
     spec([attr("country", "Spain"), term("repeat_buyers")])),
    # customers by other names
    ("lapsed shoppers", GIFTS, spec([term("lapsed")])),
    ("high-value members in France", GIFTS, spec([term("high_spenders"), attr("country", "France")])),
    ("which accounts are at risk?", GIFTS, spec([term("at_risk")])),
    ("active clients", GIFTS, spec([term("active")])),
    ("patrons who bought teapots", GIFTS, spec([ev(product="teapots")])),
    ("subscribers who haven't bought recently", GIFTS, spec([term("lapsed")])),
    ("which German shops bought chalkboards from us?", GIFTS,
     spec([attr("country", "Germany"), ev(product="chalkboards")])),
    ("married households with 5+ members", GROCER,
     spec([attr("marital_status", "Married"), attr("household_size", "5+")])),
    ("renters who bought diapers", GROCER, spec([attr("home_ownership", "Renter"), ev(product="diapers")])),
    ("households in the 45-54 age band", GROCER, spec([attr("age", "45-54")])),
    # segments by id, by name, by words of the name
    ("customers in segment 2", GIFTS, spec([segment("2")])),
    ("lapsed customers in the Christmas decorations segment", GIFTS, spec([term("lapsed"), segment("1")])),
    ("who is in the High-value · Christmas decorations segment?", GIFTS, spec([segment("1")])),
    ("which Active · Pencils customers have gone quiet?", SAMPLE, spec([segment("3"), term("lapsed")])),
    ("one-time buyers in Lunch bags", GIFTS, spec([term("one_time_buyers"), segment("2")])),
    ("customers who bought lunch bags", GIFTS, spec([ev(product="lunch bags")])),
])
def test_wording(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "terms"), [
    ("who should I send a win-back email to?", ["lapsed"]),
    ("which customers are worth a reactivation campaign?", ["lapsed"]),
    ("winback list for Germany", ["lapsed"]),
    ("who should we re-engage?", ["lapsed"]),
    ("who is a good upsell target?", ["repeat_buyers"]),
    ("cross-sell audience in France", ["repeat_buyers"]),
])
def test_campaign_intents_are_read_as_their_terms_and_say_so(question: str, terms: list[str]) -> None:
    parsed = parse(question, load_glossary(), GIFTS)
    assert parsed.unknown == []
    assert [c.term for c in parsed.spec.any_of[0] if c.kind == "term"] == terms
    glossary = load_glossary()
    intent = next(i for i in glossary.intents.values() if set(i.terms) == set(terms))
    assert any(intent.why in n for n in parsed.notes)  # the definition is visible


def test_campaign_words_are_only_framing_after_an_intent() -> None:
    # without an intent, "email" could change who is meant: it is never dropped silently
    assert parse("lapsed customers with an email", load_glossary(), GIFTS).unknown


def test_a_term_the_workspace_cannot_answer_never_wins() -> None:
    glossary = load_glossary()
    assert "p_alive" not in GIFTS.numeric
    # "dormant" is lapsed's; the encoder is asked only about answerable terms
    mapper = PhraseMapper(fake_encoder({"gone to sleep": "probably gone"}))
    parsed = parse("which VIPs have gone to sleep?", glossary, GIFTS, mapper=lambda: mapper)
    assert parsed.unknown and parsed.rewrites == []
    with_ltv = GIFTS.__class__(**{**GIFTS.__dict__, "numeric": [*GIFTS.numeric, "p_alive"]})
    parsed = parse("which VIPs have gone to sleep?", glossary, with_ltv, mapper=lambda: mapper)
    assert parsed.unknown == [] and same(parsed.spec, spec([term("high_spenders"), term("predicted_churn")]))
