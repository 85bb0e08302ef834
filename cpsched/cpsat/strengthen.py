"""Constraints that do not change the set of optimal schedules but help CP-SAT prove them.

Each is on purpose and can be switched off (`SolverParams.redundant`,
`SolverParams.symmetry_breaking`) to measure what it brings (the ablation of
`cpsched bench --suite scaling`).

Redundant constraints (implied by the model, they tighten the LP relaxation and propagation):

- a cumulative over all tasks with the number of cores as capacity (exact when cores are
  interchangeable, still valid otherwise);
- the critical path: each task starts no earlier than its longest chain of predecessors with
  their shortest durations, and the makespan is at least its end plus its longest chain of
  successors;
- load bounds: the makespan is at least the work placed on each core and the transfer time
  placed on each link (on a link transfers share by bandwidth, each transfer's time weighted by
  the share of the bandwidth it takes);
- peak floors (memory objectives and caps only): while a task runs, its core's memory holds all
  its inputs and outputs, so that memory's peak is at least their size whenever the task is
  placed there.

Symmetry breaking: cores that can be exchanged without changing anything (every task has the
same option on both; they share a memory, or each owns a memory of the same capacity with
routes over links of the same parameters; the classes are worked out in
:mod:`cpsched.model.space`, which the MILP peer reads too) are ordered: a task may use the i-th
core of such a class only when an earlier task (in problem order) uses the (i-1)-th.
"""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction
from itertools import pairwise

from ortools.sat.python import cp_model

from cpsched.cpsat.bounds import StaticBounds
from cpsched.cpsat.objective import PeakVariables
from cpsched.cpsat.space import LinkShares, Space
from cpsched.cpsat.tiles import TileRun
from cpsched.cpsat.variables import Variables
from cpsched.model.graph import graph_facts
from cpsched.model.problem import CoreId, LinkId, TaskId
from cpsched.model.schedule import Schedule
from cpsched.model.space import (
    apply_swap,
    class_tasks,
    in_first_use_order,
    interchangeable_classes,
    swap_of,
)


