"""`cpsched solve`: the main job in one command: build, heuristics, CP-SAT, and every output.

With no options it solves the bundled default (an attention head on quad_bus, fused, latency
then peak memory) into a new folder under runs/. Exit codes: 0 a schedule was written (also
after Ctrl-C during the search, then not proven optimal; when CP-SAT found none, the best
heuristic schedule), 2 bad input, 3 proven infeasible, 4 no schedule at all (neither CP-SAT in
time nor a heuristic, or Ctrl-C before the heuristics finished).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.app import (
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    app,
    fail,
    stderr,
    stdout,
    user_errors,
)
from cpsched.cli.build import build_options
from cpsched.cli.progress import LiveLine, PhaseLines, print_infeasibility, result_table
from cpsched.cpsat.params import SolverParams
from cpsched.model.objective import parse_objective
from cpsched.pipeline import (
    DEFAULT_HARDWARE,
    DEFAULT_OBJECTIVE,
    DEFAULT_TILES,
    DEFAULT_TIME_LIMIT_S,
    DEFAULT_WORKLOAD,
    run_job,
)
from cpsched.runs import check_out_dir, default_run_dir, run_json, write_run


@app.command("solve")
def solve_command(
    workload: Annotated[
        str,
        typer.Option("--workload", "-w", help="Bundled workload name, or a .yaml / .onnx file."),
    ] = DEFAULT_WORKLOAD,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a workload parameter, e.g. --set M=512."),
    ] = None,
    hardware: Annotated[
        str, typer.Option("--hardware", help="Bundled hardware name, or a .yaml file.")
    ] = DEFAULT_HARDWARE,
    tiles: Annotated[
        int, typer.Option("--tiles", "-T", help="Tiles along the token dimension.")
    ] = DEFAULT_TILES,
    head_tiles: Annotated[
        int, typer.Option("--head-tiles", help="Tiles along the head dimension.")
    ] = 1,
    split: Annotated[
        list[str] | None,
        typer.Option(
            "--split",
            help="Also split a loop dim: DIM=N in every layer that can, or LAYER.DIM=N in one.",
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
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            help="latency, energy, memory, memory-sum, activation-memory, "
            "activation-memory-sum; 'a,b' lexicographic, 'a+0.5*b' weighted.",
        ),
    ] = DEFAULT_OBJECTIVE,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.01, help="Seconds for CP-SAT.")
    ] = DEFAULT_TIME_LIMIT_S,
    workers: Annotated[int, typer.Option("--workers", min=1, help="CP-SAT workers.")] = 2,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    gap: Annotated[float, typer.Option("--gap", min=0.0, help="Relative gap limit.")] = 0.0,
    log: Annotated[bool, typer.Option("--log/--no-log", help="CP-SAT search log.")] = False,
    use_hint: Annotated[
        bool,
        typer.Option(
            "--heuristic-hint/--no-heuristic-hint", help="Start from a heuristic schedule."
        ),
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Run folder (default: a new one under runs/)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty --out folder.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress; only the final summary.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout (no tables).")
    ] = False,
) -> None:
    """Build a problem, solve it with CP-SAT and write the schedule, result, plots and trace."""
    with user_errors():
        obj = parse_objective(objective, "--objective")
        options = build_options(
            workload, set_, hardware, tiles, head_tiles, split, mode, allocation, costs
        )
        if out is not None:
            check_out_dir(out, force)
    params = SolverParams(
        time_limit_s=time_limit,
        num_workers=workers,
        seed=seed,
        relative_gap_limit=gap,
        log=log,
        use_hint=use_hint,
    )
    err = stderr()
    live = None if quiet else LiveLine()
    note = f"objective {obj}, limit {time_limit:g} s, {workers} workers (Ctrl-C stops it)"
    try:
        with user_errors():
            problem, _, result = run_job(
                options,
                obj,
                params,
                on_phase=None if quiet else PhaseLines(err, note, live),
                on_progress=live,
            )
    except KeyboardInterrupt:
        raise fail(
            "interrupted before the problem was built; nothing written", EXIT_NO_SOLUTION
        ) from None
    finally:
        if live is not None:
            live.close()
    run_dir = out if out is not None else default_run_dir(workload, hardware)
    try:
        written = write_run(run_dir, problem, result)
    except KeyboardInterrupt:
        raise fail(
            f"interrupted while writing into {run_dir}; some files may be missing (each one "
            "present is complete)",
            EXIT_NO_SOLUTION,
        ) from None
    if as_json:
        print(json.dumps(run_json(run_dir, problem, result, written), indent=2))
    else:
        console = stdout()
        console.print(result_table(problem, result))
        for path in written.values():
            console.print(f"wrote {path}", highlight=False)
    if result.interrupted:
        err.print(
            "interrupted: "
            + (
                "search stopped; the best schedule so far is written (not proven optimal)"
                if result.schedule is not None
                else "stopped before any schedule was found"
            ),
            highlight=False,
        )
    print_infeasibility(err, result)
    if result.schedule is not None:
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(EXIT_INFEASIBLE if result.status == "infeasible" else EXIT_NO_SOLUTION)
