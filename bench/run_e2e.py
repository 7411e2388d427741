"""End to end: the whole `segmint run` (ingest -> named segments) per stage, against BERTopic.

    python -m bench.run_e2e [--sizes 20000,200000,1000000] [--repeats 3] [--embedder minilm-numpy]
                            [--also-embedder minilm] [--no-bertopic] [--no-online-retail]

Every measurement is one fresh child process (`segmint run ... --json`) launched from this light
parent (stdlib only), with an empty SEGMINT_CACHE_DIR (cold caches: no cached text vectors, no
exported models). Seconds per stage come from the run's JSON; wall seconds and peak RSS from
wait4 on the child. Online Retail runs are interleaved with BERTopic's default pipeline
(bench/bertopic_baseline.py in bench/.venv-bertopic, `make bench-bertopic`), repeat by repeat, so
both see the same machine load. Synthetic shops (`segmint synth`, ~20 events per customer) are
generated once into $SEGMINT_BENCHDATA (default /work/benchdata) and reused. The 1M workspace is
kept as bench/out/ws-ask-1000000 for `python -m bench.ask --users 1000000`.

Writes the "End to end" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import Measurement, ceiling, machine, measure, median, segmint, update_section

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
BENCHDATA = Path(os.environ.get("SEGMINT_BENCHDATA", "/work/benchdata"))
ONLINE_RETAIL = ROOT.parents[1] / "shared" / "datasets" / "online_retail" / "online_retail.csv.gz"
OR_MAP = ["--map", "user_id=CustomerID", "--map", "timestamp=InvoiceDate", "--map",
          "order_id=InvoiceNo", "--map", "product_id=StockCode", "--map", "text=Description",
          "--map", "quantity=Quantity", "--map", "price=UnitPrice", "--attr", "country=Country"]
BERTOPIC_PY = ROOT / ".venv-bertopic" / "bin" / "python"
STAGES = ("ingest", "features", "embed", "segment", "name")
# all-MiniLM-L6-v2: 6 layers, hidden 384, FFN 1536. Multiply-adds per token (x2 for FLOPs):
# QKV 3*384^2 + output 384^2 + FFN 2*384*1536 per layer; attention over ~10-token titles adds <1%.
MINILM_FLOPS_PER_TOKEN = 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def load_average() -> str:
    """The 1-minute load average now (other work on the machine while measuring)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def ours(args: list[str], ws: Path, cache: Path) -> tuple[Measurement, dict[str, Any]]:
    """One cold `segmint run` in a fresh process."""
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    m = measure(segmint("run", *args, "-w", str(ws), "--json"), env={"SEGMINT_CACHE_DIR": str(cache)})
    return m, m.output or {}


def synth_file(users: int) -> Path:
    """The synthetic shop of `users` customers, generated once."""
    path = BENCHDATA / f"synth-{users}.parquet"
    if not path.exists():
        BENCHDATA.mkdir(parents=True, exist_ok=True)
        m = measure(segmint("synth", "--users", str(users), "-o", str(path)))
        print(f"synth {users:,}: {m.wall_s:.0f}s", flush=True)
    return path


def row(name: str, runs: list[tuple[Measurement, dict[str, Any]]], loads: list[str]) -> str:
    """One results row: median stage seconds, median wall, max peak RSS."""
    doc = runs[-1][1]
    stage = {s: median([r[1]["seconds"].get(s, 0.0) for r in runs]) for s in STAGES}
    emb = doc.get("embedding") or {}
    return (f"| {name} | {doc.get('users', 0):,} | {doc.get('events_ok', 0):,} | "
            + " | ".join(f"{stage[s]:.1f}" for s in STAGES)
            + f" | **{median([r[0].wall_s for r in runs]):.1f}** | "
            f"{max(r[0].peak_rss_mib for r in runs) / 1024:.2f} | {doc.get('segments')} | "
            f"{emb.get('embedded', 0):,} | {len(runs)} | {', '.join(loads)} |")


