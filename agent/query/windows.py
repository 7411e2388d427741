"""Time windows resolved against as_of into actual timestamps (docs/definitions.md "Time windows").

A `Window` is kept as asked, so "in the last 90 days" moves with the data; `resolve_window` turns it
into a `Period` of the current workspace: a start (inclusive) and an end (exclusive), never past
as_of, and the words the definition shows with the actual dates, "in the last 90 days
(2011-09-10 – 2011-12-09)".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from segmint.agent.query.errors import SpecError
from segmint.agent.query.spec import Unit, Window

__all__ = ["TICK", "UNIT_DAYS", "Period", "resolve_window"]

# The smallest step of a DuckDB timestamp: "up to as_of" is `ts < as_of + TICK`, "after X" is
# `ts >= X + TICK`, so every window is one half-open interval [start, end).
TICK = timedelta(microseconds=1)
# Counted back from as_of, a month is 30 days, a quarter 90 and a year 365 (docs/definitions.md).
UNIT_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "quarter": 90, "year": 365}
# Words that already place a period in a sentence ("since May", "last summer", "this month").
_LEADS = {"in", "on", "at", "since", "before", "after", "during", "last", "this", "previous", "past",
          "between", "from", "until", "till", "up", "over", "within", "the", "by", "through",
          "throughout", "for", "prior", "next", "so", "year-to-date", "ytd"}
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


@dataclass(frozen=True)
class Period:
    """A window of one workspace: the events with `start <= ts < end`.

    Attributes:
        start: the first instant inside (None: from the first event).
        end: the first instant after; at most as_of + TICK, so nothing after as_of is inside.
        said: how the definition names it ("in the last 90 days", "last summer").
    """

    start: datetime | None
    end: datetime
    said: str

    @property
    def first_day(self) -> date | None:
        """The first calendar day inside (None when unbounded)."""
        return None if self.start is None else self.start.date()

    @property
    def last_day(self) -> date:
        """The last calendar day inside."""
        return (self.end - TICK).date()

    @property
    def dates(self) -> str:
        """The actual days, "2011-09-10 – 2011-12-09" (or "up to 2010-12-31")."""
        if self.first_day is None:
            return f"up to {self.last_day.isoformat()}"
        if self.first_day == self.last_day:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()} – {self.last_day.isoformat()}"

    @property
    def phrase(self) -> str:
        """The words as they follow a verb: a bare period name gets its "in" ("in 2011")."""
        first = self.said.split(" ", 1)[0].lower()
        return self.said if first in _LEADS else f"in {self.said}"

    @property
    def text(self) -> str:
        """The words and the actual dates, as every definition shows a window: "in November
        2011 (2011-11-01 – 2011-11-30)"."""
        return f"{self.phrase} ({self.dates})"


def resolve_window(window: Window, as_of: datetime) -> Period:
    """The actual period a window covers on data whose reference time is `as_of`.

    - last N units: `as_of - N x (1, 7, 30, 90, 365) days < ts <= as_of`;
    - this / previous calendar week (Monday first), month, quarter or year: the one containing
      as_of, or the complete one before it (this one ends at as_of);
    - dates: `start` inclusive, `end` exclusive, both at midnight; cut at as_of.

    Raises:
        SpecError: the window begins after as_of (the data has nothing there).
    """
    stop = as_of + TICK
    if window.last is not None:
        unit = window.unit or "day"
        span = timedelta(days=window.last * UNIT_DAYS[unit])
        # Further back than the calendar goes ("the last 5000 years"): everything up to as_of.
        back = as_of - span + TICK if span < as_of - datetime.min else None
        plural = "" if window.last == 1 else "s"
        count = "" if window.last == 1 else f"{window.last} "
        return Period(back, stop, window.said or f"in the last {count}{unit}{plural}")
    if window.period is not None:
        first, after = _calendar(window.unit or "month", as_of.date(), window.period == "previous")
        said = window.said or f"{'this' if window.period == 'this' else 'last'} calendar {window.unit}"
        return Period(_midnight(first), min(_midnight(after), stop), said)
    start = None if window.start is None else _midnight(window.start)
    end = stop if window.end is None else min(_midnight(window.end), stop)
    if start is not None and start >= end:
        raise SpecError(f"{window.said or _date_words(window)} begins after the data ends "
                        f"({as_of:%Y-%m-%d}); ask about a period up to then")
    return Period(start, end, window.said or _date_words(window))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _calendar(unit: Unit, day: date, previous: bool) -> tuple[date, date]:
    """The calendar `unit` containing `day` (or the one before): first day, day after the last."""
    if unit == "week":
        first = day - timedelta(days=day.weekday())
        if previous:
            first -= timedelta(days=7)
        return first, first + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]  # a Window has no this/previous day
    index = day.year * 12 + (day.month - 1) // months * months - (months if previous else 0)
    return _month_start(index), _month_start(index + months)


def _month_start(index: int) -> date:
    """The first day of month `index` (year * 12 + month - 1)."""
    return date(index // 12, index % 12 + 1, 1)


def _date_words(window: Window) -> str:
    """Plain words for a dated window: a whole month, quarter or year by name, else its bounds."""
    start, end = window.start, window.end
    if start is None:
        return f"before {end}"
    if end is None:
        return f"since {start}"
    if start.day == 1 and end.day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month
        if months == 1:
            return f"in {_MONTH_NAMES[start.month - 1]} {start.year}"
        if months == 3 and start.month % 3 == 1:
            return f"in Q{start.month // 3 + 1} {start.year}"
        if months == 12 and start.month == 1:
            return f"in {start.year}"
    if end == start + timedelta(days=1):
        return f"on {start}"
    return f"from {start} to {end - timedelta(days=1)}"
