"""A lower bound on the makespan of every valid schedule: tasks that cannot run at once because
their data does not fit their memory together.

While a task runs, its core's memory holds every input and output of it (docs/validity.md,
rules 3, 4 and 9: an output is allocated at the task's start, an input is held by its reader
until the reader ends) and never two copies of one tensor. So two tasks whose every candidate
core uses the same bounded memory `m` can overlap in time only if the distinct tensors they
read and write together fit `m`. A set of such tasks any two of which do not fit together (a
*clique* of conflicts) runs one task at a time: the makespan is at least the sum of their
least durations, whatever the cores, transfers, staging or spills.

On a cluster whose cores share a small scratchpad this binds hard: BERT-base at M = 128 on
`gap8` (eight PEs on one 64 KiB L1) is tiled so that each task's data fills 80-100 % of it, so
no two tasks fit together and all 1,589 run one at a time, 233,769,984 cycles of work against
a core idle bound of 29 million.

Finding the heaviest clique is NP-hard; the bound takes the best of two greedy ones (tasks by
duration, then by data size, largest first), each valid.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cpsched.model.problem import MemoryId, Problem, TaskId, TensorId


@dataclass(frozen=True)
class ConflictBound:
    """The heaviest clique of conflicts found: its total least duration (0: none), its tasks'
    count and their memory."""

    value: int
    tasks: int
    memory: MemoryId | None

    def record(self) -> dict[str, object]:
        """For the result's `parameters`."""
        return {"value": self.value, "tasks": self.tasks, "memory": self.memory}


@dataclass(frozen=True)
class _Task:
    id: TaskId
    duration: int
    data: frozenset[TensorId]
    size: int  # of its distinct inputs and outputs


def _greedy_clique(tasks: list[_Task], capacity: int, sizes: dict[TensorId, int]) -> list[_Task]:
    """A clique of conflicts built in the order of `tasks`: each joins when it conflicts with
    every member. Members that share no tensor with it conflict when the two sizes add up to
    more than `capacity`, so only the least such size and the members sharing a tensor with it
    need a look."""
    members: list[_Task] = []
    holding: dict[TensorId, list[_Task]] = defaultdict(list)  # members that read or write each
    least = None  # the least size among members
    for t in tasks:
        sharing = {u.id: u for x in t.data for u in holding.get(x, ())}
        fits = any(
            t.size + u.size - sum(sizes[x] for x in t.data & u.data) <= capacity
            for u in sharing.values()
        )
        if not fits and least is not None and t.size + least.size <= capacity:
            # the smallest member may share a tensor with t (then it was checked above); if
            # not, look at every member that shares none
            fits = any(t.size + u.size <= capacity for u in members if u.id not in sharing)
        if fits:
            continue
        members.append(t)
        for x in t.data:
            holding[x].append(t)
        if least is None or t.size < least.size:
            least = t
    return members


def memory_conflict_bound(problem: Problem) -> ConflictBound:
    """The bound of the module docstring: per bounded memory, over the tasks confined to it
    (every candidate core uses it) with a positive least duration."""
    sizes = {x.id: x.size_bytes for x in problem.tensors}
    capacity = {m.id: m.capacity_bytes for m in problem.memories}
    confined: dict[MemoryId, list[_Task]] = defaultdict(list)
    for task in problem.tasks:
        memories = {problem.memory_of(o.core) for o in task.options}
        if len(memories) != 1:
            continue
        (m,) = memories
        duration = min(o.duration_cycles for o in task.options)
        if capacity[m] is None or duration <= 0:
            continue
        data = frozenset((*task.inputs, *task.outputs))
        confined[m].append(_Task(task.id, duration, data, sum(sizes[x] for x in data)))
    best = ConflictBound(0, 0, None)
    for m, tasks in sorted(confined.items()):
        cap = capacity[m]
        assert cap is not None
        for key in (lambda t: (-t.duration, -t.size), lambda t: (-t.size, -t.duration)):
            clique = _greedy_clique(sorted(tasks, key=key), cap, sizes)
            value = sum(t.duration for t in clique)
            if value > best.value:
                best = ConflictBound(value, len(clique), m)
    return best


__all__ = ["ConflictBound", "memory_conflict_bound"]
