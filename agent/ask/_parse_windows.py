"""Parser pass: time windows as `Window`s (docs/definitions.md "Time windows").

"in the last 90 days", "past 6 months" and "this/last month" stay relative, so a saved audience
moves with as_of. A calendar period ("November 2011", "Q3", "the third quarter", "last summer",
"2011", "1 March 2011", ISO dates) becomes dates; one named without a year is the latest such
period that began on or before as_of ("in November" on 2011-12-09 is November 2011), and the
parser says which year it took. "since", "after", "before", "until", "between ... and ..." and
"from ... to ..." bound a window by such periods. Each window waits, as a `WindowSpan`, for the
event, cohort or measure it belongs to (agent/ask/_parse_attach.py); one that belongs to nothing
leaves its words unread, so the question is refused rather than answered without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from segmint.agent.ask._parse_text import NUM, Parse, WindowSpan, number
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Unit, Window

MONTHS = {"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
          "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
          "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
          "november": 11, "dec": 12, "december": 12}
MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b"
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
ORDINAL = "(" + "|".join(ORDINALS) + ")"
# Meteorological seasons: first month, number of months; winter YEAR starts in December YEAR.
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
SEASON = r"(spring|summer|autumn|fall|winter)\b"
YEAR = r"(19[5-9]\d|20\d\d)\b"
DAY = r"([12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
UNIT_WORDS: dict[str, Unit] = {"day": "day", "week": "week", "month": "month", "quarter": "quarter",
                               "year": "year"}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 90, "year": 365}
RESTATED = compiled(r"\s+(\d+)\s+days?\b")


@dataclass(frozen=True)
class Period:
    """A calendar period read in the question: [start, end), its year maybe to be inferred.

    Attributes:
        start: first day, in the year given or (not `dated`) a placeholder year.
        end: the day after the last day.
        said: the words.
        dated: whether the year was given.
    """

    start: date
    end: date
    said: str
    dated: bool

    def moved(self, years: int) -> Period:
        """The same period `years` later."""
        return Period(_add_years(self.start, years), _add_years(self.end, years), self.said, True)


def _add_years(d: date, years: int) -> date:
    return d.replace(year=d.year + years, day=min(d.day, 28) if d.month == 2 else d.day)


def _month(year: int, month: int, months: int = 1) -> tuple[date, date]:
    """The months starting at `month` of `year` ([start, end))."""
    end_index = year * 12 + month - 1 + months
    return date(year, month, 1), date(end_index // 12, end_index % 12 + 1, 1)


def _period(kind: str, m: re.Match[str], placeholder: int) -> Period | None:
    """The period an atom's match names; `placeholder` is the year used when none is given."""
    said = m[0].strip()
    try:
        if kind == "iso_day":
            d = date(int(m[1]), int(m[2]), int(m[3]))
            return Period(d, date.fromordinal(d.toordinal() + 1), said, True)
        if kind == "iso_month":
            return Period(*_month(int(m[1]), int(m[2])), said, True)
        if kind in ("dmy", "mdy"):
            day, month, year = (m[1], m[2], m[3]) if kind == "dmy" else (m[2], m[1], m[3])
            d = date(int(year) if year else placeholder, MONTHS[month], int(day))
            return Period(d, date.fromordinal(d.toordinal() + 1), said, bool(year))
        if kind == "month":
            return Period(*_month(int(m[2]) if m[2] else placeholder, MONTHS[m[1]]), said, bool(m[2]))
        if kind == "quarter":
            q = int(m[1]) if m[1].isdigit() else ORDINALS[m[1]]
            return Period(*_month(int(m[2]) if m[2] else placeholder, 3 * q - 2, 3), said, bool(m[2]))
        if kind == "year_quarter":
            return Period(*_month(int(m[1]), 3 * int(m[2]) - 2, 3), said, True)
        if kind == "half":
            h = 1 if m[1] in ("1", "first") else 2
            return Period(*_month(int(m[2]), 6 * h - 5, 6), said, True)
        if kind == "season":
            year = int(m[2]) if m[2] else placeholder
            return Period(*_month(year, SEASONS[m[1]], 3), said, bool(m[2]))
        return Period(date(int(m[1]), 1, 1), date(int(m[1]) + 1, 1, 1), said, True)
    except ValueError:  # "31 February"
        return None


ATOMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((k, compiled(p)) for k, p in (
    ("iso_day", r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"),
    ("iso_month", r"\b(\d{4})-(\d{1,2})\b(?!-)"),
    ("dmy", r"\b" + DAY + r"\s+(?:of\s+)?" + MONTH + r"(?:,?\s+" + YEAR + r")?"),
    ("mdy", r"\b" + MONTH + r"\s+" + DAY + r"(?!\d)(?:,?\s+" + YEAR + r")?"),
    ("month", r"\b" + MONTH + r"(?:,?\s+(?:of\s+)?" + YEAR + r")?"),
    ("quarter", r"\bq([1-4])\b(?:\s+(?:of\s+)?" + YEAR + r")?"),
    ("quarter", r"\b(?:the\s+)?" + ORDINAL + r"\s+quarter\b(?:\s+of\s+" + YEAR + r")?"),
    ("year_quarter", r"\b" + YEAR + r"\s+q([1-4])\b"),
    ("half", r"\b(?:the\s+)?(first|second)\s+half\s+of\s+" + YEAR),
    ("half", r"\bh([12])\s+" + YEAR),
    ("season", r"\b(?:the\s+)?" + SEASON + r"(?:\s+(?:of\s+)?" + YEAR + r")?"),
    ("year", r"\b(?:the\s+year\s+|year\s+)?" + YEAR),
))
# A month said without a lead word or a year is no window: "customers who may churn".
NEEDS_LEAD = {"month", "season"}
LEAD = compiled(r"\b(in|during|within|over|throughout|on|across|of|for)\s+(?:the\s+)?$")
BOUND = compiled(r"\b(since|from|after|before|prior to|earlier than|until|till|up to|up until|through)"
                   r"\s+(?:the\s+)?$")
RANGE_START = compiled(r"\b(between|from)\s+(?:the\s+)?$")
RANGE_JOIN = compiled(r"\s*(?:and|to|until|till|through|-|–)\s+(?:the\s+)?")

RELATIVE: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Window | None]], ...] = (
    (compiled(r"\b(?:year to date|ytd|so far this year|this year so far)\b"),
     lambda m: Window(period="this", unit="year", said=m[0].strip())),
    (compiled(r"\b(?:month to date|mtd|so far this month|this month so far)\b"),
     lambda m: Window(period="this", unit="month", said=m[0].strip())),
    (compiled(r"\b(?:(?:in|during|within|over|for|throughout)\s+)?(?:the\s+)?(?:last|past|previous|"
                r"prior|trailing)\s+" + NUM + r"\s+(days?|weeks?|months?|quarters?|years?)\b"),
     lambda m: _last(number(m[1]), m[2], m[0])),
    (compiled(r"\b(?:(?:in|during|within|over|for|throughout)\s+)?(?:the\s+)?(last|previous|prior|this|"
                r"current)\s+(week|month|quarter|year)\b"),
     lambda m: Window(period="this" if m[1] in ("this", "current") else "previous",
                      unit=UNIT_WORDS[m[2]], said=m[0].strip())),
    (compiled(r"\b(?:(?:in|during|over|for|on)\s+)?(yesterday|today)\b"),
     lambda m: Window(last=1, unit="day", said=m[0].strip())),
)


def _last(n: float, unit: str, said: str) -> Window | None:
    if n < 1 or not n.is_integer():
        return None
    return Window(last=int(n), unit=UNIT_WORDS[unit.rstrip("s")], said=said.strip())


def relative_note(w: Window) -> str | None:
    """The documented reading of an ambiguous relative window, naming the other one."""
    if w.period == "previous" and w.unit is not None:
        return (f"“{w.said or 'last ' + w.unit}” is read as the previous complete calendar {w.unit}, "
                f"not the last {UNIT_DAYS[w.unit]} days")
    if w.last == 1 and w.unit == "day" and w.said and "yesterday" in w.said:
        return f"“{w.said}” is read as the last day before the data's end (as_of)"
    return None


# "in each of the last 3 months" asks for a purchase in every one of them: not one window
EACH_OF = compiled(r"\b(?:each|every|every one|all)\s+of\s+(?=(?:the\s+)?(?:last|past|previous)\b)")


def read_windows(p: Parse, as_of: date | None) -> None:
    """Read every time window left in the text, relative ones first."""
    for m in list(EACH_OF.finditer(p.text)):
        if p.free(*m.span()):
            p.take(*m.span())
            p.refused.append(m[0].strip())
    for pattern, make in RELATIVE:
        for m in list(pattern.finditer(p.text)):
            window = make(m) if p.free(*m.span()) else None
            if window is not None:
                note = relative_note(window)
                end = m.end()
                said = RESTATED.match(p.text, end)  # "in the last week (7 days)"
                days_said = int(said[1]) if said else 0
                if said and window.last and window.unit and days_said == window.last * UNIT_DAYS[window.unit]:
                    end = said.end()
                p.windows.append(WindowSpan(m.start(), end, window, [note] if note else []))
                p.take(m.start(), end)
    _read_calendar(p, as_of)


def _atoms(text: str) -> list[tuple[int, int, str, re.Match[str]]]:
    """Calendar periods in the text, leftmost-longest, never overlapping."""
    found = [(m.start(), m.end(), kind, m) for kind, pattern in ATOMS for m in pattern.finditer(text)]
    found.sort(key=lambda a: (a[0], -a[1]))
    out: list[tuple[int, int, str, re.Match[str]]] = []
    for atom in found:
        if not out or atom[0] >= out[-1][1]:
            out.append(atom)
    return out


