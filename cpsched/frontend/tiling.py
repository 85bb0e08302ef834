"""Tiling a workload into computation nodes with exact, element-precise dependencies.

Each layer is split along chosen loop dims into a grid of tiles (by default its token dim into
T tiles). A consumer tile reads, through each operand's index map, a set of elements of the
tensor: per tensor dim a set of rows, kept as its maximal runs (one run for an ordinary index
map; a strided or dilated convolution reads rows with gaps), the elements read being their
product. It depends on exactly the producer tiles whose outputs hold some of them. Each producer
tile's output is cut along the boundaries of the runs its consumers read; along each dim the
rows read by the same readers form one class, and the products of classes that the same
consumer tiles read are merged back into one tensor when their union is again a product. So
every consumer reads whole tensors, every tensor it reads is entirely needed, and a strided
read (every other row) is one tensor, not one per row (docs/problem.md).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cpsched.frontend.workload.spec import Layer, Operand, Workload
from cpsched.model.errors import FieldProblem, InputError
from cpsched.model.problem import TaskId, TensorId, TensorKind

Box = tuple[tuple[int, int], ...]  # half-open [lo, hi) per tensor dim
Runs = tuple[tuple[int, int], ...]  # disjoint, sorted, non-adjacent half-open runs of one dim
Reads = tuple[Runs, ...]  # per tensor dim its runs; the elements are their product

ExecutionMode = Literal["fused", "layer-by-layer"]
AllocationMode = Literal["tile", "layer", "fixed"]


class TilingSpec(BaseModel):
    """How to cut layers into tiles, and how the tiles may execute and be allocated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tiles: int = Field(default=4, ge=1)  # T: tiles along every layer's token dim
    head_tiles: int = Field(default=1, ge=1)  # tiles along every layer's head dim
    dims: dict[str, int] = Field(default_factory=dict)  # loop dim -> count, where splittable
    layers: dict[str, dict[str, int]] = Field(default_factory=dict)  # layer -> {dim: count}
    mode: ExecutionMode = "fused"
    allocation: AllocationMode = "tile"
    fixed: dict[str, str] = Field(default_factory=dict)  # layer -> core id, for "fixed"


@dataclass(frozen=True)
class Tile:
    """One computation node: a box of a layer's iteration space."""

    task: TaskId
    layer: str
    index: int
    ranges: Mapping[str, tuple[int, int]]  # loop dim -> [lo, hi)

    def shape(self) -> tuple[tuple[str, int], ...]:
        """Loop sizes of this tile, in the layer's loop order."""
        return tuple((d, hi - lo) for d, (lo, hi) in self.ranges.items())


@dataclass(frozen=True)
class TensorPart:
    """A tensor of the problem: a box of a workload tensor, written by one tile (or by none)."""

    id: TensorId
    source: str  # workload tensor (declared tensor or layer name)
    box: Box  # the hull of `runs`
    runs: Reads  # the exact elements: per dim its runs (one run per dim for a box)
    size_bytes: int
    kind: TensorKind
    producer: TaskId | None
    store: bool
    readers: tuple[TaskId, ...]


@dataclass
class TiledWorkload:
    """The tiles of every layer, the tensors between them, and who reads and writes what."""

    workload: Workload
    splits: dict[str, dict[str, int]]
    tiles: list[Tile] = field(default_factory=list)
    parts: list[TensorPart] = field(default_factory=list)
    inputs: dict[TaskId, list[TensorId]] = field(default_factory=dict)
    outputs: dict[TaskId, list[TensorId]] = field(default_factory=dict)

    def tiles_of(self, layer: str) -> list[Tile]:
        """The tiles of one layer, in index order."""
        return [t for t in self.tiles if t.layer == layer]


def task_id(layer: str, index: int) -> TaskId:
    """Readable task id: layer name and tile index, e.g. `Q.t3`."""
    return TaskId(f"{layer}.t{index}")


def box_volume(box: Box) -> int:
    """Number of elements in a box."""
    return math.prod(hi - lo for lo, hi in box)


