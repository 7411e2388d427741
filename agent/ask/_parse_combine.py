"""The parser's last step: pieces -> QuerySpec. Values of one attribute joined by "or"/"and" merge
into one `in`; "or" splits AND-groups; an explicit number replaces the default it refines; the
values compared ("France vs Germany", "what share of German customers") become a table's groups.
"""

from __future__ import annotations

import itertools

from segmint.agent.ask._parse_attach import lifetime, read_since
from segmint.agent.ask._parse_text import Parse, Piece
from segmint.agent.ask._parse_text import field_condition as _field
from segmint.agent.core.patterns import compiled
from segmint.agent.query import PERIODS, TERM, Condition, Measure, QuerySpec
from segmint.agent.query.glossary import Glossary
from segmint.agent.query.measures import EVENT_GROUPS

OR_GAP = compiled(r"\bor\b")
LIST_GAP = compiled(r"^(?:\s|,|\band\b|\bor\b|&|\bthe\b|\bin\b|\bfrom\b)*$")


def _merge_values(pieces: list[Piece], text: str) -> list[Piece]:
    """'France or Germany', 'Spain, Italy and Portugal' -> one `in` condition (one value each)."""
    merged: list[Piece] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if (prev is not None and piece.attribute is not None and prev.attribute == piece.attribute
                and not piece.conditions[0].negate and LIST_GAP.match(text[prev.end:piece.start])):
            first = prev.conditions[0]
            values = first.value if first.op == "in" and isinstance(first.value, list) else [first.value]
            values = [*values, piece.conditions[0].value]
            prev.conditions = [first.model_copy(update={"op": "in", "value": values})]
            prev.end = piece.end
            continue
        merged.append(Piece(piece.start, piece.end, list(piece.conditions), piece.attribute))
    return merged


def _groups(pieces: list[Piece], text: str, glossary: Glossary) -> list[list[Condition]]:
    """AND everything, except pieces joined by 'or': each choice becomes its own AND-group.

    Two terms no customer can both meet, joined by 'and' ("churned and at-risk customers"), are
    read as a list of both groups too: the literal AND would always be empty.
    """
    slots: list[list[list[Condition]]] = []
    prev: Piece | None = None
    for piece in sorted(pieces, key=lambda x: x.start):
        gap = text[prev.end:piece.start] if prev is not None else ""
        if prev is not None and slots and (OR_GAP.search(gap) or (
                AND_GAP.match(gap) and _exclusive(prev.conditions, piece.conditions, glossary))):
            slots[-1].append(piece.conditions)
        else:
            slots.append([piece.conditions])
        prev = piece
    groups = []
    for choice in itertools.product(*slots):
        group: list[Condition] = []
        for conditions in choice:
            group += [c for c in conditions if c not in group]
        groups.append(group)
    return groups


Interval = tuple[float, bool, float, bool]  # low, low included, high, high included
AND_GAP = compiled(r"^(?=.*(?:\band\b|,|&))(?:\s|,|&|\band\b|\bcustomers\b|\bbuyers\b|\bclients\b|"
                     r"\bpeople\b|\bshoppers\b)*$")


def _exclusive(a: list[Condition], b: list[Condition], glossary: Glossary) -> bool:
    """Whether two single glossary terms can never hold together (disjoint on some field)."""
    if len(a) != 1 or len(b) != 1 or a[0].negate or b[0].negate:
        return False
    ranges_a, ranges_b = _term_ranges(a[0], glossary), _term_ranges(b[0], glossary)
    return any(_empty(_meet(ranges_a[k], ranges_b[k])) for k in ranges_a.keys() & ranges_b.keys())


def _term_ranges(c: Condition, glossary: Glossary) -> dict[tuple[str, bool], Interval]:
    """The interval each of a term's fields must lie in (percentile thresholds on their own scale)."""
    term = glossary.terms.get(c.term or "") if c.kind == "term" else None
    ranges: dict[tuple[str, bool], Interval] = {}
    for f in term.filters if term is not None else ():
        v = f.percentile if f.percentile is not None else f.value
        if v is None or f.op == "!=":
            continue
        inf = float("inf")
        bound: Interval = {">": (v, False, inf, False), ">=": (v, True, inf, False),
                           "<": (-inf, False, v, False), "<=": (-inf, False, v, True),
                           "=": (v, True, v, True)}[f.op]
        key = (f.field, f.percentile is not None)
        ranges[key] = _meet(ranges[key], bound) if key in ranges else bound
    return ranges


def _meet(a: Interval, b: Interval) -> Interval:
    low = max((a[0], a[1]), (b[0], b[1]), key=lambda x: (x[0], not x[1]))
    high = min((a[2], a[3]), (b[2], b[3]), key=lambda x: (x[0], x[1]))
    return low[0], low[1], high[0], high[1]


def _empty(r: Interval) -> bool:
    return r[0] > r[2] or (r[0] == r[2] and not (r[1] and r[3]))


def _override(group: list[Condition], glossary: Glossary) -> list[Condition]:
    """An explicit number replaces the default it refines: 'lapsed, no purchase in 6 months'.

    A term whose field is also given explicitly in the same group is replaced by its other
    filters (fixed thresholds only; a term with another percentile filter is kept whole).
    """
    explicit = {c.field for c in group if c.kind == "field" and not c.negate}
    out: list[Condition] = []
    for c in group:
        term = glossary.terms.get(c.term or "") if c.kind == "term" and not c.negate else None
        if term is None or not explicit & {f.field for f in term.filters}:
            out.append(c)
            continue
        rest = [f for f in term.filters if f.field not in explicit]
        if any(f.percentile is not None for f in rest):
            out.append(c)
            continue
        out += [x for x in (_field(f.field, f.op, f.value or 0.0) for f in rest) if x not in out]
    return out


