"""Incremental runs: appending the last days of events vs re-running everything.

    python -m bench.incremental [--users 200000] [--new-share 0.05] [--embedder minilm-numpy]

The synthetic shop (from $SEGMINT_BENCHDATA, see bench/run_e2e.py) is cut by time: the first
(1 - new-share) of its events build a workspace; then the rest is added three ways, each in a
fresh process with the same (warm) vector cache: `--append` (existing segments), `--append --refit`,
and a full run over all events. Writes the "Incremental runs" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.harness import machine, measure, segmint, update_section
from bench.run_e2e import BENCHDATA, OUT, load_average, synth_file

SPLIT = """
import sys, duckdb
src, old, new, share = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
cut = con.execute(f"SELECT quantile_disc(timestamp, {1 - share}) FROM '{src}'").fetchone()[0]
con.execute(f"COPY (SELECT * FROM '{src}' WHERE timestamp < TIMESTAMP '{cut}') TO '{old}'")
con.execute(f"COPY (SELECT * FROM '{src}' WHERE timestamp >= TIMESTAMP '{cut}') TO '{new}'")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--new-share", type=float, default=0.05)
    parser.add_argument("--embedder", default="minilm-numpy")
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    shop = synth_file(opts.users)
    users_file = f"{shop}.users.csv"
    scratch = Path(tempfile.mkdtemp(prefix="incr-", dir=OUT))
    env = {"SEGMINT_CACHE_DIR": str(scratch / "cache")}
    rows = []
    try:
        old, new = scratch / "old.parquet", scratch / "new.parquet"
        subprocess.run([sys.executable, "-c", SPLIT, str(shop), str(old), str(new),
                        str(opts.new_share)], check=True)
        base = ["--users", users_file, "--embedder", opts.embedder, "--json"]
        ws = scratch / "ws"
        m = measure(segmint("run", str(old), "-w", str(ws), *base), env=env)
        first = m.output or {}
        rows.append(("first run, older events", m, first))
        for label, extra in (("--append (existing segments)", ["--append"]),
                             ("--append --refit", ["--append", "--refit"])):
            copy = scratch / f"ws-{len(rows)}"
            shutil.copytree(ws, copy)
            load = load_average()
            m = measure(segmint("run", str(new), "-w", str(copy), *base, *extra), env=env)
            rows.append((f"{label} (load {load})", m, m.output or {}))
        load = load_average()
        m = measure(segmint("run", str(old), str(new), "-w", str(scratch / "full"), *base), env=env)
        rows.append((f"full re-run over all events (load {load})", m, m.output or {}))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = []
    for label, m, doc in rows:
        s = doc.get("seconds", {})
        emb = doc.get("embedding") or {}
        lines.append(f"| {label} | {doc.get('users', 0):,} | {doc.get('events_ok', 0):,} | "
                     f"{emb.get('embedded', 0):,} | {s.get('ingest', 0):.1f} | {s.get('features', 0):.1f} | "
                     f"{s.get('embed', 0):.1f} | {s.get('segment', 0):.1f} | {m.wall_s:.1f} | "
                     f"{m.peak_rss_mib / 1024:.2f} | {doc.get('segments')} | {doc.get('mode')} |")
    body = "\n".join([
        f"`python -m bench.incremental --users {opts.users}` on {date.today()}: {machine()}.",
        f"The synthetic shop of {opts.users:,} customers ({BENCHDATA}) cut by time: the last "
        f"{opts.new_share:.0%} of its events arrive after the first run. One fresh process per row,",
        "one shared vector cache (warm after the first run). 'events' counts the events read by that run.",
        "",
        "| run | customers | events | texts encoded | ingest s | features s | embed s | segment s | "
        "wall s | peak RSS GiB | segments | mode |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *lines,
    ])
    update_section("Incremental runs", body)
    print(body)


if __name__ == "__main__":
    main()
