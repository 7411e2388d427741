"""Setting broad buyers aside: what it buys in stability, distinctness and names, and what it costs.

    python -m bench.broad_buyers

Issue 15 asks Online Retail's segments to agree at ARI >= 0.80 when fitted on two different 70%
samples, with no two interest segments' member product profiles above cosine 0.75 and >= 80% of
names supported, while the Amazon histories keep ARI >= 0.77. This bench measures one way there,
without changing the product: after the default fit, a member whose vector is not at least
`margin` closer (in cosine) to their segment's centre than to the shop's average customer is set
aside as a broad buyer (one more group). Per margin and dataset: the share set aside, ARI against
known groups, the agreement of two 70%-sample fits (each with its own centres and shop average,
broad buyers as one group), and on Online Retail the largest member product-share cosine and the
segments for which a supportable phrase exists at all (a 1-3 word phrase of a bought product,
bought by >= 50% of members at >= 2x the shop's rate: an upper bound on any namer).

Writes the "Segments: broad buyers set aside" section of bench/RESULTS.md.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import scipy.sparse as sp

from bench.harness import machine, update_section
from bench.names import tokens
from bench.segments import _scores, real_cases
from segmint.agent.segment.build import SegmentParams, SegmentResult, build_segments
from segmint.agent.segment.evaluate import agreement

MARGINS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05)
BROAD = -1  # the broad buyers' label here (0 stays Unassigned)
STOP = frozenset("of the and in a with for to set s t on".split())


def set_aside(result: SegmentResult, vectors: np.ndarray, shop: np.ndarray, margin: float) -> np.ndarray:
    """The fit's labels with members not `margin` closer to their centre than to `shop` as BROAD."""
    labels = result.labels.copy()
    for seg in result.segments:
        if seg.kind != "interest" or seg.size == 0:
            continue
        rows = np.flatnonzero(labels == seg.id)
        labels[rows[vectors[rows] @ (seg.centroid - shop) < margin]] = BROAD
    return labels


def shop_mean(vectors: np.ndarray, has_text: np.ndarray) -> np.ndarray:
    """The unit mean vector of the customers with text: the shop's average customer."""
    mu = vectors[has_text].mean(axis=0)
    return mu / np.linalg.norm(mu)


def purchase_matrices(cv: object) -> tuple[sp.csr_matrix, sp.csc_matrix]:
    """(customers x texts bought, customers x 1-3 word phrases of those texts), both 0/1."""
    docs = cv.documents  # type: ignore[attr-defined]
    bought = (docs.weights > 0).astype(np.float32).tocsr()
    grams: dict[tuple[str, ...], int] = {}
    rows, cols = [], []
    for j, text in enumerate(docs.texts):
        words = tokens(text)
        found = {tuple(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
        for g in found:
            if g[0] in STOP or g[-1] in STOP:
                continue
            rows.append(j)
            cols.append(grams.setdefault(g, len(grams)))
    phrase = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                           shape=(len(docs.texts), len(grams)))
    return bought, ((bought @ phrase) > 0).astype(np.float32).tocsc()


def distinctness(labels: np.ndarray, bought: sp.csr_matrix, phrases: sp.csc_matrix) -> tuple[float, int, int]:
    """(largest member product-share cosine, segments with a supportable phrase, segments)."""
    segs = [s for s in np.unique(labels) if s > 0]
    shop = np.asarray(phrases.mean(axis=0)).ravel()
    profiles, supportable = [], 0
    for s in segs:
        members = labels == s
        profiles.append(np.asarray(bought[members].mean(axis=0)).ravel())
        cover = np.asarray(phrases[members].mean(axis=0)).ravel()
        supportable += bool(((cover >= 0.5) & (cover >= 2 * shop)).any())
    P = np.stack(profiles)
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    C = P @ P.T
    np.fill_diagonal(C, 0.0)
    return float(C.max()), supportable, len(segs)


def main() -> None:
    rows = []
    for name, cv, truth, behaviour in real_cases():
        V, H = cv.vectors, cv.has_text
        n = len(H)
        full = build_segments(V, H, behaviour)
        part = SegmentParams(fit_sample=max(50, int(0.7 * n)))
        fits = [build_segments(V, H, behaviour, seed=s, params=part) for s in (0, 1)]
        mats = purchase_matrices(cv) if truth is None else None
        # The shop's average over everyone: a 70% sample's differs from it by sampling noise only.
        shop = shop_mean(V, H)
        for margin in MARGINS:
            labels = set_aside(full, V, shop, margin)
            subs = [set_aside(f, V, shop, margin) for f in fits]
            ari70 = agreement(subs[0].astype(str), subs[1])["ari"]
            truth_ari = _scores(truth, labels).get("ari", "—")
            cos, sup, segs = distinctness(labels, *mats) if mats else (None, None, None)
            rows.append(f"| {name} | {margin:.2f} | {(labels == BROAD).mean():.1%} | {truth_ari} | "
                        f"{ari70:.3f} | {'—' if cos is None else f'{cos:.3f}'} | "
                        f"{'—' if sup is None else f'{sup}/{segs}'} |")
            print(rows[-1], flush=True)
    body = [
        f"`python -m bench.broad_buyers` on {date.today()}: {machine()}.",
        "",
        "Default fit, then members not `margin` closer (cosine) to their segment's centre than to the",
        "shop's average customer set aside as broad buyers (one more group). Not what the product",
        "does: a measurement of the trade-off (module docstring).",
        "",
        "| data | margin | set aside | ARI vs known groups | 70% ARI | max cosine | supportable phrase |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    update_section("Segments: broad buyers set aside", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
