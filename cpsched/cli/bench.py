"""`cpsched bench --suite NAME`: run a benchmark suite and write its .json, .md and figures.

A progress bar on stderr shows the instance being run; at the end the files written and a
table of the records (by method and status) are printed. `--list` lists the suites. The suite
runs in a hidden folder inside --out and its files are moved into --out when it ends, so an
interrupted run never replaces earlier results with nothing; files already in --out are never
replaced without --force. Exit codes: 0 when the suite ran, 2 for a bad option (an unknown
suite, an --out that cannot be written or holds the suite's files), 130 after Ctrl-C and 143
after SIGTERM (the instances that finished are written, marked interrupted; nothing when none
finished).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from cpsched.cli.common import app, stderr, stdout, user_errors
from cpsched.cli.options import BenchWorkers, Force, Seed, SuiteTimeLimit
from cpsched.cli.outputs import check_files, writing
from cpsched.cli.signals import interrupted_exit_code
from cpsched.model.errors import input_error

if TYPE_CHECKING:
    from cpsched.bench.runner import BenchConfig, Record

DEFAULT_OUT = Path("bench-results")


def suite_files(suite: str, folder: Path) -> list[str]:
    """The files of `suite` in `folder`: its .json, .md and every <suite>-*.png there."""
    pngs = sorted(p.name for p in folder.glob(f"{suite}-*.png")) if folder.is_dir() else []
    return [f"{suite}.json", f"{suite}.md", *pngs]


def _move_files(source: Path, folder: Path) -> list[Path]:
    """Move every file of `source` into `folder` (each replace is atomic), in name order."""
    moved = []
    for path in sorted(source.iterdir()):
        if path.is_file():
            os.replace(path, folder / path.name)
            moved.append(folder / path.name)
    return moved


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
    time_limit: SuiteTimeLimit = None,
    workers: BenchWorkers = 2,
    seed: Seed = 0,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for <suite>.json, <suite>.md and <suite>-*.png."),
    ] = DEFAULT_OUT,
    list_suites: Annotated[
        bool, typer.Option("--list", help="List the suites and their titles, then exit.")
    ] = False,
    force: Force = False,
) -> None:
    """Run a benchmark suite; write its records (.json), report (.md) and figures into --out."""
    if list_suites:
        _list_suites()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from cpsched.bench.runner import BenchConfig, load_records, run_suite, suite_def

    with user_errors():
        if suite is None:
            from cpsched.bench.suites import SUITES

            raise input_error(
                "--suite", "", f"missing; one of: {', '.join(sorted(SUITES))} (or --list)"
            )
        suite_def(suite)
        check_files(out, suite_files(suite, out), "--out", force)
    config = BenchConfig(
        suite=suite, quick=quick, time_limit_s=time_limit, num_workers=workers, seed=seed
    )
    command = bench_command_line(config, out)
    console = stderr()
    interrupted = False
    with user_errors(), writing(out):
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{suite}-", dir=out))
    try:
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
                run_suite(config, staging, command, on_case)
                progress.update(
                    bar, completed=progress.tasks[0].total, description=f"{suite}: done"
                )
            except KeyboardInterrupt:
                interrupted = True
        staged = staging / f"{suite}.json"
        document, records = load_records(staged) if staged.is_file() else ({}, [])
        if interrupted and not records:
            console.print(
                "interrupted before the first instance finished: nothing written"
                + (f" ({out} is as it was)" if (out / f"{suite}.json").exists() else ""),
                highlight=False,
            )
            raise typer.Exit(interrupted_exit_code())
        with user_errors(), writing(out):
            written = _move_files(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    printer = stdout()
    for path in written:
        printer.print(f"wrote {path}", highlight=False)
    printer.print(records_table(suite, records))
    if interrupted or document.get("interrupted"):
        console.print("interrupted: only the instances that finished were written")
        raise typer.Exit(interrupted_exit_code())
