"""Versions of segmint and the libraries whose behaviour shapes results, for the runs table."""

from __future__ import annotations

from importlib import metadata

_TRACKED = ("segmint", "duckdb", "numpy", "torch", "sentence-transformers", "faiss-cpu",
            "scikit-learn")


def versions() -> dict[str, str]:
    """Installed versions of segmint and its key dependencies (missing ones are skipped)."""
    found: dict[str, str] = {}
    for name in _TRACKED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
