"""Exact answers to marketers' questions, by class (issue 14, item 8).

    python -m bench.eval_answers [--failures N]

Runs the eval of tests/ask/test_answers.py (every question of data/eval/answers/ asked of the
sample shop, UCI Online Retail and The Complete Journey, each answer compared with a pandas truth
from the raw files) in a child pytest, prints its per-class table and the commonest failures,
and rewrites the "Questions: exact answers by class" section of bench/RESULTS.md. The threshold
tests may fail (the table is the point); the run itself must complete.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import machine, update_section

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Questions: exact answers by class"


def failure_kind(diff: str) -> str:
    """The kind of a failure, for counting: refused, error, crash, wrong set / number / table."""
    for kind in ("refused", "error", "crash", "no rows", "first row", "no matched_products"):
        if diff.startswith(kind) or (kind == "no matched_products" and diff.endswith(kind)):
            return kind
    if "customers, truth" in diff:
        return "wrong customers"
    return "wrong number" if diff.startswith("value") else "wrong table"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--failures", type=int, default=10, help="failing questions to print")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             str(ROOT / "tests" / "ask" / "test_answers.py"), "-k", "exact or precise"],
            cwd=ROOT, env={**os.environ, "SEGMINT_EVAL_REPORT": out}, capture_output=True, text=True)
        wall = time.perf_counter() - start
        table_path = Path(out, "answers.md")
        if not table_path.exists():
            sys.exit(f"the eval did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        table = table_path.read_text()
        results = json.loads(Path(out, "answers.json").read_text())
    wrong = [r for r in results if not r["exact"]]
    kinds = Counter(failure_kind(r["diff"]) for r in wrong)
    shops = Counter(r["shop"] for r in results)
    body = "\n".join([
        f"`python -m bench.eval_answers` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {machine()}; "
        f"{wall:.0f} s in all (building the three workspaces included).",
        "",
        f"{len(results)} questions ({', '.join(f'{n} {s}' for s, n in sorted(shops.items()))}), "
        "truth computed with pandas from the raw files (data/eval/answers/README.md). Exact: the "
        "same customers; a number within 1% (counts exactly); a table's groups in order with its values.",
        "",
        table.strip(),
        "",
        "Not exact, by kind: " + (", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "none") + ".",
    ])
    print(body)
    for r in wrong[: opts.failures]:
        print(f"  [{r['cls']}/{r['shop']}] {r['q']!r}: {r['diff']}")
    update_section(TITLE, body)


if __name__ == "__main__":
    main()