def box_bytes(box: Box, bits: int) -> int:
    """Bytes of a box of elements of `bits` bits (rounded up to whole bytes)."""
    return -(-box_volume(box) * bits // 8)


def layer_splits(
    workload: Workload, spec: TilingSpec, source: str = "tiling"
) -> dict[str, dict[str, int]]:
    """Tile counts per layer and dim: defaults from token/head dims, then per-layer overrides.

    Raises InputError for an unknown layer or dim, a dim the layer reduces over, or a count
    that exceeds or does not divide the dim.
    """
    problems: list[FieldProblem] = []
    by_name = workload.layer_by_name()
    for name in spec.layers:
        if name not in by_name:
            problems.append(
                FieldProblem(f"layers.{name}", f"unknown layer; layers: {', '.join(by_name)}")
            )
    for dim in spec.dims:
        if not any(
            dim in layer.loops and dim not in layer.reduced_dims() for layer in workload.layers
        ):
            names = sorted({d for layer in workload.layers for d in layer.loops})
            problems.append(
                FieldProblem(
                    f"dims.{dim}", f"no layer can split a loop {dim!r}; loops: {', '.join(names)}"
                )
            )
    out: dict[str, dict[str, int]] = {}
    for layer in workload.layers:
        split: dict[str, int] = {}
        if layer.token_dim is not None and spec.tiles > 1:
            split[layer.token_dim] = spec.tiles
        if layer.head_dim is not None and spec.head_tiles > 1:
            split[layer.head_dim] = spec.head_tiles
        for dim, count in spec.dims.items():
            if dim in layer.loops and dim not in layer.reduced_dims():
                split[dim] = count
        split.update(spec.layers.get(layer.name, {}))
        reduced = layer.reduced_dims()
        splittable = [d for d in layer.loops if d not in reduced]
        for dim, count in split.items():
            path = f"layers.{layer.name}.{dim}"
            if dim not in layer.loops:
                problems.append(
                    FieldProblem(
                        path,
                        f"layer {layer.name!r} has no loop {dim!r}; "
                        f"loops: {', '.join(layer.loops)}",
                    )
                )
                continue
            if dim in reduced and count > 1:
                why = "normalizes over" if dim in layer.row_dims else "sums over"
                problems.append(
                    FieldProblem(
                        path,
                        f"layer {layer.name!r} ({layer.op}) {why} dim {dim!r}, so it cannot be "
                        f"split; splittable dims: {', '.join(splittable) or 'none'}",
                    )
                )
                continue
            size = layer.loops[dim]
            if count < 1 or count > size or size % count:
                divisors = [d for d in range(1, size + 1) if size % d == 0]
                shown = ", ".join(str(d) for d in divisors[:12]) + (
                    ", ..." if len(divisors) > 12 else ""
                )
                problems.append(
                    FieldProblem(
                        path,
                        f"{count} tiles {'exceed' if count > size else 'do not divide'} dim "
                        f"{dim!r} of layer {layer.name!r} (size {size}); use a divisor of "
                        f"{size}: {shown}",
                    )
                )
        out[layer.name] = {d: c for d, c in split.items() if c > 1}
    if problems:
        raise InputError(source, tuple(problems))
    return out


def parse_splits(
    items: list[str] | None, source: str = "--split"
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Parse `DIM=N` (every layer that can split DIM) and `LAYER.DIM=N` (one layer) items."""
    dims: dict[str, int] = {}
    layers: dict[str, dict[str, int]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[0-9]{1,20}", value.strip()):  # not "²" or "٣"
            raise InputError(
                source,
                (FieldProblem("", f"{item!r} is not DIM=N or LAYER.DIM=N (e.g. --split FF1.f=4)"),),
            )
        layer, dot, dim = key.rpartition(".")
        if dot:
            layers.setdefault(layer, {})[dim] = int(value)
        else:
            dims[dim] = int(value)
    return dims, layers


def _layer_tiles(layer: Layer, split: Mapping[str, int]) -> list[Tile]:
    dims = list(split)  # token dim first, then head dim: tile index is token-major
    per_dim = [
        [
            (i * layer.loops[d] // split[d], (i + 1) * layer.loops[d] // split[d])
            for i in range(split[d])
        ]
        for d in dims
    ]
    tiles: list[Tile] = []
    for index, combo in enumerate(itertools.product(*per_dim)):
        chosen = dict(zip(dims, combo, strict=True))
        ranges = {d: chosen.get(d, (0, size)) for d, size in layer.loops.items()}
        tiles.append(
            Tile(task=task_id(layer.name, index), layer=layer.name, index=index, ranges=ranges)
        )
    return tiles


def operand_box(tile: Tile, dims: tuple[str, ...]) -> Box:
    """The box of a tensor that `tile` touches through an index map (loop dim per tensor dim)."""
    return tuple(tile.ranges[d] for d in dims)


def _axis_runs(
    lo: int, hi: int, stride: int, klo: int, khi: int, dilation: int, offset: int, size: int
) -> Runs:
    """The rows {stride * o + dilation * j + offset : o in [lo, hi), j in [klo, khi)} within
    [0, size), as maximal runs: one run unless a stride or dilation leaves gaps."""
    n, m = hi - lo, khi - klo
    first = stride * lo + dilation * klo + offset
    last = stride * (hi - 1) + dilation * (khi - 1) + offset
    contiguous = (
        ((stride == 1 or n == 1) and (dilation == 1 or m == 1))
        or (stride == 1 and dilation <= n)  # neighbouring outputs' windows fill the gaps
        or (dilation == 1 and stride <= m)  # each window reaches the next
    )
    if contiguous:
        run = (max(first, 0), min(last + 1, size))
        return (run,) if run[0] < run[1] else ()
    rows = sorted(
        {stride * o + dilation * j + offset for o in range(lo, hi) for j in range(klo, khi)}
    )
    return _merge_runs([(r, r + 1) for r in rows if 0 <= r < size])


def read_runs(tile: Tile, op: Operand, shape: tuple[int, ...]) -> Reads | None:
    """The elements of a tensor of `shape` that `tile` reads through an operand's index map
    (tensor index = stride * loop + dilation * kernel loop + offset), clipped to the tensor:
    per tensor dim the maximal runs of rows, the elements being their product; None when
    empty. Exact for any stride and dilation (a 1x1 conv with stride 2 reads every other row)."""
    if not op.offsets:
        return tuple(((lo, hi),) for lo, hi in operand_box(tile, op.dims))
    out = []
    for k, (d, o, s) in enumerate(zip(op.dims, op.offsets, shape, strict=True)):
        kernel = op.kernel[k] if op.kernel else ""
        lo, hi = tile.ranges[d]
        klo, khi = tile.ranges[kernel] if kernel else (0, 1)
        runs = _axis_runs(
            lo,
            hi,
            op.strides[k] if op.strides else 1,
            klo,
            khi,
            op.dilations[k] if op.dilations else 1,
            o,
            s,
        )
        if not runs:
            return None
        out.append(runs)
    return tuple(out)


def read_box(tile: Tile, op: Operand, shape: tuple[int, ...]) -> Box | None:
    """The smallest box holding what `tile` reads through an operand's index map (see
    :func:`read_runs`, which gives the exact elements); None when it reads nothing."""
    reads = read_runs(tile, op, shape)
    return None if reads is None else _hull(reads)


def reads_volume(reads: Reads) -> int:
    """Number of elements in a product of runs."""
    return math.prod(sum(hi - lo for lo, hi in runs) for runs in reads)


def _hull(reads: Reads) -> Box:
    return tuple((runs[0][0], runs[-1][1]) for runs in reads)


def _runs_label(runs: Runs) -> str:
    """`lo:hi` for one run; `lo:hi:step` for runs of one row every `step` rows (Python's slice),
    `lo:hi:step/width` for runs `width` rows wide every `step` rows; else the runs joined by +."""
    lo, hi = runs[0][0], runs[-1][1]
    if len(runs) == 1:
        return f"{lo}:{hi}"
    width = runs[0][1] - runs[0][0]
    step = runs[1][0] - runs[0][0]
    regular = all(b - a == width for a, b in runs[:-1]) and 0 < runs[-1][1] - runs[-1][0] <= width
    regular = regular and all(runs[i][0] - runs[i - 1][0] == step for i in range(1, len(runs)))
    if regular:
        return f"{lo}:{hi}:{step}" if width == 1 else f"{lo}:{hi}:{step}/{width}"
    return "+".join(f"{a}:{b}" for a, b in runs)


def _reads_label(reads: Reads) -> str:
    return "[" + ",".join(_runs_label(runs) for runs in reads) + "]"


def _merge_runs(cells: list[tuple[int, int]]) -> Runs:
    out: list[tuple[int, int]] = []
    for a, b in sorted(cells):
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return tuple(out)


def _split(whole: Box, reads: list[tuple[TaskId, Reads]]) -> list[tuple[Reads, tuple[TaskId, ...]]]:
    """Cut `whole` into pieces that each reader reads entirely or not at all.

    Along each dim, the rows between consecutive run boundaries are grouped by which reads hold
    them (a class: rows read alike, possibly with gaps); a product of classes is read by the
    reads every class of it is read by. Products read by the same tasks are merged into one
    piece when their union is again a product, else kept apart. Returns (piece, readers) pairs
    that partition `whole`.
    """
    classes: list[list[tuple[frozenset[int], Runs]]] = []
    for k, (lo, hi) in enumerate(whole):
        points = {lo, hi}
        for _, r in reads:
            for a, b in r[k]:
                points.update((min(max(a, lo), hi), min(max(b, lo), hi)))
        cuts = sorted(points)
        by_sig: dict[frozenset[int], list[tuple[int, int]]] = {}
        pos = [0] * len(reads)  # per read, its first run not wholly before the current cell
        for a, b in itertools.pairwise(cuts):
            sig: set[int] = set()
            for i, (_, r) in enumerate(reads):
                runs = r[k]
                while pos[i] < len(runs) and runs[pos[i]][1] <= a:
                    pos[i] += 1
                if pos[i] < len(runs) and runs[pos[i]][0] <= a:
                    sig.add(i)
            by_sig.setdefault(frozenset(sig), []).append((a, b))
        classes.append([(sig, _merge_runs(cells)) for sig, cells in by_sig.items()])
    everyone = frozenset(range(len(reads)))
    groups: dict[tuple[TaskId, ...], list[tuple[Runs, ...]]] = {}
    for combo in itertools.product(*classes):
        shared = everyone.intersection(*(c[0] for c in combo))
        readers = tuple(dict.fromkeys(reads[i][0] for i in sorted(shared)))
        groups.setdefault(readers, []).append(tuple(c[1] for c in combo))
    out: list[tuple[Reads, tuple[TaskId, ...]]] = []
    for readers, products in groups.items():
        union = tuple(
            _merge_runs(list({run for p in products for run in p[k]})) for k in range(len(whole))
        )
        if len(products) > 1 and reads_volume(union) == sum(reads_volume(p) for p in products):
            out.append((union, readers))
        else:
            out.extend((p, readers) for p in _merge_products(products))
    return out


def _merge_products(products: list[Reads]) -> list[Reads]:
    """Merge products (disjoint, read by the same tasks) two at a time while two differ in one
    dim only: their union is then again a product, one tensor instead of two."""
    merged = list(products)
    changed = True
    while changed:
        changed = False
        for i, j in itertools.combinations(range(len(merged)), 2):
            a, b = merged[i], merged[j]
            differ = [k for k in range(len(a)) if a[k] != b[k]]
            if len(differ) == 1:
                k = differ[0]
                merged[i] = (*a[:k], _merge_runs([*a[k], *b[k]]), *a[k + 1 :])
                del merged[j]
                changed = True
                break
    return merged


def _clip(whole: Box, reads: Reads) -> Reads | None:
    """The part of a read inside a box, or None when it is empty."""
    out = []
    for (lo, hi), runs in zip(whole, reads, strict=True):
        kept = tuple((max(a, lo), min(b, hi)) for a, b in runs if a < hi and b > lo)
        if not kept:
            return None
        out.append(kept)
    return tuple(out)


def tile_workload(workload: Workload, spec: TilingSpec, source: str = "tiling") -> TiledWorkload:
    """Split every layer into tiles and derive the exact tensors between them."""
    splits = layer_splits(workload, spec, source)
    tw = TiledWorkload(workload=workload, splits=splits)
    by_layer: dict[str, list[Tile]] = {}
    for layer in workload.layers:
        tiles = _layer_tiles(layer, splits[layer.name])
        by_layer[layer.name] = tiles
        tw.tiles.extend(tiles)
        for t in tiles:
            tw.inputs[t.task] = []
            tw.outputs[t.task] = []
    # Who reads which elements of every workload tensor (and through which operand).
    reads: dict[str, list[tuple[TaskId, Reads]]] = {}
    operand_of: dict[tuple[TaskId, str], int] = {}
    for layer in workload.layers:
        for j, op in enumerate(layer.inputs):
            shape = workload.tensor_shape(op.tensor) if op.offsets else ()
            for t in by_layer[layer.name]:
                got = read_runs(t, op, shape)
                if got is None:
                    continue  # this tile's part of a concatenation comes from another operand
                reads.setdefault(op.tensor, []).append((t.task, got))
                operand_of.setdefault((t.task, op.tensor), j)
    order: dict[TensorId, tuple[str, Box, Reads]] = {}
    graph_outputs = set(workload.graph_outputs())
    sources: list[tuple[str, TaskId | None, Box, TensorKind, bool, int]] = []
    for name, decl in workload.tensors.items():
        whole = tuple((0, s) for s in decl.shape)
        sources.append((name, None, whole, decl.kind, False, decl.bits))
    for layer in workload.layers:
        store = layer.name in graph_outputs
        for t in by_layer[layer.name]:
            sources.append(
                (
                    layer.name,
                    t.task,
                    operand_box(t, layer.output.dims),
                    "activation",
                    store,
                    layer.output.bits,
                )
            )
    for name, producer, whole, kind, store, bits in sources:
        overlapping = []
        for reader, r in reads.get(name, []):
            inter = _clip(whole, r)
            if inter is not None:
                overlapping.append((reader, inter))
        if producer is None and not overlapping:
            continue  # a declared tensor nobody reads: not part of the problem
        pieces = _split(whole, overlapping)
        base = name if producer is None else f"{producer}.o"
        for runs, readers in pieces:
            tid = TensorId(base if len(pieces) == 1 else base + _reads_label(runs))
            box = _hull(runs)
            order[tid] = (name, box, runs)
            tw.parts.append(
                TensorPart(
                    id=tid,
                    source=name,
                    box=box,
                    runs=runs,
                    size_bytes=-(-reads_volume(runs) * bits // 8),
                    kind=kind,
                    producer=producer,
                    store=store,
                    readers=readers,
                )
            )
            if producer is not None:
                tw.outputs[producer].append(tid)
            for reader in readers:
                if tid not in tw.inputs[reader]:
                    tw.inputs[reader].append(tid)
    for task, ins in tw.inputs.items():
        ins.sort(key=lambda tid: (operand_of[(task, order[tid][0])], order[tid][1:]))
    return tw


def tile_dependencies(tw: TiledWorkload) -> dict[TaskId, set[TaskId]]:
    """For every task, the tasks whose outputs it reads (derived from the tensors)."""
    producer = {p.id: p.producer for p in tw.parts}
    out: dict[TaskId, set[TaskId]] = {}
    for task, ins in tw.inputs.items():
        out[task] = {p for t in ins if (p := producer[t]) is not None}
    return out
