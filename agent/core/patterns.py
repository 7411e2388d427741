"""Regular expressions compiled once per machine instead of once per process.

The question parser holds a few hundred patterns, many of them long alternations; compiling them
was about a tenth of every cold `ask` and `export` (bench/RESULTS.md "Cold start"). CPython
compiles a pattern in two steps: parsing it and generating its code, in Python (the slow part),
then building the pattern object from that code in C (`_sre.compile`). `compiled` keeps the
generated code in the cache dir, keyed by the interpreter's regex engine (its magic number and
code size, the Python version), so a later process runs only the C step. The pattern objects are
the ones `re.compile` builds (they compare equal: tests/core/test_patterns.py). Anything
unexpected (another interpreter, an engine that changed, a broken cache file) falls back to
`re.compile`, and an unwritable cache only costs the compiling.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import marshal
import re
import sys
import threading
from pathlib import Path
from typing import Any

from segmint.agent.core.files import cache_dir, write_atomic

__all__ = ["cache_path", "compiled"]

MAX_PATTERNS = 2000  # the parser's own are ~300; patterns of one question's words are not kept
_LOCK = threading.Lock()
# (pattern, flags) -> (final flags, code as uint32 bytes, groups, groupindex, indexgroup)
_Entry = tuple[int, bytes, int, dict[str, int], tuple[str | None, ...]]
_cache: dict[tuple[str, int], _Entry] | None = None
_added = False

try:  # the C step and the Python steps of CPython's `re` (3.11 to 3.13)
    import _sre
    from re import _compiler, _parser  # type: ignore[attr-defined]

    _ENGINE: str | None = (f"sre{_sre.MAGIC}-{_sre.CODESIZE}-{sys.implementation.name}"
                           f"{sys.version_info[0]}.{sys.version_info[1]}")
except (ImportError, AttributeError):  # pragma: no cover - not CPython
    _ENGINE = None


def cache_path() -> Path | None:
    """Where this interpreter's compiled patterns are kept (None: not kept here)."""
    return None if _ENGINE is None else cache_dir() / "patterns" / f"{_ENGINE}.marshal"


def compiled(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, from the kept code when this machine compiled it before."""
    if _ENGINE is None:
        return re.compile(pattern, flags)
    key = (pattern, int(flags))
    with _LOCK:
        entry = _load().get(key)
    if entry is not None:
        with contextlib.suppress(Exception):
            final, code, groups, groupindex, indexgroup = entry
            return _sre.compile(pattern, final, array.array("I", code).tolist(), groups,
                                groupindex, indexgroup)
    return _compile_and_keep(pattern, int(flags), key)


def _compile_and_keep(pattern: str, flags: int, key: tuple[str, int]) -> re.Pattern[str]:
    global _added
    try:  # what `re._compiler.compile` does, keeping the generated code
        parsed = _parser.parse(pattern, flags)
        code = _compiler._code(parsed, flags)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        entry: _Entry = (int(flags | parsed.state.flags), array.array("I", code).tobytes(),
                         parsed.state.groups - 1, groupindex, tuple(indexgroup))
        pattern_object: re.Pattern[str] = _sre.compile(pattern, entry[0], list(code), entry[2],
                                                       entry[3], entry[4])
    except Exception:
        return re.compile(pattern, flags)
    with _LOCK:
        cache = _load()
        if len(cache) >= MAX_PATTERNS:  # kept from many versions' patterns: start again
            cache.clear()
        cache[key] = entry
        if not _added:
            _added = True
            atexit.register(_save)
    return pattern_object


def _load() -> dict[tuple[str, int], _Entry]:
    global _cache
    if _cache is None:
        _cache = {}
        path = cache_path()
        with contextlib.suppress(Exception):
            loaded: Any = marshal.loads(path.read_bytes()) if path is not None else {}
            if isinstance(loaded, dict):
                _cache = loaded
    return _cache


def _save() -> None:
    path = cache_path()
    if path is None or _cache is None:
        return
    with contextlib.suppress(OSError, ValueError):
        write_atomic(path, marshal.dumps(_cache))
