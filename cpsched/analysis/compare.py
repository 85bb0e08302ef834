"""Compare schedules of one problem against each other and against CP-SAT's proven bound.

`compare` runs every heuristic and the CP-SAT solver, validates any schedule handed in (from
cpsched or from another tool), and reports for each: validity, latency, energy, peak memory,
wall time and the gap to the best proven bound. Re-timing then splits a schedule's gap into
what its core allocation costs and what its order and timing cost: CP-SAT re-times the schedule
with its cores fixed (order free), and with its cores and its order on each core fixed.

With L the schedule's latency, L_order its best re-timing with cores and order kept, L_cores its
best re-timing with only the cores kept, and L* the optimum:

    L - L* = (L - L_order)        from timing: idle time the order did not need
           + (L_order - L_cores)  from the order on each core
           + (L_cores - L*)       from the allocation

exactly when both re-timings are proven optimal (otherwise the parts are estimates).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.heuristics import HEURISTICS, best_heuristic, prepare, run_heuristics
from cpsched.model.problem import CoreId, MemoryId, Problem, TaskId
from cpsched.model.result import SolveResult, relative_gap
from cpsched.model.schedule import Schedule
from cpsched.pipeline import solve_from_hint

COMPARE_FORMAT = "cpsched-compare/1"

Source = Literal["heuristic", "cpsat", "given", "retimed"]
Fixed = Literal["cores", "cores+order"]


class CompareParams(BaseModel):
    """What `compare` runs and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_limit_s: float = Field(default=10.0, gt=0)  # the full CP-SAT solve
    retime_time_limit_s: float = Field(default=5.0, gt=0)  # each re-timing solve
    num_workers: int = Field(default=2, ge=1)
    seed: int = Field(default=0, ge=0)
    heuristics: tuple[str, ...] = tuple(HEURISTICS)
    cpsat: bool = True
    retime: bool = True


class PeakUse(BaseModel):
    """Peak bytes held in one bounded memory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    peak_bytes: int
    capacity_bytes: int


class CompareRow(BaseModel):
    """One schedule (or one method that found none) in the comparison."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    source: Source
    base: str | None = None  # for a re-timed row: the row it re-times
    fixed: Fixed | None = None  # for a re-timed row: what was kept
    status: str  # the method's status ("optimal", "feasible", "unknown", ...; "given")
    valid: bool | None = None  # None when there is no schedule
    violations: int = 0
    violation_rules: list[str] = Field(default_factory=list)  # distinct rule names broken
    latency_cycles: int | None = None
    energy_pj: float | None = None
    peak_memory: dict[MemoryId, PeakUse] = Field(default_factory=dict)
    wall_time_s: float = 0.0
    bound: float | None = None  # the method's own proven bound (CP-SAT rows only)
    gap_to_bound: float | None = None  # docs/results.md relative gap to the best proven bound
    over_optimum: float | None = None  # latency / proven optimum - 1
    message: str = ""
    schedule: Schedule | None = Field(default=None, exclude=True)  # kept out of the JSON report


class GapSplit(BaseModel):
    """Where one schedule's distance to the optimum (or bound) comes from, in cycles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    latency_cycles: int
    retimed_order_kept_cycles: int | None
    retimed_cores_kept_cycles: int | None
    reference_cycles: float | None  # the optimum if proven, else the best proven bound
    reference: Literal["optimum", "bound"] | None
    from_timing_cycles: int | None
    from_order_cycles: int | None
    from_allocation_cycles: float | None
    exact: bool  # both re-timings proven optimal and the reference is the optimum


class CompareReport(BaseModel):
    """Every row, the best proven bound and optimum, and the gap split of each schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["cpsched-compare/1"] = "cpsched-compare/1"
    problem: str
    objective: str = "latency"
    best_bound: float | None
    optimum: float | None
    rows: list[CompareRow]
    splits: list[GapSplit]
    parameters: dict[str, object] = Field(default_factory=dict)


