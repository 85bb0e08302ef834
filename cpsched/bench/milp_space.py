"""The search space of the MILP peer, read from the problem alone (no solver, no ortools).

The peer searches the space the CP-SAT model documents (:mod:`cpsched.cpsat`, "Restricted search
space"): each task on one of its cores (tasks of a group on a common one); at most one transfer of
a tensor into each memory, always from the tensor's source memory (its producer's memory, or its
home), and only into a memory where a consumer may run (or into `dram` for a stored tensor). This
module works that space out from the public :class:`~cpsched.model.problem.Problem` on its own,
without CP-SAT's code: the milp suite compares two independent formulations, and a proven optimum
they disagree on points at a bug in one of them.

Also here: which tasks the precedences already order, the classes of interchangeable cores the
peer's symmetry breaking orders (with the relabelling that makes a start schedule obey it), and
cutting a schedule down to the space.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, Problem, TaskId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer


@dataclass(frozen=True)
class TransferOption:
    """A possible transfer of one tensor from one memory to another, with its duration."""

    tensor: TensorId
    src: MemoryId
    dst: MemoryId
    duration_cycles: int
    links: tuple[LinkId, ...]


@dataclass(frozen=True)
class MilpSpace:
    """Candidate cores, source and destination memories, and transfer options of a problem."""

    problem: Problem
    cores: dict[TaskId, tuple[CoreId, ...]]  # in problem order, each in core order
    sources: dict[TensorId, tuple[MemoryId, ...]]
    dests: dict[TensorId, tuple[MemoryId, ...]]
    transfers: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]]
    unroutable: tuple[tuple[TensorId, MemoryId, MemoryId], ...]  # source, destination, no route
    bounded: tuple[MemoryId, ...]  # memories with a capacity

    def duration(self, task: TaskId, core: CoreId) -> int:
        """Duration of `task` on `core` (which must be a candidate)."""
        option = self.problem.option(task, core)
        assert option is not None
        return option.duration_cycles

    def horizon_cycles(self) -> int:
        """An end time no schedule needs to pass: every task (at its longest) and every transfer
        (from its slowest source) one after another."""
        tasks = sum(max(self.duration(t, k) for k in ks) for t, ks in self.cores.items() if ks)
        moves = sum(max(o.duration_cycles for o in opts) for opts in self.transfers.values())
        return tasks + moves


def _common_cores(problem: Problem) -> dict[TaskId, tuple[CoreId, ...]]:
    """Each task's cores, cut to those every task of its group (groups chained) can use."""
    graph = nx.Graph()
    graph.add_nodes_from(t.id for t in problem.tasks)
    for group in problem.groups:
        graph.add_edges_from((group[0], other) for other in group[1:])
    own = {t.id: {o.core for o in t.options} for t in problem.tasks}
    common: dict[TaskId, set[CoreId]] = {}
    for members in nx.connected_components(graph):
        shared = set.intersection(*(own[t] for t in members))
        common.update(dict.fromkeys(members, shared))
    rank = {c.id: i for i, c in enumerate(problem.cores)}
    return {t.id: tuple(sorted(common[t.id], key=rank.__getitem__)) for t in problem.tasks}


def milp_space(problem: Problem) -> MilpSpace:
    """The search space of `problem` (see the module docstring)."""
    cores = _common_cores(problem)
    rank = {m.id: i for i, m in enumerate(problem.memories)}
    sources: dict[TensorId, tuple[MemoryId, ...]] = {}
    dests: dict[TensorId, tuple[MemoryId, ...]] = {}
    transfers: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]] = {}
    unroutable: list[tuple[TensorId, MemoryId, MemoryId]] = []
    for tensor in problem.tensors:
        if tensor.producer is None:
            assert tensor.home is not None
            src = {tensor.home}
        else:
            src = {problem.memory_of(k) for k in cores[tensor.producer]}
        dst = {problem.memory_of(k) for c in problem.consumers[tensor.id] for k in cores[c]}
        if tensor.store:
            dst.add(DRAM)
        sources[tensor.id] = tuple(sorted(src, key=rank.__getitem__))
        dests[tensor.id] = tuple(sorted(dst, key=rank.__getitem__))
        for m in dests[tensor.id]:
            options = []
            for s in sources[tensor.id]:
                if s == m:
                    continue
                route = problem.route_by_pair.get((s, m))
                if route is None:
                    unroutable.append((tensor.id, s, m))
                    continue
                duration = problem.transfer_duration_cycles(tensor.id, s, m)
                options.append(TransferOption(tensor.id, s, m, duration, route.links))
            if options:
                transfers[(tensor.id, m)] = tuple(options)
    bounded = tuple(m.id for m in problem.memories if m.capacity_bytes is not None)
    return MilpSpace(problem, cores, sources, dests, transfers, tuple(unroutable), bounded)


