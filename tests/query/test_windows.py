"""Time windows resolve against as_of into the actual [start, end) the docs define."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.agent.query import TICK, SpecError, Window, resolve_window

AS_OF = datetime(2011, 12, 9, 12, 50)


def this(unit: str) -> Window:
    return Window.model_validate({"period": "this", "unit": unit})


def previous(unit: str) -> Window:
    return Window.model_validate({"period": "previous", "unit": unit})


@pytest.mark.parametrize(
    ("window", "as_of", "first", "last", "words"),
    [
        # Counted back: ts > as_of - N x (1, 7, 30, 90, 365) days.
        (Window(last=90, unit="day"), AS_OF, date(2011, 9, 10), date(2011, 12, 9),
         "in the last 90 days (2011-09-10 – 2011-12-09)"),
        (Window(last=2, unit="week"), AS_OF, date(2011, 11, 25), date(2011, 12, 9), "in the last 2 weeks"),
        (Window(last=3, unit="month"), AS_OF, date(2011, 9, 10), date(2011, 12, 9), "in the last 3 months"),
        (Window(last=1, unit="quarter"), AS_OF, date(2011, 9, 10), date(2011, 12, 9), "in the last quarter"),
        (Window(last=1, unit="year"), datetime(2012, 3, 1), date(2011, 3, 2), date(2012, 3, 1),
         "in the last year"),
        # Calendar periods: the one containing as_of (to as_of), or the complete one before.
        (this("month"), AS_OF, date(2011, 12, 1), date(2011, 12, 9), "this calendar month"),
        (previous("month"), AS_OF, date(2011, 11, 1), date(2011, 11, 30),
         "last calendar month (2011-11-01 – 2011-11-30)"),
        (previous("month"), datetime(2012, 3, 15), date(2012, 2, 1), date(2012, 2, 29),
         "(2012-02-01 – 2012-02-29)"),  # a leap February
        (previous("month"), datetime(2011, 3, 31), date(2011, 2, 1), date(2011, 2, 28),
         "2011-02-28"),
        (previous("month"), datetime(2012, 1, 1), date(2011, 12, 1), date(2011, 12, 31),
         "2011-12-31"),  # across the year
        (previous("quarter"), AS_OF, date(2011, 7, 1), date(2011, 9, 30), "2011-07-01"),
        (previous("quarter"), datetime(2011, 1, 1), date(2010, 10, 1), date(2010, 12, 31),
         "2010-10-01 – 2010-12-31"),
        (this("quarter"), datetime(2011, 3, 31, 23), date(2011, 1, 1), date(2011, 3, 31),
         "2011-01-01 – 2011-03-31"),
        (this("quarter"), datetime(2011, 4, 1), date(2011, 4, 1), date(2011, 4, 1),
         "(2011-04-01)"),
        (this("year"), AS_OF, date(2011, 1, 1), date(2011, 12, 9), "this calendar year"),
        (previous("year"), AS_OF, date(2010, 1, 1), date(2010, 12, 31), "2010-12-31"),
        (this("week"), AS_OF, date(2011, 12, 5), date(2011, 12, 9), "2011-12-05"),  # Monday
        (previous("week"), AS_OF, date(2011, 11, 28), date(2011, 12, 4), "2011-12-04"),
        # Dates: start inclusive, end exclusive, cut at as_of.
        (Window(start=date(2011, 11, 1), end=date(2011, 12, 1)), AS_OF, date(2011, 11, 1), date(2011, 11, 30),
         "in November 2011 (2011-11-01 – 2011-11-30)"),
        (Window(start=date(2012, 2, 1), end=date(2012, 3, 1)), datetime(2012, 6, 1), date(2012, 2, 1),
         date(2012, 2, 29), "in February 2012 (2012-02-01 – 2012-02-29)"),
        (Window(start=date(2011, 10, 1), end=date(2012, 1, 1)), AS_OF, date(2011, 10, 1), date(2011, 12, 9),
         "in Q4 2011 (2011-10-01 – 2011-12-09)"),
        (Window(start=date(2011, 1, 1), end=date(2012, 1, 1)), AS_OF, date(2011, 1, 1), date(2011, 12, 9),
         "in 2011"),
        (Window(start=date(2011, 9, 1)), AS_OF, date(2011, 9, 1), date(2011, 12, 9), "since 2011-09-01"),
        (Window(start=date(2011, 6, 1), end=date(2011, 9, 1), said="last summer"), AS_OF, date(2011, 6, 1),
         date(2011, 8, 31), "last summer (2011-06-01 – 2011-08-31)"),
        (Window(start=date(2011, 11, 5), end=date(2011, 11, 6)), AS_OF, date(2011, 11, 5), date(2011, 11, 5),
         "on 2011-11-05 (2011-11-05)"),
    ],
)
def test_windows_resolve_to_the_documented_dates(window: Window, as_of: datetime, first: date, last: date,
                                                 words: str) -> None:
    period = resolve_window(window, as_of)
    assert (period.first_day, period.last_day) == (first, last)
    assert words in period.text


def test_bounds_are_exact_to_the_instant() -> None:
    period = resolve_window(Window(last=90, unit="day"), AS_OF)
    back = AS_OF - timedelta(days=90)
    assert period.start == back + TICK and period.end == AS_OF + TICK  # as_of - 90 days < ts <= as_of
    nov = resolve_window(Window(start=date(2011, 11, 1), end=date(2011, 12, 1)), AS_OF)
    assert (nov.start, nov.end) == (datetime(2011, 11, 1), datetime(2011, 12, 1))


def test_only_an_end_is_open_before_it() -> None:
    period = resolve_window(Window(end=date(2011, 1, 1)), AS_OF)
    assert period.start is None and period.end == datetime(2011, 1, 1)
    assert period.text == "before 2011-01-01 (up to 2010-12-31)"


def test_a_window_after_the_data_is_refused() -> None:
    with pytest.raises(SpecError, match=r"begins after the data ends \(2011-12-09\)"):
        resolve_window(Window(start=date(2012, 1, 1), end=date(2012, 2, 1)), AS_OF)


units = st.sampled_from(["day", "week", "month", "quarter", "year"])
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))
windows = st.one_of(
    st.builds(Window, last=st.integers(1, 5000), unit=units),
    st.builds(lambda f, u: f(u), st.sampled_from([this, previous]),
              st.sampled_from(["week", "month", "quarter", "year"])),
    st.builds(lambda a, n: Window(start=a, end=a + timedelta(days=n)), days, st.integers(1, 4000)),
    st.builds(lambda a: Window(start=a), days),
    st.builds(lambda a: Window(end=a), days),
)


@settings(deadline=None)  # a loaded test machine must not turn a slow example into a failure
@given(window=windows, as_of=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)))
def test_a_resolved_window_never_reaches_past_as_of_and_is_never_empty(window: Window,
                                                                        as_of: datetime) -> None:
    try:
        period = resolve_window(window, as_of)
    except SpecError:
        assert window.start is not None and datetime.combine(window.start, datetime.min.time()) > as_of
        return
    assert period.end <= as_of + TICK  # nothing after as_of is inside
    assert period.last_day <= as_of.date()
    if window.end is None or window.period == "this" or window.last is not None:
        assert period.end == as_of + TICK or window.period == "previous"
    if period.start is not None:
        assert period.start < period.end
