"""`cpsched pareto PROBLEM`: the latency / peak-memory Pareto front of a problem file.

Solves the two extremes and then minimizes latency under decreasing memory caps (see
:mod:`cpsched.analysis.pareto`); with `--layer-by-layer`, also the fastest and the leanest
schedule of
the layer-by-layer build of the same workload, as reference points. Writes `front.json`, one
schedule file per point and `pareto.png` into `--out`, and prints a table (or, with `--json`,
the front as JSON). Where the files go is checked before any solve. Exit codes: 0 with a front,
2 for bad input or an --out that cannot be written, 3 when the problem is proven infeasible, 4
when no schedule was found in time, 130 after Ctrl-C and 143 after SIGTERM (the points found so
far are written).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from cpsched.cli.common import (
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    app,
    stdout,
    user_errors,
)
from cpsched.cli.options import (
    MACHINE_CORES,
    AsJson,
    Force,
    PointTimeLimit,
    Seed,
    Workers,
    solver_params,
)
from cpsched.cli.outputs import check_folder, writing
from cpsched.cli.progress import number
from cpsched.cli.signals import interrupted_exit_code, received
from cpsched.model.errors import input_error

if TYPE_CHECKING:
    from cpsched.analysis.pareto import ParetoFront, ParetoPoint


def _format_bytes(n: int) -> str:
    from cpsched.report._common import format_bytes

    return format_bytes(n)


def _gap(point: ParetoPoint) -> str:
    return "-" if point.gap is None else f"{point.gap:.1%}"


def _progress_line(point: ParetoPoint) -> str:
    cap = "" if point.cap_bytes is None else f" under cap {point.cap_bytes:,} bytes"
    return (
        f"{point.role}{cap}: latency {point.latency_cycles:,} cycles, peak "
        f"{_format_bytes(point.peak_bytes)} ({point.status}, gap {_gap(point)}, "
        f"{point.wall_time_s:.1f}s)"
    )


def front_table(front: ParetoFront) -> Table:
    """The front's points, then the reference points (r0, r1), one row each."""
    which = "peak" if front.memory == "all" else "act. peak"
    table = Table(
        title=f"Pareto front of {front.problem} (latency in cycles, memory in bytes)",
        box=box.SIMPLE_HEAD,
    )
    names = ["#", "point", "cap", "latency", which]
    if front.memory != "all":
        names.append("all peak")
    for name in [*names, "status", "gap"]:
        left = name in ("point", "status")
        table.add_column(name, justify="left" if left else "right", no_wrap=left)
    rows = [(str(i), p) for i, p in enumerate(front.points)]
    rows += [(f"r{i}", p) for i, p in enumerate(front.references)]
    for index, p in rows:
        role = p.role.replace("layer-by-layer", "LbL")
        cells = [index, role, number(p.cap_bytes), number(p.latency_cycles)]
        cells.append(number(p.peak_bytes))
        if front.memory != "all":
            cells.append(number(p.peak_all_bytes))
        table.add_row(*cells, p.status, _gap(p))
    table.caption = f"sweep ended: {front.end}; {front.solves} solves, {front.wall_time_s:.1f}s"
    if front.complete:
        table.caption += "; every point proven: the front is exact"
    if front.references:
        table.caption += "; LbL: layer-by-layer"
    return table


@app.command("pareto")
def pareto_command(
    problem: Annotated[Path, typer.Argument(help="Problem file (JSON or YAML), e.g. fused.")],
    layer_by_layer: Annotated[
        Path | None,
        typer.Option(
            "--layer-by-layer",
            help="The same workload built with --mode layer-by-layer: its fastest and leanest "
            "schedules are drawn as reference points (and seed the sweep).",
        ),
    ] = None,
    memory: Annotated[
        str,
        typer.Option(
            "--memory",
            help="Which peak: all (every tensor held, what a scratchpad must fit) or "
            "activation (activations alone).",
        ),
    ] = "all",
    points: Annotated[
        int | None,
        typer.Option(
            "--points",
            help="At most N solves, the caps a grid between the extremes (default: step one "
            "byte below each point's peak until a cap is infeasible).",
        ),
    ] = None,
    time_limit: PointTimeLimit = 10.0,
    workers: Workers = MACHINE_CORES,
    seed: Seed = 0,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for front.json, schedule-<i>.json, pareto.png."),
    ] = Path("pareto"),
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """The latency / peak-memory Pareto front of PROBLEM (epsilon-constraint with CP-SAT)."""
    from cpsched.analysis.pareto import (
        MemoryKind,
        front_summary,
        memory_metric,
        pareto_front,
        reference_points,
        write_front,
    )
    from cpsched.model.io import load_problem

    with user_errors():
        memory_metric(memory, "--memory")
        if points is not None and points < 2:
            raise input_error("--points", "", f"{points}; at least 2 (the two extremes)")
        check_folder(out, "--out")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise input_error(
                "--out", "", f"folder {str(out)!r} is not empty; pass --force to write into it"
            )
        fused = load_problem(problem)
        reference = load_problem(layer_by_layer) if layer_by_layer is not None else None
    params = solver_params(time_limit, workers, seed)

    def show(point: ParetoPoint) -> None:
        print(_progress_line(point), file=sys.stderr, flush=True)

    kind: MemoryKind = "all" if memory == "all" else "activation"
    refs = [] if reference is None else reference_points(reference, params, kind, show)
    front = pareto_front(
        fused,
        params,
        kind,
        points,
        show,
        hints=[r.schedule for r in refs],
        references=refs,
    )
    if front.points:
        with user_errors(), writing(out):
            write_front(front, out, params)
    if as_json:
        print(json.dumps(front_summary(front, params, files=bool(front.points)), indent=2))
    else:
        stdout().print(front_table(front))
    if front.interrupted or received() is not None:
        print(
            "interrupted: the points found so far are written (the front is not complete)"
            if front.points
            else "interrupted before any point was found; nothing written",
            file=sys.stderr,
        )
        raise typer.Exit(interrupted_exit_code())
    if front.points:
        raise typer.Exit(EXIT_OK)
    print(f"error: no Pareto front: {front.end}", file=sys.stderr)
    raise typer.Exit(EXIT_INFEASIBLE if front.infeasible else EXIT_NO_SOLUTION)
