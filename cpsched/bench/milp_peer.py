"""A mixed-integer linear programming peer of the CP-SAT model: same problem, same search space.

GitHub issue 7 asks how CP-SAT compares with the textbook alternative. This module states the
latency problem (docs/problem.md) as a disjunctive big-M MILP and solves it through OR-Tools'
MathOpt (`ortools.math_opt`) with SCIP or HiGHS. (Not `pywraplp`: in OR-Tools 9.15 its HiGHS
interface crashes on a MIP start and, at a time limit, returns no solution and no bound.) It
searches the space the CP-SAT model searches (at most one transfer per tensor and destination
memory, always from the tensor's source memory): the one space every exact solver reads from
:mod:`cpsched.model.space`, so its optimum and CP-SAT's must agree. Like the rest of the bench
layer it uses only cpsched's public data and functions (the Problem, its graph facts and search
space, the heuristics, the validator, metrics), never CP-SAT's internals; with
:mod:`cpsched.cpsat` it is the only code that imports ortools.

Variables (H: the horizon; M = H + the longest single duration, the big-M):

- `x[t,k]` binary: task t runs on candidate core k (sum 1; tasks of a group share the core);
- `S[t]` in [0, H]: start; the end is `S[t] + sum_k d[t,k] x[t,k]`;
- `need[n,m]` binary: tensor n is read in memory m (OR of its consumers' placements there;
  fixed to 1 for a stored tensor in dram); `z[n,s,m]` binary: the transfer s -> m is made
  (= source is s AND need in m; forbidden pairs without a route); `TS[n,m]` in [0, H] its start;
- `o[i,j]` binary per pair of tasks that share a candidate core and are not ordered by the
  precedences anyway; `q[a,b]` binary per pair of transfer options whose routes share a link;
- with a bounded memory: per copy it may hold, a release time `R`, and per pair of copies
  `before[g,h]` (allocation order) and `gone[g,h]` (g released by the time h is allocated):
  the bytes held at each allocation event are at most the capacity (exact event formulation,
  O(copies^2) binaries; memories that could never be full are left out).

Redundant constraints (on by default, like CP-SAT's): the makespan is at least every core's and
every link's load, and interchangeable cores are used in order (the same classes as CP-SAT's).
Times are continuous; the returned schedule is re-timed with every binary fixed (an LP with
integer data, so integral) and must pass the validator.
"""

from __future__ import annotations

import datetime
import math
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal, TypeAlias

from ortools.math_opt.python import mathopt

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.heuristics import best_heuristic_schedule
from cpsched.model.graph import graph_facts
from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, Problem, TaskId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer
from cpsched.model.space import (
    CopyKind,
    Space,
    TransferOption,
    class_tasks,
    in_first_use_order,
    in_space,
    interchangeable_classes,
    search_space,
)

Backend = Literal["SCIP", "HIGHS"]
MilpStatus = Literal["optimal", "feasible", "infeasible", "unknown"]

_INTEGRAL_TOLERANCE = 1e-6

Var: TypeAlias = mathopt.Variable
Expr: TypeAlias = Any  # a linear expression or a number
Values: TypeAlias = Mapping[Var, float]

SOLVER_TYPES: dict[str, mathopt.SolverType] = {
    "SCIP": mathopt.SolverType.GSCIP,
    "HIGHS": mathopt.SolverType.HIGHS,
}


class InvalidMilpScheduleError(RuntimeError):
    """The MILP produced a schedule the validator rejects: a bug in this formulation."""


@dataclass(frozen=True)
class MilpResult:
    """What one MILP solve returns; `schedule` is None exactly when no solution was found."""

    backend: Backend
    status: MilpStatus
    schedule: Schedule | None
    objective_value: float | None  # latency (cycles) of the returned schedule
    bound: float | None  # best proven lower bound on the latency (cycles)
    gap: float | None  # (objective - bound) / max(1, objective), docs/results.md
    wall_time_s: float  # build + solve + re-timing + validation
    solve_time_s: float  # the MILP solve alone
    num_variables: int
    num_binaries: int
    num_constraints: int
    horizon_cycles: int
    start_latency_cycles: int | None  # latency of the MIP start (the heuristics' best)
    capacity_memories: tuple[MemoryId, ...]  # bounded memories whose capacity is modelled
    message: str = ""


