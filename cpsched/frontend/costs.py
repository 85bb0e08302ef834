"""Per (tile, core) latency and energy from an analytic model, or from a user's cost table.

MAC array, matmul tile (roles from the index maps: k = loops summed over, m = output loops only
in the first operand, n = output loops only in the second, batch = the rest)::

    R = product of the tile's sizes of the role unrolled on rows, C = likewise on cols
    compute_cycles = ceil(R / rows) * ceil(C / cols) * (MACs / (R * C))
    spatial utilization = MACs / (compute_cycles * rows * cols)

Vector work (any non-matmul op, or a matmul on a vector unit), with L = lanes (a MAC array
uses one row, `cols` lanes) and c(op) cycles per element per lane::

    compute_cycles = ceil(elements / L) * c(op)

where elements is the size of the tile's iteration space (the product of its loop sizes): the
output elements of an element-wise op, softmax or norm, the input elements of a reduction, the
MACs of a matmul.

A transpose has c = 0: its cost is data movement only. Every tile is also bound by its memory::

    read_cycles  = ceil(bytes read  / read_bandwidth_bytes_per_cycle)
    write_cycles = ceil(bytes written / write_bandwidth_bytes_per_cycle)
    cycles = max(1, compute_cycles, read_cycles, write_cycles)
    energy_pj = MACs * mac_energy_pj            (matmul)
              | elements * c(op) * mac_energy_pj (vector work)
              + (bytes read + bytes written) * memory energy_pj_per_byte

Bytes read are the boxes of every operand the tile touches; bytes written, its output box.
Costs are computed once per distinct (operation, tile shape, index maps, core type).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from cpsched.frontend.hardware import CoreSpec, Hardware, MemorySpec, core_type_key
from cpsched.frontend.tiling import Tile, box_bytes, operand_box, read_runs, reads_volume
from cpsched.frontend.workload.spec import Layer, Workload
from cpsched.model.errors import FieldProblem, InputError, input_error
from cpsched.model.io import parse_text, validation_problems
from cpsched.model.problem import MAX_ENERGY_PJ, MAX_INTEGER


@dataclass(frozen=True)
class Cost:
    """Latency and energy of one tile on one core."""

    cycles: int
    energy_pj: float


def matmul_roles(layer: Layer) -> dict[str, str]:
    """Role of each loop of a matmul: m, n, k (summed) or b (batch, e.g. heads)."""
    out_dims = set(layer.output.dims)
    a = set(layer.inputs[0].dims)
    b = set(layer.inputs[1].dims) if len(layer.inputs) > 1 else set()
    roles: dict[str, str] = {}
    for d in layer.loops:
        if d not in out_dims:
            roles[d] = "k"
        elif d in a and d not in b:
            roles[d] = "m"
        elif d in b and d not in a:
            roles[d] = "n"
        else:
            roles[d] = "b"
    return roles


def tile_bytes(workload: Workload, layer: Layer, tile: Tile) -> tuple[int, int]:
    """(bytes read, bytes written) by a tile in its core's memory."""
    read = 0
    for op in layer.inputs:
        shape = workload.tensor_shape(op.tensor) if op.offsets else ()
        reads = read_runs(tile, op, shape)  # exact: a strided conv's rows with gaps
        if reads is not None:
            read += -(-reads_volume(reads) * workload.tensor_bits(op.tensor) // 8)
    written = box_bytes(operand_box(tile, layer.output.dims), layer.output.bits)
    return read, written


def compute_cycles(layer: Layer, tile: Tile, core: CoreSpec) -> tuple[int, float]:
    """(compute cycles, compute energy in pJ) of a tile on a core, per the module formulas."""
    sizes = {d: hi - lo for d, (lo, hi) in tile.ranges.items()}
    if layer.op == "matmul":
        macs = math.prod(sizes.values())
        energy = macs * core.mac_energy_pj
        if core.kind == "mac_array":
            roles = matmul_roles(layer)
            r = math.prod(s for d, s in sizes.items() if roles[d] == core.unroll.rows)
            c = math.prod(s for d, s in sizes.items() if roles[d] == core.unroll.cols)
            if core.unroll.rows == core.unroll.cols:
                c = 1
            rest = macs // (r * c)
            return math.ceil(r / core.rows) * math.ceil(c / core.cols) * rest, energy
        return math.ceil(macs / core.vector_lanes()) * core.op_cycles("matmul"), energy
    elements = math.prod(sizes.values())
    per = core.op_cycles(layer.op)
    return math.ceil(elements / core.vector_lanes()) * per, elements * per * core.mac_energy_pj


def analytic_cost(
    workload: Workload, layer: Layer, tile: Tile, core: CoreSpec, memory: MemorySpec
) -> Cost:
    """Latency and energy of `tile` on `core`, whose memory is `memory` (module formulas)."""
    compute, compute_pj = compute_cycles(layer, tile, core)
    read, written = tile_bytes(workload, layer, tile)
    read_cycles = math.ceil(read / memory.read_bandwidth_bytes_per_cycle)
    write_cycles = math.ceil(written / memory.write_bandwidth_bytes_per_cycle)
    cycles = max(1, compute, read_cycles, write_cycles)
    return Cost(cycles=cycles, energy_pj=compute_pj + (read + written) * memory.energy_pj_per_byte)


class CostRow(BaseModel):
    """One line of a user cost table: which tiles (layer or op, optional shape) on which core."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    layer: str = ""
    op: str = ""
    shape: str = ""  # e.g. "m=32,e=768,d=64"; empty: any shape
    core: str = ""  # core id; empty or "*": any core
    cycles: StrictInt = Field(ge=0, le=MAX_INTEGER)
    energy_pj: StrictFloat = Field(ge=0, le=MAX_ENERGY_PJ, allow_inf_nan=False)


def _normal_shape(text: str) -> frozenset[tuple[str, int]] | None:
    items = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    out = []
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not re.fullmatch(r"[0-9]{1,20}", v.strip()):  # not "²" (int() refuses it)
            return None
        out.append((k.strip(), int(v)))
    return frozenset(out)


class CostTable:
    """User-given costs (e.g. from ZigZag, Timeloop, measurements); most specific match wins."""

    def __init__(self, rows: list[CostRow], source: str) -> None:
        self.rows = rows
        self.source = source
        self._shapes = [_normal_shape(r.shape) if r.shape else None for r in rows]

    def lookup(self, layer: Layer, tile: Tile, core_id: str) -> Cost | None:
        """The best matching row's cost: layer beats op, a given shape beats any, a core beats *."""
        shape = frozenset(tile.shape())
        best: tuple[int, CostRow] | None = None
        for row, row_shape in zip(self.rows, self._shapes, strict=True):
            if row.layer and row.layer != layer.name:
                continue
            if row.op and row.op != layer.op:
                continue
            if row_shape is not None and row_shape != shape:
                continue
            if row.core not in ("", "*", core_id):
                continue
            score = 4 * bool(row.layer) + 2 * bool(row.shape) + bool(row.core not in ("", "*"))
            if best is None or score > best[0]:
                best = (score, row)
        return None if best is None else Cost(best[1].cycles, best[1].energy_pj)


_CSV_INTEGER = re.compile(r"[+-]?[0-9]+")


def _csv_numbers(row: dict[str, str]) -> dict[str, object]:
    """A CSV row with its numeric columns read as numbers: cycles as an integer (digits only),
    energy_pj as a float; text that is not such a number stays text, for the row's error."""
    out: dict[str, object] = dict(row)
    cycles = row.get("cycles")
    if cycles is not None and _CSV_INTEGER.fullmatch(cycles) and len(cycles) <= 20:
        out["cycles"] = int(cycles)  # (longer: left as text, which the row's check refuses)
    energy = row.get("energy_pj")
    if energy is not None:
        with contextlib.suppress(ValueError):
            out["energy_pj"] = float(energy)
    return out


def load_cost_table(path: str | Path) -> CostTable:
    """Read a cost table: CSV with a header, or JSON (a list of rows); fields as in CostRow."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise input_error(source, "", f"cannot read: {exc}") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            raw: list[object] = [
                _csv_numbers(
                    {
                        k.strip(): v.strip()
                        for k, v in r.items()
                        if isinstance(k, str) and isinstance(v, str) and v
                    }
                )
                for r in reader
            ]
        except csv.Error as exc:  # e.g. a field longer than the csv module's limit
            raise input_error(source, "", f"not valid CSV: {exc}") from None
    else:
        data = parse_text(text, source, yaml_syntax=path.suffix.lower() != ".json")
        if not isinstance(data, list):
            raise input_error(
                source, "", "expected a list of rows {layer|op, shape, core, cycles, energy_pj}"
            )
        raw = data
    rows: list[CostRow] = []
    problems: list[FieldProblem] = []
    for i, item in enumerate(raw):
        try:
            row = CostRow.model_validate(item)
        except ValidationError as exc:
            for p in validation_problems(exc):
                problems.append(FieldProblem(f"[{i}].{p.path}" if p.path else f"[{i}]", p.message))
            continue
        if not row.layer and not row.op:
            problems.append(FieldProblem(f"[{i}]", "give a layer or an op (or both)"))
            continue
        if row.shape and _normal_shape(row.shape) is None:
            problems.append(FieldProblem(f"[{i}].shape", f"{row.shape!r} is not like 'm=32,e=768'"))
            continue
        rows.append(row)
    if problems:
        raise InputError(source, tuple(problems))
    return CostTable(rows, source)


class CostModel:
    """Tile costs on the cores of a hardware, cached per distinct (op, shape, maps, core type)."""

    def __init__(
        self, workload: Workload, hardware: Hardware, table: CostTable | None = None
    ) -> None:
        self.workload = workload
        self.hardware = hardware
        self.table = table
        self.memories = hardware.memory_by_id()
        self.core_types = {c.id: core_type_key(hardware, c) for c in hardware.cores}
        self.cache: dict[tuple[object, ...], Cost] = {}

    def cost(self, layer: Layer, tile: Tile, core: CoreSpec) -> Cost | None:
        """Cost of `tile` on `core`, or None when the core does not support the layer's op."""
        if layer.op not in core.ops:
            return None
        if self.table is not None:
            given = self.table.lookup(layer, tile, core.id)
            if given is not None:
                return given
        key = (
            layer.op,
            tile.shape(),
            tuple((op.dims, self.workload.tensor_bits(op.tensor)) for op in layer.inputs),
            (layer.output.dims, layer.output.bits),
            # with offsets, what a tile reads depends on where it is, not only on its shape
            tuple((op.offsets, op.strides, op.kernel, op.dilations) for op in layer.inputs),
            tuple(tile.ranges.items()) if any(op.offsets for op in layer.inputs) else (),
            self.core_types[core.id],
        )
        hit = self.cache.get(key)
        if hit is None:
            hit = analytic_cost(self.workload, layer, tile, core, self.memories[core.memory])
            self.cache[key] = hit
        return hit
