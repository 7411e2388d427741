"""The README's tour is what the code prints: regenerated from real runs and compared
(bench/readme_tour.py; regenerate with `python -m bench.readme_tour --write`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ONLINE_RETAIL

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_tour", ROOT / "bench" / "readme_tour.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tour_is_current(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    tour = _generator()
    # The Online Retail part reuses the session's run of the README's command (same mapping).
    retail = request.getfixturevalue("online_retail") if ONLINE_RETAIL.exists() else None
    current = (ROOT / "README.md").read_text(encoding="utf-8")
    fresh = tour.render(tmp_path, retail, current)
    assert fresh == current, "README.md's tour is stale: python -m bench.readme_tour --write"

