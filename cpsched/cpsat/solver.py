"""`solve`: the CP-SAT solve of a problem, from objective text to a validated result.

The model covers the restricted space documented in :mod:`cpsched.cpsat.space`; "optimal"
means optimal within it (which, for cpsched's objectives, is optimal over all valid schedules).

A lexicographic objective (`latency,memory`) is solved stage by stage: each stage minimizes its
expression with every earlier stage held at most at the value it reached (its optimum, when
proven), starting from the previous stage's solution. The time limit covers all stages: each
stage gets the remaining time divided by the number of stages left. The result's
`objective_value`, `bound` and `gap` are those of the first stage; `stages` lists every stage,
and the status is `optimal` only when every stage was proven optimal.

The solver makes no schedule from scratch with a heuristic: a caller passes its hint (the
pipeline passes the best heuristic schedule) and decides what to do when CP-SAT finds nothing
(:func:`cpsched.pipeline.keep_hint` keeps a valid hint). The reported objective is the
returned schedule's, measured by :mod:`cpsched.check.metrics`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from typing import Any, Literal

from ortools.sat.python import cp_model

from cpsched.check.infeasibility import find_infeasibility
from cpsched.check.metrics import metrics
from cpsched.cpsat.callbacks import ProgressCallback
from cpsched.cpsat.conflicts import memory_conflict_bound
from cpsched.cpsat.lns import LnsOutcome, LnsStats, Resequenced, improve, resequence
from cpsched.cpsat.model import BuiltModel, build_model
from cpsched.cpsat.packing import PackingBound, packing_relaxation, solve_packing
from cpsched.cpsat.params import (
    HINT_COMPLETION_S,
    KEEP_HINT_SPILLS_ABOVE,
    LIGHT_PRESOLVE_ABOVE,
    REGROUP_S,
    SHARE_HINT_SHARE,
    WORK_BOUND_S,
    Progress,
    SolverParams,
)
from cpsched.cpsat.regroup import activation_groups, balanced_cores
from cpsched.cpsat.space import Space, build_space
from cpsched.cpsat.starvation import StarvationBound, starvation_bound
from cpsched.cpsat.strengthen import add_start_order, canonical_first_start, canonical_hint
from cpsched.cpsat.tiles import canonical_tiles
from cpsched.cpsat.work import work_bound
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.share import weight_mates
from cpsched.model.objective import Metric, Objective, Stage, as_objective
from cpsched.model.problem import CoreId, MemoryId, Problem, TaskId, TensorId
from cpsched.model.result import (
    HintInfo,
    HintSource,
    SolveResult,
    StageResult,
    Status,
    relative_gap,
    solver_versions,
)
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer
from cpsched.model.space import (
    extend_space,
    group_leader,
    in_space,
    origin_copies,
    used_spills,
)


class ModelInvalidError(RuntimeError):
    """CP-SAT rejected the model it was given: a bug in cpsched, never a user mistake."""


class InvalidScheduleError(RuntimeError):
    """The solver produced a schedule the validator rejects: a bug in cpsched."""


def _validate(problem: Problem, schedule: Schedule) -> None:
    """Run the validator; a violation here is a bug, so it raises."""
    from cpsched.check.validate import validate

    violations = validate(problem, schedule)
    if violations:
        shown = "; ".join(str(x) for x in violations[:5])
        raise InvalidScheduleError(
            f"cpsat produced an invalid schedule ({len(violations)} violations): {shown}"
        )


def _is_valid(problem: Problem, schedule: Schedule) -> bool:
    from cpsched.check.validate import validate

    return not validate(problem, schedule)


# --- hints ---


def project_hint(space: Space, schedule: Schedule, multicast: bool = True) -> Schedule:
    """Keep only the transfers the model's space has (from the source memory, into a memory where
    a consumer runs, or into DRAM for a stored tensor; with `multicast`, a multicast whose
    destinations one of them leads; staged transfers, spills and reloads where the space has
    them, :func:`cpsched.model.space.in_space`); dropping the others keeps it valid, or leaves
    it invalid (a reader without its input), and then unusable."""
    return in_space(space, schedule, multicast)


def _respects_fixed(
    schedule: Schedule,
    fixed_cores: Mapping[TaskId, CoreId] | None,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None,
) -> bool:
    core_of = {st.id: st.core for st in schedule.tasks}
    start = {st.id: st.start for st in schedule.tasks}
    if any(core_of.get(t) != k for t, k in (fixed_cores or {}).items()):
        return False
    for k, seq in (fixed_order or {}).items():
        if any(core_of.get(t) != k for t in seq):
            return False
        if [start[t] for t in seq] != sorted(start[t] for t in seq):
            return False
    return True


def _one_at_a_time(problem: Problem, schedule: Schedule) -> bool:
    """Whether no two transfers of `schedule` (at full rate) overlap on a link: without shared
    bandwidth the model carries one at a time, so a hint that overlaps is outside it (and must
    not narrow the horizon)."""
    per_link: dict[str, list[tuple[int, int]]] = {}
    for x in schedule.transfers:
        duration = max(problem.transfer_duration_cycles(x.tensor, x.src, d) for d in x.dsts)
        if duration == 0:
            continue
        links = {lk for d in x.dsts for lk in problem.route_by_pair[(x.src, d)].links}
        for lk in links:
            per_link.setdefault(lk, []).append((x.start, x.start + duration))
    for spans in per_link.values():
        spans.sort()
        if any(b[0] < a[1] for a, b in pairwise(spans)):
            return False
    return True


def _hint_assignment(built: BuiltModel, schedule: Schedule) -> dict[cp_model.IntVar, int]:
    """Values of the decision variables for a schedule of the space (the rest is completed by
    a quick solve with these fixed)."""
    v = built.vars
    p = built.space.problem
    values: dict[cp_model.IntVar, int] = {}
    for st in schedule.tasks:
        values[v.start[st.id]] = st.start
        for k in built.space.cores[st.id]:
            values[v.on[(st.id, k)]] = int(k == st.core)
    # the first transfer of a tensor into a memory makes its first copy there, a second one (in
    # time) its reload copy; a transfer into the tensor's source memory is a reload there
    core_of = {st.id: st.core for st in schedule.tasks}
    first = origin_copies(p, schedule)
    moved: dict[tuple[TensorId, MemoryId], ScheduledTransfer] = {}
    again: dict[tuple[TensorId, MemoryId], ScheduledTransfer] = {}
    for move in sorted(schedule.transfers, key=lambda x: x.start):
        for d in move.dsts:
            key = (move.tensor, d)
            (again if key in first else moved).setdefault(key, move)
            first.add(key)
    for (tensor, s, m), lit in v.transfer.items():
        x = moved.get((tensor, m))
        values[lit] = int(x is not None and x.src == s)
    for (tensor, m), start in v.transfer_start.items():
        x = moved.get((tensor, m))
        if x is not None:
            values[start] = x.start
    # a multicast: its leader (the destination every other may follow) uses the links. Only
    # the first copy's transfer says whether a destination follows: a later reload into it
    # (always alone) must not overwrite that
    lead_of: dict[tuple[str, str], str | None] = {}
    for (tensor, d), x in moved.items():
        lead = group_leader(built.space, tensor, x.src, x.dsts) if x.multicast else None
        lead_of[(tensor, d)] = None if d == lead else lead
    for (tensor, s, m, lead), f in v.follows.items():
        x = moved.get((tensor, m))
        values[f] = int(x is not None and x.src == s and lead_of.get((tensor, m)) == lead)
    for (tensor, s, m), occupies in v.occupies.items():
        if occupies is not v.transfer[(tensor, s, m)]:
            x = moved.get((tensor, m))
            values[occupies] = int(
                x is not None and x.src == s and lead_of.get((tensor, m)) is None
            )
    for (tensor, s, m), lit in v.reload.items():
        x = again.get((tensor, m))
        values[lit] = int(x is not None and x.src == s)
    for (tensor, m), start in v.reload_start.items():
        x = again.get((tensor, m))
        if x is not None:
            values[start] = x.start
    # a reader reads the reload copy when it starts once that copy is available
    reload_end: dict[tuple[TensorId, MemoryId], int] = {}
    for key, move in again.items():
        for o in built.space.reloads.get(key, ()):
            if o.src == move.src:
                reload_end[key] = move.start + o.duration_cycles
    task_start = {st.id: st.start for st in schedule.tasks}
    for (tensor, m, c), q in v.reads_reload.items():
        end = reload_end.get((tensor, m))
        here = c in core_of and p.memory_of(core_of[c]) == m  # a reader in m, not elsewhere
        values[q] = int(end is not None and here and task_start[c] >= end)
    for (tensor, m, d), q in v.sends_reload.items():
        end = reload_end.get((tensor, m))
        x = moved.get((tensor, d))
        values[q] = int(end is not None and x is not None and x.src == m and x.start >= end)
    del p
    return values


def _light_presolve(solver: cp_model.CpSolver) -> None:
    """No probing and a single presolve pass: what keeps presolve of big models in seconds."""
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.max_presolve_iterations = 1


def link_places(space: Space) -> int:
    """Transfer options times the links of their routes: what makes CP-SAT's presolve slow."""
    return sum(len(o.links) for options in space.transfers.values() for o in options)


