"""What to do with a segment: the campaign goal its members call for, who exactly that goal
addresses, and the products to promote, with the reason when there are none.

This is the one source of the segment card's suggested action (written by the describe step),
`segmint recommend --segment`, `segmint brief` and the web page, so they cannot disagree
(docs/definitions.md "Recommendations").

For a product and a segment:

- `buyers_share`: distinct members who bought the product / members of the segment;
- `population_share`: the same over every customer of the shop;
- `lift`: buyers_share / population_share;
- `score`: buyers_share x log2(lift): reach within the segment weighted by how distinctive it is.

A product is promoted when at least `MIN_BUYERS_SHARE` of the members (and two or more) bought
it and they bought it more often than the shop does (lift above 1); staples count too, ranked
by lift among what members actually buy. A product is its `product_id`, or its text where the
data has no ids; its text is its most frequent text on purchase rows, exactly as stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb

from segmint.agent.llm.plain_text import MAX_PHRASE_CHARS
from segmint.agent.query import Catalogue, Condition, QuerySpec, compile_spec
from segmint.agent.query.glossary import Glossary

__all__ = ["DEFAULT_LIMIT", "GOALS", "MIN_BUYERS", "MIN_BUYERS_SHARE", "Goal", "Plan",
           "audience_counts", "items_by_segment", "no_items_reason", "segment_goal",
           "segment_items", "segment_plan", "segment_plans"]

MIN_BUYERS_SHARE = 0.05
MIN_BUYERS = 2
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class Goal:
    """A campaign goal and the members it is for.

    Attributes:
        key: win_back, save_at_risk, second_order, repeat, keep_loyal or grow.
        term: the glossary term whose members the goal addresses (None: every member).
        share: that term's share of the segment (1.0 for every member).
        text: the goal in words.
        who: what the goal's members are called ("lapsed members").
        action: the next step, with `{who}` for the audience ("Win back {who}").
        hook: the opening of a customer-facing message.
        channel: where to reach them, and why.
    """

    key: str
    term: str | None
    share: float
    text: str
    who: str
    action: str
    hook: str
    channel: str


# In order: the first whose term holds for at least `at_least` of the members is the goal.
GOALS: tuple[tuple[str, str | None, float, str, str, str, str, str], ...] = (
    ("win_back", "lapsed", 0.4, "Win back lapsed customers", "lapsed members", "Win back {who}",
     "We have missed you", "E-mail plus retargeting ads: they no longer visit the shop on their own."),
    ("save_at_risk", "at_risk", 0.2, "Bring customers back before they lapse", "at-risk members",
     "Reach {who} before they lapse", "Time for a top-up?",
     "E-mail, timed to their usual gap between orders."),
    ("second_order", "new_customers", 0.3, "Turn first orders into second ones", "new customers",
     "Turn {who} into repeat buyers", "Thanks for your first order",
     "A welcome e-mail series and on-site recommendations."),
    ("repeat", "one_time_buyers", 0.5, "Win a second order", "one-time buyers",
     "Win a second order from {who}", "Picked for you",
     "E-mail and on-site recommendations while they browse."),
    ("keep_loyal", "high_spenders", 0.3, "Keep high-value customers loyal", "high spenders",
     "Keep {who} loyal", "You get it first",
     "Personal e-mail with early access; no discounts needed."),
    ("grow", None, 0.0, "Grow repeat purchases", "members", "Grow orders from {who}",
     "New for you", "E-mail and on-site recommendations."),
)


def segment_goal(term_shares: dict[str, float]) -> Goal:
    """The goal a segment's members call for, from the share of each glossary term among them."""
    for key, term, at_least, text, who, action, hook, channel in GOALS:
        share = 1.0 if term is None else term_shares.get(term, 0.0)
        if share >= at_least:
            return Goal(key, term, share, text, who, action, hook, channel)
    raise AssertionError("the last goal holds for every segment")


@dataclass
class Plan:
    """A segment's campaign facts: goal, its exact audience, products to promote or why none.

    Attributes:
        segment_id: the segment.
        size: its members.
        goal: what the campaign should achieve.
        audience: members the goal addresses (the lapsed ones for a win-back, ...).
        items: products to promote, best first (see the module docstring).
        reason: why `items` is empty ('' when it is not).
    """

    segment_id: str
    size: int
    goal: Goal
    audience: int
    items: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""

    @property
    def audience_words(self) -> str:
        """Who the goal addresses, e.g. 'the 168 lapsed members' or 'all 368 members'."""
        if self.goal.term is None:
            return f"all {self.size:,} {self.goal.who}"
        return f"the {self.audience:,} {self.goal.who}"

    def action(self, max_chars: int = MAX_PHRASE_CHARS) -> str:
        """The suggested next step in one line (what the segment card and the web page show);
        a long product text is cut at a word to fit `max_chars`."""
        if not self.size:
            return "nothing to do: no customer is in it in this run"
        head = self.goal.action.format(who=self.audience_words)
        if not self.items:
            return f"{head}; no product reaches {MIN_BUYERS_SHARE:.0%} of them above the shop's rate"
        top = self.items[0]
        tail = f"” ({top['buyers_share'] * 100:.0f}% bought it, {top['lift']:.1f}× the shop)"
        text = str(top["text"] or top["product_id"])
        room = max_chars - len(head) - len(": feature “") - len(tail)
        if len(text) > room:
            cut = text[:max(room - 1, 12)]
            text = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-") + "…"
        return f"{head}: feature “{text}{tail}"

    def to_json(self) -> dict[str, Any]:
        """The plan as the documents show it."""
        return {"goal": self.goal.key, "goal_text": self.goal.text, "term": self.goal.term,
                "audience": self.audience, "action": self.action(), "reason": self.reason or None}


