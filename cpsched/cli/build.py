"""`cpsched build`: a workload and a hardware, tiled, become a problem file (SPEC.md §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.app import app, stdout, user_errors
from cpsched.frontend.workload.load import parse_overrides
from cpsched.frontend.workload.precision import parse_precision
from cpsched.model.io import save_problem
from cpsched.pipeline import BuildOptions, build_from_options

BITS_HELP = (
    "Precision of an ONNX workload: N bits for every tensor, or weights=N,activations=M "
    "(either may be left out; default: the model's element types)."
)


def build_options(
    workload: str,
    set_: list[str] | None,
    hardware: str,
    tiles: int,
    head_tiles: int,
    split: list[str] | None,
    mode: str,
    allocation: str,
    costs: Path | None,
    bits: str | None = None,
) -> BuildOptions:
    """The build options as `build` and `solve` take them on the command line."""
    return BuildOptions(
        workload=workload,
        overrides=parse_overrides(set_),
        hardware=hardware,
        tiles=tiles,
        head_tiles=head_tiles,
        split=tuple(split or ()),
        mode=mode,
        allocation=allocation,
        costs=None if costs is None else str(costs),
        precision=None if bits is None else parse_precision(bits),
    )


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
    bits: Annotated[str | None, typer.Option("--bits", help=BITS_HELP)] = None,
) -> None:
    """Build a scheduling problem from a workload and a hardware description."""
    with user_errors():
        options = build_options(
            workload, set_, hardware, tiles, head_tiles, split, mode, allocation, costs, bits
        )
        problem = build_from_options(options)
        save_problem(problem, output)
    edges = sum(len(t.inputs) for t in problem.tasks)
    stdout().print(
        f"{problem.name}: {len(problem.tasks)} tasks, {len(problem.tensors)} tensors, "
        f"{edges} edges -> {output}"
    )