def _complete_hint(
    built: BuiltModel,
    schedule: Schedule,
    params: SolverParams,
    time_limit_s: float,
    light: bool = False,
) -> tuple[list[int] | None, str]:
    """A full assignment of the model matching `schedule` (None when the schedule is outside the
    model, or when it could not be completed in `time_limit_s`), and why there is none."""
    model = built.model
    model.clear_hints()
    for var, value in _hint_assignment(built, schedule).items():
        if var is not built.vars.true:
            model.add_hint(var, value)
    model.minimize(built.stages[0].expr)
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = max(0.1, time_limit_s)
    solver.parameters.random_seed = params.seed
    solver.parameters.catch_sigint_signal = False
    if light:
        _light_presolve(solver)
    status = solver.solve(model)
    model.clear_hints()
    if status == cp_model.INFEASIBLE:
        return None, "outside the model"
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, f"not completed into the model in {solver.parameters.max_time_in_seconds:g} s"
    return list(solver.response_proto.solution), ""


def _set_full_hint(model: cp_model.CpModel, solution: Sequence[int]) -> None:
    model.clear_hints()
    for i, value in enumerate(solution):
        model.add_hint(model.get_int_var_from_proto_index(i), value)


_MODEL_SWITCHES = (
    "redundant",
    "symmetry_breaking",
    "static_bounds",
    "tile_symmetry",
    "idle_bound",
    "port_heads",
    "idle_union_inputs",
    "first_start_order",
    "multicast",
    "shared_bandwidth",
    "staging",
    "spill",
    "prune_memory",
)


def _starvation(built: BuiltModel, horizon: int, params: SolverParams) -> StarvationBound:
    """The starvation bound (:mod:`cpsched.cpsat.starvation`, valid for every schedule) within
    its share of the time limit; the relaxation keeps the model's tile order."""
    return starvation_bound(
        built.space,
        horizon,
        params.time_limit_s * params.starvation_share,
        params.num_workers,
        params.seed,
        tile_order=[run.leader for run in built.tile_runs],
    )


def _packing(built: BuiltModel, horizon: int, params: SolverParams) -> PackingBound | None:
    """The packing bound (:mod:`cpsched.cpsat.packing`, valid in the model's space) within its
    share of the time limit (None: the model has no idle bound to pack)."""
    if built.bounds is None:
        return None
    relaxation = packing_relaxation(built.space, built.bounds, built.symmetric_classes)
    if relaxation is None:
        return None
    return solve_packing(
        relaxation,
        horizon,
        params.time_limit_s * params.packing_share,
        params.num_workers,
        params.seed,
    )


def _model_options(params: SolverParams) -> dict[str, bool]:
    """The switches of `build_model` as `params` sets them (the same names)."""
    return {name: getattr(params, name) for name in _MODEL_SWITCHES}


def _unicast_start(
    built: BuiltModel,
    obj: Objective,
    horizon: int,
    params: SolverParams,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None,
    caps: Mapping[Metric, float] | None,
    light: bool,
    time_limit_s: float,
) -> list[int] | None:
    """A full assignment of the model `built` (with multicast, links shared by bandwidth or
    reloads) from the first schedule the model with none of them (unicast, one transfer at a
    time per link) finds by the start order (None if it finds none in `time_limit_s`, or its
    space is empty: then a schedule needs a reload)."""
    options: dict[str, Any] = _model_options(params) | {
        "multicast": False,
        "shared_bandwidth": False,
        "spill": False,
    }
    unicast = build_model(built.space, obj, horizon, **options, fixed_order=fixed_order, caps=caps)
    add_start_order(unicast.model, built.space, unicast.vars)
    unicast.model.minimize(unicast.stages[0].expr)
    first = params.model_copy(update={"stop_after_first_solution": True, "log": False})
    callback = ProgressCallback("unicast start", unicast.stages[0].scale, time.monotonic(), None)
    run = _run(unicast.model, first, time_limit_s, callback, light)
    if run.solution is None or run.interrupted:
        return None
    solution, _ = _complete_hint(
        built, extract_schedule(unicast, run.solution), params, time_limit_s, light
    )
    return solution


