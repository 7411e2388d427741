"""Patterns compiled from the kept code are the ones `re.compile` builds, in a fresh process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from segmint.agent.core import patterns

# Imports the question parser (its module-level patterns), then reports on the kept patterns.
CHECK = """
import re, sys
import segmint.agent.ask.parser
from segmint.agent.core import patterns
cache = patterns._load()
assert cache, "nothing kept"
same = all(patterns.compiled(p, f) == re.compile(p, f) for p, f in cache)
print(len(cache), same, patterns._added)
"""


def _run(cache: Path) -> list[str]:
    env = {**os.environ, "SEGMINT_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env,
                          check=True)
    return done.stdout.split()


def test_a_second_process_compiles_nothing_and_gets_the_same_patterns(tmp_path: Path) -> None:
    kept, same, added = _run(tmp_path)  # the first process compiles and keeps them
    assert int(kept) > 100 and same == "True" and added == "True"
    path = next((tmp_path / "patterns").glob("*.marshal"))
    assert path.stat().st_size > 0
    assert _run(tmp_path) == [kept, "True", "False"]  # all read back, none compiled again


def test_a_broken_cache_file_only_costs_the_compiling(tmp_path: Path) -> None:
    _run(tmp_path)
    path = next((tmp_path / "patterns").glob("*.marshal"))
    path.write_bytes(b"\x00not marshal")
    kept, same, added = _run(tmp_path)
    assert same == "True" and added == "True" and int(kept) > 100


@pytest.mark.parametrize(("pattern", "flags", "text"), [
    (r"\b(?P<n>\d+)\s+(orders?|times)\b", 0, "at least 3 orders"),
    (r"(?i)caf[eé]", 0, "CAFÉ au lait"),
    (r"\bq([1-4])\b(?:\s+(?:of\s+)?(\d{4}))?", re.IGNORECASE, "Revenue in Q3 of 2011"),
])
def test_compiled_matches_as_re_does(pattern: str, flags: int, text: str) -> None:
    ours, theirs = patterns.compiled(pattern, flags), re.compile(pattern, flags)
    assert ours == theirs
    m, n = ours.search(text), theirs.search(text)
    assert m is not None and n is not None and (m.span(), m.groups()) == (n.span(), n.groups())
