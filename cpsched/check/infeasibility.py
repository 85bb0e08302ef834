"""Cheap, certain reasons why a problem has no valid schedule, in the user's terms.

Each check is a sufficient condition for infeasibility (docs/validity.md), so a reason found here is
a proof; an empty list proves nothing. No solver code here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from cpsched.model.graph import graph_facts, source_memories
from cpsched.model.problem import DRAM, CoreId, MemoryId, Problem, TaskId, Tensor
from cpsched.model.result import InfeasibilityReason


def _candidate_cores(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]] | None
) -> dict[TaskId, tuple[CoreId, ...]]:
    """The given candidate cores, or each task's option cores that every task of its groups has
    (the tasks of a group share one core)."""
    if cores is not None:
        return {t: tuple(ks) for t, ks in cores.items()}
    common = graph_facts(problem).intersect_over_groups(
        {t.id: [o.core for o in t.options] for t in problem.tasks}
    )
    return {t.id: tuple(o.core for o in t.options if o.core in common[t.id]) for t in problem.tasks}


def no_common_core(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]]
) -> list[InfeasibilityReason]:
    """Tasks left without a core (the tasks of a group share no core, or a fixed core conflicts)."""
    facts = graph_facts(problem)
    out = []
    for t, ks in cores.items():
        if not ks:
            root = facts.group_root[facts.index[t]]
            tied = [u for u, r in zip(facts.task_ids, facts.group_root, strict=True) if r == root]
            where = (
                f": the tasks of its group ({_short_list(tied)}) have no usable core in common"
                if len(tied) > 1
                else ""
            )
            out.append(
                InfeasibilityReason(
                    reason=f"task {t!r} has no core it may run on{where}",
                    resource=f"task {t}",
                    tasks=(t,),
                    suggestion="give the tasks of each group an option on a common core",
                )
            )
    return out


def _short_list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def precedence_cycles(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]]
) -> list[InfeasibilityReason]:
    """A cycle among data dependencies, `after` lists and barriers through a task that takes time:
    each task of it would have to wait for itself."""
    facts = graph_facts(problem)

    def min_duration(t: TaskId) -> int:
        return min(
            (o.duration_cycles for o in problem.task_by_id[t].options if o.core in cores[t]),
            default=0,
        )

    out = []
    for component in facts.cyclic_components:
        slow = [t for t in component if min_duration(t) > 0]
        if not slow:
            continue
        u = slow[0]
        path = facts.cycle_through(u)
        why = [facts.dependency_causes[(a, b)] for a, b in pairwise(path)]
        steps = " -> ".join(f"{a} (then, by {w})" for a, w in zip(path, why, strict=False))
        through_barrier = any(w.startswith("barrier") for w in why)
        out.append(
            InfeasibilityReason(
                reason=f"precedence cycle: {steps} -> {u}; "
                f"task {u!r} would have to wait for its own end",
                resource="barriers" if through_barrier else f"task {u}",
                tasks=tuple(dict.fromkeys(path)),
                demand=min_duration(u),
                limit=0,
                unit="cycles",
                suggestion="remove one of the barriers, `after` entries or data edges in the cycle",
            )
        )
    return out


def task_too_big(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]]
) -> list[InfeasibilityReason]:
    """A task whose inputs and outputs alone exceed the memory of every core it may run on
    (they are all held while it runs, rule 9)."""
    out = []
    for task in problem.tasks:
        need = sum(problem.tensor_by_id[t].size_bytes for t in {*task.inputs, *task.outputs})
        limits: list[tuple[int, MemoryId]] = []
        fits = False
        for k in cores[task.id]:
            opt = problem.option(task.id, k)
            memory = problem.memory_of(k)
            capacity = problem.memory_by_id[memory].capacity_bytes
            if opt is None or opt.duration_cycles == 0 or capacity is None or need <= capacity:
                fits = True
                break
            limits.append((capacity, memory))
        if not fits and limits:
            largest, memory = max(limits, key=lambda x: x[0])  # the first of the largest
            out.append(
                InfeasibilityReason(
                    reason=f"task {task.id!r} needs {need} bytes for its inputs and outputs, "
                    "more than "
                    f"any memory it may use holds (largest: {memory}, {largest} bytes)",
                    resource=f"task {task.id}",
                    tasks=(task.id,),
                    memory=memory,
                    demand=need,
                    limit=largest,
                    unit="bytes",
                    suggestion="tile the layer finer or give the task a core with a larger memory",
                )
            )
    return out


def unreachable_tensors(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]]
) -> list[InfeasibilityReason]:
    """A tensor that cannot reach a consumer (or DRAM, if stored) from where it may be produced."""
    out = []
    sources_of = source_memories(problem, cores)
    onward: dict[MemoryId, set[MemoryId]] = {}
    for src, dst in problem.route_by_pair:
        onward.setdefault(src, set()).add(dst)
    for tensor in problem.tensors:
        sources = sources_of[tensor.id]
        if not sources:
            continue
        # A transfer may read a copy another transfer made (staging), so a tensor reaches every
        # memory a chain of routes leads to.
        reached = set(sources)
        frontier = list(sources)
        while frontier:
            for m in onward.get(frontier.pop(), ()):
                if m not in reached:
                    reached.add(m)
                    frontier.append(m)

        def reachable(m: MemoryId, reached: set[MemoryId] = reached) -> bool:
            return m in reached

        for c in problem.consumers[tensor.id]:
            if cores[c] and not any(reachable(problem.memory_of(k)) for k in cores[c]):
                out.append(
                    InfeasibilityReason(
                        reason=f"tensor {tensor.id!r} has no route (direct or through other "
                        f"memories) from {', '.join(sorted(sources))} to the memory of any core "
                        f"task {c!r} may run on",
                        resource=f"tensor {tensor.id}",
                        tensors=(tensor.id,),
                        tasks=(c,),
                        suggestion="add a route, or an option for the consumer on a reachable core",
                    )
                )
        if tensor.store and not reachable(DRAM):
            out.append(
                InfeasibilityReason(
                    reason=f"tensor {tensor.id!r} must be stored, but no chain of routes leads "
                    f"from {', '.join(sorted(sources))} to {DRAM!r}",
                    resource=f"tensor {tensor.id}",
                    tensors=(tensor.id,),
                    memory=DRAM,
                    suggestion=f"add a route to {DRAM!r}",
                )
            )
    return out


def homes_overflow(problem: Problem) -> list[InfeasibilityReason]:
    """A bounded memory that cannot hold, at time 0, the tensors whose home it is and that are
    surely held then: a home copy is allocated at 0 and held until its last reader ends (in dram:
    always), so it is held at 0 when some reader takes time (a consumer whose every option lasts,
    or the transfer that stores it). Zero-length readers could all read at 0 and release it."""

    def held_at_zero(t: Tensor) -> bool:
        if t.home == DRAM or (t.store and t.size_bytes > 0):
            return True
        # a consumer on another memory needs a transfer, which lasts; one on this memory lasts
        # when its option does
        return any(
            all(
                o.duration_cycles > 0 or problem.memory_of(o.core) != t.home
                for o in problem.task_by_id[c].options
            )
            for c in problem.consumers[t.id]
        )

    out = []
    for memory in problem.memories:
        homed = [
            t
            for t in problem.tensors
            if t.producer is None and t.home == memory.id and held_at_zero(t)
        ]
        need = sum(t.size_bytes for t in homed)
        if memory.capacity_bytes is not None and need > memory.capacity_bytes:
            out.append(
                InfeasibilityReason(
                    reason=f"the tensors whose home is memory {memory.id!r} need {need} bytes "
                    f"at time 0, more than its {memory.capacity_bytes}",
                    resource=f"memory {memory.id}",
                    memory=memory.id,
                    tensors=tuple(t.id for t in homed),
                    demand=need,
                    limit=memory.capacity_bytes,
                    unit="bytes",
                    suggestion=f"give memory {memory.id!r} more capacity or home some tensors "
                    "elsewhere",
                )
            )
    return out


def find_infeasibility(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]] | None = None
) -> list[InfeasibilityReason]:
    """Every cheap reason why `problem` has no valid schedule (empty when none is found).

    `cores` restricts each task's candidate cores (after groups or fixed assignments).
    """
    candidates = _candidate_cores(problem, cores)
    return [
        *no_common_core(problem, candidates),
        *precedence_cycles(problem, candidates),
        *task_too_big(problem, candidates),
        *unreachable_tensors(problem, candidates),
        *homes_overflow(problem),
    ]