# --- running CP-SAT interruptibly ---


@dataclass
class _StageRun:
    status: int
    interrupted: bool
    objective: float | None  # integer model objective (unscaled)
    bound: float | None
    solution: list[int] | None
    wall_time_s: float


def _run(
    model: cp_model.CpModel,
    params: SolverParams,
    time_limit_s: float,
    callback: ProgressCallback,
    light: bool = False,
) -> _StageRun:
    """Solve in a worker thread so Ctrl-C in the main thread stops the search and keeps the best."""
    solver = cp_model.CpSolver()
    if light:
        _light_presolve(solver)
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = params.num_workers
    solver.parameters.random_seed = params.seed
    solver.parameters.relative_gap_limit = params.relative_gap_limit
    solver.parameters.log_search_progress = params.log
    solver.parameters.stop_after_first_solution = params.stop_after_first_solution
    if params.subsolver is not None:
        # with 2 workers CP-SAT runs the first listed full-problem subsolver and one LNS worker
        solver.parameters.subsolvers.append(params.subsolver)
    solver.parameters.catch_sigint_signal = False
    solver.best_bound_callback = callback.on_bound
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["status"] = solver.solve(model, callback)
        except BaseException as exc:  # surfaced in the calling thread below
            outcome["error"] = exc
        finally:
            finished.set()

    started = time.monotonic()
    worker = threading.Thread(target=target, name="cpsat-solve", daemon=True)
    worker.start()
    interrupted = False
    # wait on an Event, not on join(): a KeyboardInterrupt inside Thread.join can leave the
    # thread reported as dead while it still runs (CPython before 3.13). The whole wait is inside
    # the try, so an interrupt landing between two waits stops the search too.
    while True:
        try:
            if finished.wait(0.05):
                break
        except KeyboardInterrupt:
            interrupted = True
            solver.stop_search()
    try:
        worker.join()
    except KeyboardInterrupt:  # the search had just ended; the caller still hears of it
        interrupted = True
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    status = outcome["status"]
    has_solution = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return _StageRun(
        status=status,
        interrupted=interrupted,
        objective=solver.objective_value if has_solution else None,
        bound=solver.best_objective_bound if status != cp_model.INFEASIBLE else None,
        solution=list(solver.response_proto.solution) if has_solution else None,
        wall_time_s=time.monotonic() - started,
    )


# --- reading a solution ---


def extract_schedule(built: BuiltModel, solution: Sequence[int]) -> Schedule:
    """The schedule a model solution stands for."""
    v = built.vars

    def value(var: cp_model.IntVar) -> int:
        return int(solution[var.index])

    tasks = []
    for t, cores in built.space.cores.items():
        core = next(k for k in cores if value(v.on[(t, k)]))
        tasks.append(ScheduledTask(id=t, core=core, start=value(v.start[t])))
    # a multicast is its leader (the transfer that uses the links) and its followers
    followers: dict[tuple[str, str, str], list[str]] = {}
    for (tensor, s, m, lead), f in v.follows.items():
        if value(f):
            followers.setdefault((tensor, s, lead), []).append(m)
    transfers = []
    for (tensor, s, m), lit in v.transfer.items():
        if value(lit) and value(v.occupies[(tensor, s, m)]):
            rest = followers.get((tensor, s, m), [])  # in memory order, as the space lists them
            transfers.append(
                ScheduledTransfer(
                    tensor=tensor,
                    src=s,
                    dst=(m, *rest) if rest else m,
                    start=value(v.transfer_start[(tensor, m)]),
                )
            )
    for (tensor, s, m), lit in v.reload.items():
        if value(lit):
            start = value(v.reload_start[(tensor, m)])
            transfers.append(ScheduledTransfer(tensor=tensor, src=s, dst=m, start=start))
    transfers.sort(key=lambda x: (x.start, x.tensor, x.dsts))
    return Schedule(
        problem=built.space.problem.name, tasks=tuple(tasks), transfers=tuple(transfers)
    )


def _status_name(status: int) -> Status:
    names: dict[int, Status] = {
        int(cp_model.OPTIMAL): "optimal",
        int(cp_model.FEASIBLE): "feasible",
        int(cp_model.INFEASIBLE): "infeasible",
        int(cp_model.UNKNOWN): "unknown",
    }
    return names[int(status)]


@dataclass
class _Polished:
    """The large-neighbourhood search's schedule from a hint outside the model's space."""

    outcome: LnsOutcome
    value: float  # its first-stage objective (latency)
    record: dict[str, Any]
    from_model: bool = False  # it started from CP-SAT's schedule, not from the hint
    # the re-sequencing the search started from (for reuse, balanced cores or weights
    # shared), when it gained
    resequenced: Resequenced | None = None

    @property
    def first_latency_cycles(self) -> int:
        """The latency of the schedule the search came from (before any re-sequencing)."""
        if self.resequenced is not None:
            return self.resequenced.start_latency_cycles
        return self.outcome.start_latency_cycles

    @property
    def gained(self) -> bool:
        """Whether the re-sequencing and the search found a schedule faster than their start."""
        return self.outcome.latency_cycles < self.first_latency_cycles

    def result(self, result: Callable[..., SolveResult], **kw: Any) -> SolveResult:
        """The solver's result for this schedule (`result` builds it; `kw`: more fields)."""
        o = self.outcome
        gain = self.first_latency_cycles - o.latency_cycles
        ahead = self.resequenced
        source = (
            "CP-SAT's schedule (its bound holds for its space only)"
            if self.from_model and ahead is not None and (ahead.regrouped or ahead.shared)
            else "CP-SAT's schedule (its cores kept; its bound holds for its space only)"
            if self.from_model and ahead is not None
            else "CP-SAT's schedule (its cores, transfers and copies kept: the bound of its space "
            "holds)"
            if self.from_model
            else "the hint, a valid schedule outside CP-SAT's search space (CP-SAT's bound "
            "holds for its space only; a bound is given only if one holds for every schedule)"
        )
        steps = f"large-neighbourhood search from {source}: latency "
        if self.resequenced is not None:
            steps += (
                f"{self.resequenced.start_latency_cycles:,} -> {self.resequenced.how} "
                f"{self.resequenced.latency_cycles:,} -> "
            )
        else:
            steps += f"{o.start_latency_cycles:,} -> "
        return result(
            "feasible",
            objective_value=self.value,
            schedule=o.schedule,
            interrupted=o.stats.interrupted,
            message=("interrupted; " if o.stats.interrupted else "")
            + steps
            + f"{o.latency_cycles:,} cycles ({gain:,} fewer)",
            **kw,
        )


