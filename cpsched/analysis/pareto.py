"""The latency / peak-memory Pareto front of a problem, by the epsilon-constraint method.

The two extremes come from lexicographic solves: `latency,<memory>` (the fastest schedule, with
the least memory among the fastest) and `<memory>,latency` (the leanest schedule, the fastest
among the leanest). Between them, `latency,<memory>` is solved again under a decreasing cap on
the peak memory, a constraint of the CP-SAT model (`solve(..., caps=...)`): each next cap is the
previous point's peak minus one byte (the classic sweep, which finds every point of the front
when every solve is proven), or, with `max_points`, a grid of caps between the extremes. A cap
proven infeasible ends the sweep; a point whose latency is not proven optimal under its cap is
kept with its gap and flagged. Dominated points are dropped and the front is sorted by latency.
CP-SAT's lower bound on a peak is weak, so a static floor (:func:`peak_floor`: every task holds
its inputs and outputs while it runs) also proves least peaks, and ends the sweep below it.
Every solve starts from the best known schedule for it (fastest, leanest, or fastest under the
cap) among the heuristics', the layer-by-layer ones given as `hints` and the sweep's own.

`memory` chooses which peak: ``"all"`` (the default) is the largest peak over bounded memories
of every tensor held, activations, weights and inputs alike: the bytes a scratchpad must have
for the schedule to run, which is what a memory cap means on a real chip. ``"activation"``
counts activations alone, the quantity the layer-fusion studies trade against latency (weights
and inputs are the same for every schedule order, apart from how long they stay).

No ortools here: the solver is reached through :func:`cpsched.cpsat.solve`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cpsched.check.metrics import Metrics, metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams
from cpsched.model.errors import input_error
from cpsched.model.io import save_model, write_text_atomic
from cpsched.model.objective import Metric
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult, relative_gap
from cpsched.model.schedule import Schedule
from cpsched.pipeline import solve_from_hint
from cpsched.report.pareto_plot import PlotPoint

MemoryKind = Literal["all", "activation"]
MEMORY_KINDS: tuple[MemoryKind, ...] = ("all", "activation")
MEMORY_METRIC: dict[MemoryKind, Metric] = {"all": "memory", "activation": "activation-memory"}

Role = Literal[
    "min-latency", "min-memory", "capped", "layer-by-layer min-latency", "layer-by-layer min-memory"
]


class ParetoPoint(BaseModel):
    """One solve of the sweep: its schedule's latency and peaks, and how far it is proven.

    `status` is the solve's: ``optimal`` when every stage is proven (the latency under the cap,
    then the least peak at that latency), or when the static floor proves a least peak whose
    latency stage CP-SAT proved. `bound` and `gap` belong to the first stage: latency (cycles)
    for the min-latency and capped points, peak memory (bytes) for the min-memory points.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    cap_bytes: int | None  # the memory cap of a capped solve
    latency_cycles: int
    peak_bytes: int  # the peak the front is about (all tensors, or activations alone)
    peak_all_bytes: int  # largest peak of all tensors over bounded memories
    peak_activation_bytes: int  # largest peak of activations over bounded memories
    energy_pj: float
    status: str
    latency_proven: bool  # the latency stage was proven optimal (under the cap)
    bound: float | None
    gap: float | None
    wall_time_s: float
    note: str = ""  # e.g. how a least peak was proven
    result: SolveResult  # the whole solve, schedule included

    @property
    def schedule(self) -> Schedule:
        """The point's schedule (validated)."""
        assert self.result.schedule is not None
        return self.result.schedule

    @property
    def proven(self) -> bool:
        """Both stages proven: the point is exactly on the front (given its cap)."""
        return self.status == "optimal"


