"""Embedding-stage benchmark on UCI Online Retail.

Measures: distinct texts embedded, first run vs cached re-run, each backend's throughput
(texts/s, tokens/s) and agreement with ``minilm`` (cosine of the same texts), lookalike quality
per backend, and pooled unique-text embedding vs one concatenated document per customer (what
BERTopic does, truncated at 256 tokens).

Run:  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python bench/embeddings.py [--write]
``--write`` replaces the "## Embeddings" section of bench/RESULTS.md with the tables printed.
Ratios are measured within one run (the machine is shared; absolute seconds vary).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from segmint.agent.core.schema import EVENTS_DDL
from segmint.embeddings import (
    UserIndex,
    build_documents,
    embed_customers,
    make_encoder,
    pool_users,
)
from segmint.embeddings.encoders import packaged_model_dir

DATASET = Path(__file__).resolve().parents[1].parent / "shared/datasets/online_retail/online_retail.csv.gz"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# The first is the reference every cosine is taken against (sentence-transformers itself).
BACKENDS = ("minilm-st", "minilm", "minilm-onnx-int8", "minilm-static")

LOAD_SQL = """
INSERT INTO events
SELECT CAST(CAST(CustomerID AS BIGINT) AS VARCHAR), InvoiceDate,
       CASE WHEN Quantity < 0 THEN 'return' ELSE 'purchase' END,
       Description, StockCode, InvoiceNo, NULL, Quantity, UnitPrice, Quantity * UnitPrice,
       'online_retail.csv.gz', NULL
FROM read_csv(?, header = true)
WHERE CustomerID IS NOT NULL AND InvoiceDate IS NOT NULL
"""


def load_events(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with Online Retail as the ``events`` table."""
    con = duckdb.connect()
    con.execute(EVENTS_DDL.format(attr_columns=""))
    con.execute(LOAD_SQL, [str(path)])
    return con


