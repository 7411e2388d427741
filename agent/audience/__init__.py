"""Audiences over time: saved definitions re-evaluated at every run, who entered and left,
overlap, comparison, trends and segment history (docs/definitions.md "Audiences").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.audience.analysis import Target, compare, overlap, resolve, segment_history, trend
    from segmint.agent.audience.evaluate import AudienceDiff, diff, evaluate, exclude, refresh
    from segmint.agent.audience.saved import list_audiences, save_audience, show_audience
    from segmint.agent.audience.store import Audience, AudienceStore, HistoryRow, check_name

__all__ = [
    "Audience",
    "AudienceDiff",
    "AudienceStore",
    "HistoryRow",
    "Target",
    "check_name",
    "compare",
    "diff",
    "evaluate",
    "exclude",
    "list_audiences",
    "overlap",
    "refresh",
    "resolve",
    "save_audience",
    "segment_history",
    "show_audience",
    "trend",
]

lazy_package(__name__, {
    "analysis": ("Target", "compare", "overlap", "resolve", "segment_history", "trend"),
    "evaluate": ("AudienceDiff", "diff", "evaluate", "exclude", "refresh"),
    "saved": ("list_audiences", "save_audience", "show_audience"),
    "store": ("Audience", "AudienceStore", "HistoryRow", "check_name"),
})