class ParetoFront(BaseModel):
    """The non-dominated points of a sweep, sorted by latency (so by decreasing peak)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    problem: str
    memory: MemoryKind
    points: list[ParetoPoint]  # non-dominated, latency ascending, peak descending
    dominated: list[ParetoPoint]  # solves whose point another point dominates
    references: list[ParetoPoint]  # the layer-by-layer points, when given
    end: str  # why the sweep stopped
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM
    infeasible: bool = False  # no schedule at all: the problem is proven infeasible
    complete: bool  # every point proven and the sweep ended by a proof: the front is exact
    solves: int
    wall_time_s: float


def memory_metric(memory: str, source: str = "--memory") -> Metric:
    """The objective metric of a memory kind; an InputError naming `source` for anything else."""
    if memory not in MEMORY_METRIC:
        raise input_error(
            source, "", f"{memory!r}; accepted: {', '.join(MEMORY_KINDS)} (which peak to trade)"
        )
    return MEMORY_METRIC[memory]


def _measure(
    problem: Problem, schedule: Schedule, m: Metrics | None = None
) -> tuple[int, int, int]:
    """Latency, largest peak of all tensors and largest activation peak over bounded memories."""
    m = metrics(problem, schedule) if m is None else m
    return m.latency_cycles, m.largest_peak_bytes(), m.largest_peak_bytes("activation")


def peak_floor(problem: Problem, memory: MemoryKind = "all") -> tuple[int, str]:
    """A lower bound on the peak of every schedule, and why: a task holds all its inputs and
    outputs in its core's memory while it runs (docs/validity.md, rules 4 and 9), so the peak is at
    least the largest such need, each task on its least demanding core (0 on unbounded ones)."""
    best, why = 0, "no task holds anything in a bounded memory"
    for task in problem.tasks:
        tensors = [problem.tensor_by_id[t] for t in dict.fromkeys((*task.inputs, *task.outputs))]
        need = sum(t.size_bytes for t in tensors if memory == "all" or t.kind == "activation")
        least = need
        for option in task.options:
            bounded = problem.memory_by_id[problem.memory_of(option.core)].capacity_bytes
            if bounded is None or option.duration_cycles == 0:
                least = 0  # nothing is held at any instant (or not in a bounded memory)
        if least > best:
            which = "inputs and outputs" if memory == "all" else "activation inputs and outputs"
            best, why = least, f"task {task.id} holds {least:,} bytes of {which} while it runs"
    return best, why


def _point(
    problem: Problem,
    result: SolveResult,
    role: Role,
    memory: MemoryKind,
    cap_bytes: int | None,
    floor: tuple[int, str] = (0, ""),
) -> ParetoPoint:
    schedule = result.schedule
    assert schedule is not None
    violations = validate(problem, schedule)
    if violations:  # CP-SAT validates too; a violation here is a bug, never a user mistake
        raise RuntimeError(f"pareto: invalid schedule at {role}: {violations[0]}")
    m = metrics(problem, schedule)
    _, peak_all, peak_act = _measure(problem, schedule, m)
    peak = peak_all if memory == "all" else peak_act
    if cap_bytes is not None and peak > cap_bytes:
        raise RuntimeError(f"pareto: the schedule under cap {cap_bytes} has peak {peak}")
    statuses = [stage.status for stage in result.stages] or [result.status]
    status, bound, gap, note = result.status, result.bound, result.gap, ""
    memory_first = role in ("min-memory", "layer-by-layer min-memory")
    if memory_first and peak <= floor[0]:
        # the least peak is proven by the static floor even where CP-SAT's bound is weaker
        statuses[0] = "optimal"
        bound, gap, note = float(peak), 0.0, f"least peak proven: {floor[1]}"
        if all(s == "optimal" for s in statuses) and len(statuses) == len(result.stages):
            status = "optimal"
    elif memory_first and floor[0] > (bound or 0.0):
        bound, gap = float(floor[0]), relative_gap(peak, floor[0])
        note = f"bound from the static floor: {floor[1]}"
    latency_stage = 1 if memory_first else 0
    latency_proven = len(statuses) > latency_stage and all(
        s == "optimal" for s in statuses[: latency_stage + 1]
    )
    return ParetoPoint(
        role=role,
        cap_bytes=cap_bytes,
        latency_cycles=m.latency_cycles,
        peak_bytes=peak,
        peak_all_bytes=peak_all,
        peak_activation_bytes=peak_act,
        energy_pj=m.energy_total_pj,
        status=status,
        latency_proven=latency_proven,
        bound=bound,
        gap=gap,
        wall_time_s=result.wall_time_s,
        note=note,
        result=result,
    )


def dominates(a: ParetoPoint, b: ParetoPoint) -> bool:
    """`a` is no worse than `b` in latency and peak, and better in one (or equal in both and
    proven where `b` is not, so that of two equal points the proven one is kept)."""
    if a.latency_cycles > b.latency_cycles or a.peak_bytes > b.peak_bytes:
        return False
    if a.latency_cycles < b.latency_cycles or a.peak_bytes < b.peak_bytes:
        return True
    return a.proven and not b.proven


def split_dominated(points: Sequence[ParetoPoint]) -> tuple[list[ParetoPoint], list[ParetoPoint]]:
    """The non-dominated points (one per distinct (latency, peak), latency ascending) and the
    rest."""
    front: list[ParetoPoint] = []
    dominated: list[ParetoPoint] = []
    for i, p in enumerate(points):
        beaten = any(dominates(q, p) for q in points if q is not p)
        duplicate = any(
            (q.latency_cycles, q.peak_bytes) == (p.latency_cycles, p.peak_bytes)
            and q.proven == p.proven
            for q in points[:i]
        )
        (dominated if beaten or duplicate else front).append(p)
    front.sort(key=lambda p: (p.latency_cycles, p.peak_bytes))
    return front, dominated


def _as_hint(problem: Problem, schedule: Schedule) -> Schedule | None:
    """A schedule of a sibling problem (e.g. the layer-by-layer build of the same workload) as a
    schedule of `problem`, when it is valid there."""
    renamed = schedule.model_copy(update={"problem": problem.name})
    return renamed if not validate(problem, renamed) else None


def reference_points(
    problem: Problem,
    params: SolverParams,
    memory: MemoryKind = "all",
    on_point: Callable[[ParetoPoint], None] | None = None,
) -> list[ParetoPoint]:
    """The two extremes of `problem` (normally its layer-by-layer build): its fastest and its
    leanest schedule, as reference points for a fused front."""
    metric = memory_metric(memory, "memory")
    floor = peak_floor(problem, memory)
    points: list[ParetoPoint] = []
    heuristic = _heuristic_schedules(problem) if params.use_hint else []
    for objective, role in (
        (f"latency,{metric}", "layer-by-layer min-latency"),
        (f"{metric},latency", "layer-by-layer min-memory"),
    ):
        # start from the fastest (the leanest) schedule known; `solve` runs no heuristics
        known = [*heuristic, *(p.schedule for p in points)]
        hint = None
        if known:
            measured = [_measure(problem, s) for s in known]
            key = 0 if role.endswith("min-latency") else 1 if memory == "all" else 2
            hint = min(
                zip(measured, known, strict=True), key=lambda x: (x[0][key], x[0][0], x[0][1])
            )[1]
        result = solve_from_hint(problem, objective, params, hint=hint)
        if result.schedule is not None:
            point = _point(problem, result, role, memory, None, floor)  # type: ignore[arg-type]
            points.append(point)
            if on_point is not None:
                on_point(point)
        if result.interrupted:
            break
    return points


def _heuristic_schedules(problem: Problem) -> list[Schedule]:
    """Every heuristic's schedule: candidates for the min-memory hint (one of them may hold
    less memory than CP-SAT finds on its own in a short time)."""
    from cpsched.heuristics import run_heuristics

    # run_heuristics turns a heuristic's bug into a result without a schedule: it only loses
    # a hint, never the front
    results = run_heuristics(problem)
    return [r.schedule for r in results.values() if r.schedule is not None]


def pareto_front(
    problem: Problem,
    params: SolverParams,
    memory: MemoryKind = "all",
    max_points: int | None = None,
    on_point: Callable[[ParetoPoint], None] | None = None,
    hints: Sequence[Schedule] = (),
    references: Sequence[ParetoPoint] = (),
) -> ParetoFront:
    """The latency / peak-memory Pareto front of `problem` (epsilon-constraint with CP-SAT).

    `params` apply to every solve (`time_limit_s` is per point). Without `max_points` the caps
    step down one byte below each point's peak until a cap is proven infeasible (or no schedule
    is found); with it, at most `max_points` solves, the caps a grid between the extremes.
    `hints` are known schedules (e.g. the layer-by-layer ones, valid for the fused problem too)
    that, with the heuristics' schedules, seed the solves they fit; `references` are carried
    into the result as they are.
    """
    metric = memory_metric(memory, "memory")
    if max_points is not None and max_points < 2:
        raise input_error("--points", "", f"{max_points}; at least 2 (the two extremes)")
    floor = peak_floor(problem, memory)
    started = time.monotonic()
    found: list[ParetoPoint] = []
    known: list[tuple[int, int, Schedule]] = []  # (peak, latency, schedule) of every schedule seen
    for given in [*hints, *_heuristic_schedules(problem)]:
        schedule = _as_hint(problem, given)
        if schedule is not None:
            latency, peak_all, peak_act = _measure(problem, schedule)
            known.append((peak_all if memory == "all" else peak_act, latency, schedule))

    def record(result: SolveResult, role: Role, cap: int | None) -> ParetoPoint | None:
        if result.schedule is None:
            return None
        point = _point(problem, result, role, memory, cap, floor)
        found.append(point)
        known.append((point.peak_bytes, point.latency_cycles, point.schedule))
        if on_point is not None:
            on_point(point)
        return point

    def finish(
        end: str, proven_end: bool, *, interrupted: bool = False, infeasible: bool = False
    ) -> ParetoFront:
        front, dominated = split_dominated(found)
        return ParetoFront(
            problem=problem.name,
            memory=memory,
            points=front,
            dominated=dominated,
            references=list(references),
            end=end,
            interrupted=interrupted,
            infeasible=infeasible,
            complete=proven_end and all(p.proven for p in front),
            solves=solves,
            wall_time_s=time.monotonic() - started,
        )

    solves = 1
    fastest_hint = min(known, key=lambda k: (k[1], k[0]))[2] if known else None
    first = solve_from_hint(problem, f"latency,{metric}", params, hint=fastest_hint)
    fastest = record(first, "min-latency", None)
    if fastest is None:
        return finish(
            f"no schedule at all: {first.status} ({first.message})",
            False,
            interrupted=first.interrupted,
            infeasible=first.status == "infeasible",
        )
    if first.interrupted:
        return finish("interrupted", False, interrupted=True)
    leanest_hint = min(known, key=lambda k: (k[0], k[1]))[2]  # `fastest` is known at least
    solves += 1
    second = solve_from_hint(problem, f"{metric},latency", params, hint=leanest_hint)
    leanest = record(second, "min-memory", None)
    if leanest is None or second.interrupted:
        return finish(
            "interrupted" if second.interrupted else "no min-memory schedule",
            False,
            interrupted=second.interrupted,
        )
    leanest_proven = leanest.peak_bytes <= floor[0] or (
        bool(second.stages) and second.stages[0].status == "optimal"
    )  # no schedule holds less (the sweep needs no cap below it)
    if leanest.peak_bytes >= fastest.peak_bytes:
        proven = fastest.proven and leanest_proven
        found_ = "" if proven else " found"
        return finish(f"the fastest schedule{found_} is also the leanest{found_}", proven)

    grid: list[int] = []
    if max_points is not None:
        lo, hi = leanest.peak_bytes, fastest.peak_bytes
        grid = sorted(
            {lo + (hi - lo) * k // (max_points - 1) for k in range(1, max_points - 1)},
            reverse=True,
        )
    previous_peak = fastest.peak_bytes
    while True:
        if max_points is not None:
            while grid and grid[0] >= previous_peak:
                grid.pop(0)  # a cap at or above the last peak finds that point again
            if not grid or solves >= max_points:
                return finish(f"the grid of caps for {max_points} points is done", False)
            cap = grid.pop(0)
        else:
            cap = previous_peak - 1
        if cap < leanest.peak_bytes and leanest_proven:
            return finish(f"the least peak, {leanest.peak_bytes} bytes, is proven", True)
        if cap < floor[0]:
            return finish(f"cap {cap} bytes is below the least possible peak: {floor[1]}", True)
        fits = [k for k in known if k[0] <= cap]
        hint = min(fits, key=lambda k: (k[1], k[0]))[2] if fits else None
        solves += 1
        result = solve_from_hint(
            problem, f"latency,{metric}", params, hint=hint, caps={metric: cap}
        )
        point = record(result, "capped", cap)
        if result.interrupted:
            return finish("interrupted", False, interrupted=True)
        if point is None:
            if result.status == "infeasible" or (
                result.stages and result.stages[0].status == "infeasible"
            ):  # no schedule at all, or none in the search space (the front's own space)
                return finish(f"cap {cap} bytes proven infeasible", True)
            return finish(f"no schedule under cap {cap} bytes within the time limit", False)
        previous_peak = point.peak_bytes


FRONT_FORMAT = "cpsched-pareto/1"
FRONT_FILE = "front.json"
PLOT_FILE = "pareto.png"


def _point_summary(point: ParetoPoint, schedule_file: str | None) -> dict[str, Any]:
    data = point.model_dump(exclude={"result"})
    data["proven"] = point.proven
    data["objective"] = point.result.objective
    if schedule_file is not None:
        data["schedule"] = schedule_file
    return data


def front_summary(
    front: ParetoFront, params: SolverParams | None = None, files: bool = True
) -> dict[str, Any]:
    """The front as JSON-ready data (format `cpsched-pareto/1`): every point's numbers, status
    and gap, and (with `files`) the name of its schedule file as `write_front` writes it."""
    return {
        "format": FRONT_FORMAT,
        "problem": front.problem,
        "memory": front.memory,
        "metric": MEMORY_METRIC[front.memory],
        "end": front.end,
        "complete": front.complete,
        "solves": front.solves,
        "wall_time_s": front.wall_time_s,
        "solver": None if params is None else params.model_dump(),
        "points": [
            _point_summary(p, f"schedule-{i}.json" if files else None)
            for i, p in enumerate(front.points)
        ],
        "references": [
            _point_summary(p, f"reference-{i}.json" if files else None)
            for i, p in enumerate(front.references)
        ],
        "dominated": [_point_summary(p, None) for p in front.dominated],
    }


def write_front(
    front: ParetoFront, out_dir: Path, params: SolverParams | None = None, title: str = ""
) -> list[Path]:
    """Write front.json, one schedule file per point (schedule-<i>.json, reference-<i>.json)
    and the plot pareto.png into `out_dir`, each atomically; returns the paths written."""
    from cpsched.report.pareto_plot import plot_front

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for prefix, points in (("schedule", front.points), ("reference", front.references)):
        for i, point in enumerate(points):
            path = out_dir / f"{prefix}-{i}.json"
            save_model(point.schedule, path)
            written.append(path)
    summary = out_dir / FRONT_FILE
    write_text_atomic(summary, json.dumps(front_summary(front, params), indent=2) + "\n")
    plot = out_dir / PLOT_FILE
    memory_label = "peak memory" if front.memory == "all" else "peak activation memory"
    plot_front(
        [plot_point(p) for p in front.points],
        [plot_point(p) for p in front.references],
        plot,
        title or front.problem,
        memory_label,
    )
    return [summary, *written, plot]


def plot_point(point: ParetoPoint) -> PlotPoint:
    """A point of a front as a plot point (its label says what kind of reference it is)."""
    label = point.role.replace("min-", "min ") if point.role.startswith("layer") else ""
    gap_of = "peak" if point.role.endswith("min-memory") else "latency"
    return PlotPoint(point.latency_cycles, point.peak_bytes, point.proven, point.gap, label, gap_of)
