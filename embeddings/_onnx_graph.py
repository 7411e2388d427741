"""The packaged BERT sentence encoder written as an ONNX graph straight from its weights: no torch.

The graph is the architecture sentence-transformers runs (`segmint.embeddings.numpy_backend` is
the same maths in NumPy): embeddings + LayerNorm, then per layer one query/key/value GEMM,
softmax attention with the padding masked, the output projection, exact (erf) GELU feed-forward,
post-LayerNorms; then the mean over real tokens and L2 normalisation. Inputs ``input_ids`` and
``attention_mask`` (int64, batch x tokens); outputs ``embedding`` (batch x hidden, unit rows)
and ``hidden`` (the last layer per token, what the static model's distillation reads).

Building it takes a second and imports only ``onnx``; exporting through ``torch.onnx`` took a
torch import (tens of seconds on a loaded machine) and the whole of ``transformers``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from segmint.embeddings.numpy_backend import bert_weights

if TYPE_CHECKING:
    import onnx

OPSET = 17  # LayerNormalization is an ONNX op from 17 on


class _Builder:
    """Collects nodes and initializers with unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self._numpy_helper = helper, numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        self.inits.append(self._numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self._n += 1
        out = f"{name}_{self._n}"
        self.node(op_type, inputs, [out], out, **attrs)
        return out

    def node(self, op_type: str, inputs: list[str], outputs: list[str], name: str,
             **attrs: Any) -> None:
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, name=name, **attrs))

    def linear(self, x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
        # MatMul by an initializer (the dynamic int8 quantizer's target), then the bias.
        y = self.op("MatMul", [x, self.const(f"{name}.weight", w)], f"{name}/MatMul")
        return self.op("Add", [y, self.const(f"{name}.bias", b)], f"{name}/Add")

    def layer_norm(self, x: str, params: tuple[np.ndarray, np.ndarray], eps: float, name: str) -> str:
        g = self.const(f"{name}.weight", params[0])
        b = self.const(f"{name}.bias", params[1])
        return self.op("LayerNormalization", [x, g, b], name, axis=-1, epsilon=eps)


def build_bert_graph(model_dir: Path) -> onnx.ModelProto:
    """The float32 ONNX model of a BERT sentence-transformers model with mean pooling.

    Args:
        model_dir: the model's directory (``config.json``, ``model.safetensors``).

    Returns:
        The model (see the module docstring for inputs and outputs).
    """
    import onnx
    from onnx import TensorProto, helper

    config = json.loads((model_dir / "config.json").read_text())
    w = bert_weights(model_dir, config)
    eps = float(config.get("layer_norm_eps", 1e-12))
    heads = int(config["num_attention_heads"])
    d = int(config["hidden_size"])
    hd = d // heads
    g = _Builder()
    i64 = np.int64
    # Embeddings: word + position + token type 0 (the encoders never send another type).
    word = g.op("Gather", [g.const("word_embeddings", w["word"]), "input_ids"], "word")
    seq = g.op("Gather", [g.op("Shape", ["input_ids"], "shape"), g.const("one", 1, i64)], "seq",
               axis=0)
    positions = g.op("Range", [g.const("zero", 0, i64), seq, g.const("step", 1, i64)], "positions")
    pos = g.op("Gather", [g.const("position_embeddings", w["pos"]), positions], "pos")
    h = g.op("Add", [g.op("Add", [word, pos], "word_pos"), g.const("type0", w["type0"])], "emb")
    h = g.layer_norm(h, w["ln"], eps, "embeddings.LayerNorm")
    mask = g.op("Cast", ["attention_mask"], "mask", to=TensorProto.FLOAT)
    # Padding gets a large negative score before the softmax (sentence-transformers: the dtype's
    # minimum); -1e9 underflows to exactly zero weight all the same.
    inverted = g.op("Sub", [g.const("one_f", 1.0), mask], "inverted")
    bias = g.op("Unsqueeze", [g.op("Mul", [inverted, g.const("neg", -1e9)], "neg_mask"),
                              g.const("axes_12", [1, 2], i64)], "attn_bias")
    head_shape = g.const("head_shape", [0, 0, heads, hd], i64)
    merged_shape = g.const("merged_shape", [0, 0, d], i64)
    scale = g.const("scale", 1.0 / np.sqrt(hd))
    for li, layer in enumerate(w["layers"]):
        p = f"layer.{li}"
        # Three GEMMs, not one of the stacked weights split after: the split's copy cost more
        # than the wider GEMM saved (onnxruntime fuses neither).
        q, k, v = (g.op("Reshape", [g.linear(h, layer["qkv"][:, j * d:(j + 1) * d],
                                             layer["qkv_b"][j * d:(j + 1) * d],
                                             f"{p}.attention.{part}"), head_shape],
                        f"{p}.{part}/Reshape")
                   for j, part in enumerate(("query", "key", "value")))
        q = g.op("Transpose", [q], f"{p}.q/T", perm=[0, 2, 1, 3])
        # Keys as heads x tokens x dim, then the last two axes swapped: onnxruntime folds that
        # swap into the scores' MatMul (a copy less than transposing to heads x dim x tokens).
        k = g.op("Transpose", [g.op("Transpose", [k], f"{p}.k/T", perm=[0, 2, 1, 3])], f"{p}.kT",
                 perm=[0, 1, 3, 2])
        v = g.op("Transpose", [v], f"{p}.v/T", perm=[0, 2, 1, 3])
        scores = g.op("Mul", [g.op("MatMul", [q, k], f"{p}/scores"), scale], f"{p}/scaled")
        probs = g.op("Softmax", [g.op("Add", [scores, bias], f"{p}/masked")], f"{p}/softmax",
                     axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v], f"{p}/context")], f"{p}/ctx_T",
                   perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merged_shape], f"{p}/ctx")
        attn = g.linear(ctx, layer["out"], layer["out_b"], f"{p}.attention.output")
        h = g.layer_norm(g.op("Add", [attn, h], f"{p}/res1"), layer["ln1"], eps, f"{p}.ln1")
        up = g.linear(h, layer["up"], layer["up_b"], f"{p}.intermediate")
        # Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)): the pattern onnxruntime fuses into one op.
        erf = g.op("Erf", [g.op("Div", [up, g.const(f"{p}.sqrt2", np.sqrt(2.0))], f"{p}/div")],
                   f"{p}/erf")
        gelu = g.op("Mul", [g.op("Mul", [up, g.op("Add", [erf, g.const(f"{p}.one", 1.0)],
                                                  f"{p}/erf1")], f"{p}/xerf"),
                            g.const(f"{p}.half", 0.5)], f"{p}/gelu")
        down = g.linear(gelu, layer["down"], layer["down_b"], f"{p}.output")
        h = g.layer_norm(g.op("Add", [down, h], f"{p}/res2"), layer["ln2"], eps, f"{p}.ln2")
    g.node("Identity", [h], ["hidden"], "hidden")
    # Mean over real tokens, then unit length (sentence-transformers' Pooling + Normalize).
    mask3 = g.op("Unsqueeze", [mask, g.const("axis_2", [2], i64)], "mask3")
    axis1 = g.const("axis_1", [1], i64)
    summed = g.op("ReduceSum", [g.op("Mul", ["hidden", mask3], "masked_hidden"), axis1], "summed",
                  keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [mask3, axis1], "count", keepdims=0),
                         g.const("tiny", 1e-9)], "count_safe")
    pooled = g.op("Div", [summed, count], "pooled")
    norm = g.op("Max", [g.op("ReduceL2", [pooled], "norm", axes=[1], keepdims=1),
                        g.const("tiny_norm", 1e-12)], "norm_safe")
    g.node("Div", [pooled, norm], ["embedding"], "embedding")
    dims = ["batch", "seq"]
    graph = helper.make_graph(
        g.nodes, "sentence_encoder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
         for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", d]),
         helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "seq", d])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="segmint")
    onnx.checker.check_model(model)
    return model