def token_counts(texts: list[str]) -> np.ndarray:
    """Tokens per text as the model sees them (special tokens in, truncated at 256)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(packaged_model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length=256)
    tok.no_padding()
    return np.array([len(e.ids) for e in tok.encode_batch(texts)])


def lookalike_ratio(
    con: duckdb.DuckDBPyConnection, user_ids: list[str], vectors: np.ndarray, n: int = 400
) -> float:
    """Mean products shared with the 10 nearest customers / with 10 random customers."""
    rows = con.execute(
        "SELECT DISTINCT user_id, product_id FROM events WHERE event_type = 'purchase'"
    ).fetchall()
    products: dict[str, set[str]] = {}
    for u, p in rows:
        products.setdefault(u, set()).add(p)
    index = UserIndex.build(user_ids, vectors, kind="flat")
    rng = np.random.default_rng(0)
    pool = [u for u in index.user_ids if products.get(u)]
    sample = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    near: list[int] = []
    rand: list[int] = []
    for i in sample:
        u = pool[int(i)]
        mine = products[u]
        near.extend(len(mine & products.get(v, set())) for v, _ in index.similar(u, 10))
        others = rng.choice(len(pool), size=10, replace=False)
        rand.extend(len(mine & products[pool[int(j)]]) for j in others if pool[int(j)] != u)
    return float(np.mean(near)) / max(float(np.mean(rand)), 1e-9)


def concatenated_documents(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """One document per customer: all their lines' descriptions in time order (BERTopic-style)."""
    rows = con.execute(
        "SELECT user_id, string_agg(coalesce(text, ''), ' ' ORDER BY ts, source_row) "
        "FROM events GROUP BY user_id ORDER BY user_id"
    ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def run(concat_limit: int | None, rounds: int = 3) -> dict[str, Any]:
    """Run every measurement; returns a JSON-able dict."""
    res: dict[str, Any] = {}
    t = time.perf_counter()
    con = load_events(DATASET)
    res["load_s"] = time.perf_counter() - t
    res["events"] = con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]

    t = time.perf_counter()
    docs = build_documents(con)
    res["documents_s"] = time.perf_counter() - t
    res["customers"] = docs.n_users
    res["customers_without_text"] = int((~docs.has_text).sum())
    res["distinct_texts"] = len(docs.texts)
    texts = docs.texts
    tokens = token_counts(texts)
    res["distinct_tokens"] = int(tokens.sum())

    with tempfile.TemporaryDirectory() as cache_root:
        os.environ["SEGMINT_CACHE_DIR"] = cache_root
        # First run: cold vector cache, model not loaded yet (its load is part of the stage).
        first = embed_customers(con, make_encoder("minilm"))
        rerun = embed_customers(con, make_encoder("minilm"))
        res["first_run"] = {"embed_s": first.stats.seconds, "embedded": first.stats.embedded}
        res["rerun"] = {"embed_s": rerun.stats.seconds, "embedded": rerun.stats.embedded}
        res["rerun_identical"] = bool(np.array_equal(first.vectors, rerun.vectors))

    # Backends start from an empty model cache, so "setup" includes the one-off ONNX export or
    # static distillation; throughput is measured after it, on the distinct texts.
    backends: dict[str, Any] = {}
    reference: np.ndarray | None = None
    models_root = tempfile.TemporaryDirectory()
    os.environ["SEGMINT_CACHE_DIR"] = models_root.name
    encoders = {}
    for spec in BACKENDS:
        enc = make_encoder(spec)
        t = time.perf_counter()
        enc.encode(["warm up"])
        setup_s = time.perf_counter() - t
        encoders[spec] = enc
        vecs = enc.encode(texts)
        if reference is None:
            reference = vecs
        cos = np.sum(vecs * reference, axis=1)
        users = pool_users(docs.weights, vecs)
        backends[spec] = {
            "setup_s": setup_s,
            "mean_cos": float(cos.mean()),
            "p01_cos": float(np.quantile(cos, 0.01)),
            "user_mean_cos": float(
                np.sum(users * pool_users(docs.weights, reference), axis=1)[docs.has_text].mean()
            ),
            "lookalike_ratio": lookalike_ratio(con, docs.user_ids, users),
        }
    # Throughput: backends take turns, several rounds, median; other work on the machine then
    # hits all of them alike instead of whichever happened to run during a busy minute.
    _, concat_docs = concatenated_documents(con)
    long_docs = [d for d in concat_docs if len(d) > 2000][:200]
    long_tokens = float(token_counts(long_docs).sum())
    timings: dict[str, dict[str, list[float]]] = {s: {"short": [], "long": []} for s in BACKENDS}
    for _round in range(rounds):
        for spec, enc in encoders.items():
            for kind, batch in (("short", texts), ("long", long_docs)):
                t = time.perf_counter()
                enc.encode(batch)
                timings[spec][kind].append(time.perf_counter() - t)
    for spec in BACKENDS:
        short_s = float(np.median(timings[spec]["short"]))
        long_s = float(np.median(timings[spec]["long"]))
        backends[spec] |= {
            "encode_s": short_s,
            "texts_per_s": len(texts) / short_s,
            "tokens_per_s": float(tokens.sum()) / short_s,
            "long_tokens_per_s": long_tokens / long_s,
        }
        print(spec, json.dumps(backends[spec]), file=sys.stderr, flush=True)
    res["long_docs"] = {"n": len(long_docs), "tokens": long_tokens}
    res["backends"] = backends
    os.environ.pop("SEGMINT_CACHE_DIR", None)
    models_root.cleanup()

    # Pooled unique texts vs one truncated document per customer, same model, no cache.
    enc = make_encoder("minilm")
    enc.encode(["warm up"])
    t = time.perf_counter()
    d2 = build_documents(con)
    v2 = enc.encode(d2.texts)
    pooled_vectors = pool_users(d2.weights, v2)
    pooled_s = time.perf_counter() - t
    user_ids, documents = concatenated_documents(con)
    if concat_limit:
        user_ids, documents = user_ids[:concat_limit], documents[:concat_limit]
    t = time.perf_counter()
    concat_vectors = enc.encode(documents)
    concat_s = time.perf_counter() - t
    scale = docs.n_users / len(documents)
    doc_tokens = token_counts(documents)
    res["concat"] = {
        "customers_encoded": len(documents),
        "concat_s": concat_s,
        "concat_s_all_customers": concat_s * scale,
        "concat_tokens_per_s": float(doc_tokens.sum()) / concat_s,
        "docs_truncated_share": float(np.mean(doc_tokens >= 256)),
        "pooled_s": pooled_s,
        "ratio": concat_s * scale / pooled_s,
        "lookalike_ratio_concat": lookalike_ratio(con, user_ids, concat_vectors)
        if not concat_limit
        else None,
        "lookalike_ratio_pooled": lookalike_ratio(con, docs.user_ids, pooled_vectors),
    }
    return res


