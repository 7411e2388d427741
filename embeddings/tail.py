"""The long tail of texts: ways to embed a catalogue where most texts are seen by one customer.

A real shop's distinct texts are mostly one-off search queries. Each way below is measured on the
long-tail sample shop and on the Amazon histories before it may be used (bench/RESULTS.md "Long
tail"); `TailPolicy` names the ones a run applies:

- ``normalise``: near-duplicate spellings of one text (case, punctuation, spacing, word order)
  become one text, encoded once, before anything is encoded;
- ``static_below``: texts seen by fewer customers than this are encoded by the static model
  (``minilm-static``) instead of the transformer;
- ``static_queries``: only texts that only ever came as typed search queries (no product named)
  go to the static model (all of them, or with ``static_below`` the rare ones), so that every
  catalogue text (a product's title or description: what segments are made of) keeps the full
  model's vector.

Static vectors are mapped into the full model's space by a linear map fitted (least squares) on
texts both encoded: this shop's texts the full model encodes and a sample of the static ones.
The static model is only worth it, and only applied, when at least ``min_static`` texts go to it.

Measured (bench/RESULTS.md "Long tail"): ``static_queries`` kept the long-tail shop's planted
ARI (20k +0.001, 200k +0.001, 1M in 818 s on 2 cores) and Amazon histories' (no search texts
there: its vectors are the full model's); ``static_below`` on Amazon's one-customer titles cost
0.772 -> 0.685. Rejected: weighting a text of ``c`` customers ``c / (c + 1)`` in
pooling (Amazon histories' ARI fell from 0.772 to 0.729).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from segmint.embeddings.documents import CustomerDocuments
from segmint.embeddings.pooling import normalize_rows

if TYPE_CHECKING:
    import scipy.sparse as sp

_NOT_WORD = re.compile(r"[^\w]+")
# Ridge strength of the static -> full map, relative to the mean squared static feature; small:
# there are tens of thousands of shared texts for 384 x 384 coefficients.
_RIDGE = 1e-3
# Enough texts to fit 384 x 384 coefficients many times over; more only costs time.
FIT_TEXTS = 50_000
# Texts the static model encodes and maps at a time (bounds the memory of a million-text tail).
STATIC_BLOCK = 65_536
# Static-bound texts the full model encodes too (a tenth of them, at most this many), so that the
# map also learns what they look like (typed queries, not catalogue titles); they keep their full
# vectors.
FIT_RARE = 5_000


@dataclass(frozen=True)
class TailPolicy:
    """Which long-tail ways a run applies (all off by default; see the module docstring).

    Attributes:
        normalise: merge near-duplicate texts before encoding.
        static_below: texts of fewer customers than this go to the static model (0: no such
            condition).
        static_queries: only texts only ever searched go to the static model.
        min_static: the static model is used only when at least this many texts go to it:
            below, the transformer encodes them in seconds.
    """

    normalise: bool = False
    static_below: int = 0
    static_queries: bool = False
    min_static: int = 20_000

    def __post_init__(self) -> None:
        if min(self.static_below, self.min_static) < 0:
            raise ValueError("static_below and min_static must be >= 0")


def normal_form(text: str) -> str:
    """The spelling near-duplicates share: NFKC, case-folded, words only, in sorted order.

    The packaged model is uncased, and for the short texts of the long tail word order barely
    moves a mean-pooled vector, so these differences cost an encoding each and buy nothing.
    """
    words = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split()
    return " ".join(sorted(words)) or text


def normalise_documents(docs: CustomerDocuments) -> CustomerDocuments:
    """Merge the columns of texts with the same `normal_form` (weights add up).

    Args:
        docs: customer documents.

    Returns:
        Documents over the distinct normal forms (each spelled as its first original text, so a
        text shown to people is one that occurred).
    """
    import scipy.sparse as sp

    forms = [normal_form(t) for t in docs.texts]
    uniq, first, inverse = np.unique(np.array(forms, dtype=object), return_index=True,
                                     return_inverse=True)
    merge = sp.csr_matrix((np.ones(len(forms), np.float32), (np.arange(len(forms)), inverse)),
                          shape=(len(forms), len(uniq)))
    weights = sp.csr_matrix(docs.weights @ merge, dtype=np.float32)
    weights.sort_indices()
    searched = None
    if docs.searched_only is not None:
        # A merged text is a query only if every spelling of it was one.
        searched = np.ones(len(uniq), dtype=bool)
        np.logical_and.at(searched, inverse.reshape(-1), docs.searched_only)
    return CustomerDocuments(docs.user_ids, [docs.texts[int(i)] for i in first], weights,
                             docs.has_text, searched)


def static_rows(docs: CustomerDocuments, policy: TailPolicy) -> np.ndarray:
    """The texts (column indices) `policy` sends to the static model, before `min_static`.

    A text goes to it when it meets every condition the policy sets (none set: no text).
    """
    if not (policy.static_below or policy.static_queries):
        return np.zeros(0, dtype=np.int64)
    chosen = np.ones(len(docs.texts), dtype=bool)
    if policy.static_below:
        chosen &= customers_per_text(docs.weights) < policy.static_below
    if policy.static_queries:
        chosen &= False if docs.searched_only is None else docs.searched_only
    return np.flatnonzero(chosen)


def customers_per_text(weights: sp.csr_matrix) -> np.ndarray:
    """How many customers have each text (non-zero weights per column)."""
    return np.bincount(weights.indices, minlength=weights.shape[1])


def fit_rows(rows: np.ndarray, n: int) -> np.ndarray:
    """An evenly spaced, deterministic choice of at most ``n`` of ``rows``."""
    if len(rows) <= n:
        return rows
    return rows[np.linspace(0, len(rows) - 1, n).astype(np.int64)]


def fit_alignment(static: np.ndarray, full: np.ndarray) -> np.ndarray:
    """The linear map (dim x dim) that best takes static vectors to full ones (ridge least squares).

    Args:
        static: static-model vectors of some texts (pass at most ``FIT_TEXTS``: `fit_rows`).
        full: the full model's vectors of the same texts.

    Returns:
        ``W`` such that ``normalize_rows(static @ W)`` approximates ``full``.
    """
    s = static.astype(np.float64)
    gram = s.T @ s
    ridge = _RIDGE * np.trace(gram) / gram.shape[0]
    w = np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), s.T @ full.astype(np.float64))
    return w.astype(np.float32)


def aligned(static: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Static vectors mapped into the full model's space, unit length (zero rows stay zero)."""
    return normalize_rows(static @ w)