def segment_items(con: duckdb.DuckDBPyConnection, segment_id: str, *,
                  min_share: float = MIN_BUYERS_SHARE, limit: int | None = DEFAULT_LIMIT
                  ) -> list[dict[str, Any]]:
    """Products the segment buys unusually often, best first.

    Args:
        con: a workspace connection (`users.segment_id`, `events`).
        segment_id: the segment's id (0: the Unassigned group).
        min_share: the smallest share of members that must have bought a product.
        limit: how many products (None: all that qualify).

    Returns:
        Items with product_id, text, score, buyers_share, lift, buyers, population_share.
    """
    return items_by_segment(con, [str(segment_id)], min_share=min_share, limit=limit).get(
        str(segment_id), [])


def items_by_segment(con: duckdb.DuckDBPyConnection, segment_ids: list[str] | None = None, *,
                     min_share: float = MIN_BUYERS_SHARE, limit: int | None = DEFAULT_LIMIT
                     ) -> dict[str, list[dict[str, Any]]]:
    """`segment_items` of several segments (None: all) in one pass over the purchases."""
    where = "TRUE" if segment_ids is None else "seg IN (SELECT unnest(?::VARCHAR[]))"
    cap = "" if limit is None else (
        f"QUALIFY row_number() OVER (PARTITION BY c.seg ORDER BY score DESC, c.item) <= {int(limit)}")
    params: list[Any] = [] if segment_ids is None else [segment_ids]
    rows = con.execute(f"""
        WITH {_COUNTS}
        SELECT c.seg, c.item, c.product_id, t.text, h.customers, c.buyers,
               c.buyers / z.n AS buyers_share, p.buyers / total.n AS population_share,
               (c.buyers / z.n) / (p.buyers / total.n) AS lift,
               (c.buyers / z.n) * log2((c.buyers / z.n) / (p.buyers / total.n)) AS score
        FROM counts c JOIN seg_sizes z USING (seg) JOIN pop p USING (item) CROSS JOIN total
        LEFT JOIN texts t USING (item) LEFT JOIN text_holders h ON h.text = t.text
        WHERE c.buyers >= {MIN_BUYERS} AND c.buyers / z.n >= ?
          AND (c.buyers / z.n) > (p.buyers / total.n) AND ({where.replace("seg", "c.seg")})
        {cap}
        ORDER BY c.seg, score DESC, c.item""", [float(min_share), *params]).fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row[0]), []).append(_item(row[1:]))
    return out


# Per segment and product: members who bought it; per product: all its buyers; texts as stored.
_COUNTS = """
        members AS (SELECT user_id, CAST(coalesce(segment_id, 0) AS VARCHAR) AS seg FROM users),
        seg_sizes AS (SELECT seg, count(*) AS n FROM members GROUP BY seg),
        total AS (SELECT count(*) AS n FROM members),
        bought AS (
            SELECT DISTINCT user_id, coalesce(product_id, text) AS item, product_id FROM events
            WHERE event_type = 'purchase' AND coalesce(product_id, text) IS NOT NULL
        ),
        counts AS (
            SELECT m.seg, b.item, any_value(b.product_id) AS product_id, count(*) AS buyers
            FROM bought b JOIN members m USING (user_id) GROUP BY 1, 2
        ),
        pop AS (SELECT item, sum(buyers) AS buyers FROM counts GROUP BY item),
        text_holders AS (  -- customers sharing a text: a prompt shows it only if enough do
            SELECT text, count(DISTINCT user_id) AS customers FROM events
            WHERE text IS NOT NULL GROUP BY 1
        ),
        texts AS (
            SELECT item, first(text ORDER BY n DESC, text) AS text FROM (
                SELECT coalesce(product_id, text) AS item, text, count(*) AS n FROM events
                WHERE event_type = 'purchase' AND coalesce(product_id, text) IS NOT NULL
                  AND text IS NOT NULL
                GROUP BY 1, 2
            ) GROUP BY 1
        )"""


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    _, product_id, text, text_customers, buyers, share, pop_share, lift, score = row
    return {
        "product_id": None if product_id is None else str(product_id), "text": text,
        "text_customers": int(text_customers or 0), "score": round(float(score), 6),
        "buyers_share": round(float(share), 6), "lift": round(float(lift), 4),
        "buyers": int(buyers), "population_share": round(float(pop_share), 6),
    }


