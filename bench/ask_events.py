"""Latency of questions about what customers did (issue 14: <= 300 ms median at 1M customers /
20M events).

    python -m bench.ask_events [--users 1000000] [--repeats 5]

Builds (once) a workspace straight in DuckDB from the sample shop's generator (`segmint synth`,
about 20 events per customer): `events` read from its Parquet file with ingest's rules (returns
negative), then the run's own steps for `customer_features`, `items`/`activity` and `users`; no
embedding or segmentation, which these questions do not read. Then answers each question's
QuerySpec several times in one process through `Answerer.answer` (product matching, compile,
count, sample with evidence, matched products, the number or table), and, where the built-in
parser reads the question, the whole `Answerer.ask` too. Writes the "Questions: latency" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.harness import machine, measure, segmint, update_section

OUT = Path(__file__).resolve().parent / "out"
TENTS = {"kind": "events", "event": "purchase", "product": "tents"}
LAST_90 = {"last": 90, "unit": "day"}
SPEND = {"kind": "events", "event": "purchase", "measure": "spend", "window": LAST_90}


def _events(**fields: Any) -> dict[str, Any]:
    return {"any_of": [[{"kind": "events", "event": "purchase", **fields}]]}


QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("who bought tents?", {"any_of": [[TENTS]]}),
    ("who viewed a tent but never bought one?", {"any_of": [[
        {"kind": "events", "event": "view", "product": "tent"},
        {**TENTS, "product": "tent", "negate": True}]]}),
    ("who spent over £200 in the last 90 days?", {"any_of": [[{**SPEND, "op": ">", "value": 200}]]}),
    ("who spent less than £20 in the last 90 days?", {"any_of": [[{**SPEND, "op": "<", "value": 20}]]}),
    ("who ordered at least 3 times this year?",
     _events(measure="orders", op=">=", value=3, window={"period": "this", "unit": "year"})),
    ("who bought coffee in the last 30 days?",
     _events(product="coffee", window={"last": 30, "unit": "day"})),
    ("who bought in May 2026?", _events(window={"start": "2026-05-01", "end": "2026-06-01"})),
    ("customers whose first order was in 2026", {"any_of": [[
        {"kind": "cohort", "cohort": "first_purchase",
         "window": {"start": "2026-01-01", "end": "2027-01-01"}}]]}),
    ("lapsed customers who bought an espresso machine", {"any_of": [[
        {"kind": "term", "term": "lapsed"},
        {"kind": "events", "event": "purchase", "product": "espresso machine"}]]}),
    ("how many customers searched for espresso?", {"intent": "count", "any_of": [[
        {"kind": "events", "event": "search", "product": "espresso"}]]}),
    ("average spend in the last 90 days",
     {"measure": {"agg": "mean", "field": "revenue", "window": LAST_90}}),
    ("revenue by month", {"measure": {"agg": "sum", "field": "revenue"}, "group_by": "month"}),
]


def build(users: int) -> Path:
    """The benchmark workspace of `users` customers (built once, then reused)."""
    shop = OUT / f"synth-{users}.parquet"
    ws_dir = OUT / f"ws-events-{users}"
    if not shop.exists():
        measure(segmint("synth", "--users", str(users), "-o", str(shop)))
    if (ws_dir / "segmint.duckdb").exists():
        return ws_dir

    from segmint.agent.core.schema import EVENTS_DDL, assemble_users
    from segmint.agent.core.workspace import Workspace
    from segmint.agent.ingest.activity import build_activity
    from segmint.agent.ingest.features import build_users, resolve_as_of

    start = time.perf_counter()
    with Workspace(ws_dir).new_run("bench", {"currency": "£"}) as (con, record):
        con.execute(EVENTS_DDL.format(attr_columns=""))
        # The generator's columns are canonical already; returns carry negative quantity and amount.
        con.execute(
            "INSERT INTO events SELECT user_id, timestamp, event_type, text, product_id, order_id, "
            "category, q, price, CASE WHEN price IS NOT NULL THEN q * price END, 'synth', NULL FROM "
            "(SELECT *, CAST(CASE WHEN event_type = 'return' THEN -abs(quantity) ELSE quantity END "
            "AS DOUBLE) AS q FROM read_parquet(?))", [str(shop)])
        as_of = resolve_as_of(con, None)
        n = build_users(con, as_of, has_order_id=True, attributes=[])
        seconds = time.perf_counter()
        build_activity(con)
        activity_s = time.perf_counter() - seconds
        assemble_users(con)
        (events,) = con.execute("SELECT count(*) FROM events").fetchall()[0]
        record.counts = {"as_of": as_of.isoformat(), "users": n, "events_ok": int(events)}
        record.seconds = {"activity": round(activity_s, 1)}
    print(f"built {ws_dir} in {time.perf_counter() - start:.0f}s (items + activity {activity_s:.0f}s)",
          flush=True)
    return ws_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    ws_dir = build(opts.users)

    from segmint.agent.ask.answer import Answerer
    from segmint.agent.ask.parsers import Reading
    from segmint.agent.core.errors import SegmintError
    from segmint.agent.core.records import read_latest_run
    from segmint.agent.core.workspace import Workspace
    from segmint.agent.query import QuerySpec

    workspace = Workspace(ws_dir)
    answerer = Answerer(workspace)
    with workspace.connect() as con:
        run = read_latest_run(con)
        (events,) = con.execute("SELECT count(*) FROM activity").fetchall()[0]
    build_s = run.seconds.get("activity") if run else None
    answerer.answer(QUESTIONS[0][0], Reading(QuerySpec.model_validate(QUESTIONS[0][1])))  # warm-up
    rows, medians = [], []
    for question, raw in QUESTIONS:
        spec = QuerySpec.model_validate(raw)
        times = []
        for _ in range(opts.repeats):
            start = time.perf_counter()
            answer = answerer.answer(question, Reading(spec))
            times.append((time.perf_counter() - start) * 1000)
        asked = "—"
        try:
            if answerer.read(question, answerer.catalogue()).spec == spec:
                full = []
                for _ in range(opts.repeats):
                    start = time.perf_counter()
                    answerer.ask(question)
                    full.append((time.perf_counter() - start) * 1000)
                asked = f"{statistics.median(full):.0f}"
        except SegmintError:
            pass
        medians.append(statistics.median(times))
        shown = f"{answer.count:,}" if answer.kind == "customers" else (
            f"{answer.value:,.2f}" if answer.kind == "number" else f"{len(answer.rows)} rows")
        rows.append(f"| {question} | {answer.kind} | {shown} | {medians[-1]:.0f} | {asked} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        f"`python -m bench.ask_events --users {opts.users}` on {date.today()}: {machine()} "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other jobs shared the machine).",
        f"{opts.users:,} customers, {int(events):,} events (the sample shop's generator); `items` and "
        f"`activity` built in {build_s} s. Each question's QuerySpec answered {opts.repeats} times in one "
        "process (`Answerer.answer`: product matching, SQL, count, sample with evidence, matched "
        "products, number or table); the last column times the whole `ask` (built-in parser "
        "included) where that parser reads the question as the same spec. Milliseconds are medians.",
        "",
        "| question | kind | answer | median ms | ask ms |",
        "|---|---|---:|---:|---:|",
        *rows,
        "",
        f"Median over the questions: **{statistics.median(medians):.0f} ms** "
        f"(slowest {max(medians):.0f} ms); target ≤ 300 ms.",
    ])
    update_section("Questions: latency", body)


if __name__ == "__main__":
    main()
