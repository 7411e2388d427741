"""Segment names and descriptions on real shops: are the names supported by what members bought,
distinct, and is each customer's "why" a reason (issue 15)?

    python -m bench.names [--baseline FILE] [--no-real]
    python -m bench.names --measure WORKSPACE --data NAME [--labels FILE] --json   # one row

Builds a workspace per dataset with the installed segmint (`segmint run`, the README's mappings):
UCI Online Retail and the Amazon review histories (one customer per user and sampled category,
product titles as texts) when ../shared/datasets has them, and the 2,000-customer sample shop
(`segmint demo`'s shop). Every figure is computed here from the workspace's `events` and `users`
tables with this file's own tokenizer, not with segmint's phrase code:

- supported name: the name's interest phrase (what follows a lifecycle/value prefix `X · `; a
  name of two phrases joined by ` & ` counts a member who bought either) occurs in order, as
  whole words (singular or plural) within one run of words (punctuation ends a run), in a
  product text the member bought, or is the category of a product they bought. Coverage = members with
  such a purchase / members; shop = the same over every customer; supported when coverage >= 50%
  and coverage >= 2x shop. "words together" is the looser reading: every name word in one
  bought text, in any order;
- distinct: no two segments share a name;
- cosine: between two segments' member product-share vectors (per product text: the share of
  members who bought it); pairs above 0.75 are near-duplicates;
- why: for a deterministic sample of members, whether `segmint user`'s `why` quotes a product
  text that customer bought;
- ARI against known groups (`segmint evaluate --ignore-label mixed`): the Amazon categories,
  the sample shop's personas.

`--baseline FILE` adds rows measured earlier (`--measure ... --json`, one JSON object per line),
e.g. on the commit before a change, so the section shows before and after side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from bench.harness import load_online_retail_events, machine, segmint, update_section
from segmint.agent.act.customers import get_user
from segmint.agent.core.workspace import Workspace
from segmint.agent.segment.build import SegmentParams, build_segments
from segmint.agent.segment.evaluate import agreement
from segmint.embeddings import embed_customers

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
AMAZON = DATASETS / "amazon_user_histories" / "amazon_reviews_2023_user_histories.csv.gz"
RETAIL_MAP = ["--map", "user_id=CustomerID", "--map", "timestamp=InvoiceDate",
              "--map", "order_id=InvoiceNo", "--map", "product_id=StockCode",
              "--map", "text=Description", "--map", "quantity=Quantity",
              "--map", "price=UnitPrice", "--attr", "country=Country", "--currency", "£"]
COVERAGE, LIFT, NEAR_DUPLICATE = 0.5, 2.0, 0.75
WHY_SAMPLE = 300
TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
BREAK = re.compile(r"[,;:|/()\[\]{}!?+]+|\s[-–—]+\s")


def tokens(text: str) -> list[str]:
    """Lower-case words of a text (internal apostrophes and hyphens kept: 50's, t-light), with
    '|' where punctuation ends a run of words (a phrase is read within one run)."""
    return [w for r in BREAK.split(text.lower()) for w in [*TOKEN.findall(r), "|"]][:-1]


def _same_word(a: str, b: str) -> bool:
    return a == b or a + "s" == b or b + "s" == a or a + "es" == b or b + "es" == a


def contains_phrase(title: list[str], phrase: list[str]) -> bool:
    """The phrase's words occur in order, next to each other, in the title (singular or plural)."""
    n = len(phrase)
    return n > 0 and any(all(_same_word(title[i + j], phrase[j]) for j in range(n))
                         for i in range(len(title) - n + 1))


def contains_words(title: list[str], words: list[str]) -> bool:
    """Every word occurs somewhere in the title, in any order."""
    return bool(words) and all(any(_same_word(t, w) for t in title) for w in words)


def name_phrases(name: str) -> list[list[str]]:
    """The interest phrases of a name: after the last ` · `, split on ` & ` unless whole."""
    interest = name.rsplit(" · ", 1)[-1]
    return [tokens(p) for p in interest.split(" & ")] if " & " in interest else [tokens(interest)]


def _purchases(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[list[str], str]]]:
    """Per customer, the (words, category) of each product text they bought."""
    rows = con.execute("SELECT DISTINCT user_id, text, lower(coalesce(category, '')) FROM events "
                       "WHERE event_type = 'purchase' AND text IS NOT NULL").fetchall()
    out: dict[str, list[tuple[list[str], str]]] = {}
    for uid, text, category in rows:
        out.setdefault(str(uid), []).append((tokens(str(text)), str(category)))
    return out


