"""`cpsched solve`: the main job in one command: build, heuristics, CP-SAT, and every output.

With no options it solves the bundled default (an attention head on quad_bus, fused, latency
then peak memory) into a new folder under runs/. Where the outputs go is checked before any
work starts. Exit codes: 0 a schedule was written (when CP-SAT found none, the best heuristic
schedule); 2 bad input, or an --out that cannot be written; 3 proven infeasible; 4 no schedule
at all (neither CP-SAT in time nor a heuristic); 130 after Ctrl-C and 143 after SIGTERM, which
stop the search and write every output, the schedule marked not proven.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.build import build_options
from cpsched.cli.common import (
    app,
    fail,
    stderr,
    stdout,
    user_errors,
)
from cpsched.cli.options import (
    MACHINE_CORES,
    Allocation,
    AsJson,
    Bits,
    Costs,
    Force,
    Gap,
    Hardware,
    HeadTiles,
    HeuristicHint,
    Log,
    Mode,
    Objective,
    Overrides,
    Quiet,
    Seed,
    Split,
    Tiles,
    TimeLimit,
    Workers,
    Workload,
    solver_params,
)
from cpsched.cli.outputs import check_folder, writing
from cpsched.cli.progress import (
    LiveLine,
    PhaseLines,
    exit_code,
    interrupted_note,
    print_infeasibility,
    result_table,
)
from cpsched.cli.signals import interrupted_exit_code, received

# The defaults of `cpsched solve` with no options: those of cpsched.pipeline (a test holds
# them equal), written out here so that the command line starts without loading the library.
DEFAULT_WORKLOAD = "attention_head"
DEFAULT_HARDWARE = "quad_bus"
DEFAULT_TILES = 2
DEFAULT_OBJECTIVE = "latency,memory"
DEFAULT_TIME_LIMIT_S = 30.0
RUNS_ROOT = Path("runs")


@app.command("solve")
def solve_command(
    workload: Workload = DEFAULT_WORKLOAD,
    set_: Overrides = None,
    hardware: Hardware = DEFAULT_HARDWARE,
    tiles: Tiles = None,  # not given: DEFAULT_TILES, or the coarsest that fits
    head_tiles: HeadTiles = None,
    split: Split = None,
    mode: Mode = "fused",
    allocation: Allocation = "tile",
    costs: Costs = None,
    bits: Bits = None,
    objective: Objective = DEFAULT_OBJECTIVE,
    time_limit: TimeLimit = DEFAULT_TIME_LIMIT_S,
    workers: Workers = MACHINE_CORES,
    seed: Seed = 0,
    gap: Gap = 0.0,
    log: Log = False,
    use_hint: HeuristicHint = True,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Run folder (default: a new one under runs/)."),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Build a problem, solve it with CP-SAT and write the schedule, result, plots and trace."""
    from cpsched import pipeline, runs
    from cpsched.model.objective import parse_objective

    with user_errors():
        obj = parse_objective(objective, "--objective")
        options = build_options(
            workload, set_, hardware, tiles, head_tiles, split, mode, allocation, costs, bits
        )
        if out is not None:
            check_folder(out, "--out")
            runs.check_out_dir(out, force)
        else:
            check_folder(RUNS_ROOT, "--out (default: a new folder under runs/)")
    params = solver_params(time_limit, workers, seed, gap, log, use_hint)
    err = stderr()
    live = None if quiet else LiveLine()
    note = f"objective {obj}, limit {time_limit:g} s, {workers} workers (Ctrl-C stops it)"
    try:
        with user_errors():
            problem, _, result = pipeline.run_job(
                options,
                obj,
                params,
                on_phase=None if quiet else PhaseLines(err, note, live),
                on_progress=live,
            )
    except KeyboardInterrupt:
        raise fail(
            "interrupted before the problem was built; nothing written", interrupted_exit_code()
        ) from None
    finally:
        if live is not None:
            live.close()
    run_dir = out if out is not None else RUNS_ROOT
    try:
        with user_errors(), writing(run_dir):
            if out is None:
                run_dir = runs.default_run_dir(workload, hardware, RUNS_ROOT)
            written = runs.write_run(run_dir, problem, result)
    except KeyboardInterrupt:
        raise fail(
            f"interrupted while writing into {run_dir}; some files may be missing (each one "
            "present is complete)",
            interrupted_exit_code(),
        ) from None
    if as_json:
        print(json.dumps(runs.run_json(run_dir, problem, result, written), indent=2))
    else:
        console = stdout()
        console.print(result_table(problem, result))
        for path in written.values():
            console.print(f"wrote {path}", highlight=False)
    interrupted = result.interrupted or received() is not None
    if interrupted:
        err.print(interrupted_note(result), highlight=False)
    auto = result.parameters.get("auto_tiling")
    if isinstance(auto, dict):
        why = "" if auto.get("why") == "asked (auto)" else f"{auto.get('why')}, so "
        err.print(
            f"tiling: {why}chose {auto.get('options')} ({auto.get('tasks')} tasks), the coarsest "
            "whose every tile fits a memory it may use",
            markup=False,
            highlight=False,
        )
    print_infeasibility(err, problem, result)
    raise typer.Exit(exit_code(result, interrupted))
