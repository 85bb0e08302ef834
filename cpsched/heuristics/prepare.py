"""What every heuristic knows about a problem before placing anything.

The structure (dependencies, depths, groups) comes from the problem's graph facts
(:mod:`cpsched.model.graph`); proofs of infeasibility come only from the static checker
(:func:`cpsched.check.infeasibility.find_infeasibility`). On top of those, the heuristics leave
out the cores a task cannot use in their own rules (its inputs and outputs do not fit the core's
memory at once, or a route they rely on is missing). Leaving a core out is their limitation, not
a proof: a task left with no core means they find no schedule, not that none exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cpsched.check.infeasibility import find_infeasibility
from cpsched.heuristics.features import ALL, Features
from cpsched.model.graph import GraphFacts, graph_facts
from cpsched.model.problem import DRAM, CoreId, Problem, TaskId
from cpsched.model.result import InfeasibilityReason


@dataclass
class Prepared:
    """What every heuristic needs to know about a problem before placing anything."""

    problem: Problem
    facts: GraphFacts
    task_ids: tuple[TaskId, ...]
    index: dict[TaskId, int]
    n_tasks: int
    preds: tuple[tuple[int, ...], ...]  # nodes: tasks 0..n-1, then one node per barrier
    succs: tuple[tuple[int, ...], ...]
    allowed: list[list[CoreId]]  # cores each task can use in the heuristics' rules
    group_of: tuple[int, ...]  # the first task of the tasks the groups tie to each task
    depth: tuple[int, ...]  # longest chain of predecessors (tasks and barriers) before a task
    layer_depth: tuple[int, ...]  # deepest task depth in the task's layer
    # the static checker's proofs that no schedule exists (empty: it found none)
    reasons: list[InfeasibilityReason] = field(default_factory=list)
    # why the heuristics cannot place some task, though no proof says that no schedule exists
    # (empty when they can try)
    cannot_place: str = ""
    features: Features = ALL  # which format-2 freedoms the heuristics use


def prepare(problem: Problem, features: Features = ALL) -> Prepared:
    """The graph facts, each task's usable cores, and the static checker's proofs for `problem`;
    the heuristics run on it use `features`."""
    facts = graph_facts(problem)
    n = facts.n_tasks
    usable: list[list[CoreId]] = []
    why_not: list[str] = []
    for i in range(n):
        cores, why = _usable_cores(problem, i)
        usable.append(cores)
        why_not.append(why)
    common = facts.intersect_over_groups(dict(zip(facts.task_ids, usable, strict=True)))
    allowed = [[c for c in usable[i] if c in common[t]] for i, t in enumerate(facts.task_ids)]
    return Prepared(
        problem=problem,
        facts=facts,
        task_ids=facts.task_ids,
        index=facts.index,
        n_tasks=n,
        preds=facts.node_preds,
        succs=facts.node_succs,
        allowed=allowed,
        group_of=facts.group_root,
        depth=facts.depth,
        layer_depth=facts.layer_depth,
        reasons=find_infeasibility(problem),
        cannot_place=_cannot_place(facts, allowed, why_not),
        features=features,
    )


def _cannot_place(facts: GraphFacts, allowed: list[list[CoreId]], why_not: list[str]) -> str:
    """Why the heuristics cannot place every task ("" when they can try): a task with no core
    they can use, or tasks that wait for each other (through tasks of zero duration, else the
    checker proves it infeasible)."""
    for i, cores in enumerate(allowed):
        if cores:
            continue
        if why_not[i]:
            return why_not[i]
        root = facts.group_root[i]
        tied = [t for t, r in zip(facts.task_ids, facts.group_root, strict=True) if r == root]
        return (
            f"the tasks of the group {', '.join(tied)} have no core in common that each of "
            "them can use"
        )
    if len(facts.node_order) < facts.n_nodes:
        first = facts.cyclic_components[0][0]
        return (
            "the dependencies form a cycle, "
            + " -> ".join(facts.cycle_through(first))
            + ", and the heuristics only place a task after everything it waits for"
        )
    return ""


def _usable_cores(p: Problem, i: int) -> tuple[list[CoreId], str]:
    """The option cores on which task i can run in the heuristics' rules, and why none when so:
    its inputs and outputs fit the core's memory at once, inputs from a home come over a route,
    and stored outputs have a route to dram."""
    task = p.tasks[i]
    tensor_by_id = p.tensor_by_id
    in_bytes = sum(tensor_by_id[x].size_bytes for x in dict.fromkeys(task.inputs))
    out_bytes = sum(tensor_by_id[x].size_bytes for x in task.outputs)
    why: list[str] = []
    usable: list[CoreId] = []
    for opt in task.options:
        m = p.memory_of(opt.core)
        cap = p.memory_by_id[m].capacity_bytes
        if cap is not None and in_bytes + out_bytes > cap:
            why.append(
                f"core {opt.core}: memory {m} holds {cap} bytes < "
                f"{in_bytes + out_bytes} bytes of inputs and outputs"
            )
            continue
        unreachable = [
            x
            for x in task.inputs
            if tensor_by_id[x].producer is None
            and tensor_by_id[x].home != m
            and (tensor_by_id[x].home, m) not in p.route_by_pair
        ]
        if unreachable:
            why.append(
                f"core {opt.core}: no route brings input {unreachable[0]} "
                f"from {tensor_by_id[unreachable[0]].home} to {m}"
            )
            continue
        stores = [x for x in task.outputs if tensor_by_id[x].store]
        if stores and m != DRAM and (m, DRAM) not in p.route_by_pair:
            why.append(
                f"core {opt.core}: output {stores[0]} must be stored but there is no route "
                f"from {m} to dram"
            )
            continue
        usable.append(opt.core)
    if usable:
        return usable, ""
    return usable, f"task {task.id} cannot run on any of its cores: " + "; ".join(why)


__all__ = ["Prepared", "prepare"]
