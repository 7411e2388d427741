"""How good are the segments: agreement with known groups, and quality without any labels.

`agreement` is what `segmint evaluate --labels FILE` reports (ARI, NMI, homogeneity, completeness,
noise_share). Unassigned customers count as one more predicted group, so leaving customers out is
never free. `label_free_quality` gives a silhouette and a DBCV score (density-based validity,
Moulavi et al. 2014) on a bounded sample, for `segmint segments --json`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from segmint.agent.core.arrays import UNASSIGNED, IntArray
from segmint.agent.core.errors import InputError
from segmint.agent.core.sql import fetch_one


def agreement(truth: npt.ArrayLike, predicted: npt.ArrayLike, *, unassigned: Any = UNASSIGNED
              ) -> dict[str, Any]:
    """Agreement between known groups and segments.

    Args:
        truth: known group per customer.
        predicted: segment id per customer.
        unassigned: the predicted value that means Unassigned.

    Returns:
        n, ari, nmi, homogeneity, completeness, v_measure, noise_share, groups, segments, and
        ari_assigned (ARI over customers that got a segment; a diagnostic, not the headline).
    """
    t = np.asarray(truth).astype(str)
    p = np.asarray(predicted)
    if t.shape != p.shape:
        raise ValueError("truth and predicted need one entry per customer")
    n = len(t)
    if n == 0:
        return {"n": 0, "ari": None, "nmi": None, "homogeneity": None, "completeness": None,
                "v_measure": None, "noise_share": None, "groups": 0, "segments": 0,
                "ari_assigned": None}
    noise = p == unassigned
    from sklearn import metrics

    h, c, v = metrics.homogeneity_completeness_v_measure(t, p)
    assigned = ~noise
    return {
        "n": n,
        "ari": round(float(metrics.adjusted_rand_score(t, p)), 6),
        "nmi": round(float(metrics.normalized_mutual_info_score(t, p)), 6),
        "homogeneity": round(float(h), 6),
        "completeness": round(float(c), 6),
        "v_measure": round(float(v), 6),
        "noise_share": round(float(noise.mean()), 6),
        "groups": len(set(t.tolist())),
        "segments": len(set(p[assigned].tolist())),
        "ari_assigned": (round(float(metrics.adjusted_rand_score(t[assigned], p[assigned])), 6)
                         if assigned.sum() > 1 else None),
    }


def evaluate_labels_file(con: duckdb.DuckDBPyConnection, path: Path,
                         ignore: Sequence[str] = ()) -> dict[str, Any]:
    """`segmint evaluate --labels FILE`: compare a (user_id, label) file with `users.segment_id`.

    Ids are normalised like ingest does (`17850.0` -> `17850`). Customers in the file but not in
    the workspace, and the reverse, are counted and left out of the scores.

    Args:
        con: workspace connection.
        path: CSV with user_id and label columns.
        ignore: labels that are not groups (e.g. the sample shop's `mixed` wanderers); their
            customers are counted in `ignored` and left out of the scores.

    Raises:
        InputError: unreadable file, no user_id/label columns, or no customer in common.
    """
    table = f"_segmint_labels_{uuid.uuid4().hex[:8]}"
    try:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM read_csv(?, all_varchar = true, "
                    "header = true)", [str(path)])
    except (duckdb.Error, OSError) as exc:
        raise InputError(f"cannot read labels: {exc}".splitlines()[0], file=path,
                         fix="give a CSV with columns user_id,label") from exc
    try:
        names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        cols = [c.lower() for c in names]
        if "user_id" not in cols or len(names) < 2:
            raise InputError(f"no user_id column; the file has: {', '.join(names[:8])}",
                             file=path, field="user_id", fix="give a CSV with columns user_id,label")
        uid = names[cols.index("user_id")]
        lab = names[cols.index("label")] if "label" in cols else next(c for c in names if c != uid)
        rows = con.execute(f"""
            WITH l AS (
                SELECT regexp_replace(trim("{uid}"), '^(-?[0-9]+)\\.0+$', '\\1') AS user_id,
                       trim("{lab}") AS label
                FROM {table} WHERE "{uid}" IS NOT NULL AND "{lab}" IS NOT NULL)
            SELECT l.user_id, l.label, u.segment_id FROM l JOIN users u USING (user_id)
            ORDER BY l.user_id""").fetchall()
        in_file = fetch_one(con.execute(f'SELECT count(DISTINCT "{uid}") FROM {table}'))
        in_ws = fetch_one(con.execute("SELECT count(*) FROM users"))
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    if not rows:
        raise InputError("no customer of the labels file is in the workspace", file=path,
                         field=uid, fix="check that the ids match the events' user_id")
    skip = set(ignore)
    kept = [r for r in rows if r[1] not in skip]
    if not kept:
        raise InputError(f"every labelled customer has an ignored label ({', '.join(sorted(skip))})",
                         file=path, field=lab, fix="ignore fewer labels")
    truth = [r[1] for r in kept]
    pred = [UNASSIGNED if r[2] is None else int(r[2]) for r in kept]
    out = agreement(np.array(truth), np.array(pred))
    out["ignored"] = len(rows) - len(kept)
    out["labels_file_customers"] = int(in_file[0]) if in_file else 0
    out["workspace_customers"] = int(in_ws[0]) if in_ws else 0
    out["unmatched_labels"] = out["labels_file_customers"] - len(rows)
    return out


def label_free_quality(X: npt.NDArray[np.floating], labels: IntArray, *, sample_size: int = 2000,
                       seed: int = 0, unassigned: int = UNASSIGNED) -> dict[str, Any]:
    """Silhouette and DBCV of segments in the space they were built in, on a sample.

    Args:
        X: rows in the model space (unit rows for interest vectors: Euclidean distance is then a
            monotone function of cosine).
        labels: segment per row; `unassigned` rows are left out of silhouette and count as noise
            in DBCV.
        sample_size: rows used at most (both scores are quadratic in it).
        seed: picks the sample.

    Returns:
        silhouette (-1..1) and dbcv (-1..1), None where undefined (fewer than 2 segments).
    """
    n = len(X)
    idx = np.arange(n)
    if n > sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(n, sample_size, replace=False))
    Xs = np.asarray(X, dtype=np.float64)[idx]
    ls = np.asarray(labels)[idx]
    assigned = ls != unassigned
    out: dict[str, Any] = {"sample": len(idx), "silhouette": None, "dbcv": None}
    if len(set(ls[assigned].tolist())) >= 2 and assigned.sum() > len(set(ls[assigned].tolist())):
        from sklearn import metrics

        out["silhouette"] = round(float(metrics.silhouette_score(Xs[assigned], ls[assigned])), 6)
        out["dbcv"] = round(dbcv(Xs, np.where(assigned, ls, -1)), 6)
    return out


def dbcv(X: npt.NDArray[np.floating], labels: IntArray) -> float:
    """Density-Based Clustering Validation (Moulavi et al., SDM 2014); -1 labels are noise.

    Per cluster: density sparseness = the largest mutual-reachability edge of its minimum spanning
    tree among internal nodes; density separation = the smallest mutual-reachability distance to
    another cluster's internal nodes. Validity = (separation - sparseness) / max of the two,
    averaged with weights cluster size / all rows (noise rows lower the score).
    """
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.special import logsumexp

    X = np.asarray(X, dtype=np.float64)
    n, dim = X.shape
    d2 = np.maximum((X * X).sum(1)[:, None] - 2 * X @ X.T + (X * X).sum(1)[None, :], 0.0)
    dist = np.sqrt(d2)
    clusters = [c for c in np.unique(labels) if c >= 0]
    if len(clusters) < 2:
        return 0.0
    core = np.zeros(n)
    members: dict[int, IntArray] = {}
    for c in clusters:
        m = np.flatnonzero(labels == c)
        members[c] = m
        if len(m) < 2:
            continue
        sub = dist[np.ix_(m, m)]
        np.fill_diagonal(sub, np.inf)
        # All-points core distance, in log space: (1/d)^dim under- and overflows at dim 384.
        logs = -dim * np.log(np.maximum(sub, 1e-12))
        core[m] = np.exp(-(logsumexp(logs, axis=1) - np.log(len(m) - 1)) / dim)
    mreach = np.maximum(dist, np.maximum(core[:, None], core[None, :]))
    internal: dict[int, IntArray] = {}
    sparseness: dict[int, float] = {}
    for c, m in members.items():
        if len(m) < 2:
            internal[c], sparseness[c] = m, 0.0
            continue
        tree = minimum_spanning_tree(mreach[np.ix_(m, m)]).toarray()
        tree = np.maximum(tree, tree.T)
        degree = (tree > 0).sum(axis=1)
        inner = degree > 1
        if inner.sum() < 2:
            inner = np.ones(len(m), dtype=bool)
        internal[c] = m[inner]
        sub = tree[np.ix_(inner, inner)]
        sparseness[c] = float(sub.max()) if sub.size else 0.0
    total = 0.0
    for c in clusters:
        sep = min(float(mreach[np.ix_(internal[c], internal[o])].min()) for o in clusters if o != c)
        denom = max(sep, sparseness[c])
        validity = (sep - sparseness[c]) / denom if denom > 0 else 0.0
        total += len(members[c]) / n * validity
    return float(total)
