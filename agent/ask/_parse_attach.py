"""The parser's step after its passes: thresholds and windows go to what they belong to.

- A threshold said right after an event ("bought teapots more than 3 times") becomes that event's.
- A window goes to the nearest event, threshold or measure that can take one ("spent over £1,000
  in the last 90 days": purchases in that window; "total revenue last month": the measure). A
  second window beside an event that already has one repeats the event ("bought in December 2010
  but not in 2011", "in both January and February"). A window nothing can take leaves its words
  unread: the question is refused.
- "hasn't ordered since September" is read as: ordered before September and not since (the last
  purchase falls before it), as docs/definitions.md fixes it.
"""

from __future__ import annotations

import re

from segmint.agent.ask._parse_text import NEG_BEFORE, Parse, Piece, WindowSpan
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, EventMeasure, Window
from segmint.agent.query.glossary import Glossary
from segmint.agent.query.measures import EVENT_GROUPS

# The fields a measure can take inside a window (each customer's spend, orders, units there).
WINDOW_FIELDS = frozenset({"revenue", "orders", "units", "aov", "returns", "returned_amount"})
THRESHOLD_GAP = compiled(r"\s*(?:(?:in|on|across|over|with)\s+)?")  # "bought charcoal in 2 or more orders"
WINDOW_LEAD = compiled(r"^[\s,]*(?:(?:in|both|during|on|at|for|from|of|either)\b[\s,]*)*$")
CLONE_GAP = compiled(r"^[\s,]*(?:(?:and|but|or|both|also|again|not|never|then|nor|nothing|none)\b[\s,]*)+$")
NOTHING_BEFORE = compiled(r"\b(?:nothing|none)\s*$")
# "bought candles but not in the last 3 months": the window is a second, negated purchase of them
NEGATED_REPEAT = compiled(r"^[\s,]*(?:but|and|yet|though)\s+(?:not|never)\s*$")
SAME_WINDOW = compiled(r"\s*(?:(?:anything|something|any|it|them)\s+)?(?:in|during|within|over|for)\s+"
                         r"(?:that|the same|this|those)\s+(?:time|period|window|days|weeks|months)\b")


def event_of(c: Condition, becomes: EventMeasure) -> Condition:
    """The events condition a customer-field threshold stands for once a window or product is said.

    "spent over 1000" is purchase spend > 1000, "at least 3 orders" purchase orders >= 3,
    "returned something" a return event, "never bought" no purchase.
    """
    event = "return" if c.field == "returns" else "purchase"
    measure: EventMeasure = "events" if event == "return" else becomes
    at_least_one = (c.op, c.value) in ((">=", 1.0), (">", 0.0))
    if (c.op, c.value) == ("=", 0.0):
        return Condition(kind="events", event=event, negate=not c.negate)
    if at_least_one and measure in ("orders", "events"):
        return Condition(kind="events", event=event, negate=c.negate)
    return Condition(kind="events", event=event, measure=measure, op=c.op, value=c.value,
                     negate=c.negate)


def _events(piece: Piece) -> list[Condition]:
    return [c for c in piece.conditions if c.kind == "events"]


def merge_thresholds(p: Parse) -> None:
    """A count or amount said right after an event is that event's threshold."""
    for piece in sorted(p.pieces, key=lambda x: x.start):
        event = piece.event
        if event is None or event.op is not None:
            continue
        after = [n for n in p.pieces if n.becomes is not None and n.start >= piece.end
                 and THRESHOLD_GAP.fullmatch(p.text[piece.end:n.start])]
        if not after:
            continue
        n = after[0]
        field = n.conditions[0]
        if n.becomes in ("spend", "units") and event.event != "purchase":
            continue
        measure: EventMeasure = n.becomes if event.event == "purchase" else "events"
        if n.becomes == "events" or (measure == "orders" and event.event != "purchase"):
            measure = "events"
        piece.conditions = [event.model_copy(update={"measure": measure, "op": field.op,
                                                     "value": field.value})]
        piece.end = n.end
        p.pieces.remove(n)


def _takes_window(piece: Piece) -> bool:
    events = _events(piece)
    if events:
        return all(c.window is None for c in events)
    return piece.becomes is not None


