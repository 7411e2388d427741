"""Atomic file writes (a reader sees the old file or the new one, never half of either) and where
the caches shared by workspaces live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """Root of the caches shared by workspaces: ``$SEGMINT_CACHE_DIR`` or ``~/.cache/segmint``."""
    env = os.environ.get("SEGMINT_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "segmint"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
