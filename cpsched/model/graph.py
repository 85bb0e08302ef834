"""Graph facts about a problem, worked out once and shared by every solver.

Who waits for whom (data, `after` lists, barriers), in which order tasks can run, how deep each
task sits, which dependencies form cycles and which tasks a group ties to one core: the
heuristics, the CP-SAT model, its bounds and the static infeasibility checks all read these
facts here instead of each building its own graph. They are computed lazily, on first use, and
cached on the problem (see :func:`graph_facts`). The validator keeps its own independent
reading of the problem on purpose, so that it can catch a mistake here.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from itertools import pairwise
from typing import TypeVar

from cpsched.model.problem import (
    Barrier,
    CoreId,
    MemoryId,
    Problem,
    Task,
    TaskId,
    Tensor,
    TensorId,
)

T = TypeVar("T")

_SLOT = "_graph_facts"  # where the facts are cached in a problem's __dict__, beside its lookups


def graph_facts(problem: Problem) -> GraphFacts:
    """The graph facts of `problem`, computed on first use and cached on the problem.

    The cache lives in the problem itself, as its own lookups do (a frozen problem's `__dict__`),
    so it goes away with the problem. A copy (`model_copy`) carries the cache along, so the facts
    remember the tasks, tensors, barriers and groups they were built from and are rebuilt when a
    copy has other ones.
    """
    facts = problem.__dict__.get(_SLOT)
    if not isinstance(facts, GraphFacts) or not facts.describes(problem):
        facts = GraphFacts(problem)
        problem.__dict__[_SLOT] = facts
    return facts


def topological_sort(succs: Sequence[Iterable[int]], smallest_first: bool = False) -> list[int]:
    """Nodes 0..n-1 (edges u -> v for v in `succs[u]`), each after all its predecessors.

    Kahn's algorithm: ready nodes in the order they became ready (ties in node order), or with
    `smallest_first` the smallest ready node first. The list is shorter than n exactly when the
    graph has a cycle (the nodes on or after one are missing).
    """
    n = len(succs)
    indeg = [0] * n
    for vs in succs:
        for v in vs:
            indeg[v] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    order: list[int] = []
    if smallest_first:
        heapq.heapify(ready)
        while ready:
            u = heapq.heappop(ready)
            order.append(u)
            for v in succs[u]:
                indeg[v] -= 1
                if indeg[v] == 0:
                    heapq.heappush(ready, v)
        return order
    order = ready
    head = 0
    while head < len(order):
        u = order[head]
        head += 1
        for v in succs[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
    return order


class DisjointSets:
    """Union-find over 0..n-1 whose representative is always the smallest member of a set."""

    def __init__(self, parent: Iterable[int]) -> None:
        self.parent = list(parent)  # each entry a member of the same set, smaller or itself

    def find(self, i: int) -> int:
        """The smallest member of i's set."""
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        """Join the sets of a and b."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> list[int]:
        """The representative of every element."""
        return [self.find(i) for i in range(len(self.parent))]


class GraphFacts:
    """The dependency structure of one problem (build it with :func:`graph_facts`).

    Tasks are numbered in problem order (`index`). Two views of the dependencies:

    - the *node graph* of the heuristics: tasks 0..n-1, then one node per barrier, which waits
      for the barrier's `before` tasks and which its `after` tasks wait for (`node_preds`,
      `node_succs`, `node_order`, `depth`);
    - the *task graph*: a task waits for the producers of its inputs, its `after` tasks and the
      `before` tasks of every barrier it is after, other than itself (`predecessors`,
      `successors`, `topological_order`; `precedes` for its transitive closure). With the
      barriers' self-loops added back it is the graph whose cycles no schedule of tasks that
      take time can satisfy (`dependency_causes`, `cyclic_components`).
    """

    def __init__(self, problem: Problem) -> None:
        self._tasks: tuple[Task, ...] = problem.tasks
        self._tensors: tuple[Tensor, ...] = problem.tensors
        self._barriers: tuple[Barrier, ...] = problem.barriers
        self._groups: tuple[tuple[TaskId, ...], ...] = problem.groups

    def describes(self, problem: Problem) -> bool:
        """Whether these facts were built from `problem`'s tasks, tensors, barriers and groups."""
        return (
            problem.tasks is self._tasks
            and problem.tensors is self._tensors
            and problem.barriers is self._barriers
            and problem.groups is self._groups
        )

    # --- tasks ---

    @cached_property
    def task_ids(self) -> tuple[TaskId, ...]:
        """Task ids in problem order."""
        return tuple(t.id for t in self._tasks)

    @cached_property
    def index(self) -> dict[TaskId, int]:
        """The position of every task in problem order."""
        return {tid: i for i, tid in enumerate(self.task_ids)}

    @property
    def n_tasks(self) -> int:
        """How many tasks."""
        return len(self._tasks)

    @property
    def n_nodes(self) -> int:
        """How many nodes the node graph has: the tasks, then one per barrier."""
        return len(self._tasks) + len(self._barriers)

    @cached_property
    def _producer(self) -> dict[TensorId, TaskId | None]:
        return {t.id: t.producer for t in self._tensors}

    # --- the node graph (tasks and barriers) ---

    @cached_property
    def node_preds(self) -> tuple[tuple[int, ...], ...]:
        """For every node, the nodes it waits for: a task, the producers of its inputs and its
        `after` tasks (in the order listed, each once), then the barriers it is after; a barrier,
        its `before` tasks in task order."""
        index, producer, n = self.index, self._producer, self.n_tasks
        preds: list[list[int]] = [[] for _ in range(self.n_nodes)]
        for i, task in enumerate(self._tasks):
            seen: set[int] = set()
            for x in task.inputs:
                prod = producer[x]
                if prod is not None and index[prod] not in seen:
                    seen.add(index[prod])
                    preds[i].append(index[prod])
            for a in task.after:
                if index[a] not in seen:
                    seen.add(index[a])
                    preds[i].append(index[a])
        for b, barrier in enumerate(self._barriers):
            preds[n + b] = sorted({index[t] for t in barrier.before})
            for t in dict.fromkeys(barrier.after):
                preds[index[t]].append(n + b)
        return tuple(tuple(ps) for ps in preds)

    @cached_property
    def node_succs(self) -> tuple[tuple[int, ...], ...]:
        """For every node, the nodes that wait for it, in node order."""
        succs: list[list[int]] = [[] for _ in range(self.n_nodes)]
        for v, ps in enumerate(self.node_preds):
            for u in ps:
                succs[u].append(v)
        return tuple(tuple(s) for s in succs)

    @cached_property
    def node_order(self) -> tuple[int, ...]:
        """The nodes in a topological order (:func:`topological_sort`); shorter than `n_nodes`
        when the dependencies have a cycle."""
        return tuple(topological_sort(self.node_succs))

    @cached_property
    def _node_depth(self) -> tuple[int, ...]:
        depth = [0] * self.n_nodes
        succs = self.node_succs
        for u in self.node_order:
            for v in succs[u]:
                if depth[u] + 1 > depth[v]:
                    depth[v] = depth[u] + 1
        return tuple(depth)

    @cached_property
    def depth(self) -> tuple[int, ...]:
        """For every task, its longest chain of predecessors (tasks and barriers, each one step);
        nodes on or after a cycle count only the part of the chain before it."""
        return self._node_depth[: self.n_tasks]

    @cached_property
    def layer_depth(self) -> tuple[int, ...]:
        """For every task, the greatest depth of any task of its layer."""
        deepest: dict[str, int] = {}
        for task, d in zip(self._tasks, self.depth, strict=True):
            deepest[task.layer] = max(deepest.get(task.layer, 0), d)
        return tuple(deepest[task.layer] for task in self._tasks)

    # --- the task graph ---

    @cached_property
    def predecessors(self) -> dict[TaskId, frozenset[TaskId]]:
        """For every task, the tasks it waits for (data, `after`, barriers), never itself."""
        preds: dict[TaskId, set[TaskId]] = {t.id: set(t.after) for t in self._tasks}
        producer = self._producer
        for task in self._tasks:
            for x in task.inputs:
                prod = producer[x]
                if prod is not None:
                    preds[task.id].add(prod)
        for barrier in self._barriers:
            for a in barrier.after:
                preds[a].update(b for b in barrier.before if b != a)
        return {t: frozenset(ps) for t, ps in preds.items()}

    @cached_property
    def successors(self) -> dict[TaskId, tuple[TaskId, ...]]:
        """For every task, the tasks that wait for it, in task order."""
        succs: dict[TaskId, list[TaskId]] = {t: [] for t in self.task_ids}
        for t, ps in self.predecessors.items():
            for p in ps:
                succs[p].append(t)
        return {t: tuple(s) for t, s in succs.items()}

    @cached_property
    def topological_order(self) -> tuple[TaskId, ...] | None:
        """The tasks of the task graph in a topological order (ready tasks in the order they
        became ready, ties in task order), or None when it has a cycle."""
        index, ids = self.index, self.task_ids
        succs = [[index[s] for s in self.successors[t]] for t in ids]
        order = topological_sort(succs)
        return tuple(ids[i] for i in order) if len(order) == len(ids) else None

    @cached_property
    def _after_masks(self) -> tuple[int, ...]:
        """For every task (by index), the set of tasks after it as a bit mask (bit j: task j)."""
        index, order = self.index, self.topological_order
        masks = [0] * self.n_tasks
        for t in reversed(order or ()):
            mask = 0
            for s in self.successors[t]:
                j = index[s]
                mask |= (1 << j) | masks[j]
            masks[index[t]] = mask
        return tuple(masks)

    def precedes(self, a: TaskId, b: TaskId) -> bool:
        """Whether the dependencies (data, `after`, barriers) put `b` after `a`, directly or
        through others; never, for any pair, when they have a cycle (no schedule exists then)."""
        index = self.index
        return bool(self._after_masks[index[a]] >> index[b] & 1)

    @cached_property
    def data_edges(self) -> dict[tuple[TaskId, TaskId], tuple[TensorId, ...]]:
        """For every (producer, reader) pair, the tensors the reader reads from the producer, as
        listed in its inputs (a tensor listed twice appears twice)."""
        edges: dict[tuple[TaskId, TaskId], list[TensorId]] = {}
        producer = self._producer
        for task in self._tasks:
            for x in task.inputs:
                prod = producer[x]
                if prod is not None:
                    edges.setdefault((prod, task.id), []).append(x)
        return {k: tuple(v) for k, v in edges.items()}

    @cached_property
    def dependency_causes(self) -> dict[tuple[TaskId, TaskId], str]:
        """Every edge (a, b) of the task graph, barriers' self-loops included, with why b waits
        for a in words: "its output <tensor>", "after" or "barrier <i>" (the last one listed:
        inputs, then `after`, then barriers)."""
        causes: dict[tuple[TaskId, TaskId], str] = {}
        producer = self._producer
        for task in self._tasks:
            for x in task.inputs:
                prod = producer[x]
                if prod is not None:
                    causes[(prod, task.id)] = f"its output {x}"
            for a in task.after:
                causes[(a, task.id)] = "after"
        for i, barrier in enumerate(self._barriers):
            for b in barrier.before:
                for a in barrier.after:
                    causes[(b, a)] = f"barrier {i}"
        return causes

    @cached_property
    def _cause_succs(self) -> list[list[int]]:
        index = self.index
        succs: list[list[int]] = [[] for _ in range(self.n_tasks)]
        for a, b in self.dependency_causes:
            succs[index[a]].append(index[b])
        return succs

    @cached_property
    def cyclic_components(self) -> tuple[tuple[TaskId, ...], ...]:
        """The strongly connected components of the task graph with the barriers' self-loops that
        hold a cycle (several tasks, or one task that waits for itself), each in task order,
        ordered by their first task."""
        succs = self._cause_succs
        components = _strongly_connected(succs)
        out = []
        for comp in components:
            if len(comp) > 1 or comp[0] in succs[comp[0]]:
                out.append(sorted(comp))
        out.sort()
        return tuple(tuple(self.task_ids[i] for i in comp) for comp in out)

    def cycle_through(self, task: TaskId) -> list[TaskId]:
        """A shortest cycle from `task` back to itself (first and last element `task`), or []
        when `task` is on none."""
        index, ids, succs = self.index, self.task_ids, self._cause_succs
        start = index[task]
        parent: dict[int, int] = {}
        frontier = [start]
        while frontier:
            nxt = []
            for u in frontier:
                for v in succs[u]:
                    if v == start:
                        path = [u]
                        while path[-1] != start:
                            path.append(parent[path[-1]])
                        return [ids[start], *(ids[w] for w in reversed(path[:-1])), ids[start]]
                    if v not in parent:
                        parent[v] = u
                        nxt.append(v)
            frontier = nxt
        return []

    # --- groups ---

    @cached_property
    def group_root(self) -> tuple[int, ...]:
        """For every task, the first task (smallest index) of the tasks the groups tie to it
        (groups that share a task join); a task in no group is its own root."""
        sets = DisjointSets(range(self.n_tasks))
        index = self.index
        for group in self._groups:
            for a, b in pairwise(group):
                sets.union(index[a], index[b])
        return tuple(sets.roots())

    def intersect_over_groups(self, options: Mapping[TaskId, Iterable[T]]) -> dict[TaskId, set[T]]:
        """Each task's `options` narrowed to those every task tied to it by groups has (the tasks
        of a group share one core, so only their common cores remain)."""
        common: dict[int, set[T]] = {}
        root = self.group_root
        for i, t in enumerate(self.task_ids):
            r = root[i]
            common[r] = common[r] & set(options[t]) if r in common else set(options[t])
        return {t: set(common[root[i]]) for i, t in enumerate(self.task_ids)}


def source_memories(
    problem: Problem, cores: Mapping[TaskId, Iterable[CoreId]]
) -> dict[TensorId, set[MemoryId]]:
    """For every tensor, the memories it may first appear in: its home, or the memory of each
    core in `cores` its producer may run on (empty when the producer has none)."""
    out: dict[TensorId, set[MemoryId]] = {}
    for tensor in problem.tensors:
        if tensor.producer is None:
            assert tensor.home is not None  # guaranteed by reference_problems
            out[tensor.id] = {tensor.home}
        else:
            out[tensor.id] = {problem.memory_of(k) for k in cores[tensor.producer]}
    return out


def _strongly_connected(succs: Sequence[Sequence[int]]) -> list[list[int]]:
    """The strongly connected components of a graph on 0..n-1 (Tarjan, without recursion)."""
    n = len(succs)
    number = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in range(n):
        if number[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            v, k = work.pop()
            if k == 0:
                number[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if k < len(succs[v]):
                work.append((v, k + 1))
                w = succs[v][k]
                if number[w] < 0:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], number[w])
                continue
            if low[v] == number[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


__all__ = ["DisjointSets", "GraphFacts", "graph_facts", "source_memories", "topological_sort"]
