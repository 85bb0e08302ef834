"""Re-sequencing a valid schedule for reuse: the same cores, a task order that moves less data.

A schedule's order decides how much each memory must load: a task whose inputs the task before
it in the same memory also read (or wrote) finds them there. On hardware whose memory holds one
task's data at a time (BERT-base on `gap8`: each task fills 80-100 % of the 64 KiB L1), every
byte a task does not share with the one before crosses the DMA while no task runs; list
schedulers order by depth or rank and never look at it.

The re-sequencing keeps the schedule's cores and its pattern of memories over time (the k-th
task to start still runs in the same memory as before, when one of that memory's tasks is
ready), and fills each place with the ready task of that memory that has the fewest input bytes
its predecessor in the memory does not hold (ties: the earlier in the schedule). The list
scheduler's placement (:mod:`cpsched.heuristics.loop`) then times that order, with its
transfers, copies and spills; the result is validated. Whether it is better is the caller's
question: it often is not where a memory holds many tasks' data (measured on BERT-base M=128,
one round: -0.9 % latency on gap8, -11.3 % from layer-by-layer's schedule on hetero_quad
(1,942,168 -> 1,723,660), +1.7 % from heft's on quad_bus (1,854,158 -> 1,886,578)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cpsched.check.validate import validate  # the validator shares no code with the heuristics
from cpsched.heuristics.loop import Key, run_list_schedule
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.result import InvalidHeuristicSchedule
from cpsched.model.problem import CoreId, MemoryId, Problem, TaskId
from cpsched.model.schedule import Schedule


def reuse_order(
    prep: Prepared, schedule: Schedule, cores: Mapping[TaskId, CoreId] | None = None
) -> list[int] | None:
    """The tasks of `schedule` (indices of `prep`) in the re-sequenced order (module doc), on
    their cores in `schedule` or, when given, on `cores`; None when the task graph has a
    cycle (of zero-duration tasks, which a valid schedule may run at one cycle) and no order
    holds every task."""
    p = prep.problem
    n = prep.n_tasks
    core_of = dict(cores) if cores is not None else {a.id: a.core for a in schedule.tasks}
    mem_of = {c.id: c.memory for c in p.cores}
    memory: list[MemoryId] = [mem_of[core_of[t]] for t in prep.task_ids]
    start = {a.id: a.start for a in schedule.tasks}
    # the schedule's own order: by start, then as listed
    listed = sorted(range(n), key=lambda i: (start[prep.task_ids[i]], i))
    position = {i: k for k, i in enumerate(listed)}
    size = {x.id: x.size_bytes for x in p.tensors}
    tasks = [p.task_by_id[t] for t in prep.task_ids]
    inputs = [frozenset(t.inputs) for t in tasks]
    held = [frozenset((*t.inputs, *t.outputs)) for t in tasks]

    def new_bytes(before: int | None, i: int) -> int:
        """Input bytes of task i that the task before it in its memory neither read nor wrote."""
        there = held[before] if before is not None else frozenset()
        return sum(size[x] for x in inputs[i] if x not in there)

    missing = [len(ps) for ps in prep.preds]
    ready: dict[MemoryId, set[int]] = {}
    for i in range(n):
        if missing[i] == 0:
            ready.setdefault(memory[i], set()).add(i)
    last: dict[MemoryId, int] = {}
    order: list[int] = []
    for k in range(n):
        wanted = ready.get(memory[listed[k]])
        # none of that memory's tasks is ready: the best ready task of any memory
        pool = list(wanted) if wanted else [j for s in ready.values() for j in s]
        if not pool:
            return None
        i = min(pool, key=lambda j: (new_bytes(last.get(memory[j]), j), position[j]))
        ready[memory[i]].discard(i)
        order.append(i)
        last[memory[i]] = i
        stack = [i]
        while stack:  # barriers (nodes n and up) end with their last `before` task
            for v in prep.succs[stack.pop()]:
                missing[v] -= 1
                if missing[v] == 0:
                    if v >= n:
                        stack.append(v)
                    else:
                        ready.setdefault(memory[v], set()).add(v)
    return order


def resequence_for_reuse(
    problem: Problem,
    schedule: Schedule,
    prep: Prepared | None = None,
    cores: Mapping[TaskId, CoreId] | None = None,
) -> Schedule | None:
    """`schedule` (valid for `problem`) with its tasks re-sequenced for reuse on the same cores
    (or on `cores`, each task's core, e.g. rebalanced) and timed by the list scheduler (module
    doc), or None when the list scheduler gets stuck in that order (or cannot order the
    tasks). The result is valid; raises InvalidHeuristicSchedule if it is not (a bug)."""
    prep = prep or prepare(problem)
    if prep.reasons or prep.cannot_place:
        return None
    order = reuse_order(prep, schedule, cores)
    if order is None:
        return None
    core_of = cores if cores is not None else {a.id: a.core for a in schedule.tasks}
    return schedule_in_order(problem, prep, order, core_of, "re-sequencing for reuse")


def schedule_in_order(
    problem: Problem,
    prep: Prepared,
    order: Sequence[int],
    cores: Mapping[TaskId, CoreId] | None,
    what: str,
) -> Schedule | None:
    """The list scheduler's schedule of `problem` with the tasks (indices of `prep`) taken in
    `order` when ready, each on its core of `cores` or (None) where each finishes first,
    explicit groups together; None when it gets stuck. Raises InvalidHeuristicSchedule, naming
    `what` made the order, when the validator rejects the schedule (a bug)."""
    priority: list[Key] = [(0.0,)] * prep.n_tasks
    for k, i in enumerate(order):
        priority[i] = (float(k),)
    fixed = None if cores is None else {i: cores[t] for i, t in enumerate(prep.task_ids)}
    outcome = run_list_schedule(prep, priority, prep.group_of, insertion=False, fixed=fixed)
    if outcome.schedule is None:
        return None
    violations = validate(problem, outcome.schedule)
    if violations:
        raise InvalidHeuristicSchedule(
            f"{what} built an invalid schedule for {problem.name!r}: "
            + "; ".join(v.message for v in violations[:5])
        )
    return outcome.schedule


__all__ = ["resequence_for_reuse", "reuse_order", "schedule_in_order"]
