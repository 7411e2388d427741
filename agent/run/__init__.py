"""Running the pipeline: the orchestrator, the engines it runs on (local, Ray), incremental runs
and the placement of new customers into existing segments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segmint.agent.core.lazy import lazy_package

if TYPE_CHECKING:
    from segmint.agent.run.engine import Engine, LocalEngine
    from segmint.agent.run.engines import ENGINES, open_engine
    from segmint.agent.run.newcomers import assign_newcomers
    from segmint.agent.run.pipeline import RunResult, StageClock, run

__all__ = [
    "ENGINES",
    "Engine",
    "LocalEngine",
    "RunResult",
    "StageClock",
    "assign_newcomers",
    "open_engine",
    "run",
]

lazy_package(__name__, {
    "engine": ("Engine", "LocalEngine"),
    "engines": ("ENGINES", "open_engine"),
    "newcomers": ("assign_newcomers",),
    "pipeline": ("RunResult", "StageClock", "run"),
})
