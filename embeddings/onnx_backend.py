"""ONNX Runtime encoder: the packaged MiniLM exported locally, optionally int8-quantized.

The float32 graph is written from the packaged weights with the ``onnx`` helper API
(`segmint.embeddings._onnx_graph`), the int8 one by onnxruntime's own dynamic quantizer: neither
export nor inference imports torch (the torch exporter cost a torch import on every cold cache).
Mean pooling and L2 normalisation are part of the graph, so outputs match sentence-transformers'.

Batches run concurrently, each on a single-threaded session call, one per core: on short texts
(the long tail of search queries is ~8 tokens) one multi-threaded call leaves cores waiting at
every small GEMM, and spinning ORT threads collapse when other work shares the cores. Measured on
3,000 long-tail texts, 2 shared cores, 3 interleaved rounds (medians): float32 4,945 tokens/s
against 3,103 for one 2-thread call at a time, int8 12,112 against 8,986; `minilm-numpy` 3,299.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from segmint.embeddings._onnx_graph import build_bert_graph
from segmint.embeddings.encoders import (
    cache_dir,
    encode_in_chunks,
    length_batches,
    model_dir_digest,
    model_label,
)

# Bump when the export or quantization recipe changes: it is part of the fingerprint, so old
# cached vectors and models are not reused for a different recipe.
RECIPE_VERSION = "2"

# Measured on 2 AVX-512 cores: ~1,000 padded tokens per call (128 short queries, 4 documents of
# 256 tokens) keeps the activations in cache while the GEMMs stay large enough to run at speed.
TOKENS_PER_BATCH = 1024
MAX_BATCH = 128


def _ort_version() -> str:
    import onnxruntime

    return ".".join(onnxruntime.__version__.split(".")[:2])


def _max_seq_length(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.exists():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if isinstance(value, int):
            return value
    return 256


def export_onnx(model_dir: Path, target: Path, quantize: bool) -> Path:
    """Write a BERT-style sentence-transformers model (mean pooling) as an ONNX model.

    The float32 graph is built from the weights (`segmint.embeddings._onnx_graph`, no torch);
    the int8 one is that graph through onnxruntime's dynamic quantizer.

    Args:
        model_dir: the model's directory (``config.json``, ``model.safetensors``, tokenizer).
        target: where to write the ``.onnx`` file; written atomically (temp file + rename),
            so a killed export never leaves a truncated model behind.
        quantize: apply onnxruntime dynamic int8 quantization (per-channel weights, the MatMuls
            by a weight only: quantizing the embedding tables and the attention products costs
            agreement, not speed).

    Returns:
        ``target``.
    """
    import onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        onnx.save(build_bert_graph(model_dir), str(fp32))
        result = fp32
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            result = Path(tmp) / "model.int8.onnx"
            # Most of the int8 error is the activations' one scale per batch, set by the [CLS]
            # token's outliers (|x| ~ 28 against ~4 elsewhere at the FFN inputs). Measured and
            # not taken (bench/RESULTS.md "Long tail: encoder backends"): SmoothQuant scales
            # (worse), fp32 for the sensitive MatMuls (the speed-up goes) and 8-bit MatMulNBits
            # (per-block activations: cosine 0.9997, 1.3x fp32 instead of 2.5x).
            root = logging.getLogger()
            level = root.level
            # The quantizer logs a generic "consider pre-processing" warning on the root logger;
            # it would land in the user's terminal on every first run.
            root.setLevel(logging.ERROR)
            try:
                quantize_dynamic(
                    str(fp32),
                    str(result),
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                )
            finally:
                root.setLevel(level)
        with open(result, "rb") as f:
            os.fsync(f.fileno())
        os.replace(result, target)
    return target


class OnnxEncoder:
    """Sentence encoder running an exported model with onnxruntime on the CPU.

    Args:
        model_dir: the source sentence-transformers model (BERT-style, mean pooling).
        quantize: int8 dynamic quantization (the ``minilm-onnx-int8`` spec) or float32.
        threads: batches encoded at once, each single-threaded; default: the CPU count.
    """

    def __init__(self, model_dir: Path, quantize: bool = True, threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.quantize = quantize
        self.threads = threads
        self.max_seq_length = _max_seq_length(self.model_dir)
        # Read once: `dim` is asked for every block of texts encoded.
        self._dim = int(json.loads((self.model_dir / "config.json").read_text())["hidden_size"])
        self._digest = model_dir_digest(self.model_dir)
        self._label = model_label(self.model_dir)
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """Source weights, quantization, token limit, recipe and onnxruntime minor version."""
        kind = "int8" if self.quantize else "fp32"
        return (
            f"onnx-{kind}:{self._label}:{self._digest}:{self.max_seq_length}"
            f":r{RECIPE_VERSION}:ort{_ort_version()}"
        )

    @property
    def dim(self) -> int:
        """Hidden size of the source model."""
        return self._dim

    @property
    def model_path(self) -> Path:
        """Where the exported model is cached (built on first use)."""
        kind = "int8" if self.quantize else "fp32"
        name = f"{self._label}-onnx-{kind}-{self._digest}-r{RECIPE_VERSION}"
        return cache_dir() / "models" / name / "model.onnx"

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                path = self.model_path
                if not path.exists():
                    export_onnx(self.model_dir, path, self.quantize)
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                # Parallelism comes from concurrent calls (see the module docstring).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                # tokenizer.json ships with truncation at 128 and fixed padding; match
                # sentence-transformers (max_seq_length) and pad per batch instead.
                tokenizer.enable_truncation(max_length=self.max_seq_length)
                tokenizer.no_padding()
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def token_counts(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text after truncation (special tokens included), for throughput reports."""
        _, tokenizer = self._load()
        return np.array([len(e.ids) for e in tokenizer.encode_batch(list(texts))], dtype=np.int64)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts; empty/missing ones give zero vectors, long ones are truncated."""
        return encode_in_chunks(self._encode_clean, texts, self.dim)

    def _encode_clean(self, texts: list[str]) -> np.ndarray:
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(texts)
        lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
        wanted = {i.name for i in session.get_inputs()}
        out = np.zeros((len(texts), self.dim), dtype=np.float32)

        def run(batch: np.ndarray) -> None:
            width = int(lengths[batch].max())
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                n = int(lengths[i])
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[batch] = session.run(["embedding"],
                                     {k: v for k, v in feed.items() if k in wanted})[0]

        batches = length_batches(lengths, TOKENS_PER_BATCH, MAX_BATCH)
        workers = max(1, min(self.threads or os.cpu_count() or 1, len(batches)))
        if workers == 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, batches))
        return out
