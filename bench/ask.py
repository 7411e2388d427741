"""Built-in question answering latency on a large workspace (issue 6: <= 100 ms median at 100k).

    python -m bench.ask [--users 100000] [--repeats 5]

Builds (once) a sample-shop workspace of N customers, then answers a fixed set of questions in
one process with the built-in parser, timing each call of `segmint.agent.ask.answer.ask` end to end
(open the workspace, parse, run the SQL, build the answer). Writes the "Ask" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

from bench.harness import machine, measure, segmint, update_section

OUT = Path(__file__).resolve().parent / "out"
QUESTIONS = [
    "who are my lapsed high spenders?",
    "how many customers haven't bought in 6 months?",
    "top 10 customers by revenue",
    "one-time buyers or at risk customers",
    "high spenders who are not lapsed",
    "customers who spent between 100 and 250",
    "frequent buyers aged 25-34",
    "who buys espresso beans",
    "new customers in the last 2 weeks",
    "repeat buyers with at least 3 orders",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    shop = OUT / f"synth-{opts.users}.parquet"
    ws = OUT / f"ws-ask-{opts.users}"
    if not shop.exists():
        measure(segmint("synth", "--users", str(opts.users), "-o", str(shop)))
    if not (ws / "segmint.duckdb").exists():
        m = measure(segmint("run", str(shop), "--users", f"{shop}.users.csv", "-w", str(ws),
                            "--json"))
        print(f"built the workspace in {m.wall_s:.0f}s", flush=True)

    from segmint.agent.ask.answer import ask
    from segmint.agent.core.workspace import Workspace

    workspace = Workspace(ws)
    ask(workspace, QUESTIONS[0])  # warm-up: imports, DuckDB's first open
    rows = []
    all_times: list[float] = []
    for question in QUESTIONS:
        times = []
        for _ in range(opts.repeats):
            start = time.perf_counter()
            answer = ask(workspace, question)
            times.append((time.perf_counter() - start) * 1000)
        all_times += times
        rows.append(f"| {question} | {answer.count:,} | {statistics.median(times):.1f} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        f"`python -m bench.ask --users {opts.users}` on {date.today()}: {machine()}.",
        f"Each question answered {opts.repeats} times in one process with the built-in parser",
        "(workspace opened read-only per call); milliseconds are medians.",
        "",
        "| question | customers | median ms |",
        "|---|---:|---:|",
        *rows,
        "",
        f"Median over all calls: **{statistics.median(all_times):.1f} ms** "
        f"(p90 {sorted(all_times)[int(0.9 * len(all_times))]:.1f} ms) on {opts.users:,} customers; "
        "target ≤ 100 ms.",
    ])
    update_section("Ask (built-in parser)", body)
    print(body)


if __name__ == "__main__":
    main()
