"""Layer-by-layer: every layer completes, spread over the cores, before the next layer starts.

Layers run one at a time in dependency order; within a layer each tile goes on the core that
finishes it earliest. This is the no-fusion baseline that layer fusion is measured against.
"""

from __future__ import annotations

import time

from cpsched.heuristics.loop import Key, Outcome, run_list_schedule
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.result import to_result
from cpsched.model.graph import topological_sort
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult


def layer_order(prep: Prepared) -> list[str] | None:
    """Layers in dependency order (ties by first appearance); None if they form a cycle."""
    p = prep.problem
    first: dict[str, int] = {}
    for task in p.tasks:
        first.setdefault(task.layer, len(first))
    n = prep.n_tasks
    layer_of = [t.layer for t in p.tasks]

    def task_layers(v: int) -> set[str]:  # a barrier stands for the layers of the tasks before it
        return {layer_of[v]} if v < n else {layer_of[u] for u in prep.preds[v]}

    edges: list[set[int]] = [set() for _ in first]  # layers by first appearance
    for v in range(n):
        for u in prep.preds[v]:
            for lu in task_layers(u):
                if lu != layer_of[v]:
                    edges[first[lu]].add(first[layer_of[v]])
    order = topological_sort(edges, smallest_first=True)
    layers = list(first)
    return [layers[k] for k in order] if len(order) == len(first) else None


def layer_by_layer_schedule(problem: Problem, prep: Prepared | None = None) -> SolveResult:
    """Schedule `problem` one layer at a time (see module doc)."""
    started = time.perf_counter()
    prep = prep or prepare(problem)
    order = layer_order(prep) if not (prep.reasons or prep.cannot_place) else []
    params: dict[str, object] = {"stages": "layers"}
    if order is None:
        outcome = Outcome(
            None,
            "found none: the layers depend on each other in a cycle, so they cannot run one "
            "after another",
        )
        return to_result(problem, "layer-by-layer", outcome, started, params)
    stage = {layer: k for k, layer in enumerate(order)}
    stage_of = [stage.get(t.layer, 0) for t in problem.tasks]
    priority: list[Key] = [
        (stage_of[i], t.tile, prep.depth[i], i) for i, t in enumerate(problem.tasks)
    ]
    outcome = run_list_schedule(
        prep, priority, prep.group_of, insertion=True, stage_of=stage_of, boost_at=1
    )
    return to_result(problem, "layer-by-layer", outcome, started, params)
