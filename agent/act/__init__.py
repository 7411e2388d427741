"""Acting on segments and answers: exports, recommendations, briefs, fairness audits, pictures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.act.audit import audit, audit_segments, export_skew
    from segmint.agent.act.brief import Brief, campaign_brief
    from segmint.agent.act.charts import segment_charts, shop_summary
    from segmint.agent.act.customers import get_user, normalise_user_id, similar_customers
    from segmint.agent.act.export import (
        export_format,
        export_selection,
        hash_id,
        prepare_output,
        write_customers,
    )
    from segmint.agent.act.projection import CustomerMap, customer_map
    from segmint.agent.act.recommend import recommend_segment, recommend_user, resolve_segment

__all__ = [
    "Brief",
    "CustomerMap",
    "audit",
    "audit_segments",
    "campaign_brief",
    "customer_map",
    "export_format",
    "export_selection",
    "export_skew",
    "get_user",
    "hash_id",
    "normalise_user_id",
    "prepare_output",
    "recommend_segment",
    "recommend_user",
    "resolve_segment",
    "segment_charts",
    "shop_summary",
    "similar_customers",
    "write_customers",
]

lazy_package(__name__, {
    "audit": ("audit", "audit_segments", "export_skew"),
    "brief": ("Brief", "campaign_brief"),
    "charts": ("segment_charts", "shop_summary"),
    "customers": ("get_user", "normalise_user_id", "similar_customers"),
    "export": ("export_format", "export_selection", "hash_id", "prepare_output", "write_customers"),
    "projection": ("CustomerMap", "customer_map"),
    "recommend": ("recommend_segment", "recommend_user", "resolve_segment"),
})
