"""Importing an ONNX graph as a workload: one layer per compute node, shapes by ONNX inference.

Supported: MatMul, Gemm, Transpose, Softmax, Add, Sub, Mul, Div, Sqrt, Pow, ReduceMean,
LayerNormalization, Gelu, Erf, Relu, Sigmoid, Tanh, Constant, and the shape-only nodes
Reshape, Flatten, Squeeze, Unsqueeze, Identity, which become no task: a consumer reads the
producer's tensor through them. A shape-only node may add or remove size-1 dims (so its index
map stays exact); one that regroups dims of other sizes is reported as an error.

Initializers (and Constant outputs) are weights, the other graph inputs are graph inputs;
rank-0 constants (scales, exponents) are folded into the operation. The token dim of a graph
input of rank r is its axis r-2 (axis 0 for rank 1); every layer's token loop is the one that
indexes the token axis of its first operand that has one, and is carried to its output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import helper, numpy_helper, shape_inference

from cpsched.errors import FieldProblem, InputError, input_error
from cpsched.workload.load import check_workload
from cpsched.workload.spec import DeclaredTensor, Layer, Operand, Output, Workload

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


@dataclass(frozen=True)
class _View:
    """How a tensor name is read: a source tensor, and the source axis of each of its axes."""

    source: str
    axes: tuple[int | None, ...]  # per axis of this name: source axis, or None (a size-1 dim)


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
        self.views: dict[str, _View] = {}
        self.token_axis: dict[str, int | None] = {}
        self.declared: dict[str, DeclaredTensor] = {}
        self.layers: list[Layer] = []
        self.used: set[str] = set()
        self.layer_of: dict[str, str] = {}  # ONNX tensor name -> layer name that produces it

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
        shape = self.shapes[name]
        tname = _ident(name, self.used)
        self.declared[tname] = DeclaredTensor(kind=kind, shape=shape, bits=self._bits(name))
        self.views[name] = _View(tname, tuple(range(len(shape))))
        rank = len(shape)
        self.token_axis[name] = None if kind == "weight" else (max(rank - 2, 0) if rank else None)

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
        for index, node in enumerate(self.graph.node):
            self._node(index, node)
        outputs = tuple(
            dict.fromkeys(
                self.views[o.name].source
                for o in self.graph.output
                if o.name in self.views and self.views[o.name].source in self.layer_of.values()
            )
        )
        wl = Workload(
            name=name,
            description=f"imported from {self.source}",
            tensors=self.declared,
            layers=tuple(self.layers),
            outputs=outputs,
        )
        return check_workload(wl, self.source)

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
        out_rank = len(loops)
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
        src_name, out_name = node.input[0], node.output[0]
        in_shape, out_shape = self._shape(src_name, node), self._shape(out_name, node)
        if [s for s in in_shape if s != 1] != [s for s in out_shape if s != 1]:
            raise input_error(
                self.source,
                f"node {label!r}",
                f"{node.op_type} from {list(in_shape)} to {list(out_shape)} regroups dims; "
                "shape-only nodes may only add or remove size-1 dims "
                "(keep tensors in their compute layout)",
            )
        base = self.views.get(src_name)
        if base is None:
            raise input_error(
                self.source, f"node {label!r}", f"input {src_name!r} is not produced before use"
            )
        big_in = [k for k, s in enumerate(in_shape) if s != 1]
        big_out = [k for k, s in enumerate(out_shape) if s != 1]
        mapping: list[int | None] = [None] * len(out_shape)
        for ko, ki in zip(big_out, big_in, strict=True):
            mapping[ko] = base.axes[ki]
        self.views[out_name] = _View(base.source, tuple(mapping))
        tok = self.token_axis.get(src_name)
        self.token_axis[out_name] = (
            big_out[big_in.index(tok)] if tok is not None and tok in big_in else None
        )
        if base.source in self.layer_of.values():
            self.layer_of[out_name] = base.source

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
        label = node.name or node.op_type
        inputs: list[Operand] = []
        token: str | None = None
        for name, dims in operands:
            if name in self.consts and not self.consts[name]:
                continue  # a scalar constant: folded into the operation
            view = self.views.get(name)
            if view is None:
                raise input_error(
                    self.source, f"node {label!r}", f"input {name!r} is not produced before use"
                )
            src_rank = (
                len(self.declared[view.source].shape)
                if view.source in self.declared
                else len(next(lay for lay in self.layers if lay.name == view.source).output.dims)
            )
            src_dims: list[str] = []
            for s in range(src_rank):
                if s in view.axes:
                    src_dims.append(dims[view.axes.index(s)])
                else:
                    dummy = _dummy(loops)
                    src_dims.append(dummy)
            inputs.append(Operand(tensor=view.source, dims=tuple(src_dims)))
            tok = self.token_axis.get(name)
            if token is None and tok is not None and loops[dims[tok]] > 1:
                token = dims[tok]
        if not inputs:
            raise input_error(self.source, f"node {label!r}", "has no tensor inputs (only scalars)")
        self.layers.append(
            Layer(
                name=layer_name,
                op=op,
                function=function,
                loops=dict(loops),
                inputs=tuple(inputs),
                output=Output(dims=tuple(out_dims), bits=self._bits(node.output[0])),
                token_dim=token,
                row_dims=row_dims,
            )
        )
        out_name = node.output[0]
        self.views[out_name] = _View(layer_name, tuple(range(len(out_dims))))
        self.layer_of[out_name] = layer_name
        self.token_axis[out_name] = out_dims.index(token) if token in out_dims else None


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
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise input_error(str(path), "", "file not found") from None
    except Exception as exc:  # onnx's protobuf decode errors have no common base
        raise input_error(str(path), "", f"not a readable ONNX model: {exc}") from None
    return workload_from_onnx(model, str(path), bits=bits, name=path.stem)


__all__ = ["SUPPORTED", "FieldProblem", "InputError", "load_onnx", "workload_from_onnx"]
