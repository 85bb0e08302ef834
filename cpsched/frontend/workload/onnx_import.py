"""Importing an ONNX graph as a workload: one layer per compute node, shapes by ONNX inference.

The graph is first folded (:mod:`.onnx_fold`): every node whose inputs are known before run time
(shape chains, masks, picked weight rows) becomes an initializer. The operators read after that
are listed in :mod:`.onnx_ops`. Shape-only nodes (Reshape, Flatten, Squeeze, Unsqueeze, Identity,
Dropout) become no task: a consumer reads the producer's tensor through them. To keep every
index map exact through a Reshape, dims are cut into their common refinement ("atoms") across
the graph: a Reshape of [M, D] into [M, H, D/H] makes D two dims (H, D/H) in every tensor and loop
it is tied to (the projection weights, the producer's output), so head-wise tiles read exactly
their heads. A Reshape that cuts a dim at a size that does not divide it (e.g. [6, 4] -> [4, 6])
is an error. Size-1 dims are dropped.

Views (Split, Slice, Gather with constant indices) are no task either: a part [start, stop) of
an axis of size n cuts it into atoms (n/g, g), g = gcd(start, stop, n), and the consumer reads
the whole tensor through offsets (a fixed index in the outer atoms): the q of a fused QKV
projection [T, 3D] is index 0 of [T, 3, H, D/H]. Concat is a movement layer whose operands fill
their parts of the output, Expand one that broadcasts.

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
from cpsched.frontend.workload.onnx_fold import fold_constants
from cpsched.frontend.workload.onnx_ops import (
    ACTIVATIONS,
    ELEMENTWISE,
    REDUCTIONS,
    SHAPE_ONLY,
    SUPPORTED,
    VIEWS,
)
from cpsched.frontend.workload.precision import Precision
from cpsched.frontend.workload.spec import DeclaredTensor, Layer, Operand, Output, Workload
from cpsched.model.errors import FieldProblem, InputError, input_error
from cpsched.model.io import validation_problems

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
    onnx.TensorProto.FLOAT8E4M3FN: 8,
    onnx.TensorProto.FLOAT8E4M3FNUZ: 8,
    onnx.TensorProto.FLOAT8E5M2: 8,
    onnx.TensorProto.FLOAT8E5M2FNUZ: 8,
    onnx.TensorProto.INT4: 4,
    onnx.TensorProto.UINT4: 4,
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
    # Concat: per operand, the [start, stop) it fills along the output's axis `concat_axis`
    concat: list[tuple[int, int]] | None = None
    concat_axis: int = 0
    # Conv: operand -> {axis: (output loop, stride, kernel loop, dilation, padding before)}
    windows: dict[int, dict[int, tuple[str, int, str, int, int]]] | None = None
    # a grouped Conv's input channel dims: named after the loops holding the same atoms
    regroup: str | None = None


@dataclass(frozen=True)
class _View:
    """A tensor that is part of another along one axis: [start, stop), both cut by `grain`."""

    axis: int
    start: int
    stop: int
    grain: int


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
    def __init__(self, model: onnx.ModelProto, source: str, precision: Precision) -> None:
        self.source = source
        self.precision = precision
        model = fold_constants(model, source)
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
        # a tensor read through another: (the other, None) for a reshape, (the other, view)
        self.parent_of: dict[str, tuple[str, _View | None]] = {}
        self.kind_of: dict[str, str] = {}  # declared ONNX tensor -> "input" | "weight"

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

    def _bits(self, name: str, kind: str) -> int:
        """Bits of a tensor: the precision given for its kind, else its ONNX element type."""
        given = self.precision.weights if kind == "weight" else self.precision.activations
        return given or self.bits.get(name, 32)

    def _declare(self, name: str, kind: str) -> None:
        tname = _ident(name, self.used)
        self.pending_tensors.append((name, tname, kind))
        self.source_of[name] = tname
        self.kind_of[name] = kind
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
                "the ONNX graph has no nodes to schedule (none, or only constants, which fold "
                "away); a workload needs at least one operator "
                f"({', '.join(SUPPORTED)})",
            )
        self._check_operators()
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

    def _check_operators(self) -> None:
        """Every unsupported operator in one error: its op type, how many nodes, the first."""
        found: dict[str, list[str]] = {}
        for index, node in enumerate(self.graph.node):
            if node.op_type not in SUPPORTED:
                found.setdefault(node.op_type, []).append(node.name or f"{node.op_type}_{index}")
        problems = []
        for op, labels in found.items():
            count = "" if len(labels) == 1 else f" ({len(labels)} nodes, the first named)"
            problems.append(
                FieldProblem(f"node {labels[0]!r}", f"unsupported ONNX operator {op!r}{count}")
            )
        if problems:
            first = problems[0]
            problems[0] = FieldProblem(
                first.path, f"{first.message}; supported: {', '.join(SUPPORTED)}"
            )
            raise InputError(self.source, tuple(problems))

    def _leaf_roots(self, name: str) -> list[int]:
        """The atoms of a tensor, all axes, outermost first."""
        return [
            self.atoms.find(a) for k in range(len(self.shapes[name])) for a in self._leaves(name, k)
        ]

    def _chain(self, name: str, label: str) -> list[tuple[int | None, int]]:
        """How a tensor read through reshapes and views maps onto the tensor that holds it: for
        each atom of that tensor, the atom of `name` that indexes it (None: a fixed index) and
        the offset added."""
        if name not in self.parent_of:
            return [(i, 0) for i in range(len(self._leaf_roots(name)))]
        src, view = self.parent_of[name]
        base = self._chain(src, label)
        if view is None:
            if self._leaf_roots(src) != self._leaf_roots(name):
                raise input_error(
                    self.source, f"node {label!r}", "a reshape regroups dims out of order"
                )
            return base
        step = self._view_map(src, name, view, label)
        out: list[tuple[int | None, int]] = []
        for pos, off in base:
            if pos is None:
                out.append((None, off))
            else:
                out.append((step[pos][0], off + step[pos][1]))
        return out

    def _view_map(
        self, src: str, name: str, view: _View, label: str
    ) -> list[tuple[int | None, int]]:
        """For each atom of `src`, the atom of its view `name` that indexes it (or None) and
        the offset: a slice [start, stop) of an axis whose atoms are (outer..., inner...) with
        the inner atoms shared is a box in the outer atoms' grid, or not exact."""
        out: list[tuple[int | None, int]] = []
        pos = 0
        for k in range(len(self.shapes[src])):
            if k != view.axis:
                n = len(self._leaves(src, k))
                out += [(pos + i, 0) for i in range(n)]
                pos += n
                continue
            radix = [self.atoms.size[a] for a in self._leaves(f"{name}#s", 0)]
            view_outer = [self.atoms.size[a] for a in self._leaves(f"{name}#v", 0)]
            start, length = view.start // view.grain, (view.stop - view.start) // view.grain
            strides = [math.prod(radix[i + 1 :]) for i in range(len(radix))]
            for j, st in enumerate(strides):
                if length % st == 0 and length // st <= radix[j]:
                    break
            else:  # pragma: no cover - the last stride is 1
                j = len(radix) - 1
            q = length // strides[j]
            first = (start // strides[j]) % radix[j]
            want = ([q] if q > 1 else []) + radix[j + 1 :]
            if start % strides[j] or first + q > radix[j] or want != view_outer:
                raise input_error(
                    self.source,
                    f"node {label!r}",
                    f"a slice [{view.start}:{view.stop}] of a dim cut into {radix} x "
                    f"{view.grain} is not a box of its parts; cannot keep index maps exact",
                )
            for i in range(len(radix)):
                if i < j:
                    out.append((None, (start // strides[i]) % radix[i]))
                elif i == j:
                    out.append((pos, first) if q > 1 else (None, first))
                else:
                    out.append((pos + i - j - (0 if q > 1 else 1), 0))
            pos += len(view_outer)
            inner = len(self._leaves(f"{name}#v", 1))
            out += [(pos + i, 0) for i in range(inner)]
            pos += inner
        return out

    def _concat_names(
        self,
        pl: _PendingLayer,
        j: int,
        tensor: str,
        sub: dict[str, list[tuple[str, int]]],
    ) -> tuple[list[str], list[int], list[str]]:
        """A Concat's operand `j`: the layer loop indexing each atom of `tensor`, the offset on
        it, and the output's loops this operand has no dim for (they must stay whole)."""
        assert pl.concat is not None
        axis = pl.concat_axis
        names: list[str] = []
        offsets: list[int] = []
        hidden: list[str] = []
        out_loops = [nm for nm, _ in sub.get(f"a{axis}", [])]
        n_outer = len(self._leaves(f"{pl.output}#c", 0))
        for k in range(len(self.shapes[tensor])):
            if k != axis:
                leaves = self._leaves(tensor, k)
                loops = [nm for nm, _ in sub[f"a{k}"]] if leaves else []
                names += loops
                offsets += [0] * len(loops)
                continue
            own_outer = self._leaves(f"{pl.output}#c{j}", 0)
            inner = out_loops[n_outer:]
            start = pl.concat[j][0] // (self.shapes[f"{pl.output}#c"][1])
            if not own_outer:
                hidden += out_loops[:n_outer]
            elif len(own_outer) == 1 and n_outer == 1:
                names.append(out_loops[0])
                offsets.append(-start)
            else:
                raise input_error(
                    self.source,
                    f"node {pl.label!r}",
                    "a Concat along a dim that is reshaped differently on its two sides; "
                    "cannot keep index maps exact",
                )
            names += inner
            offsets += [0] * len(inner)
        return names, offsets, hidden

    def _window_names(
        self,
        pl: _PendingLayer,
        tensor: str,
        dims: list[str],
        window: dict[int, tuple[str, int, str, int, int]],
        sub: dict[str, list[tuple[str, int]]],
        fixed: dict[str, int],
    ) -> tuple[list[str], list[int], list[int], list[str], list[int]]:
        """A Conv input: per atom of `tensor`, the loop, offset, stride, kernel loop and
        dilation of its index map; a windowed axis must be one atom
        (row = stride * out + dilation * kernel - pad)."""
        names: list[str] = []
        shifts: list[int] = []
        steps: list[int] = []
        kernels: list[str] = []
        dilations: list[int] = []
        for k, logical in enumerate(dims):
            leaves = self._leaves(tensor, k)
            if k not in window:
                loops = [nm for nm, _ in sub[logical]] if leaves else []
                names += loops
                shifts += [0] * len(loops)
                steps += [1] * len(loops)
                kernels += [""] * len(loops)
                dilations += [1] * len(loops)
                continue
            if not leaves:
                continue
            out_loop, stride, kernel_loop, dilation, pad = window[k]
            out_names = [nm for nm, _ in sub.get(out_loop, [])]
            kernel_names = [nm for nm, _ in sub.get(kernel_loop, [])]
            if len(leaves) > 1 or len(out_names) > 1 or len(kernel_names) > 1:
                raise input_error(
                    self.source,
                    f"node {pl.label!r}",
                    "a convolution over a dim that a reshape cuts; cannot keep index maps exact",
                )
            if out_names:
                names.append(out_names[0])
                steps.append(stride)
                kernels.append(kernel_names[0] if kernel_names else "")
                dilations.append(dilation if kernel_names else 1)
            elif kernel_names:  # one output position: the kernel loop walks the rows
                names.append(kernel_names[0])
                steps.append(dilation)
                kernels.append("")
                dilations.append(1)
            else:
                loop = f"x{len(fixed)}"
                fixed[loop] = 1
                names.append(loop)
                steps.append(1)
                kernels.append("")
                dilations.append(1)
            shifts.append(-pad)
        return names, shifts, steps, kernels, dilations

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
                    bits=self._bits(onnx_name, kind),
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

            if pl.regroup is not None:
                by_root = {root: nm for lg in pl.loops for nm, root in sub.get(lg, [])}
                sub[pl.regroup] = [
                    (by_root.get(root, nm), root) for nm, root in sub.get(pl.regroup, [])
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
            fixed: dict[str, int] = {}  # size-1 loops for the fixed indices of views
            hidden: list[str] = []  # a Concat's loops that an operand has no dim for
            for j, (tensor, dims) in enumerate(pl.operands):
                source = self.source_of[tensor]
                if source not in declared and source not in {lay.name for lay in layers}:
                    continue  # a constant with no dims of size > 1: folded into the operation
                window = (pl.windows or {}).get(j)
                steps: list[int] = []
                kernels: list[str] = []
                dils: list[int] = []
                if window is not None:
                    names, shifts, steps, kernels, dils = self._window_names(
                        pl, tensor, dims, window, sub, fixed
                    )
                elif pl.concat is None:
                    names = list(dims_of(tensor, dims))
                    shifts = [0] * len(names)
                else:
                    names, shifts, more = self._concat_names(pl, j, tensor, sub)
                    hidden += more
                op_dims: list[str] = []
                offsets: list[int] = []
                strides: list[int] = []
                kernel: list[str] = []
                dilation: list[int] = []
                chain = self._chain(tensor, pl.label)
                for pos, off in chain:
                    if pos is None:
                        loop = f"x{len(fixed)}"
                        fixed[loop] = 1
                        op_dims.append(loop)
                        offsets.append(off)
                        strides.append(1)
                        kernel.append("")
                        dilation.append(1)
                    else:
                        op_dims.append(names[pos])
                        offsets.append(off + shifts[pos])
                        strides.append(steps[pos] if steps else 1)
                        kernel.append(kernels[pos] if kernels else "")
                        dilation.append(dils[pos] if dils else 1)
                windowed = any(s != 1 for s in strides) or any(kernel)
                dilated = any(d != 1 for d in dilation)
                shifted = (
                    any(pos is None for pos, _ in chain)
                    or any(offsets)
                    or windowed
                    or any(d in fixed for d in op_dims)
                )
                inputs.append(
                    Operand(
                        tensor=source,
                        dims=tuple(op_dims),
                        offsets=tuple(offsets) if shifted else (),
                        strides=tuple(strides) if windowed else (),
                        kernel=tuple(kernel) if windowed else (),
                        dilations=tuple(dilation) if dilated else (),
                    )
                )
                pos = token_pos.get(source)
                if token is None and pos is not None and op_dims[pos] not in fixed:
                    token = op_dims[pos]
            out_dims = dims_of(pl.output, pl.out_dims)
            if pl.windows is not None:  # a Conv's tokens are its first output positions
                rows = [nm for nm, _ in sub.get("o0", [])]
                token = rows[0] if rows else None
            if not inputs or not out_dims:
                raise input_error(
                    self.source,
                    f"node {pl.label!r}",
                    "needs a tensor input and an output with a dim larger than 1",
                )
            loops = {nm: self.atoms.size[a] for lg in pl.loops for nm, a in sub.get(lg, [])}
            loops.update(fixed)
            layers.append(
                Layer(
                    name=pl.name,
                    op=pl.op,
                    function=pl.function,
                    loops=loops,
                    inputs=tuple(inputs),
                    output=Output(dims=out_dims, bits=self._bits(pl.output, "activation")),
                    token_dim=token,
                    row_dims=tuple(
                        dict.fromkeys(
                            [*(nm for lg in pl.row_dims for nm, _ in sub.get(lg, [])), *hidden]
                        )
                    ),
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
        read = {op.tensor for layer in layers for op in layer.inputs}
        return Workload(
            name=name,
            description=f"imported from {self.source}",
            tensors={k: v for k, v in declared.items() if k in read},  # not Reshape targets
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
        if op in SHAPE_ONLY or (op == "DequantizeLinear" and self._is_weight(node.input[0])):
            self._alias(label, node)  # a quantized weight is read as stored (its own bits)
            return
        if op in VIEWS:
            self._view_node(label, node)
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
        elif op == "Concat":
            self._concat(layer_name, node, ins, out_shape)
        elif op == "Conv":
            self._conv(layer_name, node, ins, out_shape)
        elif op == "Expand":
            loops = {f"a{k}": s for k, s in enumerate(out_shape)}
            out_dims = list(loops)
            operands = [(ins[0], self._broadcast_dims(ins[0], loops, node))]
            self._emit(layer_name, node, "transpose", "expand", loops, operands, out_dims, ())
        elif op in ("LayerNormalization", "RMSNormalization"):
            rank = len(out_shape)
            axis = int(_attr(node, "axis", -1)) % rank
            loops = {f"a{k}": s for k, s in enumerate(out_shape)}
            out_dims = list(loops)
            operands = [(n, self._broadcast_dims(n, loops, node)) for n in ins]
            self._emit(
                layer_name,
                node,
                "layernorm" if op == "LayerNormalization" else "rmsnorm",
                "",
                loops,
                operands,
                out_dims,
                tuple(f"a{k}" for k in range(axis, rank)),
            )
        elif op in REDUCTIONS:
            in_shape = self._shape(ins[0], node)
            rank = len(in_shape)
            axes_attr = _attr(node, "axes", None)
            if axes_attr is None and len(ins) > 1:
                axes_attr = [int(v) for v in numpy_helper.to_array(self._initializer(ins[1], node))]
                ins = ins[:1]
            if not axes_attr and int(_attr(node, "noop_with_empty_axes", 0)):
                raise input_error(
                    self.source, f"node {label!r}", f"{op} with no axes and noop_with_empty_axes"
                )
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
                REDUCTIONS[op],
                loops,
                [(ins[0], [f"a{k}" for k in range(rank)])],
                kept,
                (),
            )
        else:
            if op in ("CastLike", "QuantizeLinear", "DequantizeLinear"):
                ins = ins[:1]  # the others give the element type, scales and zero points
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
        self.parent_of[out_name] = (src_name, None)
        self.ties.append((self._axes(src_name), self._axes(out_name), label))

    def _is_weight(self, name: str) -> bool:
        """Whether a tensor is a declared weight (an initializer or constant), or read
        through reshapes or views of one."""
        while name in self.parent_of:
            name = self.parent_of[name][0]
        return self.kind_of.get(name) == "weight"

    def _constant(self, name: str, node: onnx.NodeProto, what: str) -> list[int]:
        """The integer values of a constant input (an initializer once constants are folded)."""
        for init in self.graph.initializer:
            if init.name == name:
                return [int(v) for v in numpy_helper.to_array(init).reshape(-1)]
        raise input_error(
            self.source,
            f"node {node.name or node.op_type!r}",
            f"{what} {name!r} is computed at run time; it must be a constant",
        )

    def _view_node(self, label: str, node: onnx.NodeProto) -> None:
        """Split, Slice, Gather with constant indices: parts of a tensor, read in place."""
        op, src = node.op_type, node.input[0]
        shape = self._shape(src, node)
        rank = len(shape)
        if src not in self.source_of:
            raise input_error(
                self.source, f"node {label!r}", f"input {src!r} is not produced before use"
            )
        if op == "Split":
            axis = int(_attr(node, "axis", 0)) % rank
            start = 0
            for out in node.output:
                if not out:
                    continue
                size = self._shape(out, node)[axis]
                self._make_view(src, out, [(axis, start, start + size)], label)
                start += size
            return
        out = node.output[0]
        if op == "Slice":
            starts = self._constant(node.input[1], node, "Slice start")
            ends = self._constant(node.input[2], node, "Slice end")
            given = [n for n in node.input[3:] if n]
            axes = self._constant(node.input[3], node, "Slice axis") if given else None
            steps = (
                self._constant(node.input[4], node, "Slice step")
                if len(node.input) > 4 and node.input[4]
                else [1] * len(starts)
            )
            cuts: list[tuple[int, int, int]] = []
            for k, (b, e, st) in enumerate(zip(starts, ends, steps, strict=True)):
                axis = (axes[k] if axes is not None else k) % rank
                if st != 1:
                    raise input_error(
                        self.source,
                        f"node {label!r}",
                        f"Slice with step {st}: only step 1 (a contiguous part) is supported",
                    )
                n = shape[axis]
                b = min(max(b + n if b < 0 else b, 0), n)
                e = min(max(e + n if e < 0 else e, 0), n)
                if (b, e) != (0, n):
                    cuts.append((axis, b, e))
            self._make_view(src, out, cuts, label)
            return
        # Gather with constant indices: one index drops the axis, a run of indices is a slice.
        axis = int(_attr(node, "axis", 0)) % rank
        if not any(init.name == node.input[1] for init in self.graph.initializer):
            raise input_error(
                self.source,
                f"node {label!r}",
                f"Gather with indices {node.input[1]!r} computed at run time (an embedding "
                "lookup) is not supported; export the model from the embeddings' output on",
            )
        values = self._constant(node.input[1], node, "Gather index")
        values = [v + shape[axis] if v < 0 else v for v in values]
        scalar = not self._shape(node.input[1], node)
        if not values or values != list(range(values[0], values[0] + len(values))):
            raise input_error(
                self.source,
                f"node {label!r}",
                f"Gather of indices {values[:8]} on an activation: only one index or a run of "
                "consecutive indices (a slice) is supported",
            )
        if not scalar and len(self._shape(node.input[1], node)) > 1:
            raise input_error(
                self.source, f"node {label!r}", "Gather with indices of rank > 1 is not supported"
            )
        if not scalar:
            self._make_view(src, out, [(axis, values[0], values[-1] + 1)], label)
            return
        kept = f"{out}#g"  # the slice with its axis of size 1, before the axis is dropped
        self.shapes[kept] = tuple(1 if k == axis else s for k, s in enumerate(shape))
        self._make_view(src, kept, [(axis, values[0], values[0] + 1)], label)
        self._shape(out, node)
        self.source_of[out] = self.source_of[src]
        self.parent_of[out] = (kept, None)
        self.ties.append((self._axes(kept), self._axes(out), label))

    def _make_view(self, src: str, out: str, cuts: list[tuple[int, int, int]], label: str) -> None:
        """`out` is `src` cut to [start, stop) along each (axis, start, stop) of `cuts`.

        Each axis cut becomes a view: the axis of size n is tied to atoms (n/g, g) and the cut
        to (len/g, g) with g the gcd of the bounds, the inner g shared, so a later reshape of
        the part cuts the whole consistently (a fused QKV becomes [tokens, 3, heads, size]).
        """
        shape = list(self.shapes[src])
        current = src
        if not cuts:
            self.source_of[out] = self.source_of[src]
            self.parent_of[out] = (src, None)
            self.ties.append((self._axes(src), self._axes(out), label))
            return
        for i, (axis, start, stop) in enumerate(cuts):
            n = shape[axis]
            if stop <= start:
                raise input_error(self.source, f"node {label!r}", "an empty slice")
            shape[axis] = stop - start
            name = out if i == len(cuts) - 1 else f"{out}#{i}"
            self.shapes[name] = tuple(shape)
            grain = math.gcd(start, stop, n)
            self.shapes[f"{name}#s"] = (n // grain, grain)
            self.shapes[f"{name}#v"] = ((stop - start) // grain, grain)
            self.ties.append(([(current, axis)], [(f"{name}#s", 0), (f"{name}#s", 1)], label))
            self.ties.append(([(name, axis)], [(f"{name}#v", 0), (f"{name}#v", 1)], label))
            self.ties.append(([(f"{name}#s", 1)], [(f"{name}#v", 1)], label))
            for k in range(len(shape)):
                if k != axis:
                    self.ties.append(([(current, k)], [(name, k)], label))
            self.source_of[name] = self.source_of[src]
            self.parent_of[name] = (current, _View(axis, start, stop, grain))
            current = name
        if tuple(shape) != self.shapes.get(out, tuple(shape)):
            raise input_error(
                self.source,
                f"node {label!r}",
                f"the part {shape} does not match the inferred shape {list(self.shapes[out])}",
            )

    def _conv(
        self, layer_name: str, node: onnx.NodeProto, ins: list[str], out_shape: tuple[int, ...]
    ) -> None:
        """Conv (1-D, 2-D, 3-D): a matmul-kind layer over (batch, out channels, in channels,
        output positions, kernel positions); the input is read through windows
        (row = stride * output row + kernel row - padding), halos included.

        Groups cut the channels into (group, per group) atoms, the group shared by input,
        weights and output. Any stride, padding and dilation: where the rows a tile reads have
        gaps (a stride above the kernel's span, a dilation above the tile's rows), tiling cuts
        the input into the runs read (:func:`cpsched.frontend.tiling.read_runs`), so a tile
        depends on exactly the rows it uses.
        """
        label = node.name or node.op_type
        x_shape = self._shape(ins[0], node)
        w_shape = self._shape(ins[1], node)
        spatial = len(x_shape) - 2
        if spatial < 1:
            raise input_error(self.source, f"node {label!r}", "Conv needs an input of rank >= 3")
        group = int(_attr(node, "group", 1))
        strides = [int(v) for v in _attr(node, "strides", [1] * spatial)]
        dilations = [int(v) for v in _attr(node, "dilations", [1] * spatial)]
        kernel = list(w_shape[2:])
        auto = _attr(node, "auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        pads = [int(v) for v in _attr(node, "pads", [0] * 2 * spatial)]
        begin = pads[:spatial]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            for i in range(spatial):
                total = max(
                    (out_shape[2 + i] - 1) * strides[i]
                    + dilations[i] * (kernel[i] - 1)
                    + 1
                    - x_shape[2 + i],
                    0,
                )
                begin[i] = total // 2 if auto == "SAME_UPPER" else total - total // 2
        elif auto == "VALID":
            begin = [0] * spatial
        n, c = x_shape[0], x_shape[1]
        m, c_per_group = w_shape[0], w_shape[1]
        if group == 1:
            channel_out, channel_in = "m", "c"
            loops = {"n": n, "m": m, "c": c}
            w_dims = ["m", "c"]
        elif group == c == m and c_per_group == 1:  # depthwise
            channel_out = channel_in = "g"
            loops = {"n": n, "g": c, "c": 1}
            w_dims = ["g", "c"]
        elif c == group * c_per_group and m % group == 0:
            # Grouped: input channels as (group, per group), output channels as (group, per
            # group), the group atom shared; the input's channel loops are renamed to the
            # output's group loop and the weight's per-group loop once atoms are known.
            channel_out, channel_in = "m", "cin"
            loops = {"n": n, "m": m, "c": c_per_group}
            w_dims = ["m", "c"]
            gin, gout = f"{node.output[0]}#gin", f"{node.output[0]}#gout"
            self.shapes[gin] = (group, c_per_group)
            self.shapes[gout] = (group, m // group)
            self.ties.append(([(ins[0], 1)], [(gin, 0), (gin, 1)], label))
            self.ties.append(([(node.output[0], 1)], [(gout, 0), (gout, 1)], label))
            self.ties.append(([(gin, 0)], [(gout, 0)], label))
            self.ties.append(([(gin, 1)], [(ins[1], 1)], label))
        else:
            raise input_error(
                self.source,
                f"node {label!r}",
                f"Conv with {group} groups of {c_per_group} input channels and {m} outputs: "
                "the groups must divide the input and output channels",
            )
        for i in range(spatial):
            loops[f"o{i}"] = out_shape[2 + i]
            loops[f"k{i}"] = kernel[i]
        x_dims = ["n", channel_in, *(f"i{i}" for i in range(spatial))]
        w_dims += [f"k{i}" for i in range(spatial)]
        out_dims = ["n", channel_out, *(f"o{i}" for i in range(spatial))]
        operands = [(ins[0], x_dims), (ins[1], w_dims)]
        if len(ins) > 2:
            operands.append((ins[2], [channel_out]))
        windows = {
            0: {
                2 + i: (f"o{i}", strides[i], f"k{i}", dilations[i], begin[i])
                for i in range(spatial)
            }
        }
        self._emit(
            layer_name, node, "matmul", "conv", loops, operands, out_dims, (), windows=windows
        )
        if channel_in == "cin":
            self.pending_layers[-1].regroup = "cin"

    def _concat(
        self, layer_name: str, node: onnx.NodeProto, ins: list[str], out_shape: tuple[int, ...]
    ) -> None:
        """Concat: a movement layer; each operand fills [start, stop) of the output's axis.

        The axis is cut into atoms (n/g, g), g the gcd of the bounds, and each input's into
        (len/g, g), the inner g shared, so each operand reads only its own part.
        """
        rank = len(out_shape)
        axis = int(_attr(node, "axis", 0)) % rank
        out = node.output[0]
        label = node.name or node.op_type
        sizes = [self._shape(t, node)[axis] for t in ins]
        bounds = [sum(sizes[:j]) for j in range(len(sizes) + 1)]
        grain = math.gcd(*bounds)
        n = out_shape[axis]
        self.shapes[f"{out}#c"] = (n // grain, grain)
        self.ties.append(([(out, axis)], [(f"{out}#c", 0), (f"{out}#c", 1)], label))
        operands: list[tuple[str, list[str]]] = []
        parts: list[tuple[int, int]] = []
        for j, tensor in enumerate(ins):
            if not sizes[j]:
                continue
            virt = f"{out}#c{len(operands)}"
            self.shapes[virt] = (sizes[j] // grain, grain)
            self.ties.append(([(tensor, axis)], [(virt, 0), (virt, 1)], label))
            self.ties.append(([(virt, 1)], [(f"{out}#c", 1)], label))
            operands.append(
                (tensor, [f"a{k}" if k != axis else f"c{len(operands)}" for k in range(rank)])
            )
            parts.append((bounds[j], bounds[j + 1]))
        loops = {f"a{k}": s for k, s in enumerate(out_shape)}
        self._emit(
            layer_name,
            node,
            "transpose",
            "concat",
            loops,
            operands,
            list(loops),
            (),
            concat=(parts, axis),
        )

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
        concat: tuple[list[tuple[int, int]], int] | None = None,
        windows: dict[int, dict[int, tuple[str, int, str, int, int]]] | None = None,
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
                concat=None if concat is None else concat[0],
                concat_axis=0 if concat is None else concat[1],
                windows=windows,
            )
        )
        self.source_of[out_name] = layer_name


def workload_from_onnx(
    model: onnx.ModelProto,
    source: str = "model.onnx",
    *,
    precision: Precision | None = None,
    name: str | None = None,
) -> Workload:
    """Turn an in-memory ONNX model into a workload.

    Constants are folded first (:func:`fold_constants`); `precision` replaces the element
    types' bit widths per kind (weights, activations), None keeps the model's types.
    """
    importer = _Importer(model, source, precision or Precision())
    return importer.run(name or model.graph.name or Path(source).stem)


def load_onnx(path: str | Path, *, precision: Precision | None = None) -> Workload:
    """Load an ONNX file as a workload; every unsupported operator is named in one error."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise input_error(str(path), "", "empty file (0 bytes); expected an ONNX model")
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise input_error(str(path), "", "file not found") from None
    except Exception as exc:  # onnx's protobuf decode errors have no common base
        raise input_error(str(path), "", f"not a readable ONNX model: {exc}") from None
    return workload_from_onnx(model, str(path), precision=precision, name=path.stem)


__all__ = [
    "SUPPORTED",
    "FieldProblem",
    "InputError",
    "Precision",
    "load_onnx",
    "workload_from_onnx",
]
