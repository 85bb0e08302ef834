"""Cheap, certain reasons why a problem has no valid schedule, in the user's terms.

Each check is a sufficient condition for infeasibility (SPEC.md §4), so a reason found here is
a proof; an empty list proves nothing. No solver code here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import networkx as nx

from cpsched.model.problem import DRAM, CoreId, MemoryId, Problem, TaskId
from cpsched.model.result import InfeasibilityReason


def _candidate_cores(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]] | None
) -> dict[TaskId, tuple[CoreId, ...]]:
    if cores is not None:
        return {t: tuple(ks) for t, ks in cores.items()}
    return {t.id: tuple(o.core for o in t.options) for t in problem.tasks}


def no_common_core(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]]
) -> list[InfeasibilityReason]:
    """Tasks left without a core (the tasks of a group share no core, or a fixed core conflicts)."""
    out = []
    for t, ks in cores.items():
        if not ks:
            groups = [i for i, g in enumerate(problem.groups) if t in g]
            where = f" (groups {', '.join(map(str, groups))} must share one core)" if groups else ""
            out.append(
                InfeasibilityReason(
                    reason=f"task {t!r} has no core it may run on{where}",
                    resource=f"task {t}",
                    tasks=(t,),
                    suggestion="give the tasks of each group an option on a common core",
                )
            )
    return out


def precedence_cycles(
    problem: Problem, cores: Mapping[TaskId, Sequence[CoreId]]
) -> list[InfeasibilityReason]:
    """A cycle among data dependencies, `after` lists and barriers through a task that takes time:
    each task of it would have to wait for itself."""
    graph = nx.DiGraph()
    graph.add_nodes_from(t.id for t in problem.tasks)
    for task in problem.tasks:
        for tensor in task.inputs:
            producer = problem.tensor_by_id[tensor].producer
            if producer is not None:
                graph.add_edge(producer, task.id, why=f"its output {tensor}")
        for a in task.after:
            graph.add_edge(a, task.id, why="after")
    for i, barrier in enumerate(problem.barriers):
        for b in barrier.before:
            for a in barrier.after:
                graph.add_edge(b, a, why=f"barrier {i}")

    def min_duration(t: TaskId) -> int:
        return min(
            (o.duration_cycles for o in problem.task_by_id[t].options if o.core in cores[t]),
            default=0,
        )

    out = []
    for component in nx.strongly_connected_components(graph):
        slow = [t for t in component if min_duration(t) > 0]
        if not slow or (len(component) == 1 and not graph.has_edge(slow[0], slow[0])):
            continue
        u = slow[0]
        sub = graph.subgraph(component)
        if graph.has_edge(u, u):
            path = [u, u]
        else:
            v = next(iter(sub.successors(u)))
            path = [u, *nx.shortest_path(sub, v, u)]
        steps = " -> ".join(f"{a} (then, by {graph.edges[a, b]['why']})" for a, b in pairwise(path))
        through_barrier = any("barrier" in graph.edges[a, b]["why"] for a, b in pairwise(path))
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
    for tensor in problem.tensors:
        if tensor.producer is None:
            assert tensor.home is not None
            sources: set[MemoryId] = {tensor.home}
        else:
            sources = {problem.memory_of(k) for k in cores[tensor.producer]}
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
