"""QuerySpec: the typed form of a question (docs/definitions.md "Questions").

A spec is data: conditions on customers (glossary terms, field comparisons, what they did in a
time window, their first- or last-order cohort, segments), combined as an OR of AND-groups, plus
what to report: the customers themselves, one number, or a table of numbers by group. Only
agent/query/compile.py turns a spec into SQL, from whitelisted names and bound parameters; no text
from a question or an LLM is ever placed in SQL.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CompareOp = Literal[">", ">=", "<", "<=", "=", "!=", "between", "in"]
Intent = Literal["list", "count", "describe", "compare", "top"]
EventType = Literal["purchase", "view", "search", "cart", "return", "any"]
Unit = Literal["day", "week", "month", "quarter", "year"]
# What an event condition's threshold counts, over the matching events in its window:
# events (rows), orders (distinct order ids; purchase rows when the shop has none), spend (amount
# of purchase and return rows), units (quantity), days (distinct days with such an event).
EventMeasure = Literal["events", "orders", "spend", "units", "days"]
Aggregate = Literal["count", "sum", "mean", "median", "min", "max", "share"]
AnswerKind = Literal["customers", "number", "table"]


class Window(BaseModel):
    """A period of time, kept as asked so that a relative window moves with as_of.

    Exactly one form is given:
    - `last` N `unit`s up to as_of ("in the last 90 days": timestamp > as_of - 90 days);
    - `period` "this" or "previous" calendar `unit` ("this month", "last quarter": the previous
      complete calendar quarter);
    - dates: `start` (inclusive) and/or `end` (exclusive); "November 2011" is 2011-11-01 to
      2011-12-01, "since 2011-09-01" has only a start, "before 2011" only an end.

    Attributes:
        last: how many units back from as_of.
        period: this or the previous calendar period.
        unit: day, week, month (30 days when counted back), quarter or year.
        start: first day of the window (inclusive).
        end: the day after the window (exclusive).
        said: the words it was read from ("last summer"), shown beside the actual dates.
    """

    model_config = ConfigDict(extra="forbid")

    last: int | None = Field(default=None, ge=1, le=100_000)
    period: Literal["this", "previous"] | None = None
    unit: Unit | None = None
    start: date | None = None
    end: date | None = None
    said: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        forms = [self.last is not None, self.period is not None,
                 self.start is not None or self.end is not None]
        if sum(forms) != 1:
            raise ValueError("a window is one of: last N units, this/previous unit, or dates")
        if (self.last is not None or self.period is not None) and self.unit is None:
            raise ValueError("a relative window needs a unit")
        if self.period is not None and self.unit == "day":
            raise ValueError("this/previous day is not a calendar period; use last 1 day")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("a window's end must come after its start")
        return self


class Condition(BaseModel):
    """One test a customer must pass.

    Kinds:
    - "term": a glossary term (`term`).
    - "field": a users-table field compared with a value (`field`, `op`, `value`).
    - "events": the customer has events of type `event`, about `product` (when given), inside
      `window` (when given), whose `measure` passes `op` `value` (at least one event when no
      threshold is given). "bought teapots at least twice" is orders >= 2 of purchases matching
      "teapots"; "spent over 1000 in the last 90 days" is spend > 1000 of purchases in the window.
    - "cohort": the customer's first (or last) purchase falls inside `window` ("first order in 2011").
    - "interest": searched for, viewed or bought `interest` (an "events" condition over any event
      type; kept for specs written before events existed).
    - "segment": a member of segment `segment` (an id).

    Attributes:
        kind: which test this is.
        term: glossary key (kind "term").
        field: users-table field (kind "field"); must be on the whitelist.
        op: comparison (kind "field"; kind "events" for its threshold).
        value: number, text, [low, high] for between, or a list for in.
        event: the event type (kind "events").
        product: a product phrase (kind "events"): whole words of product texts and categories.
        match: "exact" (whole words, singular or plural) or "meaning" (close in meaning, only when
            asked for: "anything like teapots").
        window: the time window (kinds "events" and "cohort").
        measure: what the threshold of an "events" condition counts.
        cohort: first_purchase or last_purchase (kind "cohort").
        interest: a phrase matched against what customers searched for, viewed and bought.
        segment: a segment id (kind "segment").
        negate: the customer must fail the test instead ("never bought", "not in France").
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["term", "field", "events", "cohort", "interest", "segment"]
    term: str | None = None
    field: str | None = None
    op: CompareOp | None = None
    value: float | str | list[float | str] | None = None
    event: EventType | None = None
    product: str | None = Field(default=None, max_length=200)
    match: Literal["exact", "meaning"] = "exact"
    window: Window | None = None
    measure: EventMeasure | None = None
    cohort: Literal["first_purchase", "last_purchase"] | None = None
    interest: str | None = Field(default=None, max_length=200)
    segment: str | None = None
    negate: bool = False

    @model_validator(mode="after")
    def _complete(self) -> Condition:
        needed = {"term": ("term",), "field": ("field", "op", "value"), "interest": ("interest",),
                  "segment": ("segment",), "events": ("event",),
                  "cohort": ("cohort", "window")}[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} condition needs {', '.join(missing)}")
        if self.op == "between" and not (isinstance(self.value, list) and len(self.value) == 2):
            raise ValueError("between needs [low, high]")
        if self.kind == "events" and (self.op is None) != (self.value is None):
            raise ValueError("an events threshold needs both op and value")
        if self.kind == "events" and self.op is not None and self.measure is None:
            raise ValueError("an events threshold needs a measure")
        return self


