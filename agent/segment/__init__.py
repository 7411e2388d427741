"""The segment step: customer vectors -> segments with stable ids, membership and an Unassigned group.

`build_segments` does the work on arrays (see `segmint.agent.segment.build`); `segment_step` runs it
against a run's workspace tables. Reducers and clusterers are built by name from `REDUCERS` and
`CLUSTERERS`; `SegmentModel` places newcomers (`assign`) exactly where the fit would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.segment.assign import Assignment, assign, holdout_report, write_assignment
    from segmint.agent.segment.build import (
        SegmentInfo,
        SegmentParams,
        SegmentResult,
        build_segments,
        previous_from_result,
    )
    from segmint.agent.segment.cluster import CLUSTERERS, Clusterer
    from segmint.agent.segment.evaluate import agreement, evaluate_labels_file, label_free_quality
    from segmint.agent.segment.model import SegmentModel, SpaceModel
    from segmint.agent.segment.reduce import REDUCERS, Reducer, make_reducer
    from segmint.agent.segment.reduce_autoencoder import AutoencoderReducer
    from segmint.agent.segment.stable_ids import PreviousSegments, Transition, match_ids, transitions
    from segmint.agent.segment.store import (
        behaviour_matrix,
        load_model,
        read_previous,
        save_model,
        segment_step,
        segments_overview,
        write_segments,
    )

__all__ = [
    "CLUSTERERS",
    "REDUCERS",
    "Assignment",
    "AutoencoderReducer",
    "Clusterer",
    "PreviousSegments",
    "Reducer",
    "SegmentInfo",
    "SegmentModel",
    "SegmentParams",
    "SegmentResult",
    "SpaceModel",
    "Transition",
    "agreement",
    "assign",
    "behaviour_matrix",
    "build_segments",
    "evaluate_labels_file",
    "holdout_report",
    "label_free_quality",
    "load_model",
    "make_reducer",
    "match_ids",
    "previous_from_result",
    "read_previous",
    "save_model",
    "segment_step",
    "segments_overview",
    "transitions",
    "write_assignment",
    "write_segments",
]

lazy_package(__name__, {
    "assign": ("Assignment", "assign", "holdout_report", "write_assignment"),
    "build": ("SegmentInfo", "SegmentParams", "SegmentResult", "build_segments", "previous_from_result"),
    "cluster": ("CLUSTERERS", "Clusterer"),
    "evaluate": ("agreement", "evaluate_labels_file", "label_free_quality"),
    "model": ("SegmentModel", "SpaceModel"),
    "reduce": ("REDUCERS", "Reducer", "make_reducer"),
    "reduce_autoencoder": ("AutoencoderReducer",),
    "stable_ids": ("PreviousSegments", "Transition", "match_ids", "transitions"),
    "store": (
        "behaviour_matrix", "load_model", "read_previous", "save_model", "segment_step", "segments_overview",
        "write_segments",
    ),
})
