"""From workload, hardware and tiling to a Problem (docs/problem.md): the pipeline's front half.

`load_workload` and `load_hardware` read bundled models by name or files by path;
`tile_workload` (in :mod:`cpsched.frontend.tiling`) cuts layers into tiles with exact tensors;
`build_problem` adds memories (with their backing store), cores, links (with their sharing and
multicast), derived routes, per-core costs, groups and barriers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from cpsched.frontend.catalog import hardware_path, workload_path
from cpsched.frontend.costs import Cost, CostModel, CostTable
from cpsched.frontend.hardware import (
    Hardware,
    derive_routes,
    hardware_links,
    hardware_memories,
    load_hardware_file,
)
from cpsched.frontend.tiling import TiledWorkload, TilingSpec, tile_workload
from cpsched.frontend.workload.load import load_workload_file
from cpsched.frontend.workload.precision import Precision
from cpsched.frontend.workload.spec import Workload
from cpsched.model.errors import FieldProblem, InputError, input_error
from cpsched.model.io import read_data, validation_problems
from cpsched.model.problem import (
    DRAM,
    MAX_ENERGY_PJ,
    MAX_INTEGER,
    PROBLEM_FORMAT,
    Barrier,
    Core,
    CoreId,
    Problem,
    Task,
    TaskId,
    TaskOption,
    Tensor,
)

__all__ = [
    "TilingSpec",
    "build_problem",
    "load_allocation",
    "load_hardware",
    "load_workload",
    "tile_workload",
]


def load_workload(
    name_or_path: str,
    overrides: Mapping[str, int] | None = None,
    precision: Precision | None = None,
) -> Workload:
    """A bundled workload by name, or a workload YAML or ONNX file, with parameter overrides
    (YAML) or a precision per kind of tensor (ONNX, whose graph has fixed shapes and types)."""
    if name_or_path.lower().endswith(".onnx"):
        from cpsched.frontend.workload.onnx_import import load_onnx

        if overrides:
            raise input_error(
                "--set",
                "",
                "parameters apply to YAML workloads; an ONNX graph has fixed shapes (its "
                "precision is set by --bits)",
            )
        return load_onnx(name_or_path, precision=precision)
    if precision is not None and precision != Precision():
        raise input_error(
            "--bits",
            "",
            "applies to ONNX workloads; a YAML workload's precision is a parameter "
            "(e.g. --set BITS=8)",
        )
    return load_workload_file(workload_path(name_or_path), overrides or {})


def load_hardware(name_or_path: str, overrides: Mapping[str, int] | None = None) -> Hardware:
    """A bundled hardware by name, or a hardware YAML file, with its parameters overridden."""
    return load_hardware_file(hardware_path(name_or_path), overrides)


def load_allocation(path: str | Path) -> dict[str, str]:
    """A fixed allocation file: a YAML/JSON mapping from layer name to core id."""
    data = read_data(path)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise input_error(
            str(path), "", "expected a mapping from layer name to core id, e.g. {Q: c0}"
        )
    return dict(data)


def _check_fixed(workload: Workload, hardware: Hardware, tiling: TilingSpec) -> None:
    problems: list[FieldProblem] = []
    layers = workload.layer_by_name()
    cores = {c.id: c for c in hardware.cores}
    for name, core in tiling.fixed.items():
        if name not in layers:
            problems.append(FieldProblem(name, f"unknown layer; layers: {', '.join(layers)}"))
        elif core not in cores:
            problems.append(FieldProblem(name, f"unknown core {core!r}; cores: {', '.join(cores)}"))
        elif layers[name].op not in cores[core].ops:
            problems.append(
                FieldProblem(
                    name,
                    f"core {core!r} does not support {layers[name].op!r}; it supports "
                    f"{', '.join(cores[core].ops)}",
                )
            )
    if problems:
        raise InputError("--allocation", tuple(problems))


def build_problem(
    workload: Workload,
    hardware: Hardware,
    tiling: TilingSpec,
    costs: CostTable | None = None,
    *,
    tiled: TiledWorkload | None = None,
    name: str | None = None,
) -> Problem:
    """The scheduling problem of running `workload` on `hardware` cut as `tiling` says."""
    if tiling.allocation == "fixed":
        _check_fixed(workload, hardware, tiling)
    tw = tiled if tiled is not None else tile_workload(workload, tiling)
    model = CostModel(workload, hardware, costs)
    layers = workload.layer_by_name()
    problems: list[FieldProblem] = []
    too_large: set[str] = set()  # layers and tensors reported as too large (once each)
    for part in tw.parts:
        if part.size_bytes > MAX_INTEGER and part.source not in too_large:
            too_large.add(part.source)
            problems.append(
                FieldProblem(
                    f"tensors.{part.source}",
                    f"a tile of it holds {part.size_bytes} bytes; the solvers accept at most "
                    f"{MAX_INTEGER} (cut it into more tiles, or make it smaller)",
                )
            )
    tasks: list[Task] = []
    for tile in tw.tiles:
        layer = layers[tile.layer]
        allowed = hardware.cores
        if tiling.allocation == "fixed" and tile.layer in tiling.fixed:
            allowed = tuple(c for c in hardware.cores if c.id == tiling.fixed[tile.layer])
        options = []
        for core in allowed:
            cost = model.cost(layer, tile, core)
            if cost is not None and not _cost_fits(cost) and layer.name not in too_large:
                too_large.add(layer.name)
                if cost.cycles > MAX_INTEGER:
                    took, limit = f"{cost.cycles} cycles", f"{MAX_INTEGER}"
                else:
                    took, limit = f"{cost.energy_pj:.6g} pJ", f"{MAX_ENERGY_PJ:.6g} pJ"
                problems.append(
                    FieldProblem(
                        f"layers.{layer.name}",
                        f"a tile takes {took} on core {core.id!r}; the solvers accept at most "
                        f"{limit} (cut the layer into more tiles, or make it smaller)",
                    )
                )
            if cost is not None and _cost_fits(cost):
                options.append(
                    TaskOption(
                        core=CoreId(core.id), duration_cycles=cost.cycles, energy_pj=cost.energy_pj
                    )
                )
        if not options:
            if tile.index == 0 and layer.name not in too_large:
                support = "; ".join(f"{c.id}: {', '.join(c.ops)}" for c in hardware.cores)
                where = f" ({hardware.source})" if hardware.source else ""
                problems.append(
                    FieldProblem(
                        f"layers.{layer.name}.op",
                        f"no core of {hardware.name!r}{where} supports {layer.op!r}; "
                        f"cores support: {support}",
                    )
                )
            continue
        tasks.append(
            Task(
                id=tile.task,
                layer=tile.layer,
                tile=tile.index,
                inputs=tuple(tw.inputs[tile.task]),
                outputs=tuple(tw.outputs[tile.task]),
                options=tuple(options),
            )
        )
    if problems:
        raise InputError(workload.source or workload.name, tuple(problems))
    tensors = [
        Tensor(
            id=p.id,
            size_bytes=p.size_bytes,
            kind=p.kind,
            producer=p.producer,
            home=DRAM if p.producer is None else None,
            store=p.store,
        )
        for p in tw.parts
    ]
    groups: list[tuple[TaskId, ...]] = []
    if tiling.allocation == "layer":
        for layer in workload.layers:
            ids = tuple(t.task for t in tw.tiles_of(layer.name))
            if len(ids) > 1:
                groups.append(ids)
    barriers: list[Barrier] = []
    if tiling.mode == "layer-by-layer":
        for layer in workload.layers:
            preds = list(dict.fromkeys(op.tensor for op in layer.inputs if op.tensor in layers))
            before = tuple(t.task for p in preds for t in tw.tiles_of(p))
            if before:
                after = tuple(t.task for t in tw.tiles_of(layer.name))
                barriers.append(Barrier(before=before, after=after))
    try:
        return _problem(workload, hardware, tiling, name, tasks, tensors, groups, barriers)
    except ValidationError as exc:  # sums beyond the solvers' limits (cpsched.model.problem)
        source = f"the problem of {workload.source or workload.name!r} on "
        source += f"{hardware.source or hardware.name!r}"
        raise InputError(source, tuple(validation_problems(exc))) from None


def _cost_fits(cost: Cost) -> bool:
    return cost.cycles <= MAX_INTEGER and cost.energy_pj <= MAX_ENERGY_PJ


def _problem(
    workload: Workload,
    hardware: Hardware,
    tiling: TilingSpec,
    name: str | None,
    tasks: list[Task],
    tensors: list[Tensor],
    groups: list[tuple[TaskId, ...]],
    barriers: list[Barrier],
) -> Problem:
    label = name or (
        f"{workload.name} on {hardware.name} (T={tiling.tiles}"
        + (f", heads/{tiling.head_tiles}" if tiling.head_tiles > 1 else "")
        + f", {tiling.mode}, allocation {tiling.allocation})"
    )
    return Problem(
        format=PROBLEM_FORMAT,
        name=label,
        memories=tuple(hardware_memories(hardware)),
        cores=tuple(Core(id=CoreId(c.id), memory=c.memory) for c in hardware.cores),
        links=tuple(hardware_links(hardware)),
        routes=tuple(derive_routes(hardware)),
        tensors=tuple(tensors),
        tasks=tuple(tasks),
        groups=tuple(groups),
        barriers=tuple(barriers),
    )
