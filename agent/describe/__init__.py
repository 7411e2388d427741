"""Describing segments: profiles (facts), names and descriptions (built-in or LLM, always verified),
and the plain-words reason of one customer.
"""

from segmint.agent.describe.namers import NAMERS, make_namer
from segmint.agent.describe.naming import NamedSegment, Namer, SegmentText, builtin_text, verify
from segmint.agent.describe.naming_chain import LLMNamer
from segmint.agent.describe.profile import profile_segments
from segmint.agent.describe.step import DescribeReport, describe_segments, segments_document
from segmint.agent.describe.why import describe_customer

__all__ = [
    "NAMERS",
    "DescribeReport",
    "LLMNamer",
    "NamedSegment",
    "Namer",
    "SegmentText",
    "builtin_text",
    "describe_customer",
    "describe_segments",
    "make_namer",
    "profile_segments",
    "segments_document",
    "verify",
]
