"""Segments: recovery of known groups, noise, stability, and cost from 20k to 1M customers.

    python -m bench.segments [--sizes 20000,200000,1000000] [--no-real] [--no-scale]

Writes the "Segments" section of bench/RESULTS.md. Targets (issue 4): amazon_user_histories
ARI >= 0.75 with noise <= 10% without being told k; the sample shop's planted personas ARI >= 0.90;
Online Retail 5-40 segments with noise <= 10%; two seeds ARI >= 0.90; cost close to linear.

Scaling runs each size in a fresh process (wall time and peak RSS from wait4) on synthetic 384-d
vectors shaped like the sample shop's: 20 personas sharing a common direction (as sentence vectors
do), each customer a mix of one main and two related personas, 5% who wander everywhere.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import load_online_retail_events, machine, measure, update_section

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
AMAZON = DATASETS / "amazon_user_histories" / "amazon_reviews_2023_user_histories.csv.gz"
DIM = 384


def mixture(n: int, seed: int = 0, personas: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Unit float32 vectors (n x 384) and planted main personas (-1 = wanders everywhere).

    Each customer's interests are a Dirichlet mix dominated by one persona with two related ones
    mixed in; personas share a common direction, as sentence vectors do. The overlap is tuned so
    the spectral gap is small (about 0.13) and the default HDBSCAN path runs, as on real shops.
    """
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(DIM)
    common /= np.linalg.norm(common)
    own = rng.standard_normal((personas, DIM))
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    centres = 0.6 * common + 0.8 * own
    related = (np.arange(personas)[:, None] + np.array([1, 2])[None, :]) % personas
    X = np.empty((n, DIM), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    # Small float32 chunks keep the generator's own memory out of the measured peak.
    for lo in range(0, n, 20_000):
        m = min(n, lo + 20_000) - lo
        lab = rng.integers(0, personas, m)
        alpha = np.full((m, personas), 0.05)
        alpha[np.arange(m), lab] += 6.0
        alpha[np.arange(m)[:, None], related[lab]] += 1.5
        wander = rng.random(m) < 0.05
        alpha[wander] = 0.5
        lab[wander] = -1
        w = rng.gamma(alpha)
        w /= w.sum(axis=1, keepdims=True)
        v = (w @ centres).astype(np.float32)
        v += (2.0 / np.sqrt(DIM)) * rng.standard_normal((m, DIM), dtype=np.float32)
        X[lo:lo + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
        labels[lo:lo + m] = lab
    return X, labels


def child(n: int, seeds: list[int]) -> dict[str, Any]:
    """One scaling case, run inside a fresh process; prints its facts as JSON."""
    from sklearn.metrics import adjusted_rand_score

    from segmint.agent.segment.build import build_segments

    t0 = time.perf_counter()
    X, y = mixture(n)
    gen = time.perf_counter() - t0
    out: dict[str, Any] = {"n": n, "generate_s": round(gen, 2), "vectors_mib": round(X.nbytes / 2**20),
                           "rss_before_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    runs = []
    for seed in seeds:
        t = time.perf_counter()
        r = build_segments(X, np.ones(n, bool), np.zeros((n, 4)), seed=seed)
        runs.append(r.labels)
        planted = y >= 0
        out.setdefault("runs", []).append({
            "seed": seed, "seconds": round(time.perf_counter() - t, 2), "phases": r.seconds,
            "segments": r.n_segments, "noise_share": round(r.noise_share, 4),
            "ari_planted": round(float(adjusted_rand_score(y[planted], r.labels[planted])), 4),
            "sample": r.fit["interest"]["sample"]})
    if len(runs) > 1:
        out["seed_ari"] = round(float(adjusted_rand_score(runs[0], runs[1])), 4)
        both = (runs[0] > 0) & (runs[1] > 0)
        out["seed_ari_assigned"] = round(float(adjusted_rand_score(runs[0][both], runs[1][both])), 4)
    return out


def scaling(sizes: list[int]) -> list[str]:
    rows = []
    for n in sizes:
        seeds = "0,1" if n <= 200_000 else "0"
        m = measure([sys.executable, "-m", "bench.segments", "--child", str(n), "--seeds", seeds])
        doc = m.output or {}
        first = doc["runs"][0]
        phases = first["phases"]
        print(f"{n:,}: {first['seconds']}s segment step, {m.peak_rss_mib:.0f} MiB peak", flush=True)
        rows.append(
            f"| {n:,} | {first['sample']:,} | {phases.get('fit_interest', 0):.1f} | "
            f"{phases.get('assign_interest', 0):.1f} | {phases.get('quality_interest', 0):.1f} | "
            f"{first['seconds']:.1f} | {m.peak_rss_mib / 1024:.2f} | {doc['rss_before_mib'] / 1024:.2f} | "
            f"{first['segments']} | {first['noise_share']:.3f} | {first['ari_planted']:.3f} | "
            f"{doc.get('seed_ari', '—')} | {doc.get('seed_ari_assigned', '—')} |")
    return rows


def _embed(con: Any, **config: Any) -> Any:
    from segmint.embeddings import embed_customers
    from segmint.embeddings.documents import DocumentConfig

    return embed_customers(con, "minilm", config=DocumentConfig(**config))


def real_cases() -> list[tuple[str, Any, np.ndarray | None, np.ndarray]]:
    """(name, customer vectors, known labels or None, behaviour matrix) for each dataset here."""
    import duckdb

    from segmint.data.synth import generate

    cases: list[tuple[str, Any, np.ndarray | None, np.ndarray]] = []
    if AMAZON.exists():
        con = duckdb.connect()
        con.execute(f"""CREATE TABLE events AS SELECT user_id || '|' || category AS user_id,
            CAST(timestamp AS TIMESTAMP) AS ts, 'purchase' AS event_type, product_title AS text
            FROM read_csv('{AMAZON}')""")
        for label, cfg in (("default documents (no recency decay)", {}),
                           ("180-day recency half-life", {"half_life_days": 180.0})):
            cv = _embed(con, **cfg)
            truth = np.array([u.split("|", 1)[1] for u in cv.user_ids])
            cases.append((f"amazon_user_histories, {label}", cv, truth,
                          np.zeros((len(truth), 4))))
    out = Path(__file__).resolve().parent / "out" / "segments-shop-5000.parquet"
    out.parent.mkdir(exist_ok=True)
    res = generate(5000, out, seed=0)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE events AS SELECT user_id, timestamp AS ts, event_type, text FROM '{out}'")
    cv = _embed(con)
    labels = dict(con.execute(f"SELECT user_id, label FROM read_csv('{res.labels_path}', "
                              "all_varchar = true)").fetchall())
    cases.append(("sample shop 5,000 (personas; 'mixed' left out of ARI)", cv,
                  np.array([labels[u] for u in cv.user_ids]), np.zeros((5000, 4))))
    if ONLINE_RETAIL.exists():
        con = duckdb.connect()
        load_online_retail_events(con, ONLINE_RETAIL)
        cv = _embed(con)
        cases.append(("Online Retail (4,372 customers)", cv, None, np.zeros((len(cv.user_ids), 4))))
    return cases


def umap_reducer() -> tuple[Any, float] | None:
    """A UMAP reducer (5-d, cosine) if umap-learn is importable, and its import seconds."""
    t = time.perf_counter()
    try:
        import umap
    except ImportError:
        return None
    spent = time.perf_counter() - t

    class UMAPReducer:
        def __init__(self) -> None:
            self.model = umap.UMAP(n_components=5, n_neighbors=15, min_dist=0.0,
                                   metric="cosine", random_state=0)

        def fit(self, X: np.ndarray) -> UMAPReducer:
            self.model.fit(X)
            return self

        def transform(self, X: np.ndarray) -> np.ndarray:
            return self.model.transform(X)

        def fit_transform(self, X: np.ndarray) -> np.ndarray:
            return self.model.fit_transform(X)

    return UMAPReducer(), spent


def quality(cases: list[tuple[str, Any, np.ndarray | None, np.ndarray]]) -> tuple[list[str], list[str]]:
    from segmint.agent.segment.assign import holdout_report
    from segmint.agent.segment.build import SegmentParams, build_segments
    from segmint.agent.segment.evaluate import agreement

    rows, reducer_rows = [], []
    umap_found = umap_reducer()
    for name, cv, truth, beh in cases:
        t = time.perf_counter()
        r = build_segments(cv.vectors, cv.has_text, beh)
        secs = time.perf_counter() - t
        other = build_segments(cv.vectors, cv.has_text, beh, seed=1)
        seed_ari = agreement(r.labels.astype(str), other.labels)["ari"]
        # Below fit_sample the seed changes nothing; fitting on 70% samples shows what it would.
        part = SegmentParams(fit_sample=max(50, int(0.7 * len(r.labels))))
        sub = [build_segments(cv.vectors, cv.has_text, beh, seed=s, params=part).labels
               for s in (0, 1)]
        sub_ari = agreement(sub[0].astype(str), sub[1])["ari"]
        hold = holdout_report(r.model, cv.vectors, cv.has_text, beh, r.labels)
        q = r.quality.get("interest", {})
        scores = _scores(truth, r.labels)
        interest = sum(1 for s in r.segments if s.kind == "interest")
        rows.append(f"| {name} | {len(r.labels):,} | {interest} | {r.noise_share:.3f} | "
                    f"{scores.get('ari', '—')} | {scores.get('nmi', '—')} | {q.get('silhouette')} | "
                    f"{q.get('dbcv')} | {seed_ari} | {sub_ari} | {hold['accuracy']} | "
                    f"{hold['macro_recall']} | "
                    f"{secs:.1f} |")
        print(rows[-1], flush=True)
        variants: list[tuple[str, Any]] = [("spectral (default)", "spectral"),
                                          ("PCA 10-d", "pca"), ("none (384-d)", "none")]
        if umap_found is not None:
            variants.append((f"UMAP 5-d (import {umap_found[1]:.0f} s)", umap_found[0]))
        for label, red in variants:
            t = time.perf_counter()
            v = build_segments(cv.vectors, cv.has_text, beh, params=SegmentParams(reducer=red))
            secs = time.perf_counter() - t
            sc = _scores(truth, v.labels)
            n_int = sum(1 for s in v.segments if s.kind == "interest")
            reducer_rows.append(f"| {name} | {label} | {n_int} | {v.noise_share:.3f} | "
                                f"{sc.get('ari', '—')} | {secs:.1f} |")
            print(reducer_rows[-1], flush=True)
    return rows, reducer_rows


def _scores(truth: np.ndarray | None, labels: np.ndarray) -> dict[str, Any]:
    from segmint.agent.segment.evaluate import agreement

    if truth is None:
        return {}
    keep = truth != "mixed"
    return agreement(truth[keep], labels[keep])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,200000,1000000")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", default="0", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        print(json.dumps(child(opts.child, [int(s) for s in opts.seeds.split(",")])))
        return
    stamp = f"`python -m bench.segments` on {date.today()}: {machine()}."
    # Scaling first: a child forked from a parent that already holds the text model would report
    # the parent's memory as its own peak (Linux carries the pre-exec high-water mark over).
    scale_rows = [] if opts.no_scale else scaling([int(s) for s in opts.sizes.split(",")])
    if not opts.no_real:
        rows, reducer_rows = quality(real_cases())
        body = [
            stamp,
            "",
            "Quality, default settings (no k given). ARI/NMI against known groups (Unassigned counts as",
            "one more group); silhouette and DBCV on a 2,000-customer sample; seed ARI = agreement of",
            "seeds 0 and 1 (the seed only picks the fit sample, so below 10,000 customers it is 1 by",
            "design); 70% ARI = the same when each seed fits on a different 70% sample; holdout = the",
            "newcomer model refitted on 80% and scored on the other 20% (accuracy, macro recall).",
            "",
            "| data | customers | segments | noise | ARI | NMI | silhouette | DBCV | seed ARI | "
            "70% ARI | holdout acc | macro recall | s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Reducers in front of HDBSCAN (same data, everything else default):",
            "",
            "| data | reducer | segments | noise | ARI | s |",
            "|---|---|---:|---:|---:|---:|",
            *reducer_rows,
        ]
        update_section("Segments: quality", "\n".join(body))
        print("\n".join(body))
    if scale_rows:
        body = [
            stamp,
            "",
            "Cost on synthetic 384-d customers (20 overlapping personas + 5% wanderers; ARI against",
            "each customer's main persona), each size in a fresh process: fit on a bounded sample,",
            "then FAISS assignment of everyone. Peak RSS is the whole process; 'before GiB' is its",
            "peak before the segment step (interpreter, libraries and the input vectors).",
            "",
            "| customers | fit sample | fit s | assign s | quality s | segment step s | peak RSS GiB | "
            "before GiB | segments | noise | ARI planted | seed ARI | seed ARI, assigned in both |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *scale_rows,
        ]
        update_section("Segments: cost at scale", "\n".join(body))
        print("\n".join(body))


if __name__ == "__main__":
    main()
