"""Parser pass: first- and last-order cohorts ("first order in 2011", "first bought in Q1", "new
customers this month", "last ordered in 2010"): the period the customer's first (or last) purchase
falls in (docs/definitions.md "Time windows").

A cohort is a trigger phrase followed by a window the windows pass has read. "new", "joined",
"signed up" and "acquired" are read by the first purchase, and the answer says so.
"""

from __future__ import annotations

from typing import Literal

from segmint.agent.ask._parse_text import Parse, WindowSpan
from segmint.agent.core.patterns import compiled
from segmint.agent.query import Condition, Window

Cohort = Literal["first_purchase", "last_purchase"]
PURCHASE = r"(?:orders?|purchases?|transactions?|baskets?|buys?|shopping trips?|visits?)"
_TRIGGERS: tuple[tuple[Cohort, bool, str], ...] = (
    ("first_purchase", False,
     r"\b(?:(?:whose|with\s+(?:a|their)|had\s+(?:their|a)|(?:placed|made|did)\s+(?:their|a|the|his|"
     r"her|its))\s+)?first\s+" + PURCHASE
     + r"(?:\s+(?:was|were|is|came|happened|placed|made))?"),
    ("first_purchase", False,
     r"\b(?:who\s+)?first[\s-](?:ordered|bought|purchased|shopped)(?:\s+(?:from|with)\s+us)?"),
    ("first_purchase", False, r"\bfirst[\s-]time\s+(?:customers|buyers|shoppers|purchasers)"),
    ("first_purchase", True, r"\b(?:who\s+)?(?:first\s+)?(?:found|discovered)\s+us"),
    ("first_purchase", True,
     r"\b(?:new(?:ly acquired)?|acquired)(?:\s+(?:customers?|buyers|shoppers|households|clients|"
     r"members|accounts))?(?:\s+(?:acquired|won|gained|we got|to us|(?:did|have|had|do)\s+we\s+(?:get|gain|"
     r"acquire|win|add|have|got|gained|acquired|won|added)|we\s+(?:gained|acquired|won|added|had)|"
     r"(?:came|joined|arrived|signed up)|(?:were|was)\s+(?:acquired|added|won)|"
     r"(?:did|do)\s+(?:we|you)\s+see))?"),
    ("first_purchase", True,
     r"\b(?:who\s+)?(?:joined(?:\s+us)?|signed up|became\s+(?:a\s+)?customers?|started\s+(?:buying|"
     r"shopping|ordering)(?:\s+(?:from|with)\s+us)?)"),
    ("last_purchase", False,
     r"\b(?:whose\s+)?(?:last|latest|most recent|final)\s+" + PURCHASE
     + r"(?:\s+(?:was|were|is|came|happened|placed|made))?"),
    ("last_purchase", False, r"\b(?:who\s+)?last\s+(?:ordered|bought|purchased|shopped)"),
    # "stopped ordering after October": the last purchase falls before November
    ("last_purchase", False, r"\b(?:who\s+|that\s+)?stopped\s+(?:buying|ordering|purchasing|shopping)"),
)
TRIGGERS = tuple((cohort, by_first, compiled(pattern)) for cohort, by_first, pattern in _TRIGGERS)


def _window_after(p: Parse, pos: int) -> WindowSpan | None:
    """The window that starts right after `pos` (only spaces between)."""
    for w in p.windows:
        if w.start >= pos and not p.text[pos:w.start].strip():
            return w
    return None


def read_cohorts(p: Parse) -> None:
    """Read each trigger directly followed by a window as a cohort condition."""
    for cohort, by_first, pattern in TRIGGERS:
        for m in list(pattern.finditer(p.text)):
            window = _window_after(p, m.end()) if p.free(*m.span()) else None
            if window is None:
                continue
            p.windows.remove(window)
            for note in window.notes:
                p.note(note)
            w = window.window
            if "stopped" in m[0]:
                # "stopped buying after October": the last purchase is before November; "... in
                # October 2011": in it; a relative window would contradict "stopped"
                if (w.said or "").startswith("after") and w.start is not None:
                    w = Window(end=w.start, said=w.said)
                elif w.start is None or w.end is None:
                    p.windows.append(window)
                    continue
            p.add(m.start(), window.end, [Condition(kind="cohort", cohort=cohort, window=w)])
            if by_first:
                p.note(f"“{' '.join(m[0].split())}” is read by the first purchase: customers whose "
                       f"first purchase falls in the window ({window.window.said})")
