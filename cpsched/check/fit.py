"""Tiles that fit no memory, grouped: one finding per layer and memory instead of one per task.

A problem built with tiles too coarse for the hardware has, for every tile of a layer, the same
reason to be infeasible (its inputs and outputs exceed every memory it may use). Reported one
task at a time that is a hundred lines saying one thing; grouped by layer and memory it is one
line per layer, with the count and the range of bytes needed, against the memory's capacity.
The proofs themselves are :func:`cpsched.check.infeasibility.task_too_big`'s; this only groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cpsched.check.infeasibility import find_infeasibility
from cpsched.model.problem import MemoryId, Problem, TaskId
from cpsched.model.result import InfeasibilityReason


@dataclass(frozen=True)
class Misfit:
    """Tasks of one layer whose inputs and outputs exceed every memory they may use; `memory` is
    the largest of those memories (the same for every task of the group)."""

    layer: str  # "" for tasks that name no layer
    memory: MemoryId
    capacity_bytes: int
    tasks: tuple[TaskId, ...]
    least_need_bytes: int  # the smallest and largest need among the tasks
    most_need_bytes: int

    def line(self) -> str:
        """The finding as one sentence with the layer, count, bytes and memory."""
        n = len(self.tasks)
        need = (
            f"{self.most_need_bytes:,}"
            if self.least_need_bytes == self.most_need_bytes
            else f"{self.least_need_bytes:,} to {self.most_need_bytes:,}"
        )
        layer = f"layer {self.layer}" if self.layer else "tasks without a layer"
        return (
            f"{layer}: {n} {'tile needs' if n == 1 else 'tiles need'} {need} bytes for "
            f"{'its' if n == 1 else 'their'} inputs and outputs, more than {self.memory} holds "
            f"({self.capacity_bytes:,} bytes, the largest memory {'it' if n == 1 else 'they'} "
            "may use)"
        )


def too_big_task(problem: Problem, reason: InfeasibilityReason) -> TaskId | None:
    """The task of a `task_too_big` reason (one task's bytes against a memory), else None."""
    if reason.unit != "bytes" or reason.limit is None or reason.memory is None:
        return None
    if len(reason.tasks) != 1 or reason.tasks[0] not in problem.task_by_id:
        return None
    return reason.tasks[0]


def group_misfits(
    problem: Problem, reasons: Sequence[InfeasibilityReason]
) -> tuple[list[Misfit], list[InfeasibilityReason]]:
    """The `task_too_big` reasons among `reasons` grouped by layer and memory (in the order of
    their first task), and the other reasons as they were."""
    groups: dict[tuple[str, MemoryId], list[tuple[TaskId, int, int]]] = {}
    rest: list[InfeasibilityReason] = []
    for reason in reasons:
        task = too_big_task(problem, reason)
        if task is None:
            rest.append(reason)
            continue
        assert reason.limit is not None and reason.memory is not None
        memory = reason.memory
        key = (problem.task_by_id[task].layer, memory)
        groups.setdefault(key, []).append((task, int(reason.demand or 0), int(reason.limit)))
    found = [
        Misfit(
            layer=layer,
            memory=memory,
            capacity_bytes=max(limit for _, _, limit in members),
            tasks=tuple(task for task, _, _ in members),
            least_need_bytes=min(need for _, need, _ in members),
            most_need_bytes=max(need for _, need, _ in members),
        )
        for (layer, memory), members in groups.items()
    ]
    return found, rest


def misfits(problem: Problem) -> list[Misfit]:
    """The tasks of `problem` that fit no memory they may use, grouped by layer and memory."""
    return group_misfits(problem, find_infeasibility(problem))[0]


def reason_lines(problem: Problem, reasons: Sequence[InfeasibilityReason]) -> list[str]:
    """Why `problem` has no schedule, one line per layer and memory for the tiles that fit no
    memory and one per other reason, each with what the user could change."""
    found, rest = group_misfits(problem, reasons)
    lines = [m.line() for m in found]
    if found:
        lines[-1] += (
            "; tile finer (--tiles, --head-tiles, --split LAYER.DIM=N) or use larger memories"
        )
    for reason in rest:
        lines.append(
            reason.reason + (f" (suggestion: {reason.suggestion})" if reason.suggestion else "")
        )
    return lines