def _compared(p: Parse, pieces: list[Piece]) -> list[Piece]:
    """Values compared, or the base of a share, become the table's groups (in the order asked)."""
    if p.share_base is not None:
        lo, hi = p.share_base
        base = [x for x in pieces if lo <= x.start < hi]
        one_value = len(base) == 1 and base[0].attribute is not None and not base[0].conditions[0].negate
        if base and not one_value:
            p.refused.append("share")  # "what share of lapsed customers ...": no such base
            return pieces
        if base:
            return _as_groups(p, pieces, base[0])
        return pieces
    if not (p.compare or p.intent == "compare" or p.group_by):
        return pieces
    for piece in pieces:
        c = piece.conditions[0]
        several = c.op == "in" and isinstance(c.value, list)
        if (piece.attribute is not None and not c.negate and (several or p.group_by == piece.attribute)
                and p.group_by in (None, piece.attribute)):
            return _as_groups(p, pieces, piece)
    segments = [x for x in pieces if x.conditions[0].kind == "segment" and not x.conditions[0].negate]
    if len(segments) >= 2 and p.group_by in (None, "segment"):
        p.group_by, p.groups = "segment", [str(x.conditions[0].segment) for x in segments]
        return [x for x in pieces if x not in segments]
    terms = [x for x in pieces if len(x.conditions) == 1 and x.conditions[0].kind == "term"
             and not x.conditions[0].negate]
    if p.compare and len(terms) >= 2 and p.group_by is None:  # "repeat buyers vs one-time buyers"
        p.group_by, p.groups = TERM, [str(x.conditions[0].term) for x in terms]
        return [x for x in pieces if x not in terms]
    if p.compare and p.groups is None:
        p.refused.append("vs")  # nothing to compare: refuse rather than list one side
    return pieces


def _as_groups(p: Parse, pieces: list[Piece], piece: Piece) -> list[Piece]:
    c = piece.conditions[0]
    p.group_by = piece.attribute
    p.groups = [str(v) for v in c.value] if isinstance(c.value, list) else [str(c.value)]
    return [x for x in pieces if x is not piece]


PURCHASE_FIELDS = frozenset({"orders", "recency_days", "tenure_days"})
BARE_PURCHASE = Condition(kind="events", event="purchase")


def _implies_purchase(c: Condition, glossary: Glossary) -> bool:
    """Whether a customer passing `c` has bought something (a last purchase, an order...)."""
    if c.negate:
        return False
    if c.kind == "term" and c.term in glossary.terms:
        return any(f.field in PURCHASE_FIELDS for f in glossary.terms[c.term].filters)
    if c.kind == "field":
        some_order = c.op in (">", ">=", "=") and isinstance(c.value, int | float) and c.value >= 1
        return c.field in ("recency_days", "tenure_days") or (c.field == "orders" and some_order)
    return c.kind == "cohort" or (c.kind == "events" and c.event == "purchase" and c != BARE_PURCHASE)


def _drop_implied(group: list[Condition], glossary: Glossary) -> list[Condition]:
    """"customers who buy frequently": "buy" says no more than "frequent" does."""
    if BARE_PURCHASE in group and any(_implies_purchase(c, glossary) for c in group):
        return [c for c in group if c != BARE_PURCHASE]
    return group


def _periods_in_window(measure: Measure, group_by: str, groups: list[list[Condition]]) -> Measure:
    """"how many customers bought each month in 2011": the window bounds the periods counted.

    The window was read as "bought anything in 2011"; for a count by the events' period it also
    says which periods are asked about, so the measure takes it (months of 2010 are not shown).
    A sum keeps every period: "revenue by month of customers who bought in 2011" asks about
    those customers, not about 2011 only. A table by product always takes it ("best sellers last
    month" ranks last month's purchases).
    """
    by_product = group_by in EVENT_GROUPS  # "best sellers last month": the purchases of last month
    if (not (by_product or (group_by in PERIODS and measure.agg in ("count", "share")))
            or measure.window is not None or len(groups) != 1):
        return measure
    windows = [c.window for c in groups[0] if c.kind == "events" and c.event == "purchase"
               and c.product is None and c.op is None and c.window is not None and not c.negate]
    return measure.model_copy(update={"window": windows[0]}) if len(windows) == 1 else measure


def build_spec(p: Parse, glossary: Glossary) -> QuerySpec:
    """The query a finished parse stands for."""
    pieces = _compared(p, _merge_values(sorted(p.pieces, key=lambda x: x.start), p.text))
    groups = [_drop_implied(read_since(_override(lifetime(g), glossary)), glossary)
              for g in _groups(pieces, p.text, glossary)]
    measure, sort_by, intent = p.measure, p.sort_by, p.intent
    rank_by = None
    if p.rank is not None:  # ranked by the measure of one piece's events, as they were read
        piece, counted = p.rank
        rank_by = next(c for c in piece.conditions if c.kind == "events").model_copy(
            update={"measure": counted, "op": None, "value": None, "negate": False})
    if p.group_by is not None:
        measure = _periods_in_window(measure or Measure(agg="count"), p.group_by, groups)
        sort_by = "value" if p.by_value else None  # a table's rows ordered by their numbers
        if p.groups:
            intent = "compare"
    return QuerySpec(intent=intent, any_of=[g for g in groups if g], sort_by=sort_by, rank_by=rank_by,
                     descending=p.descending, limit=p.limit, measure=measure,
                     group_by=p.group_by, groups=p.groups)