@dataclass
class _Copy:
    """A copy of a tensor a bounded memory may hold (as in the CP-SAT model)."""

    tensor: TensorId
    memory: MemoryId
    kind: CopyKind
    size_bytes: int
    present: Expr
    alloc: Expr
    release: Var


@dataclass
class _Model:
    """The MILP and its variables, keyed by problem ids."""

    model: mathopt.Model
    space: Space
    horizon: int
    big_m: int
    x: dict[tuple[TaskId, CoreId], Var] = field(default_factory=dict)
    start: dict[TaskId, Var] = field(default_factory=dict)
    end: dict[TaskId, Expr] = field(default_factory=dict)
    need: dict[tuple[TensorId, MemoryId], Var] = field(default_factory=dict)
    source_is: dict[tuple[TensorId, MemoryId], Expr] = field(default_factory=dict)
    z: dict[tuple[TensorId, MemoryId, MemoryId], Var] = field(default_factory=dict)
    moved: dict[tuple[TensorId, MemoryId], Expr] = field(default_factory=dict)
    tstart: dict[tuple[TensorId, MemoryId], Var] = field(default_factory=dict)
    tend: dict[tuple[TensorId, MemoryId], Expr] = field(default_factory=dict)
    binaries: list[Var] = field(default_factory=list)
    times: list[Var] = field(default_factory=list)
    copies: list[_Copy] = field(default_factory=list)
    capacity_memories: list[MemoryId] = field(default_factory=list)
    barrier_at: list[Var] = field(default_factory=list)
    task_order: dict[tuple[TaskId, TaskId], Var] = field(default_factory=dict)
    transfer_order: dict[tuple[TransferOption, TransferOption], Var] = field(default_factory=dict)
    # per pair of copies of one memory (indices into `copies`): allocation order, release
    alloc_order: dict[tuple[int, int], Var] = field(default_factory=dict)
    gone: dict[tuple[int, int], Var] = field(default_factory=dict)
    overlap: dict[tuple[int, int], Var] = field(default_factory=dict)
    makespan: Var | None = None
    start_latency: int | None = None  # latency of the MIP start, when there is one
    hint: dict[Var, float] = field(default_factory=dict)

    def binary(self, name: str) -> Var:
        var = self.model.add_binary_variable(name=name)
        self.binaries.append(var)
        return var

    def time(self, name: str) -> Var:
        var = self.model.add_variable(lb=0.0, ub=float(self.horizon), name=name)
        self.times.append(var)
        return var


def _sum(terms: list[Expr]) -> Expr:
    """A linear expression summing `terms` (0 when empty)."""
    total: Expr = 0
    for term in terms:
        total = total + term
    return total


# --- variables and constraint families ---


def _add_tasks(mdl: _Model) -> None:
    """Placement binaries (exactly one core; groups share it), starts and ends."""
    model, space = mdl.model, mdl.space
    for t, cores in space.cores.items():
        mdl.start[t] = mdl.time(f"start[{t}]")
        for k in cores:
            var = mdl.binary(f"x[{t},{k}]")
            if len(cores) == 1:
                var.lower_bound = 1.0
            mdl.x[(t, k)] = var
        model.add_linear_constraint(_sum([mdl.x[(t, k)] for k in cores]) == 1)
        mdl.end[t] = mdl.start[t] + _sum([space.duration(t, k) * mdl.x[(t, k)] for k in cores])
    for group in space.problem.groups:
        for other in group[1:]:
            for k in space.cores[group[0]]:
                model.add_linear_constraint(mdl.x[(group[0], k)] - mdl.x[(other, k)] == 0)


def _in_memory(mdl: _Model, task: TaskId, memory: MemoryId) -> Expr:
    """1 when `task` runs on a core of `memory` (a sum of placement binaries)."""
    return _sum([mdl.x[(task, k)] for k in mdl.space.cores_in(task, memory)])


