"""The main job as one typed pipeline: build a problem, find heuristic schedules, solve with CP-SAT.

`run_job` is what `cpsched solve` calls: it reports each phase (build, heuristics, solve) and the
solver's progress through callbacks, and returns the problem, every heuristic's result and the
CP-SAT result. `write_run` writes a run folder (problem, schedule, result and the reports);
`load_run` reads one back for `cpsched show`.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cpsched.cpsat.params import Progress, SolverParams
from cpsched.frontend.build import build_problem, load_allocation, load_hardware, load_workload
from cpsched.frontend.costs import load_cost_table
from cpsched.frontend.tiling import TilingSpec, parse_splits, tile_workload
from cpsched.frontend.workload.spec import Workload
from cpsched.heuristics import best_heuristic, run_heuristics
from cpsched.model.errors import input_error
from cpsched.model.io import load_model, load_problem, load_schedule, save_model
from cpsched.model.objective import Objective, as_objective
from cpsched.model.problem import Problem, TaskId
from cpsched.model.result import SolveResult, relative_gap, solver_versions

DEFAULT_WORKLOAD = "attention_head"
DEFAULT_HARDWARE = "quad_bus"
# T=2 proves latency-then-memory optimal in about half a second on the bundled default; T=4 is
# not proven within a minute (gap about 14 % after 60 s on 2 workers)
DEFAULT_TILES = 2
DEFAULT_OBJECTIVE = "latency,memory"
DEFAULT_TIME_LIMIT_S = 30.0

PROBLEM_FILE = "problem.json"
SCHEDULE_FILE = "schedule.json"
RESULT_FILE = "result.json"
RUN_FILES: tuple[str, ...] = (PROBLEM_FILE, SCHEDULE_FILE, RESULT_FILE)

PhaseName = Literal["build", "heuristics", "solve"]


class BuildOptions(BaseModel):
    """What `cpsched build` and `cpsched solve` take to make a problem (their shared options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workload: str = DEFAULT_WORKLOAD  # bundled name, or a .yaml / .onnx file
    overrides: dict[str, int] = Field(default_factory=dict)  # --set K=V
    hardware: str = DEFAULT_HARDWARE  # bundled name, or a .yaml file
    tiles: int = DEFAULT_TILES  # along the token dim
    head_tiles: int = 1
    split: tuple[str, ...] = ()  # --split DIM=N or LAYER.DIM=N
    mode: str = "fused"  # fused | layer-by-layer
    allocation: str = "tile"  # tile | layer | a file mapping layer -> core
    costs: str | None = None  # cost table file overriding the analytic model


def build_from_options(options: BuildOptions) -> Problem:
    """The problem that `options` describe; every bad option is an InputError naming it."""
    return load_and_build(options)[1]


def load_and_build(options: BuildOptions) -> tuple[Workload, Problem]:
    """The workload and the problem that `options` describe (errors as build_from_options)."""
    if options.mode not in ("fused", "layer-by-layer"):
        raise input_error("--mode", "", f"{options.mode!r}; accepted: fused, layer-by-layer")
    if options.tiles < 1:
        raise input_error("--tiles", "", f"{options.tiles}; must be >= 1")
    if options.head_tiles < 1:
        raise input_error("--head-tiles", "", f"{options.head_tiles}; must be >= 1")
    fixed: dict[str, str] = {}
    if options.allocation not in ("tile", "layer"):
        path = Path(options.allocation)
        if not path.is_file():
            looks_like_file = bool(path.suffix) or "/" in options.allocation or path.exists()
            raise input_error(
                "--allocation",
                "",
                f"file {options.allocation!r} not found; accepted: tile, layer, or a YAML/JSON "
                "file mapping layer names to core ids"
                if looks_like_file
                else f"{options.allocation!r} is neither tile, layer nor an existing file",
            )
        fixed = load_allocation(options.allocation)
    if options.costs is not None and not Path(options.costs).is_file():
        raise input_error("--costs", "", f"file {options.costs!r} not found")
    for option, value in (("--workload", options.workload), ("--hardware", options.hardware)):
        if Path(value).is_dir():
            raise input_error(option, "", f"{value!r} is a folder; expected a name or a file")
    workload = load_workload(options.workload, options.overrides)
    for count, dim, option in (
        (options.tiles, "token_dim", "--tiles"),
        (options.head_tiles, "head_dim", "--head-tiles"),
    ):
        if count > 1 and not any(getattr(layer, dim) for layer in workload.layers):
            raise input_error(
                option,
                "",
                f"{count}, but no layer of workload {workload.name!r} has a "
                f"{dim.replace('_', ' ')} ({dim} in its file) to cut; cut other loops with "
                "--split LAYER.DIM=N",
            )
    hardware = load_hardware(options.hardware)
    table = load_cost_table(options.costs) if options.costs is not None else None
    split_dims, split_layers = parse_splits(list(options.split))
    spec = TilingSpec(
        tiles=options.tiles,
        dims=split_dims,
        layers=split_layers,
        head_tiles=options.head_tiles,
        mode="fused" if options.mode == "fused" else "layer-by-layer",
        allocation="fixed" if fixed else "layer" if options.allocation == "layer" else "tile",
        fixed=fixed,
    )
    tiled = tile_workload(workload, spec, source="--split" if options.split else "--tiles")
    return workload, build_problem(workload, hardware, spec, table, tiled=tiled)


def check_tiles_fit(problem: Problem, workload: Workload | None = None) -> None:
    """Refuse (InputError) a problem with a tile whose inputs and outputs exceed every memory it
    may use: it has no schedule, and the fix is finer tiles or larger memories.

    The message names the hungriest tile, its bytes, its largest tensor, the largest memory it
    may use and its capacity, and (given the workload) the loops its layer could be split along.
    """
    from cpsched.check.infeasibility import task_too_big

    cores = {t.id: tuple(o.core for o in t.options) for t in problem.tasks}
    reasons = task_too_big(problem, cores)
    if not reasons:
        return
    worst = max(reasons, key=lambda r: r.demand or 0.0)
    task = problem.task_by_id[TaskId((worst.resource or "").removeprefix("task "))]
    memories = [problem.memory_by_id[problem.memory_of(k)] for k in cores[task.id]]
    memory = max(memories, key=lambda m: m.capacity_bytes or 0)
    biggest = max(
        (problem.tensor_by_id[t] for t in dict.fromkeys((*task.inputs, *task.outputs))),
        key=lambda t: t.size_bytes,
    )
    layers = list(
        dict.fromkeys(
            problem.task_by_id[TaskId(r.resource[5:])].layer for r in reasons if r.resource
        )
    )
    where = ""
    if workload is not None:
        layer = workload.layer_by_name()[task.layer]
        reduced = layer.reduced_dims()
        dims = [f"{d} of {n}" for d, n in layer.loops.items() if d not in reduced and n > 1]
        if dims:
            where = f" ({task.layer}'s splittable loops: {', '.join(dims)})"
    raise input_error(
        "--tiles/--hardware",
        "",
        f"{len(reasons)} of {len(problem.tasks)} tiles (of layers {', '.join(layers)}) fit no "
        f"memory they may use; the largest, {task.id}, needs {int(worst.demand or 0):,} bytes "
        f"for its inputs and outputs ({biggest.kind} {biggest.id}: {biggest.size_bytes:,} bytes), "
        f"but {memory.id} holds {memory.capacity_bytes or 0:,} bytes; cut finer: --tiles "
        f"(tokens), --head-tiles, or --split LAYER.DIM=N{where}; or use a hardware with larger "
        "memories",
    )


@dataclass(frozen=True)
class PhaseEvent:
    """A phase of the job starting (`done` False) or ending (`done` True, with what it found)."""

    phase: PhaseName
    done: bool
    elapsed_s: float  # since the job started
    detail: str = ""


class RunOutcome(NamedTuple):
    """What a job returns: the problem, every heuristic's result by name, the CP-SAT result."""

    problem: Problem
    heuristics: dict[str, SolveResult]
    result: SolveResult


def run_job(
    options: BuildOptions,
    objective: str | Objective = DEFAULT_OBJECTIVE,
    params: SolverParams = SolverParams(),  # noqa: B008 - frozen, so a shared default is safe
    on_phase: Callable[[PhaseEvent], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunOutcome:
    """Build the problem, run the heuristics (the best one is CP-SAT's hint) and solve.

    The result's parameters include the build options, the hint's heuristic and every
    heuristic's latency. Ctrl-C during the solve keeps the best schedule so far (status
    `feasible`, message "interrupted ..."). When CP-SAT ends without a schedule (time limit or
    Ctrl-C) but a heuristic found one, that schedule is kept, marked as such. Ctrl-C during the
    heuristics returns status `unknown` with no schedule; Ctrl-C while building propagates,
    since there is nothing to keep.
    """
    started = time.monotonic()
    obj = as_objective(objective)
    current: PhaseName = "build"

    def phase(name: PhaseName, done: bool, detail: str = "") -> None:
        nonlocal current
        current = name
        if on_phase is not None:
            on_phase(PhaseEvent(name, done, time.monotonic() - started, detail))

    phase("build", False)
    workload, problem = load_and_build(options)
    check_tiles_fit(problem, workload)
    phase(
        "build",
        True,
        f"{len(problem.tasks)} tasks, {len(problem.tensors)} tensors, {len(problem.cores)} cores",
    )
    heuristics: dict[str, SolveResult] = {}
    best: str | None = None
    result: SolveResult
    try:
        if params.use_hint:
            phase("heuristics", False)
            heuristics = run_heuristics(problem)
            best = best_heuristic(heuristics)
            phase(
                "heuristics",
                True,
                "no schedule found"
                if best is None
                else f"best {best}: latency {heuristics[best].objective_value:,.0f} cycles",
            )
        phase("solve", False)
        from cpsched.cpsat import solve

        hint = heuristics[best].schedule if best is not None else None
        result = solve(problem, obj, params, hint=hint, on_progress=on_progress)
    except KeyboardInterrupt:
        result = SolveResult(
            method="cpsat",
            status="unknown",
            objective=str(obj),
            wall_time_s=time.monotonic() - started,
            parameters=params.model_dump(),
            message="interrupted before any schedule was found",
            versions=solver_versions(),
        )
    parameters: dict[str, Any] = {**result.parameters, "build": options.model_dump(mode="json")}
    if heuristics:
        parameters["heuristic_latency_cycles"] = {
            name: r.objective_value for name, r in heuristics.items()
        }
    if best is not None and str(parameters.get("hint", "")).startswith("given"):
        parameters["hint"] = f"heuristic {best}" + str(parameters["hint"])[len("given") :]
    result = result.model_copy(update={"parameters": parameters})
    if result.schedule is None and result.status == "unknown" and best is not None:
        result = keep_heuristic(problem, result, best, heuristics[best])
    phase(current, True, _outcome(result))
    return RunOutcome(problem, heuristics, result)


def keep_heuristic(
    problem: Problem, result: SolveResult, name: str, heuristic: SolveResult
) -> SolveResult:
    """`result` (CP-SAT ended with no schedule) with the heuristic's schedule in its place,
    measured in the result's objective, so the job still delivers the best schedule it has."""
    from cpsched.check.metrics import metrics

    assert heuristic.schedule is not None
    obj = as_objective(result.objective)
    value = metrics(problem, heuristic.schedule).stage_value(obj.stages[0])
    first = result.stages[0] if result.stages else {}
    bound = first.get("bound")
    bound = None if bound is None else min(float(bound), value)
    why = (
        "interrupted before CP-SAT found a schedule"
        if was_interrupted(result)
        else "CP-SAT found no schedule within the time limit"
    )
    return result.model_copy(
        update={
            "method": name,
            "status": "feasible",
            "objective_value": value,
            "bound": bound,
            "gap": None if bound is None else max(0.0, relative_gap(value, bound)),
            "schedule": heuristic.schedule,
            "message": f"{why}; the best heuristic schedule ({name}) is kept",
        }
    )


def _outcome(result: SolveResult) -> str:
    """One line on how a solve ended: status, objective, bound and gap."""
    text: str = result.status
    if result.objective_value is not None:
        text += f": objective {result.objective_value:,.6g}"
        if result.bound is not None:
            text += f", bound {result.bound:,.6g}"
        if result.gap is not None:
            text += f", gap {result.gap:.2%}"
    if result.message:
        text += f" ({result.message})"
    return text


# --- run folders ---


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
    return written


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
    result = load_model(run_dir / RESULT_FILE, SolveResult)
    if (run_dir / SCHEDULE_FILE).is_file():
        result = result.model_copy(update={"schedule": load_schedule(run_dir / SCHEDULE_FILE)})
    return problem, result


def was_interrupted(result: SolveResult) -> bool:
    """Whether Ctrl-C stopped the job (the result's message says so)."""
    return result.message.startswith("interrupted")


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
        "interrupted": was_interrupted(result),
        "command": solve_command_line(result),
        "metrics": None
        if result.schedule is None
        else metrics(problem, result.schedule).model_dump(mode="json"),
        "result": result.model_dump(mode="json"),
    }