def _row(
    problem: Problem,
    method: str,
    source: Source,
    status: str,
    schedule: Schedule | None,
    wall_time_s: float,
    message: str = "",
    **extra: object,
) -> CompareRow:
    if schedule is None:
        return CompareRow(
            method=method,
            source=source,
            status=status,
            wall_time_s=wall_time_s,
            message=message,
            **extra,
        )
    violations = validate(problem, schedule)
    m = metrics(problem, schedule)
    return CompareRow(
        method=method,
        source=source,
        status=status,
        valid=not violations,
        violations=len(violations),
        violation_rules=sorted({v.rule_name for v in violations}),
        latency_cycles=m.latency_cycles,
        energy_pj=m.energy_total_pj,
        peak_memory={
            mem: PeakUse(peak_bytes=p.peak_bytes, capacity_bytes=p.capacity_bytes)
            for mem, p in m.peak_memory.items()
        },
        wall_time_s=wall_time_s,
        message=message,
        schedule=schedule,
        **extra,
    )


def cores_and_order(schedule: Schedule) -> tuple[dict[TaskId, CoreId], dict[CoreId, list[TaskId]]]:
    """A schedule's core of every task, and the order of the tasks on each core (by start)."""
    cores = {st.id: st.core for st in schedule.tasks}
    order: dict[CoreId, list[TaskId]] = {}
    for st in sorted(schedule.tasks, key=lambda st: (st.start, st.id)):
        order.setdefault(st.core, []).append(st.id)
    return cores, order


def retime(
    problem: Problem, schedule: Schedule, *, keep_order: bool, params: SolverParams
) -> SolveResult:
    """The best start times for a valid schedule's allocation (and order, with `keep_order`).

    CP-SAT searches with the schedule's cores fixed (and its order on each core) from the
    schedule as hint. Never worse than the schedule given: when the search finds nothing
    better in time, the given schedule comes back as `feasible`.
    """
    started = time.perf_counter()
    cores, order = cores_and_order(schedule)
    result = solve(
        problem,
        "latency",
        params,
        hint=schedule,
        fixed_cores=cores,
        fixed_order=order if keep_order else None,
    )
    given = metrics(problem, schedule).latency_cycles
    if result.schedule is not None and metrics(problem, result.schedule).latency_cycles <= given:
        return result
    bound = result.bound if result.status != "infeasible" else None
    return SolveResult(
        method="cpsat",
        status="feasible",
        objective="latency",
        objective_value=float(given),
        bound=bound,
        gap=relative_gap(given, bound) if bound is not None else None,
        wall_time_s=time.perf_counter() - started,
        parameters=result.parameters,
        message=f"re-timing found nothing better than the given schedule ({result.status}"
        + (f": {result.message}" if result.message else "")
        + ")",
        schedule=schedule,
    )


