"""Re-sequencing a valid schedule so that the tasks reading one weight run together.

Where a weight is cut into slices and the tokens into tiles, each slice is read by one task per
token tile (its *weight mates*: BERT-base M=128 on `quad_bus`, 40 slices of 144-192 KiB, 24
read by 2 tasks and 16 by 4). List schedulers order by depth or rank, so mates run far apart,
often on different cores, and each fetches the slice over the DRAM port on its own: heft's
schedule there moves 15.7 MB of weights for 7.1 MB of distinct weights, and the port is the
most used resource (67 % of the time).

The re-sequencing keeps the schedule's order of tasks by start, but brings each task's weight
mates right after it; the list scheduler (:mod:`cpsched.heuristics.loop`) then places the tasks
in that order on the cores where each finishes first (explicit groups kept together), with its
transfers, copies and spills. Mates placed one after the other on different cores then share
one multicast of the slice where the links multicast (the list scheduler adds a destination to
a transfer already placed when that delivers no later), or run in a row on one core that keeps
it. The result is validated; whether it is better is the caller's question. Given cores (e.g.
balanced so that activations stay where they are made, :mod:`cpsched.cpsat.regroup`), the
order is the same and each task runs on its given core.

Measured on BERT-base M=128 (the tiling `cpsched solve` chooses), from heft's schedule, one
round, then the best of four rounds each from the one before (a `/tmp` script): `quad_bus`
1,854,158 -> 1,590,182 -> 1,553,822 cycles (weight transfers from DRAM 15.7 -> 12.1 MB in the
first); `hetero_quad` 1,945,990 -> 1,539,678 (the first is a fixed point); `mesh4x4`
1,334,716 -> 1,101,431 -> 1,098,745; `gap8` 241,778,292 -> 239,606,408 -> 239,606,232. The
cores move (unless given), so a solve with fixed cores does not share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.reuse import schedule_in_order
from cpsched.model.problem import CoreId, Problem, TaskId, TensorId
from cpsched.model.schedule import Schedule


def mates_order(prep: Prepared, schedule: Schedule) -> list[int]:
    """The tasks of `schedule` (indices of `prep`) by start (then as listed), each followed at
    once by the tasks not yet listed that read a weight it reads, in the same order."""
    p = prep.problem
    weights = {x.id for x in p.tensors if x.kind == "weight"}
    start = {a.id: a.start for a in schedule.tasks}
    listed = sorted(range(prep.n_tasks), key=lambda i: (start[prep.task_ids[i]], i))
    read: list[list[TensorId]] = [
        [x for x in p.task_by_id[t].inputs if x in weights] for t in prep.task_ids
    ]
    readers: dict[TensorId, list[int]] = defaultdict(list)
    for i in listed:
        for x in read[i]:
            readers[x].append(i)
    seen: set[int] = set()
    order: list[int] = []
    for i in listed:
        # a weight's readers are listed once, with its first reader
        for j in (i, *(j for x in read[i] for j in readers.pop(x, ()))):
            if j not in seen:
                seen.add(j)
                order.append(j)
    return order


def share_weights(
    problem: Problem,
    schedule: Schedule,
    prep: Prepared | None = None,
    cores: Mapping[TaskId, CoreId] | None = None,
) -> Schedule | None:
    """`schedule` (valid for `problem`) re-sequenced with each task's weight mates right after
    it and placed by the list scheduler on the cores where each finishes first (module doc), or
    on `cores` (each task's core) when given, or None when the list scheduler gets stuck in that
    order. The result is valid; raises InvalidHeuristicSchedule if it is not (a bug)."""
    prep = prep or prepare(problem)
    if prep.reasons or prep.cannot_place:
        return None
    order = mates_order(prep, schedule)
    return schedule_in_order(problem, prep, order, cores, "re-sequencing to share weights")


def weight_mates(problem: Problem) -> dict[TensorId, list[TaskId]]:
    """Each weight read by more than one task, with the tasks that read it (as listed)."""
    weights = {x.id for x in problem.tensors if x.kind == "weight"}
    out: dict[TensorId, list[TaskId]] = defaultdict(list)
    for t in problem.tasks:
        for x in t.inputs:
            if x in weights:
                out[x].append(t.id)
    return {x: ts for x, ts in out.items() if len(ts) > 1}


__all__ = ["mates_order", "share_weights", "weight_mates"]
