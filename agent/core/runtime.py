"""Process set-up every entry point runs first: offline model loading, quiet libraries, threads."""

from __future__ import annotations

import os

__all__ = ["offline_models"]


def offline_models() -> None:
    """Models load from local files only, quietly (nothing is downloaded at run time).

    OpenMP threads sleep instead of spinning while they wait: on a shared 2-core machine a
    spinning torch ran 4-5x slower (bench/RESULTS.md, End to end). Read when OpenMP loads, so
    this must run before torch is imported.
    """
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("OMP_WAIT_POLICY", "PASSIVE")):
        os.environ.setdefault(name, value)
