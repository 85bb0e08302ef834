"""`cpsched show RUN_DIR`: the summary of a past `cpsched solve` run, read from its files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cpsched.cli.common import app, stderr, stdout, user_errors
from cpsched.cli.options import AsJson
from cpsched.cli.progress import print_infeasibility, result_table


@app.command("show")
def show_command(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by cpsched solve.")],
    as_json: AsJson = False,
) -> None:
    """Print the summary of a past run from its problem.json, schedule.json and result.json."""
    from cpsched.check.validate import validate
    from cpsched.runs import load_run, run_json, solve_command_line

    with user_errors():
        problem, result = load_run(run_dir)
    files = {p.name: p for p in sorted(run_dir.iterdir()) if p.is_file()}
    if result.schedule is not None:
        violations = validate(problem, result.schedule)
        if violations:
            stderr().print(
                f"warning: the schedule of {run_dir} breaks docs/validity.md ({len(violations)} "
                f"violations); run 'cpsched validate' on its problem.json and schedule.json",
                markup=False,
                highlight=False,
            )
    if as_json:
        print(json.dumps(run_json(run_dir, problem, result, files), indent=2))
        return
    console = stdout()
    console.print(result_table(problem, result))
    for path in files.values():
        console.print(f"file {path}", highlight=False)
    command = solve_command_line(result)
    if command is not None:
        console.print(f"made by: {command}", highlight=False, markup=False)
    print_infeasibility(stderr(), problem, result)
