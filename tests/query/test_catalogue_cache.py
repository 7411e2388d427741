"""A workspace's catalogue is read once per version of its database file and then from the
cache dir (bench/RESULTS.md "Cold start"): the same catalogue, never a stale one."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from conftest import build_workspace, purchase_rows
from segmint.agent.query.catalogue import catalogue, stored_catalogue


def test_the_stored_catalogue_is_the_catalogue_and_follows_each_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMINT_CACHE_DIR", str(tmp_path / "cache"))
    ws = build_workspace(tmp_path, purchase_rows(60, seed=5, texts=["Red Teapot", "Cake Stand", "Tea Towel"],
                                                 countries=["France", "Spain"]))
    with contextlib.closing(ws.reader()) as con:
        fresh = catalogue(con)
        first = stored_catalogue(con, f"{ws.db_path}|{ws.version()}")
        (stored,) = (tmp_path / "cache" / "catalogues").glob("*.json")
        again = stored_catalogue(con, f"{ws.db_path}|{ws.version()}")
    assert first == fresh == again and "teapot" in again.product_words
    assert again.attribute_values["country"] == fresh.attribute_values["country"]
    stored.write_text('{"numeric": 1}', encoding="utf-8")  # a broken cache is read afresh
    with contextlib.closing(ws.reader()) as con:
        assert stored_catalogue(con, f"{ws.db_path}|{ws.version()}") == fresh
        other = stored_catalogue(con, f"{ws.db_path}|another version")
    assert other == fresh and len(list((tmp_path / "cache" / "catalogues").glob("*.json"))) == 2
