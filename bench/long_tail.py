"""Long tail: the embed stage on shops with real-catalogue text counts, against the machine's ceiling.

    python -m bench.long_tail [--sizes 20000,200000] [--embedder minilm] [--strategies]
                              [--also 200000=minilm+static-queries] [--write]
                              [--strategies minilm-onnx-int8] [--sizes ''] [--json FILE]

- Ceiling: numpy's own fp32 matrix multiply (2048^3, the product's BLAS, all threads), best of
  several bursts in a fresh child process, measured right before and right after each run; the
  share of peak is taken against the higher of the two.
- Sizes: `segmint synth --catalogue long-tail` (generated once into $SEGMINT_BENCHDATA), then one
  cold `segmint run --json` (empty SEGMINT_CACHE_DIR) in a fresh child (wall, peak RSS by wait4,
  stage seconds from the run), then `segmint evaluate --labels` (planted interests; the 'mixed'
  wanderers count as one more group). Tokens are those of the distinct texts the stage turns into
  vectors (the packaged tokenizer, special tokens in, 256 at most). The stage's tokens/s is over
  the whole embed stage: documents query, encoding, pooling and the lookalike index.
- Strategies (`--strategies`): the long-tail ways of `segmint.embeddings.tail`, each against the
  full model on the 20k long-tail shop and on amazon_user_histories (ARI of the default segments).

Writes the "Long tail" section of bench/RESULTS.md with `--write`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import ceiling, machine, measure, segmint, update_section
from bench.run_e2e import BENCHDATA, MINILM_FLOPS_PER_TOKEN, OUT, load_average

AMAZON = (Path(__file__).resolve().parents[2] / "shared" / "datasets" / "amazon_user_histories"
          / "amazon_reviews_2023_user_histories.csv.gz")
TEXTS_CODE = """
import json, sys, numpy as np
from tokenizers import Tokenizer
from segmint.agent.core.config import RunConfig
from segmint.agent.core.workspace import connect
from segmint.agent.ingest.events import ingest
from segmint.embeddings import build_documents
from segmint.embeddings.encoders import packaged_model_dir
from segmint.embeddings.tail import customers_per_text
con = connect(':memory:')
ingest(con, [sys.argv[1]], RunConfig())
docs = build_documents(con)
tok = Tokenizer.from_file(str(packaged_model_dir() / 'tokenizer.json'))
tok.enable_truncation(max_length=256); tok.no_padding()
counts = customers_per_text(docs.weights)
lengths = np.array([len(e.ids) for e in tok.encode_batch(docs.texts)])
print(json.dumps({'texts': len(docs.texts), 'tokens': int(lengths.sum()),
                  'one_customer': int((counts == 1).sum()),
                  'one_customer_tokens': int(lengths[counts == 1].sum())}))
