"""Paraphrases: map words the rule parser did not know onto glossary synonyms, by meaning.

When a question keeps unknown words ("customers who went silent"), each short run of words
around them is embedded with the packaged all-MiniLM-L6-v2 sentence encoder and compared with
every glossary synonym. A run is rewritten to a synonym only when the match is close (cosine at
or above a high threshold), clearly better than the best synonym of any other term (a margin),
and of the same polarity ("haven't come back" never becomes "came back"). The parser then reads
the rewritten question with its ordinary rules, so a paraphrase can only ever become a glossary
term, and a question with any word still unexplained is refused as before.

The encoder is loaded on first use only (questions the rules understand never pay for it), and
a missing model or library simply means no paraphrase is mapped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# The package loads the encoders when `embeddings.make_encoder` is first read (agent/core/lazy.py):
# a question whose words are all known never loads them (bench/RESULTS.md "Cold start").
from segmint import embeddings
from segmint.agent.core.arrays import F32
from segmint.agent.core.patterns import compiled
from segmint.agent.query.glossary import Glossary

log = logging.getLogger(__name__)

Encode = Callable[[list[str]], F32]

# Calibrated on data/eval/paraphrases.yaml (tests/test_eval.py): accepted paraphrases score
# 0.77-0.96 ("no longer shop" -> "stopped shopping" 0.77, "buy frequently" -> "buy often" 0.96);
# the best candidate of an adversarial question at most 0.61 ("new phone" -> "new customer").
# The margin stops "buying repeatedly" (0.81 to frequent's "buy often", 0.77 to repeat buyers').
THRESHOLD = 0.77
MARGIN = 0.08
MAX_WORDS = 4
# Words a run may not start or end with: they carry no meaning of their own, and a run padded
# with them only dilutes the comparison.
EDGE_FILLER = frozenset({
    "who", "whom", "whose", "that", "which", "the", "a", "an", "are", "is", "were", "was", "be",
    "and", "or", "but", "in", "of", "to", "with", "from", "by", "for", "on", "at", "my", "our",
    "their", "have", "has", "had", "do", "does", "did", "been", "me", "show", "list", "find",
})
# Words that end one clause of a question and start another: a synonym never spans them.
CLAUSE_WORDS = frozenset({"who", "whom", "whose", "that", "which", "and", "or", "but", "with",
                          "without", "in", "from", "are", "is", "were", "was", "have", "has", "had",
                          "been", "be", "do", "does", "did"})
# Who is meant: a run may end with one ("faithful customers") but not start with one.
SUBJECTS = frozenset({"customers", "customer", "clients", "client", "people", "users", "shoppers",
                      "buyers", "accounts", "folks", "households", "household", "members", "patrons",
                      "subscribers", "consumers"})
NEGATIVE = compiled(r"\b(?:not|no|never|without|nor|stopped|stop|longer)\b|n't\b")
WORD = compiled(r"[^\s]+")


@dataclass(frozen=True)
class Rewrite:
    """One run of words read as a glossary synonym.

    Attributes:
        start: offset of the run in the text given to `rewrite`.
        end: offset just past the run.
        phrase: the words as written.
        synonym: the glossary synonym it was read as.
        term: the glossary key of that synonym.
        score: cosine similarity of the two.
    """

    start: int
    end: int
    phrase: str
    synonym: str
    term: str
    score: float


class PhraseMapper:
    """Finds the glossary synonym a phrase means, if one is close enough.

    Args:
        encode: texts -> L2-normalised vectors (one row per text).
        threshold: the lowest cosine similarity accepted.
        margin: how much better than the best synonym of any other term the match must be.
    """

    def __init__(self, encode: Encode, threshold: float = THRESHOLD, margin: float = MARGIN) -> None:
        self.encode = encode
        self.threshold = threshold
        self.margin = margin
        self._synonyms: tuple[tuple[str, str], ...] = ()
        self._vectors: F32 | None = None

    def _synonym_vectors(self, synonyms: tuple[tuple[str, str], ...]) -> F32:
        if self._vectors is None or synonyms != self._synonyms:
            self._synonyms = synonyms
            self._vectors = self.encode([syn for syn, _ in synonyms])
        return self._vectors

    def scores(self, phrases: Sequence[str], glossary: Glossary) -> list[tuple[str, str, float, float]]:
        """For each phrase: its closest synonym, that synonym's term, the score and the margin."""
        synonyms = glossary_synonyms(glossary)
        if not phrases or not synonyms:
            return []
        sims = self.encode(list(phrases)) @ self._synonym_vectors(synonyms).T
        terms = np.array([key for _, key in synonyms])
        out = []
        for row in sims:
            best = int(np.argmax(row))
            others = row[terms != terms[best]]
            runner_up = float(others.max()) if others.size else -1.0
            out.append((synonyms[best][0], synonyms[best][1], float(row[best]),
                        float(row[best]) - runner_up))
        return out

    def rewrite(self, text: str, residual: str, is_unknown: Callable[[str], bool],
                glossary: Glossary) -> list[Rewrite]:
        """Runs of `text` to read as glossary synonyms, best first, never overlapping.

        Args:
            text: the normalised question.
            residual: the same text with every recognised span blanked out (same offsets).
            is_unknown: whether a word is one the parser could not place.
            glossary: the terms whose synonyms are candidates.
        """
        spans = candidate_spans(residual, is_unknown)
        if not spans:
            return []
        phrases = [text[s:e] for s, e in spans]
        scored = self.scores([p.replace("-", " ") for p in phrases], glossary)
        chosen: list[Rewrite] = []
        ranked = sorted(zip(spans, phrases, scored, strict=True), key=lambda x: -x[2][2])
        for (start, end), phrase, (synonym, term, score, margin) in ranked:
            if score < self.threshold:
                break  # ranked by score: nothing after this passes either
            if margin < self.margin or _negative(phrase) != _negative(synonym):
                continue
            if any(start < r.end and r.start < end for r in chosen):
                continue
            chosen.append(Rewrite(start, end, phrase, synonym, term, round(score, 3)))
        return chosen


