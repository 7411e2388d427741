"""Ingest: event files into `events` and `rejects`, then per-customer features into
`customer_features` (docs/definitions.md).
"""

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
