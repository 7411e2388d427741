"""Audience re-evaluation at a run: what 20 saved audiences add to `segmint run`.

    python -m bench.audiences [--users 200000] [--new-share 0.05]

The synthetic shop (from $SEGMINT_BENCHDATA, see bench/run_e2e.py) is cut by time as in
bench/incremental.py: the older events build a workspace, on which 20 audiences are saved (questions
with time windows, glossary terms, products, a top list, segments). Then two runs, each in a fresh
process: `--append` of the newer events, and a full re-run over all events. Each run is timed with
the workspace's `audiences/` folder set aside, so it records nothing; then the folder is put back
and the re-evaluation that ends every run (`agent/audience/evaluate.py` `refresh`: every audience
and the segment snapshot) is timed in a fresh process, on exactly the state the run left. Writes
the "Audiences" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from bench.harness import Measurement, machine, measure, segmint, update_section
from bench.incremental import SPLIT
from bench.run_e2e import BENCHDATA, OUT, load_average, synth_file

QUESTIONS = (
    "customers who bought in the last 30 days",
    "customers who spent over £200 in the last 90 days",
    "customers who ordered at least 3 times in the last 6 months",
    "customers whose first purchase was in the last 90 days",
    "customers who viewed a TV in the last 30 days",
    "customers who bought headphones in the last 90 days",
    "new customers",
    "lapsed high spenders",
    "at-risk customers",
    "one-time buyers",
    "repeat buyers",
    "high spenders",
    "who bought tents?",
    "who bought cat food?",
    "customers who bought running shoes",
    "top 1000 customers by revenue",
)
SEGMENTS = ("1", "2", "3", "4")
TARGET_SHARE = 0.10

# The re-evaluation as a run ends it; then, for comparison, every audience answered as its question
# is (`evaluate`: the answer's text, sample and each customer's reason), as refresh once did.
TIME_REFRESH = """
import json, sys, time
from segmint.agent.ask.answer import Answerer
from segmint.agent.audience import AudienceStore, evaluate, refresh
from segmint.agent.core.workspace import Workspace
ws = Workspace(sys.argv[1])
start = time.perf_counter()
rows = refresh(ws)
seconds = time.perf_counter() - start
answerer = Answerer(ws)
start = time.perf_counter()
for audience in AudienceStore(ws).saved():
    evaluate(answerer, audience)
print(json.dumps({"seconds": seconds, "answers": time.perf_counter() - start,
                  "audiences": sum(r.target.startswith("audience:") for r in rows)}))
"""


def timed_run(args: list[str], ws: Path, env: dict[str, str]) -> tuple[Measurement, dict[str, Any]]:
    """One `segmint run` with the audiences set aside, then the re-evaluation it would end with.

    Returns:
        The run's measurement; the re-evaluation's `seconds`, how many `audiences` it recorded,
        and the seconds of answering every audience as its question (`answers`).
    """
    held = ws.parent / f"{ws.name}-audiences"
    shutil.move(ws / "audiences", held)
    try:
        run = measure(segmint("run", *args, "-w", str(ws)), env=env)
    finally:
        shutil.rmtree(ws / "audiences", ignore_errors=True)
        shutil.move(held, ws / "audiences")
    doc = measure([sys.executable, "-c", TIME_REFRESH, str(ws)], env=env).output
    return run, doc if isinstance(doc, dict) else {}


def save_audiences(ws: Path, env: dict[str, str]) -> float:
    """Save the 20 audiences; returns the seconds all the saves took."""
    total = 0.0
    for i, question in enumerate(QUESTIONS):
        total += measure(segmint("audience", "save", f"q{i:02d}", "--question", question, "-w",
                                 str(ws), "--json"), env=env).wall_s
    for sid in SEGMENTS:
        total += measure(segmint("audience", "save", f"segment {sid}", "--segment", sid, "-w",
                                 str(ws), "--json"), env=env).wall_s
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--new-share", type=float, default=0.05)
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    shop = synth_file(opts.users)
    scratch = Path(tempfile.mkdtemp(prefix="audiences-", dir=OUT))
    env = {"SEGMINT_CACHE_DIR": str(scratch / "cache")}
    base = ["--users", f"{shop}.users.csv", "--currency", "£", "--json"]
    rows: list[str] = []
    try:
        old, new = scratch / "old.parquet", scratch / "new.parquet"
        subprocess.run([sys.executable, "-c", SPLIT, str(shop), str(old), str(new),
                        str(opts.new_share)], check=True)
        ws = scratch / "ws"
        measure(segmint("run", str(old), "-w", str(ws), *base), env=env)
        saving = save_audiences(ws, env)
        for label, args in (("--append of the newer events", [str(new), "--append"]),
                            ("full re-run over all events", [str(old), str(new)])):
            copy = scratch / f"ws-{len(rows)}"
            shutil.copytree(ws, copy)
            load = load_average()
            run, timed = timed_run([*args, *base], copy, env)
            doc = run.output or {}
            seconds, answers = float(timed.get("seconds", 0.0)), float(timed.get("answers", 0.0))
            rows.append(f"| {label} (load {load}) | {doc.get('users', 0):,} | "
                        f"{timed.get('audiences', 0)} | {run.wall_s:.1f} | {seconds:.2f} | "
                        f"{seconds / run.wall_s:.1%} | {answers:.2f} ({answers / run.wall_s:.0%}) |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n = len(QUESTIONS) + len(SEGMENTS)
    body = "\n".join([
        f"`python -m bench.audiences --users {opts.users}` on {date.today()}: {machine()}.",
        f"The synthetic shop of {opts.users:,} customers ({BENCHDATA}) cut by time (the last "
        f"{opts.new_share:.0%} of its events arrive after the first run); {n} saved audiences: "
        f"{len(QUESTIONS)} questions (time windows, terms, products, a top list) and "
        f"{len(SEGMENTS)} segments (saving them took {saving:.0f} s in all, one process each).",
        "'re-evaluation s' is `refresh` (every audience and the segment snapshot, as each run ends),",
        "timed in a fresh process on the state the run left; 'run wall s' is the run without it.",
        "The last column, for comparison: every audience answered as its question (the answer's",
        "text, sample and each customer's reason), as the re-evaluation did before it was one pass.",
        f"Target: at most {TARGET_SHARE:.0%} of the run.",
        "",
        "| run | customers | audiences re-evaluated | run wall s | re-evaluation s | share of run | "
        "answered one by one s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ])
    update_section("Audiences", body)
    print(body)


if __name__ == "__main__":
    main()
