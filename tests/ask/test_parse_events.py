"""What customers did, and with which products (docs/definitions.md "Questions"), read by rules."""

from __future__ import annotations

import pytest
from _parse_catalogues import GIFTS, GROCER, SAMPLE, attr, ev, field, period, same, spec, term

from segmint.agent.ask.parser import parse
from segmint.agent.query import Catalogue, Condition, QuerySpec
from segmint.agent.query.glossary import load_glossary


def read(question: str, cat: Catalogue) -> QuerySpec:
    parsed = parse(question, load_glossary(), cat)
    assert parsed.unknown == [], parsed.unknown
    return parsed.spec


def interest(phrase: str, negate: bool = False) -> Condition:
    return Condition(kind="interest", interest=phrase, negate=negate)


@pytest.mark.parametrize(("question", "cat", "expected"), [
    # verbs: what kind of event
    ("who bought teapots?", GIFTS, spec([ev(product="teapots")])),
    ("customers who purchased a doormat", GIFTS, spec([ev(product="doormat")])),
    ("who ordered cake stands", GIFTS, spec([ev(product="cake stands")])),
    ("customers who viewed yoga mats", SAMPLE, spec([ev("view", "yoga mats")])),
    ("who looked at running shoes", SAMPLE, spec([ev("view", "running shoes")])),
    ("customers who browsed espresso grinders", SAMPLE, spec([ev("view", "espresso grinders")])),
    ("who clicked on green tea", SAMPLE, spec([ev("view", "green tea")])),
    ("customers who searched for trail running shoes", SAMPLE, spec([ev("search", "trail running shoes")])),
    ("who added a teapot to their cart", SAMPLE, spec([ev("cart", "teapot")])),
    ("customers who put yarn in the basket", SAMPLE, spec([ev("cart", "yarn")])),
    ("customers who returned a teapot", GIFTS, spec([ev("return", "teapot")])),
    ("who sent a doormat back?", GIFTS, spec([ev("return", "doormat")])),
    ("households who buy frozen pizza", GROCER, spec([ev(product="frozen pizza")])),
    ("people who got a teapot but no tea towel", GIFTS,
     spec([ev(product="teapot"), ev(product="tea towel", negate=True)])),
    # a product said without a verb
    ("teapot buyers", GIFTS, spec([ev(product="teapot")])),
    ("lapsed teapot buyers", GIFTS, spec([term("lapsed"), ev(product="teapot")])),
    ("customers of cake stands", GIFTS, spec([ev(product="cake stands")])),
    ("which tea drinkers have never bought coffee?", SAMPLE,
     spec([ev(product="tea"), ev(product="coffee", negate=True)])),
    # negation, "but never", and the verb said once for two events
    ("customers who never bought a doormat", GIFTS, spec([ev(product="doormat", negate=True)])),
    ("high spenders who haven't bought lanterns", GIFTS,
     spec([term("high_spenders"), ev(product="lanterns", negate=True)])),
    ("customers who bought teapots but never a cake stand", GIFTS,
     spec([ev(product="teapots"), ev(product="cake stand", negate=True)])),
    ("who viewed but never bought", SAMPLE, spec([ev("view"), field("orders", "=", 0)])),
    ("who looked at yoga mats but never bought one?", SAMPLE,
     spec([ev("view", "yoga mats"), ev(product="yoga mats", negate=True)])),
    ("customers who viewed but never bought running shoes", SAMPLE,
     spec([ev("view", "running shoes"), ev(product="running shoes", negate=True)])),
    ("customers who abandoned their cart", SAMPLE, spec([ev("cart"), field("orders", "=", 0)])),
    ("customers who abandoned their cart this month", SAMPLE,
     spec([ev("cart", window=period("this", "month")), ev(window=period("this", "month"), negate=True)])),
    ("customers who never bought candles or lanterns", GIFTS,
     spec([ev(product="candles", negate=True), ev(product="lanterns", negate=True)])),
    ("customers who bought candles or lanterns", GIFTS,
     spec([ev(product="candles")], [ev(product="lanterns")])),
    ("customers who bought notebooks and lunch bags", GIFTS,
     spec([ev(product="notebooks"), ev(product="lunch bags")])),
    # close in meaning only when asked
    ("who bought anything like teapots?", GIFTS, spec([ev(product="teapots", match="meaning")])),
    ("customers who bought tea-related products", GIFTS, spec([ev(product="tea", match="meaning")])),
    ("customers who bought things similar to cake stands", GIFTS,
     spec([ev(product="cake stands", match="meaning")])),
    ("customers who bought babushka products", GIFTS, spec([ev(product="babushka")])),
    # interests stay what they were
    ("customers interested in camping", GIFTS, spec([interest("camping")])),
    ("tea lovers in Scotland", SAMPLE, spec([interest("tea"), attr("region", "Scotland")])),
])
def test_events_and_products(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "cat", "expected"), [
    ("customers who bought teapots at least twice", GIFTS,
     spec([ev(product="teapots", measure="orders", op=">=", value=2)])),
    ("customers who bought doormats more than 3 times", GIFTS,
     spec([ev(product="doormats", measure="orders", op=">", value=3)])),
    ("customers who bought teapots 3 times", GIFTS,
     spec([ev(product="teapots", measure="orders", op="=", value=3)])),
    ("who viewed yoga mats more than twice", SAMPLE,
     spec([ev("view", "yoga mats", measure="events", op=">", value=2)])),
    ("customers who bought on at least 10 different days", GIFTS,
     spec([ev(measure="days", op=">=", value=10)])),
    ("customers who bought 10 or more units of cake stands", GIFTS,
     spec([ev(product="cake stands", measure="units", op=">=", value=10)])),
    ("customers who bought at least 3 teapots", GIFTS,
     spec([ev(product="teapots", measure="units", op=">=", value=3)])),
    ("customers who spent more than £100 on lanterns", GIFTS,
     spec([ev(product="lanterns", measure="spend", op=">", value=100)])),
    ("households that spent over $50 on cheese", GROCER,
     spec([ev(product="cheese", measure="spend", op=">", value=50)])),
    ("which customers keep coming back for teapots?", GIFTS,
     spec([ev(product="teapots", measure="orders", op=">=", value=2)])),
    ("who bought charcoal in two or more orders", SAMPLE.__class__(**{**SAMPLE.__dict__, "product_words":
                                                                     frozenset({"charcoal"})}),
     spec([ev(product="charcoal", measure="orders", op=">=", value=2)])),
    # without product or window, a purchase threshold is the customer field it sums
    ("customers who have bought at least twice", GIFTS, spec([field("orders", ">=", 2)])),
    ("customers who spent more than £500", GIFTS, spec([field("revenue", ">", 500)])),
])
def test_thresholds(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "cat", "expected"), [
    ("who bought the most teapots?", GIFTS,
     spec([ev(product="teapots")], rank_by=ev(product="teapots", measure="units"))),
    ("which 5 customers spent the most on running shoes?", SAMPLE,
     spec([ev(product="running shoes")], rank_by=ev(product="running shoes", measure="spend"), limit=5,
          intent="top")),
    ("who bought the least units of yarn", SAMPLE,
     spec([ev(product="yarn")], rank_by=ev(product="yarn", measure="units"), descending=False)),
    ("who spent the most last month?", GIFTS,
     spec([ev(window=period("previous", "month"))],
          rank_by=ev(window=period("previous", "month"), measure="spend"))),
    ("top 5 customers by orders this year", GIFTS,
     spec([ev(window=period("this", "year"))], rank_by=ev(window=period("this", "year"), measure="orders"),
          limit=5, intent="top")),
    # other events rank by how many there were
    ("which 10 customers viewed the most products?", SAMPLE,
     spec([ev("view")], rank_by=ev("view", measure="events"), limit=10, intent="top")),
    ("who viewed the most yoga mats?", SAMPLE,
     spec([ev("view", "yoga mats")], rank_by=ev("view", "yoga mats", measure="events"))),
    # without a product or a window: the customer field, as before
    ("who spent the most?", GIFTS, spec(sort_by="revenue")),
    ("who bought the most items?", GIFTS, spec(sort_by="units")),
])
def test_rankings_by_what_customers_did(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got = read(question, cat)
    assert same(got, expected), got


@pytest.mark.parametrize(("question", "cat"), [
    ("customers who bought unicorn saddles", GIFTS),        # no product has these words
    ("customers who clicked the ad", SAMPLE),
    ("customers who bought teapots cheaply", GIFTS),        # a word left over is never dropped
    ("customers who bought candles recently", GIFTS),
    ("online teapot buyers", GIFTS),
    ("customers with expired credit cards", GIFTS),         # "cards" is a product word, said unanchored
    ("active ingredients customers", SAMPLE),
])
def test_words_no_product_holds_are_refused(question: str, cat: Catalogue) -> None:
    assert parse(question, load_glossary(), cat).unknown


def test_attribute_values_and_segment_names_give_way_to_what_was_bought() -> None:
    # "coffee" is a segment's name and a top category too: after "bought", it is the product
    assert same(read("who bought coffee?", SAMPLE), spec([ev(product="coffee")]))
    assert same(read("lapsed customers in Coffee", SAMPLE),
                spec([term("lapsed"), Condition(kind="segment", segment="1")]))
    assert same(read("customers whose top category is Coffee", SAMPLE),
                spec([attr("top_category", "Coffee")]))
    assert same(read("French buyers", GIFTS), spec([attr("country", "France")]))  # the place, not the product
