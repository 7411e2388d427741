"""Why a customer is where they are, in plain words: the reason every list and answer carries."""

from __future__ import annotations

from typing import Any

__all__ = ["describe_customer"]


def describe_customer(features: dict[str, Any], currency: str = "") -> str:
    """A short reason in plain words, e.g. 'revenue 3,120.00, 12 orders, last order 142 days ago'."""
    parts = []
    revenue = features.get("revenue")
    if revenue is not None:
        # A sum of sales and refunds that cancel can land a hair below zero (float order): "£-0.00".
        shown = 0.0 if abs(revenue) < 0.005 else revenue
        parts.append(f"revenue {currency}{shown:,.2f}")
    orders = features.get("orders") or 0
    parts.append(f"{orders} order{'s' if orders != 1 else ''}")
    recency = features.get("recency_days")
    if recency is not None:
        parts.append(f"last order {recency} day{'s' if recency != 1 else ''} ago")
    elif features.get("n_events"):
        parts.append(f"no purchase yet, {features['n_events']} events")
    if features.get("risk_reason"):  # only risky customers have one (agent/scores/risk.py)
        parts.append(f"risky: {features['risk_reason']}")
    return ", ".join(parts)