def _distance(p: Parse, a: tuple[int, int], b: tuple[int, int]) -> int:
    """Characters of unread words between two spans (blanked words do not count)."""
    lo, hi = (a[1], b[0]) if a[1] <= b[0] else (b[1], a[0])
    return len(p.text[lo:hi].replace(" ", "")) if hi >= lo else 0


def _period_label(w: Window) -> tuple[str, str] | None:
    """The calendar period a dated window is exactly ("month", "2011-11"), as a table labels it."""
    if w.start is None or w.end is None or w.start.day != 1 or w.end.day != 1:
        return None
    months = (w.end.year - w.start.year) * 12 + w.end.month - w.start.month
    if months == 1:
        return "month", f"{w.start:%Y-%m}"
    if months == 3 and w.start.month % 3 == 1:
        return "quarter", f"{w.start.year}-Q{(w.start.month + 2) // 3}"
    if months == 12 and w.start.month == 1:
        return "year", str(w.start.year)
    return None


def compare_periods(p: Parse) -> None:
    """"revenue in November 2011 vs October 2011": a table by month of the periods compared."""
    if not p.compare or p.group_by is not None:
        return
    labelled = [(w, label) for w in p.windows if (label := _period_label(w.window))]
    units = {label[0] for _, label in labelled}
    if len(labelled) >= 2 and len(units) == 1:
        p.group_by, p.groups = units.pop(), [label[1] for _, label in labelled]
        for w, _ in labelled:
            p.windows.remove(w)


def _term_in_window(p: Parse, w: WindowSpan, glossary: Glossary) -> bool:
    """"bought more than once in the last 6 months": a term of fixed order, spend or unit counts
    ("repeat buyers": orders >= 2) said right before a window counts the purchases inside it."""
    before = [x for x in p.pieces if x.end <= w.start and not p.text[x.end:w.start].strip()]
    if not before or len(before[-1].conditions) != 1:
        return False
    piece = before[-1]
    c = piece.conditions[0]
    term = glossary.terms.get(c.term or "") if c.kind == "term" and not c.negate else None
    if term is None or not term.filters or any(
            f.percentile is not None or f.field not in RANKED for f in term.filters):
        return False
    piece.conditions = [Condition(kind="events", event="purchase", measure=RANKED[f.field], op=f.op,
                                  value=f.value, window=w.window) for f in term.filters]
    p.note(f"“{term.label}” in a window ({w.window.said}) is read as "
           + " and ".join(f"{f.field} {f.op} {f.value:g}" for f in term.filters if f.value is not None)
           + " counted inside it")
    return True


def attach_windows(p: Parse, glossary: Glossary) -> None:
    """Give every window to its event, threshold or measure; clone an event for a second window."""
    compare_periods(p)
    for w in sorted(p.windows, key=lambda x: x.start):
        span = (w.start, w.end)
        before = [x for x in p.pieces if _events(x) and x.end <= w.start]
        last = max(before, key=lambda x: x.end) if before else None
        if last is not None and NEGATED_REPEAT.match(p.text[last.end:w.start]) and _clone(p, w):
            continue
        options: list[tuple[int, int, Piece | None]] = []
        for piece in p.pieces:
            if _takes_window(piece):
                right = 1 if piece.start >= w.end else 0  # ties go to what was said before
                options.append((_distance(p, (piece.start, piece.end), span), right, piece))
        m = p.measure
        # a table by product counts its buyers inside the window ("best sellers last month")
        if (m is not None and m.window is None and (p.group_by in EVENT_GROUPS or (
                m.agg not in ("count", "share") and m.field in WINDOW_FIELDS)
                or (m.events is not None and m.events.window is None))):
            right = 1 if p.measure_at >= w.end else 0
            options.append((_distance(p, (p.measure_at, p.measure_at), span), right, None))
        if options:
            _, _, target = min(options, key=lambda o: (o[0], o[1]))
            _give(p, w, target)
        elif (p.group_by or "").startswith("first_purchase_"):
            # "new customers per month in 2011": the cohorts whose first purchase falls in it
            p.pieces.append(Piece(w.start, w.end, [Condition(kind="cohort", cohort="first_purchase",
                                                             window=w.window)]))
        elif p.rank is None and p.measure is None and p.sort_by in RANKED:
            # "who spent the most in December 2011?": ranked by that window's purchases
            piece = Piece(w.start, w.end, [Condition(kind="events", event="purchase", window=w.window)])
            p.pieces.append(piece)
            p.rank, p.sort_by = (piece, RANKED[p.sort_by]), None
        elif not _clone(p, w) and not _term_in_window(p, w, glossary):
            p.refused += w.window.said.split() if w.window.said else ["window"]
            continue
        for note in w.notes:
            p.note(note)
    p.windows = []
    _same_window(p)