def _add_transfers(mdl: _Model) -> None:
    """Need, presence (source AND need; no route: forbidden), start and end of every transfer."""
    model, space = mdl.model, mdl.space
    p = space.problem
    for tensor in p.tensors:
        for s in space.sources[tensor.id]:
            mdl.source_is[(tensor.id, s)] = (
                1 if tensor.producer is None else _in_memory(mdl, tensor.producer, s)
            )
        for m in space.dests[tensor.id]:
            need = mdl.binary(f"need[{tensor.id},{m}]")
            mdl.need[(tensor.id, m)] = need
            if tensor.store and m == DRAM:
                need.lower_bound = 1.0
                continue
            placements = [mdl.x[placement] for placement in space.readers_in(tensor.id, m)]
            for lit in placements:
                model.add_linear_constraint(need >= lit)
            model.add_linear_constraint(need <= _sum(placements))
    for (tensor_id, m), options in space.transfers.items():
        need = mdl.need[(tensor_id, m)]
        ts = mdl.time(f"transfer_start[{tensor_id},{m}]")
        mdl.tstart[(tensor_id, m)] = ts
        lits = []
        for o in options:
            z = mdl.binary(f"z[{tensor_id},{o.src}->{m}]")
            src = mdl.source_is[(tensor_id, o.src)]
            model.add_linear_constraint(z <= src)
            model.add_linear_constraint(z <= need)
            model.add_linear_constraint(z >= src + need - 1)
            mdl.z[(tensor_id, o.src, m)] = z
            lits.append(z)
        mdl.moved[(tensor_id, m)] = _sum(lits)
        mdl.tend[(tensor_id, m)] = ts + _sum(
            [o.duration_cycles * z for o, z in zip(options, lits, strict=True)]
        )
    for tensor_id, s, m in space.unroutable:
        model.add_linear_constraint(mdl.source_is[(tensor_id, s)] + mdl.need[(tensor_id, m)] <= 1)


def _add_precedences(mdl: _Model) -> None:
    """Data (producer -> transfer -> consumer, or producer -> consumer), `after` and barriers."""
    model, space, big_m = mdl.model, mdl.space, mdl.big_m
    p = space.problem
    for (tensor_id, _m), ts in mdl.tstart.items():
        producer = p.tensor_by_id[tensor_id].producer
        if producer is not None:
            # unconditional: when the transfer is not made, its start is free anyway
            model.add_linear_constraint(ts >= mdl.end[producer])
    for task in p.tasks:
        for tensor_id in task.inputs:
            producer = p.tensor_by_id[tensor_id].producer
            if producer is not None:
                model.add_linear_constraint(mdl.start[task.id] >= mdl.end[producer])
            memories = {p.memory_of(k) for k in space.cores[task.id]}
            for m in sorted(memories):
                if (tensor_id, m) in mdl.tend:
                    # when the task runs in m, the copy is either moved in (and must have
                    # arrived) or produced in m (then the absent transfer's end can sit at the
                    # producer's end, which the line above already orders)
                    model.add_linear_constraint(
                        mdl.start[task.id]
                        >= mdl.tend[(tensor_id, m)] - big_m * (1 - _in_memory(mdl, task.id, m))
                    )
        for a in task.after:
            model.add_linear_constraint(mdl.start[task.id] >= mdl.end[a])
    for i, barrier in enumerate(p.barriers):
        at = mdl.time(f"barrier[{i}]")
        mdl.barrier_at.append(at)
        for b in barrier.before:
            model.add_linear_constraint(at >= mdl.end[b])
        for a in barrier.after:
            model.add_linear_constraint(mdl.start[a] >= at)


