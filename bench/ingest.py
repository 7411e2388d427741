"""Ingest + features: seconds and peak memory on Online Retail and a large synthetic shop.

    python -m bench.ingest [--users 1000000] [--repeats 3]

Writes the "Ingest and features" section of bench/RESULTS.md. Targets (issue 2): Online Retail
under 20 s on 2 cores; 1M users / 20M events within 4 GiB peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date
from pathlib import Path

from bench.harness import machine, measure, median, segmint, update_section

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
OR_MAP = ["--map", "user_id=CustomerID", "--map", "timestamp=InvoiceDate", "--map",
          "order_id=InvoiceNo", "--map", "product_id=StockCode", "--map", "text=Description",
          "--map", "quantity=Quantity", "--map", "price=UnitPrice", "--attr", "country=Country"]
OUT = Path(__file__).resolve().parent / "out"


def bench_case(name: str, args: list[str], repeats: int) -> str:
    walls, rss, ingest_s, features_s = [], [], [], []
    result: dict = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=OUT) as tmp:
            m = measure(segmint("run", *args, "-w", str(Path(tmp) / "ws"), "--json"))
        result = m.output or {}
        walls.append(m.wall_s)
        rss.append(m.peak_rss_mib)
        ingest_s.append(result["seconds"]["ingest"])
        features_s.append(result["seconds"]["features"])
        print(f"{name}: {m.wall_s:.1f}s wall, {m.peak_rss_mib:.0f} MiB", flush=True)
    return (f"| {name} | {result['events_in']:,} | {result['users']:,} | {median(ingest_s):.1f} | "
            f"{median(features_s):.1f} | {median(walls):.1f} | {max(rss) / 1024:.2f} | {repeats} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    rows = []
    if ONLINE_RETAIL.exists():
        rows.append(bench_case("Online Retail", [str(ONLINE_RETAIL), *OR_MAP], opts.repeats))
    shop = OUT / f"synth-{opts.users}.parquet"
    if not shop.exists():
        m = measure(segmint("synth", "--users", str(opts.users), "-o", str(shop)))
        print(f"synth {opts.users:,} users: {m.wall_s:.0f}s, {m.peak_rss_mib:.0f} MiB", flush=True)
    rows.append(bench_case(f"synthetic {opts.users:,} users", [str(shop)],
                           max(1, opts.repeats // 3)))
    shutil.rmtree(OUT / "tmp", ignore_errors=True)
    body = "\n".join([
        f"`python -m bench.ingest` on {date.today()}: {machine()}.",
        "Whole `segmint run` (ingest + features only) in a fresh process; seconds are medians,",
        "peak RSS is the largest over the repeats (wait4 of the child).",
        "",
        "| data | events in | users | ingest s | features s | wall s | peak RSS GiB | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Targets: Online Retail under 20 s; 1M users / 20M events within 4 GiB.",
    ])
    update_section("Ingest and features", body)
    print(body)


if __name__ == "__main__":
    main()
