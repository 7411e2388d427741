"""Definitions in plain words: what a spec selected, with the actual thresholds, dates and
products, and what a measure computes (docs/definitions.md "Questions")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segmint.agent.ask._matches import ProductMatch
from segmint.agent.query import (
    PERIODS,
    PRODUCT,
    WINDOW_FIELDS,
    CompiledQuery,
    Condition,
    MatchKey,
    Measure,
    Period,
    QuerySpec,
    event_of,
    match_key,
    passes_zero,
    product_phrase,
    threshold_values,
)
from segmint.agent.query.compile import AVERAGE, POOLED
from segmint.agent.query.glossary import Glossary
from segmint.agent.query.measures import CATEGORY, SEARCH

SYMBOLS = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "=": "=", "!=": "≠"}
MONEY = {"revenue", "aov", "returned_amount", "expected_spend", "expected_value", "spend"}
# What each event type's customers did, and what they did not do ("never bought", "did not buy").
VERBS = {"purchase": ("bought {}", "buy {}"), "view": ("viewed {}", "view {}"),
         "search": ("searched for {}", "search for {}"), "cart": ("put {} in the cart", "put {} in the cart"),
         "return": ("returned {}", "return {}"),
         "any": ("searched for, viewed or bought {}", "search for, view or buy {}")}
_OP_WORDS = {">": "more than {}", ">=": "at least {}", "<": "less than {}", "<=": "at most {}",
             "=": "exactly {}", "!=": "other than {}"}
_AGG_WORDS = {"sum": "total", "mean": "mean", "median": "median", "min": "lowest", "max": "highest"}
_WINDOWED = {"revenue": "spend (purchases net of returns)", "spend": "spend (purchases net of returns)",
             "orders": "orders", "units": "units (net of returns)", "aov": "average order value",
             "returns": "returns (return rows)", "returned_amount": "refunds (returned amount)"}


@dataclass
class WorkspaceFacts:
    """What answering needs from a workspace besides the users table."""

    as_of: datetime
    currency: str


def describe_spec(spec: QuerySpec, compiled: CompiledQuery, glossary: Glossary, facts: WorkspaceFacts,
                  found: Mapping[MatchKey, ProductMatch]) -> str:
    """The customers a spec selects, in plain words with the actual thresholds, dates, products."""
    groups = [" and ".join(describe_condition(c, compiled, glossary, facts, found) for c in g)
              for g in spec.any_of]
    text = " or ".join(f"({g})" if len(spec.any_of) > 1 else g for g in groups) or "all customers"
    order = "highest" if spec.descending else "lowest"
    if spec.rank_by is not None:
        text += f", sorted by {rank_words(spec.rank_by, compiled, found)} ({order} first)"
    elif spec.sort_by and not (spec.sort_by == "value" and spec.kind != "customers"):
        text += f", sorted by {spec.sort_by.replace('_', ' ')} ({order} first)"
    if spec.limit and spec.group_by is None:
        text += f", first {spec.limit:,}"
    return text


def describe_condition(c: Condition, compiled: CompiledQuery, glossary: Glossary, facts: WorkspaceFacts,
                       found: Mapping[MatchKey, ProductMatch]) -> str:
    """One condition in plain words."""
    if c.kind == "term":
        term = glossary.terms[c.term or ""]
        parts = []
        for f in term.filters:
            value = f.value if f.percentile is None else compiled.thresholds[(f.field, f.percentile)]
            words = compare(f.field, f.op, value, facts)
            if f.percentile is not None:
                share = 100 - f.percentile if f.op in (">", ">=") else f.percentile
                words += f" ({'top' if f.op in ('>', '>=') else 'bottom'} {share:g}%)"
            parts.append(words)
        text = " and ".join(parts)
        return f"not {term.label} ({text})" if c.negate else text
    if c.kind == "field":
        if c.op == "between" and isinstance(c.value, list):
            lo, hi = (fmt(c.field or "", v, facts.currency) for v in c.value)
            text = f"{label(c.field or '')} between {lo} and {hi}"
        elif c.op == "in" and isinstance(c.value, list):
            text = f"{label(c.field or '')} in {', '.join(map(str, c.value))}"
        elif c.value == AVERAGE:  # the mean as this question's run read it, said as such
            mean = compiled.averages[c.field or ""]
            what = (f"the shop's: its {POOLED[c.field]} ÷ its orders" if c.field in POOLED
                    else "the average over customers with an order")
            text = f"{compare(c.field or '', c.op or '=', mean, facts)} ({what})"
        else:
            text = compare(c.field or "", c.op or "=", c.value, facts)
        return f"not ({text})" if c.negate else text
    if c.kind in ("events", "interest"):
        return _describe_events(c, compiled, facts, found)
    if c.kind == "cohort" and c.window is not None:
        which = "first" if c.cohort == "first_purchase" else "last"
        return f"{which} purchase {'not ' if c.negate else ''}{compiled.period(c.window).text}"
    return f"{'not ' if c.negate else ''}in segment {c.segment}"


def rank_words(c: Condition, compiled: CompiledQuery, found: Mapping[MatchKey, ProductMatch]) -> str:
    """What customers are ranked by (a `rank_by`), in words: "units of “teapots” bought (net of
    returns) in December 2011"."""
    what = product_words(c, found)
    on = "" if what == "anything" else f" {what}"
    period = None if c.window is None else compiled.period(c.window)
    event = event_of(c)
    text = {
        "events": f"{event} events" + (f" about{on}" if on else ""),
        "orders": "orders" + (f" with{on}" if on else ""),
        "spend": ("spend" + (f" on{on}" if on else "") + " (net of returns)") if event != "return"
                 else "refunds" + (f" for{on}" if on else ""),
        "units": ("units" + (f" of{on}" if on else "") + " bought (net of returns)")
                 if event != "return" else "units" + (f" of{on}" if on else "") + " returned",
        "days": f"days with {event} events" + (f" about{on}" if on else ""),
    }[c.measure or "events"]
    return text + ("" if period is None else f" {period.text}")