def compare(
    problem: Problem,
    schedules: Mapping[str, Schedule] | None = None,
    params: CompareParams | None = None,
) -> CompareReport:
    """Run the heuristics and CP-SAT on `problem`, check the given `schedules`, and compare all.

    Each given schedule is validated (an invalid one is reported with its violations, never
    re-timed); every valid schedule is re-timed by CP-SAT with its cores, and with its cores and
    order, kept, to split its gap to the optimum (see the module doc).
    """
    params = params or CompareParams()
    schedules = dict(schedules or {})
    solver = SolverParams(
        time_limit_s=params.time_limit_s, num_workers=params.num_workers, seed=params.seed
    )
    retimer = solver.model_copy(update={"time_limit_s": params.retime_time_limit_s})
    rows: list[CompareRow] = []
    bases: list[tuple[str, Schedule]] = []

    prep = prepare(problem)
    for name in params.heuristics:
        if name not in HEURISTICS:
            raise KeyError(f"unknown heuristic {name!r}; known: {', '.join(HEURISTICS)}")
        result = HEURISTICS[name](problem, prep=prep)
        rows.append(
            _row(
                problem,
                name,
                "heuristic",
                result.status,
                result.schedule,
                result.wall_time_s,
                result.message,
            )
        )
        if result.schedule is not None:
            bases.append((name, result.schedule))

    for name, schedule in schedules.items():
        started = time.perf_counter()
        row = _row(problem, name, "given", "given", schedule, 0.0)
        rows.append(row.model_copy(update={"wall_time_s": time.perf_counter() - started}))
        if row.valid:
            bases.append((name, schedule))

    best_bound: float | None = None
    optimum: float | None = None
    if params.cpsat:
        # Hint with the best heuristic schedule already found; when no heuristic row has one
        # (none asked for), run them all for it (`solve` runs no heuristics itself).
        found = [r for r in rows if r.source == "heuristic" and r.valid and r.schedule is not None]
        best = min(found, key=lambda r: r.latency_cycles or 0, default=None)
        hint, method = (best.schedule, best.method) if best else (None, None)
        if best is None and not params.heuristics:
            results = run_heuristics(problem)
            method = best_heuristic(results)
            hint = results[method].schedule if method is not None else None
        exact = solve_from_hint(problem, "latency", solver, hint=hint, hint_method=method)
        rows.append(
            _row(
                problem,
                "cpsat",
                "cpsat",
                exact.status,
                exact.schedule,
                exact.wall_time_s,
                exact.message,
                bound=exact.bound,
            )
        )
        if exact.status == "optimal" and exact.objective_value is not None:
            optimum = exact.objective_value
            best_bound = exact.objective_value
        elif exact.bound is not None:
            best_bound = exact.bound

    splits: list[GapSplit] = []
    if params.retime:
        for name, schedule in bases:
            retimed: dict[Fixed, SolveResult] = {}
            for fixed in ("cores+order", "cores"):
                result = retime(
                    problem, schedule, keep_order=fixed == "cores+order", params=retimer
                )
                retimed[fixed] = result
                rows.append(
                    _row(
                        problem,
                        f"{name} re-timed ({fixed} kept)",
                        "retimed",
                        result.status,
                        result.schedule,
                        result.wall_time_s,
                        result.message,
                        base=name,
                        fixed=fixed,
                        bound=result.bound,
                    )
                )
            splits.append(_split(problem, name, schedule, retimed, optimum, best_bound))

    rows = [_with_gaps(row, best_bound, optimum) for row in rows]
    return CompareReport(
        problem=problem.name,
        best_bound=best_bound,
        optimum=optimum,
        rows=rows,
        splits=splits,
        parameters=params.model_dump(mode="json"),
    )


def _with_gaps(row: CompareRow, best_bound: float | None, optimum: float | None) -> CompareRow:
    if row.latency_cycles is None or not row.valid:
        return row
    update: dict[str, float] = {}
    if best_bound is not None:
        update["gap_to_bound"] = relative_gap(row.latency_cycles, best_bound)
    if optimum is not None and optimum > 0:
        update["over_optimum"] = row.latency_cycles / optimum - 1
    elif optimum == 0:
        update["over_optimum"] = 0.0 if row.latency_cycles == 0 else float("inf")
    return row.model_copy(update=update)


def _split(
    problem: Problem,
    name: str,
    schedule: Schedule,
    retimed: Mapping[Fixed, SolveResult],
    optimum: float | None,
    best_bound: float | None,
) -> GapSplit:
    latency = metrics(problem, schedule).latency_cycles

    def lat(fixed: Fixed) -> int | None:
        s = retimed[fixed].schedule
        return metrics(problem, s).latency_cycles if s is not None else None

    order_kept, cores_kept = lat("cores+order"), lat("cores")
    reference = optimum if optimum is not None else best_bound
    kind: Literal["optimum", "bound"] | None = (
        "optimum" if optimum is not None else ("bound" if best_bound is not None else None)
    )
    return GapSplit(
        method=name,
        latency_cycles=latency,
        retimed_order_kept_cycles=order_kept,
        retimed_cores_kept_cycles=cores_kept,
        reference_cycles=reference,
        reference=kind,
        from_timing_cycles=None if order_kept is None else latency - order_kept,
        from_order_cycles=None
        if order_kept is None or cores_kept is None
        else order_kept - cores_kept,
        from_allocation_cycles=None
        if cores_kept is None or reference is None
        else cores_kept - reference,
        exact=optimum is not None
        and all(retimed[f].status == "optimal" for f in ("cores", "cores+order")),
    )