def _add_core_disjunctions(mdl: _Model) -> None:
    """Rule 2: two tasks on one core do not overlap (one order binary per pair that may meet)."""
    model, space, big_m = mdl.model, mdl.space, mdl.big_m
    facts = graph_facts(space.problem)
    tasks = list(space.cores)
    for a, b in combinations(tasks, 2):
        if facts.precedes(a, b) or facts.precedes(b, a):
            continue
        shared = [
            k
            for k in space.cores[a]
            if k in space.cores[b] and space.duration(a, k) > 0 and space.duration(b, k) > 0
        ]
        if not shared:
            continue
        before = mdl.binary(f"o[{a},{b}]")
        mdl.task_order[(a, b)] = before
        for k in shared:
            apart = big_m * (2 - mdl.x[(a, k)] - mdl.x[(b, k)])
            da, db = space.duration(a, k), space.duration(b, k)
            model.add_linear_constraint(
                mdl.start[b] >= mdl.start[a] + da - big_m * (1 - before) - apart
            )
            model.add_linear_constraint(mdl.start[a] >= mdl.start[b] + db - big_m * before - apart)


def _add_link_disjunctions(mdl: _Model) -> None:
    """Rule 8: two transfers whose routes share a link do not overlap."""
    model, space, big_m = mdl.model, mdl.space, mdl.big_m
    options: list[TransferOption] = [
        o for opts in space.transfers.values() for o in opts if o.duration_cycles > 0
    ]
    for a, b in combinations(options, 2):
        if (a.tensor, a.dst) == (b.tensor, b.dst):
            continue  # two sources of one copy: never both made
        if not set(a.links) & set(b.links):
            continue
        za, zb = mdl.z[(a.tensor, a.src, a.dst)], mdl.z[(b.tensor, b.src, b.dst)]
        sa, sb = mdl.tstart[(a.tensor, a.dst)], mdl.tstart[(b.tensor, b.dst)]
        before = mdl.binary(f"q[{a.tensor},{a.src}->{a.dst};{b.tensor},{b.src}->{b.dst}]")
        mdl.transfer_order[(a, b)] = before
        apart = big_m * (2 - za - zb)
        model.add_linear_constraint(sb >= sa + a.duration_cycles - big_m * (1 - before) - apart)
        model.add_linear_constraint(sa >= sb + b.duration_cycles - big_m * before - apart)


def _collect_copies(mdl: _Model) -> None:
    """Every copy a bounded memory may hold, with its release time (docs/validity.md, rule 9)."""
    model, space, big_m = mdl.model, mdl.space, mdl.big_m
    p = space.problem
    for copy in space.bounded_copies:
        n, m = copy.tensor, copy.memory
        release = mdl.time(f"release[{n},{m},{copy.kind}]")
        if copy.kind == "source":
            producer = p.tensor_by_id[n].producer
            present: Expr = mdl.source_is[(n, m)]
            alloc: Expr = 0 if producer is None else mdl.start[producer]
            if producer is not None:
                model.add_linear_constraint(release >= mdl.end[producer])
            for (tensor_id, src, dst), z in mdl.z.items():
                if tensor_id == n and src == m:
                    model.add_linear_constraint(
                        release >= mdl.tend[(tensor_id, dst)] - big_m * (1 - z)
                    )
        else:
            present, alloc = mdl.moved[(n, m)], mdl.tstart[(n, m)]
            model.add_linear_constraint(release >= mdl.tend[(n, m)])
        for c, k in space.readers_in(n, m):
            model.add_linear_constraint(release >= mdl.end[c] - big_m * (1 - mdl.x[(c, k)]))
        mdl.copies.append(_Copy(n, m, copy.kind, copy.size_bytes, present, alloc, release))


