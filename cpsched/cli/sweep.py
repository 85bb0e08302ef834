"""`cpsched sweep` and `cpsched sweep-report`: a design-space study from a sweep file.

`cpsched sweep FILE` runs every point of the sweep in parallel on this machine (or with
`--dask` on a Dask cluster), appends each point's record to DIR/records.jsonl as it ends, and
finishes with results.csv, summary.md, the plots and the answer on stdout. Rerunning the same
command resumes: points already recorded are skipped. Ctrl-C or SIGTERM stops it, every
finished point kept (exit 130 / 143); so does a local worker process that dies (exit 1).
`cpsched sweep-report DIR` prints the answer again and
(re)writes the table, summary and plots. Exit 2 for a bad sweep file or --out.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cpsched.cli.common import EXIT_INVALID, app, fail, stderr, stdout, user_errors
from cpsched.cli.options import Force, Quiet
from cpsched.cli.signals import interrupted_exit_code

if TYPE_CHECKING:
    from cpsched.sweep.execute import SweepProgress

SWEEPS_ROOT = Path("sweeps")

SweepFileArg = Annotated[
    Path, typer.Argument(help="Sweep file (YAML), e.g. models/sweeps/fusion_study.yaml.")
]
HeatmapAxes = Annotated[
    str | None,
    typer.Option(
        "--heatmap-axes",
        help="Two axes of the winner heat map, X,Y: parameters (M, L1_KIB, ...), hardware or "
        "workload (default: the first two swept parameters).",
    ),
]


def _axes(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise fail(f"--heatmap-axes: {text!r} is not X,Y (e.g. M,L1_KIB)")
    return parts[0], parts[1]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Bar:
    """The live bar: points done / total, running, failed, elapsed and remaining."""

    def __init__(self, quiet: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self.progress = None
        if not quiet:
            self.progress = Progress(
                TextColumn("sweep"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} done"),
                TextColumn("{task.fields[running]} running"),
                TextColumn("{task.fields[failed]} failed"),
                TextColumn("{task.fields[elapsed]} elapsed, ~{task.fields[remaining]} left"),
                console=stderr(),
                transient=False,
            )
        self.task: Any = None

    def __call__(self, p: SweepProgress) -> None:
        if self.progress is None:
            return
        fields: dict[str, Any] = {
            "running": p.running,
            "failed": p.failed,
            "elapsed": _duration(p.elapsed_s),
            "remaining": _duration(p.remaining_s),
        }
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("sweep", total=p.total, **fields)
        self.progress.update(self.task, completed=p.done, **fields)

    def close(self) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.stop()


def _print_answer(name: str, records: list[dict[str, Any]], total: int) -> None:
    """The answer tables on stdout."""
    from rich import box
    from rich.table import Table

    from cpsched.sweep.summary import best_tilings, compare_modes, status_counts

    out = stdout()
    if not out.is_terminal:  # a file or pipe: whole rows, not columns cut to 80 characters
        out.width = 200
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status_counts(records).items()))
    out.print(
        f"sweep {name}: {len(records)} of {total} points recorded ({counts})", highlight=False
    )
    modes = Table(
        title="fused vs layer-by-layer (ratio = fused / layer-by-layer; alpha: peak activation "
        "memory)",
        box=box.SIMPLE_HEAD,
    )
    for column in ("workload", "hardware", "tiling", "objective"):
        modes.add_column(column)
    for column in ("fused", "layer-by-layer", "ratio", "alpha"):
        modes.add_column(column, justify="right")
    modes.add_column("proven")
    modes.add_column("winner")
    for c in compare_modes(records):
        modes.add_row(
            c.workload,
            c.hardware,
            c.tiling,
            c.objective,
            f"{c.fused:,.6g}",
            f"{c.layer_by_layer:,.6g}",
            "-" if c.ratio is None else f"{c.ratio:.3f}",
            "-" if c.alpha is None else f"{c.alpha:.3f}",
            "yes" if c.proven else "no",
            c.winner,
        )
    out.print(modes)
    best = Table(title="best tiling per objective", box=box.SIMPLE_HEAD)
    for column in ("workload", "hardware", "objective", "tiling", "mode"):
        best.add_column(column)
    best.add_column("value", justify="right")
    best.add_column("proven")
    for b in best_tilings(records):
        best.add_row(
            b.workload,
            b.hardware,
            b.objective,
            b.tiling,
            b.mode,
            f"{b.value:,.6g}",
            "yes" if b.proven else "no",
        )
    out.print(best)
    failed = [r for r in records if r.get("status") == "error"]
    for r in failed[:5]:
        stderr().print(f"point {r['index']} failed: {r.get('error')}", highlight=False)
    if len(failed) > 5:
        stderr().print(f"... {len(failed) - 5} more failed points: see summary.md", highlight=False)


@app.command("sweep")
def sweep_command(
    file: SweepFileArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Sweep folder (default: sweeps/<name>); resumed."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Points at once (default: the cores over each point's CP-SAT workers); with "
            "--dask local, the LocalCluster's workers.",
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Run on Dask: 'local' (a LocalCluster here) or a scheduler address "
            "(tcp://host:8786). Needs cpsched's dask extra.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the points and a time estimate; run nothing.")
    ] = False,
    heatmap_axes: HeatmapAxes = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Run a design-space sweep: every point of FILE, in parallel, recorded as it ends."""
    from cpsched.cli.outputs import check_folder
    from cpsched.sweep.execute import SweepCrashed, default_jobs, estimate_s, run_sweep
    from cpsched.sweep.report import report_files_present, write_report
    from cpsched.sweep.spec import load_sweep
    from cpsched.sweep.store import RECORDS_FILE, read_manifest, read_records

    axes = _axes(heatmap_axes)
    with user_errors():
        sweep = load_sweep(file)
        folder = out if out is not None else SWEEPS_ROOT / sweep.spec.name
        manifest = read_manifest(folder) if folder.is_dir() else None
        n_jobs = jobs or default_jobs(sweep.spec.workers)
        same = manifest is not None and manifest.get("inputs_key") == sweep.inputs_key()
        recorded = len(read_records(folder / RECORDS_FILE)[0]) if same and not force else 0
        if dry_run:
            print(
                f"{len(sweep.points)} points ({sweep.considered} in the cross product"
                f"{', less the filter' if sweep.spec.filter else ''}), {recorded} already "
                f"recorded in {folder}; {sweep.spec.time_limit_s:g} s per point, "
                f"{sweep.spec.workers} CP-SAT worker(s) each, {n_jobs} at once: at most about "
                f"{_duration(estimate_s(sweep, n_jobs, recorded))} (h:mm:ss)"
            )
            raise typer.Exit(0)
        check_folder(folder, "--out")
    bar = _Bar(quiet)
    err = stderr()
    try:
        with user_errors():
            outcome = run_sweep(sweep, folder, jobs=n_jobs, dask=dask, force=force, on_progress=bar)
    except SweepCrashed as exc:
        raise fail(str(exc), EXIT_INVALID) from None
    finally:
        bar.close()
    if outcome.interrupted:
        err.print(
            f"interrupted: {len(outcome.records)} of {outcome.total} points recorded in "
            f"{folder / RECORDS_FILE}; run the same command again to resume",
            highlight=False,
        )
        raise typer.Exit(interrupted_exit_code())
    if not quiet:
        err.print(
            f"{outcome.ran} points run ({outcome.executor}), {outcome.skipped} already recorded, "
            f"in {outcome.wall_time_s:.1f} s",
            highlight=False,
        )
    with user_errors():
        present = report_files_present(folder)
        if outcome.ran or force or len(present) < 2:  # table and summary; plots may be absent
            written = write_report(folder, sweep.spec.name, outcome.records, outcome.total, axes)
            for path in written:
                err.print(f"wrote {path}", highlight=False)
        else:
            err.print(
                f"{folder} already holds this finished sweep; nothing rewritten (--force runs "
                "it again)",
                highlight=False,
            )
    _print_answer(sweep.spec.name, outcome.records, outcome.total)
    sys.stdout.flush()


@app.command("sweep-report")
def sweep_report_command(
    folder: Annotated[Path, typer.Argument(help="A sweep folder (written by cpsched sweep).")],
    heatmap_axes: HeatmapAxes = None,
    force: Force = False,
) -> None:
    """Print a sweep's answer again, and write its table, summary and plots (those present
    only with --force)."""
    from cpsched.cli.outputs import check_folder
    from cpsched.sweep.report import report_files_present, write_report
    from cpsched.sweep.store import load_sweep_folder

    axes = _axes(heatmap_axes)
    with user_errors():
        manifest, records = load_sweep_folder(folder)
        present = report_files_present(folder)
        if present and not force:
            stderr().print(
                f"{folder} already holds {', '.join(present)}; pass --force to rewrite them",
                highlight=False,
            )
        else:
            check_folder(folder, "FOLDER")
            total = int(manifest.get("points", len(records)))
            for path in write_report(folder, str(manifest.get("name")), records, total, axes):
                stderr().print(f"wrote {path}", highlight=False)
    _print_answer(str(manifest.get("name")), records, int(manifest.get("points", len(records))))