def glossary_synonyms(glossary: Glossary) -> tuple[tuple[str, str], ...]:
    """Every (synonym, term key) of the glossary, labels included, without repeats."""
    pairs = {(syn.lower(), key) for key, term in glossary.terms.items()
             for syn in (*term.synonyms, term.label)}
    return tuple(sorted(pairs))


def candidate_spans(residual: str, is_unknown: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Word runs of the unread text that may be read as one glossary synonym.

    The unread text is cut into clauses at blanked (recognised) spans and at clause words ("who",
    "and", "with"...). A candidate run holds every unknown word of its clause, so a fragment
    ("risk" of "high risk of fraud") is never read out of its context; it has at most MAX_WORDS
    words and neither starts nor ends with a filler word (it may end with "customers").
    """
    return [span for clause in _clauses(residual) for span in _clause_spans(clause, is_unknown)]


def coverable(residual: str, is_unknown: Callable[[str], bool]) -> bool:
    """Whether every clause holding an unknown word has a candidate run.

    When one has none, no mapping can explain the whole question, so the encoder need not load.
    """
    return all(_clause_spans(clause, is_unknown) for clause in _clauses(residual)
               if any(is_unknown(w) for _, _, w in clause))


Word = tuple[int, int, str]


def _clauses(residual: str) -> list[list[Word]]:
    clauses: list[list[Word]] = []
    for chunk in re.finditer(r"\S+(?: \S+)*", residual):
        clauses.append([])
        for m in WORD.finditer(residual, chunk.start(), chunk.end()):
            if m[0] in CLAUSE_WORDS:
                clauses.append([])
            else:
                clauses[-1].append((m.start(), m.end(), m[0]))
    return [c for c in clauses if c]


def _clause_spans(clause: list[Word], is_unknown: Callable[[str], bool]) -> list[tuple[int, int]]:
    unknown = [i for i, (_, _, w) in enumerate(clause) if is_unknown(w)]
    if not unknown:
        return []
    spans = []
    for i in range(unknown[0] + 1):
        for j in range(unknown[-1] + 1, min(i + MAX_WORDS, len(clause)) + 1):
            run = clause[i:j]
            if run[0][2] not in EDGE_FILLER | SUBJECTS and run[-1][2] not in EDGE_FILLER:
                spans.append((run[0][0], run[-1][1]))
    return spans


def _negative(text: str) -> bool:
    return NEGATIVE.search(text) is not None


def apply(text: str, rewrites: Sequence[Rewrite]) -> str:
    """The text with every rewritten run replaced by its synonym."""
    for r in sorted(rewrites, key=lambda r: -r.start):
        text = text[:r.start] + r.synonym + text[r.end:]
    return text


@lru_cache(maxsize=1)
def default_mapper() -> PhraseMapper | None:
    """A mapper over the packaged MiniLM encoder, loaded now; None when it cannot be loaded.

    The packaged model runs through its ONNX export (the default `minilm`, the same vectors as
    sentence-transformers to cosine 0.999), so a question with an unknown word does not import
    torch: a cold question stays within a second or two (docs/architecture.md).
    """
    try:
        encoder = embeddings.make_encoder("minilm", threads=1)  # a few short phrases: one thread is fastest
        encoder.encode(["paraphrase"])  # load now: a failure means no mapping, not a late error
    except Exception as exc:  # any failure only means no paraphrase mapping: the rules still answer
        log.warning("paraphrase mapping unavailable: %s", exc)
        return None
    return PhraseMapper(encoder.encode)