def events_measure_words(m: Measure, compiled: CompiledQuery,
                         found: Mapping[MatchKey, ProductMatch]) -> tuple[str, str]:
    """A measure of events (`Measure.events`) in words: its name ("total units of “teapots” bought
    (net of returns) in 2011") and how it is computed, for the definition."""
    assert m.events is not None
    what = rank_words(m.events, compiled, found)
    net = m.events.measure in ("spend", "units") and event_of(m.events) == "purchase"
    rows = "purchase and return rows" if net else f"{event_of(m.events)} rows"
    if m.agg == "mean":
        return (f"{what} per customer", f"the total over the selected customers' {rows}, divided by "
                "the number of selected customers (those without any count 0)")
    return f"total {what}", f"the sum over the selected customers' {rows}"


def product_words(c: Condition, found: Mapping[MatchKey, ProductMatch]) -> str:
    """How the definition names a condition's products: “teapots”, or by meaning."""
    phrase = product_phrase(c)
    if phrase is None:
        return "anything"
    match = found.get(match_key(c))
    if match is not None and match.by_meaning:
        return f"something like “{phrase}” (by meaning)"
    return f"“{phrase}”"


def _describe_events(c: Condition, compiled: CompiledQuery, facts: WorkspaceFacts,
                     found: Mapping[MatchKey, ProductMatch]) -> str:
    event = event_of(c)
    what = product_words(c, found)
    period = None if c.window is None else compiled.period(c.window)
    when = "" if period is None else f" {period.text}"
    did, do = VERBS[event]
    if c.op is None or c.measure is None:
        if not c.negate:
            return did.format(what) + when
        return ("did not " + do.format(what) + when) if period else "never " + did.format(what)
    values = threshold_values(c)
    amount = op_words(c.op, [fmt("spend" if c.measure == "spend" else "", v, facts.currency)
                             for v in values])
    on = "" if what == "anything" else f" {what}"
    text = {
        "events": f"{did.format(what)} {amount} time{'' if values == [1.0] else 's'}",
        "orders": f"placed {amount} order{'' if values == [1.0] else 's'}"
                  + (f" with{on}" if on else "") if event != "return"
                  else f"returned{on or ' anything'} in {amount} orders",
        "spend": (f"spent {amount}" + (f" on{on}" if on else "") + " (net of returns)")
                 if event != "return" else f"had {amount} refunded" + (f" for{on}" if on else ""),
        "units": (f"bought {amount} units" + (f" of{on}" if on else "") + " (net of returns)")
                 if event != "return" else f"returned {amount} units" + (f" of{on}" if on else ""),
        "days": f"{did.format(what)} on {amount} days",
    }[c.measure] + when
    if passes_zero(c.op, values):
        text += " (customers with none count as 0)"
    return f"not ({text})" if c.negate else text


def op_words(op: str, shown: list[str]) -> str:
    """A threshold in words: "more than £1,000", "between 2 and 5"."""
    if op == "between":
        return f"between {shown[0]} and {shown[1]}"
    if op == "in":
        return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]
    return _OP_WORDS[op].format(shown[0])


def measure_label(m: Measure, period: Period | None) -> str:
    """The name of a measure: "customers", "mean revenue", "average order value", "total spend in
    the last 90 days"."""
    if m.agg == "count":
        return "customers"
    if m.agg == "share":
        return "share of customers" if m.field is None else f"share of {label(m.field)}"
    name = "spend" if period is not None and m.field == "revenue" else label(m.field or "")
    pooled = m.field in POOLED and m.agg == "mean"
    words = name if pooled else f"{_AGG_WORDS[m.agg]} {name}"
    return words if period is None else f"{words} {period.phrase}"


