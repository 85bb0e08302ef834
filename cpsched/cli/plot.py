"""`cpsched plot PROBLEM SCHEDULE`: draw the reports of any valid schedule, from cpsched or not.

Writes gantt.png, memory.png, trace.json (Perfetto) and summary.md into --out. Exit code 0
when written, 1 when the schedule is invalid (nothing is written), 2 for unreadable input, an
--out that cannot be written, or a report file that already exists and --force is not given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.common import EXIT_INVALID, app, fail, stdout, user_errors
from cpsched.cli.options import Force
from cpsched.cli.outputs import check_files, writing

# the report files (cpsched.report.files.REPORT_FILES, which a test holds equal), named here so
# that --out is checked before matplotlib is loaded
REPORT_FILES = ("gantt.png", "memory.png", "trace.json", "summary.md")


@app.command("plot")
def plot_command(
    problem: Annotated[
        Path, typer.Argument(help="Problem file (cpsched-problem/2 or /1, JSON or YAML).")
    ],
    schedule: Annotated[
        Path, typer.Argument(help="Schedule file (cpsched-schedule/2 or /1, JSON or YAML).")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Folder to write the reports into (created if missing)."),
    ] = Path("report"),
    force: Force = False,
) -> None:
    """Draw the Gantt chart, memory plot, Perfetto trace and summary of a valid SCHEDULE."""
    from cpsched.check.validate import validate
    from cpsched.model.io import load_problem, load_schedule

    with user_errors():
        check_files(out, REPORT_FILES, "--out", force)
        prob = load_problem(problem)
        sched = load_schedule(schedule)
    violations = validate(prob, sched)
    if violations:
        raise fail(
            f"{schedule}: invalid schedule ({len(violations)} violations of docs/validity.md); "
            f"run 'cpsched validate {problem} {schedule}' to see them",
            EXIT_INVALID,
        )
    # imported here so that other commands do not pay for loading matplotlib
    from cpsched.report.files import write_reports
    from cpsched.report.summary import summary_table

    with user_errors(), writing(out):
        written = write_reports(prob, sched, out)
    console = stdout()
    console.print(summary_table(prob, sched, None))
    for path in written.values():
        console.print(f"wrote {path}")
