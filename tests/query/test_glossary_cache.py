"""The packaged glossary is parsed once and then read from its JSON cache, so a cold `ask` or
`export` never imports PyYAML (bench/RESULTS.md "Cold start"); an edit or a broken cache is never
served stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segmint.agent.core.files import cached_json
from segmint.agent.query import glossary
from segmint.agent.query.glossary import Glossary


def _load_in_fresh_process(cache: Path) -> dict[str, object]:
    code = ("import sys, json; from segmint.agent.query.glossary import load_glossary; "
            "g = load_glossary(); print(json.dumps({'terms': sorted(g.terms), "
            "'yaml': 'yaml' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "SEGMINT_CACHE_DIR": str(cache)})
    return json.loads(out.stdout)


def test_the_second_load_reads_the_cache_without_yaml(tmp_path: Path) -> None:
    first = _load_in_fresh_process(tmp_path)
    assert first["yaml"] is True and list((tmp_path / "glossary").glob("*.json"))
    second = _load_in_fresh_process(tmp_path)
    assert second == {**first, "yaml": False}


def test_a_broken_cache_or_another_text_is_parsed_afresh(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path))
    builds: list[str] = []

    def load(text: str) -> Glossary:
        def build() -> object:
            builds.append(text)
            return glossary._yaml(text)
        return cached_json("glossary", text, build, Glossary.model_validate)

    text = ("terms:\n  vip:\n    label: vip\n    synonyms: [vip]\n    meaning: revenue over 1\n"
            "    filters: [{field: revenue, op: '>', value: 1}]\n")
    assert load(text).terms["vip"].label == "vip" and load(text).terms["vip"].filters[0].value == 1
    assert builds == [text]  # the second load read the cache
    (cached,) = (tmp_path / "glossary").glob("*.json")
    for broken in ("{not json", '{"terms": {"vip": {"label": 3}}}'):  # not JSON; not a glossary
        cached.write_text(broken, encoding="utf-8")
        assert load(text).terms["vip"].label == "vip"
    assert len(builds) == 3
    other = text.replace("vip", "whale")
    assert list(load(other).terms) == ["whale"]
    assert len(list((tmp_path / "glossary").glob("*.json"))) == 2
