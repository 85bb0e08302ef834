"""Workload specification: a graph of layers, each an iteration space with einsum-style index maps.

A layer names its loop dimensions and their sizes; each operand maps tensor dimensions to loop
dimensions (``dims: [m, h]`` means tensor dim 0 is indexed by loop ``m``, dim 1 by ``h``), so a
transpose is a layer whose output lists the same loops in another order, and QKᵀ is an ordinary
matmul between two activations. Sizes in a workload file may be expressions of its parameters;
:mod:`cpsched.frontend.workload.load` resolves them into the concrete :class:`Workload` used
downstream.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, model_validator

from cpsched.model.problem import MAX_INTEGER

OpKind = Literal[
    "matmul", "elementwise", "add", "softmax", "layernorm", "rmsnorm", "activation", "transpose"
]
OP_KINDS: tuple[OpKind, ...] = (
    "matmul",
    "elementwise",
    "add",
    "softmax",
    "layernorm",
    "rmsnorm",
    "activation",
    "transpose",
)
# Operations that reduce along their `row_dims` (the whole row is needed for one output).
ROW_REDUCING_OPS: frozenset[str] = frozenset({"softmax", "layernorm", "rmsnorm"})
TensorRole = Literal["input", "weight"]

# Sizes are strict integers (never a string or a boolean read as a number) within the problem
# format's limit; a loop size below 1 is reported by the workload check, with its layer.
Size = Annotated[StrictInt, Field(ge=-MAX_INTEGER, le=MAX_INTEGER)]
Bits = Annotated[StrictInt, Field(ge=1, le=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operand(_Strict):
    """One input of a layer: which tensor it reads and the loop dimension of each tensor dim.

    `offsets` (one per tensor dim, or none for all zeros) shift the index map: the tensor index
    is the loop index plus the offset, and a read is clipped to the tensor. This is how a layer
    reads a slice of a tensor (a split of a fused projection) or one part of a concatenation.
    A convolution's input adds `strides` (coefficient of the dim's loop, default 1),
    `kernel` (a second loop added to the index, "" for none) and `dilations` (coefficient of
    the kernel loop, default 1): index = stride * dims[k] + dilation * kernel[k] + offsets[k],
    a window of rows per output row (padding is a negative offset). With a stride larger than
    the window or a dilation above 1 the rows read have gaps; tiling keeps them exact.
    """

    tensor: str = Field(min_length=1)
    dims: tuple[str, ...] = Field(min_length=1)
    offsets: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    kernel: tuple[str, ...] = ()
    dilations: tuple[Annotated[StrictInt, Field(ge=1)], ...] = ()

    @model_validator(mode="after")
    def _one_dilation_per_dim(self) -> Operand:
        """Dilations, when given, are one per tensor dim (tiling reads them per dim)."""
        if self.dilations and len(self.dilations) != len(self.dims):
            raise ValueError(f"{len(self.dilations)} dilations for {len(self.dims)} dims")
        return self


class Output(_Strict):
    """A layer's output tensor (named after the layer): loop dim per tensor dim, and precision."""

    dims: tuple[str, ...] = Field(min_length=1)
    bits: Bits = 8


class DeclaredTensor(_Strict):
    """A tensor no layer produces: a graph input or a weight (home: DRAM)."""

    kind: TensorRole
    shape: tuple[Annotated[StrictInt, Field(ge=1, le=MAX_INTEGER)], ...] = Field(min_length=1)
    bits: Bits = 8


class Layer(_Strict):
    """A layer: operation kind, iteration space, operands and the dims tiling may use by default."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    op: OpKind
    function: str = ""  # e.g. gelu, silu, mul, exp: documentation and cost-table lookup only
    loops: dict[str, Size]
    inputs: tuple[Operand, ...] = Field(min_length=1)
    output: Output
    token_dim: str | None = None  # split into T tiles by default
    head_dim: str | None = None  # split when the tiling asks for head tiles
    row_dims: tuple[str, ...] = ()  # dims a softmax/norm reduces over: never split

    def reduced_dims(self) -> tuple[str, ...]:
        """Loop dims that cannot be split: summed over (not in the output) or normalized over."""
        out = set(self.output.dims)
        summed = tuple(d for d in self.loops if d not in out)
        return summed + tuple(d for d in self.row_dims if d not in summed)

    def macs(self) -> int:
        """Product of all loop sizes: multiply-accumulates of a matmul, element-ops otherwise."""
        return math.prod(self.loops.values())


class Workload(_Strict):
    """A concrete workload: declared tensors and layers in a topological order."""

    name: str
    description: str = ""
    tensors: dict[str, DeclaredTensor] = Field(default_factory=dict)
    layers: tuple[Layer, ...] = Field(min_length=1)
    outputs: tuple[str, ...] = ()  # layers whose output is a graph output; default: unread ones
    # the file it was read from ("" when built in code), for messages that name it
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        """The file this workload was read from, or "" when it was built in code."""
        return self._source

    def layer_by_name(self) -> dict[str, Layer]:
        """Layers by name."""
        return {layer.name: layer for layer in self.layers}

    def graph_outputs(self) -> tuple[str, ...]:
        """Layers whose outputs must be stored in DRAM (the given list, or every unread layer)."""
        if self.outputs:
            return self.outputs
        read = {op.tensor for layer in self.layers for op in layer.inputs}
        return tuple(layer.name for layer in self.layers if layer.name not in read)

    def tensor_shape(self, name: str) -> tuple[int, ...]:
        """Shape of a declared tensor or of a layer's output."""
        if name in self.tensors:
            return self.tensors[name].shape
        layer = self.layer_by_name()[name]
        return tuple(layer.loops[d] for d in layer.output.dims)

    def tensor_bits(self, name: str) -> int:
        """Precision in bits of a declared tensor or of a layer's output."""
        if name in self.tensors:
            return self.tensors[name].bits
        return self.layer_by_name()[name].output.bits