def _lns(
    problem: Problem,
    obj: Objective,
    hint: Schedule,
    params: SolverParams,
    started: float,
    on_progress: Callable[[Progress], None] | None,
    time_limit_s: float,
    keep_peaks: bool,
) -> _Polished:
    """Run the large-neighbourhood search (:mod:`cpsched.cpsat.lns`) from `hint` for
    `time_limit_s`, reporting each better schedule as progress."""
    stage = str(obj.stages[0])
    found = 0

    def report(_elapsed: float, latency: int) -> None:
        nonlocal found
        found += 1
        if on_progress is not None:
            elapsed = time.monotonic() - started
            on_progress(Progress(elapsed, float(latency), None, None, stage, found))

    outcome = improve(
        problem,
        hint,
        time_limit_s=time_limit_s,
        num_workers=params.num_workers,
        seed=params.seed,
        keep_peaks=keep_peaks,
        on_improve=report,
    )
    _validate(problem, outcome.schedule)
    value = metrics(problem, outcome.schedule).stage_value(obj.stages[0])
    record = {
        "start_latency_cycles": outcome.start_latency_cycles,
        "latency_cycles": outcome.latency_cycles,
        "neighbourhoods": dict(outcome.stats.tried),
        "improved": dict(outcome.stats.improved),
        "seconds": round(time.monotonic() - started, 3),
    }
    return _Polished(outcome, value, record)


def _within_caps(problem: Problem, schedule: Schedule, caps: Mapping[Metric, float] | None) -> bool:
    """Whether `schedule` meets every cap in `caps`."""
    measured = metrics(problem, schedule)
    return all(measured.metric(k) <= cap for k, cap in (caps or {}).items())


_Start = tuple[float, bool, Schedule, "Resequenced | None"]


def _balanced(
    problem: Problem,
    prep: Prepared,
    stage: Stage,
    params: SolverParams,
    started: float,
    starts: list[_Start],
    keep_peaks: bool,
    caps: Mapping[Metric, float] | None,
    step: Literal["regrouped", "stationary"],
) -> tuple[dict[str, Any], _Start | None] | None:
    """A start on balanced cores (:mod:`cpsched.cpsat.regroup`): "regrouped", the best of
    `starts` not shared (:func:`_share`) on cores balanced by weight groups, re-sequenced for
    reuse; "stationary", the best of all with its weights shared on cores balanced by activation
    groups (each task with the producer of its largest input). Its record, and the new start
    where it is faster (None: no time, or no balance found, or the same cores for reuse)."""
    left = params.time_limit_s - (time.monotonic() - started)
    if left <= 0:
        return None
    # for reuse, from the best start on its own cores (a shared start's cores are the list
    # scheduler's: BERT-base M=128 on mesh4x4, 60 s, balanced from CP-SAT's schedule
    # re-sequenced 1,005,452, from the shared start 1,065,438); for sharing from the best, shared
    # ones too: BERT-base M=128 (T=4, 72-KiB W2 slices) on quad_bus, 60 s, from the shared start
    # 1,551,428 -> 1,316,496 (a /tmp script from heft's schedule as it came: 1,642,766)
    regrouped = step == "regrouped"
    candidates = [s for s in starts if not (regrouped and s[3] is not None and s[3].shared)]
    start = min(candidates, key=lambda s: (s[0], not s[1]))
    schedule = start[2]
    cores = balanced_cores(
        prep,
        schedule,
        time_limit_s=min(REGROUP_S, left / 8),
        num_workers=params.num_workers,
        seed=params.seed,
        groups=None if regrouped else activation_groups(prep),
    )
    if cores is None or (regrouped and cores == {a.id: a.core for a in schedule.tasks}):
        return None
    return _offered(problem, prep, stage, start, keep_peaks, caps, left, step, cores)


def _offered(
    problem: Problem,
    prep: Prepared,
    stage: Stage,
    start: _Start,
    keep_peaks: bool,
    caps: Mapping[Metric, float] | None,
    left: float,
    step: Literal["regrouped", "shared", "stationary"],
    cores: Mapping[TaskId, CoreId] | None = None,
) -> tuple[dict[str, Any], _Start | None]:
    """`start` re-sequenced by `step` ("regrouped": for reuse on `cores`; "shared": weights
    shared; "stationary": weights shared on `cores`) in up to a quarter of the `left` seconds:
    its record, and the new start where it is faster (counted from before any re-sequencing of
    `start`)."""
    _, from_model, schedule, ahead = start
    again = resequence(
        problem,
        schedule,
        keep_peaks=keep_peaks,
        caps=caps,
        time_limit_s=left / 4,
        cores=cores,
        prep=prep,
        share=step in ("shared", "stationary"),
    )
    record = {
        "from": "CP-SAT's schedule" if from_model else "the hint",
        "resequenced": ahead is not None,  # before this step: the latency is after that
        "start_latency_cycles": again.start_latency_cycles,
        "rounds": again.rounds,
        step: True,
    }
    if not again.gained:
        return record, None
    if ahead is not None:  # the start was re-sequenced already: count from where it began
        again = replace(again, start_latency_cycles=ahead.start_latency_cycles)
    value = metrics(problem, again.schedule).stage_value(stage)
    return record, (value, from_model, again.schedule, again)


