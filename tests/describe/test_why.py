"""The plain-words reason every answer and export carries per customer."""

from __future__ import annotations

import pytest

from segmint.agent.describe.why import describe_customer


@pytest.mark.parametrize(("revenue", "shown"), [(-1e-13, "revenue £0.00"), (1e-13, "revenue £0.00"),
                                                 (-12.5, "revenue £-12.50"), (3120.0, "revenue £3,120.00")])
def test_why_never_shows_minus_zero(revenue: float, shown: str) -> None:
    assert describe_customer({"revenue": revenue, "orders": 1, "recency_days": 3}, "£").startswith(shown)
