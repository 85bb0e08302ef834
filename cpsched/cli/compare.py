"""`cpsched compare PROBLEM [--schedule FILE ...]`: heuristics, CP-SAT and given schedules.

Exit codes: 0 when some method found a schedule; 1 when a given schedule is invalid; 2 when an
input cannot be read or an output cannot be written (checked before any solve, and never over
existing files without --force); 3 when no method found a schedule and CP-SAT proved the
problem infeasible; 4 when no method found a schedule (and no proof that none exists); 130
after Ctrl-C and 143 after SIGTERM (a solve cut short: the report is written, incomplete).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from cpsched.cli.common import (
    EXIT_INFEASIBLE,
    EXIT_INVALID,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    app,
    fail,
    stdout,
    user_errors,
)
from cpsched.cli.options import MACHINE_CORES, AsJson, Force, Seed, TimeLimit, Workers
from cpsched.cli.outputs import check_file, check_folder, writing
from cpsched.cli.signals import interrupted_exit_code, received
from cpsched.model.errors import input_error

if TYPE_CHECKING:
    from cpsched.analysis.compare import CompareReport, CompareRow
    from cpsched.model.schedule import Schedule

SCHEDULE_SUFFIX = ".schedule.json"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


def _peak(row: CompareRow) -> str:
    """The fullest bounded memory at its peak, as a share of its capacity."""
    if not row.peak_memory:
        return ""
    mem, use = max(
        row.peak_memory.items(), key=lambda kv: kv[1].peak_bytes / max(1, kv[1].capacity_bytes)
    )
    return f"{mem} {use.peak_bytes / max(1, use.capacity_bytes):.0%}"


def _result(row: CompareRow) -> str:
    """valid / optimal / feasible, the number of violations, or why there is no schedule."""
    if row.valid is None:
        return f"none ({row.status})"
    if not row.valid:
        return f"INVALID: {row.violations} violations"
    return row.status if row.source == "cpsat" else "valid"


def rows_table(report: CompareReport) -> Table:
    """One row per heuristic, given schedule and CP-SAT: validity, costs, time and gaps."""
    table = Table(title=f"{report.problem}: latency in cycles", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("method", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for name in ["latency", "energy pJ", "peak mem", "wall s", "gap", "vs opt"]:
        table.add_column(name, justify="right", no_wrap=True)
    for row in report.rows:
        if row.source == "retimed":
            continue
        table.add_row(
            row.method,
            _result(row),
            "" if row.latency_cycles is None else str(row.latency_cycles),
            "" if row.energy_pj is None else f"{row.energy_pj:.4g}",
            _peak(row),
            f"{row.wall_time_s:.2f}",
            _pct(row.gap_to_bound),
            "" if row.over_optimum is None else f"+{row.over_optimum:.1%}",
        )
    return table


def splits_table(report: CompareReport) -> Table:
    """Where each schedule's gap comes from: timing, order on each core, allocation (cycles)."""
    ref = "the optimum" if report.optimum is not None else "the best bound"
    table = Table(
        title=f"re-timed by CP-SAT: where the gap to {ref} comes from (cycles)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("schedule", no_wrap=True)
    for name in ["latency", "order kept", "cores kept", "timing", "order", "alloc", "exact"]:
        table.add_column(name, justify="right", no_wrap=True)

    def num(x: float | None) -> str:
        return "" if x is None else f"{x:g}"

    for s in report.splits:
        table.add_row(
            s.method,
            str(s.latency_cycles),
            num(s.retimed_order_kept_cycles),
            num(s.retimed_cores_kept_cycles),
            num(s.from_timing_cycles),
            num(s.from_order_cycles),
            num(s.from_allocation_cycles),
            "yes" if s.exact else "no",
        )
    return table


def schedule_file_name(method: str) -> str:
    """A file name for a row's schedule: 'heft re-timed (cores kept)' -> 'heft.retimed-cores'."""
    name = method.replace(" re-timed (cores+order kept)", ".retimed-cores-order")
    name = name.replace(" re-timed (cores kept)", ".retimed-cores")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return f"{name}{SCHEDULE_SUFFIX}"


def _save_schedules(report: CompareReport, folder: Path) -> None:
    from cpsched.model.io import save_schedule

    with writing(folder, "--save-schedules"):
        folder.mkdir(parents=True, exist_ok=True)
        for row in report.rows:
            if row.schedule is not None and row.source != "given":
                save_schedule(row.schedule, folder / schedule_file_name(row.method))


def _check_schedules_folder(folder: Path, force: bool) -> None:
    """--save-schedules: a folder that can be written, holding no schedules unless --force."""
    check_folder(folder, "--save-schedules")
    existing = sorted(p.name for p in folder.glob(f"*{SCHEDULE_SUFFIX}")) if folder.is_dir() else []
    if existing and not force:
        raise input_error(
            "--save-schedules",
            "",
            f"{str(folder)!r} already holds {', '.join(existing)}; pass --force to replace "
            "them, or choose another folder",
        )


def no_schedule_exit(report: CompareReport) -> tuple[int, str] | None:
    """The exit code and message when no method (heuristic, CP-SAT) found a schedule, else None."""
    found = [r for r in report.rows if r.source in ("heuristic", "cpsat") and r.valid]
    if found:
        return None
    cpsat = [r for r in report.rows if r.source == "cpsat"]
    if cpsat and cpsat[0].status == "infeasible":
        return EXIT_INFEASIBLE, "no method found a schedule: CP-SAT proved the problem infeasible"
    tried = ", ".join(f"{r.method} ({r.status})" for r in report.rows if r.source != "given")
    return EXIT_NO_SOLUTION, f"no method found a schedule: {tried or 'none was run'}"


@app.command("compare")
def compare_command(
    problem: Annotated[
        Path, typer.Argument(help="Problem file (cpsched-problem/2 or /1, JSON or YAML).")
    ],
    schedule: Annotated[
        list[Path] | None,
        typer.Option(
            "--schedule",
            "-s",
            help="A schedule to check and compare (cpsched-schedule/2 or /1); repeatable.",
        ),
    ] = None,
    time_limit: TimeLimit = 10.0,
    retime_time_limit: Annotated[
        float,
        typer.Option("--retime-time-limit", help="Seconds for each re-timing solve.", min=0.01),
    ] = 5.0,
    workers: Workers = MACHINE_CORES,
    seed: Seed = 0,
    heuristic: Annotated[
        list[str] | None,
        typer.Option(
            "--heuristic", help="Run only this heuristic (default: every one); repeatable."
        ),
    ] = None,
    no_cpsat: Annotated[bool, typer.Option("--no-cpsat", help="Skip the CP-SAT solve.")] = False,
    no_retime: Annotated[bool, typer.Option("--no-retime", help="Skip re-timing.")] = False,
    as_json: AsJson = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON report to this file.")
    ] = None,
    save_schedules: Annotated[
        Path | None,
        typer.Option(
            "--save-schedules",
            help="Write every schedule found (heuristics, CP-SAT, re-timings) into this folder.",
        ),
    ] = None,
    force: Force = False,
) -> None:
    """Run every heuristic and CP-SAT on PROBLEM, check each --schedule, and compare them all.

    Re-timing keeps a schedule's cores (and order) and lets CP-SAT pick the start times.

    That splits each schedule's gap to the optimum into allocation, order and timing.
    """
    from cpsched.analysis.compare import CompareParams, compare
    from cpsched.heuristics import HEURISTICS
    from cpsched.model.io import dump_model, load_problem, load_schedule, write_text_atomic

    with user_errors():
        if output is not None:
            check_file(output, "--output", force)
        if save_schedules is not None:
            _check_schedules_folder(save_schedules, force)
        prob = load_problem(problem)
        given: dict[str, Schedule] = {}
        paths = schedule or []
        for path in paths:
            if paths.count(path) > 1:
                raise input_error("--schedule", "", f"{path} is given twice; give each file once")
            # Named by file name, or by path where two files share a name.
            clash = sum(p.name == path.name for p in paths) > 1
            given[str(path) if clash else path.name] = load_schedule(path)
        names = tuple(heuristic) if heuristic else tuple(HEURISTICS)
        unknown = [n for n in names if n not in HEURISTICS]
        if unknown:
            raise input_error(
                "--heuristic",
                "",
                f"unknown heuristic {unknown[0]!r}; known: {', '.join(HEURISTICS)}",
            )
        params = CompareParams(
            time_limit_s=time_limit,
            retime_time_limit_s=retime_time_limit,
            num_workers=workers,
            seed=seed,
            heuristics=names,
            cpsat=not no_cpsat,
            retime=not no_retime,
        )
    try:
        report = compare(prob, given, params)
    except KeyboardInterrupt:
        raise fail(
            "interrupted before the comparison ended; nothing written", interrupted_exit_code()
        ) from None
    text = dump_model(report)
    if output is not None:
        with user_errors(), writing(output, "--output"):
            write_text_atomic(output, text)
    if save_schedules is not None:
        with user_errors():
            _save_schedules(report, save_schedules)
    if as_json:
        print(text, end="")
    else:
        out = stdout()
        # Tables keep their natural width (a narrow terminal wraps lines, never cuts values).
        wide = Console(file=sys.stdout, width=max(out.width, 132), soft_wrap=True)
        wide.print(rows_table(report))
        for row in report.rows:
            if row.source == "cpsat" and row.status == "infeasible":
                # one line per reason, the tiles that fit no memory one line per layer
                from cpsched.check.fit import reason_lines
                from cpsched.check.infeasibility import find_infeasibility

                lines = reason_lines(prob, find_infeasibility(prob)) or [row.message]
                out.print(f"{row.method}: no schedule: proven infeasible:", highlight=False)
                for line in lines:
                    out.print(f"  {line}", highlight=False, markup=False)
            elif row.valid is None and row.message:
                out.print(f"{row.method}: no schedule: {row.message}", highlight=False)
        if report.optimum is not None:
            out.print(f"optimum (proven by CP-SAT): {report.optimum:g} cycles")
        elif report.best_bound is not None:
            out.print(f"best proven bound: {report.best_bound:g} cycles (optimum not proven)")
        out.print(
            "gap = (latency - bound) / max(1, latency) (docs/results.md); "
            "vs opt = latency / optimum - 1"
        )
        if report.splits:
            wide.print(splits_table(report))
    if received() is not None:  # a solve was cut short: the report is written, but partial
        print("interrupted: a solve was stopped early; the report is incomplete", file=sys.stderr)
        raise typer.Exit(interrupted_exit_code())
    invalid = any(r.source == "given" and r.valid is False for r in report.rows)
    if invalid:
        raise typer.Exit(EXIT_INVALID)
    none = no_schedule_exit(report)
    if none is not None:
        raise fail(none[1], none[0])
    raise typer.Exit(EXIT_OK)
