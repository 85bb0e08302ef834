"""Cheap, certain reasons why a problem has no valid schedule, in the user's terms.

Each check is a sufficient condition for infeasibility (docs/validity.md), so a reason found here is
a proof; an empty list proves nothing. No solver code here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from cpsched.model.graph import graph_facts, source_memories
from cpsched.model.problem import DRAM, CoreId, MemoryId, Problem, TaskId
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
    for tensor in problem.tensors:
        sources = sources_of[tensor.id]
        if not sources:
            continue

        def reachable(m: MemoryId, sources: set[MemoryId] = sources) -> bool:
            return any(s == m or (s, m) in problem.route_by_pair for s in sources)

        for c in problem.consumers[tensor.id]:
            if cores[c] and not any(reachable(problem.memory_of(k)) for k in cores[c]):
                out.append(
                    InfeasibilityReason(
                        reason=f"tensor {tensor.id!r} has no route from "
                        f"{', '.join(sorted(sources))} to the memory of any core "
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
                    reason=f"tensor {tensor.id!r} must be stored, but there is no route from "
                    f"{', '.join(sorted(sources))} to {DRAM!r}",
                    resource=f"tensor {tensor.id}",
                    tensors=(tensor.id,),
                    memory=DRAM,
                    suggestion=f"add a route to {DRAM!r}",
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
    ]
