"""`cpsched plot PROBLEM SCHEDULE`: draw the reports of any valid schedule, from cpsched or not.

Writes gantt.png, memory.png, trace.json (Perfetto) and summary.md into --out. Exit code 0
when written, 1 when the schedule is invalid (nothing is written), 2 for unreadable input or
when a report file already exists and --force is not given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpsched.check.validate import validate
from cpsched.cli.app import EXIT_INVALID, app, fail, stdout, user_errors
from cpsched.model.io import load_problem, load_schedule
from cpsched.report.summary import summary_table


@app.command("plot")
def plot_command(
    problem: Annotated[
        Path, typer.Argument(help="Problem file (cpsched-problem/1, JSON or YAML).")
    ],
    schedule: Annotated[
        Path, typer.Argument(help="Schedule file (cpsched-schedule/1, JSON or YAML).")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder to write the reports into (created if missing)."),
    ] = Path("report"),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite report files that already exist.")
    ] = False,
) -> None:
    """Draw the Gantt chart, memory plot, Perfetto trace and summary of a valid SCHEDULE."""
    with user_errors():
        prob = load_problem(problem)
        sched = load_schedule(schedule)
    violations = validate(prob, sched)
    if violations:
        raise fail(
            f"{schedule}: invalid schedule ({len(violations)} violations of SPEC.md §4); "
            f"run 'cpsched validate {problem} {schedule}' to see them",
            EXIT_INVALID,
        )
    # Imported here so that other commands do not pay for loading matplotlib.
    from cpsched.report.files import existing_report_files, write_reports

    if out.exists() and not out.is_dir():
        raise fail(f"--out: {out} is a file, expected a folder")
    existing = existing_report_files(out)
    if existing and not force:
        names = ", ".join(p.name for p in existing)
        raise fail(f"--out: {out} already holds {names}; pass --force to overwrite")
    written = write_reports(prob, sched, out)
    console = stdout()
    console.print(summary_table(prob, sched, None))
    for path in written.values():
        console.print(f"wrote {path}")