def add_task_cumulative(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Redundant: at most as many tasks run at once as there are cores they can use."""
    cores = {k for ks in space.cores.values() for k in ks}
    intervals = [v.task_interval[t] for t in space.cores if space.min_duration(t) > 0]
    if len(cores) > 1 and len(intervals) > len(cores):
        model.add_cumulative(intervals, [1] * len(intervals), len(cores))


def add_critical_path(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Redundant: earliest starts from the longest chain of predecessors, and makespan bounds from
    the longest chain of successors (shortest durations, transfers ignored)."""
    assert v.makespan is not None
    facts = graph_facts(space.problem)
    order = facts.topological_order
    if order is None:
        return  # infeasible anyway; the infeasibility checks explain it
    head: dict[TaskId, int] = {}
    for t in order:
        head[t] = max((head[p] + space.min_duration(p) for p in space.predecessors[t]), default=0)
    tail: dict[TaskId, int] = {}
    for t in reversed(order):
        tail[t] = max((space.min_duration(s) + tail[s] for s in facts.successors[t]), default=0)
    for t in order:
        if head[t] > 0:
            model.add(v.start[t] >= head[t])
        if tail[t] > 0:
            model.add(v.makespan >= v.end[t] + tail[t])


def add_load_bounds(
    model: cp_model.CpModel, space: Space, v: Variables, shares: LinkShares | None = None
) -> None:
    """Redundant: the makespan is at least the busy time of every core and every link. On a link
    where transfers may share the bandwidth (`shares`), a transfer of duration `d` at rate `r`
    takes `r * d / B` of its capacity `B`: the makespan is at least the sum of those (scaled to
    integers: `B * D * makespan >= sum(r * D * d)`, `D` their common denominator)."""
    assert v.makespan is not None
    per_core: dict[CoreId, list[cp_model.LinearExprT]] = defaultdict(list)
    for (t, k), lit in v.on.items():
        d = space.duration(t, k)
        if d > 0:
            per_core[k].append(d * lit)
    # per link, each transfer's work as (numerator, denominator) and its literal
    per_link: dict[LinkId, list[tuple[int, int, cp_model.IntVar]]] = defaultdict(list)
    # the works of a transfer depend only on its route and duration: once per distinct pair
    works_of: dict[tuple[tuple[LinkId, ...], int], list[tuple[LinkId, int, int]]] = {}
    for key, lit in v.occupies.items():  # a multicast's followers use no link
        option = v.transfer_option[key]
        if option.duration_cycles <= 0:
            continue
        route = (option.links, option.duration_cycles)
        works = works_of.get(route)
        if works is None:
            works = works_of[route] = []
            for link in option.links:
                work = Fraction(
                    option.duration_cycles
                    if shares is None
                    else shares.work(option.links, link, option.duration_cycles)
                )
                works.append((link, work.numerator, work.denominator))
        for link, num, den in works:
            per_link[link].append((num, den, lit))
    for loads in per_core.values():
        if len(loads) > 1:
            model.add(v.makespan >= sum(loads))
    for items in per_link.values():
        if len(items) <= 1:
            continue
        scale = math.lcm(*{den for _, den, _ in items})
        lits = [lit for _, _, lit in items]
        # each work times the scale, exactly (den divides scale); a weighted sum builds the
        # same linear constraint as sum() of the terms, faster
        weights = [num * (scale // den) for num, den, _ in items]
        if scale == 1:  # every transfer takes the whole link: its busy time
            model.add(v.makespan >= cp_model.LinearExpr.weighted_sum(lits, weights))
        else:
            model.add(scale * v.makespan >= cp_model.LinearExpr.weighted_sum(lits, weights))


def add_peak_floors(
    model: cp_model.CpModel, space: Space, v: Variables, peaks: PeakVariables
) -> None:
    """Redundant: a memory's peak is at least the inputs and outputs of every task placed on one
    of its cores (docs/validity.md, rules 4 and 9: inputs are held from before the task starts,
    outputs from its start, all until it ends), and its activation peak at least their
    activations; the largest peak is at least that need wherever the task runs. Linear in the
    placement literals, so the LP relaxation sees them (the cumulative alone lets a fractional
    placement hold less)."""
    p = space.problem
    bounded = set(space.bounded)
    for t, cores in space.cores.items():
        task = p.task_by_id[t]
        tensors = [p.tensor_by_id[x] for x in dict.fromkeys((*task.inputs, *task.outputs))]
        kinds = (
            (sum(x.size_bytes for x in tensors), peaks.total, peaks.largest_total),
            (
                sum(x.size_bytes for x in tensors if x.kind == "activation"),
                peaks.activation,
                peaks.largest_activation,
            ),
        )
        for need, per_memory, largest in kinds:
            if need == 0 or not per_memory:
                continue
            # a zero-length run holds nothing at any instant; unbounded memories have no peak
            placed = [
                (k, v.on[(t, k)])
                for k in cores
                if p.memory_of(k) in bounded and space.duration(t, k) > 0
            ]
            for k, on in placed:
                model.add(per_memory[p.memory_of(k)] >= need * on)
            if largest is not None and placed:
                model.add(largest >= sum(need * on for _, on in placed))


def add_static_bounds(
    model: cp_model.CpModel, space: Space, v: Variables, bounds: StaticBounds
) -> None:
    """Redundant: heads and tails that count the transfers a placement needs, and the constant
    makespan bounds of :mod:`cpsched.cpsat.bounds` (each valid in every schedule of the space)."""
    assert v.makespan is not None
    for t, cores in space.cores.items():
        head = bounds.task_head(t, cores)
        tail = bounds.task_tail(t, cores)
        if head > 0:
            model.add(v.start[t] >= min(head, v.horizon_cycles + 1))
        if tail > 0:
            model.add(v.makespan >= v.end[t] + min(tail, v.horizon_cycles + 1))
        if len(cores) == 1:
            continue
        for k in cores:
            h, q = bounds.head[(t, k)], bounds.tail[(t, k)]
            if h + space.duration(t, k) + q > v.horizon_cycles:
                model.add(v.on[(t, k)] == 0)  # no schedule within the horizon puts t on k
                continue
            if h > head:
                model.add(v.start[t] >= h).only_enforce_if(v.on[(t, k)])
            if q > tail:
                model.add(v.makespan >= v.end[t] + q).only_enforce_if(v.on[(t, k)])
    if bounds.makespan_cycles > 0:
        model.add(v.makespan >= min(bounds.makespan_cycles, v.horizon_cycles + 1))


def add_start_order(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Search guidance for a solve with no hint: branch on task starts in precedence order, the
    task that can start earliest first, at its earliest start (a serial schedule generation).
    Without it CP-SAT found no schedule of the 28-task attention head on quad_bus in 15 s; with
    it, one 5.2 % above the bound (`scaling` ablation, "no use_hint"). It cuts off no schedule."""
    order = graph_facts(space.problem).topological_order
    if order:
        model.add_decision_strategy(
            [v.start[t] for t in order], cp_model.CHOOSE_LOWEST_MIN, cp_model.SELECT_MIN_VALUE
        )


def add_tile_symmetry(
    model: cp_model.CpModel, space: Space, v: Variables, runs: list[TileRun]
) -> None:
    """Symmetry breaking: the leader's tiles of each run of interchangeable tiles start in tile
    order (sound by the argument in :mod:`cpsched.cpsat.tiles`)."""
    for run in runs:
        for a, b in pairwise(run.leader):
            model.add(v.start[a] <= v.start[b])


def add_redundant(
    model: cp_model.CpModel, space: Space, v: Variables, shares: LinkShares | None = None
) -> None:
    """All redundant constraints (`shares`: how transfers share links, for the load bounds)."""
    add_task_cumulative(model, space, v)
    add_critical_path(model, space, v)
    add_load_bounds(model, space, v, shares)


# --- symmetry between interchangeable cores (the classes: cpsched.model.space) ---


def add_symmetry_breaking(
    model: cp_model.CpModel, space: Space, v: Variables
) -> list[list[CoreId]]:
    """Order the cores of each interchangeable class by first use; return the classes used."""
    classes = interchangeable_classes(space)
    for cls in classes:
        tasks = class_tasks(space, cls)
        used_before: list[cp_model.IntVar] | None = (
            None  # used_before[i]: core i used by an earlier task
        )
        for j, t in enumerate(tasks):
            for i in range(1, len(cls)):
                lit = v.on[(t, cls[i])]
                if used_before is None:
                    model.add(lit == 0)
                else:
                    model.add_implication(lit, used_before[i - 1])
            if j == len(tasks) - 1:
                break
            used_now = []
            for i in range(len(cls) - 1):
                u = model.new_bool_var(f"used[{cls[i]},{t}]")
                lit = v.on[(t, cls[i])]
                previous = [] if used_before is None else [used_before[i]]
                model.add_bool_or([*previous, lit]).only_enforce_if(u)
                for x in [*previous, lit]:
                    model.add_implication(x, u)
                used_now.append(u)
            used_before = used_now
    return classes


def add_first_start_order(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    classes: list[list[CoreId]],
    positions: list[int],
    bounds: StaticBounds,
) -> None:
    """Symmetry breaking by first start: the used cores of each interchangeable class come first,
    in order of their first task's start; the i-th then starts no earlier than `positions[i]`
    (the i-th smallest first start of any schedule, :func:`cpsched.cpsat.bounds.
    first_start_positions`) and the makespan covers its first start, its work and the least tail
    of its tasks.

    Sound: relabelling interchangeable cores keeps a schedule valid with every metric unchanged
    and changes no start time, so every schedule has a relabelling in which, per class, used cores
    precede unused ones and first starts increase (tile renumbering, which keeps the cores, can
    come first); among the used cores of a class the i-th smallest first start is at least the
    i-th smallest over all used cores. This replaces the first-use order of
    :func:`add_symmetry_breaking` (the two orders would conflict)."""
    assert v.makespan is not None
    h = v.horizon_cycles
    for cls in classes:
        first: dict[CoreId, cp_model.IntVar] = {}
        used: dict[CoreId, cp_model.IntVar] = {}
        for i, k in enumerate(cls):
            first[k] = model.new_int_var(0, h, f"first_start[{k}]")
            used[k] = model.new_bool_var(f"used[{k}]")
            tasks = [t for t, ks in space.cores.items() if k in ks]
            load: list[cp_model.LinearExprT] = []
            for t in tasks:
                lit = v.on[(t, k)]
                model.add(v.start[t] >= first[k]).only_enforce_if(lit)
                model.add_implication(lit, used[k])
                load.append(space.duration(t, k) * lit)
            least_tail = min((bounds.tail[(t, k)] for t in tasks), default=0)
            least_tail = min(least_tail, h + 1)
            span = cp_model.LinearExpr.sum([first[k], *load])
            model.add(v.makespan >= span + least_tail).only_enforce_if(used[k])
            if i < len(positions) and positions[i] > 0:
                model.add(first[k] >= min(positions[i], h + 1)).only_enforce_if(used[k])
            if i > 0:
                before = cls[i - 1]
                model.add_implication(used[k], used[before])
                model.add(first[before] <= first[k]).only_enforce_if(used[k])


def canonical_first_start(space: Space, classes: list[list[CoreId]], hint: Schedule) -> Schedule:
    """Relabel interchangeable cores (and memories) in `hint` so that, per class, used cores come
    first in order of first start (what :func:`add_first_start_order` asks)."""
    for cls in classes:
        for i in range(len(cls)):
            first: dict[CoreId, int] = {}
            for st in hint.tasks:
                if st.core in cls:
                    first[st.core] = min(first.get(st.core, st.start), st.start)
            rest = cls[i:]
            pick = min(rest, key=lambda k: (k not in first, first.get(k, 0), cls.index(k)))
            if pick == cls[i]:
                continue
            swap = swap_of(space, pick, cls[i])
            assert swap is not None
            hint = apply_swap(hint, swap)
    return hint


def canonical_hint(space: Space, classes: list[list[CoreId]], hint: Schedule) -> Schedule:
    """Relabel interchangeable cores (and memories) in `hint` so it obeys symmetry breaking
    (:func:`add_symmetry_breaking`, first-use order: the MILP peer asks the same)."""
    return in_first_use_order(space, classes, hint)