def name_support(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per interest segment: its name, coverage and shop rate (phrase in order, and words together)."""
    bought = _purchases(con)
    users = [str(u) for (u,) in con.execute("SELECT user_id FROM users").fetchall()]
    segs = con.execute("SELECT segment_id, name FROM segments WHERE kind = 'interest' "
                       "AND size > 0 ORDER BY segment_id").fetchall()
    members: dict[int, set[str]] = {}
    for uid, sid in con.execute("SELECT user_id, segment_id FROM users").fetchall():
        members.setdefault(int(sid if sid is not None else 0), set()).add(str(uid))
    out = []
    for sid, name in segs:
        phrases = name_phrases(str(name))
        words = [w for p in phrases for w in p]
        category = str(name).rsplit(" · ", 1)[-1].lower()

        def holds(uid: str, in_order: bool, phrases: list[list[str]] = phrases,
                  words: list[str] = words, category: str = category) -> bool:
            titles = bought.get(uid, [])
            if any(c == category for _, c in titles):
                return True  # a name may be the category most members bought in
            if in_order:
                return any(contains_phrase(t, p) for t, _ in titles for p in phrases)
            return any(contains_words(t, words) for t, _ in titles)

        row: dict[str, Any] = {"id": int(sid), "name": str(name)}
        for key, in_order in (("phrase", True), ("words", False)):
            inside = members.get(int(sid), set())
            cov = sum(holds(u, in_order) for u in inside) / max(len(inside), 1)
            shop = sum(holds(u, in_order) for u in users) / max(len(users), 1)
            row[f"{key}_coverage"] = round(cov, 4)
            row[f"{key}_shop"] = round(shop, 4)
            row[f"{key}_supported"] = bool(cov >= COVERAGE and cov >= LIFT * shop)
        out.append(row)
    return out


def profile_cosines(con: duckdb.DuckDBPyConnection) -> tuple[float, int, list[tuple[int, int, float]]]:
    """Largest pairwise cosine of interest segments' member product-share vectors, the number of
    pairs above NEAR_DUPLICATE, and those pairs."""
    rows = con.execute("""
        WITH m AS (SELECT u.user_id, u.segment_id FROM users u JOIN segments s USING (segment_id)
                   WHERE s.kind = 'interest'),
             b AS (SELECT DISTINCT user_id, text FROM events
                   WHERE event_type = 'purchase' AND text IS NOT NULL)
        SELECT m.segment_id, b.text, count(*) / any_value(n.size) AS share
        FROM b JOIN m USING (user_id) JOIN (SELECT segment_id, count(*) AS size FROM m GROUP BY 1) n
          USING (segment_id) GROUP BY 1, 2""").fetchall()
    segs = sorted({int(r[0]) for r in rows})
    texts = {t: i for i, t in enumerate(sorted({r[1] for r in rows}))}
    M = np.zeros((len(segs), len(texts)))
    pos = {s: i for i, s in enumerate(segs)}
    for sid, text, share in rows:
        M[pos[int(sid)], texts[text]] = share
    M /= np.maximum(np.linalg.norm(M, axis=1, keepdims=True), 1e-12)
    C = M @ M.T
    pairs = [(segs[i], segs[j], round(float(C[i, j]), 3)) for i in range(len(segs))
             for j in range(i + 1, len(segs))]
    near = [p for p in pairs if p[2] > NEAR_DUPLICATE]
    return (max((p[2] for p in pairs), default=0.0), len(near), sorted(near, key=lambda p: -p[2]))


def merge_until_distinct(con: duckdb.DuckDBPyConnection) -> tuple[int, float]:
    """Merging the two most alike interest segments until no pair is above NEAR_DUPLICATE:
    how many groups are left and the largest one's share of the customers."""
    rows = con.execute("""
        WITH m AS (SELECT u.user_id, u.segment_id FROM users u JOIN segments s USING (segment_id)
                   WHERE s.kind = 'interest'),
             b AS (SELECT DISTINCT user_id, text FROM events
                   WHERE event_type = 'purchase' AND text IS NOT NULL)
        SELECT m.segment_id, b.text, count(*) FROM b JOIN m USING (user_id) GROUP BY 1, 2""").fetchall()
    sizes = dict(con.execute("SELECT segment_id, count(*) FROM users GROUP BY 1").fetchall())
    texts = {t: i for i, t in enumerate(sorted({r[1] for r in rows}))}
    counts: dict[int, np.ndarray] = {}
    for sid, text, n in rows:
        counts.setdefault(int(sid), np.zeros(len(texts)))[texts[text]] = n
    size = {s: float(sizes[s]) for s in counts}

    def cos(a: int, b: int) -> float:
        va, vb = counts[a] / size[a], counts[b] / size[b]
        return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))

    while len(counts) > 1:
        keys = sorted(counts)
        c, a, b = max((cos(a, b), a, b) for i, a in enumerate(keys) for b in keys[i + 1:])
        if c <= NEAR_DUPLICATE:
            break
        counts[a] = counts[a] + counts.pop(b)
        size[a] += size.pop(b)
    return len(counts), max(size.values(), default=0.0) / max(sum(sizes.values()), 1)