"""


def long_tail_shop(users: int) -> Path:
    """The long-tail sample shop of `users` customers, generated once."""
    path = BENCHDATA / f"longtail-{users}.parquet"
    if not path.exists():
        BENCHDATA.mkdir(parents=True, exist_ok=True)
        m = measure(segmint("synth", "--users", str(users), "--catalogue", "long-tail", "-o", str(path)))
        print(f"synth long-tail {users:,}: {m.wall_s:.0f}s", flush=True)
    return path


def one_size(users: int, spec: str, scratch: Path) -> dict[str, Any]:
    """Generate, count, run cold, evaluate: one row's facts."""
    shop = long_tail_shop(users)
    texts = measure([sys.executable, "-c", TEXTS_CODE, str(shop)]).output or {}
    ws, cache = scratch / f"ws-{users}", scratch / f"cache-{users}"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    before, load = ceiling(), load_average()
    m = measure(segmint("run", str(shop), "--users", f"{shop}.users.csv", "--embedder", spec,
                        "-w", str(ws), "--json"), env={"SEGMINT_CACHE_DIR": str(cache)})
    after = ceiling()
    ev = measure(segmint("evaluate", "--labels", f"{shop}.labels.csv", "-w", str(ws), "--json"))
    doc = m.output or {}
    shutil.rmtree(ws, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    out = {"users": users, "spec": spec, "events": doc.get("events_ok"), "wall_s": m.wall_s,
           "rss_gib": m.peak_rss_mib / 1024, "seconds": doc.get("seconds"),
           "embedding": doc.get("embedding"), "segments": doc.get("segments"),
           "ari": (ev.output or {}).get("ari"), "ceiling": [before, after], "load": load, **texts}
    print(json.dumps(out), flush=True)
    return out


def size_row(r: dict[str, Any]) -> str:
    """One markdown row of the sizes table."""
    stage = r["seconds"].get("embed", 0.0)
    parts = r["embedding"].get("seconds", {})
    rate = r["tokens"] / stage if stage else 0.0
    gflops = rate * MINILM_FLOPS_PER_TOKEN / 1e9
    peak = max(r["ceiling"])
    # The parts and the static count are in `segmint run --json` only where the run reports them.
    split = " (" + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) + ")" if parts else ""
    static = r["embedding"].get("static")
    return (f"| {r['users']:,} | `{r['spec']}` | {r['events']:,} | {r['wall_s']:.0f} | {stage:.0f}"
            f"{split} | {r['rss_gib']:.2f} | {r['texts']:,} ({r['one_customer'] / r['texts']:.0%} "
            f"one customer) | {'—' if static is None else f'{static:,}'} | {r['tokens']:,} | {rate:,.0f} | "
            f"{gflops:.0f} / {peak:.0f} = **{gflops / peak:.0%}** | {r['ari']:.3f} | {r['load']} |")


