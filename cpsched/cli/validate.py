"""`cpsched validate PROBLEM SCHEDULE`: check a schedule against SPEC.md §4 and show its metrics."""

from __future__ import annotations

from pathlib import Path

import typer

from cpsched.cli.app import app, stdout, user_errors
from cpsched.io import load_problem, load_schedule


@app.command()
def validate(
    problem: Path = typer.Argument(..., help="Problem file (JSON or YAML)."),
    schedule: Path = typer.Argument(..., help="Schedule file (JSON or YAML)."),
) -> None:
    """Check that SCHEDULE is a valid schedule of PROBLEM (SPEC.md §4)."""
    with user_errors():
        load_problem(problem)
        load_schedule(schedule)
    stdout().print("loaded")