def why_names_purchase(workspace: Path, con: duckdb.DuckDBPyConnection) -> float:
    """Share of sampled members whose `segmint user` why quotes a product text they bought."""
    sample = [str(u) for (u,) in con.execute(
        "SELECT user_id FROM users WHERE segment_id <> 0 ORDER BY hash(user_id), user_id LIMIT ?",
        [WHY_SAMPLE]).fetchall()]
    texts: dict[str, set[str]] = {}
    for uid, text in con.execute("SELECT DISTINCT user_id, text FROM events WHERE event_type = "
                                 "'purchase' AND text IS NOT NULL").fetchall():
        texts.setdefault(str(uid), set()).add(str(text).strip().lower())
    ws = Workspace(workspace)
    hits = 0
    for uid in sample:
        why = str(get_user(ws, uid)["why"]).lower()
        hits += any(t and t[:60] in why for t in texts.get(uid, ()))  # long titles are cut
    return hits / max(len(sample), 1)


def measure_workspace(workspace: Path, data: str, labels: Path | None = None) -> dict[str, Any]:
    """Every figure of one workspace (see the module docstring)."""
    with contextlib.closing(duckdb.connect(str(workspace / "segmint.duckdb"), read_only=True)) as con:
        support = name_support(con)
        max_cos, near, pairs = profile_cosines(con)
        names = [str(n) for (n,) in con.execute(
            "SELECT name FROM segments WHERE segment_id <> 0 AND size > 0").fetchall()]
        why = why_names_purchase(workspace, con)
        merged, largest = merge_until_distinct(con)
        (buyers,) = con.execute("SELECT avg(CASE WHEN orders >= 1 THEN 1.0 ELSE 0 END) FROM users "
                                "WHERE segment_id <> 0").fetchone() or (0.0,)
    ari = None
    if labels is not None:
        # The sample shop's 'mixed' customers belong to no persona (README: ARI with it left out).
        proc = subprocess.run(segmint("evaluate", "--labels", str(labels), "-w", str(workspace),
                                      "--ignore-label", "mixed", "--json"),
                              capture_output=True, text=True, check=True)
        ari = json.loads(proc.stdout)["ari"]
    n = len(support)
    return {
        "data": data, "interest_segments": n,
        "supported_phrase": sum(r["phrase_supported"] for r in support),
        "supported_words": sum(r["words_supported"] for r in support),
        "median_coverage": round(float(np.median([r["phrase_coverage"] for r in support])), 3)
        if support else None,
        "distinct_names": len(set(n.lower() for n in names)), "segments": len(names),
        "max_cosine": round(max_cos, 3), "near_duplicate_pairs": near,
        "why_names_purchase": round(why, 3), "members_who_bought": round(float(buyers), 3),
        "merged_groups": merged, "merged_largest_share": round(largest, 3),
        "ari": ari, "detail": support, "pairs": pairs,
    }


