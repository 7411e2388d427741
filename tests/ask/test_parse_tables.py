"""Numbers and tables asked for (docs/definitions.md "Numbers and tables"), read by rules."""

from __future__ import annotations

import pytest
from _parse_catalogues import (
    GIFTS,
    GROCER,
    SAMPLE,
    attr,
    cohort,
    dates,
    ev,
    field,
    last,
    measure,
    period,
    same,
    spec,
    term,
)

from segmint.agent.ask.parser import parse
from segmint.agent.query import Catalogue, Condition, QuerySpec, Window
from segmint.agent.query.glossary import load_glossary

COUNT = measure("count")
Y2011 = dates("2011-01-01", "2012-01-01")
THIS_YEAR = Window(period="this", unit="year", said="this year")


def read(question: str, cat: Catalogue) -> QuerySpec:
    parsed = parse(question, load_glossary(), cat)
    assert parsed.unknown == [], parsed.unknown
    return parsed.spec


@pytest.mark.parametrize(("question", "cat", "expected"), [
    # one number
    ("how many lapsed customers are there?", GIFTS, spec([term("lapsed")], intent="count")),
    ("what share of customers are lapsed?", GIFTS, spec([term("lapsed")], measure=measure("share"))),
    ("what percentage of my customers are repeat buyers", GIFTS,
     spec([term("repeat_buyers")], measure=measure("share"))),
    ("what is the average order value of German customers?", GIFTS,
     spec([attr("country", "Germany")], measure=measure("mean", "aov"))),
    ("what is the repeat purchase rate?", GIFTS, spec([term("repeat_buyers")], measure=measure("share"))),
    ("what is the rate of repeat buyers?", GIFTS, spec([term("repeat_buyers")], measure=measure("share"))),
    # a retention rate is the share who bought again, not the retention campaign's at-risk customers
    ("what is our customer retention rate?", GIFTS, spec([term("repeat_buyers")], measure=measure("share"))),
    ("what's the revenue this year?", GIFTS, spec(measure=measure("sum", "revenue", THIS_YEAR))),
    # a share of a total: the selected customers' part of all revenue (orders, units...)
    ("what share of revenue comes from repeat buyers?", GIFTS,
     spec([term("repeat_buyers")], measure=measure("share", "revenue"))),
    ("how much of our sales come from Germany?", GIFTS,
     spec([attr("country", "Germany")], measure=measure("share", "revenue"))),
    ("what percentage of orders do one-time buyers account for?", GIFTS,
     spec([term("one_time_buyers")], measure=measure("share", "orders"))),
    ("share of revenue by country", GIFTS, spec(measure=measure("share", "revenue"), group_by="country")),
    ("median revenue of repeat buyers", GIFTS,
     spec([term("repeat_buyers")], measure=measure("median", "revenue"))),
    ("total revenue last month", GIFTS, spec(measure=measure("sum", "revenue", period("previous", "month")))),
    ("average recency of lapsed customers in days", GIFTS,
     spec([term("lapsed")], measure=measure("mean", "recency_days"))),
    ("highest revenue of any customer", GIFTS, spec(measure=measure("max", "revenue"))),
    ("how much did French customers spend?", GIFTS,
     spec([attr("country", "France")], measure=measure("sum", "revenue"))),
    ("how much does a household spend on average?", GROCER, spec(measure=measure("mean", "revenue"))),
    ("how many orders did high spenders place in 2011?", GIFTS,
     spec([term("high_spenders")], measure=measure("sum", "orders", Y2011))),
    ("number of orders in 2011", GIFTS, spec(measure=measure("sum", "orders", Y2011))),
    ("average spend per customer", GIFTS, spec(measure=measure("mean", "revenue"))),
    ("total units bought by French customers", GIFTS,
     spec([attr("country", "France")], measure=measure("sum", "units"))),
    ("what do German customers spend per order on average?", GIFTS,
     spec([attr("country", "Germany")], measure=measure("mean", "aov"))),
    ("average tenure of households that buy frozen pizza", GROCER,
     spec([ev(product="frozen pizza")], measure=measure("mean", "tenure_days"))),
    # a share within a base said with "of": one row per group of the base
    ("what share of German customers are repeat buyers?", GIFTS,
     spec([term("repeat_buyers")], measure=measure("share"), group_by="country", groups=["Germany"])),
])
def test_numbers(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "cat", "expected"), [
    ("lapsed customers by country", GIFTS, spec([term("lapsed")], measure=COUNT, group_by="country")),
    ("revenue by segment", GIFTS, spec(measure=measure("sum", "revenue"), group_by="segment")),
    ("average order value per region", SAMPLE, spec(measure=measure("mean", "aov"), group_by="region")),
    ("revenue broken down by age band", SAMPLE, spec(measure=measure("sum", "revenue"), group_by="age_band")),
    ("average revenue for each income band", GROCER,
     spec(measure=measure("mean", "revenue"), group_by="income")),
    ("monthly revenue", GIFTS, spec(measure=measure("sum", "revenue"), group_by="month")),
    ("revenue per month in 2011", GIFTS, spec(measure=measure("sum", "revenue", Y2011), group_by="month")),
    ("orders by quarter", GIFTS, spec(measure=measure("sum", "orders"), group_by="quarter")),
    ("first-order cohorts by month", GIFTS, spec(measure=COUNT, group_by="first_purchase_month")),
    # a window said with first-order cohorts bounds the cohorts shown
    ("number of new customers per month in 2011", GIFTS,
     spec([cohort("first_purchase", Y2011)], measure=COUNT, group_by="first_purchase_month")),
    ("how many new customers did we get each month?", GIFTS,
     spec(measure=COUNT, group_by="first_purchase_month")),
    # ranked groups: by their numbers, highest first
    ("which segment has the most lapsed customers?", GIFTS,
     spec([term("lapsed")], measure=COUNT, group_by="segment", sort_by="value", limit=1)),
    ("which country has the highest average order value?", GIFTS,
     spec(measure=measure("mean", "aov"), group_by="country", sort_by="value", limit=1)),
    ("countries by revenue", GIFTS,
     spec(measure=measure("sum", "revenue"), group_by="country", sort_by="value")),
    ("top 5 countries by revenue", GIFTS,
     spec(measure=measure("sum", "revenue"), group_by="country", sort_by="value", limit=5)),
    ("which region spent the most last month?", SAMPLE,
     spec(measure=measure("sum", "revenue", period("previous", "month")), group_by="region", sort_by="value",
          limit=1)),
    ("which month of 2011 had the highest revenue?", GIFTS,
     spec(measure=measure("sum", "revenue", Y2011), group_by="month", sort_by="value", limit=1)),
    ("segments by size", GIFTS, spec(measure=COUNT, group_by="segment", sort_by="value")),
    ("top 3 months by revenue", GIFTS,
     spec(measure=measure("sum", "revenue"), group_by="month", sort_by="value", limit=3)),
    ("revenue by country, top 5", GIFTS,
     spec(measure=measure("sum", "revenue"), group_by="country", sort_by="value", limit=5)),
    ("average order value by country (bottom 3)", GIFTS,
     spec(measure=measure("mean", "aov"), group_by="country", sort_by="value", descending=False, limit=3)),
    # a count by period: the window bounds the periods counted, not only who is counted
    ("how many customers bought each month in 2011?", GIFTS,
     spec([ev(window=Y2011)], measure=measure("count", None, Y2011), group_by="month")),
    ("which segment has the fewest one-time buyers?", GIFTS,
     spec([term("one_time_buyers")], measure=COUNT, group_by="segment", sort_by="value", descending=False,
          limit=1)),
    ("where do most of our lapsed customers live?", GIFTS,
     spec([term("lapsed")], measure=COUNT, group_by="country", sort_by="value", limit=1)),
    # comparisons: the groups in the order asked
    ("compare average revenue France vs Germany", GIFTS,
     spec(measure=measure("mean", "revenue"), group_by="country", groups=["France", "Germany"])),
    ("lapsed customers in Germany vs France", GIFTS,
     spec([term("lapsed")], measure=COUNT, group_by="country", groups=["Germany", "France"])),
    ("compare France and Germany", GIFTS,
     spec(measure=COUNT, group_by="country", groups=["France", "Germany"])),
    ("Germany versus France versus Spain: number of customers", GIFTS,
     spec(measure=COUNT, group_by="country", groups=["Germany", "France", "Spain"])),
    ("do French or German customers spend more on average?", GIFTS,
     spec(measure=measure("mean", "revenue"), group_by="country", groups=["France", "Germany"])),
    ("homeowners or renters: who spends more per order?", GROCER,
     spec(measure=measure("mean", "aov"), group_by="home_ownership", groups=["Homeowner", "Renter"])),
    ("segment 1 vs segment 2 average revenue", GIFTS,
     spec(measure=measure("mean", "revenue"), group_by="segment", groups=["1", "2"])),
    ("revenue in November 2011 vs October 2011", GIFTS,
     spec(measure=measure("sum", "revenue"), group_by="month", groups=["2011-11", "2011-10"])),
    # terms compared: one row per term, the other conditions apply to both
    ("lapsed vs active customers", GIFTS, spec(measure=COUNT, group_by="term", groups=["lapsed", "active"])),
    ("are there more lapsed or active women?", SAMPLE,
     spec([attr("gender", "female")], measure=COUNT, group_by="term", groups=["lapsed", "active"])),
    ("revenue from repeat buyers vs one-time buyers in Germany", GIFTS,
     spec([attr("country", "Germany")], measure=measure("sum", "revenue"), group_by="term",
          groups=["repeat_buyers", "one_time_buyers"])),
    ("which country has the highest average revenue among Germany, France and Spain?", GIFTS,
     spec(measure=measure("mean", "revenue"), group_by="country", groups=["Germany", "France", "Spain"],
          sort_by="value", limit=1)),
    # by category: what was bought in each product category; "top category" stays the attribute
    ("revenue by category", SAMPLE, spec(measure=measure("sum", "revenue"), group_by="product_category")),
    ("which category brings the most revenue?", SAMPLE,
     spec(measure=measure("sum", "revenue"), group_by="product_category", sort_by="value", limit=1)),
    ("which categories are most popular with lapsed customers?", SAMPLE,
     spec([term("lapsed")], measure=COUNT, group_by="product_category", sort_by="value", limit=10)),
    ("customers by top category", SAMPLE, spec(measure=COUNT, group_by="top_category")),
    # a comparative names the winner as a superlative does; "what do X buy" lists their products
    ("which gender has the higher average order value?", SAMPLE,
     spec(measure=measure("mean", "aov"), group_by="gender", sort_by="value", limit=1)),
    ("which products do German customers buy most?", GIFTS,
     spec([attr("country", "Germany")], measure=COUNT, group_by="product", sort_by="value", limit=10)),
    ("what did lapsed customers buy?", SAMPLE,
     spec([term("lapsed")], measure=COUNT, group_by="product", sort_by="value", limit=10)),
    # by the text searched for: how many of the customers searched each
    ("what are the top searches?", SAMPLE, spec(measure=COUNT, group_by="search", sort_by="value", limit=10)),
    ("what did lapsed customers search for most?", SAMPLE,
     spec([term("lapsed")], measure=COUNT, group_by="search", sort_by="value", limit=10)),
])
def test_tables(question: str, cat: Catalogue, expected: QuerySpec) -> None:
    got = read(question, cat)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize(("question", "cat"), [
    ("lapsed customers by weather", GIFTS),            # no such attribute
    ("average p alive of customers", GIFTS),           # no such field without --ltv
    ("lapsed customers vs", GIFTS),                    # one side only: refused, not that side listed
    ("what share of lapsed customers are in Germany?", GIFTS),  # a base that is no group
    ("total revenue per weather", GIFTS),
    ("customers who buy monthly", GIFTS),               # how often, not a table by month
    ("annually lapsed customers", GIFTS),
    ("customers who bought in each of the last 3 months", GIFTS),  # every month, not one window
])
def test_tables_the_workspace_cannot_give_are_refused(question: str, cat: Catalogue) -> None:
    assert parse(question, load_glossary(), cat).unknown


