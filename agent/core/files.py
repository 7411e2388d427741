"""Atomic file writes (a reader sees the old file or the new one, never half of either) and where
the caches shared by workspaces live."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


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


def cached_json(kind: str, key: str, build: Callable[[], Any], load: Callable[[Any], T]) -> T:
    """`load` of the JSON document kept under the cache dir for `key`, else of `build()`, kept.

    For what a read command would otherwise recompute on every start (bench/RESULTS.md "Cold
    start"). `key` must name everything the document depends on; a document that does not load
    (unreadable, not JSON, `load` raising a KeyError, TypeError or ValueError) is built again, and
    an unwritable cache only costs the build each time.

    Args:
        kind: the cache's folder under the cache dir ("glossary", "catalogues").
        key: what the document was built from (a text, a database file's identity).
        build: makes the JSON-ready document.
        load: turns the document into the value returned.
    """
    path = cache_dir() / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return load(json.loads(path.read_text(encoding="utf-8")))
    doc = build()
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(doc).encode("utf-8"))
    return load(doc)
