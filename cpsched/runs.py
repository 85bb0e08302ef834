"""Run folders: what `cpsched solve` writes and `cpsched show` reads back.

A run folder holds problem.json, result.json and, when a schedule was found, schedule.json and
the reports. `write_run` writes one, `load_run` reads one (results of format 1 too),
`run_json` is a run as one JSON value, and `solve_command_line` the command that repeats it.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cpsched.model.errors import input_error
from cpsched.model.io import load_problem, load_schedule, parse_model, read_data, save_model
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult, upgrade_result
from cpsched.pipeline import BuildOptions

PROBLEM_FILE = "problem.json"
SCHEDULE_FILE = "schedule.json"
RESULT_FILE = "result.json"
RUN_FILES: tuple[str, ...] = (PROBLEM_FILE, SCHEDULE_FILE, RESULT_FILE)


def default_run_dir(
    workload: str, hardware: str, root: Path = Path("runs"), now: datetime | None = None
) -> Path:
    """Create and return a new folder `root/<workload>-<hardware>-<UTC time>` (with -2, -3, ...
    when taken; creating it claims it, so two runs started in the same second never share one)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = f"{Path(workload).stem}-{Path(hardware).stem}-{stamp}"
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        candidate = root / (base if n == 1 else f"{base}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            n += 1
            continue
        return candidate


def check_out_dir(out: Path, force: bool) -> None:
    """Refuse (InputError on --out) a file, or a non-empty folder unless `force`."""
    if out.exists() and not out.is_dir():
        raise input_error("--out", "", f"{str(out)!r} is a file, expected a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise input_error(
            "--out",
            "",
            f"folder {str(out)!r} is not empty; pass --force to overwrite it, "
            "or leave --out out for a new folder under runs/",
        )


def write_run(out: Path, problem: Problem, result: SolveResult) -> dict[str, Path]:
    """Write problem.json and result.json, and with a schedule schedule.json and the reports.

    Every file is written atomically. Returns what was written, by file name.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = {PROBLEM_FILE: out / PROBLEM_FILE}
    save_model(problem, written[PROBLEM_FILE])
    if result.schedule is not None:
        written[SCHEDULE_FILE] = out / SCHEDULE_FILE
        save_model(result.schedule, written[SCHEDULE_FILE])
    written[RESULT_FILE] = out / RESULT_FILE
    save_model(result, written[RESULT_FILE])
    if result.schedule is not None:
        from cpsched.report.files import write_reports

        written.update(write_reports(problem, result.schedule, out, result))
    else:
        remove_stale_schedule(out)
    return written


def remove_stale_schedule(out: Path) -> None:
    """Remove a schedule.json and reports that an earlier run left in `out` (replaced with
    --force) when this result has no schedule: they would be read as this result's."""
    from cpsched.report.files import REPORT_FILES

    for name in (SCHEDULE_FILE, *REPORT_FILES):
        (out / name).unlink(missing_ok=True)


def load_run(run_dir: Path) -> tuple[Problem, SolveResult]:
    """The problem and result of a run folder written by `write_run` (the schedule is in the
    result; a schedule.json, when present, takes its place)."""
    if not run_dir.is_dir():
        raise input_error(str(run_dir), "", "not a folder; expected a run folder of cpsched solve")
    missing = [name for name in (PROBLEM_FILE, RESULT_FILE) if not (run_dir / name).is_file()]
    if missing:
        raise input_error(
            str(run_dir),
            "",
            f"not a run folder: {' and '.join(missing)} missing "
            f"(a run folder of cpsched solve holds {', '.join(RUN_FILES)})",
        )
    problem = load_problem(run_dir / PROBLEM_FILE)
    result = load_result(run_dir / RESULT_FILE)
    if (run_dir / SCHEDULE_FILE).is_file():
        result = result.model_copy(update={"schedule": load_schedule(run_dir / SCHEDULE_FILE)})
    return problem, result


def load_result(path: Path) -> SolveResult:
    """A result file, of the current format or an older one (upgraded on reading); errors name
    the file and the field."""
    return parse_model(upgrade_result(read_data(path)), SolveResult, str(path))


def solve_command_line(result: SolveResult) -> str | None:
    """The `cpsched solve` command that repeats a run (None for a result it did not make)."""
    p = result.parameters
    try:
        options = BuildOptions.model_validate(p.get("build"))
        limit, workers, seed = float(p["time_limit_s"]), int(p["num_workers"]), int(p["seed"])
    except (ValidationError, KeyError, TypeError, ValueError):
        return None
    args = ["cpsched", "solve", "--workload", options.workload]
    for key, value in options.overrides.items():
        args += ["--set", f"{key}={value}"]
    args += ["--hardware", options.hardware, "--tiles", str(options.tiles)]
    if options.head_tiles != 1:
        args += ["--head-tiles", str(options.head_tiles)]
    for item in options.split:
        args += ["--split", item]
    args += ["--mode", options.mode, "--allocation", options.allocation]
    if options.costs is not None:
        args += ["--costs", options.costs]
    args += ["--objective", result.objective, "--time-limit", f"{limit:g}"]
    args += ["--workers", str(workers), "--seed", str(seed)]
    if p.get("relative_gap_limit"):
        args += ["--gap", f"{p['relative_gap_limit']:g}"]
    if p.get("use_hint") is False:
        args.append("--no-heuristic-hint")
    return shlex.join(args)


def run_json(
    run_dir: Path, problem: Problem, result: SolveResult, files: dict[str, Path]
) -> dict[str, Any]:
    """A run as one JSON value: its folder and files, the metrics of its schedule, the result."""
    from cpsched.check.metrics import metrics

    return {
        "run_dir": str(run_dir),
        "files": {name: str(path) for name, path in files.items()},
        "problem": problem.name,
        "status": result.status,
        "interrupted": result.interrupted,
        "command": solve_command_line(result),
        "metrics": None
        if result.schedule is None
        else metrics(problem, result.schedule).model_dump(mode="json"),
        "result": result.model_dump(mode="json"),
    }