def _latest(period: Period, as_of: date | None, *, before: date | None = None,
            ended: bool = False) -> Period | None:
    """A year-less period in its latest year that began on or before as_of (or `before`)."""
    if period.dated:
        return period
    limit = before or as_of
    if limit is None:
        return None
    moved = period.moved(limit.year - period.start.year)
    while (moved.end > limit) if ended else (moved.start > limit):
        moved = moved.moved(-1)
    return moved


def _read_calendar(p: Parse, as_of: date | None) -> None:
    placeholder = 2000  # a leap year, so "29 February" parses before its year is known
    atoms = [a for a in _atoms(p.text) if p.free(a[0], a[1])]
    used: set[int] = set()
    for i, (start, end, kind, m) in enumerate(atoms):
        if i in used:
            continue
        period = _period(kind, m, placeholder)
        if period is None:
            continue
        before = p.text[:start]
        qualifier = re.search(r"\b(last|this)\s+$", before)
        if qualifier is not None and not period.dated and kind in ("month", "season"):
            # "last summer": the latest one that has ended; "this summer": the latest begun
            resolved = _latest(period, as_of, ended=qualifier[1] == "last")
            span = (qualifier.start(), end)
            lead = LEAD.search(p.text, 0, qualifier.start())
            if lead is not None:
                span = (lead.start(), end)
            _add(p, span, _dates(resolved, None, f"{qualifier[1]} {period.said}"), period, resolved)
            continue
        if (rng := RANGE_START.search(before)) and i + 1 < len(atoms):
            nxt = atoms[i + 1]
            join = RANGE_JOIN.fullmatch(p.text, end, nxt[0])
            second = _period(nxt[2], nxt[3], placeholder) if join else None
            if second is not None:
                used.add(i + 1)
                first, last = _range(period, second, as_of)
                window = _dates(first, last, p.text[rng.start():nxt[1]].strip(), inclusive=True)
                _add(p, (rng.start(), nxt[1]), window, period, first, second, last)
                continue
        if bound := BOUND.search(before):
            resolved = _latest(period, as_of)
            word = bound[1]
            window = None
            if resolved is not None:
                said = f"{word} {period.said}"
                if word in ("since", "from"):
                    window = Window(start=resolved.start, said=said)
                elif word == "after":
                    window = Window(start=resolved.end, said=said)
                elif word in ("before", "prior to", "earlier than"):
                    window = Window(end=resolved.start, said=said)
                else:
                    window = Window(end=resolved.end, said=said)
            _add(p, (bound.start(), end), window, period, resolved)
            continue
        lead = LEAD.search(before)
        if lead is None and kind in NEEDS_LEAD and not period.dated:
            continue
        resolved = _latest(period, as_of)
        span = (lead.start() if lead else start, end)
        _add(p, span, _dates(resolved, None, period.said), period, resolved)


def _range(first: Period, second: Period, as_of: date | None) -> tuple[Period | None, Period | None]:
    """Both ends of "from A to B", years inferred from each other and from as_of."""
    if first.dated and not second.dated:
        last = second.moved(first.start.year - second.start.year)
        while last.start < first.start:
            last = last.moved(1)
        return first, last
    last_resolved = _latest(second, as_of)
    if last_resolved is None:
        return None, None
    return _latest(first, as_of, before=last_resolved.start), last_resolved


def _dates(first: Period | None, last: Period | None, said: str, *,
           inclusive: bool = False) -> Window | None:
    if first is None or (inclusive and last is None):
        return None
    end = last.end if inclusive and last is not None else first.end
    if end <= first.start:
        return None
    return Window(start=first.start, end=end, said=said[:100])


def _label(period: Period) -> str:
    """'November 2011', '1 March 2011', or 'Jun 2011 to Aug 2011'."""
    last = date.fromordinal(period.end.toordinal() - 1)
    if period.end.toordinal() - period.start.toordinal() == 1:
        return f"{period.start.day} {period.start:%B %Y}"
    if (period.start.year, period.start.month) == (last.year, last.month):
        return f"{period.start:%B %Y}"
    return f"{period.start:%B %Y} to {last:%B %Y}"


def _add(p: Parse, span: tuple[int, int], window: Window | None, *periods: Period | None) -> None:
    """Record a window (nothing when it could not be resolved: its words stay unread)."""
    if window is None or not p.free(*span):
        return
    notes = []
    for given, resolved in zip(periods[::2], periods[1::2], strict=False):
        if given is not None and resolved is not None and (not given.dated or "winter" in given.said):
            notes.append(f"“{given.said}” is read as {_label(resolved)}"
                         + ("" if given.dated else ", the latest up to the data's end (as_of)"))
    p.windows.append(WindowSpan(span[0], span[1], window, notes))
    p.take(*span)