def count_tokens(texts_from: Path, column_map: list[str]) -> tuple[int, int]:
    """Distinct texts the pipeline encodes for a file and their tokens (run in a child)."""
    code = (
        "import json, sys, duckdb\n"
        "from tokenizers import Tokenizer\n"
        "from segmint.agent.core.config import RunConfig, parse_pairs\n"
        "from segmint.agent.ingest.events import ingest\n"
        "from segmint.embeddings import build_documents\n"
        "from segmint.embeddings.encoders import packaged_model_dir\n"
        "args = json.loads(sys.argv[1])\n"
        "maps = [args['m'][i + 1] for i in range(0, len(args['m']), 2) if args['m'][i] == '--map']\n"
        "from segmint.agent.core.workspace import connect\ncon = connect(':memory:')\n"
        "ingest(con, [args['f']], RunConfig.model_validate({'map': parse_pairs(maps, '--map')}))\n"
        "texts = build_documents(con).texts\n"
        "tok = Tokenizer.from_file(str(packaged_model_dir() / 'tokenizer.json'))\n"
        "tok.enable_truncation(max_length=256)\n"
        "tok.no_padding()\n"
        "print(json.dumps([len(texts), sum(len(e.ids) for e in tok.encode_batch(texts))]))\n"
    )
    m = measure([sys.executable, "-c", code, json.dumps({"f": str(texts_from), "m": column_map})])
    texts, tokens = m.output if isinstance(m.output, list) else (0, 0)
    return int(texts), int(tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,200000,1000000")
    parser.add_argument("--repeats", type=int, default=3, help="Online Retail repeats")
    parser.add_argument("--scale-repeats", type=int, default=1, help="repeats per synthetic size")
    parser.add_argument("--embedder", default="minilm-numpy")
    parser.add_argument("--also-embedder", default="minilm",
                        help="one more Online Retail run per repeat with this embedder ('' for none)")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--no-online-retail", action="store_true")
    opts = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    scratch = Path(tempfile.mkdtemp(prefix="e2e-", dir=OUT))
    rows: list[str] = []
    notes: list[str] = []
    ratio_lines: list[str] = []
    try:
        if not opts.no_online_retail and ONLINE_RETAIL.exists():
            embedders = [opts.embedder] + ([opts.also_embedder] if opts.also_embedder else [])
            results: dict[str, list[tuple[Measurement, dict[str, Any]]]] = {e: [] for e in embedders}
            loads: dict[str, list[str]] = {e: [] for e in [*embedders, "bertopic"]}
            bertopic: list[Measurement] = []
            for rep in range(opts.repeats):
                for emb in embedders:
                    if emb != opts.embedder and rep > 0:
                        continue  # the extra embedder once: it only shows the default's cost
                    loads[emb].append(load_average())
                    m, doc = ours([str(ONLINE_RETAIL), *OR_MAP, "--currency", "£", "--embedder", emb],
                                  scratch / "ws-or", scratch / "cache")
                    results[emb].append((m, doc))
                    print(f"Online Retail ({emb}) #{rep + 1}: {m.wall_s:.1f}s, "
                          f"{m.peak_rss_mib:.0f} MiB, {doc.get('seconds')}", flush=True)
                if not opts.no_bertopic and BERTOPIC_PY.exists():
                    loads["bertopic"].append(load_average())
                    try:
                        b = measure([str(BERTOPIC_PY), str(ROOT / "bertopic_baseline.py"), "--json"],
                                    env={"HF_HOME": str(scratch / "hf")})
                    except RuntimeError as exc:
                        print(f"BERTopic failed: {exc}", flush=True)
                        continue
                    bertopic.append(b)
                    print(f"BERTopic #{rep + 1}: {b.wall_s:.1f}s, {b.peak_rss_mib:.0f} MiB, "
                          f"{b.output}", flush=True)
            for emb in embedders:
                rows.append(row(f"Online Retail, `--embedder {emb}`", results[emb], loads[emb]))
            if bertopic:
                b_doc = bertopic[-1].output or {}
                bs = b_doc.get("seconds", {})
                b_wall = median([b.wall_s for b in bertopic])
                rows.append(
                    f"| BERTopic default pipeline, Online Retail (same MiniLM) | "
                    f"{b_doc.get('customers', 0):,} | | {bs.get('documents', 0):.1f} (pandas) | | "
                    f"{median([(b.output or {}).get('seconds', {}).get('embed', 0) for b in bertopic]):.1f}"
                    f" (+{bs.get('load', 0):.1f} load) | "
                    f"{median([(b.output or {}).get('seconds', {}).get('fit', 0) for b in bertopic]):.1f} "
                    f"(UMAP, HDBSCAN, c-TF-IDF) | | **{b_wall:.1f}** | "
                    f"{max(b.peak_rss_mib for b in bertopic) / 1024:.2f} | {b_doc.get('topics')} "
                    f"({b_doc.get('outlier_share', 0) * 100:.0f}% outliers) | "
                    f"{b_doc.get('customers', 0):,} docs | "
                    f"{len(bertopic)} | {', '.join(loads['bertopic'])} |")
                for emb in embedders:
                    walls = [r[0].wall_s for r in results[emb]]
                    ratio_lines.append(f"- `--embedder {emb}`: {median(walls):.1f} s / {b_wall:.1f} s = "
                                       f"**{median(walls) / b_wall:.3f}x** BERTopic's wall time "
                                       f"(target <= 0.2x).")
            texts, tokens = count_tokens(ONLINE_RETAIL, OR_MAP)
            peak = ceiling()
            how = "numpy's fp32 matmul on this machine, measured after the runs"
            for emb in embedders:
                enc_s = median([(r[1].get("embedding") or {}).get("encode_seconds", 0) for r in results[emb]])
                if enc_s > 0 and tokens:
                    rate = tokens / enc_s
                    gflops = rate * MINILM_FLOPS_PER_TOKEN / 1e9
                    notes.append(
                        f"- `{emb}` on Online Retail: {texts:,} distinct texts, {tokens:,} tokens in "
                        f"{enc_s:.1f} s (cache lookup + encoding) = **{rate:,.0f} tokens/s** = "
                        f"{gflops:.1f} GFLOP/s at {MINILM_FLOPS_PER_TOKEN / 1e6:.1f} MFLOP/token, "
                        f"{100 * gflops / peak:.0f}% of the measured ceiling ({peak:.0f} GFLOP/s, {how}).")
        for users in [int(s) for s in opts.sizes.split(",") if s]:
            shop = synth_file(users)
            runs = []
            load_list = []
            for _ in range(opts.scale_repeats):
                ws = OUT / "ws-ask-1000000" if users == 1_000_000 else scratch / f"ws-{users}"
                load_list.append(load_average())
                m, doc = ours([str(shop), "--users", f"{shop}.users.csv", "--embedder", opts.embedder],
                              ws, scratch / "cache")
                runs.append((m, doc))
                print(f"synthetic {users:,}: {m.wall_s:.1f}s, {m.peak_rss_mib:.0f} MiB, "
                      f"{doc.get('seconds')}", flush=True)
            rows.append(row(f"synthetic {users:,} customers, `--embedder {opts.embedder}`", runs, load_list))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    body = "\n".join([
        f"`python -m bench.run_e2e` started {started:%Y-%m-%d %H:%M} UTC: {machine()}.",
        "Each run is a fresh `segmint run --json` process with an empty SEGMINT_CACHE_DIR (cold: no",
        "cached text vectors, no exported models); stage seconds are the run's own, medians over the",
        "runs; wall is the child's wall time (median), peak RSS the largest (wait4 of the child).",
        "BERTopic runs in its own venv (`make bench-bertopic`), interleaved with ours repeat by repeat;",
        "its row puts document building under ingest, embedding under embed and the topic model",
        "under segment. 'load' is the 1-minute load average when each run started (the 2 cores were",
        "shared with other work).",
        "",
        "| run | customers | events | ingest s | features s | embed s | segment s | name s | wall s | "
        "peak RSS GiB | segments | texts encoded | runs | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
        *rows,
        "",
        *ratio_lines,
        *notes,
    ])
    update_section("End to end", body)
    print(body)


if __name__ == "__main__":
    main()
