"""The error a query raises when it cannot be answered on this workspace."""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """A spec refers to something the workspace does not have (a field, term, segment, a window
    after its data), or asks for a number that means nothing (the sum of average order values)."""
