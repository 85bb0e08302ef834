"""A lower bound on the makespan of every valid schedule from the tasks' durations alone.

Whatever its transfers, staging, spills or multicasts, a schedule runs each task on one of its
candidate cores for that option's duration, one task at a time per core (docs/validity.md,
rule 2), and a task starts only once every task whose output it reads, or that it comes after,
has ended (rules 3 and 6). So the makespan is at least

- the longest chain of dependencies (producer to reader, `after`, barriers), each task at its
  least duration (the *critical path*; a cycle is feasible only among tasks of no duration,
  which then start together), and
- the most work a core gets, at the least over placements (the *load*): tasks are whole, so
  it is an integer program. Tasks with the same candidate cores and durations are counted
  together (a count per class and core), and CP-SAT solves it in a short time; when it does
  not prove the optimum, its proven bound on it is taken (still valid).

Groups (tasks on one core) are left out: a relaxation. The static and packing bounds
(:mod:`cpsched.cpsat.bounds`, :mod:`cpsched.cpsat.packing`) are usually higher, but hold in
CP-SAT's search space only; this one holds for a hint outside that space and for any schedule a user
brings, as the memory-conflict bound (:mod:`cpsched.cpsat.conflicts`) does. On BERT-base at
M = 128 on `quad_bus`, where the best schedule is a re-timed heuristic one outside the space,
it is the only bound there is.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

import networkx as nx
from ortools.sat.python import cp_model

from cpsched.cpsat.relax import solve_for_bound
from cpsched.model.graph import graph_facts
from cpsched.model.problem import CoreId, Problem, TaskId


@dataclass(frozen=True)
class WorkBound:
    """The critical path, the load bound (None: none found in the time) and how it was had."""

    critical_path: int
    load: int | None
    load_proven: bool
    classes: int
    seconds: float

    @property
    def value(self) -> int:
        """The bound: the larger of the two."""
        return max(self.critical_path, self.load or 0)

    def record(self) -> dict[str, object]:
        """For the result's `parameters`."""
        return {
            "value": self.value,
            "critical_path": self.critical_path,
            "load": self.load,
            "load_proven": self.load_proven,
            "classes": self.classes,
            "seconds": round(self.seconds, 3),
        }


def least_duration(problem: Problem) -> dict[TaskId, int]:
    """Each task's least duration over its options."""
    return {t.id: min(o.duration_cycles for o in t.options) for t in problem.tasks}


def critical_path(problem: Problem) -> int:
    """The longest chain of dependencies, each task at its least duration."""
    facts = graph_facts(problem)  # the node graph: tasks, then a node of no duration per barrier
    least = least_duration(problem)
    weight = [least[t] for t in facts.task_ids] + [0] * (facts.n_nodes - facts.n_tasks)
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(range(facts.n_nodes))
    graph.add_edges_from((u, v) for v, us in enumerate(facts.node_preds) for u in us)
    # a cycle of dependencies is feasible only among tasks of no duration (they start at once),
    # so each strongly connected component counts as one task of their summed durations
    dag = nx.condensation(graph)
    ends: dict[int, int] = {}
    for c in nx.topological_sort(dag):
        own = sum(weight[v] for v in dag.nodes[c]["members"])
        ends[c] = max((ends[p] for p in dag.predecessors(c)), default=0) + own
    return max(ends.values(), default=0)


def _load_model(problem: Problem, horizon: int) -> tuple[cp_model.CpModel, int]:
    """The load relaxation (module docstring) over [0, horizon], and its number of classes."""
    classes: dict[tuple[tuple[CoreId, int], ...], int] = defaultdict(int)
    for task in problem.tasks:
        classes[tuple(sorted((o.core, o.duration_cycles) for o in task.options))] += 1
    m = cp_model.CpModel()
    makespan = m.new_int_var(0, horizon, "makespan")
    load: dict[CoreId, list[cp_model.LinearExprT]] = defaultdict(list)
    for i, (options, count) in enumerate(classes.items()):
        counts = []
        for core, duration in options:
            n = m.new_int_var(0, count, f"count[{i},{core}]")
            counts.append(n)
            load[core].append(duration * n)
        m.add(sum(counts) == count)
    totals = {core: m.new_int_var(0, horizon, f"load[{core}]") for core in load}
    for core, terms in load.items():
        m.add(totals[core] == cp_model.LinearExpr.sum(terms))
        m.add(totals[core] <= makespan)
    # cores with the same duration for every class exchange: order their loads
    same: dict[tuple[int | None, ...], list[CoreId]] = defaultdict(list)
    for core in sorted(load):
        same[tuple(dict(options).get(core) for options in classes)].append(core)
    for cores in same.values():
        for a, b in pairwise(cores):
            m.add(totals[a] >= totals[b])
    m.minimize(makespan)
    return m, len(classes)


def work_bound(
    problem: Problem, time_limit_s: float, num_workers: int = 2, seed: int = 0
) -> WorkBound:
    """The bound of the module docstring; the load's relaxation gets `time_limit_s`."""
    started = time.monotonic()
    path = critical_path(problem)
    least = least_duration(problem)
    total = sum(least.values())
    if total == 0:
        return WorkBound(path, 0, True, 0, time.monotonic() - started)
    # each task on its fastest core is a placement whose most loaded core has at most `total`
    model, classes = _load_model(problem, total)
    load, proven = solve_for_bound(model, time_limit_s, num_workers, seed)
    return WorkBound(path, load, proven, classes, time.monotonic() - started)


__all__ = ["WorkBound", "critical_path", "work_bound"]