def _share(
    problem: Problem,
    prep: Prepared,
    stage: Stage,
    params: SolverParams,
    started: float,
    start: _Start,
    keep_peaks: bool,
    caps: Mapping[Metric, float] | None,
) -> tuple[dict[str, Any], _Start | None] | None:
    """`start` re-sequenced so that the tasks reading one weight run together
    (:mod:`cpsched.heuristics.share`): its record, and the new start where it is faster (None:
    no time)."""
    left = params.time_limit_s - (time.monotonic() - started)
    if left <= 0:
        return None
    return _offered(problem, prep, stage, start, keep_peaks, caps, left, "shared")


def _keeps_peaks(obj: Objective, caps: Mapping[Metric, float] | None) -> bool:
    """Whether the search from a schedule must keep its memory peaks: for objectives and caps
    that count memory (a lower latency must not cost a later stage or break a cap)."""
    counted = [*obj.metrics, *(caps or {})]
    return any(m != "latency" and m != "energy" for m in counted)


def _unsearched(problem: Problem, obj: Objective, ahead: Resequenced) -> _Polished:
    """A re-sequenced start as the search's result when no search ran from it (no time left,
    or Ctrl-C)."""
    outcome = LnsOutcome(ahead.schedule, ahead.latency_cycles, ahead.latency_cycles, LnsStats())
    value = metrics(problem, ahead.schedule).stage_value(obj.stages[0])
    record = {"start_latency_cycles": ahead.latency_cycles, "latency_cycles": ahead.latency_cycles}
    return _Polished(outcome, value, record, resequenced=ahead)


def _polish(
    problem: Problem,
    obj: Objective,
    params: SolverParams,
    started: float,
    on_progress: Callable[[Progress], None] | None,
    modelled: tuple[Schedule, float] | None,
    hint: Schedule,
    caps: Mapping[Metric, float] | None,
    may_reorder: bool,
    may_move: bool,
    hint_ahead: Resequenced | None = None,
    analysed: Prepared | None = None,
) -> tuple[_Polished | None, bool]:
    """The large-neighbourhood search after the model, in the time left: from CP-SAT's schedule
    and from `hint` (a valid schedule outside the model's space, whose structure the model
    cannot reach), each first re-sequenced for reuse where that is faster (with `may_reorder`
    and `params.resequence`), then the better one first, each until its re-timing is proven or
    the time is out; `modelled` is CP-SAT's schedule and its first-stage value, None when there
    is none or it is proven optimal in its space (re-timing it cannot gain then). With
    `may_move` and `params.share_weights`, each start re-sequenced so that the tasks reading one
    weight run together, on new cores, is one more start where faster; with `may_move` and
    `params.regroup` (and `params.resequence`), so is the best start on cores balanced by
    weight groups, also re-sequenced. With `may_move`, `params.share_weights` and
    `params.stationary`, where some weight has several readers and the cores have more than one
    memory, so is the best start of all, weights shared, on cores balanced by activation groups
    (each task where its largest input is made). `hint_ahead`: how `hint` was re-sequenced
    before the model, if it was; `analysed`: the problem's analysis, when the caller has it.
    Returns the best search, or the best re-sequenced start when no search ran from it (None:
    neither), and whether Ctrl-C stopped it."""
    stage = obj.stages[0]
    keep_peaks = _keeps_peaks(obj, caps)
    measuring = time.monotonic()
    value = metrics(problem, hint).stage_value(stage)
    # time kept for validating and measuring a search's result after it (about twice one
    # measurement: 0.5 s on BERT-base on gap8)
    reserve = 2 * (time.monotonic() - measuring)
    starts: list[_Start] = [(value, False, hint, hint_ahead)]
    if modelled is not None:
        starts.append((modelled[1], True, modelled[0], None))
    # weights are shared from the starts as they came first, then as re-sequenced for reuse
    # below: that order is a worse base on BERT-base M=128, T=8 on quad_bus (30 s: 3,029,458 ->
    # 2,142,908 from layer-by-layer's re-sequenced, 1,528,496 from it as it came)
    originals = list(starts)
    resequenced: list[dict[str, Any]] = []
    best_value = min(s[0] for s in starts)
    # one analysis of the problem for every round of re-sequencing
    prep = (analysed or prepare(problem)) if params.resequence and may_reorder else None
    interrupted = False
    if prep is not None:
        try:
            for k, (_, from_model, schedule, ahead) in enumerate(list(starts)):
                left = params.time_limit_s - (time.monotonic() - started)
                if left <= 0:
                    break
                # a share of what is left for the rounds after the first (a round takes
                # 0.1-2 s on BERT-base M=128; the first always runs)
                again = resequence(
                    problem,
                    schedule,
                    keep_peaks=keep_peaks,
                    caps=caps,
                    time_limit_s=left / 4,
                    prep=prep,
                )
                resequenced.append(
                    {
                        "from": "CP-SAT's schedule" if from_model else "the hint",
                        "start_latency_cycles": again.start_latency_cycles,
                        "rounds": again.rounds,
                    }
                )
                if again.gained:
                    if ahead is not None:  # count from before the hint's own re-sequencing
                        again = replace(again, start_latency_cycles=ahead.start_latency_cycles)
                    gained = metrics(problem, again.schedule).stage_value(stage)
                    starts[k] = (gained, from_model, again.schedule, again)
                    if on_progress is not None and gained < best_value:
                        elapsed = time.monotonic() - started
                        on_progress(Progress(elapsed, gained, None, None, str(stage), 1))
                    best_value = min(best_value, gained)
        except KeyboardInterrupt:
            interrupted = True  # the starts re-sequenced so far are kept

    def offer(step: tuple[dict[str, Any], _Start | None] | None) -> bool:
        """Record a step's outcome and keep its start where faster (False: no time was left)."""
        nonlocal best_value
        if step is None:
            return False
        record_of, found = step
        resequenced.append(record_of)
        if found is not None:
            starts.append(found)
            if on_progress is not None and found[0] < best_value:
                elapsed = time.monotonic() - started
                on_progress(Progress(elapsed, found[0], None, None, str(stage), 1))
            best_value = min(best_value, found[0])
        return True

    mates = params.share_weights and may_move and bool(weight_mates(problem))
    shared_from = prep or analysed  # the problem's analysis for sharing, made once if needed
    if mates and not interrupted:
        try:
            shared_from = shared_from or prepare(problem)
            # then, time left, from the starts re-sequenced for reuse: the better base on Llama
            # on gap8 (4 s: 10,840,830 from them, 15,058,696 from the starts as they came)
            reused = [s for s in starts if s[3] is not None and not s[3].shared]
            bases = sorted(originals, key=lambda s: (s[0], not s[1])) + sorted(
                reused, key=lambda s: (s[0], not s[1])
            )
            for begin in bases:
                if not offer(
                    _share(problem, shared_from, stage, params, started, begin, keep_peaks, caps)
                ):
                    break
        except KeyboardInterrupt:
            interrupted = True  # the starts shared so far are kept
    memories = {c.memory for c in problem.cores}
    if prep is not None and params.regroup and may_move and len(memories) > 1 and not interrupted:
        try:
            offer(
                _balanced(
                    problem, prep, stage, params, started, starts, keep_peaks, caps, "regrouped"
                )
            )
        except KeyboardInterrupt:
            interrupted = True
    if params.stationary and mates and len(memories) > 1 and not interrupted:
        try:
            shared_from = shared_from or prepare(problem)
            offer(
                _balanced(
                    problem,
                    shared_from,
                    stage,
                    params,
                    started,
                    starts,
                    keep_peaks,
                    caps,
                    "stationary",
                )
            )
        except KeyboardInterrupt:
            interrupted = True
    best: _Polished | None = None
    searches: list[dict[str, Any]] = []
    # what the last search cost at least (building its model and its longest neighbourhood): no
    # search starts with less left (BERT-base on mesh4x4: a search started with 0.6 s left
    # ended the solve at 60.2 s of 60)
    least = 0.0
    for _, from_model, schedule, ahead in sorted(starts, key=lambda s: (s[0], not s[1])):
        left = params.time_limit_s - (time.monotonic() - started) - reserve
        if left <= least or interrupted:
            if ahead is not None:  # a gain already found is never dropped
                polished = replace(_unsearched(problem, obj, ahead), from_model=from_model)
                polished.outcome.stats.interrupted = interrupted
            else:
                continue
        else:
            polished = _lns(problem, obj, schedule, params, started, on_progress, left, keep_peaks)
            polished = replace(polished, from_model=from_model, resequenced=ahead)
            interrupted = polished.outcome.stats.interrupted
            least = polished.outcome.stats.least_s
        polished = replace(
            polished,
            record={
                **polished.record,
                "from": "CP-SAT's schedule" if from_model else "the hint",
                "resequenced": ahead is not None,
                "regrouped": ahead is not None and ahead.regrouped,
                "shared": ahead is not None and ahead.shared,
                "stationary": ahead is not None and ahead.stationary,
            },
        )
        searches.append(polished.record)
        if best is None or polished.value < best.value:
            best = polished
    if best is None:
        return None, interrupted
    record = {**best.record, "searches": searches}
    if resequenced:
        record["resequencing"] = resequenced
    return replace(best, record=record), interrupted


