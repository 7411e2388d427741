"""Describing segments: profiles (facts), the phrases members bought and their support, names and
descriptions (built-in or LLM, always verified), campaign plans, and each customer's reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.describe.builtin_namer import builtin_text
    from segmint.agent.describe.namers import NAMERS, make_namer
    from segmint.agent.describe.naming import NamedSegment, Namer, SegmentText, verify
    from segmint.agent.describe.naming_chain import LLMNamer
    from segmint.agent.describe.offers import Plan, segment_items, segment_plan
    from segmint.agent.describe.profile import profile_segments
    from segmint.agent.describe.step import DescribeReport, describe_segments, segments_document
    from segmint.agent.describe.support import NameFacts, name_facts
    from segmint.agent.describe.why import Reason, describe_customer, money, segment_reasons

__all__ = [
    "NAMERS",
    "DescribeReport",
    "LLMNamer",
    "NameFacts",
    "NamedSegment",
    "Namer",
    "Plan",
    "Reason",
    "SegmentText",
    "builtin_text",
    "describe_customer",
    "describe_segments",
    "make_namer",
    "money",
    "name_facts",
    "profile_segments",
    "segment_items",
    "segment_plan",
    "segment_reasons",
    "segments_document",
    "verify",
]

lazy_package(__name__, {
    "builtin_namer": ("builtin_text",),
    "namers": ("NAMERS", "make_namer"),
    "naming": ("NamedSegment", "Namer", "SegmentText", "verify"),
    "naming_chain": ("LLMNamer",),
    "offers": ("Plan", "segment_items", "segment_plan"),
    "profile": ("profile_segments",),
    "step": ("DescribeReport", "describe_segments", "segments_document"),
    "support": ("NameFacts", "name_facts"),
    "why": ("Reason", "describe_customer", "money", "segment_reasons"),
})