def ordered_pairs(problem: Problem) -> set[tuple[TaskId, TaskId]]:
    """Pairs (a, b) where the precedences (data, `after`, barriers) put b after a, directly or
    through others; empty when they form a cycle (then the MILP is infeasible anyway)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(t.id for t in problem.tasks)
    for task in problem.tasks:
        graph.add_edges_from((a, task.id) for a in task.after)
        for tensor_id in task.inputs:
            producer = problem.tensor_by_id[tensor_id].producer
            if producer is not None:
                graph.add_edge(producer, task.id)
    for barrier in problem.barriers:
        graph.add_edges_from((b, a) for b in barrier.before for a in barrier.after if a != b)
    if not nx.is_directed_acyclic_graph(graph):
        return set()
    return set(nx.transitive_closure_dag(graph).edges())


def in_space(space: MilpSpace, schedule: Schedule) -> Schedule:
    """`schedule` with only the transfers the space has (from the tensor's source memory into a
    memory where a consumer runs, or into `dram` for a stored tensor, the first of each); dropping
    the others keeps a valid schedule valid and never makes it slower."""
    p = space.problem
    core_of = {st.id: st.core for st in schedule.tasks}
    needed = {
        (tensor, p.memory_of(core_of[task.id]))
        for task in p.tasks
        if core_of.get(task.id) in p.core_by_id
        for tensor in task.inputs
    }
    needed |= {(tensor.id, DRAM) for tensor in p.tensors if tensor.store}
    kept: dict[tuple[TensorId, MemoryId], ScheduledTransfer] = {}
    for x in schedule.transfers:
        tensor = p.tensor_by_id.get(x.tensor)
        if tensor is None or (x.tensor, x.dst) not in needed or (x.tensor, x.dst) in kept:
            continue
        if tensor.producer is None:
            source = tensor.home
        elif core_of.get(tensor.producer) in p.core_by_id:
            source = p.memory_of(core_of[tensor.producer])
        else:
            continue
        if x.src == source != x.dst:
            kept[(x.tensor, x.dst)] = x
    return schedule.model_copy(update={"transfers": tuple(kept.values())})


# --- interchangeable cores ---


@dataclass(frozen=True)
class Swap:
    """Exchanging two cores, with the memories that exchange with them (private memories)."""

    cores: dict[CoreId, CoreId]
    memories: dict[MemoryId, MemoryId]


def swap_of(space: MilpSpace, a: CoreId, b: CoreId) -> Swap | None:
    """The exchange of cores `a` and `b` when it maps the problem onto itself, else None.

    Every task must have the same option on both (or on neither). Cores that share a memory
    then exchange alone; cores that each own a memory (not dram, holding no tensor's home) of the
    same capacity exchange with it, when the routes between the exchanged memories run over
    links that exchange as well (same bandwidth, latency and energy).
    """
    p = space.problem
    for t, cores in space.cores.items():
        if (a in cores) != (b in cores):
            return None
        if a in cores and p.option(t, a) != p.option(t, b).model_copy(update={"core": a}):  # type: ignore[union-attr]
            return None
    ma, mb = p.memory_of(a), p.memory_of(b)
    if ma == mb:
        return Swap({a: b, b: a}, {})
    if DRAM in (ma, mb) or p.memory_by_id[ma].capacity_bytes != p.memory_by_id[mb].capacity_bytes:
        return None
    if [c.id for c in p.cores if c.memory in (ma, mb)] not in ([a, b], [b, a]):
        return None
    if any(t.producer is None and t.home in (ma, mb) for t in p.tensors):
        return None
    sigma = {ma: mb, mb: ma}
    links: dict[LinkId, LinkId] = {}
    for route in p.routes:
        image = p.route_by_pair.get(
            (sigma.get(route.src, route.src), sigma.get(route.dst, route.dst))
        )
        if image is None or len(image.links) != len(route.links):
            return None
        for x, y in zip(route.links, image.links, strict=True):
            if links.setdefault(x, y) != y:
                return None
    if len(set(links.values())) != len(links):
        return None
    if any(
        p.link_by_id[x].model_copy(update={"id": y}) != p.link_by_id[y] for x, y in links.items()
    ):
        return None
    return Swap({a: b, b: a}, sigma)


def interchangeable_classes(space: MilpSpace) -> list[list[CoreId]]:
    """Classes of two or more cores any two of which exchange (:func:`swap_of`), in core order."""
    cores = [c.id for c in space.problem.cores]
    classes: list[list[CoreId]] = []
    placed: set[CoreId] = set()
    for i, a in enumerate(cores):
        if a in placed:
            continue
        cls = [a]
        for b in cores[i + 1 :]:
            if b not in placed and all(swap_of(space, x, b) is not None for x in cls):
                cls.append(b)
        if len(cls) > 1:
            classes.append(cls)
            placed.update(cls)
    return classes


def _apply(schedule: Schedule, swap: Swap) -> Schedule:
    k, m = swap.cores, swap.memories
    tasks = tuple(
        ScheduledTask(id=st.id, core=k.get(st.core, st.core), start=st.start)
        for st in schedule.tasks
    )
    transfers = tuple(
        ScheduledTransfer(
            tensor=x.tensor, src=m.get(x.src, x.src), dst=m.get(x.dst, x.dst), start=x.start
        )
        for x in schedule.transfers
    )
    return schedule.model_copy(update={"tasks": tasks, "transfers": transfers})


def in_first_use_order(
    space: MilpSpace, classes: list[list[CoreId]], schedule: Schedule
) -> Schedule:
    """`schedule` with interchangeable cores (and their memories) relabelled so that, in each
    class, the i-th core is first used (in problem order of the tasks) before the (i+1)-th: what
    the peer's symmetry breaking asks. Relabelling changes no time, metric or validity."""
    for cls in classes:
        tasks = [t for t, ks in space.cores.items() if cls[0] in ks]
        for i in range(len(cls)):
            core_of = {st.id: st.core for st in schedule.tasks}
            first_use = list(dict.fromkeys(core_of[t] for t in tasks if core_of.get(t) in cls))
            if i < len(first_use) and first_use[i] != cls[i]:
                swap = swap_of(space, first_use[i], cls[i])
                assert swap is not None
                schedule = _apply(schedule, swap)
    return schedule
