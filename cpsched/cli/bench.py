"""`cpsched bench --suite NAME`: run a benchmark suite and write its .json, .md and figures.

A progress bar on stderr shows the instance being run; at the end the files written and a
table of the records (by method and status) are printed. `--list` lists the suites. Exit
codes: 0 when the suite ran, 2 for a bad option (an unknown suite), 130 after Ctrl-C (the
instances that finished are written, marked interrupted).
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cpsched.bench.runner import BenchConfig, Record, load_records, run_suite, suite_def
from cpsched.cli.app import app, stderr, stdout, user_errors
from cpsched.model.errors import input_error

EXIT_INTERRUPTED = 130
DEFAULT_OUT = Path("bench-results")


def bench_command_line(config: BenchConfig, out: Path) -> str:
    """The `cpsched bench ...` command that repeats a run with these options."""
    parts = ["cpsched", "bench", "--suite", config.suite]
    if config.quick:
        parts.append("--quick")
    if config.time_limit_s is not None:
        parts += ["--time-limit", f"{config.time_limit_s:g}"]
    parts += ["--workers", str(config.num_workers)]
    if config.seed != 0:
        parts += ["--seed", str(config.seed)]
    parts += ["--out", str(out)]
    return shlex.join(parts)


def records_table(suite: str, records: list[Record]) -> Table:
    """Records per method: how many, how many proven, the rest by status, and the wall time."""
    table = Table(title=f"{suite}: {len(records)} records", box=box.SIMPLE_HEAD)
    for name in ("method", "records", "optimal", "other statuses", "wall s"):
        table.add_column(name, justify="left" if name in ("method", "other statuses") else "right")
    by_method: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_method[r.method].append(r)
    for method, rs in by_method.items():
        statuses = Counter(r.status for r in rs if r.status != "optimal")
        others = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items())) or "-"
        table.add_row(
            method,
            str(len(rs)),
            str(sum(r.status == "optimal" for r in rs)),
            others,
            f"{sum(r.wall_time_s for r in rs):,.1f}",
        )
    return table


def _list_suites() -> None:
    from cpsched.bench.suites import SUITES

    table = Table(title="bench suites", box=box.SIMPLE_HEAD)
    table.add_column("suite", no_wrap=True)
    table.add_column("title")
    for name, suite in SUITES.items():
        table.add_row(name, suite.title)
    stdout().print(table)


@app.command("bench")
def bench_command(
    suite: Annotated[
        str | None, typer.Option("--suite", help="Which suite to run (see --list).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A reduced suite that runs in about a minute.")
    ] = False,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit", min=0.01, help="Seconds per solve (default: the suite's own)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="CP-SAT workers.")] = 2,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for <suite>.json, <suite>.md and <suite>-*.png."),
    ] = DEFAULT_OUT,
    list_suites: Annotated[
        bool, typer.Option("--list", help="List the suites and their titles, then exit.")
    ] = False,
) -> None:
    """Run a benchmark suite; write its records (.json), report (.md) and figures into --out."""
    if list_suites:
        _list_suites()
        return
    with user_errors():
        if suite is None:
            from cpsched.bench.suites import SUITES

            raise input_error(
                "--suite", "", f"missing; one of: {', '.join(sorted(SUITES))} (or --list)"
            )
        suite_def(suite)
        if out.exists() and not out.is_dir():
            raise input_error("--out", "", f"{str(out)!r} is a file, expected a folder")
    config = BenchConfig(
        suite=suite, quick=quick, time_limit_s=time_limit, num_workers=workers, seed=seed
    )
    command = bench_command_line(config, out)
    console = stderr()
    interrupted = False
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task(f"{suite}: preparing", total=None)

        def on_case(i: int, n: int, name: str) -> None:
            progress.update(
                bar, total=n, completed=i - 1, description=f"instance {i} of {n}: {name}"
            )

        try:
            json_path = run_suite(config, out, command, on_case)
            progress.update(bar, completed=progress.tasks[0].total, description=f"{suite}: done")
        except KeyboardInterrupt:
            interrupted = True
            json_path = out / f"{suite}.json"
    document, records = load_records(json_path)
    printer = stdout()
    for path in [json_path, json_path.with_suffix(".md"), *sorted(out.glob(f"{suite}-*.png"))]:
        printer.print(f"wrote {path}")
    printer.print(records_table(suite, records))
    if interrupted or document.get("interrupted"):
        console.print("interrupted: only the instances that finished were written")
        raise typer.Exit(EXIT_INTERRUPTED)
