"""`cpsched build`: a workload and a hardware, tiled, become a problem file (SPEC.md §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpsched.build import build_problem, load_allocation, load_hardware, load_workload
from cpsched.cli.app import app, stdout, user_errors
from cpsched.costs import load_cost_table
from cpsched.errors import input_error
from cpsched.io import save_problem
from cpsched.tiling import TilingSpec, parse_splits, tile_workload
from cpsched.workload.load import parse_overrides


@app.command("build")
def build_command(
    workload: Annotated[
        str,
        typer.Option("--workload", "-w", help="Bundled workload name, or a .yaml / .onnx file."),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Problem file to write (JSON, or YAML by suffix)."),
    ],
    hardware: Annotated[
        str, typer.Option("--hardware", help="Bundled hardware name, or a .yaml file.")
    ] = "quad_bus",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a workload parameter, e.g. --set M=512."),
    ] = None,
    tiles: Annotated[
        int, typer.Option("--tiles", "-T", help="Tiles along the token dimension.")
    ] = 4,
    head_tiles: Annotated[
        int, typer.Option("--head-tiles", help="Tiles along the head dimension.")
    ] = 1,
    split: Annotated[
        list[str] | None,
        typer.Option(
            "--split",
            help="Also split a loop dim: DIM=N in every layer that can, or LAYER.DIM=N in one "
            "(e.g. --split FF1.f=4; LAYER.m=1 leaves a layer's tokens whole).",
        ),
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="fused | layer-by-layer")] = "fused",
    allocation: Annotated[
        str, typer.Option("--allocation", help="tile | layer | FILE (a map from layer to core).")
    ] = "tile",
    costs: Annotated[
        Path | None,
        typer.Option("--costs", help="Cost table (CSV or JSON) overriding the analytic model."),
    ] = None,
) -> None:
    """Build a scheduling problem from a workload and a hardware description."""
    with user_errors():
        if mode not in ("fused", "layer-by-layer"):
            raise input_error("--mode", "", f"{mode!r}; accepted: fused, layer-by-layer")
        if tiles < 1:
            raise input_error("--tiles", "", f"{tiles}; must be >= 1")
        if head_tiles < 1:
            raise input_error("--head-tiles", "", f"{head_tiles}; must be >= 1")
        fixed: dict[str, str] = {}
        if allocation not in ("tile", "layer"):
            if not Path(allocation).is_file():
                raise input_error(
                    "--allocation",
                    "",
                    f"{allocation!r} is neither tile, layer nor an existing file",
                )
            fixed = load_allocation(allocation)
        wl = load_workload(workload, parse_overrides(set_))
        hw = load_hardware(hardware)
        table = load_cost_table(costs) if costs is not None else None
        split_dims, split_layers = parse_splits(split)
        spec = TilingSpec(
            tiles=tiles,
            dims=split_dims,
            layers=split_layers,
            head_tiles=head_tiles,
            mode=mode,
            allocation="fixed" if fixed else allocation,
            fixed=fixed,
        )
        tiled = tile_workload(wl, spec, source="--split" if split else "--tiles")
        problem = build_problem(wl, hw, spec, table, tiled=tiled)
        save_problem(problem, output)
    edges = sum(len(t.inputs) for t in problem.tasks)
    stdout().print(
        f"{problem.name}: {len(problem.tasks)} tasks, {len(problem.tensors)} tensors, "
        f"{edges} edges -> {output}"
    )
