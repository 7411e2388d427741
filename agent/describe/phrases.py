"""Phrases members bought: the word sequences of product texts that set a segment apart
(docs/definitions.md "Segment names").

A phrase is one to four consecutive words of one product text, in their original order, never
stitched across texts. Its *support* in a group is the share of the group's customers who bought
a product whose text contains it (whole words, case-insensitive); its *shop rate* the same over
every customer; its *lift* support / shop rate. A phrase fewer than five customers of the shop
bought is never one (a piece of text one customer has is personal, llm/privacy.py). Names,
descriptions and each customer's "why" are built from these, so every one of them can be checked
against the purchases.

Candidates are counted on a deterministic sample of at most `SAMPLE` customers (everyone in a
shop that small); `verify_support` then recounts the phrases a text will state over every
customer with an independent whole-word match, and only recounted numbers are stored.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from segmint.agent.llm.privacy import MIN_TEXT_CUSTOMERS

__all__ = ["MAX_PHRASE_WORDS", "SAMPLE", "Phrase", "ShopPhrases", "category_support",
           "display_phrase", "normalise", "shop_phrases", "verify_support", "words_sql"]

MAX_PHRASE_WORDS = 4
MAX_TEXT_WORDS = 24  # words after this in a very long title are not searched
SAMPLE = 50_000
MIN_SUPPORT = 0.05
MIN_BUYERS = 2
CANDIDATES_PER_SEGMENT = 40
# A word of a text: letters and digits, with inner apostrophes and hyphens (50's, t-light).
TOKEN = r"[\p{L}\p{N}]+(?:['’\-][\p{L}\p{N}]+)*"
TOKEN_SQL = TOKEN.replace("'", "''")  # as a SQL string literal
# Punctuation that ends a run of words: a phrase never spans "Energy Gels, Citrus".
BREAK = r"[,;:|/()\[\]{}!?+]+|\s[-–—]+\s"
BREAK_SQL = BREAK.replace("'", "''")


def words_sql(column: str) -> str:
    """SQL: a text's words in lower case, ' | ' between runs, with a space at both ends, so that
    `contains(words, ' ' || key || ' ')` finds a phrase only inside one run of one text."""
    return (f"' ' || array_to_string(list_transform(regexp_split_to_array({column}, '{BREAK_SQL}'), "
            f"lambda c: array_to_string(regexp_extract_all(lower(c), '{TOKEN_SQL}'), ' ')), ' | ') || ' '")
# Words a phrase may hold inside but not start or end with (function words, units, pack words).
EDGE_STOP = frozenset("""
a an and or the of for with without in on to by from at as into de la le des du et x & per each
set sets pack packs pcs pc pk piece pieces pair pairs size sizes cm mm m ml l oz lb lbs inch inches
ft kg g count ct new assorted asstd this that your you our it its is are be one two three four
""".split())
# Words too vague to be a phrase on their own.
VAGUE = frozenset("""
design designs colour colours color colors style styles pattern patterns vintage small large
medium mini big gift gifts item items product products home women men kids
""".split())


@dataclass(frozen=True)
class Phrase:
    """A phrase's support in one segment.

    Attributes:
        key: its words in lower case, joined by single spaces (what matching uses).
        text: how it reads in the data (title case when the texts are upper case).
        buyers: members who bought a product containing it.
        members: the segment's customers counted.
        shop_buyers: customers of the whole shop who did.
        customers: the shop's customers counted.
        example: the most bought text that contains it.
        category: True when it is a product category (bought in it), not words of texts.
    """

    key: str
    text: str
    buyers: int
    members: int
    shop_buyers: int
    customers: int
    example: str = ""
    category: bool = False

    @property
    def support(self) -> float:
        """Share of members who bought a product containing the phrase."""
        return self.buyers / self.members if self.members else 0.0

    @property
    def shop_support(self) -> float:
        """The same share over every customer (the shop's rate)."""
        return self.shop_buyers / self.customers if self.customers else 0.0

    @property
    def lift(self) -> float:
        """Support over the shop's rate."""
        return self.support / self.shop_support if self.shop_support else 0.0

    @property
    def score(self) -> float:
        """Reach times distinctiveness (support x log2 lift), as recommendations rank products."""
        return self.support * math.log2(self.lift) if self.lift > 1 else 0.0

    def to_json(self) -> dict[str, Any]:
        """The phrase as a fact: numbers rounded as texts state them."""
        return {"phrase": self.text, "key": self.key, "buyers": self.buyers,
                "members": self.members, "shop_buyers": self.shop_buyers,
                "customers": self.customers, "support": round(self.support, 4),
                "shop_support": round(self.shop_support, 4), "lift": round(self.lift, 2),
                "example": self.example, "category": self.category}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Phrase:
        """The phrase back from `to_json`."""
        return cls(str(doc["key"]), str(doc["phrase"]), int(doc["buyers"]), int(doc["members"]),
                   int(doc["shop_buyers"]), int(doc["customers"]), str(doc.get("example") or ""),
                   bool(doc.get("category")))


@dataclass
class ShopPhrases:
    """Candidate phrases per segment and how alike the segments' purchases are.

    Attributes:
        candidates: per segment id, its phrases bought by at least 5% of members more often than
            by the shop, best (score) first.
        counts: per segment id and phrase key, members who bought it (every candidate key, in
            every segment), for contrasts between segments.
        sizes: customers counted per segment.
        customers: customers counted in the shop.
        similarity: per segment id, every other segment's cosine similarity of member
            product-share vectors (share of members who bought each product).
    """

    candidates: dict[str, list[Phrase]]
    counts: dict[str, dict[str, int]]
    sizes: dict[str, int]
    customers: int
    similarity: dict[str, dict[str, float]] = field(default_factory=dict)

    def nearest(self, segment_id: str) -> tuple[str, float] | None:
        """The segment whose members buy most alike, and the cosine, or None when alone."""
        others = self.similarity.get(segment_id, {})
        if not others:
            return None
        best = max(sorted(others), key=lambda s: others[s])
        return best, others[best]


def normalise(text: str) -> str:
    """Words of a text, lower case, single-spaced, ' | ' between runs (the form keys are matched in)."""
    runs = re.split(r"[,;:|/()\[\]{}!?+]+|\s[-–—]+\s", text.lower())
    return " | ".join(" ".join(re.findall(r"[^\W_]+(?:['’\-][^\W_]+)*", r)) for r in runs
                      if r.strip())


def display_phrase(surface: str) -> str:
    """A phrase as a name shows it: upper-case data in title case, anything else as written."""
    if surface.upper() == surface:
        return " ".join(w[:1].upper() + w[1:].lower() for w in surface.split())
    return surface


def _stop_list(words: Iterable[str]) -> str:
    return ", ".join("'" + w.replace("'", "''") + "'" for w in sorted(words))


def _grams_sql(texts: str) -> str:
    """SQL: (text, key, surface) for every admissible phrase of each text in `texts`."""
    edge, vague = _stop_list(EDGE_STOP), _stop_list(VAGUE)
    return f"""
        runs AS (  -- runs of words between punctuation, the first MAX_TEXT_WORDS words of a text
            SELECT text, unnest(regexp_split_to_array(text, '{BREAK_SQL}')) AS run FROM {texts}
        ),
        toks AS (
            SELECT text, list_slice(regexp_extract_all(run, '{TOKEN_SQL}'), 1, {MAX_TEXT_WORDS}) AS t
            FROM runs
        ),
        pos AS (SELECT text, t, unnest(range(1, len(t) + 1)) AS i FROM toks WHERE len(t) > 0),
        raw_grams AS (
            SELECT text, list_slice(t, i, i + n - 1) AS g FROM pos,
                   (SELECT unnest(range(1, {MAX_PHRASE_WORDS + 1})) AS n) ns
            WHERE i + n - 1 <= len(t)
        ),
        grams AS (
            SELECT DISTINCT text, lower(array_to_string(g, ' ')) AS key,
                   array_to_string(g, ' ') AS surface
            FROM raw_grams
            WHERE lower(g[1]) NOT IN ({edge}) AND lower(g[-1]) NOT IN ({edge})
              AND NOT regexp_matches(array_to_string(g, ' '), '[0-9]')
              AND (len(g) > 1 OR (length(g[1]) >= 3 AND lower(g[1]) NOT IN ({vague})))
        )"""


def shop_phrases(con: duckdb.DuckDBPyConnection, *, sample: int = SAMPLE) -> ShopPhrases:
    """Candidate phrases of every segment, from what its members bought.

    Args:
        con: a workspace connection with `users` (with `segment_id`) and `events`.
        sample: customers counted at most (a deterministic sample by hashed id).

    Returns:
        Candidates per segment (best first), the per-segment counts of every candidate, and the
        segments' similarities.
    """
    sizes = {str(s): int(n) for s, n in con.execute(f"""
        SELECT CAST(segment_id AS VARCHAR), count(*) FROM (
            SELECT segment_id FROM users WHERE segment_id IS NOT NULL
            ORDER BY hash(user_id), user_id LIMIT {int(sample)}) GROUP BY 1""").fetchall()}
    # A candidate needs MIN_SUPPORT of some segment: phrases fewer customers bought are skipped.
    min_buyers = max(MIN_BUYERS, math.ceil(MIN_SUPPORT * min(sizes.values(), default=0)))
    rows = con.execute(f"""
        WITH sample AS (
            SELECT user_id, CAST(segment_id AS VARCHAR) AS seg FROM users
            WHERE segment_id IS NOT NULL ORDER BY hash(user_id), user_id LIMIT {int(sample)}
        ),
        bought AS (
            SELECT DISTINCT e.user_id, e.text FROM events e SEMI JOIN sample s USING (user_id)
            WHERE e.event_type = 'purchase' AND e.text IS NOT NULL
        ),
        text_buyers AS (SELECT text, count(*) AS n FROM bought GROUP BY text),
        texts AS (SELECT text FROM text_buyers),
        {_grams_sql("texts")},
        reach AS (  -- buyers of texts holding a phrase, an upper bound on its buyers
            SELECT g.key FROM grams g JOIN text_buyers USING (text) GROUP BY g.key
            HAVING sum(text_buyers.n) >= {int(min_buyers)}
        ),
        held AS (
            SELECT DISTINCT b.user_id, g.key FROM bought b JOIN grams g USING (text)
            SEMI JOIN reach USING (key)
        ),
        per_seg AS (
            SELECT s.seg, h.key, count(*) AS buyers FROM held h JOIN sample s USING (user_id)
            GROUP BY 1, 2
        ),
        sizes AS (SELECT seg, count(*) AS n FROM sample GROUP BY seg),
        total AS (SELECT count(*) AS n FROM sample),
        shop AS (SELECT key, sum(buyers) AS buyers FROM per_seg GROUP BY key),
        scored AS (
            SELECT p.seg, p.key, p.buyers, s.n, shop.buyers AS shop_buyers, total.n AS customers,
                   p.buyers >= {MIN_BUYERS} AND p.buyers / s.n >= {MIN_SUPPORT}
                   AND shop.buyers >= {MIN_TEXT_CUSTOMERS}
                   AND p.buyers / s.n > shop.buyers / total.n AS candidate,
                   (p.buyers / s.n) * log2(greatest((p.buyers / s.n) / (shop.buyers / total.n), 1))
                   AS score
            FROM per_seg p JOIN sizes s USING (seg) JOIN shop USING (key), total
        ),
        kept AS (  -- the best candidates of each segment (all segments' counts of them are kept)
            SELECT DISTINCT key FROM scored WHERE candidate
            QUALIFY row_number() OVER (PARTITION BY seg ORDER BY score DESC, key)
                <= {CANDIDATES_PER_SEGMENT}
        ),
        surfaces AS (
            SELECT g.key, g.surface, g.text, count(*) AS n FROM grams g SEMI JOIN kept USING (key)
            JOIN bought b USING (text) GROUP BY 1, 2, 3
        ),
        forms AS (
            SELECT key, first(surface ORDER BY n DESC, surface) AS surface,
                   first(text ORDER BY n DESC, text) AS example
            FROM (SELECT key, surface, text, sum(n) OVER (PARTITION BY key, surface) AS n
                  FROM surfaces) GROUP BY key
        )
        SELECT sc.seg, sc.key, f.surface, f.example, sc.buyers, sc.n, sc.shop_buyers, sc.customers,
               sc.candidate
        FROM scored sc SEMI JOIN kept USING (key) JOIN forms f USING (key)""").fetchall()
    customers = sum(sizes.values())
    candidates: dict[str, list[Phrase]] = {}
    counts: dict[str, dict[str, int]] = {}
    for seg, key, surface, example, buyers, n, shop_buyers, total, candidate in rows:
        counts.setdefault(seg, {})[key] = int(buyers)
        if candidate:
            candidates.setdefault(seg, []).append(Phrase(
                key, display_phrase(str(surface)), int(buyers), int(n), int(shop_buyers),
                int(total), str(example)))
    for seg, found in candidates.items():
        candidates[seg] = sorted(found, key=lambda p: (-p.score, p.key))[:CANDIDATES_PER_SEGMENT]
    return ShopPhrases(candidates, counts, sizes, customers, _similarity(con, sample))


def _similarity(con: duckdb.DuckDBPyConnection, sample: int) -> dict[str, dict[str, float]]:
    """Cosine of every two segments' member product-share vectors (on the same sample)."""
    rows = con.execute(f"""
        WITH sample AS (
            SELECT user_id, CAST(segment_id AS VARCHAR) AS seg FROM users
            WHERE segment_id IS NOT NULL ORDER BY hash(user_id), user_id LIMIT {int(sample)}
        ),
        bought AS (
            SELECT DISTINCT user_id, coalesce(product_id, text) AS item FROM events
            WHERE event_type = 'purchase' AND coalesce(product_id, text) IS NOT NULL
        )
        SELECT s.seg, b.item, count(*) / any_value(z.n) AS share
        FROM bought b JOIN sample s USING (user_id)
        JOIN (SELECT seg, count(*) AS n FROM sample GROUP BY seg) z USING (seg)
        WHERE s.seg <> '0'  -- the Unassigned group is nobody's neighbour
        GROUP BY 1, 2""").fetchall()
    segs = sorted({str(r[0]) for r in rows})
    items = {it: i for i, it in enumerate(sorted({str(r[1]) for r in rows}))}
    if len(segs) < 2:
        return {}
    pos = {s: i for i, s in enumerate(segs)}
    M = np.zeros((len(segs), len(items)))
    for seg, item, share in rows:
        M[pos[str(seg)], items[str(item)]] = float(share)
    M /= np.maximum(np.linalg.norm(M, axis=1, keepdims=True), 1e-12)
    C = M @ M.T
    return {a: {b: round(float(C[i, j]), 4) for j, b in enumerate(segs) if b != a}
            for i, a in enumerate(segs)}


def category_support(con: duckdb.DuckDBPyConnection) -> dict[str, list[Phrase]]:
    """Per segment, the product categories bought by at least 5% of members more often than by
    the shop, counted over every customer (a category is a phrase of the data's own)."""
    if "category" not in {r[0] for r in con.execute("DESCRIBE events").fetchall()}:
        return {}  # an events table built without the optional column (a test's, a bench's)
    rows = con.execute(f"""
        WITH members AS (
            SELECT user_id, CAST(segment_id AS VARCHAR) AS seg FROM users WHERE segment_id IS NOT NULL
        ),
        bought AS (
            SELECT DISTINCT user_id, category FROM events
            WHERE event_type = 'purchase' AND category IS NOT NULL
        ),
        per_seg AS (
            SELECT m.seg, b.category, count(*) AS buyers FROM bought b JOIN members m USING (user_id)
            GROUP BY 1, 2
        ),
        sizes AS (SELECT seg, count(*) AS n FROM members GROUP BY seg),
        shop AS (SELECT category, sum(buyers) AS buyers FROM per_seg GROUP BY category)
        SELECT p.seg, p.category, p.buyers, s.n, shop.buyers, (SELECT count(*) FROM members)
        FROM per_seg p JOIN sizes s USING (seg) JOIN shop USING (category)
        WHERE p.buyers >= {MIN_BUYERS} AND p.buyers / s.n >= {MIN_SUPPORT}
          AND shop.buyers >= {MIN_TEXT_CUSTOMERS}
          AND p.buyers / s.n > shop.buyers / (SELECT count(*) FROM members)""").fetchall()
    out: dict[str, list[Phrase]] = {}
    for seg, category, buyers, n, shop, total in rows:
        out.setdefault(str(seg), []).append(Phrase(
            normalise(str(category)), str(category), int(buyers), int(n), int(shop), int(total),
            category=True))
    return out


def verify_support(con: duckdb.DuckDBPyConnection, keys: Iterable[str],
                   unions: Iterable[tuple[str, ...]] = ()) -> tuple[
                       dict[tuple[str, str], int], dict[str, int], dict[str, int], int]:
    """Recount phrases over every customer with a direct whole-word match on the product texts.

    Args:
        con: the workspace connection.
        keys: phrase keys (lower-case words joined by spaces).
        unions: groups of keys counted together: a customer counts when they bought any of them.

    Returns:
        Members per (segment id, key or ' | '-joined group) who bought it; shop buyers per key or
        group; customers per segment; customers in the shop.
    """
    groups = {k: (k,) for k in keys} | {" | ".join(u): tuple(u) for u in unions}
    sizes = {str(s): int(n) for s, n in con.execute(
        "SELECT CAST(segment_id AS VARCHAR), count(*) FROM users WHERE segment_id IS NOT NULL "
        "GROUP BY 1").fetchall()}
    if not groups:
        return {}, {}, sizes, sum(sizes.values())
    table = pa.table({"grp": [g for g, ks in groups.items() for _ in ks],
                      "key": [k for ks in groups.values() for k in ks]})
    name = f"_segmint_phrases_{uuid.uuid4().hex[:8]}"
    con.register(name, table)
    try:
        rows = con.execute(f"""
            WITH texts AS (
                SELECT text, {words_sql("text")} AS words FROM (  -- each text's words once
                    SELECT DISTINCT text FROM events
                    WHERE event_type = 'purchase' AND text IS NOT NULL)
            ),
            matched AS (
                SELECT DISTINCT t.text, p.grp FROM texts t JOIN {name} p
                ON contains(t.words, ' ' || p.key || ' ')
            ),
            held AS (
                SELECT DISTINCT e.user_id, m.grp FROM events e JOIN matched m USING (text)
                WHERE e.event_type = 'purchase'
            )
            SELECT coalesce(CAST(u.segment_id AS VARCHAR), '') AS seg, h.grp, count(*)
            FROM held h JOIN users u USING (user_id) GROUP BY 1, 2""").fetchall()
    finally:
        con.unregister(name)
    per_seg: dict[tuple[str, str], int] = {}
    shop: dict[str, int] = dict.fromkeys(groups, 0)
    for seg, grp, n in rows:
        shop[str(grp)] += int(n)
        if seg:
            per_seg[(str(seg), str(grp))] = int(n)
    return per_seg, shop, sizes, sum(sizes.values())
