"""The bottom layer: errors, settings, the workspace (its tables, typed reads and atomic runs), SQL
helpers, registries and process set-up. Everything else may import it; it imports nothing above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.core.arrays import F32, F64, UNASSIGNED, BoolArray, FloatArray, IntArray
    from segmint.agent.core.config import RunConfig, load_config, parse_pairs
    from segmint.agent.core.errors import InputError, NotUnderstood, SegmintError, UsageError
    from segmint.agent.core.records import (
        RunInfo,
        Segment,
        SegmentProfile,
        SegmentRun,
        read_latest_run,
        read_segment,
        read_segment_run,
        read_segments,
    )
    from segmint.agent.core.registry import Registry
    from segmint.agent.core.runtime import offline_models
    from segmint.agent.core.schema import Table, assemble_segments, assemble_users
    from segmint.agent.core.sql import fetch_one, sql_ident, sql_str
    from segmint.agent.core.versions import versions
    from segmint.agent.core.workspace import RunRecord, Workspace, connect

__all__ = [
    "F32",
    "F64",
    "UNASSIGNED",
    "BoolArray",
    "FloatArray",
    "InputError",
    "IntArray",
    "NotUnderstood",
    "Registry",
    "RunConfig",
    "RunInfo",
    "RunRecord",
    "Segment",
    "SegmentProfile",
    "SegmentRun",
    "SegmintError",
    "Table",
    "UsageError",
    "Workspace",
    "assemble_segments",
    "assemble_users",
    "connect",
    "fetch_one",
    "load_config",
    "offline_models",
    "parse_pairs",
    "read_latest_run",
    "read_segment",
    "read_segment_run",
    "read_segments",
    "sql_ident",
    "sql_str",
    "versions",
]

lazy_package(__name__, {
    "arrays": ("F32", "F64", "UNASSIGNED", "BoolArray", "FloatArray", "IntArray"),
    "config": ("RunConfig", "load_config", "parse_pairs"),
    "errors": ("InputError", "NotUnderstood", "SegmintError", "UsageError"),
    "records": (
        "RunInfo", "Segment", "SegmentProfile", "SegmentRun", "read_latest_run", "read_segment",
        "read_segment_run", "read_segments",
    ),
    "registry": ("Registry",),
    "runtime": ("offline_models",),
    "schema": ("Table", "assemble_segments", "assemble_users"),
    "sql": ("fetch_one", "sql_ident", "sql_str"),
    "versions": ("versions",),
    "workspace": ("RunRecord", "Workspace", "connect"),
})
