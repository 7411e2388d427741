"""The sample shop: a deterministic generator of realistic e-commerce event logs.

Every customer gets a planted persona (new parents, home bakers, gamers... from
``personas.yaml``) or ``mixed`` for the ~5% noise customers who wander the whole shop,
a value tier, a purchase cadence and a lifecycle (never bought, new, one-time, lapsed,
at risk, active repeat) whose purchase dates agree with the docs/definitions.md definitions
relative to the shop's end date. Events are searches, views, carts, purchases grouped
into orders, and returns (negative quantity).

``catalogue="long-tail"`` (``segmint synth --catalogue long-tail``) widens the shop to a real
catalogue's shape: about 0.3 products per customer with Zipf popularity, and search queries typed
from product words with fillers and typos, nearly all of them unique.

Generation is vectorised with numpy per chunk of customers and streamed to the output
file, so a million customers (~20M events) fit in bounded memory. The same
``(n_users, seed, chunk_users, end, catalogue)`` always gives the same rows.
"""

from segmint.agent.core.schema import EVENT_TYPES
from segmint.data.synth._generate import SynthResult, generate, side_paths
from segmint.data.synth._long_tail import CATALOGUES, DEFAULT, LONG_TAIL
from segmint.data.synth._personas import load_personas, make_typo
from segmint.data.synth._shop import (
    AGE_BANDS,
    COLUMNS,
    DAY,
    DEFAULT_END,
    EVENT_SCHEMA,
    GENDERS,
    LABEL_SCHEMA,
    LAST_DAY,
    LIFECYCLE_SHARES,
    LIFECYCLES,
    MISSING_AGE,
    MISSING_GENDER,
    MIXED_LABEL,
    MIXED_SHARE,
    NEW_ORDER_COUNTS,
    REGION_SHARES,
    REGIONS,
    TIER_SHARES,
    TIERS,
    USER_SCHEMA,
    WINDOW_DAYS,
    Lifecycle,
    Persona,
)
from segmint.data.synth._sinks import output_format

__all__ = [
    "AGE_BANDS",
    "CATALOGUES",
    "COLUMNS",
    "DAY",
    "DEFAULT",
    "DEFAULT_END",
    "EVENT_SCHEMA",
    "EVENT_TYPES",
    "GENDERS",
    "LABEL_SCHEMA",
    "LAST_DAY",
    "LIFECYCLES",
    "LIFECYCLE_SHARES",
    "LONG_TAIL",
    "MISSING_AGE",
    "MISSING_GENDER",
    "MIXED_LABEL",
    "MIXED_SHARE",
    "NEW_ORDER_COUNTS",
    "REGIONS",
    "REGION_SHARES",
    "TIERS",
    "TIER_SHARES",
    "USER_SCHEMA",
    "WINDOW_DAYS",
    "Lifecycle",
    "Persona",
    "SynthResult",
    "generate",
    "load_personas",
    "make_typo",
    "output_format",
    "side_paths",
]