def solve(
    problem: Problem,
    objective: str | Objective = "latency",
    params: SolverParams = SolverParams(),  # noqa: B008 - frozen, so a shared default is safe
    hint: Schedule | None = None,
    fixed_cores: Mapping[TaskId, CoreId] | None = None,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    caps: Mapping[Metric, float] | None = None,
    hint_method: str | None = None,
    alternates: Iterable[tuple[str, Schedule]] = (),
) -> SolveResult:
    """Find a proven-optimal (or the best found) schedule of `problem` for `objective` with CP-SAT.

    `fixed_cores` pins tasks to cores and `fixed_order` also fixes the order of the listed tasks on
    a core (re-timing a given schedule). `hint` seeds the search and, for a latency-first objective,
    narrows the horizon; `hint_method` names the heuristic that made it (None: the caller's own
    schedule). When the hint lies outside the model's space, a share of the time
    (`params.lns_share`) goes to a large-neighbourhood search from it and from CP-SAT's schedule
    (:mod:`cpsched.cpsat.lns`; each first re-sequenced by the list scheduler, for reuse and with the
    tasks reading one weight together, where that is faster), and the model starts from the first of
    `alternates` (named schedules, e.g. heuristic ones made within the space; read only then, so a
    lazy iterable costs nothing otherwise) that it holds. A hint in the space whose weights, shared
    (:mod:`cpsched.heuristics.share`), make it faster is replaced by that schedule: as the model's
    start when the model holds it, else as the search's. The solver runs no heuristic from scratch
    itself, and when CP-SAT ends with no schedule the result has none (status `unknown`), whatever
    the hint: keeping it then is the caller's choice (:func:`cpsched.pipeline.keep_hint`). `caps`
    are upper bounds on metrics, constraints of the model (`{"activation-memory": 65536}`: an
    epsilon-constraint of a Pareto sweep). Ctrl-C stops the search and returns the best schedule so
    far as `feasible`, `interrupted`. Every returned schedule has passed the validator, and
    `objective_value` is its first stage measured by :mod:`cpsched.check.metrics`. Raises
    ModelInvalidError when CP-SAT rejects the model (a bug).
    """
    started = time.monotonic()
    obj = as_objective(objective)
    space = extend_space(
        build_space(problem, fixed_cores, fixed_order), staging=params.staging, spill=params.spill
    )
    parameters: dict[str, Any] = params.model_dump()
    if caps:
        parameters["caps"] = dict(caps)
    source: HintSource = "given" if hint_method is None else "heuristic"
    hint_info = None if hint is None else HintInfo(source=source, method=hint_method, used=False)

    def result(status: Status, **kw: Any) -> SolveResult:
        return SolveResult(
            method="cpsat",
            status=status,
            objective=str(obj),
            wall_time_s=time.monotonic() - started,
            parameters=parameters,
            versions=solver_versions(),
            hint=hint_info,
            **kw,
        )

    reasons = find_infeasibility(problem, space.cores)
    if reasons:
        if hint_info is not None:
            hint_info = hint_info.model_copy(update={"why_not": "the problem is infeasible"})
        return result(
            "infeasible",
            infeasibility=reasons,
            message="infeasible before search: " + "; ".join(r.reason for r in reasons),
        )

    # the hint, and with it the horizon
    horizon = space.safe_horizon_cycles()
    polish_from: Schedule | None = None
    polish_ahead: Resequenced | None = None  # how polish_from was re-sequenced, if it was
    analysed: Prepared | None = None  # the problem's analysis, once made
    usable_hint: Schedule | None = None

    def in_model(schedule: Schedule) -> Schedule | None:
        """`schedule` cut down to the model's space, when that is still a valid schedule."""
        projected = project_hint(space, schedule, params.multicast)
        if (
            _respects_fixed(projected, fixed_cores, fixed_order)
            and _is_valid(problem, projected)
            and (params.shared_bandwidth or _one_at_a_time(problem, projected))
        ):
            return projected
        return None

    if hint is not None:
        usable_hint = in_model(hint)
        if usable_hint is None:
            hint_info = HintInfo(
                source=source,
                method=hint_method,
                used=False,
                why_not="invalid or outside the search space",
            )
            if (
                params.lns_share > 0
                and obj.latency_first
                and _is_valid(problem, hint)
                and _within_caps(problem, hint, caps)
                and _respects_fixed(hint, fixed_cores, fixed_order)
            ):
                # the search keeps the hint's cores and order and lowers no metric but
                # latency: a hint over a cap, or off the fixed cores, would lead it off them too
                polish_from = hint  # the search runs after the model, from the better one
            # the model starts from the first alternate it holds (a heuristic schedule made
            # within its space), while the result stays never worse than the hint
            read = 0
            for name, alternate in alternates:
                read += 1
                usable_hint = in_model(alternate)
                if usable_hint is not None:
                    parameters["hint_alternate"] = name
                    hint_info = HintInfo(source="heuristic", method=name, used=False)
                    break
            parameters["alternates_read"] = read
        elif (
            params.share_weights
            and params.lns_share > 0
            and obj.latency_first
            and fixed_cores is None
            and fixed_order is None
            and weight_mates(problem)
        ):
            # a hint in the space gets no search after the model; where sharing its weights
            # makes it faster (BERT-base M=128, T=8 on quad_bus: layer-by-layer's 3,029,458 ->
            # 1,528,496 in 1 s, where the model's 30 s reached 2,142,788), the model starts from
            # that schedule when it holds it, and the search after the model does otherwise
            analysed = prepare(problem)  # kept for the search after the model
            shared = resequence(
                problem,
                hint,
                keep_peaks=_keeps_peaks(obj, caps),
                caps=caps,
                time_limit_s=params.time_limit_s * SHARE_HINT_SHARE,
                prep=analysed,
                share=True,
            )
            record: dict[str, Any] = {
                "start_latency_cycles": shared.start_latency_cycles,
                "rounds": shared.rounds,
            }
            if shared.gained:
                inside = in_model(shared.schedule)
                record["in_space"] = inside is not None
                if inside is not None:
                    usable_hint = inside
                else:
                    polish_from, polish_ahead = shared.schedule, shared
            parameters["shared_hint"] = record
        if usable_hint is not None:
            measured = metrics(problem, usable_hint)
            within_caps = all(measured.metric(k) <= cap for k, cap in (caps or {}).items())
            if obj.latency_first and within_caps:  # a hint over a cap bounds nothing
                horizon = min(horizon, measured.latency_cycles)
    light = params.presolve == "light" or (
        params.presolve == "auto" and link_places(space) > LIGHT_PRESOLVE_ABOVE
    )
    parameters.update(horizon_cycles=horizon, presolve_used="light" if light else "full")
    # the model's share of the limit; the large-neighbourhood search gets the rest
    model_limit_s = params.time_limit_s * (1 - params.lns_share if polish_from else 1.0)

    keep = None
    if usable_hint is not None and params.spill and link_places(space) > KEEP_HINT_SPILLS_ABOVE:
        # too large to search every reload: keep the hint's own (docs/results.md)
        keep = used_spills(space, usable_hint)
        space = extend_space(space, staging=params.staging, spill=True, keep=keep)
        usable_hint = project_hint(space, usable_hint, params.multicast)
        parameters["spills_searched"] = f"the hint's ({len(keep)} reloads and spill stores)"
    built = build_model(
        space,
        obj,
        horizon,
        **_model_options(params),
        keep=keep,
        fixed_order=fixed_order,
        caps=caps,
    )
    latency_first = obj.cycles_first
    starvation: StarvationBound | None = None
    if params.starvation_bound and latency_first:
        starvation = _starvation(built, horizon, params)
        parameters["starvation"] = starvation.record()
        if starvation.value is not None and starvation.value > built.static_makespan_cycles:
            # redundant: the bound holds in every schedule of the space
            assert built.vars.makespan is not None
            built.model.add(built.vars.makespan >= min(starvation.value, horizon + 1))
    # valid for every schedule, not only the space's: it bounds a schedule from outside it too
    every_schedule: int | None = None
    if latency_first:
        conflicts = memory_conflict_bound(problem)
        if conflicts.value > 0:
            parameters["memory_conflicts"] = conflicts.record()
        work = work_bound(
            problem,
            min(WORK_BOUND_S, params.time_limit_s * params.packing_share),
            params.num_workers,
            params.seed,
        )
        parameters["work_bound"] = work.record()
        every_schedule = max(conflicts.value, work.value)
        if every_schedule > 0:
            parameters["bound_every_schedule"] = every_schedule
            if every_schedule > built.static_makespan_cycles:
                assert built.vars.makespan is not None
                built.model.add(built.vars.makespan >= min(every_schedule, horizon + 1))
        else:
            every_schedule = None
    packing: PackingBound | None = None
    if params.packing_bound and latency_first:
        packing = _packing(built, horizon, params)
        if packing is not None:
            parameters["packing"] = packing.record()
            if packing.value is not None and packing.value > built.static_makespan_cycles:
                # redundant: the bound holds in every schedule of the space
                assert built.vars.makespan is not None
                built.model.add(built.vars.makespan >= min(packing.value, horizon + 1))
    parameters["symmetric_core_classes"] = built.symmetric_classes
    parameters["symmetric_tile_runs"] = [list(run.tiles) for run in built.tile_runs]
    proto = built.model.proto
    counts = {"num_variables": len(proto.variables), "num_constraints": len(proto.constraints)}

    solution: list[int] | None = None
    if usable_hint is not None:
        if built.tile_runs:
            usable_hint = canonical_tiles(space, built.tile_runs, usable_hint)
        if built.symmetric_classes and built.symmetry_by_first_start:
            usable_hint = canonical_first_start(space, built.symmetric_classes, usable_hint)
        elif built.symmetric_classes:
            usable_hint = canonical_hint(space, built.symmetric_classes, usable_hint)
        # completing stops once the fixed hint is completed (or proven outside); the big models
        # need more than small ones: BERT-base on mesh4x4 (hint's spills, light presolve) about
        # 5 s on one worker, where 2 s left every hint there unused
        solution, missing = _complete_hint(
            built, usable_hint, params, min(HINT_COMPLETION_S, model_limit_s / 4), light
        )
        assert hint_info is not None
        hint_info = hint_info.model_copy(
            update={"used": solution is not None, "why_not": missing or None}
        )
    if solution is None and params.start_order:
        add_start_order(built.model, space, built.vars)
        if polish_from is not None and time.monotonic() - started >= model_limit_s:
            # building took the model's share: the search from the hint gets the rest (BERT-base
            # on gap8 with 20 s: the alternates and the build end at 14 s, and the unicast start
            # took the search's 6 s)
            parameters["first_schedule"] = "none: the model's share of the time was gone"
        elif built.vars.follows or built.shared_links or built.vars.reload:
            # the start order alone found no schedule of the attention head at T=4 on quad_bus in
            # 10 s with multicast (the follow literals left open), nor in 20 s unicast with the
            # bus's cumulative, and one in about 1 s with neither; the same with the reload
            # literals open: start from the first schedule of the unicast model with one
            # transfer at a time per link and no reload, which lies in the larger spaces too
            solution = _unicast_start(
                built, obj, horizon, params, fixed_order, caps, light, model_limit_s / 4
            )
            parameters["first_schedule"] = "unicast start order" if solution else "none"

    stages: list[StageResult] = []
    first: _StageRun | None = None
    interrupted = False
    for i, stage in enumerate(built.stages):
        remaining = model_limit_s - (time.monotonic() - started)
        if remaining <= 0 and i > 0:
            break
        if solution is not None:
            _set_full_hint(built.model, solution)
        built.model.minimize(stage.expr)
        callback = ProgressCallback(str(stage.stage), stage.scale, started, on_progress)
        run = _run(
            built.model, params, max(0.05, remaining) / (len(built.stages) - i), callback, light
        )
        if run.status == cp_model.MODEL_INVALID:
            raise ModelInvalidError(built.model.validate() or "CP-SAT reported MODEL_INVALID")
        status = _status_name(run.status)
        if (
            status == "optimal"
            and run.bound is not None
            and run.objective is not None
            and run.bound < run.objective
        ):
            status = "feasible"  # stopped by the relative gap limit, not proven
        stages.append(
            StageResult(
                objective=str(stage.stage),
                status=status,
                value=None
                if run.objective is None
                else float(Fraction(int(run.objective)) / stage.scale),
                bound=None if run.bound is None else run.bound / float(stage.scale),
                wall_time_s=run.wall_time_s,
                solutions=callback.solutions,
            )
        )
        if first is None:
            first = run
        if run.solution is not None:
            solution = run.solution
        interrupted = run.interrupted
        if run.solution is None or interrupted:
            break
        if i + 1 < len(built.stages):
            assert run.objective is not None
            built.model.add(stage.expr <= round(run.objective))
    assert first is not None

    # the first stage's bound; the static bound holds even when CP-SAT stopped before it saw it
    # (in presolve)
    bound = None if first.bound is None else first.bound / float(built.stages[0].scale)
    if latency_first and built.static_makespan_cycles:
        bound = max(bound or 0.0, float(built.static_makespan_cycles))
    for relaxed in (starvation, packing):
        if relaxed is not None and relaxed.value is not None:
            bound = max(bound or 0.0, float(relaxed.value))
    if every_schedule is not None:
        bound = max(bound or 0.0, float(every_schedule))
    all_optimal = len(stages) == len(built.stages) and all(s.status == "optimal" for s in stages)
    # CP-SAT's schedule, validated, and its first stage measured on the checking side (the
    # model's own memory releases may be later than needed away from an optimum)
    modelled: tuple[Schedule, float] | None = None
    if solution is not None:
        extracted = extract_schedule(built, solution)
        _validate(problem, extracted)
        modelled = (extracted, metrics(problem, extracted).stage_value(obj.stages[0]))
    if polish_from is not None and not interrupted:
        polished, interrupted = _polish(
            problem,
            obj,
            params,
            started,
            on_progress,
            None if all_optimal else modelled,
            polish_from,
            caps,
            fixed_order is None,  # re-sequencing would break a fixed order
            fixed_cores is None and fixed_order is None,  # balancing moves tasks
            polish_ahead,
            analysed,
        )
        if polished is not None:
            parameters["lns"] = polished.record
            if polished.gained and (modelled is None or polished.value < modelled[1]):
                # re-timing keeps CP-SAT's schedule in its space; re-sequencing does not
                kept = bound if polished.from_model and polished.resequenced is None else None
                if kept is not None and kept > polished.value:
                    kept = None  # the re-timed schedule left the space: no bound for it
                if every_schedule is not None:  # holds for a schedule outside the space too
                    kept = max(kept or 0.0, float(min(every_schedule, polished.value)))
                return polished.result(
                    result,
                    stages=stages,
                    bound=kept,
                    gap=None if kept is None else max(0.0, relative_gap(polished.value, kept)),
                    **counts,
                )
    if modelled is None:
        if stages[0].status == "infeasible":
            # CP-SAT searches a restricted space (docs/results.md): an empty model proves only
            # that the space holds no schedule, not that the problem has none (a valid schedule
            # may stage, multicast or reload). Only the static checks above prove infeasibility.
            return result(
                "unknown",
                stages=stages,
                **counts,
                message="CP-SAT proved that its search space holds no schedule"
                + (" with the given fixed cores or order" if fixed_cores or fixed_order else "")
                + "; a valid schedule may still need staging through another memory, a "
                "multicast of another form, a transfer slower than its route allows or a spill "
                "and reload the model does not search (docs/results.md)",
            )
        return result(
            "unknown",
            bound=bound,
            stages=stages,
            interrupted=interrupted,
            **counts,
            message="interrupted before any schedule was found"
            if interrupted
            else "no schedule found within the time limit",
        )
    schedule, value = modelled
    if bound is not None and bound > value:
        bound = value  # float noise from the integer scale
    final: Status = "optimal" if all_optimal and not interrupted else "feasible"
    gap = None if bound is None else max(0.0, relative_gap(value, bound))
    return result(
        final,
        objective_value=value,
        bound=bound,
        gap=gap,
        stages=stages,
        schedule=schedule,
        interrupted=interrupted,
        message="interrupted; best schedule so far" if interrupted else "",
        **counts,
    )