class Measure(BaseModel):
    """The number a question asks for, over the customers its conditions select.

    `agg` "count" counts customers (no field); "share" is their share of all customers (of the
    group's customers, in a table), or with a `field`, their share of its total ("the share of
    revenue from repeat buyers"; in a table, each group's share of the selected customers' total).
    The others aggregate a users-table numeric field (revenue, orders, aov, recency_days, units,
    ...), or, with a `window`, the customer's spend, orders or units inside that window (`field`
    revenue, orders or units). The average order value of a group is its revenue over its orders
    (docs/definitions.md). With `events`, the number is that events condition's measure over the
    selected customers' events ("how many teapots did we sell in 2011": units of purchases matching
    "teapots" in 2011, net of returns); `agg` sum is the total, mean the total per selected customer.

    Attributes:
        agg: count, sum, mean, median, min, max or share.
        field: the field aggregated (None for count and share, and with `events`).
        window: when given, the field is computed from the events inside it.
        events: an events condition with a measure and no threshold, whose measure is totalled.
    """

    model_config = ConfigDict(extra="forbid")

    agg: Aggregate
    field: str | None = None
    window: Window | None = None
    events: Condition | None = None

    @model_validator(mode="after")
    def _field_needed(self) -> Measure:
        if self.events is not None:
            e = self.events
            if e.kind != "events" or e.measure is None or e.op is not None or e.negate:
                raise ValueError("a measure's events need an events condition with a measure and no "
                                 "threshold")
            if self.agg not in ("sum", "mean") or self.field is not None or self.window is not None:
                raise ValueError("a measure of events is a sum or a mean, with no field or window of "
                                 "its own (the condition has them)")
            return self
        if self.agg == "count" and self.field is not None:
            raise ValueError("count takes no field")
        if self.agg not in ("count", "share") and self.field is None:
            raise ValueError(f"{self.agg} needs a field")
        return self


class QuerySpec(BaseModel):
    """A question as data: OR of AND-groups of conditions, and what to report about them.

    Attributes:
        intent: list, count, describe, compare or top (how the answer is worded).
        any_of: the customers: an OR of AND-groups of conditions (all customers when empty).
        sort_by: a numeric field to order customers by; "value" orders a table's rows by their
            number (the default order of a table that names no groups).
        rank_by: order customers by what they did instead: an events condition without a
            threshold whose `measure` is computed over its events ("who bought the most teapots":
            units of purchases matching "teapots"; "who spent the most in December": spend of
            purchases in that month), a customer without such events counting 0.
        descending: highest first (customers, and a table's rows when ordered by value).
        limit: at most this many customers, or this many table rows.
        measure: the number asked for ("average order value"); None lists customers.
        group_by: one number per group: a text attribute (country), "segment", or a calendar
            period of the events ("month", "quarter", "year", "week") or of the first purchase
            ("first_purchase_month", "first_purchase_quarter", "first_purchase_year").
        groups: the groups asked for, in the order asked ("France vs Germany"); all when None.
    """

    model_config = ConfigDict(extra="forbid")

    intent: Intent = "list"
    any_of: list[list[Condition]] = Field(default_factory=list)
    sort_by: str | None = None
    rank_by: Condition | None = None
    descending: bool = True
    limit: int | None = Field(default=None, ge=1, le=1_000_000)
    measure: Measure | None = None
    group_by: str | None = None
    groups: list[str] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _one_order(self) -> QuerySpec:
        r = self.rank_by
        if r is None:
            return self
        if r.kind != "events" or r.measure is None or r.op is not None or r.negate:
            raise ValueError("rank_by needs an events condition with a measure and no threshold")
        if self.sort_by is not None and self.sort_by != "value":
            raise ValueError("give sort_by or rank_by, not both")
        return self

    def conditions(self) -> list[Condition]:
        """Every condition the spec says: its groups', then `rank_by` and the measure's events."""
        said = [c for g in self.any_of for c in g]
        return [*said, *(c for c in (self.rank_by, self.measure.events if self.measure else None)
                         if c is not None)]

    @property
    def kind(self) -> AnswerKind:
        """What the answer is: the customers, one number, or a table of numbers by group."""
        if self.group_by is not None:
            return "table"
        if self.measure is not None or self.intent == "count":
            return "number"
        return "customers"