def strategies(specs: list[str]) -> list[dict[str, Any]]:
    """Each long-tail way against the full model, in this process (ARI of default segments).

    The ways share one vector cache: a text any earlier way encoded is not encoded again, so the
    seconds show what each way adds, not a cold run.
    """
    import os

    import duckdb
    import numpy as np

    from segmint.agent.core.config import RunConfig
    from segmint.agent.core.workspace import connect
    from segmint.agent.ingest.events import ingest
    from segmint.agent.segment.build import build_segments
    from segmint.agent.segment.evaluate import agreement
    from segmint.embeddings import TailPolicy, embed_customers, make_encoder

    shop = long_tail_shop(20_000)
    shop_con = connect(":memory:")
    ingest(shop_con, [shop], RunConfig())
    labels = dict(shop_con.execute(f"SELECT user_id, label FROM read_csv('{shop}.labels.csv', "
                                   "all_varchar = true)").fetchall())
    cases: list[tuple[str, Any, Any]] = [("long-tail shop 20,000", shop_con, labels.get)]
    if AMAZON.exists():
        amazon = duckdb.connect()
        amazon.execute(f"""CREATE TABLE events AS SELECT user_id || '|' || category AS user_id,
            CAST(timestamp AS TIMESTAMP) AS ts, 'purchase' AS event_type, product_title AS text
            FROM read_csv('{AMAZON}')""")
        cases.append(("amazon_user_histories", amazon, lambda u: u.split("|", 1)[1]))
    ways = {"full model": TailPolicy(), "normalise near-duplicates": TailPolicy(normalise=True),
            "static model for one-customer texts": TailPolicy(static_below=2, min_static=0),
            "static model for search-only texts": TailPolicy(static_queries=True, min_static=0)}
    rows = []
    os.environ["SEGMINT_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-tail-")
    for spec in specs:
        enc = make_encoder(spec)
        for case, con, truth in cases:
            for way, policy in ways.items():
                t = time.perf_counter()
                cv = embed_customers(con, enc, tail=policy)
                embed_s = time.perf_counter() - t
                seg = build_segments(cv.vectors, cv.has_text, np.zeros((len(cv.user_ids), 4)))
                ari = agreement(np.array([truth(u) for u in cv.user_ids]), seg.labels)["ari"]
                rows.append({"spec": spec, "case": case, "way": way, "embed_s": embed_s,
                             "texts": len(cv.documents.texts), "static": cv.stats.static,
                             "ari": ari, "segments": seg.n_segments})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def strategy_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows with each way's ARI change against the full model of the same case."""
    base = {(r["spec"], r["case"]): r["ari"] for r in rows if r["way"] == "full model"}
    out = ["| embedder | data | way | texts (static) | embed s (shared cache) | segments | ARI | vs full |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        delta = r["ari"] - base[(r["spec"], r["case"])]
        out.append(f"| `{r['spec']}` | {r['case']} | {r['way']} | {r['texts']:,} ({r['static']:,}) | "
                   f"{r['embed_s']:.1f} | {r['segments']} | {r['ari']:.3f} | {delta:+.3f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,200000")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--also", action="append", default=[],
                        help="SIZE=SPEC: one more run of that size with that embedder")
    parser.add_argument("--strategies", default="",
                        help="comma-separated embedders to measure the long-tail ways with")
    parser.add_argument("--json", type=Path, help="append raw results (one JSON per line)")
    parser.add_argument("--from-json", type=Path, help="write the section from saved results")
    parser.add_argument("--write", action="store_true")
    opts = parser.parse_args()
    results: list[dict[str, Any]] = []
    if opts.from_json:
        results = [json.loads(line) for line in opts.from_json.read_text().splitlines() if line]
    else:
        OUT.mkdir(exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="longtail-", dir=OUT))
        runs = [(int(s), opts.embedder) for s in opts.sizes.split(",") if s]
        runs += [(int(a.split("=", 1)[0]), a.split("=", 1)[1]) for a in opts.also]
        try:
            for users, spec in runs:
                results.append({"kind": "size", **one_size(users, spec, scratch)})
                if opts.json:
                    with opts.json.open("a") as f:
                        f.write(json.dumps(results[-1]) + "\n")
            if opts.strategies:
                for r in strategies([x for x in opts.strategies.split(",") if x]):
                    results.append({"kind": "strategy", **r})
                    if opts.json:
                        with opts.json.open("a") as f:
                            f.write(json.dumps(results[-1]) + "\n")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    body = section(results)
    print(body)
    if opts.write:
        update_section("Long tail", body)


def section(results: list[dict[str, Any]]) -> str:
    """The markdown of the sizes and strategies measured."""
    sizes = [r for r in results if r["kind"] == "size"]
    ways = [r for r in results if r["kind"] == "strategy"]
    lines = [f"`python -m bench.long_tail` on {datetime.now(UTC):%Y-%m-%d}: {machine()}.", ""]
    if sizes:
        lines += [
            "Sample shop with `--catalogue long-tail` (0.3 products per customer, Zipf sales, typed "
            "queries). One cold `segmint run` per row; embed = the whole stage (documents query, "
            "encoding incl. cache, pooling, lookalike index). GFLOP/s = tokens/s x "
            f"{MINILM_FLOPS_PER_TOKEN / 1e6:.1f} MFLOP/token (the fp32 transformer's cost of every "
            "token turned into a vector, static ones included); ceiling = numpy fp32 matmul "
            "measured just before and after the run (the higher one).",
            "",
            "| customers | embedder | events | wall s | embed s (parts) | peak RSS GiB | distinct texts "
            "| static | tokens | tokens/s | GFLOP/s / ceiling | ARI planted | load |",
            "|---:|---|---:|---:|---|---:|---|---:|---:|---:|---|---:|---|",
            *[size_row(r) for r in sizes],
            "",
        ]
    if ways:
        lines += ["Long-tail ways (`segmint.embeddings.tail`), each against the full model, default "
                  "segments (ARI; 'mixed' as one group on the shop, category on Amazon). Kept only "
                  "if the shop's ARI is within 0.02 of the full model's and Amazon's stays >= 0.77.",
                  "", *strategy_table(ways), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
