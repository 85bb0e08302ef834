"""HEFT (Topcuoglu et al., 2002): upward-rank priorities over mean costs, earliest-finish cores.

Each task, in decreasing upward rank (its mean duration plus the longest mean-cost path to the
end of the graph), goes on the core that finishes it earliest, inserted into an idle gap when
one is long enough. Transfers, memory capacity, groups and barriers as in the engine.
"""

from __future__ import annotations

import time

from cpsched.heuristics.engine import (
    Key,
    Prepared,
    prepare,
    run_list_schedule,
    to_result,
)
from cpsched.model.problem import Problem, route_duration_cycles
from cpsched.model.result import SolveResult


def upward_ranks(prep: Prepared) -> list[float]:
    """Each task's upward rank: mean duration plus the longest mean-cost path to any exit."""
    p = prep.problem
    n = prep.n_tasks
    mean_dur = [sum(o.duration_cycles for o in t.options) / len(t.options) for t in p.tasks]
    routes = [[p.link_by_id[lk] for lk in r.links] for r in p.routes]

    def mean_comm(size_bytes: int) -> float:
        if not routes:
            return 0.0
        return sum(route_duration_cycles(size_bytes, r) for r in routes) / len(routes)

    comm_cache: dict[int, float] = {}
    edge_cost: dict[tuple[int, int], float] = {}
    for i, task in enumerate(p.tasks):
        for x in task.inputs:
            prod = p.tensor_by_id[x].producer
            if prod is None:
                continue
            size = p.tensor_by_id[x].size_bytes
            if size not in comm_cache:
                comm_cache[size] = mean_comm(size)
            key = (prep.index[prod], i)
            edge_cost[key] = edge_cost.get(key, 0.0) + comm_cache[size]
    # Reverse topological order over all nodes (barriers cost nothing).
    n_nodes = len(prep.preds)
    out_deg = [len(s) for s in prep.succs]
    stack = [v for v in range(n_nodes) if out_deg[v] == 0]
    rank = [0.0] * n_nodes
    while stack:
        v = stack.pop()
        best = 0.0
        for w in prep.succs[v]:
            best = max(best, edge_cost.get((v, w), 0.0) + rank[w])
        rank[v] = (mean_dur[v] if v < n else 0.0) + best
        for u in prep.preds[v]:
            out_deg[u] -= 1
            if out_deg[u] == 0:
                stack.append(u)
    return rank[:n]


def heft_schedule(problem: Problem, prep: Prepared | None = None) -> SolveResult:
    """Schedule `problem` with HEFT (see module doc)."""
    started = time.perf_counter()
    prep = prep or prepare(problem)
    rank = upward_ranks(prep)
    priority: list[Key] = [(-rank[i], i) for i in range(prep.n_tasks)]
    outcome = run_list_schedule(prep, priority, prep.group_of, insertion=True)
    return to_result(
        problem, "heft", outcome, started, {"priority": "upward rank", "insertion": True}
    )