def _add_memory_capacity(mdl: _Model) -> None:
    """Rule 9: at every allocation, the copies held in a bounded memory fit its capacity.

    The allocations are put in a total order (`before`); a copy g counts at h's allocation when
    g is allocated no later and not yet released (`gone[g,h]` = 0). Ties: the last of them in
    the order sees all the others. Memories whose copies all fit at once are left out.
    """
    model, space, big_m = mdl.model, mdl.space, mdl.big_m
    p = space.problem
    _collect_copies(mdl)
    per_memory: dict[MemoryId, list[int]] = defaultdict(list)  # indices into mdl.copies
    for index, copy in enumerate(mdl.copies):
        per_memory[copy.memory].append(index)
    copies = mdl.copies
    for m in space.bounded:
        capacity = p.memory_by_id[m].capacity_bytes
        assert capacity is not None
        held = per_memory.get(m, [])
        if sum(copies[i].size_bytes for i in held) <= capacity:
            continue  # never binding
        mdl.capacity_memories.append(m)
        before: dict[tuple[int, int], Expr] = {}
        for i, j in combinations(held, 2):
            var = mdl.binary(f"before[{m},{i},{j}]")
            mdl.alloc_order[(i, j)] = var
            before[(i, j)] = var
            before[(j, i)] = 1 - var
            model.add_linear_constraint(copies[j].alloc >= copies[i].alloc - big_m * (1 - var))
            model.add_linear_constraint(copies[i].alloc >= copies[j].alloc - big_m * var)
        for h in held:
            load: list[Expr] = [copies[h].size_bytes * copies[h].present]
            for g in held:
                if g == h:
                    continue
                gone = mdl.binary(f"gone[{m},{g},{h}]")
                mdl.gone[(g, h)] = gone
                model.add_linear_constraint(
                    copies[h].alloc >= copies[g].release - big_m * (1 - gone)
                )
                overlap = model.add_variable(lb=0.0, ub=1.0, name=f"overlap[{m},{g},{h}]")
                mdl.overlap[(g, h)] = overlap
                model.add_linear_constraint(
                    overlap >= before[(g, h)] - gone + copies[g].present + copies[h].present - 2
                )
                load.append(copies[g].size_bytes * overlap)
            model.add_linear_constraint(_sum(load) <= capacity)


def _add_makespan(mdl: _Model, strengthen: bool) -> None:
    """The makespan is at least every end; with `strengthen`, every core's and link's load too."""
    model, space, big_m = mdl.model, mdl.space, mdl.big_m
    makespan = model.add_variable(lb=0.0, ub=float(mdl.horizon), name="makespan")
    mdl.makespan = makespan
    for t in space.cores:
        model.add_linear_constraint(makespan >= mdl.end[t])
    for key, tend in mdl.tend.items():
        model.add_linear_constraint(makespan >= tend - big_m * (1 - mdl.moved[key]))
    if not strengthen:
        return
    per_core: dict[CoreId, list[Expr]] = defaultdict(list)
    for (t, k), x in mdl.x.items():
        if space.duration(t, k) > 0:
            per_core[k].append(space.duration(t, k) * x)
    per_link: dict[LinkId, list[Expr]] = defaultdict(list)
    for (tensor_id, s, m), z in mdl.z.items():
        option = next(o for o in space.transfers[(tensor_id, m)] if o.src == s)
        if option.duration_cycles > 0:
            for link in option.links:
                per_link[link].append(option.duration_cycles * z)
    for loads in [*per_core.values(), *per_link.values()]:
        if len(loads) > 1:
            model.add_linear_constraint(makespan >= _sum(loads))


def _add_symmetry_breaking(mdl: _Model) -> list[list[CoreId]]:
    """Interchangeable cores (the classes CP-SAT orders too) are used in order: a task may use the
    i-th core of a class only when an earlier task uses the (i-1)-th."""
    space = mdl.space
    classes = interchangeable_classes(space)
    for cls in classes:
        tasks = class_tasks(space, cls)
        for j, t in enumerate(tasks):
            for i in range(1, len(cls)):
                earlier = _sum([mdl.x[(u, cls[i - 1])] for u in tasks[:j]])
                mdl.model.add_linear_constraint(mdl.x[(t, cls[i])] <= earlier)
    return classes


# --- horizon, extraction, solve ---


def _latency(problem: Problem, schedule: Schedule) -> int:
    """The latency of a schedule, as cpsched's metrics measure it."""
    return metrics(problem, schedule).latency_cycles


def start_schedule(problem: Problem, space: Space) -> Schedule | None:
    """The heuristics' best schedule, cut down to the model's space (as CP-SAT's hint is), or
    None when there is none or it is not valid once cut."""
    schedule = best_heuristic_schedule(problem)
    if schedule is None:
        return None
    projected = in_space(space, schedule)
    return projected if not validate(problem, projected) else None