def test_a_table_question_keeps_its_customers_conditions() -> None:
    got = read("revenue by country of customers who bought teapots in 2011", GIFTS)
    assert same(got, spec([ev(product="teapots", window=Y2011)], measure=measure("sum", "revenue"),
                          group_by="country"))
    assert got.kind == "table" and read("how many teapot buyers?", GIFTS).kind == "number"
    assert read("customers in segment 2", GIFTS).any_of == [[Condition(kind="segment", segment="2")]]


@pytest.mark.parametrize(("question", "expected"), [
    # products by how often they came back (return rows), not the products returners bought
    ("which products are most often returned?",
     spec(measure=measure("sum", "returns"), group_by="product", sort_by="value", limit=10)),
    ("the 5 most returned products last month",
     spec(measure=measure("sum", "returns", period("previous", "month")), group_by="product",
          sort_by="value", limit=5)),
    ("which products do lapsed customers return most?",
     spec([term("lapsed")], measure=measure("sum", "returns"), group_by="product", sort_by="value",
          limit=10)),
    # new customers by period are first-purchase cohorts, not the "new" term by purchase month
    ("which month had the most new customers?",
     spec(measure=COUNT, group_by="first_purchase_month", sort_by="value", limit=1)),
    ("which quarter of 2011 had the fewest new customers?",
     spec([cohort("first_purchase", Y2011)], measure=COUNT, group_by="first_purchase_quarter",
          sort_by="value", descending=False, limit=1)),
    # a glossary term of fixed order counts said with a window counts the orders inside it
    ("who bought more than once in the last 6 months?",
     spec([ev(measure="orders", op=">=", value=2, window=last(6, "month"))])),
    ("one-time buyers in 2011", spec([ev(measure="orders", op="=", value=1, window=Y2011)])),
    ("customers who spent over 500 in total", spec([field("revenue", ">", 500)])),
])
def test_returns_cohorts_and_terms_in_a_window(question: str, expected: QuerySpec) -> None:
    got = read(question, GIFTS)
    assert same(got, expected), got.model_dump_json(exclude_defaults=True)


@pytest.mark.parametrize("question", [
    "what did our top 10 customers buy?",  # the table's "top 10" would be its rows
    "high spenders in 2011",               # a percentile term has no count to take a window
    "what percentage of revenue came from returns?",  # a share of events, not of their customers
])
def test_readings_that_would_be_wrong_are_refused(question: str) -> None:
    assert parse(question, load_glossary(), GIFTS).unknown
