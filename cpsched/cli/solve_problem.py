"""`cpsched solve-problem PROBLEM`: solve a problem file with CP-SAT, write the schedule and result.

Writes `schedule.json` (when a schedule was found) and `result.json` into `--out`, each
completely or not at all. Exit code 0 when a schedule was found, 3 when the problem is proven
infeasible, 4 when no schedule was found in time, 2 for bad input. Ctrl-C stops the search and
keeps the best schedule so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.app import (
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    app,
    stderr,
    stdout,
    user_errors,
)
from cpsched.cli.progress import LiveLine, print_infeasibility, result_table
from cpsched.cpsat.params import SolverParams
from cpsched.model.io import load_problem, load_schedule, save_model
from cpsched.model.objective import parse_objective


@app.command("solve-problem")
def solve_problem(
    problem: Annotated[Path, typer.Argument(help="Problem file (JSON or YAML).")],
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            help="latency, energy, memory, memory-sum, activation-memory, "
            "activation-memory-sum; 'a,b' lexicographic, 'a+0.5*b' weighted.",
        ),
    ] = "latency",
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.01, help="Seconds.")] = 10.0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="CP-SAT workers.")] = 2,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    gap: Annotated[float, typer.Option("--gap", min=0.0, help="Relative gap limit.")] = 0.0,
    log: Annotated[bool, typer.Option("--log/--no-log", help="CP-SAT search log.")] = False,
    hint: Annotated[
        Path | None, typer.Option("--hint", help="Schedule file to start from.")
    ] = None,
    use_hint: Annotated[
        bool,
        typer.Option(
            "--heuristic-hint/--no-heuristic-hint", help="Start from a heuristic schedule."
        ),
    ] = True,
    redundant: Annotated[
        bool, typer.Option("--redundant/--no-redundant", help="Redundant constraints.")
    ] = True,
    symmetry: Annotated[
        bool,
        typer.Option("--symmetry-breaking/--no-symmetry-breaking", help="Order identical cores."),
    ] = True,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for schedule.json, result.json.")
    ] = Path("."),
) -> None:
    """Solve PROBLEM with CP-SAT; write schedule.json and result.json into --out."""
    with user_errors():
        obj = parse_objective(objective, "--objective")
        p = load_problem(problem)
        given = load_schedule(hint) if hint is not None else None
    params = SolverParams(
        time_limit_s=time_limit,
        num_workers=workers,
        seed=seed,
        relative_gap_limit=gap,
        log=log,
        use_hint=use_hint,
        redundant=redundant,
        symmetry_breaking=symmetry,
    )
    from cpsched.pipeline import solve_from_hint

    live = LiveLine()
    try:
        with user_errors():
            result = solve_from_hint(p, obj, params, hint=given, on_progress=live)
    finally:
        live.close()
    out.mkdir(parents=True, exist_ok=True)
    if result.schedule is not None:
        save_model(result.schedule, out / "schedule.json")
    save_model(result, out / "result.json")
    stdout().print(result_table(p, result))
    print_infeasibility(stderr(), result)
    if result.schedule is not None:
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(EXIT_INFEASIBLE if result.status == "infeasible" else EXIT_NO_SOLUTION)