def _hint_values(mdl: _Model, schedule: Schedule) -> dict[Var, float]:
    """A value for every variable that stands for `schedule` (which must lie in the space and
    obey the symmetry breaking): a complete MIP start, so the solvers begin where CP-SAT does."""
    space = mdl.space
    p = space.problem
    values: dict[Var, float] = {}
    core = {st.id: st.core for st in schedule.tasks}
    start = {st.id: st.start for st in schedule.tasks}
    end = {t: start[t] + space.duration(t, core[t]) for t in space.cores}
    memory = {t: p.memory_of(k) for t, k in core.items()}
    for (t, k), var in mdl.x.items():
        values[var] = float(core[t] == k)
    for t, var in mdl.start.items():
        values[var] = float(start[t])
    moved = {(x.tensor, x.dsts[0]): x for x in schedule.transfers}
    for (n, m), var in mdl.need.items():
        stored = p.tensor_by_id[n].store and m == DRAM
        values[var] = float(stored or any(memory[c] == m for c in p.consumers[n]))
    for (n, s, m), var in mdl.z.items():
        values[var] = float((n, m) in moved and moved[(n, m)].src == s)
    tstart: dict[tuple[TensorId, MemoryId], int] = {}
    tend: dict[tuple[TensorId, MemoryId], int] = {}
    for (n, m), var in mdl.tstart.items():
        producer = p.tensor_by_id[n].producer
        if (n, m) in moved:
            x = moved[(n, m)]
            tstart[(n, m)] = x.start
            tend[(n, m)] = x.start + p.transfer_duration_cycles(n, x.src, m)
        else:  # absent: its start waits for the producer, and it takes no time
            tstart[(n, m)] = tend[(n, m)] = 0 if producer is None else end[producer]
        values[var] = float(tstart[(n, m)])
    for i, barrier in enumerate(p.barriers):
        values[mdl.barrier_at[i]] = float(max(end[b] for b in barrier.before))
    for (a, b), var in mdl.task_order.items():
        values[var] = float(start[a] <= start[b])
    for (oa, ob), var in mdl.transfer_order.items():
        values[var] = float(tstart[(oa.tensor, oa.dst)] <= tstart[(ob.tensor, ob.dst)])
    present: list[float] = []
    alloc: list[int] = []
    release: list[int] = []
    for copy in mdl.copies:
        n, m = copy.tensor, copy.memory
        producer = p.tensor_by_id[n].producer
        readers = [end[c] for c in p.consumers[n] if memory[c] == m]
        if copy.kind == "source":
            present.append(float(producer is None or memory[producer] == m))
            alloc.append(0 if producer is None else start[producer])
            outgoing = [
                tend[(n, x.dsts[0])] for x in schedule.transfers if (x.tensor, x.src) == (n, m)
            ]
            own = [] if producer is None else [end[producer]]
            release.append(max([*own, *outgoing, *readers], default=0))
        else:
            present.append(float((n, m) in moved))
            alloc.append(tstart[(n, m)])
            release.append(max([tend[(n, m)], *readers]))
        values[copy.release] = float(release[-1])
    for (i, j), var in mdl.alloc_order.items():
        values[var] = float(alloc[i] <= alloc[j])
    for (g, h), var in mdl.gone.items():
        values[var] = float(release[g] <= alloc[h])
    for (g, h), var in mdl.overlap.items():
        first = alloc[g] <= alloc[h] if (g, h) in mdl.alloc_order else alloc[h] > alloc[g]
        forced = float(first) - values[mdl.gone[(g, h)]] + present[g] + present[h] - 2
        values[var] = max(0.0, forced)
    assert mdl.makespan is not None
    values[mdl.makespan] = float(max([*end.values(), *(tend[k] for k in moved)], default=0))
    return values


def _round(value: float, what: str) -> int:
    rounded = round(value)
    if abs(value - rounded) > _INTEGRAL_TOLERANCE:
        raise ValueError(f"{what} = {value} is not integral")
    return int(rounded)


