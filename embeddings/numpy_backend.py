"""The packaged all-MiniLM-L6-v2 run in plain NumPy (spec ``minilm-numpy``): no torch at all.

Same weights (read from the package's ``model.safetensors``), same tokenizer (its
``tokenizer.json`` through the Rust ``tokenizers`` library), same architecture (BERT encoder,
exact GELU, mean pooling over real tokens, L2 normalisation) as sentence-transformers; vectors
agree with it to float32 rounding (cosine > 0.9999).

Why: on a small CPU the cost of a cold run with a catalogue of a few thousand short titles is
dominated not by arithmetic but by importing torch and transformers (tens of seconds on a loaded
2-core machine, bench/RESULTS.md). This backend imports in well under a second. Texts are
tokenized once, sorted by length and batched so that padding is negligible; every batch is a few
large float32 GEMMs in BLAS.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from threadpoolctl import threadpool_limits
from tokenizers import Tokenizer

from segmint.embeddings.encoders import (
    encode_in_chunks,
    length_batches,
    model_dir_digest,
    model_label,
)

# Tokens per batch (rows x padded length): measured best on a 2-core EPYC (activations stay in
# cache; 4096 was 1.5x slower per CPU-second).
BATCH_TOKENS = 256


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, in place; erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7).

    scipy's erf costs ~40 ns a value, a third of the whole forward pass; this is a handful of
    vectorised float32 passes and agrees to float32 rounding.
    """
    z = np.abs(x) * np.float32(0.7071067811865476)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * z)
    poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (
        np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
    np.multiply(z, z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    erf_abs = np.float32(1.0) - poly * z
    # gelu(x) = x/2 * (1 + erf(x/sqrt 2)), erf odd.
    return np.float32(0.5) * x * (np.float32(1.0) + np.copysign(erf_abs, x))


def _layer_norm(x: np.ndarray, params: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    weight, bias = params
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * weight + bias


def bert_weights(model_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """A BERT model's weights from its ``model.safetensors``, laid out for ``x @ W`` (float32).

    Keys: ``word``, ``pos``, ``type0`` (embedding tables, token type 0's row), ``ln`` (embedding
    LayerNorm weight and bias) and ``layers``: per layer ``qkv`` (query, key and value side by
    side: one GEMM), ``out``, ``up``, ``down`` with their ``*_b`` biases, and ``ln1``, ``ln2``.
    Shared by this backend and the ONNX graph built from the same weights
    (`segmint.embeddings._onnx_graph`).
    """
    raw = load_file(str(model_dir / "model.safetensors"))
    raw = {k.removeprefix("bert."): v for k, v in raw.items()}
    w: dict[str, Any] = {
        "word": raw["embeddings.word_embeddings.weight"].astype(np.float32),
        "pos": raw["embeddings.position_embeddings.weight"].astype(np.float32),
        "type0": raw["embeddings.token_type_embeddings.weight"][0].astype(np.float32),
        "ln": (raw["embeddings.LayerNorm.weight"], raw["embeddings.LayerNorm.bias"]),
        "layers": [],
    }
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."

        def t(name: str, prefix: str = p) -> np.ndarray:
            return np.ascontiguousarray(raw[prefix + name + ".weight"].T, dtype=np.float32)

        def b(name: str, prefix: str = p) -> np.ndarray:
            return raw[prefix + name + ".bias"].astype(np.float32)

        w["layers"].append({
            "qkv": np.ascontiguousarray(np.concatenate(
                [t("attention.self.query"), t("attention.self.key"),
                 t("attention.self.value")], axis=1)),
            "qkv_b": np.concatenate([b("attention.self.query"), b("attention.self.key"),
                                     b("attention.self.value")]),
            "out": t("attention.output.dense"), "out_b": b("attention.output.dense"),
            "ln1": (raw[p + "attention.output.LayerNorm.weight"],
                    raw[p + "attention.output.LayerNorm.bias"]),
            "up": t("intermediate.dense"), "up_b": b("intermediate.dense"),
            "down": t("output.dense"), "down_b": b("output.dense"),
            "ln2": (raw[p + "output.LayerNorm.weight"], raw[p + "output.LayerNorm.bias"]),
        })
    return w


class NumpyBertEncoder:
    """A sentence-transformers BERT model with mean pooling, evaluated in NumPy.

    Args:
        model_dir: a sentence-transformers model directory (``config.json``, ``model.safetensors``,
            ``tokenizer.json``, ``sentence_bert_config.json``, mean pooling).
        threads: batches encoded at once (each on one BLAS thread); default: the CPU count.
    """

    def __init__(self, model_dir: Path, threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.threads = threads
        self.config = json.loads((self.model_dir / "config.json").read_text())
        st_config = self.model_dir / "sentence_bert_config.json"
        self.max_seq_length = int(json.loads(st_config.read_text()).get("max_seq_length", 256)
                                  if st_config.exists() else 256)
        self._digest = model_dir_digest(self.model_dir)
        self._label = model_label(self.model_dir)
        self._weights: dict[str, Any] | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """Weights digest, token limit and the implementation (its own vectors in the cache)."""
        return f"numpy:{self._label}:{self._digest}:{self.max_seq_length}:r1"

    @property
    def dim(self) -> int:
        """Hidden size (mean pooling keeps it)."""
        return int(self.config["hidden_size"])

    def _load(self) -> None:
        with self._lock:
            if self._weights is not None:
                return
            w = bert_weights(self.model_dir, self.config)
            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=self.max_seq_length)
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._weights = w

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts; empty/missing ones give zero vectors, long ones are truncated."""
        return encode_in_chunks(self._encode_clean, texts, self.dim)

    def _encode_clean(self, texts: list[str]) -> np.ndarray:
        self._load()
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        lengths = np.array([len(x) for x in ids])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = length_batches(lengths, BATCH_TOKENS, len(ids))

        def run(batch: np.ndarray) -> None:
            out[batch] = self._forward([ids[i] for i in batch])

        # One single-threaded BLAS per worker thread (NumPy releases the GIL in BLAS and ufuncs):
        # multi-threaded BLAS on small GEMMs spins, and on a shared machine it collapses.
        workers = max(1, min(self.threads or os.cpu_count() or 1, len(batches)))
        with threadpool_limits(1, user_api="blas"):
            if workers == 1:
                for batch in batches:
                    run(batch)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(run, batches))
        return out

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        assert self._weights is not None
        w = self._weights
        eps = float(self.config.get("layer_norm_eps", 1e-12))
        heads = int(self.config["num_attention_heads"])
        n, length = len(ids), max(len(x) for x in ids)
        tokens = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for r, row in enumerate(ids):
            tokens[r, :len(row)] = row
            mask[r, :len(row)] = 1.0
        h = w["word"][tokens] + w["pos"][:length] + w["type0"]
        h = _layer_norm(h, w["ln"], eps).reshape(n * length, -1)
        d = h.shape[1]
        hd = d // heads
        scale = np.float32(1.0 / np.sqrt(hd))
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in w["layers"]:
            qkv = h @ layer["qkv"] + layer["qkv_b"]
            qkv = qkv.reshape(n, length, 3, heads, hd).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, d)
            h = _layer_norm(ctx @ layer["out"] + layer["out_b"] + h, layer["ln1"], eps)
            up = _gelu(h @ layer["up"] + layer["up_b"])
            h = _layer_norm(up @ layer["down"] + layer["down_b"] + h, layer["ln2"], eps)
        h3 = h.reshape(n, length, d)
        pooled = (h3 * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
