"""Fairness audit: ratios equal the true shares, recomputed with pandas from the users file."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import run_cli
from segmint.agent.act.audit import HIGH, LOW, audit, audit_users, export_skew
from segmint.agent.cli import app
from segmint.agent.core.errors import InputError
from segmint.agent.core.workspace import Workspace

pd = pytest.importorskip("pandas")


def cli_json(*args: str) -> dict[str, Any]:
    """One command's `--json` document, run in this process."""
    result = CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _truth(ws: Path, events: Path, column: str) -> tuple[Any, Any]:
    """(per-user frame with segment and attribute, population shares) computed independently."""
    users = pd.read_csv(f"{events}.users.csv", dtype=str)
    with Workspace(ws).connect() as con:
        seg = con.execute("SELECT user_id, CAST(segment_id AS VARCHAR) AS seg FROM users").df()
    frame = seg.merge(users[["user_id", column]], on="user_id", how="left")
    known = frame[frame[column].notna()]
    return known, known[column].value_counts(normalize=True)


@pytest.mark.parametrize(("asked", "column"), [("age", "age_band"), ("gender", "gender"),
                                               ("region", "region")])
def test_ratios_are_true_shares(shop_with_users: tuple[Path, Path], asked: str, column: str) -> None:
    ws, events = shop_with_users
    doc = cli_json("audit", "--attribute", asked, "-w", str(ws))
    known, population = _truth(ws, events, column)
    assert doc["attribute"] == column
    assert doc["population"] == pytest.approx(population.to_dict(), abs=1e-6)
    assert {s["id"] for s in doc["segments"]} == set(known["seg"]) | {
        s["id"] for s in doc["segments"] if s["known"] == 0}
    for seg in doc["segments"]:
        members = known[known["seg"] == seg["id"]]
        assert seg["known"] == len(members)
        if not len(members):
            continue
        shares = members[column].value_counts(normalize=True)
        for value, pop in population.items():
            assert seg["ratios"][value] == pytest.approx(shares.get(value, 0.0) / pop, abs=1e-5)
        assert seg["flags"] == [v for v in doc["population"]
                                if not LOW <= seg["ratios"][v] <= HIGH]
        # The population is the size-weighted mix of the segments: sum of share x ratio is 1.
        assert sum(population[v] * seg["ratios"][v] for v in population.index) == pytest.approx(1.0)


def test_question_audit_matches_the_export(shop_with_users: tuple[Path, Path], tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    ws, events = shop_with_users
    out = tmp_path / "lapsed.csv"
    with caplog.at_level(logging.WARNING):
        cli_json("ask", "lapsed customers", "-w", str(ws), "--export", str(out))
    doc = cli_json("audit", "--attribute", "age_band", "--question", "lapsed customers",
                   "-w", str(ws))
    exported = pd.read_csv(out, dtype=str)
    known, population = _truth(ws, events, "age_band")
    chosen = known[known["user_id"].isin(exported["user_id"])]
    shares = chosen["age_band"].value_counts(normalize=True)
    assert doc["customers"] == len(exported)
    assert doc["known"] == len(chosen)
    for value, pop in population.items():
        assert doc["ratios"][value] == pytest.approx(shares.get(value, 0.0) / pop, abs=1e-5)
    warned = [r.message for r in caplog.records if "skewed on age_band" in r.message]
    expected_flags = [v for v in doc["flags"] if population[v] * len(chosen) >= 10]
    assert bool(warned) == bool(expected_flags)


def test_export_of_a_skewed_segment_warns_and_of_everyone_does_not(
        shop_with_users: tuple[Path, Path]) -> None:
    ws, _ = shop_with_users
    with Workspace(ws).connect() as con:
        everyone = [r[0] for r in con.execute("SELECT user_id FROM users").fetchall()]
        assert export_skew(con, everyone) == []
        full = audit_users(con, "gender", everyone)
        assert all(r == pytest.approx(1.0) for r in full["ratios"].values())
        # A list made only of one gender is as skewed as a list can be.
        women = [r[0] for r in con.execute(
            "SELECT user_id FROM users WHERE gender = 'female'").fetchall()]
        warnings = export_skew(con, women)
    assert any("skewed on gender" in w for w in warnings)


@pytest.mark.parametrize(("name", "message"), [("nope", "no customer attribute"),
                                               ("e", "matches")])
def test_bad_attribute_is_a_usage_error(shop_with_users: tuple[Path, Path], name: str,
                                        message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        audit(Workspace(shop_with_users[0]), name)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


def test_bad_attribute_exits_2_with_one_line(shop_with_users: tuple[Path, Path]) -> None:
    proc = run_cli("audit", "--attribute", "nope", "-w", str(shop_with_users[0]))
    assert proc.returncode == 2
    assert "no customer attribute" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