def no_items_reason(con: duckdb.DuckDBPyConnection, segment_id: str,
                    min_share: float = MIN_BUYERS_SHARE) -> str:
    """Why no product qualifies for a segment, in words with the numbers that decide it."""
    row = con.execute(f"""
        WITH {_COUNTS},
        mine AS (
            SELECT c.buyers / z.n AS share, p.buyers / total.n AS pop_share, t.text, c.item, z.n
            FROM counts c JOIN seg_sizes z USING (seg) JOIN pop p USING (item) CROSS JOIN total
            LEFT JOIN texts t USING (item) WHERE c.seg = ?
        )
        SELECT (SELECT n FROM seg_sizes WHERE seg = ?), count(*),
               arg_max(coalesce(text, item), share) FILTER (WHERE share > pop_share),
               max(share) FILTER (WHERE share > pop_share),
               arg_max(coalesce(text, item), share), max(share), arg_max(pop_share, share)
        FROM mine""", [str(segment_id), str(segment_id)]).fetchone()
    if row is None or not row[0]:
        return "the segment has no members"
    size, bought, above_text, above_share, top_text, top_share, top_pop = row
    if not bought:
        return "its members bought no product"
    need = max(MIN_BUYERS, math.ceil(min_share * size))
    if above_text is None:
        return (f"nothing its members buy sells above the shop's rate (their most bought, "
                f"“{top_text}”, {top_share * 100:.0f}% of members vs {top_pop * 100:.0f}% of the shop)")
    return (f"no product above the shop's rate reaches {need:,} buyer{'s' if need != 1 else ''} "
            f"({min_share * 100:.0f}% of {size:,} members): the most bought is “{above_text}”, "
            f"{above_share * 100:.1f}%")


def audience_counts(con: duckdb.DuckDBPyConnection, terms: list[str], glossary: Glossary,
                    cat: Catalogue) -> dict[tuple[str, str], int]:
    """Members per (segment id, glossary term) the term holds for, in one pass over `users`."""
    exprs, params = [], []
    keys = [t for t in dict.fromkeys(terms) if t in glossary.terms]
    for term in keys:
        compiled = compile_spec(QuerySpec(any_of=[[Condition(kind="term", term=term)]]), cat,
                                glossary, con)
        exprs.append(f"count(*) FILTER (WHERE {compiled.where})")
        params.extend(compiled.params)
    if not exprs:
        return {}
    rows = con.execute(f"SELECT CAST(coalesce(u.segment_id, 0) AS VARCHAR), {', '.join(exprs)} "
                       "FROM users u GROUP BY 1", params).fetchall()
    return {(str(r[0]), term): int(n) for r in rows for term, n in zip(keys, r[1:], strict=True)}


def segment_plans(con: duckdb.DuckDBPyConnection, segments: dict[str, tuple[int, dict[str, float]]],
                  glossary: Glossary, cat: Catalogue, *, limit: int | None = DEFAULT_LIMIT,
                  items: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Plan]:
    """The campaign facts of segments (see the module docstring), in few passes.

    Args:
        con: a workspace connection.
        segments: per segment id (0: the Unassigned group), its size and each glossary term's
            share among its members (the profile's).
        glossary: business terms (the goal's audience is a term).
        cat: the field catalogue.
        limit: how many products to list per segment (None: all).
        items: `items_by_segment(con, limit=limit)` when already computed.
    """
    goals = {sid: segment_goal(shares) for sid, (_, shares) in segments.items()}
    counts = audience_counts(con, [g.term for g in goals.values() if g.term], glossary, cat)
    if items is None:
        items = items_by_segment(con, list(segments), limit=limit)
    out = {}
    for sid, (size, _) in segments.items():
        goal = goals[sid]
        audience = size if goal.term is None else counts.get((sid, goal.term), 0)
        found = items.get(sid, [])
        out[sid] = Plan(sid, size, goal, audience, found, "" if found else no_items_reason(con, sid))
    return out


def segment_plan(con: duckdb.DuckDBPyConnection, segment_id: str, size: int,
                 term_shares: dict[str, float], glossary: Glossary, cat: Catalogue, *,
                 limit: int | None = DEFAULT_LIMIT) -> Plan:
    """The campaign facts of one segment (`segment_plans` of one)."""
    sid = str(segment_id)
    return segment_plans(con, {sid: (size, term_shares)}, glossary, cat, limit=limit)[sid]