def _extract(mdl: _Model, values: Values) -> Schedule:
    """The schedule a solution stands for (times rounded to integers, else ValueError)."""
    space = mdl.space
    tasks = []
    for t, cores in space.cores.items():
        core = max(cores, key=lambda k: values[mdl.x[(t, k)]])
        tasks.append(ScheduledTask(id=t, core=core, start=_round(values[mdl.start[t]], t)))
    transfers = []
    for (tensor, s, m), z in mdl.z.items():
        if values[z] > 0.5:
            ts = values[mdl.tstart[(tensor, m)]]
            transfers.append(
                ScheduledTransfer(tensor=tensor, src=s, dst=m, start=_round(ts, f"{tensor}->{m}"))
            )
    transfers.sort(key=lambda x: (x.start, x.tensor, x.dst))
    return Schedule(problem=space.problem.name, tasks=tuple(tasks), transfers=tuple(transfers))


def _retime(mdl: _Model, backend: Backend, values: Values) -> Schedule:
    """Fix every binary at its (rounded) value in `values` and solve again for integral earliest
    times. With the binaries fixed, every constraint left is a difference of two times against an
    integer, so the LP's vertices are integral; should the solver still return fractions, the
    times are made integer variables and solved once more."""
    for var in mdl.binaries:
        fixed = float(round(values[var]))
        var.lower_bound = fixed
        var.upper_bound = fixed
    assert mdl.makespan is not None
    # earliest times, so the re-timed schedule is left-justified
    weight = 1e-3 / max(1, len(mdl.times))
    mdl.model.minimize(mdl.makespan + weight * _sum(list(mdl.times)))
    for attempt in range(2):
        result = mathopt.solve(mdl.model, SOLVER_TYPES[backend])
        if result.termination.reason != mathopt.TerminationReason.OPTIMAL:
            raise InvalidMilpScheduleError(
                f"re-timing with fixed binaries failed: {result.termination.reason.name}"
            )
        try:
            return _extract(mdl, result.variable_values())
        except ValueError:
            if attempt == 1:
                raise
            for var in mdl.times:
                var.integer = True
    raise AssertionError("unreachable")


def build_milp(
    problem: Problem,
    *,
    use_heuristic: bool = True,
    strengthen: bool = True,
) -> _Model:
    """Build the MILP of `problem` (latency objective); with `use_heuristic`, the heuristics'
    best schedule gives the horizon and a complete MIP start (as CP-SAT's hint does)."""
    space = search_space(problem)
    horizon = space.safe_horizon_cycles()
    start = start_schedule(problem, space) if use_heuristic else None
    if start is not None:
        horizon = min(horizon, _latency(problem, start))
    longest = max(
        [space.duration(t, k) for t, ks in space.cores.items() for k in ks]
        + [o.duration_cycles for opts in space.transfers.values() for o in opts],
        default=0,
    )
    model = mathopt.Model(name=problem.name)
    mdl = _Model(model=model, space=space, horizon=horizon, big_m=horizon + longest)
    _add_tasks(mdl)
    _add_transfers(mdl)
    _add_precedences(mdl)
    _add_core_disjunctions(mdl)
    _add_link_disjunctions(mdl)
    _add_memory_capacity(mdl)
    _add_makespan(mdl, strengthen)
    if strengthen:
        classes = _add_symmetry_breaking(mdl)
        if start is not None and classes:
            start = in_first_use_order(space, classes, start)
    assert mdl.makespan is not None
    model.minimize(mdl.makespan)
    if start is not None:
        mdl.start_latency = _latency(problem, start)
        mdl.hint = _hint_values(mdl, start)
    return mdl


_STATUS: dict[mathopt.TerminationReason, MilpStatus] = {
    mathopt.TerminationReason.OPTIMAL: "optimal",
    mathopt.TerminationReason.FEASIBLE: "feasible",
    mathopt.TerminationReason.INFEASIBLE: "infeasible",
}