def measure_how(m: Measure, period: Period | None, group: str | None) -> str:
    """How a measure is computed, for the definition."""
    if group in PERIODS:
        return _period_how(m, period, group or "")
    if group == SEARCH:
        window = "" if period is None else f", {period.text}"
        share = ", as a share of the selected customers" if m.agg == "share" else ""
        return f"the selected customers who searched for each text{share}{window}"
    if group in (PRODUCT, CATEGORY):
        return _product_how(m, period, "product" if group == PRODUCT else "category")
    if m.agg == "count":
        return "the number of customers" if group is None else "customers per group"
    if m.agg == "share" and m.field is not None:
        name = label(m.field)
        if group is None:
            return f"the selected customers' {name} as a share of all customers' {name}"
        return f"each group's {name} as a share of the selected customers' total {name}"
    if m.agg == "share":
        return f"the selected customers as a share of {'all' if group is None else 'each group’s'} customers"
    window = "" if period is None else f" {period.text}"
    if m.field in POOLED and m.agg == "mean":
        return f"their {POOLED[m.field]} ÷ their orders{window}, over customers with an order"
    if period is None:
        return f"the {_AGG_WORDS[m.agg]} of each customer's {label(m.field or '')}"
    return (f"the {_AGG_WORDS[m.agg]} of each customer's {_WINDOWED.get(m.field or '', m.field)}"
            f"{window}, 0 for a customer without purchases then")


def _product_how(m: Measure, period: Period | None, what: str) -> str:
    window = "" if period is None else f", {period.text}"
    each = "each product" if what == "product" else "each category (a product of it)"
    if m.agg == "count":
        return f"the selected customers who bought {each}{window}"
    if m.agg == "share":
        return f"the selected customers who bought {each}, as a share of the selected customers{window}"
    value = {"spend": "its revenue (purchases net of returns)", "units": "the units bought",
             "orders": "the orders containing it", "returns": "the times it was returned (return rows)",
             "returned": "the amount refunded for it"}.get(WINDOW_FIELDS.get(m.field or "", ""),
                                                          m.field or "")
    return f"{value} among the selected customers{window}"


# Cycles: all the window's Mondays (or 14:00s) are one group, read from the event times as stored.
_CYCLES = {"weekday": ("day of the week", "; all Mondays together, and so on, by the time stamps as stored"),
           "hour": ("hour of the day", "; every day's 14:00-14:59 together, and so on, by the time stamps "
                    "as stored")}


def _period_how(m: Measure, period: Period | None, group: str) -> str:
    group, cycle = _CYCLES.get(group, (group, ""))
    return _period_words(m, period, group) + cycle


def _period_words(m: Measure, period: Period | None, group: str) -> str:
    window = "" if period is None else f", {period.text}"
    if m.agg == "count":
        return f"customers with a purchase in each {group}{window}"
    if m.agg == "share":
        return f"customers with a purchase in each {group}, as a share of the selected customers{window}"
    if m.field == "aov" and m.agg == "mean":
        return f"revenue ÷ orders in each {group}{window}"
    what = _WINDOWED.get(m.field or "", m.field)
    if m.agg == "sum":
        return f"the sum of {what} in each {group}{window}"
    return (f"the {_AGG_WORDS[m.agg]} of each customer's {what} in each {group}, over the customers "
            f"who bought or returned something in it{window}")


def compare(name: str, op: str, value: Any, facts: WorkspaceFacts) -> str:
    """A users-table comparison in words, with recency and tenure counted back from as_of."""
    day = facts.as_of.strftime("%Y-%m-%d")
    if name in ("recency_days", "tenure_days") and isinstance(value, int | float):
        n = int(value)
        words = {">": f"more than {n} days", ">=": f"{n} or more days", "<": f"less than {n} days",
                 "<=": f"{n} days or less", "=": f"exactly {n} days"}.get(op, f"{op} {n} days")
        which = "last" if name == "recency_days" else "first"
        return f"{which} purchase {words} before {day}"
    return f"{label(name)} {SYMBOLS.get(op, op)} {fmt(name, value, facts.currency)}"


def label(name: str) -> str:
    """A field's name in words."""
    return {"aov": "average order value", "n_events": "events", "units_per_order": "items per order",
            "products_bought": "different products bought", "n_view": "views", "n_search": "searches",
            "n_cart": "cart adds", "n_purchase": "purchase rows", "n_return": "return rows",
            "n_products": "products searched, viewed or bought"}.get(name, name.replace("_", " "))


def fmt(name: str, value: Any, currency: str) -> str:
    """A threshold as the definition shows it: money with its currency (whole units from 100)."""
    if isinstance(value, float) and name in MONEY:
        sign = "−" if value < 0 else ""
        digits = f"{abs(value):,.0f}" if abs(value) >= 100 else f"{abs(value):,.2f}"
        return f"{sign}{currency}{digits}"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def fmt_value(m: Measure, value: float | None, currency: str) -> str:
    """A measure's result in words: money to the penny, a share in percent, counts whole."""
    if value is None:
        return "none (no customer to compute it over)"
    if m.agg == "share":
        return f"{value * 100:.1f}%"
    if m.agg == "count":
        return f"{int(value):,}"
    if (m.field or "") in MONEY or (m.events is not None and m.events.measure == "spend"):
        return money(value, currency)
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def money(value: float, currency: str) -> str:
    """An amount to the penny, negatives as −£5.00."""
    return f"{'−' if value < 0 else ''}{currency}{abs(value):,.2f}"
