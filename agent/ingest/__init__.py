"""Ingest: event files into `events` and `rejects`, then per-customer features into
`customer_features` (docs/definitions.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.ingest.events import FileReport, IngestReport, carry_events, ingest, resolve_columns
    from segmint.agent.ingest.features import (
        FeatureReport,
        UsersFileReport,
        build_users,
        features_step,
        resolve_as_of,
    )
    from segmint.agent.ingest.readers import Source, file_format, open_source

__all__ = [
    "FeatureReport",
    "FileReport",
    "IngestReport",
    "Source",
    "UsersFileReport",
    "build_users",
    "carry_events",
    "features_step",
    "file_format",
    "ingest",
    "open_source",
    "resolve_as_of",
    "resolve_columns",
]

lazy_package(__name__, {
    "events": ("FileReport", "IngestReport", "carry_events", "ingest", "resolve_columns"),
    "features": ("FeatureReport", "UsersFileReport", "build_users", "features_step", "resolve_as_of"),
    "readers": ("Source", "file_format", "open_source"),
})