def k_sweep(ks: tuple[int | None, ...] = (None, 3, 4, 6, 8)) -> list[str]:
    """Online Retail with a given number of segments: the agreement of fits on two different 70%
    samples and the largest member product-share cosine (does fewer segments make them distinct?)."""
    con = duckdb.connect()
    load_online_retail_events(con, ONLINE_RETAIL)
    cv = embed_customers(con, "minilm")
    pos = {u: i for i, u in enumerate(cv.user_ids)}
    bought = con.execute("SELECT DISTINCT user_id, text FROM events WHERE event_type = 'purchase' "
                         "AND text IS NOT NULL").fetchall()
    items = {t: i for i, t in enumerate(sorted({t for _, t in bought}))}
    B = np.zeros((len(pos), len(items)), dtype=np.float32)
    for u, t in bought:
        B[pos[u], items[t]] = 1.0
    behaviour = np.zeros((len(pos), 4))
    rows = []
    for k in ks:
        r = build_segments(cv.vectors, cv.has_text, behaviour, k=k)
        part = SegmentParams(fit_sample=int(0.7 * len(r.labels)), k=k)
        sub = [build_segments(cv.vectors, cv.has_text, behaviour, seed=s, params=part).labels
               for s in (0, 1)]
        segs = [s for s in np.unique(r.labels) if s != 0]
        P = np.stack([B[r.labels == s].mean(axis=0) for s in segs])
        P /= np.linalg.norm(P, axis=1, keepdims=True)
        C = P @ P.T
        np.fill_diagonal(C, 0)
        sizes = np.bincount(r.labels)[1:]
        rows.append(f"| {'default (HDBSCAN decides)' if k is None else k} | {len(segs)} | "
                    f"{agreement(sub[0].astype(str), sub[1])['ari']:.3f} | {C.max():.3f} | "
                    f"{int((np.triu(C) > NEAR_DUPLICATE).sum())} | {sizes.max() / len(r.labels):.2f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def _run(args: list[str]) -> None:
    subprocess.run(segmint(*args), check=True, capture_output=True, text=True)


def build_cases(root: Path, real: bool) -> list[tuple[str, Path, Path | None]]:
    """(data name, workspace, labels file or None) for each dataset present, built with `segmint`."""
    cases: list[tuple[str, Path, Path | None]] = []
    if real and ONLINE_RETAIL.exists():
        _run(["run", str(ONLINE_RETAIL), "-w", str(root / "retail"), *RETAIL_MAP])
        cases.append(("Online Retail", root / "retail", None))
    if real and AMAZON.exists():
        events, labels = amazon_events(root)
        _run(["run", str(events), "-w", str(root / "amazon")])
        cases.append(("Amazon histories", root / "amazon", labels))
    _run(["synth", "--users", "2000", "--seed", "0", "-o", str(root / "shop.parquet")])
    _run(["run", str(root / "shop.parquet"), "--users", str(root / "shop.parquet.users.csv"),
          "-w", str(root / "shop"), "--currency", "£"])
    cases.append(("sample shop 2,000", root / "shop", root / "shop.parquet.labels.csv"))
    return cases


def amazon_events(root: Path) -> tuple[Path, Path]:
    """The Amazon histories as an event file (customer = user and sampled category) and labels."""
    events, labels = root / "amazon.csv", root / "amazon.labels.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT user_id || '|' || category AS user_id, timestamp,
        'purchase' AS event_type, product_title AS text, parent_asin AS product_id, price
        FROM read_csv('{AMAZON}')) TO '{events}' (HEADER)""")
    con.execute(f"""COPY (SELECT DISTINCT user_id || '|' || category AS user_id, category AS label
        FROM read_csv('{AMAZON}') ORDER BY 1) TO '{labels}' (HEADER)""")
    return events, labels


def table(rows: list[dict[str, Any]]) -> str:
    """The results table (one row per measured workspace)."""
    head = ("| data | code | interest segments | name phrase supported | name words supported | "
            "median coverage | distinct names | max cosine | pairs > 0.75 | why names a purchase "
            "| ARI |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        n = r["interest_segments"]
        lines.append(
            f"| {r['data']} | {r.get('code', 'this change')} | {n} | {r['supported_phrase']}/{n} | "
            f"{r['supported_words']}/{n} | {r['median_coverage']} | "
            f"{r['distinct_names']}/{r['segments']} | {r['max_cosine']} | "
            f"{r['near_duplicate_pairs']} | {r['why_names_purchase'] * 100:.0f}% | "
            f"{'—' if r['ari'] is None else round(r['ari'], 3)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, help="rows measured earlier, one JSON per line")
    parser.add_argument("--no-real", action="store_true", help="only the sample shop")
    parser.add_argument("--measure", type=Path, help="measure this workspace only")
    parser.add_argument("--data", default="workspace")
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--code", default="this change", help="what code built the workspace")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--k-sweep", action="store_true",
                        help="also fit Online Retail with 3-8 segments (stability and cosine)")
    opts = parser.parse_args()
    if opts.measure is not None:
        row = measure_workspace(opts.measure, opts.data, opts.labels) | {"code": opts.code}
        print(json.dumps(row) if opts.json else table([row]))
        return
    rows = [json.loads(line) for line in opts.baseline.read_text().splitlines() if line.strip()] \
        if opts.baseline else []
    with tempfile.TemporaryDirectory() as tmp:
        for data, ws, labels in build_cases(Path(tmp), not opts.no_real):
            rows.append(measure_workspace(ws, data, labels))
            print(table(rows[-1:]), file=sys.stderr)
    rows.sort(key=lambda r: (r["data"], r.get("code") != "before"))
    examples = "\n".join(
        f"- {r['data']} ({r.get('code', 'this change')}): "
        + "; ".join(f"“{d['name']}” {d['phrase_coverage'] * 100:.0f}% vs shop "
                    f"{d['phrase_shop'] * 100:.0f}%" for d in r["detail"][:6])
        for r in rows)
    body = (f"`python -m bench.names` on {date.today().isoformat()}: {machine()}.\n\n"
            "A name is supported when its phrase occurs, in order and as whole words, in a "
            "product bought by at least 50% of the segment's members and at least twice the "
            "shop's rate (computed from the workspace tables with bench/names.py's own "
            "tokenizer); 'words' is the looser any-order reading. Cosine is between two "
            "segments' member product-share vectors. 'why names a purchase': share of 300 "
            f"sampled members whose `segmint user` why quotes a product they bought.\n\n"
            f"{table(rows)}\n\nFirst names and their coverage:\n\n{examples}\n\n"
            + distinctness(rows, k_sweep() if opts.k_sweep and ONLINE_RETAIL.exists() else []))
    update_section("Segment names and descriptions", body)


def distinctness(rows: list[dict[str, Any]], sweep: list[str]) -> str:
    """What merging near-duplicates would do, and what fewer segments do (Online Retail)."""
    lines = ["Near-duplicates (cosine > 0.75): merging the two most alike segments until none is "
             "left gives, per workspace:", ""]
    lines += [f"- {r['data']} ({r.get('code', 'this change')}): {r['segments']} segments -> "
              f"{r['merged_groups']} groups, the largest {r['merged_largest_share'] * 100:.0f}% of "
              f"customers; members who bought anything: {r['members_who_bought'] * 100:.0f}%"
              for r in rows if "merged_groups" in r]
    if sweep:
        lines += ["", "Online Retail fitted with a given number of segments (`build_segments(k=K)`, "
                  "default documents): agreement of fits on two different 70% samples, largest "
                  "cosine, pairs above 0.75, largest segment's share:", "",
                  "| k | segments | 70% ARI | max cosine | pairs > 0.75 | largest share |",
                  "|---|---:|---:|---:|---:|---:|", *sweep]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