def solve_milp(
    problem: Problem,
    backend: Backend,
    time_limit_s: float | None,
    objective: Literal["latency"] = "latency",
    *,
    node_limit: int | None = None,
    use_heuristic: bool = True,
    strengthen: bool = True,
) -> MilpResult:
    """Minimize the latency of `problem` with the MILP peer on SCIP or HiGHS (OR-Tools MathOpt).

    `time_limit_s` (None: none) bounds the whole call; `node_limit` (None: none) bounds the
    branch and bound by a count of nodes, a limit that does not depend on the machine's speed or
    load, so a run that must give the same answer everywhere (a test) uses it instead.
    The returned schedule has passed the validator (else InvalidMilpScheduleError): the
    comparison with CP-SAT is only fair if both sides' schedules are really valid.
    """
    if objective != "latency":
        raise ValueError(f"the MILP peer minimizes latency only, not {objective!r}")
    started = time.monotonic()
    if not all(search_space(problem).cores.values()):
        raise ValueError("a task has no core it may run on (with its group); see cpsched's checks")
    mdl = build_milp(problem, use_heuristic=use_heuristic, strengthen=strengthen)
    params = mathopt.SolveParameters(
        node_limit=node_limit,
        relative_gap_tolerance=0.0,  # prove the optimum, not within the default 1e-4
    )
    if time_limit_s is not None:
        remaining_s = max(0.01, time_limit_s - (time.monotonic() - started))
        params.time_limit = datetime.timedelta(seconds=remaining_s)
    hints = [mathopt.SolutionHint(variable_values=mdl.hint)] if mdl.hint else []
    solve_started = time.monotonic()
    result = mathopt.solve(
        mdl.model,
        SOLVER_TYPES[backend],
        params=params,
        model_params=mathopt.ModelSolveParameters(solution_hints=hints),
    )
    solve_time_s = time.monotonic() - solve_started
    reason = result.termination.reason
    counts: dict[str, Any] = {
        "num_variables": mdl.model.get_num_variables(),
        "num_binaries": len(mdl.binaries),
        "num_constraints": mdl.model.get_num_linear_constraints(),
        "horizon_cycles": mdl.horizon,
        "start_latency_cycles": mdl.start_latency,
        "capacity_memories": tuple(mdl.capacity_memories),
    }
    bound = _finite(result.termination.objective_bounds.dual_bound)

    def done(st: MilpStatus, **kw: Any) -> MilpResult:
        return MilpResult(
            backend=backend,
            status=st,
            wall_time_s=time.monotonic() - started,
            solve_time_s=solve_time_s,
            **counts,
            **kw,
        )

    if not result.has_primal_feasible_solution():
        status: MilpStatus = (
            "infeasible" if reason == mathopt.TerminationReason.INFEASIBLE else "unknown"
        )
        return done(
            status,
            schedule=None,
            objective_value=None,
            bound=None if status == "infeasible" else _ceil(bound),
            gap=None,
            message=f"no solution ({reason.name}: {result.termination.detail})",
        )
    milp_value = result.objective_value()
    schedule = _retime(mdl, backend, result.variable_values())
    _validate(problem, schedule, backend)
    value = float(_latency(problem, schedule))
    proven = reason == mathopt.TerminationReason.OPTIMAL
    ceiled = _ceil(bound)
    if ceiled is not None:
        ceiled = min(value, ceiled)
    elif proven:
        ceiled = value
    proven = proven and ceiled == value
    gap = None if ceiled is None else max(0.0, (value - ceiled) / max(1.0, value))
    return done(
        "optimal" if proven else "feasible",
        schedule=schedule,
        objective_value=value,
        bound=ceiled,
        gap=gap,
        message="" if abs(milp_value - value) < 0.5 else f"MILP value {milp_value:.3f}",
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) and abs(value) < 1e30 else None


def _ceil(bound: float | None) -> float | None:
    """Latencies are integers, so a fractional lower bound rounds up."""
    return None if bound is None else float(math.ceil(bound - _INTEGRAL_TOLERANCE))


def _validate(problem: Problem, schedule: Schedule, backend: str) -> None:
    violations = validate(problem, schedule)
    if violations:
        shown = "; ".join(str(v) for v in violations[:5])
        raise InvalidMilpScheduleError(
            f"MILP ({backend}) produced an invalid schedule ({len(violations)} violations): {shown}"
        )
