"""Static (model2vec-style) encoder distilled locally from the packaged MiniLM.

Distillation runs every vocabulary token on its own through the transformer (as
``[CLS] token [SEP]``) and keeps the token position's output, scaled by a Zipf weight
(``log(1 + token id)``: WordPiece vocabularies list whole words roughly by frequency, so a low id
is a common, less informative token). Encoding a text is then a lookup and a weighted mean over
its tokens: no transformer at run time, orders of magnitude faster, at a cost in agreement with
the full model (measured in ``bench/RESULTS.md``). Of the variants measured on Online Retail
titles (mean-pooled vs token-position output, normalised or not, Zipf/SIF weights), this one
agreed best with the full model. The table is built once and cached in ``SEGMINT_CACHE_DIR``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from segmint.embeddings._onnx_graph import build_bert_graph
from segmint.embeddings.encoders import (
    cache_dir,
    encode_in_chunks,
    model_dir_digest,
    model_label,
)
from segmint.embeddings.pooling import normalize_rows

RECIPE_VERSION = "3"
DISTILL_BATCH = 512


def distill_token_table(model_dir: Path) -> np.ndarray:
    """Embed each vocabulary token alone through the model: float32 (vocab x dim).

    The model is the float32 ONNX graph built from the weights (`segmint.embeddings._onnx_graph`),
    run by onnxruntime: no torch.

    Args:
        model_dir: a BERT-style sentence-transformers model directory (mean pooling).

    Returns:
        One row per token id, Zipf-weighted (rows are not unit length).
    """
    import onnxruntime as ort

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    vocab = tokenizer.get_vocab_size()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    session = ort.InferenceSession(build_bert_graph(model_dir).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
    table = np.zeros((vocab, dim), dtype=np.float32)
    for start in range(0, vocab, DISTILL_BATCH):
        ids = np.arange(start, min(start + DISTILL_BATCH, vocab), dtype=np.int64)
        batch = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
        hidden = session.run(["hidden"], {"input_ids": batch,
                                          "attention_mask": np.ones_like(batch)})[0]
        table[start : start + len(ids)] = hidden[:, 1]
    zipf = np.log1p(np.arange(1, vocab + 1, dtype=np.float32))
    return table * zipf[:, None]


class StaticEncoder:
    """Mean of distilled token vectors, L2-normalised.

    Args:
        model_dir: the source model (the packaged MiniLM for ``minilm-static``).
        max_tokens: tokens per text kept (default: the source model's ``max_seq_length``).
    """

    def __init__(self, model_dir: Path, max_tokens: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        cfg = self.model_dir / "sentence_bert_config.json"
        default = json.loads(cfg.read_text()).get("max_seq_length", 256) if cfg.exists() else 256
        self.max_tokens = int(max_tokens or default)
        self._digest = model_dir_digest(self.model_dir)
        self._label = model_label(self.model_dir)
        self._table: np.ndarray | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """Source weights, token limit and distillation recipe."""
        return f"static:{self._label}:{self._digest}:{self.max_tokens}:r{RECIPE_VERSION}"

    @property
    def dim(self) -> int:
        """Same dimension as the source model (no PCA), so vectors stay comparable with it."""
        return int(json.loads((self.model_dir / "config.json").read_text())["hidden_size"])

    @property
    def table_path(self) -> Path:
        """Where the distilled token table is cached."""
        name = f"{self._label}-static-{self._digest}-r{RECIPE_VERSION}"
        return cache_dir() / "models" / name / "tokens.npy"

    def _load(self) -> tuple[np.ndarray, Any]:
        with self._lock:
            if self._table is None:
                path = self.table_path
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    table = distill_token_table(self.model_dir)
                    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as f:
                        np.save(f, table, allow_pickle=False)
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(f.name, path)
                self._table = np.load(path, allow_pickle=False)
                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=self.max_tokens)
                tokenizer.no_padding()
                self._tokenizer = tokenizer
        assert self._table is not None
        return self._table, self._tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts; empty/missing ones give zero vectors, long ones are truncated."""
        return encode_in_chunks(self._encode_clean, texts, self.dim, chunk=65_536)

    def _encode_clean(self, texts: list[str]) -> np.ndarray:
        import scipy.sparse as sp

        table, tokenizer = self._load()
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        ids = np.fromiter(
            (i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum())
        )
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        counts = sp.csr_matrix(
            (np.ones(len(ids), dtype=np.float32), ids, indptr), shape=(len(texts), len(table))
        )
        return normalize_rows(np.asarray(counts @ table, dtype=np.float32))
