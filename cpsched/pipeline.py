"""The main job as one typed pipeline: build a problem, find heuristic schedules, solve with CP-SAT.

`run_job` is what `cpsched solve` calls: it reports each phase (build, heuristics, solve) and the
solver's progress through callbacks, and returns the problem, every heuristic's result and the
CP-SAT result. `solve_from_hint` is the same solve for a problem at hand. Both hold the one
rule that a result is never worse than its hint: :func:`keep_hint`, here and nowhere else
(`cpsched.cpsat.solve` returns no schedule when CP-SAT finds none). Run folders are in
:mod:`cpsched.runs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat.params import ALTERNATES_SHARE, Progress, SolverParams
from cpsched.frontend.autotile import AutoTiling, choose_tiling, layer_misfits
from cpsched.frontend.build import build_problem, load_allocation, load_hardware, load_workload
from cpsched.frontend.costs import load_cost_table
from cpsched.frontend.tiling import TilingSpec, parse_splits, tile_workload
from cpsched.frontend.workload.precision import Precision
from cpsched.frontend.workload.spec import Workload
from cpsched.heuristics import IN_SPACE, best_heuristic, iter_heuristics, run_heuristics
from cpsched.model.errors import input_error
from cpsched.model.objective import Metric, Objective, as_objective
from cpsched.model.problem import Problem
from cpsched.model.result import HintInfo, SolveResult, relative_gap, solver_versions
from cpsched.model.schedule import Schedule

DEFAULT_WORKLOAD = "attention_head"
DEFAULT_HARDWARE = "quad_bus"
# T=2 proves latency-then-memory optimal in about half a second on the bundled default; T=4 is
# not proven within a minute (gap about 14 % after 60 s on 2 workers)
DEFAULT_TILES = 2
DEFAULT_OBJECTIVE = "latency,memory"
DEFAULT_TIME_LIMIT_S = 30.0

PhaseName = Literal["build", "heuristics", "solve"]


class BuildOptions(BaseModel):
    """What `cpsched build` and `cpsched solve` take to make a problem (their shared options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workload: str = DEFAULT_WORKLOAD  # bundled name, or a .yaml / .onnx file
    overrides: dict[str, int] = Field(default_factory=dict)  # --set K=V
    hardware: str = DEFAULT_HARDWARE  # bundled name, or a .yaml file
    hardware_overrides: dict[str, int] = Field(default_factory=dict)  # its parameters' values
    tiles: int | Literal["auto"] = DEFAULT_TILES  # along the token dim; auto: see autotile
    head_tiles: int | Literal["auto"] = 1
    split: tuple[str, ...] = ()  # --split DIM=N or LAYER.DIM=N, or auto (split what must be)
    # the tiling was not given: when the one above does not fit, choose one that does
    auto_if_too_big: bool = False
    mode: str = "fused"  # fused | layer-by-layer
    allocation: str = "tile"  # tile | layer | a file mapping layer -> core
    costs: str | None = None  # cost table file overriding the analytic model
    precision: Precision | None = None  # --bits: weights / activations bits of an ONNX graph


def build_from_options(options: BuildOptions) -> Problem:
    """The problem that `options` describe; every bad option is an InputError naming it."""
    return build_job(options).problem


def load_and_build(options: BuildOptions) -> tuple[Workload, Problem]:
    """The workload and the problem that `options` describe (errors as build_from_options)."""
    built = build_job(options)
    return built.workload, built.problem


@dataclass(frozen=True)
class Built:
    """A built problem, its workload, the options with the tiling actually used (every auto
    count resolved), and the tiling chosen to fit (None when the options gave it)."""

    workload: Workload
    problem: Problem
    options: BuildOptions
    auto: AutoTiling | None


def _is_auto(options: BuildOptions) -> bool:
    return "auto" in (options.tiles, options.head_tiles) or "auto" in options.split


def build_job(options: BuildOptions) -> Built:
    """Build the problem `options` describe, choosing the coarsest tiling that fits
    (:func:`cpsched.frontend.autotile.choose_tiling`) for the counts given as auto, or for all
    of them when `auto_if_too_big` and the tiling given has a tile that fits no memory."""
    if options.mode not in ("fused", "layer-by-layer"):
        raise input_error("--mode", "", f"{options.mode!r}; accepted: fused, layer-by-layer")
    if options.tiles != "auto" and options.tiles < 1:
        raise input_error("--tiles", "", f"{options.tiles}; must be >= 1")
    if options.head_tiles != "auto" and options.head_tiles < 1:
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
    workload = load_workload(options.workload, options.overrides, options.precision)
    for count, dim, option in (
        (options.tiles, "token_dim", "--tiles"),
        (options.head_tiles, "head_dim", "--head-tiles"),
    ):
        if count != "auto" and count > 1 and not any(getattr(ly, dim) for ly in workload.layers):
            raise input_error(
                option,
                "",
                f"{count}, but no layer of workload {workload.name!r} has a "
                f"{dim.replace('_', ' ')} ({dim} in its file) to cut; cut other loops with "
                "--split LAYER.DIM=N",
            )
    hardware = load_hardware(options.hardware, options.hardware_overrides)
    table = load_cost_table(options.costs) if options.costs is not None else None
    user_split = [s for s in options.split if s != "auto"]
    split_dims, split_layers = parse_splits(user_split)
    spec = TilingSpec(
        tiles=1 if options.tiles == "auto" else options.tiles,
        dims=split_dims,
        layers=split_layers,
        head_tiles=1 if options.head_tiles == "auto" else options.head_tiles,
        mode="fused" if options.mode == "fused" else "layer-by-layer",
        allocation="fixed" if fixed else "layer" if options.allocation == "layer" else "tile",
        fixed=fixed,
    )
    source = "--split" if options.split else "--tiles"
    auto: AutoTiling | None = None
    if _is_auto(options):
        auto = choose_tiling(
            workload,
            hardware,
            spec,
            tiles_auto=options.tiles == "auto",
            head_auto=options.head_tiles == "auto",
            split_auto="auto" in options.split,
            user_split=user_split,
            costs=table,
            source=source,
        )
    tiled = tile_workload(workload, spec, source=source) if auto is None else None
    problem = None if tiled is None else build_problem(workload, hardware, spec, table, tiled=tiled)
    if problem is not None and options.auto_if_too_big and layer_misfits(problem):
        auto = choose_tiling(
            workload,
            hardware,
            spec.model_copy(update={"dims": {}, "layers": {}}),
            tiles_auto=True,
            head_auto=True,
            split_auto=True,
            costs=table,
            source="--tiles",
        )
    if auto is not None:
        dims, layers = parse_splits(list(auto.split))
        spec = spec.model_copy(
            update={
                "tiles": auto.tiles,
                "head_tiles": auto.head_tiles,
                "dims": dims,
                "layers": layers,
            }
        )
        problem = build_problem(workload, hardware, spec, table)
        options = options.model_copy(
            update={
                "tiles": auto.tiles,
                "head_tiles": auto.head_tiles,
                "split": auto.split,
                "auto_if_too_big": False,
            }
        )
    assert problem is not None
    return Built(workload, problem, options, auto)


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
    task = problem.task_by_id[worst.tasks[0]]
    assert worst.memory is not None  # task_too_big names the largest memory the task may use
    memory = problem.memory_by_id[worst.memory]
    biggest = max(
        (problem.tensor_by_id[t] for t in dict.fromkeys((*task.inputs, *task.outputs))),
        key=lambda t: t.size_bytes,
    )
    layers = list(dict.fromkeys(problem.task_by_id[t].layer for r in reasons for t in r.tasks))
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
        f"(tokens), --head-tiles, or --split LAYER.DIM=N{where}, or let --tiles auto --split "
        "auto choose; or use a hardware with larger memories",
    )


