"""`cpsched solve-problem PROBLEM`: solve a problem file with CP-SAT, write the schedule and result.

Writes `schedule.json` (when a schedule was found) and `result.json` into `--out`, each
completely or not at all, and never over files already there unless `--force`; where they go
is checked before the solve starts. Exit codes: 0 a schedule was found, 2 bad input or an
--out that cannot be written, 3 the problem is proven infeasible, 4 no schedule was found in
time, 130 after Ctrl-C and 143 after SIGTERM (the search stops; the best schedule so far is
written, not proven optimal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.common import (
    app,
    fail,
    stderr,
    stdout,
    user_errors,
)
from cpsched.cli.options import (
    MACHINE_CORES,
    Force,
    Gap,
    HeuristicHint,
    Log,
    Objective,
    Seed,
    TimeLimit,
    Workers,
    solver_params,
)
from cpsched.cli.outputs import check_files, writing
from cpsched.cli.progress import (
    LiveLine,
    exit_code,
    interrupted_note,
    print_infeasibility,
    result_table,
)
from cpsched.cli.signals import interrupted_exit_code, received

SCHEDULE_FILE = "schedule.json"
RESULT_FILE = "result.json"


@app.command("solve-problem")
def solve_problem(
    problem: Annotated[Path, typer.Argument(help="Problem file (JSON or YAML).")],
    objective: Objective = "latency",
    time_limit: TimeLimit = 10.0,
    workers: Workers = MACHINE_CORES,
    seed: Seed = 0,
    gap: Gap = 0.0,
    log: Log = False,
    hint: Annotated[
        Path | None, typer.Option("--hint", help="Schedule file to start from.")
    ] = None,
    use_hint: HeuristicHint = True,
    redundant: Annotated[
        bool, typer.Option("--redundant/--no-redundant", help="Redundant constraints.")
    ] = True,
    symmetry: Annotated[
        bool,
        typer.Option("--symmetry-breaking/--no-symmetry-breaking", help="Order identical cores."),
    ] = True,
    spill: Annotated[
        bool,
        typer.Option("--spill/--no-spill", help="Search spills and reloads (docs/results.md)."),
    ] = True,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for schedule.json, result.json.")
    ] = Path("."),
    force: Force = False,
) -> None:
    """Solve PROBLEM with CP-SAT; write schedule.json and result.json into --out."""
    from cpsched.model.io import load_problem, load_schedule, save_model
    from cpsched.model.objective import parse_objective

    with user_errors():
        obj = parse_objective(objective, "--objective")
        check_files(out, (SCHEDULE_FILE, RESULT_FILE), "--out", force)
        p = load_problem(problem)
        given = load_schedule(hint) if hint is not None else None
    params = solver_params(
        time_limit,
        workers,
        seed,
        gap,
        log,
        use_hint,
        redundant=redundant,
        symmetry_breaking=symmetry,
        spill=spill,
    )
    from cpsched.pipeline import solve_from_hint
    from cpsched.runs import remove_stale_schedule

    live = LiveLine()
    try:
        with user_errors():
            result = solve_from_hint(p, obj, params, hint=given, on_progress=live)
    except KeyboardInterrupt:  # before the search started: nothing to keep
        raise fail(
            "interrupted before the search; nothing written", interrupted_exit_code()
        ) from None
    finally:
        live.close()
    try:
        with user_errors(), writing(out):
            out.mkdir(parents=True, exist_ok=True)
            if result.schedule is not None:
                save_model(result.schedule, out / SCHEDULE_FILE)
            else:
                remove_stale_schedule(out)
            save_model(result, out / RESULT_FILE)
    except KeyboardInterrupt:
        raise fail(
            f"interrupted while writing into {out}; some files may be missing (each one "
            "present is complete)",
            interrupted_exit_code(),
        ) from None
    stdout().print(result_table(p, result))
    interrupted = result.interrupted or received() is not None
    if interrupted:
        stderr().print(interrupted_note(result), highlight=False)
    print_infeasibility(stderr(), p, result)
    raise typer.Exit(exit_code(result, interrupted))
