"""Per-customer scores after the segment step: risk (`risk_scores`) and, with `--ltv`, lifetime
value and churn (`ltv_scores`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.scores.ltv import HORIZON_DAYS, LTV_COLUMNS, LtvReport, holdout, score_ltv
    from segmint.agent.scores.risk import RISK_COLUMNS, RISKY_PERCENTILE, WEIGHTS, RiskReport, score_risk

__all__ = [
    "HORIZON_DAYS",
    "LTV_COLUMNS",
    "RISKY_PERCENTILE",
    "RISK_COLUMNS",
    "WEIGHTS",
    "LtvReport",
    "RiskReport",
    "holdout",
    "score_ltv",
    "score_risk",
]

lazy_package(__name__, {
    "ltv": ("HORIZON_DAYS", "LTV_COLUMNS", "LtvReport", "holdout", "score_ltv"),
    "risk": ("RISK_COLUMNS", "RISKY_PERCENTILE", "WEIGHTS", "RiskReport", "score_risk"),
})