def auto_tiling_record(asked: BuildOptions, auto: AutoTiling) -> dict[str, Any]:
    """What result.json says of a tiling chosen to fit: what was asked, what was chosen."""
    return {
        "asked": {"tiles": asked.tiles, "head_tiles": asked.head_tiles, "split": list(asked.split)},
        "why": "asked (auto)" if _is_auto(asked) else "the default tiling does not fit",
        "options": auto.options(),
        "tasks": auto.tasks,
    }


@dataclass(frozen=True)
class PhaseEvent:
    """A phase of the job starting (`done` False) or ending (`done` True, with what it found)."""

    phase: PhaseName
    done: bool
    elapsed_s: float  # since the job started
    detail: str = ""


# the order in which space_alternates runs the heuristics when time is short: those whose
# schedules most often lie in CP-SAT's space first (BERT-base M=128: heft on hetero_quad and
# mesh4x4, layer-by-layer on quad_bus)
ALTERNATE_ORDER = ("heft", "layer-by-layer", "list-breadth-first", "list-depth-first")


def space_alternates(
    problem: Problem, hint: Schedule | None, budget_s: float | None = None
) -> Iterator[tuple[str, Schedule]]:
    """Heuristic schedules made within CP-SAT's search space (`IN_SPACE`: a tensor reloaded
    into a memory at most once, spills and reloads alone), fastest first, for CP-SAT to start
    from when `hint` lies outside its space; none when `hint` spills nothing (it then lies in
    the space, or outside it for reasons these runs do not change).

    Lazy: the heuristics run when the solver first asks for an alternate (the hint lies
    outside its space), so within its time limit, and not at all when the hint is usable. They
    run one at a time in `ALTERNATE_ORDER`, and none starts once `budget_s` seconds have gone
    since the first ask (None: no limit): on BERT-base on gap8 the four take 25 s."""
    if hint is None:
        return
    measured = metrics(problem, hint)
    if not (measured.spilled_bytes or measured.reloaded_bytes):
        return
    started = time.monotonic()
    found: list[tuple[float, int, str, Schedule]] = []
    for i, (name, r) in enumerate(iter_heuristics(problem, ALTERNATE_ORDER, features=IN_SPACE)):
        if r.schedule is not None and r.objective_value is not None:
            found.append((r.objective_value, i, name, r.schedule))
        if budget_s is not None and time.monotonic() - started >= budget_s:
            break
    for _, _, name, schedule in sorted(found, key=lambda f: f[:2]):
        yield f"{name} (in CP-SAT's space)", schedule


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
    """Build the problem, run the heuristics (with `params.use_hint`; the best one is CP-SAT's
    hint) and solve.

    The result's parameters include the build options and every heuristic's latency; its
    `hint` names the heuristic. Ctrl-C during the solve keeps the best schedule so far (status
    `feasible`, `interrupted`). When CP-SAT ends without a schedule (time limit or Ctrl-C) but
    a heuristic found one, that schedule is kept (:func:`keep_hint`). Ctrl-C during the
    heuristics returns status `unknown`, `interrupted`, with no schedule; Ctrl-C while building
    propagates, since there is nothing to keep.
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
    built = build_job(options)
    workload, problem = built.workload, built.problem
    check_tiles_fit(problem, workload)
    chose = "" if built.auto is None else " (the tiling chosen to fit, said below)"
    phase(
        "build",
        True,
        f"{len(problem.tasks)} tasks, {len(problem.tensors)} tensors, {len(problem.cores)} "
        f"cores{chose}",
    )
    heuristics: dict[str, SolveResult] = {}
    best: str | None = None
    hint: Schedule | None = None
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
        result = solve(
            problem,
            obj,
            params,
            hint=hint,
            hint_method=best,
            on_progress=on_progress,
            alternates=space_alternates(problem, hint, params.time_limit_s * ALTERNATES_SHARE)
            if params.use_hint
            else (),
        )
    except KeyboardInterrupt:
        result = SolveResult(
            method="cpsat",
            status="unknown",
            objective=str(obj),
            wall_time_s=time.monotonic() - started,
            parameters=params.model_dump(),
            interrupted=True,
            message="interrupted before any schedule was found",
            versions=solver_versions(),
        )
    parameters: dict[str, Any] = {
        **result.parameters,
        # the tiling as built (auto resolved): what repeats this run
        "build": built.options.model_dump(mode="json", exclude={"auto_if_too_big"}),
    }
    if built.auto is not None:
        parameters["auto_tiling"] = auto_tiling_record(options, built.auto)
    if heuristics:
        parameters["heuristic_latency_cycles"] = {
            name: r.objective_value for name, r in heuristics.items()
        }
    result = keep_hint(
        problem, result.model_copy(update={"parameters": parameters}), hint, hint_method=best
    )
    phase(current, True, _outcome(result))
    return RunOutcome(problem, heuristics, result)


def solve_from_hint(
    problem: Problem,
    objective: str | Objective = "latency",
    params: SolverParams = SolverParams(),  # noqa: B008 - frozen, so a shared default is safe
    hint: Schedule | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    caps: Mapping[Metric, float] | None = None,
    heuristics: Mapping[str, SolveResult] | None = None,
    hint_method: str | None = None,
) -> SolveResult:
    """CP-SAT on `problem` from `hint`, or (no hint given, `params.use_hint`) from the best
    heuristic schedule, and never worse than that hint (:func:`keep_hint`).

    What `cpsched solve-problem` and the benchmarks call: `cpsched.cpsat.solve` plus the
    pipeline's hint and fallback, without building a problem. `heuristics` are results of
    `run_heuristics` already at hand (default: run them when a hint is needed).
    """
    from cpsched.cpsat import solve

    method = hint_method
    ours = hint is None and params.use_hint  # the hint is the best heuristic schedule
    if ours:
        heuristics = run_heuristics(problem) if heuristics is None else heuristics
        method = best_heuristic(heuristics)
        hint = heuristics[method].schedule if method is not None else None
    result = solve(
        problem,
        objective,
        params,
        hint=hint,
        hint_method=method,
        on_progress=on_progress,
        caps=caps,
        alternates=space_alternates(problem, hint, params.time_limit_s * ALTERNATES_SHARE)
        if ours
        else (),
    )
    return keep_hint(problem, result, hint, hint_method=method, caps=caps)


def keep_hint(
    problem: Problem,
    result: SolveResult,
    hint: Schedule | None,
    hint_method: str | None = None,
    caps: Mapping[Metric, float] | None = None,
) -> SolveResult:
    """The one fallback that makes a result never worse than its hint: when `hint` is a valid
    schedule of `problem` within `caps` and CP-SAT ended with no schedule and no proof (status
    `unknown`: time limit, Ctrl-C, or its restricted space holds none), or with a worse one (the
    hint lies outside CP-SAT's space: staging, multicast, a reload), the hint takes the result's
    place (`feasible`, measured in the result's objective, `hint.kept`; `optimal` when latency
    is the whole objective and the solver's bound for every schedule,
    `parameters.bound_every_schedule`, meets it). Any other result comes back unchanged.

    `hint_method` names the heuristic that made the hint (None: the caller's own schedule);
    it becomes the result's method.
    """
    if hint is None or result.status == "infeasible":
        return result
    if result.schedule is None and result.status != "unknown":
        return result
    if validate(problem, hint):
        return result
    measured = metrics(problem, hint)
    if any(measured.metric(k) > cap for k, cap in (caps or {}).items()):
        return result  # a hint over a cap is no schedule of the problem asked
    objective = as_objective(result.objective)
    values = measured.objective_values(objective)
    space_empty = bool(result.stages) and result.stages[0].status == "infeasible"
    if result.schedule is not None:
        if values >= metrics(problem, result.schedule).objective_values(objective):
            return result
        why = "a valid schedule outside CP-SAT's search space is better"
        bound = None  # CP-SAT's bound holds for its space only, which the hint has left
    else:
        why = (
            "CP-SAT's search space holds no schedule"
            if space_empty
            else "interrupted before CP-SAT found a schedule"
            if result.interrupted
            else "CP-SAT found no schedule within the time limit"
        )
        # CP-SAT's bound holds for its space: for the kept hint only if the hint lies in it
        # (CP-SAT started from it); a hint outside it (spills, staging) may beat that bound
        # (or CP-SAT started from an alternate because the hint lies outside: hint_alternate)
        outside = (result.hint is not None and "outside" in (result.hint.why_not or "")) or (
            "hint_alternate" in result.parameters
        )
        bound = None if space_empty or outside else result.bound
        if bound is None and result.stages and not space_empty and not outside:
            bound = result.stages[0].bound
        bound = None if bound is None else min(float(bound), values[0])
    # a bound the solver proved for every valid schedule (docs/results.md) holds for the hint
    # too; met, it proves the hint optimal when latency is the whole objective (a later stage
    # of a lexicographic one would still be open)
    proven = False
    every = result.parameters.get("bound_every_schedule")
    if every is not None and objective.cycles_first:
        bound = max(bound or 0.0, min(float(every), values[0]))
        proven = float(every) >= values[0] and len(objective.stages) == 1
    kept = (
        f"the best heuristic schedule ({hint_method}) is kept"
        if hint_method is not None
        else "the given hint is kept"
    )
    info = result.hint or HintInfo(
        source="heuristic" if hint_method is not None else "given",
        method=hint_method,
        used=False,
        why_not="CP-SAT did not start",
    )
    return result.model_copy(
        update={
            "method": hint_method or result.method,
            "status": "optimal" if proven else "feasible",
            "objective_value": values[0],
            "bound": bound,
            "gap": None if bound is None else max(0.0, relative_gap(values[0], bound)),
            "schedule": hint,
            "hint": info.model_copy(update={"kept": True}),
            "message": f"{why}; {kept}",
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
