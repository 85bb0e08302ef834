"""`cpsched solve-problem PROBLEM`: solve a problem file with CP-SAT, write the schedule and result.

Writes `schedule.json` (when a schedule was found) and `result.json` into `--out`, each
completely or not at all. Exit code 0 when a schedule was found, 3 when the problem is proven
infeasible, 4 when no schedule was found in time, 2 for bad input. Ctrl-C stops the search and
keeps the best schedule so far.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from cpsched.cli.app import (
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    app,
    stderr,
    stdout,
    user_errors,
)
from cpsched.cpsat.params import Progress, SolverParams
from cpsched.io import load_problem, load_schedule, save_model
from cpsched.objective import parse_objective
from cpsched.problem import Problem
from cpsched.result import SolveResult


def _number(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}g}" if x != int(x) else f"{int(x)}"


class LiveLine:
    """The incumbent, bound, gap and elapsed time on one stderr line (a line per incumbent when
    stderr is not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.solutions = -1
        self.shown = False

    def __call__(self, p: Progress) -> None:
        gap = "-" if p.gap is None else f"{p.gap:.2%}"
        line = (
            f"[{p.stage}] incumbent {_number(p.objective)}  bound {_number(p.bound)}  "
            f"gap {gap}  {p.elapsed_s:.1f}s"
        )
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78))
            sys.stderr.flush()
            self.shown = True
        elif p.solutions != self.solutions:
            print(line, file=sys.stderr)
        self.solutions = p.solutions

    def close(self) -> None:
        """End the live line so later output starts on a fresh line."""
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def summary_table(problem: Problem, result: SolveResult) -> Table:
    """Status, objective, bound, gap, latency, energy, peak memory per memory, and time."""
    table = Table(
        title=f"{problem.name}: CP-SAT, objective {result.objective}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_header=False,
    )
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    table.add_row("status", result.status)
    table.add_row("objective", _number(result.objective_value))
    table.add_row("bound", _number(result.bound))
    table.add_row("gap", "-" if result.gap is None else f"{result.gap:.2%}")
    if result.schedule is not None:
        from cpsched.metrics import metrics

        m = metrics(problem, result.schedule)
        table.add_row("latency", f"{m.latency_cycles} cycles")
        table.add_row(
            "energy",
            f"{m.energy_total_pj:.6g} pJ (compute {m.energy_compute_pj:.6g}, "
            f"transfer {m.energy_transfer_pj:.6g})",
        )
        for mem, peak in m.peak_memory.items():
            share = peak.peak_bytes / peak.capacity_bytes if peak.capacity_bytes else 0.0
            table.add_row(
                f"peak {mem}", f"{peak.peak_bytes} / {peak.capacity_bytes} bytes ({share:.0%})"
            )
    for i, stage in enumerate(result.stages if len(result.stages) > 1 else []):
        table.add_row(
            f"stage {i + 1}", f"{stage['objective']}: {_number(stage['value'])} ({stage['status']})"
        )
    table.add_row("time", f"{result.wall_time_s:.2f} s")
    table.add_row(
        "model", f"{result.num_variables} variables, {result.num_constraints} constraints"
    )
    return table


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
    from cpsched.cpsat import solve

    live = LiveLine()
    try:
        with user_errors():
            result = solve(p, obj, params, hint=given, on_progress=live)
    finally:
        live.close()
    out.mkdir(parents=True, exist_ok=True)
    if result.schedule is not None:
        save_model(result.schedule, out / "schedule.json")
    save_model(result, out / "result.json")
    stdout().print(summary_table(p, result))
    for reason in result.infeasibility:
        stderr().print(
            f"infeasible: {reason.reason}"
            + (f" (suggestion: {reason.suggestion})" if reason.suggestion else ""),
            markup=False,
        )
    if result.schedule is not None:
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(EXIT_INFEASIBLE if result.status == "infeasible" else EXIT_NO_SOLUTION)
