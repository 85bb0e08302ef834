"""Importing an ONNX graph as a workload: one layer per compute node, shapes by ONNX inference.

Supported: MatMul, Gemm, Transpose, Softmax, Add, Sub, Mul, Div, Sqrt, Pow, ReduceMean,
LayerNormalization, Gelu, Erf, Relu, Sigmoid, Tanh, Constant, and the shape-only nodes
Reshape, Flatten, Squeeze, Unsqueeze, Identity, which become no task: a consumer reads the
producer's tensor through them. To keep every index map exact through a Reshape, dims are cut
into their common refinement ("atoms") across the graph: a Reshape of [M, D] into [M, H, D/H]
makes D two dims (H, D/H) in every tensor and loop it is tied to (the projection weights, the
producer's output), so head-wise tiles read exactly their heads. A Reshape that cuts a dim at a
size that does not divide it (e.g. [6, 4] -> [4, 6]) is an error. Size-1 dims are dropped.

Initializers (and Constant outputs) are weights, the other graph inputs are graph inputs;
rank-0 constants (scales, exponents) are folded into the operation. The token dim of a graph
input of rank r is its axis r-2 (axis 0 for rank 1); every layer's token loop is the one that
indexes the token axis of its first operand that has one, and is carried to its output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import helper, numpy_helper, shape_inference
from pydantic import ValidationError

from cpsched.frontend.workload.load import check_workload
from cpsched.frontend.workload.spec import DeclaredTensor, Layer, Operand, Output, Workload
from cpsched.model.errors import FieldProblem, InputError, input_error
from cpsched.model.io import validation_problems

SHAPE_ONLY = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")
ACTIVATIONS = {"Gelu": "gelu", "Erf": "erf", "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
ELEMENTWISE = {"Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Sqrt": "sqrt"}
SUPPORTED = sorted(
    {
        "MatMul",
        "Gemm",
        "Transpose",
        "Softmax",
        "Add",
        "ReduceMean",
        "LayerNormalization",
        "Constant",
        *SHAPE_ONLY,
        *ACTIVATIONS,
        *ELEMENTWISE,
    }
)

# Bits per element of ONNX element types.
_BITS: dict[int, int] = {
    onnx.TensorProto.FLOAT: 32,
    onnx.TensorProto.FLOAT16: 16,
    onnx.TensorProto.BFLOAT16: 16,
    onnx.TensorProto.DOUBLE: 64,
    onnx.TensorProto.INT8: 8,
    onnx.TensorProto.UINT8: 8,
    onnx.TensorProto.INT16: 16,
    onnx.TensorProto.UINT16: 16,
    onnx.TensorProto.INT32: 32,
    onnx.TensorProto.UINT32: 32,
    onnx.TensorProto.INT64: 64,
    onnx.TensorProto.UINT64: 64,
    onnx.TensorProto.BOOL: 8,
}


@dataclass
class _PendingLayer:
    """A layer read from a node, before its dims are cut into atoms."""

    name: str
    label: str
    op: str
    function: str
    loops: list[str]  # logical loops, in order
    operands: list[tuple[str, list[str]]]  # ONNX tensor name, logical loop per axis
    output: str
    out_dims: list[str]
    row_dims: tuple[str, ...]


class _Atoms:
    """The common refinement of every tensor dim: Reshape ties [M, D] to [M, H, D/H], so D is
    cut into two atoms (H, D/H) everywhere it is tied to, and every index map stays exact.

    Each (tensor, axis) of size > 1 starts as one atom; tying two sequences of axes (same loop,
    or the two sides of a Reshape) splits atoms at each other's boundaries and merges the rest.
    """

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.size: dict[int, int] = {}
        self.split: dict[int, list[int]] = {}
        self.start: dict[tuple[str, int], int | None] = {}

    def _new(self, size: int) -> int:
        a = len(self.size)
        self.size[a] = size
        self.parent[a] = a
        return a

    def initial(self, name: str, axis: int, size: int) -> int | None:
        """The atom a (tensor, axis) started as (None for a size-1 axis)."""
        key = (name, axis)
        if key not in self.start:
            self.start[key] = self._new(size) if size > 1 else None
        return self.start[key]

    def find(self, a: int) -> int:
        """The representative of an atom."""
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def leaves(self, a: int | None) -> list[int]:
        """The atoms (outermost first) an atom has been cut into."""
        if a is None:
            return []
        r = self.find(a)
        if r not in self.split:
            return [r]
        return [leaf for c in self.split[r] for leaf in self.leaves(c)]

    def tie(
        self,
        left: list[tuple[str, int, int]],
        right: list[tuple[str, int, int]],
        source: str,
        where: str,
    ) -> None:
        """Make two sequences of (tensor, axis, size) the same atoms, cutting where needed."""
        while True:
            s1 = [x for n, k, sz in left for x in self.leaves(self.initial(n, k, sz))]
            s2 = [x for n, k, sz in right for x in self.leaves(self.initial(n, k, sz))]
            total1 = math.prod(self.size[a] for a in s1)
            total2 = math.prod(self.size[a] for a in s2)
            if total1 != total2:
                raise input_error(source, where, f"dims {left} and {right} hold different sizes")
            for a, b in zip(s1, s2, strict=False):
                if a == b:
                    continue
                sa, sb = self.size[a], self.size[b]
                if sa == sb:
                    self.parent[b] = a
                    break
                big, small = (a, b) if sa > sb else (b, a)
                if self.size[big] % self.size[small]:
                    raise input_error(
                        source,
                        where,
                        f"a Reshape cuts a dim of {self.size[big]} at {self.size[small]}, "
                        "which does not divide it; cannot keep index maps exact",
                    )
                self.split[big] = [
                    self._new(self.size[small]),
                    self._new(self.size[big] // self.size[small]),
                ]
                break
            else:
                return


def _ident(text: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", text) or "node"
    if not re.match(r"[A-Za-z_]", base):
        base = "n_" + base
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def _dummy(loops: dict[str, int]) -> str:
    """Add a fresh size-1 loop (for a broadcast or size-1 dim) and return its name."""
    k = len(loops)
    while f"u{k}" in loops:
        k += 1
    loops[f"u{k}"] = 1
    return f"u{k}"


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


class _Importer:
    def __init__(self, model: onnx.ModelProto, source: str, bits: int | None) -> None:
        self.source = source
        self.bits_override = bits
        try:
            model = shape_inference.infer_shapes(model, strict_mode=True)
        except Exception as exc:  # onnx raises its own error types
            raise input_error(source, "", f"ONNX shape inference failed: {exc}") from None
        self.graph = model.graph
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.bits: dict[str, int] = {}
        for vi in [*self.graph.input, *self.graph.value_info, *self.graph.output]:
            self._record(vi)
        self.consts: dict[str, tuple[int, ...]] = {}
        for init in self.graph.initializer:
            self.shapes[init.name] = tuple(init.dims)
            self.bits[init.name] = _BITS.get(init.data_type, 32)
            self.consts[init.name] = tuple(init.dims)
        self.source_of: dict[str, str] = {}  # ONNX tensor name -> declared tensor or layer name
        self.token_axis: dict[str, int | None] = {}  # token axis of declared ONNX tensors
        self.pending_tensors: list[tuple[str, str, str]] = []  # (onnx name, our name, kind)
        self.pending_layers: list[_PendingLayer] = []
        # (axes, axes, node label): sequences of tensor axes that hold the same atoms
        self.ties: list[tuple[list[tuple[str, int]], list[tuple[str, int]], str]] = []
        self.atoms = _Atoms()
        self.used: set[str] = set()

    def _record(self, vi: onnx.ValueInfoProto) -> None:
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            return
        dims = []
        for d in t.shape.dim:
            if not d.HasField("dim_value"):
                return
            dims.append(d.dim_value)
        self.shapes[vi.name] = tuple(dims)
        self.bits[vi.name] = _BITS.get(t.elem_type, 32)

    def _shape(self, name: str, node: onnx.NodeProto) -> tuple[int, ...]:
        if name not in self.shapes:
            raise input_error(
                self.source,
                f"node {node.name or node.op_type!r}",
                f"shape of tensor {name!r} is unknown after shape inference; give the graph "
                "inputs fixed (numeric) shapes",
            )
        return self.shapes[name]

    def _bits(self, name: str) -> int:
        return self.bits_override or self.bits.get(name, 32)

    def _declare(self, name: str, kind: str) -> None:
        tname = _ident(name, self.used)
        self.pending_tensors.append((name, tname, kind))
        self.source_of[name] = tname
        rank = len(self.shapes[name])
        self.token_axis[name] = None if kind == "weight" else (max(rank - 2, 0) if rank else None)

    def _axes(self, name: str) -> list[tuple[str, int]]:
        return [(name, k) for k in range(len(self.shapes[name]))]

    def _leaves(self, name: str, axis: int) -> list[int]:
        return self.atoms.leaves(self.atoms.initial(name, axis, self.shapes[name][axis]))

    def run(self, name: str) -> Workload:
        inits = {i.name for i in self.graph.initializer}
        for vi in self.graph.input:
            if vi.name not in inits:
                if vi.name not in self.shapes:
                    raise input_error(
                        self.source, f"input {vi.name!r}", "needs a fixed (numeric) shape"
                    )
                if self.shapes[vi.name]:
                    self._declare(vi.name, "input")
        for init in self.graph.initializer:
            if init.dims:
                self._declare(init.name, "weight")
        if not self.graph.node:
            raise input_error(
                self.source,
                "",
                "the ONNX graph has no nodes; a workload needs at least one operator "
                f"({', '.join(SUPPORTED)})",
            )
        for index, node in enumerate(self.graph.node):
            self._node(index, node)
        for left, right, label in self.ties:
            self.atoms.tie(
                [(n, k, self.shapes[n][k]) for n, k in left],
                [(n, k, self.shapes[n][k]) for n, k in right],
                self.source,
                f"node {label!r}",
            )
        return self._materialize(name)

    def _materialize(self, name: str) -> Workload:
        """Declared tensors and layers with every dim cut into the atoms the graph needs."""
        if not self.pending_layers:
            raise input_error(
                self.source,
                "",
                "the ONNX graph computes nothing (its nodes only rename, reshape or hold "
                "constants); a workload needs at least one operation such as MatMul or Add",
            )
        try:
            workload = self._workload(name)
        except ValidationError as exc:  # e.g. a dim or a precision beyond what a workload accepts
            raise InputError(self.source, tuple(validation_problems(exc))) from None
        workload = check_workload(workload, self.source)
        workload._source = self.source
        return workload

    def _workload(self, name: str) -> Workload:
        """The workload of the graph, unchecked (pydantic's field checks only)."""
        declared: dict[str, DeclaredTensor] = {}
        token_pos: dict[str, int | None] = {}  # token dim's index among a tensor's dims
        for onnx_name, tname, kind in self.pending_tensors:
            shape = tuple(
                self.atoms.size[a] for n, k in self._axes(onnx_name) for a in self._leaves(n, k)
            )
            tok = self.token_axis.get(onnx_name)
            before = sum(len(self._leaves(onnx_name, k)) for k in range(tok or 0))
            has_token = tok is not None and bool(self._leaves(onnx_name, tok))
            token_pos[tname] = before if has_token else None
            if shape:
                declared[tname] = DeclaredTensor(
                    kind=kind,
                    shape=shape,
                    bits=self._bits(onnx_name),
                )
        layers: list[Layer] = []
        for pl in self.pending_layers:
            sub: dict[str, list[tuple[str, int]]] = {}  # logical loop -> [(loop name, atom)]
            for tensor, dims in [*pl.operands, (pl.output, pl.out_dims)]:
                for k, logical in enumerate(dims):
                    if logical not in sub and self.shapes[tensor][k] > 1:
                        leaves = self._leaves(tensor, k)
                        names = (
                            [logical]
                            if len(leaves) == 1
                            else [f"{logical}_{j}" for j in range(len(leaves))]
                        )
                        sub[logical] = [
                            (nm, self.atoms.find(a)) for nm, a in zip(names, leaves, strict=True)
                        ]

            def dims_of(
                tensor: str, dims: list[str], sub: dict[str, list[tuple[str, int]]] = sub
            ) -> tuple[str, ...]:
                return tuple(
                    nm
                    for k, lg in enumerate(dims)
                    if self.shapes[tensor][k] > 1
                    for nm, _ in sub[lg]
                )

            inputs: list[Operand] = []
            token: str | None = None
            for tensor, dims in pl.operands:
                source = self.source_of[tensor]
                if source not in declared and source not in {lay.name for lay in layers}:
                    continue  # a constant with no dims of size > 1: folded into the operation
                op_dims = dims_of(tensor, dims)
                inputs.append(Operand(tensor=source, dims=op_dims))
                pos = token_pos.get(source)
                if token is None and pos is not None:
                    token = op_dims[pos]
            out_dims = dims_of(pl.output, pl.out_dims)
            if not inputs or not out_dims:
                raise input_error(
                    self.source,
                    f"node {pl.label!r}",
                    "needs a tensor input and an output with a dim larger than 1",
                )
            loops = {nm: self.atoms.size[a] for lg in pl.loops for nm, a in sub.get(lg, [])}
            layers.append(
                Layer(
                    name=pl.name,
                    op=pl.op,
                    function=pl.function,
                    loops=loops,
                    inputs=tuple(inputs),
                    output=Output(dims=out_dims, bits=self._bits(pl.output)),
                    token_dim=token,
                    row_dims=tuple(nm for lg in pl.row_dims for nm, _ in sub.get(lg, [])),
                )
            )
            token_pos[pl.name] = out_dims.index(token) if token in out_dims else None
        layer_names = {lay.name for lay in layers}
        outputs = tuple(
            dict.fromkeys(
                self.source_of[o.name]
                for o in self.graph.output
                if self.source_of.get(o.name) in layer_names
            )
        )
        return Workload(
            name=name,
            description=f"imported from {self.source}",
            tensors=declared,
            layers=tuple(layers),
            outputs=outputs,
        )

    # --- nodes ---

    def _node(self, index: int, node: onnx.NodeProto) -> None:
        op = node.op_type
        label = node.name or f"{op}_{index}"
        if op not in SUPPORTED:
            raise input_error(
                self.source,
                f"node {label!r}",
                f"unsupported ONNX operator {op!r}; supported: {', '.join(SUPPORTED)}",
            )
        if op == "Constant":
            out = node.output[0]
            value = _attr(node, "value", None)
            if value is None:
                raise input_error(
                    self.source, f"node {label!r}", "Constant without a tensor 'value'"
                )
            arr = numpy_helper.to_array(value)
            self.shapes[out] = tuple(arr.shape)
            self.bits[out] = _BITS.get(value.data_type, 32)
            if arr.ndim:
                self._declare(out, "weight")
            else:
                self.consts[out] = ()
            return
        if op in SHAPE_ONLY:
            self._alias(label, node)
            return
        out_name = node.output[0]
        out_shape = self._shape(out_name, node)
        layer_name = _ident(node.name or f"{op}_{index}", self.used)
        ins = [n for n in node.input if n]
        if op in ("MatMul", "Gemm"):
            self._matmul(layer_name, node, ins, out_shape)
        elif op == "Transpose":
            rank = len(out_shape)
            perm = list(_attr(node, "perm", list(reversed(range(rank)))))
            loops = {f"a{k}": self._shape(ins[0], node)[k] for k in range(rank)}
            self._emit(
                layer_name,
                node,
                "transpose",
                "",
                loops,
                [(ins[0], list(loops))],
                [f"a{p}" for p in perm],
                (),
            )
        elif op == "Softmax":
            rank = len(out_shape)
            axis = int(_attr(node, "axis", -1)) % rank
            loops = {f"a{k}": s for k, s in enumerate(out_shape)}
            self._emit(
                layer_name,
                node,
                "softmax",
                "",
                loops,
                [(ins[0], list(loops))],
                list(loops),
                (f"a{axis}",),
            )
        elif op == "LayerNormalization":
            rank = len(out_shape)
            axis = int(_attr(node, "axis", -1)) % rank
            loops = {f"a{k}": s for k, s in enumerate(out_shape)}
            out_dims = list(loops)
            operands = [(n, self._broadcast_dims(n, loops, node)) for n in ins]
            self._emit(
                layer_name,
                node,
                "layernorm",
                "",
                loops,
                operands,
                out_dims,
                tuple(f"a{k}" for k in range(axis, rank)),
            )
        elif op == "ReduceMean":
            in_shape = self._shape(ins[0], node)
            rank = len(in_shape)
            axes_attr = _attr(node, "axes", None)
            if axes_attr is None and len(ins) > 1:
                axes_attr = [int(v) for v in numpy_helper.to_array(self._initializer(ins[1], node))]
                ins = ins[:1]
            axes = sorted({int(a) % rank for a in (axes_attr or range(rank))})
            keep = int(_attr(node, "keepdims", 1))
            loops = {f"a{k}": s for k, s in enumerate(in_shape)}
            kept: list[str] = []
            for k in range(rank):
                if k not in axes:
                    kept.append(f"a{k}")
                elif keep:
                    loops[f"u{k}"] = 1
                    kept.append(f"u{k}")
            self._emit(
                layer_name,
                node,
                "elementwise",
                "reduce_mean",
                loops,
                [(ins[0], [f"a{k}" for k in range(rank)])],
                kept,
                (),
            )
        else:
            kind = "add" if op == "Add" else ("activation" if op in ACTIVATIONS else "elementwise")
            function = "add" if op == "Add" else ACTIVATIONS.get(op) or ELEMENTWISE[op]
            loops = {f"a{k}": s for k, s in enumerate(out_shape)}
            out_dims = list(loops)
            operands = [(n, self._broadcast_dims(n, loops, node)) for n in ins]
            self._emit(layer_name, node, kind, function, loops, operands, out_dims, ())

    def _initializer(self, name: str, node: onnx.NodeProto) -> onnx.TensorProto:
        for init in self.graph.initializer:
            if init.name == name:
                return init
        raise input_error(
            self.source, f"node {node.name or node.op_type!r}", f"{name!r} must be an initializer"
        )

    def _broadcast_dims(self, name: str, loops: dict[str, int], node: onnx.NodeProto) -> list[str]:
        """Right-aligned numpy broadcasting: loop per input axis; size-1 axes get size-1 loops."""
        shape = self._shape(name, node)
        out_rank = sum(1 for d in loops if d.startswith("a"))
        dims: list[str] = []
        for k, s in enumerate(shape):
            axis = out_rank - len(shape) + k
            loop = f"a{axis}"
            if s == loops.get(loop):
                dims.append(loop)
            else:
                dummy = _dummy(loops)
                dims.append(dummy)
        return dims

    def _matmul(
        self, layer_name: str, node: onnx.NodeProto, ins: list[str], out_shape: tuple[int, ...]
    ) -> None:
        a_shape, b_shape = self._shape(ins[0], node), self._shape(ins[1], node)
        if node.op_type == "Gemm":
            ta, tb = int(_attr(node, "transA", 0)), int(_attr(node, "transB", 0))
            m, k = (a_shape[1], a_shape[0]) if ta else a_shape
            n = b_shape[0] if tb else b_shape[1]
            loops = {"m": m, "k": k, "n": n}
            a_dims = ["k", "m"] if ta else ["m", "k"]
            b_dims = ["n", "k"] if tb else ["k", "n"]
            operands = [(ins[0], a_dims), (ins[1], b_dims)]
            if len(ins) > 2 and self._shape(ins[2], node):
                bias_loops = {"a0": m, "a1": n}
                bias = self._broadcast_dims(ins[2], bias_loops, node)
                rename = {"a0": "m", "a1": "n"}
                for d, s in bias_loops.items():
                    if d.startswith("u"):
                        loops[d] = s
                operands.append((ins[2], [rename.get(d, d) for d in bias]))
            self._emit(layer_name, node, "matmul", "gemm", loops, operands, ["m", "n"], ())
            return
        if len(a_shape) < 2 or len(b_shape) < 2:
            raise input_error(
                self.source,
                f"node {node.name or 'MatMul'!r}",
                "MatMul of rank-1 tensors is not supported",
            )
        batch = out_shape[:-2]
        loops = {f"b{i}": s for i, s in enumerate(batch)}
        loops.update({"m": a_shape[-2], "k": a_shape[-1], "n": b_shape[-1]})

        def bdims(shape: tuple[int, ...]) -> list[str]:
            out: list[str] = []
            for j, s in enumerate(shape[:-2]):
                axis = len(batch) - (len(shape) - 2) + j
                if s == batch[axis]:
                    out.append(f"b{axis}")
                else:
                    dummy = _dummy(loops)
                    out.append(dummy)
            return out

        a_dims = [*bdims(a_shape), "m", "k"]
        b_dims = [*bdims(b_shape), "k", "n"]
        self._emit(
            layer_name,
            node,
            "matmul",
            "",
            loops,
            [(ins[0], a_dims), (ins[1], b_dims)],
            [*(f"b{i}" for i in range(len(batch))), "m", "n"],
            (),
        )

    def _alias(self, label: str, node: onnx.NodeProto) -> None:
        """A shape-only node: its output is its input, read through regrouped dims."""
        src_name, out_name = node.input[0], node.output[0]
        self._shape(src_name, node)
        self._shape(out_name, node)
        if src_name not in self.source_of:
            raise input_error(
                self.source, f"node {label!r}", f"input {src_name!r} is not produced before use"
            )
        self.source_of[out_name] = self.source_of[src_name]
        self.ties.append((self._axes(src_name), self._axes(out_name), label))

    def _emit(
        self,
        layer_name: str,
        node: onnx.NodeProto,
        op: str,
        function: str,
        loops: dict[str, int],
        operands: Sequence[tuple[str, list[str]]],
        out_dims: list[str],
        row_dims: tuple[str, ...],
    ) -> None:
        """Record a layer; its dims are cut into atoms once the whole graph has been read."""
        label = node.name or node.op_type
        kept: list[tuple[str, list[str]]] = []
        for name, dims in operands:
            if name in self.consts and not self.consts[name]:
                continue  # a scalar constant: folded into the operation
            if name not in self.source_of:
                raise input_error(
                    self.source, f"node {label!r}", f"input {name!r} is not produced before use"
                )
            kept.append((name, dims))
        out_name = node.output[0]
        bound: dict[str, list[tuple[str, int]]] = {}
        for name, dims in [*kept, (out_name, out_dims)]:
            for k, logical in enumerate(dims):
                if self.shapes[name][k] > 1:
                    bound.setdefault(logical, []).append((name, k))
        for pairs in bound.values():
            for other in pairs[1:]:
                self.ties.append(([pairs[0]], [other], label))
        self.pending_layers.append(
            _PendingLayer(
                name=layer_name,
                label=label,
                op=op,
                function=function,
                loops=list(loops),
                operands=kept,
                output=out_name,
                out_dims=list(out_dims),
                row_dims=row_dims,
            )
        )
        self.source_of[out_name] = layer_name


def workload_from_onnx(
    model: onnx.ModelProto,
    source: str = "model.onnx",
    *,
    bits: int | None = None,
    name: str | None = None,
) -> Workload:
    """Turn an in-memory ONNX model into a workload (`bits` overrides every tensor's precision)."""
    return _Importer(model, source, bits).run(name or model.graph.name or Path(source).stem)


def load_onnx(path: str | Path, *, bits: int | None = None) -> Workload:
    """Load an ONNX file as a workload; unsupported operators are errors naming the node."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise input_error(str(path), "", "empty file (0 bytes); expected an ONNX model")
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise input_error(str(path), "", "file not found") from None
    except Exception as exc:  # onnx's protobuf decode errors have no common base
        raise input_error(str(path), "", f"not a readable ONNX model: {exc}") from None
    return workload_from_onnx(model, str(path), bits=bits, name=path.stem)


__all__ = ["SUPPORTED", "FieldProblem", "InputError", "load_onnx", "workload_from_onnx"]
