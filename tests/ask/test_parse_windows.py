"""Time windows and cohorts in questions (docs/definitions.md "Time windows"), read by rules."""

from __future__ import annotations

import pytest
from _parse_catalogues import GIFTS, GROCER, SAMPLE, cohort, dates, ev, field, last, period, same, spec, term

from segmint.agent.ask.parser import parse
from segmint.agent.query import Catalogue, QuerySpec
from segmint.agent.query.glossary import load_glossary


def read(question: str, cat: Catalogue = GIFTS) -> tuple[QuerySpec, list[str]]:
    parsed = parse(question, load_glossary(), cat)
    assert parsed.unknown == [], parsed.unknown
    return parsed.spec, parsed.notes


NOV_2011 = dates("2011-11-01", "2011-12-01")


@pytest.mark.parametrize(("question", "cat", "expected"), [
    # relative windows stay relative (a saved audience moves with as_of)
    ("customers who bought in the last 90 days", GIFTS, spec([ev(window=last(90, "day"))])),
    ("customers who ordered in the past 2 weeks", GIFTS, spec([ev(window=last(2, "week"))])),
    ("who bought over the last 6 months?", GIFTS, spec([ev(window=last(6, "month"))])),
    ("customers who bought within the last year", GIFTS, spec([ev(window=last(1, "year"))])),
    ("customers who bought in the last 2 quarters", GIFTS, spec([ev(window=last(2, "quarter"))])),
    ("customers who bought this month", GIFTS, spec([ev(window=period("this", "month"))])),
    ("customers who bought last week", GIFTS, spec([ev(window=period("previous", "week"))])),
    ("customers who bought last year", GIFTS, spec([ev(window=period("previous", "year"))])),
    ("customers who bought year to date", GIFTS, spec([ev(window=period("this", "year"))])),
    ("who bought yesterday?", GIFTS, spec([ev(window=last(1, "day"))])),
    # calendar periods, with or without the year (the latest one up to as_of)
    ("customers who bought in November 2011", GIFTS, spec([ev(window=NOV_2011)])),
    ("customers who bought in November", GIFTS, spec([ev(window=NOV_2011)])),
    ("customers who bought in nov 2011", GIFTS, spec([ev(window=NOV_2011)])),
    ("customers who bought in 2011-11", GIFTS, spec([ev(window=NOV_2011)])),
    ("customers who bought in Q3 2011", GIFTS, spec([ev(window=dates("2011-07-01", "2011-10-01"))])),
    ("customers who bought in the third quarter", GIFTS,
     spec([ev(window=dates("2011-07-01", "2011-10-01"))])),
    ("customers who bought in 2010", GIFTS, spec([ev(window=dates("2010-01-01", "2011-01-01"))])),
    ("customers who bought last summer", GIFTS, spec([ev(window=dates("2011-06-01", "2011-09-01"))])),
    ("customers who bought in the summer of 2011", GIFTS,
     spec([ev(window=dates("2011-06-01", "2011-09-01"))])),
    ("customers who bought last summer", SAMPLE, spec([ev(window=dates("2025-06-01", "2025-09-01"))])),
    ("customers who bought in December", SAMPLE, spec([ev(window=dates("2025-12-01", "2026-01-01"))])),
    # bounds and ranges: "since" is on or after, "between A and B" includes both days
    ("customers who bought since 1 November 2011", GIFTS, spec([ev(window=dates("2011-11-01", None))])),
    ("customers who bought since September", GIFTS, spec([ev(window=dates("2011-09-01", None))])),
    ("customers who bought before 2011", GIFTS, spec([ev(window=dates(None, "2011-01-01"))])),
    ("customers who bought after October 2011", GIFTS, spec([ev(window=dates("2011-11-01", None))])),
    ("customers who bought between 1 March 2011 and 31 May 2011", GIFTS,
     spec([ev(window=dates("2011-03-01", "2011-06-01"))])),
    ("customers who bought from March to May", GIFTS, spec([ev(window=dates("2011-03-01", "2011-06-01"))])),
    ("customers who bought between 2011-03-01 and 2011-03-15", GIFTS,
     spec([ev(window=dates("2011-03-01", "2011-03-16"))])),
    ("customers who bought on March 3rd, 2011", GIFTS, spec([ev(window=dates("2011-03-03", "2011-03-04"))])),
    ("from November to February, who bought?", GIFTS, spec([ev(window=dates("2010-11-01", "2011-03-01"))])),
])
def test_windows(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got, _ = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "expected"), [
    ("customers who spent over £1,000 in the last 90 days",
     spec([ev(window=last(90, "day"), measure="spend", op=">", value=1000)])),
    ("customers who placed 5 or more orders in the last year",
     spec([ev(window=last(1, "year"), measure="orders", op=">=", value=5)])),
    ("customers who spent between £100 and £200 in November",
     spec([ev(window=NOV_2011, measure="spend", op="between", value=[100, 200])])),
    ("customers who returned something in the last 3 months", spec([ev("return", window=last(3, "month"))])),
    ("who bought teapots in November 2011?", spec([ev(product="teapots", window=NOV_2011)])),
    ("in November 2011, who bought teapots?", spec([ev(product="teapots", window=NOV_2011)])),
    ("customers who bought in December 2010 but not in 2011",
     spec([ev(window=dates("2010-12-01", "2011-01-01")),
           ev(window=dates("2011-01-01", "2012-01-01"), negate=True)])),
    # the window after "but not" is a second purchase of the same products, negated
    ("customers who bought teapots but not in the last 3 months",
     spec([ev(product="teapots"), ev(product="teapots", window=last(3, "month"), negate=True)])),
    ("customers who bought in both January 2011 and February 2011",
     spec([ev(window=dates("2011-01-01", "2011-02-01")), ev(window=dates("2011-02-01", "2011-03-01"))])),
    ("who bought from us in December 2010 and again in December 2011?",
     spec([ev(window=dates("2010-12-01", "2011-01-01")), ev(window=dates("2011-12-01", "2012-01-01"))])),
    ("lapsed customers who bought in Q4 2010",
     spec([term("lapsed"), ev(window=dates("2010-10-01", "2011-01-01"))])),
    # "hasn't ordered since September": ordered before it and not since (the last purchase before)
    ("customers who haven't ordered since September",
     spec([cohort("last_purchase", dates(None, "2011-09-01"))])),
    ("customers who haven't bought teapots since September",
     spec([ev(product="teapots", window=dates(None, "2011-09-01")),
           ev(product="teapots", window=dates("2011-09-01", None), negate=True)])),
    # a window said without "in the" on a count keeps the glossary's recency reading
    ("customers who haven't bought in 6 months", spec([field("recency_days", ">", 180)])),
    ("customers active in the last 2 weeks", spec([field("recency_days", "<=", 14)])),
])
def test_windows_belong_to_their_event(question: str, expected: QuerySpec) -> None:
    got, _ = read(question)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "cat", "expected"), [
    ("customers whose first order was in 2011", GIFTS,
     spec([cohort("first_purchase", dates("2011-01-01", "2012-01-01"))])),
    ("customers who first bought in Q1", GIFTS,
     spec([cohort("first_purchase", dates("2011-01-01", "2011-04-01"))])),
    ("how many customers placed their first order in Q1 2011?", GIFTS,
     spec([cohort("first_purchase", dates("2011-01-01", "2011-04-01"))], intent="count")),
    ("customers who last ordered in 2010", GIFTS,
     spec([cohort("last_purchase", dates("2010-01-01", "2011-01-01"))])),
    ("customers whose last purchase was in October 2011", GIFTS,
     spec([cohort("last_purchase", dates("2011-10-01", "2011-11-01"))])),
    ("customers that stopped ordering after October 2011", GIFTS,
     spec([cohort("last_purchase", dates(None, "2011-11-01"))])),
    ("new customers this month", GIFTS, spec([cohort("first_purchase", period("this", "month"))])),
    ("households that joined in 2017", GROCER,
     spec([cohort("first_purchase", dates("2017-01-01", "2018-01-01"))])),
    ("customers whose first order was in the last 60 days", GIFTS,
     spec([cohort("first_purchase", last(60, "day"))])),
    # "new customers" with a window is a first-purchase cohort, however the acquisition is said
    ("how many new customers did we get in November 2011?", GIFTS,
     spec([cohort("first_purchase", dates("2011-11-01", "2011-12-01"))], intent="count")),
    ("new customers we gained in 2011", GIFTS,
     spec([cohort("first_purchase", dates("2011-01-01", "2012-01-01"))])),
    ("how many new customers joined in Q3 2011?", GIFTS,
     spec([cohort("first_purchase", dates("2011-07-01", "2011-10-01"))], intent="count")),
])
def test_cohorts(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got, _ = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


def test_an_ambiguous_window_takes_the_documented_reading_and_names_the_other() -> None:
    got, notes = read("customers who bought last quarter")
    assert same(got, spec([ev(window=period("previous", "quarter"))]))
    assert notes == ["“last quarter” is read as the previous complete calendar quarter, not the last 90 days"]
    _, notes = read("customers who bought in November")
    assert notes == ["“november” is read as November 2011, the latest up to the data's end (as_of)"]
    _, notes = read("new customers this month")
    assert any("first purchase" in n for n in notes)
    _, notes = read("customers who bought in the last 30 days")
    assert notes == []  # nothing ambiguous, nothing said


@pytest.mark.parametrize("question", [
    "high spenders in the last 30 days",     # a glossary term is all-time: no window to give it
    "lapsed customers 2024",                 # a year that belongs to nothing
    "customers born in winter",
    "how many customers last month",         # a count of customers takes no window of its own
    "customers who bought in the last week of November",  # two windows for one event
    "customers who bought in Smarch",
])
def test_a_window_that_belongs_to_nothing_is_refused(question: str) -> None:
    assert parse(question, load_glossary(), GIFTS).unknown


def test_a_window_needs_the_reference_day_only_when_named_without_a_year() -> None:
    no_run = GIFTS.__class__(**{**GIFTS.__dict__, "as_of": None})
    assert parse("customers who bought in November", load_glossary(), no_run).unknown
    assert parse("customers who bought in November 2011", load_glossary(), no_run).unknown == []
    assert parse("customers who bought in the last 90 days", load_glossary(), no_run).unknown == []
