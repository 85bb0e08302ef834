"""Cores for a schedule's tasks, balanced by groups of tasks that should share a core.

Where every core has its own memory (`mesh4x4`), a weight read by tasks on several cores
crosses the DRAM port once per core: in CP-SAT's BERT-base schedule on `mesh4x4` each weight
crossed it 4.2 times. Tasks that read a common weight (and tasks an explicit group ties to
them) form one weight group; CP-SAT places each group whole on one core, balancing the cores'
loads: the least most-loaded core over such placements, from the schedule's own cores as
hint. Re-sequenced for reuse on those cores (:mod:`cpsched.heuristics.reuse`), the tasks of a
group then tend to run in a row on their core, each weight loaded once.

It balances work only; transfers and the port are left to the list scheduler that times the
result, so the caller keeps it only where it is faster (measured on BERT-base M=128 from the
60-s solve's schedules, a `/tmp` script: `mesh4x4` 1,210,020 -> 1,065,227 cycles;
`hetero_quad` 1,664,868 -> 1,761,256 and `quad_bus` 1,834,174 -> 2,125,214, not kept).

The other way round, a large activation read where it is made stays there: each task joins the
producer of its largest input when a task produces it (:func:`activation_groups`). In BERT-base
M=128 (T=4) on `quad_bus`, the four FF2 tasks of a W2 slice read the four token tiles' GELU
outputs (96 KiB each, 72 KiB per slice): placed where each finishes first, they fetch a GELU
output and evict it again, task after task; balanced by activation groups, each core keeps one
token tile's GELU output and the slices come to all four at once, one multicast each. It too
is kept only where faster (the 60-s solve of that tiling: its best start, weights shared,
1,551,428 -> 1,316,496 cycles).
"""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from cpsched.cpsat.relax import inner_solver
from cpsched.heuristics.prepare import Prepared
from cpsched.model.graph import DisjointSets
from cpsched.model.problem import CoreId, TaskId
from cpsched.model.schedule import Schedule


def weight_groups(prep: Prepared) -> list[list[int]]:
    """The tasks (indices of `prep`) that share a weight, directly or through other tasks of
    the group, or an explicit group; tasks that read no weight are alone."""
    p = prep.problem
    kind = {x.id: x.kind for x in p.tensors}
    sets = DisjointSets(range(prep.n_tasks))
    first_reader: dict[str, int] = {}
    for i, t in enumerate(prep.task_ids):
        sets.union(i, prep.group_of[i])
        for x in p.task_by_id[t].inputs:
            if kind[x] == "weight":
                sets.union(i, first_reader.setdefault(x, i))
    return _components(sets)


def activation_groups(prep: Prepared) -> list[list[int]]:
    """The tasks (indices of `prep`) joined, each, to the producer of its largest input (the
    first listed of the largest) when a task produces it, directly or through other tasks of the
    group, or an explicit group; a task whose largest input no task produces (an input or a
    weight, in DRAM at the start) is joined to none for it."""
    p = prep.problem
    size = {x.id: x.size_bytes for x in p.tensors}
    producer = {x.id: x.producer for x in p.tensors}
    sets = DisjointSets(range(prep.n_tasks))
    for i, t in enumerate(prep.task_ids):
        sets.union(i, prep.group_of[i])
        inputs = p.task_by_id[t].inputs
        if not inputs:
            continue
        largest = producer[max(inputs, key=lambda x: size[x])]
        if largest is not None:
            sets.union(i, prep.index[largest])
    return _components(sets)


def _components(sets: DisjointSets) -> list[list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(sets.roots()):
        groups[root].append(i)
    return list(groups.values())


def balanced_cores(
    prep: Prepared,
    schedule: Schedule,
    *,
    time_limit_s: float,
    num_workers: int = 2,
    seed: int = 0,
    groups: list[list[int]] | None = None,
) -> dict[TaskId, CoreId] | None:
    """Each task's core with every group of `groups` (default: the weight groups,
    :func:`weight_groups`) whole on one core it may use, the most-loaded core's work as small as
    CP-SAT finds within `time_limit_s` (the schedule's cores as hint); None when no group has a
    common core or CP-SAT finds none. A group whose tasks share no usable core keeps the
    schedule's cores."""
    p = prep.problem
    core_of = {a.id: a.core for a in schedule.tasks}
    duration = [{o.core: o.duration_cycles for o in p.task_by_id[t].options} for t in prep.task_ids]
    cores = [c.id for c in p.cores]
    model = cp_model.CpModel()
    load: dict[CoreId, list[cp_model.LinearExprT]] = {c: [] for c in cores}
    placed: list[tuple[list[int], dict[CoreId, cp_model.IntVar]]] = []
    for group in weight_groups(prep) if groups is None else groups:
        common = [c for c in cores if all(c in prep.allowed[i] for i in group)]
        if not common:
            for i in group:
                core = core_of[prep.task_ids[i]]
                load[core].append(duration[i][core])
            continue
        now = core_of[prep.task_ids[group[0]]]
        on = {c: model.new_bool_var(f"on[{prep.task_ids[group[0]]},{c}]") for c in common}
        model.add_exactly_one(on.values())
        for c, lit in on.items():
            load[c].append(sum(duration[i][c] for i in group) * lit)
            model.add_hint(lit, c == now)
        placed.append((group, on))
    if not placed:
        return None
    horizon = sum(max(d.values()) for d in duration)
    most = model.new_int_var(0, horizon, "most_loaded")
    for c in cores:
        model.add(sum(load[c]) <= most)
    model.minimize(most)
    solver = inner_solver(num_workers, max(0.05, time_limit_s), seed)
    if solver.solve(model) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out = dict(core_of)
    for group, on in placed:
        core = next(c for c, lit in on.items() if solver.boolean_value(lit))
        for i in group:
            out[prep.task_ids[i]] = core
    return out


__all__ = ["activation_groups", "balanced_cores", "weight_groups"]