def _same_window(p: Parse) -> None:
    """"viewed in the last 7 days without buying in that time": the event before's window again."""
    for piece in sorted(p.pieces, key=lambda x: x.start):
        m = SAME_WINDOW.match(p.text, piece.end)
        events = _events(piece)
        if m is None or not events or any(c.window is not None for c in events):
            continue
        earlier = [x.conditions[0].window for x in p.pieces if x.end <= piece.start and _events(x)
                   and x.conditions[0].window is not None]
        if earlier:  # "without buying anything in that time"
            piece.conditions = [c.model_copy(update={"window": earlier[-1]}) if c.kind == "events" else c
                                for c in piece.conditions]
            p.take(*m.span())
            piece.end = m.end()


def _give(p: Parse, w: WindowSpan, target: Piece | None) -> None:
    if target is None:
        assert p.measure is not None
        e = p.measure.events  # a total of a product's events: the window is theirs
        p.measure = p.measure.model_copy(update={"window": w.window} if e is None else {
            "events": e.model_copy(update={"window": w.window})})
        return
    if not _events(target) and target.becomes is not None:
        target.conditions = [event_of(target.conditions[0], target.becomes)]
        target.becomes = None
    for piece in [target, *(x for x in target.objects if x.start < target.start and _takes_window(x))]:
        piece.conditions = [c.model_copy(update={"window": w.window}) if c.kind == "events" else c
                            for c in piece.conditions]
    if WINDOW_LEAD.match(p.text[target.end:w.start]):  # a window said right after is part of the piece
        target.end = max(target.end, w.end)


def _clone(p: Parse, w: WindowSpan) -> bool:
    """A window joined to an event that already has one repeats that event: "... but not in 2011"."""
    before = [x for x in p.pieces if _events(x) and x.end <= w.start]
    if not before:
        return False
    piece = max(before, key=lambda x: x.end)
    gap = p.text[piece.end:w.start]
    if not CLONE_GAP.match(gap):
        return False
    neg = NEG_BEFORE.search(p.text, piece.end, w.start) or NOTHING_BEFORE.search(p.text, piece.end, w.start)
    conditions = [c.model_copy(update={"window": w.window, "negate": c.negate != (neg is not None)})
                  for c in _events(piece)]
    if not re.search(r"\bor\b", gap):  # "and then nothing in 2026": joiners only; "or" makes groups
        p.take(piece.end, w.start)
    p.pieces.append(Piece(w.start, w.end, conditions))
    return True


LIFETIME = {"orders": "orders", "spend": "revenue", "units": "units"}
RANKED: dict[str | None, EventMeasure] = {field: measure for measure, field in LIFETIME.items()}


def lifetime(conditions: list[Condition]) -> list[Condition]:
    """A purchase threshold with no product and no window is the customer field it sums:
    "has bought at least twice" is orders >= 2, "never bought" orders = 0 (docs/definitions.md)."""
    out = []
    for c in conditions:
        bare = c.kind == "events" and c.event == "purchase" and c.product is None and c.window is None
        if bare and c.op is not None and c.measure in LIFETIME:
            c = Condition(kind="field", field=LIFETIME[c.measure], op=c.op, value=c.value, negate=c.negate)
        elif bare and c.op is None and c.negate:  # "never bought anything": no orders
            c = Condition(kind="field", field="orders", op="=", value=0)
        if c not in out:
            out.append(c)
    return out


def read_since(conditions: list[Condition]) -> list[Condition]:
    """"Not bought since D": bought before D and not since; without a product, a last purchase before D."""
    out: list[Condition] = []
    for c in conditions:
        w = c.window
        if not (c.kind == "events" and c.event == "purchase" and c.negate and c.op is None
                and w is not None and w.start is not None and w.end is None):
            out.append(c)
            continue
        before = Window(end=w.start, said=f"before {w.start:%-d %B %Y}")
        if c.product is None:
            out.append(Condition(kind="cohort", cohort="last_purchase", window=before))
        else:
            out += [c.model_copy(update={"window": before, "negate": False}), c]
    return out
