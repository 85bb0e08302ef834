"""The ONNX operators and patterns the import reads, and a summary for users.

Kept apart from the importer so that listing them (`cpsched models`) needs no onnx package.
"""

from __future__ import annotations

SHAPE_ONLY = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout")
# Nodes that select part of a tensor: no task; a consumer reads the part through an offset map.
VIEWS = ("Split", "Slice", "Gather")
ACTIVATIONS = {
    "Gelu": "gelu",
    "Erf": "erf",
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Softplus": "softplus",
    "HardSigmoid": "hard_sigmoid",
    "HardSwish": "hard_swish",
    "Swish": "silu",
    "Mish": "mish",
    "Elu": "elu",
    "Celu": "celu",
    "Selu": "selu",
    "LeakyRelu": "leaky_relu",
    "PRelu": "prelu",
    "Clip": "clip",
}
ELEMENTWISE = {
    "Sub": "sub",
    "Mul": "mul",
    "Div": "div",
    "Pow": "pow",
    "Sqrt": "sqrt",
    "Reciprocal": "reciprocal",
    "Neg": "neg",
    "Exp": "exp",
    "Log": "log",
    "Abs": "abs",
    "Sin": "sin",
    "Cos": "cos",
    "Cast": "cast",
    "CastLike": "cast",
    "Max": "max",
    "Min": "min",
    "Where": "where",
    "Equal": "equal",
    "Less": "less",
    "Greater": "greater",
    "And": "and",
    "Or": "or",
    "Not": "not",
    "QuantizeLinear": "quantize",
    "DequantizeLinear": "dequantize",
}
REDUCTIONS = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max"}
# Data movement: a layer that copies elements (cost: bytes moved), op kind "transpose".
MOVEMENT = ("Transpose", "Concat", "Expand")
SUPPORTED = sorted(
    {
        "MatMul",
        "Gemm",
        "Conv",
        "Softmax",
        "Add",
        "LayerNormalization",
        "RMSNormalization",
        "Constant",
        *SHAPE_ONLY,
        *VIEWS,
        *MOVEMENT,
        *REDUCTIONS,
        *ACTIVATIONS,
        *ELEMENTWISE,
    }
)


def support_summary() -> str:
    """What ONNX import reads, in a few sentences: for `cpsched models` and the README."""
    return (
        "Constants are folded first (onnx shape inference with data propagation and the "
        "reference evaluator): Shape/Gather/Concat/Cast/Unsqueeze chains, causal masks and "
        "weight rows picked by Gather or Slice become initializers. Layers: "
        + ", ".join(
            sorted(
                {
                    "MatMul",
                    "Gemm",
                    "Conv",
                    "Softmax",
                    "Add",
                    "LayerNormalization",
                    "RMSNormalization",
                }
                | set(REDUCTIONS)
                | set(ACTIVATIONS)
                | set(ELEMENTWISE)
            )
        )
        + "; movement layers (bytes only): "
        + ", ".join(MOVEMENT)
        + "; views, read in place through offset index maps: "
        + ", ".join(VIEWS)
        + " (constant indices, step 1); no task: "
        + ", ".join(SHAPE_ONLY)
        + ". Conv: any stride, padding, dilation and groups (reads exact, halos and gaps "
        "included). "
        "Graph inputs need fixed shapes. Not supported: control flow, Gather with indices "
        "computed at run time (embeddings)."
    )


__all__ = [
    "ACTIVATIONS",
    "ELEMENTWISE",
    "MOVEMENT",
    "REDUCTIONS",
    "SHAPE_ONLY",
    "SUPPORTED",
    "VIEWS",
    "support_summary",
]
