"""`cpsched build`: a workload and a hardware, tiled, become a problem file (docs: the problem
format). Exit code 0 when written (with a warning when some tiles fit no memory: such a problem
has no schedule), 2 for bad input or an output that cannot be written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cpsched.cli.common import app, stderr, stdout, user_errors
from cpsched.cli.options import (
    Allocation,
    Bits,
    Costs,
    Force,
    Hardware,
    HeadTiles,
    Mode,
    Overrides,
    Split,
    Tiles,
    Workload,
)
from cpsched.cli.outputs import check_file, writing

if TYPE_CHECKING:
    from cpsched.pipeline import BuildOptions


def build_options(
    workload: str,
    set_: list[str] | None,
    hardware: str,
    tiles: str | None,
    head_tiles: str | None,
    split: list[str] | None,
    mode: str,
    allocation: str,
    costs: Path | None,
    bits: str | None = None,
) -> BuildOptions:
    """The build options as `build` and `solve` take them on the command line. A tiling not
    given at all (tiles, head tiles and splits None) is the pipeline's default, replaced by the
    coarsest that fits when it does not fit."""
    from cpsched.cli.options import tile_count
    from cpsched.frontend.workload.load import parse_overrides
    from cpsched.frontend.workload.precision import parse_precision
    from cpsched.pipeline import DEFAULT_TILES, BuildOptions

    t = tile_count(tiles, "--tiles")
    h = tile_count(head_tiles, "--head-tiles")
    return BuildOptions(
        workload=workload,
        overrides=parse_overrides(set_),
        hardware=hardware,
        tiles=DEFAULT_TILES if t is None else t,
        head_tiles=1 if h is None else h,
        split=tuple(s.strip() for s in split or ()),
        auto_if_too_big=t is None and h is None and split is None,
        mode=mode,
        allocation=allocation,
        costs=None if costs is None else str(costs),
        precision=None if bits is None else parse_precision(bits),
    )


@app.command("build")
def build_command(
    workload: Workload,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Problem file to write (JSON, or YAML by suffix)."),
    ],
    hardware: Hardware = "quad_bus",
    set_: Overrides = None,
    tiles: Tiles = "4",
    head_tiles: HeadTiles = "1",
    split: Split = None,
    mode: Mode = "fused",
    allocation: Allocation = "tile",
    costs: Costs = None,
    bits: Bits = None,
    force: Force = False,
) -> None:
    """Build a scheduling problem from a workload and a hardware description."""
    with user_errors():
        check_file(output, "--output", force)
        options = build_options(
            workload, set_, hardware, tiles, head_tiles, split, mode, allocation, costs, bits
        )
        from cpsched.model.io import save_problem
        from cpsched.pipeline import build_job

        built = build_job(options)
        problem = built.problem
        with writing(output, "--output"):
            save_problem(problem, output)
    edges = sum(len(t.inputs) for t in problem.tasks)
    stdout().print(
        f"{problem.name}: {len(problem.tasks)} tasks, {len(problem.tensors)} tensors, "
        f"{edges} edges -> {output}",
        highlight=False,
    )
    if built.auto is not None:
        stderr().print(
            f"tiling: chose {built.auto.options()} ({built.auto.tasks} tasks), the coarsest "
            "whose every tile fits a memory it may use",
            markup=False,
            highlight=False,
        )
    from cpsched.check.fit import misfits

    groups = misfits(problem)
    if groups:
        err = stderr()
        n = sum(len(m.tasks) for m in groups)
        err.print(
            f"warning: {n} of {len(problem.tasks)} tiles fit no memory they may use, so this "
            "problem has no schedule; tile finer (--tiles, --head-tiles, --split LAYER.DIM=N) "
            "or use a hardware with larger memories:",
            markup=False,
            highlight=False,
        )
        for m in groups:
            err.print(f"warning: {m.line()}", markup=False, highlight=False)