def cache_scale(n: int, dim: int = 384) -> dict[str, float]:
    """Put n vectors into a fresh cache (in shards, as a run would), then look all of them up."""
    from segmint.embeddings import VectorCache
    from segmint.embeddings.cache import WRITE_EVERY, text_keys

    texts = [f"synthetic product title number {i}" for i in range(n)]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        keys = text_keys(texts)
        hash_s = time.perf_counter() - t
        cache = VectorCache("bench:cache", dim, Path(root))
        t = time.perf_counter()
        for s in range(0, n, WRITE_EVERY * 4):
            part = slice(s, s + WRITE_EVERY * 4)
            cache.put(keys[part], rng.standard_normal((len(keys[part]), dim), dtype=np.float32))
        put_s = time.perf_counter() - t
        fresh = VectorCache("bench:cache", dim, Path(root))
        t = time.perf_counter()
        found, _ = fresh.lookup(keys[rng.permutation(n)])
        lookup_s = time.perf_counter() - t
        assert found.all()
    return {"n": n, "hash_s": hash_s, "put_s": put_s, "lookup_s": lookup_s}


def tables(res: dict[str, Any]) -> str:
    """The results as markdown."""
    b = res["backends"]
    base = b["minilm"]["texts_per_s"]
    lines = [
        f"Online Retail: {res['events']:,} event rows, {res['customers']:,} customers "
        f"({res['customers_without_text']} without text), {res['distinct_texts']:,} distinct texts "
        f"({res['distinct_tokens']:,} tokens). Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, shared with other work while measured; ratios are from one run.",
        "",
        "| stage | seconds | texts embedded |",
        "|---|---:|---:|",
        f"| customer documents (DuckDB) | {res['documents_s']:.2f} | |",
        f"| first run, cold cache (`minilm`, model load included) | {res['first_run']['embed_s']:.1f} "
        f"| {res['first_run']['embedded']:,} |",
        f"| re-run, same catalogue (cache hits, model never loaded) | {res['rerun']['embed_s']:.2f} "
        f"| {res['rerun']['embedded']:,} |",
        f"| re-run / first run | {res['rerun']['embed_s'] / res['first_run']['embed_s']:.5f} | |",
        "",
        f"Backends on the {res['distinct_texts']:,} distinct texts (short titles) and on "
        f"{res['long_docs']['n']} long customer documents ({res['long_docs']['tokens']:,.0f} tokens, "
        "256-token inputs); median of rounds taken in turn. Setup = one-off ONNX export + "
        "quantization or static distillation (then cached), plus loading.",
        "",
        "| backend | setup s | texts/s | tokens/s (titles) | tokens/s (long) | speed vs minilm "
        "| mean cos vs minilm | 1st pct cos | customer-vector cos | lookalike ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for spec, m in b.items():
        lines.append(
            f"| `{spec}` | {m['setup_s']:.1f} | {m['texts_per_s']:,.0f} | {m['tokens_per_s']:,.0f} "
            f"| {m['long_tokens_per_s']:,.0f} | {m['texts_per_s'] / base:.2f}x "
            f"| {m['mean_cos']:.4f} | {m['p01_cos']:.4f} "
            f"| {m['user_mean_cos']:.4f} | {m['lookalike_ratio']:.1f} |"
        )
    c = res["concat"]
    concat_quality = (
        f"{c['lookalike_ratio_concat']:.1f}" if c["lookalike_ratio_concat"] is not None else "n/a"
    )
    lines += [
        "",
        "Lookalike ratio: products a customer shares with its 10 nearest customers / with 10 random "
        "customers (400 customers sampled).",
        "",
        "| approach (same `minilm` model) | seconds | lookalike ratio |",
        "|---|---:|---:|",
        f"| pooled unique texts (documents + encode distinct texts + pooling) | {c['pooled_s']:.1f} "
        f"| {c['lookalike_ratio_pooled']:.1f} |",
        f"| one concatenated document per customer, truncated at 256 tokens "
        f"({c['customers_encoded']:,} encoded, {c['docs_truncated_share']:.0%} hit the limit, "
        f"{c['concat_tokens_per_s']:,.0f} tokens/s) | {c['concat_s_all_customers']:.1f} "
        f"| {concat_quality} |",
        f"| concatenated / pooled | {c['ratio']:.1f}x | |",
    ]
    q, m = b["minilm-onnx-int8"], b["minilm"]
    speed = q["texts_per_s"] / m["texts_per_s"]
    long_speed = q["long_tokens_per_s"] / m["long_tokens_per_s"]
    # The bar applies to what the pipeline encodes: distinct titles and queries (short texts).
    meets = speed >= 2 and q["mean_cos"] >= 0.98
    lines += [
        "",
        f"Default: `minilm-onnx-int8` runs {speed:.1f}x `minilm` on the distinct titles (what the "
        f"pipeline encodes) with mean cosine {q['mean_cos']:.3f} (bar: >= 2x and >= 0.98: "
        f"{'met' if meets else 'not met'}); on long 256-token documents the gain is only "
        f"{long_speed:.1f}x. "
        + (
            "The default stays exact: `minilm` runs the fastest backend reproducing "
            "sentence-transformers (bench/RESULTS.md \"Long tail: encoder backends\"). "
            if meets
            else "`minilm` stays the default. "
        )
        + "`minilm-static` agrees poorly with the full model text by text, yet its lookalikes "
        "are as good on this catalogue (product titles overlap lexically); use it for very "
        "large catalogues where encoding time dominates.",
    ]
    if "cache" in res:
        k = res["cache"]
        lines += [
            "",
            f"Vector cache at scale ({k['n']:,} random 384-d vectors, fresh process view): "
            f"hashing {k['hash_s']:.1f} s, writing {k['put_s']:.1f} s, looking all up in random "
            f"order {k['lookup_s']:.1f} s.",
        ]
    return "\n".join(lines)


def write_section(markdown: str) -> None:
    """Replace (or add) the "## Embeddings" section of RESULTS.md, leaving others alone."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = f"## Embeddings\n\n_Regenerate: `python bench/embeddings.py --write`_\n\n{markdown}\n"
    pattern = re.compile(r"^## Embeddings\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument(
        "--concat-limit", type=int, default=None,
        help="encode only this many concatenated documents (time is scaled to all customers)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per backend")
    parser.add_argument("--json", type=Path, default=None, help="also dump raw numbers here")
    parser.add_argument("--cache-n", type=int, default=1_000_000, help="vector cache scale test")
    parser.add_argument("--cache-only", action="store_true", help="only the cache scale test")
    args = parser.parse_args()
    if args.cache_only:
        print(json.dumps(cache_scale(args.cache_n)))
        return 0
    if not DATASET.exists():
        print(f"dataset not found: {DATASET}", file=sys.stderr)
        return 2
    res = run(args.concat_limit, args.rounds)
    if args.cache_n:
        res["cache"] = cache_scale(args.cache_n)
    markdown = tables(res)
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if args.write:
        write_section(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
