"""HEFT (Topcuoglu et al., 2002): upward-rank priorities over mean costs, earliest-finish cores.

Each task, in decreasing upward rank (its mean duration plus the longest mean-cost path to the
end of the graph), goes on the core that finishes it earliest, inserted into an idle gap when
one is long enough. Transfers, memory capacity, groups and barriers as in every list scheduler
(:mod:`cpsched.heuristics.loop`).
"""

from __future__ import annotations

import time

from cpsched.heuristics.loop import Key, run_list_schedule
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.result import to_result
from cpsched.model.problem import Problem, TensorId
from cpsched.model.result import SolveResult


def upward_ranks(prep: Prepared) -> list[float]:
    """Each task's upward rank: mean duration plus the longest mean-cost path to any exit."""
    p = prep.problem
    n = prep.n_tasks
    mean_dur = [sum(o.duration_cycles for o in t.options) / len(t.options) for t in p.tasks]

    def mean_comm(tensor: TensorId) -> float:
        """The mean time of moving `tensor` over any route (0 without routes)."""
        if not p.routes:
            return 0.0
        return sum(p.transfer_duration_cycles(tensor, r.src, r.dst) for r in p.routes) / len(
            p.routes
        )

    comm_cache: dict[int, float] = {}  # by size: the mean depends on nothing else
    edge_cost: dict[tuple[int, int], float] = {}
    for (producer, reader), tensors in prep.facts.data_edges.items():
        key = (prep.index[producer], prep.index[reader])
        for x in tensors:
            size = p.tensor_by_id[x].size_bytes
            if size not in comm_cache:
                comm_cache[size] = mean_comm(x)
            edge_cost[key] = edge_cost.get(key, 0.0) + comm_cache[size]
    # Reverse topological order over all nodes (barriers cost nothing).
    rank = [0.0] * prep.facts.n_nodes
    for v in reversed(prep.facts.node_order):
        best = 0.0
        for w in prep.succs[v]:
            best = max(best, edge_cost.get((v, w), 0.0) + rank[w])
        rank[v] = (mean_dur[v] if v < n else 0.0) + best
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
