"""The placement engine all heuristics share: static checks, resources, one list-scheduling loop.

A heuristic is a priority order over tasks plus a rule that picks each task's core; this module
does the rest under the exact SPEC.md §4 semantics:

- one transfer per (tensor, destination memory), always from the tensor's source memory
  (its producer's memory or its home), over the route's links, in the earliest window in which
  every link is free and the destination memory has room;
- `store: true` tensors are sent to `dram` once produced, right after the next task has taken the
  links its inputs need (inputs are urgent, stores are not);
- memory holds as in §4.9: a produced copy from its producer's start, a transferred copy from
  its transfer's start, a home copy from 0, each until its last reader or outgoing transfer
  ends. While some reader is still unplaced a copy counts as held forever, so every placement
  is checked against an upper bound of the final memory profile and can never overflow it;
- a task whose memory cannot hold its new inputs and outputs waits (other ready tasks go first);
  if no ready task can be placed the heuristic stops and says which memory is full and why.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import networkx as nx

from cpsched.heuristics.timeline import IntervalTimeline, MemoryProfile, common_window
from cpsched.model.problem import (
    DRAM,
    CoreId,
    MemoryId,
    Problem,
    TaskId,
    TensorId,
    route_duration_cycles,
)
from cpsched.model.result import InfeasibilityReason, SolveResult
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer

Key = tuple[float, ...]


@dataclass
class Prepared:
    """What every heuristic needs to know about a problem before placing anything."""

    problem: Problem
    task_ids: list[TaskId]
    index: dict[TaskId, int]
    n_tasks: int
    preds: list[list[int]]  # nodes: tasks 0..n-1, then one node per barrier
    succs: list[list[int]]
    allowed: list[list[CoreId]]  # cores each task can run on, after the static checks
    group_of: list[int]  # union-find root over the explicit groups
    depth: list[int]  # longest chain of predecessors (tasks and barriers) before a task
    layer_depth: list[int]  # deepest task depth in the task's layer
    reasons: list[InfeasibilityReason] = field(default_factory=list)
    # transfer cycles by (size, src, dst), filled as needed and shared by every run
    transfer_cycles: dict[tuple[int, MemoryId, MemoryId], int] = field(default_factory=dict)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _union(parent: list[int], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def prepare(problem: Problem) -> Prepared:
    """Build the dependency graph and each task's usable cores; record static infeasibilities."""
    p = problem
    task_ids = [t.id for t in p.tasks]
    index = {tid: i for i, tid in enumerate(task_ids)}
    n = len(task_ids)
    n_nodes = n + len(p.barriers)
    preds: list[list[int]] = [[] for _ in range(n_nodes)]
    tensor_by_id = p.tensor_by_id
    for i, task in enumerate(p.tasks):
        seen: set[int] = set()
        for x in task.inputs:
            prod = tensor_by_id[x].producer
            if prod is not None and index[prod] not in seen:
                seen.add(index[prod])
                preds[i].append(index[prod])
        for a in task.after:
            if index[a] not in seen:
                seen.add(index[a])
                preds[i].append(index[a])
    for b, barrier in enumerate(p.barriers):
        node = n + b
        preds[node] = sorted({index[t] for t in barrier.before})
        for t in dict.fromkeys(barrier.after):
            preds[index[t]].append(node)
    succs: list[list[int]] = [[] for _ in range(n_nodes)]
    for v in range(n_nodes):
        for u in preds[v]:
            succs[u].append(v)

    reasons: list[InfeasibilityReason] = []

    # Topological order (Kahn) for depths and cycle detection.
    indeg = [len(ps) for ps in preds]
    order = [v for v in range(n_nodes) if indeg[v] == 0]
    head = 0
    while head < len(order):
        u = order[head]
        head += 1
        for v in succs[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
    depth_all = [0] * n_nodes
    for u in order:
        for v in succs[u]:
            if depth_all[u] + 1 > depth_all[v]:
                depth_all[v] = depth_all[u] + 1
    if len(order) < n_nodes:
        reasons.append(_cycle_reason(p, preds, n))

    allowed = [_usable_cores(p, i, reasons) for i in range(n)]

    parent = list(range(n))
    for group in p.groups:
        for first_id, other_id in itertools.pairwise(group):
            _union(parent, index[first_id], index[other_id])
    group_of = [_find(parent, i) for i in range(n)]
    common: dict[int, set[CoreId]] = {}
    for i in range(n):
        g = group_of[i]
        common[g] = set(allowed[i]) if g not in common else common[g] & set(allowed[i])
    for g, cores in common.items():
        if not cores:
            members = [task_ids[i] for i in range(n) if group_of[i] == g]
            reasons.append(
                InfeasibilityReason(
                    reason=f"the tasks of the group {_short_list(members)} have no usable core "
                    "in common",
                    resource=f"group of task {task_ids[g]}",
                    suggestion="give the group's tasks an option on one common core, or split it",
                )
            )
    for i in range(n):
        cores = common[group_of[i]]
        allowed[i] = [c for c in allowed[i] if c in cores]

    layer_max: dict[str, int] = {}
    for i, task in enumerate(p.tasks):
        layer_max[task.layer] = max(layer_max.get(task.layer, 0), depth_all[i])
    layer_depth = [layer_max[task.layer] for task in p.tasks]

    for m in p.memories:
        if m.capacity_bytes is None:
            continue
        homed = sum(t.size_bytes for t in p.tensors if t.producer is None and t.home == m.id)
        if homed > m.capacity_bytes:
            reasons.append(
                InfeasibilityReason(
                    reason=f"the tensors whose home is memory {m.id} do not fit in it at time 0",
                    resource=f"memory {m.id}",
                    demand=homed,
                    limit=m.capacity_bytes,
                    unit="bytes",
                    suggestion=f"give memory {m.id} more capacity or home some tensors elsewhere",
                )
            )
    for tensor in p.tensors:
        if (
            tensor.producer is None
            and tensor.store
            and tensor.home != DRAM
            and (tensor.home, DRAM) not in p.route_by_pair
        ):
            reasons.append(
                InfeasibilityReason(
                    reason=f"tensor {tensor.id} must be stored in dram but there is no route "
                    f"from {tensor.home} to dram",
                    resource=f"tensor {tensor.id}",
                    suggestion=f"add a route from {tensor.home} to dram",
                )
            )

    return Prepared(
        problem=p,
        task_ids=task_ids,
        index=index,
        n_tasks=n,
        preds=preds,
        succs=succs,
        allowed=allowed,
        group_of=group_of,
        depth=depth_all[:n],
        layer_depth=layer_depth,
        reasons=reasons,
    )


def _short_list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _cycle_reason(p: Problem, preds: list[list[int]], n: int) -> InfeasibilityReason:
    graph = nx.DiGraph()
    for v, ps in enumerate(preds):
        for u in ps:
            graph.add_edge(u, v)
    cycle = nx.find_cycle(graph)

    def name(v: int) -> str:
        return p.tasks[v].id if v < n else f"barrier {v - n}"

    path = " -> ".join([name(u) for u, _ in cycle] + [name(cycle[0][0])])
    return InfeasibilityReason(
        reason=f"the dependencies form a cycle: {path}",
        resource=f"task {name(cycle[0][0])}",
        suggestion="remove one dependency on the cycle (an input, an `after` entry or a barrier)",
    )


def _usable_cores(p: Problem, i: int, reasons: list[InfeasibilityReason]) -> list[CoreId]:
    """The option cores on which task i can possibly run, judged from the problem alone."""
    task = p.tasks[i]
    tensor_by_id = p.tensor_by_id
    in_bytes = sum(tensor_by_id[x].size_bytes for x in dict.fromkeys(task.inputs))
    out_bytes = sum(tensor_by_id[x].size_bytes for x in task.outputs)
    why: list[str] = []
    worst_fit: tuple[int, int, MemoryId] | None = None
    usable: list[CoreId] = []
    for opt in task.options:
        m = p.memory_of(opt.core)
        cap = p.memory_by_id[m].capacity_bytes
        if cap is not None and in_bytes + out_bytes > cap:
            if worst_fit is None or cap > worst_fit[1]:  # report the largest memory
                worst_fit = (in_bytes + out_bytes, cap, m)
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
    if not usable:
        if (
            worst_fit is not None
            and len(why) == len(task.options)
            and all("holds" in w for w in why)
        ):
            need, cap, m = worst_fit
            reasons.append(
                InfeasibilityReason(
                    reason=f"task {task.id} needs its inputs and outputs ({need} bytes) in one "
                    "memory at once, "
                    "and no memory of its cores is that large",
                    resource=f"task {task.id}",
                    demand=need,
                    limit=cap,
                    unit="bytes",
                    suggestion=f"give memory {m} at least {need} bytes, or tile layer "
                    f"{task.layer!r} finer",
                )
            )
        else:
            reasons.append(
                InfeasibilityReason(
                    reason=f"task {task.id} cannot run on any of its cores: " + "; ".join(why),
                    resource=f"task {task.id}",
                    suggestion="add an option on another core, or the missing routes",
                )
            )
    return usable


_RELEASE_SCAN_LIMIT = 32


class Blocked(Exception):
    """A task cannot be placed now on a core: why, in user terms, and the full memory if any.

    For a full memory the message is written only when asked for (see :meth:`Placer.why`):
    tasks are blocked often, and explained only when the heuristic gets stuck.
    """

    def __init__(
        self, message: str, memory: MemoryId | None = None, need_bytes: int = 0, what: str = ""
    ) -> None:
        super().__init__(message)
        self.memory = memory
        self.need_bytes = need_bytes
        self.what = what


class Placer:
    """The resources of one heuristic run and the schedule built so far."""

    def __init__(self, prep: Prepared, *, insertion: bool) -> None:
        p = prep.problem
        self.prep = prep
        self.p = p
        self.insertion = insertion
        self.tasks = p.tasks
        self.tensor = p.tensor_by_id
        self.mem_of: dict[CoreId, MemoryId] = {c.id: c.memory for c in p.cores}
        self.core_tl = {c.id: IntervalTimeline() for c in p.cores}
        self.link_tl = {lk.id: IntervalTimeline() for lk in p.links}
        self.route_links: dict[tuple[MemoryId, MemoryId], list[IntervalTimeline]] = {
            (r.src, r.dst): [self.link_tl[lk] for lk in r.links] for r in p.routes
        }
        self._route_objs = {(r.src, r.dst): [p.link_by_id[lk] for lk in r.links] for r in p.routes}
        self._dur_cache = prep.transfer_cycles
        self.mem = {
            m.id: MemoryProfile(m.capacity_bytes)
            for m in p.memories
            if m.capacity_bytes is not None
        }
        self.opt_dur: list[dict[CoreId, int]] = [
            {o.core: o.duration_cycles for o in t.options} for t in p.tasks
        ]
        self.avail: dict[tuple[TensorId, MemoryId], int] = {}
        self.last_use: dict[tuple[TensorId, MemoryId], int] = {}
        self.open_copies: dict[TensorId, list[MemoryId]] = {}
        self.closed: set[tuple[TensorId, MemoryId]] = set()
        # A task may list an input twice; it reads (and needs moved) one copy.
        self.inputs: list[tuple[TensorId, ...]] = [tuple(dict.fromkeys(t.inputs)) for t in p.tasks]
        self.readers: dict[TensorId, list[int]] = {
            x: [prep.index[r] for r in dict.fromkeys(rs)] for x, rs in p.consumers.items()
        }
        self.remaining: dict[TensorId, int] = {x: len(r) for x, r in self.readers.items()}
        all_mems = [frozenset(self.mem_of[c] for c in cores) for cores in prep.allowed]
        # Where each task may still run; the core rule narrows it (e.g. once a layer is pinned).
        self.possible_memories: Callable[[int], frozenset[MemoryId]] = all_mems.__getitem__
        n_nodes = len(prep.preds)
        self.end: list[int] = [0] * n_nodes
        self.core_of: list[CoreId | None] = [None] * prep.n_tasks
        self.start: list[int] = [0] * prep.n_tasks
        self.transfers: list[tuple[int, TensorId, MemoryId, MemoryId]] = []  # start, tensor, ..
        # Stores wait until the next task has taken the links it needs (stores are not urgent;
        # inputs are); a pending store keeps its tensor's copy held.
        self.pending_stores: list[tuple[TensorId, MemoryId, int]] = []
        for t in p.tensors:
            if t.producer is None:
                assert t.home is not None
                self._open_copy(t.id, t.home, 0, 0)
                if t.store and t.home != DRAM:
                    self._transfer(t.id, t.home, DRAM, 0)
                self._release_unneeded(t.id)

    # --- resources ---

    def duration(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> int:
        """Cycles of a transfer of `tensor` from `src` to `dst` (SPEC.md §3)."""
        size = self.tensor[tensor].size_bytes
        key = (size, src, dst)
        d = self._dur_cache.get(key)
        if d is None:
            d = route_duration_cycles(size, self._route_objs[(src, dst)])
            self._dur_cache[key] = d
        return d

    def source(self, tensor: TensorId) -> MemoryId:
        """The memory a tensor is produced in (or its home); its producer must be placed."""
        t = self.tensor[tensor]
        if t.producer is None:
            assert t.home is not None
            return t.home
        core = self.core_of[self.prep.index[t.producer]]
        assert core is not None
        return self.mem_of[core]

    def _open_copy(self, tensor: TensorId, m: MemoryId, hold_from: int, avail: int) -> None:
        self.avail[(tensor, m)] = avail
        self.open_copies.setdefault(tensor, []).append(m)
        prof = self.mem.get(m)
        if prof is not None:
            prof.add_from(hold_from, self.tensor[tensor].size_bytes)

    def flush_stores(self, keep_last: int = 0) -> None:
        """Place the pending stores except the `keep_last` newest ones, and release their copies."""
        n = len(self.pending_stores) - keep_last
        if n <= 0:
            return
        flushed, self.pending_stores = self.pending_stores[:n], self.pending_stores[n:]
        for x, m, end in flushed:
            self._transfer(x, m, DRAM, end)
        for x, _, _ in flushed:
            self._release_unneeded(x)

    def _release_unneeded(self, tensor: TensorId) -> None:
        """Release the copies of a tensor that no unplaced reader can still need (SPEC §4.9).

        A copy in memory m is needed while an unplaced reader may still run in m; the source copy
        also while an unplaced reader may run where there is no copy yet (it will be sent from
        there). A released copy is never used again, so readers then avoid that memory.
        """
        open_ms = self.open_copies.get(tensor)
        if not open_ms or any(x == tensor for x, _, _ in self.pending_stores):
            return
        keep: list[MemoryId] = []
        if self.remaining[tensor] > 0:
            if len(open_ms) == 1:
                return  # the source (every reader needs it) or, the source gone, the last copy
            if self.remaining[tensor] > _RELEASE_SCAN_LIMIT:
                return  # wide fan-out: keep every copy until few readers are left (cheap, safe)
            core_of = self.core_of
            waiting = [j for j in self.readers[tensor] if core_of[j] is None]
            possible = [self.possible_memories(j) for j in waiting]
            src = self.source(tensor)
            copies = frozenset(m for m in open_ms if m != src)
            src_needed = any(not ms <= copies for ms in possible)
            needed = frozenset().union(*possible)
            keep = [m for m in open_ms if (src_needed if m == src else m in needed)]
            if len(keep) == len(open_ms):
                return
        size = self.tensor[tensor].size_bytes
        for m in open_ms:
            if m in keep:
                continue
            key = (tensor, m)
            self.closed.add(key)
            prof = self.mem.get(m)
            if prof is not None:
                prof.add_from(self.last_use.get(key, self.avail[key]), -size)
        self.open_copies[tensor] = keep

    def _use(self, tensor: TensorId, m: MemoryId, end: int) -> None:
        key = (tensor, m)
        if self.last_use.get(key, -1) < end:
            self.last_use[key] = end

    def _transfer(self, tensor: TensorId, src: MemoryId, dst: MemoryId, not_before: int) -> int:
        """Place the transfer of `tensor` into `dst` as early as it fits; return its end."""
        d = self.duration(tensor, src, dst)
        t = max(not_before, self.avail[(tensor, src)])
        size = self.tensor[tensor].size_bytes
        prof = self.mem.get(dst)
        if prof is not None:
            fit = prof.earliest_fit(t, size)
            if fit is None:
                raise Blocked("", dst, size, f"a copy of tensor {tensor}")
            t = fit
        t = common_window(self.route_links[(src, dst)], t, d)
        for tl in self.route_links[(src, dst)]:
            tl.add(t, t + d)
        self._open_copy(tensor, dst, t, t + d)
        self._use(tensor, src, t + d)
        self.transfers.append((t, tensor, dst, src))
        return t + d

    def why(self, blocked: Blocked) -> str:
        """The message of a Blocked, written against the current state for a full memory."""
        if blocked.memory is None:
            return str(blocked)
        return self._full(blocked.memory, blocked.need_bytes, blocked.what)

    def _full(self, m: MemoryId, need: int, what: str) -> str:
        prof = self.mem[m]
        held = prof.held_forever()
        waiting = sorted(x for x, ms in self.open_copies.items() if m in ms)
        return (
            f"memory {m} ({prof.capacity_bytes} bytes) cannot hold {what} ({need} bytes): "
            f"{held} bytes are held by tensors still waiting for readers ({_short_list(waiting)})"
        )

    # --- tasks ---

    def dep_ready(self, i: int) -> int:
        """The time every predecessor (task or barrier) of task i has ended."""
        end = self.end
        return max((end[u] for u in self.prep.preds[i]), default=0)

    def core_free(self, core: CoreId, t: int, duration: int) -> int:
        """The earliest start >= t at which `core` can run `duration` cycles."""
        tl = self.core_tl[core]
        if self.insertion:
            return tl.earliest(t, duration)
        return max(t, tl.end())

    def quick_bound(self, i: int, core: CoreId, lb: int) -> int:
        """A lower bound of :meth:`estimate` that looks at no link (inputs sent at once)."""
        m = self.mem_of[core]
        ready = lb
        for x in self.inputs[i]:
            a = self.avail.get((x, m))
            if a is None:
                src = self.source(x)
                if (src, m) not in self.route_links:
                    continue  # estimate says None; rank puts such cores last
                a = self.avail[(x, src)] + self.duration(x, src, m)
            if a > ready:
                ready = a
        dur = self.opt_dur[i][core]
        return self.core_free(core, ready, dur) + dur

    def estimate(self, i: int, core: CoreId, lb: int) -> int | None:
        """Rough finish of task i on `core`: its transfers in turn on the links (memory ignored)."""
        m = self.mem_of[core]
        ready = lb
        moves: list[tuple[int, TensorId, MemoryId]] = []
        for x in self.inputs[i]:
            a = self.avail.get((x, m))
            if a is None:
                src = self.source(x)
                if (src, m) not in self.route_links:
                    return None
                moves.append((self.avail[(x, src)], x, src))
            elif a > ready:
                ready = a
        if moves:
            # The task's own transfers cannot share a link at the same time either.
            busy: dict[int, int] = {}
            moves.sort()
            for a, x, src in moves:
                links = self.route_links[(src, m)]
                d = self.duration(x, src, m)
                t = max([a] + [busy.get(id(tl), 0) for tl in links])
                t = common_window(links, t, d) + d
                for tl in links:
                    busy[id(tl)] = t
                if t > ready:
                    ready = t
        dur = self.opt_dur[i][core]
        return self.core_free(core, ready, dur) + dur

    def place(self, i: int, core: CoreId, lb: int) -> int:
        """Place task i on `core` no earlier than `lb`, with its transfers; return its end.

        Raises Blocked (having changed nothing) when a route is missing or the core's memory
        cannot hold the task's new inputs and outputs until some other copy is released.
        """
        task = self.tasks[i]
        m = self.mem_of[core]
        dur = self.opt_dur[i][core]
        tensor = self.tensor
        needed: list[tuple[int, TensorId, MemoryId]] = []
        for x in self.inputs[i]:
            if (x, m) in self.closed:
                raise Blocked(
                    f"task {task.id} cannot read tensor {x} in memory {m}: released there"
                )
            if (x, m) not in self.avail:
                src = self.source(x)
                if (src, m) not in self.route_links:
                    raise Blocked(
                        f"task {task.id} on core {core} needs tensor {x} from memory {src}, "
                        f"but there is no route from {src} to {m}"
                    )
                needed.append((self.avail[(x, src)], x, src))
        out_bytes = sum(tensor[x].size_bytes for x in task.outputs)
        prof = self.mem.get(m)
        if prof is not None:
            new_bytes = out_bytes + sum(tensor[x].size_bytes for _, x, _ in needed)
            if prof.held_forever() + new_bytes > prof.capacity_bytes:
                raise Blocked("", m, new_bytes, f"the new inputs and outputs of task {task.id}")
        dram = self.mem.get(DRAM)
        if dram is not None and m != DRAM:
            store_bytes = sum(tensor[x].size_bytes for x in task.outputs if tensor[x].store)
            pending = sum(tensor[x].size_bytes for x, _, _ in self.pending_stores)
            if dram.held_forever() + pending + store_bytes > dram.capacity_bytes:
                raise Blocked("", DRAM, store_bytes, f"the stored outputs of task {task.id}")
        ready = lb
        for x in self.inputs[i]:
            a = self.avail.get((x, m))
            if a is not None and a > ready:
                ready = a
        # Inputs move as early as their memory and links allow (measured against CP-SAT on
        # random problems, this beats sending them just in time for the core).
        needed.sort()
        for _, x, src in needed:
            arrival = self._transfer(x, src, m, 0)
            if arrival > ready:
                ready = arrival
        if prof is not None and out_bytes:
            fit = prof.earliest_fit(ready, out_bytes)
            assert fit is not None  # guaranteed by the held_forever check above
            ready = fit
        start = self.core_free(core, ready, dur)
        end = start + dur
        self.core_tl[core].add(start, end)
        self.core_of[i] = core
        self.start[i] = start
        self.end[i] = end
        for x in self.inputs[i]:
            self._use(x, m, end)
        for x in task.outputs:
            self._open_copy(x, m, start, end)
            if tensor[x].store and m != DRAM:
                self.pending_stores.append((x, m, end))
        for x in self.inputs[i]:
            self.remaining[x] -= 1
            self._release_unneeded(x)
        for x in task.outputs:
            self._release_unneeded(x)
        return end

    def schedule(self) -> Schedule:
        """The schedule built so far (every task must be placed)."""
        # Built without re-validating each field: the values come from the problem and the
        # validator checks the whole schedule before any heuristic returns it.
        tasks = []
        for i, t in enumerate(self.tasks):
            core = self.core_of[i]
            assert core is not None
            tasks.append(ScheduledTask.model_construct(id=t.id, core=core, start=self.start[i]))
        transfers = [
            ScheduledTransfer.model_construct(tensor=x, src=src, dst=dst, start=start)
            for start, x, dst, src in sorted(self.transfers)
        ]
        return Schedule(problem=self.p.name, tasks=tuple(tasks), transfers=tuple(transfers))


class UnitCores:
    """Core choice by units of tasks that must share a core (groups; for Stream, whole layers).

    The first task of a unit to be placed picks the core (a fixed allocation, or the one that
    finishes it earliest); the rest of the unit follows it.
    """

    def __init__(
        self,
        prep: Prepared,
        unit_of: Sequence[int],
        fixed: dict[int, CoreId] | None = None,
        banned: dict[int, set[MemoryId]] | None = None,
        load_aware: bool = False,
    ) -> None:
        self.prep = prep
        self.unit_of = unit_of
        self.fixed = fixed or {}
        self.pinned: dict[int, CoreId] = {}
        # With `load_aware`, a unit's first task also counts the work still owed by the units
        # already pinned to each core (their unplaced tasks), so whole layers spread out.
        self.load_aware = load_aware
        self.owed: dict[CoreId, int] = {c.id: 0 for c in prep.problem.cores}
        self.members: dict[int, list[int]] = {}
        for i, u in enumerate(unit_of):
            self.members.setdefault(u, []).append(i)
        unit_allowed: dict[int, set[CoreId]] = {}
        for i, cores in enumerate(prep.allowed):
            u = unit_of[i]
            unit_allowed[u] = set(cores) if u not in unit_allowed else unit_allowed[u] & set(cores)
        order = {c.id: k for k, c in enumerate(prep.problem.cores)}
        mem_of = {c.id: c.memory for c in prep.problem.cores}
        self.mem_of = mem_of
        for u, bans in (banned or {}).items():
            kept = {c for c in unit_allowed[u] if mem_of[c] not in bans}
            if kept:
                unit_allowed[u] = kept
        self.unit_cores = {u: sorted(cs, key=order.__getitem__) for u, cs in unit_allowed.items()}
        self.unit_mems = {u: frozenset(mem_of[c] for c in cs) for u, cs in self.unit_cores.items()}

    def possible_memories(self, i: int) -> frozenset[MemoryId]:
        """The memories task i may still run in."""
        u = self.unit_of[i]
        core = self.pinned.get(u) or self.fixed.get(i)
        if core is not None:
            return frozenset((self.mem_of[core],))
        return self.unit_mems[u]

    def rank(self, placer: Placer, i: int, lb: int) -> list[CoreId]:
        """Candidate cores for task i, best first."""
        u = self.unit_of[i]
        core = self.pinned.get(u)
        if core is not None:
            return [core]
        core = self.fixed.get(i)
        if core is not None:
            return [core]
        cores = self.unit_cores[u]
        if len(cores) <= 1:
            return list(cores)
        # Estimating is the costly part; a core that cannot even start the task in time to beat
        # the best estimate so far (ties go to the earlier core) is ranked by that bound alone.
        owed = self.owed if self.load_aware else dict.fromkeys(cores, 0)
        bounds = sorted((placer.quick_bound(i, c, lb) + owed[c], k, c) for k, c in enumerate(cores))
        scored: list[tuple[int, int, CoreId]] = []
        rest: list[CoreId] = []
        unreachable: list[CoreId] = []
        best: tuple[int, int] | None = None
        for bound, k, c in bounds:
            if best is not None and (bound, k) > best:
                rest.append(c)
                continue
            est = placer.estimate(i, c, lb)
            if est is None:
                unreachable.append(c)
            else:
                est += owed[c]
                scored.append((est, k, c))
                if best is None or (est, k) < best:
                    best = (est, k)
        scored.sort()
        return [c for _, _, c in scored] + rest + unreachable

    def placed(self, i: int, core: CoreId) -> None:
        """Pin task i's unit to the core it was placed on."""
        u = self.unit_of[i]
        if self.load_aware:
            durations = self.prep.problem.tasks
            if u not in self.pinned:
                for j in self.members[u]:
                    self.owed[core] += next(
                        o.duration_cycles for o in durations[j].options if o.core == core
                    )
            self.owed[core] -= next(
                o.duration_cycles for o in durations[i].options if o.core == core
            )
        self.pinned[u] = core


def merge_units(prep: Prepared, label: Sequence[object]) -> list[int]:
    """Units that join the explicit groups with all tasks of equal `label` (e.g. one layer),
    where their usable cores have one in common (otherwise that label's tasks stay apart)."""
    n = prep.n_tasks
    parent = list(prep.group_of)
    # Every task of a group has the group's common cores (see prepare).
    unit_allowed: dict[int, set[CoreId]] = {}
    by_label: dict[object, list[int]] = {}
    for i in range(n):
        unit_allowed.setdefault(parent[i], set(prep.allowed[i]))
        by_label.setdefault(label[i], []).append(i)
    for members in by_label.values():
        roots = {_find(parent, i) for i in members}
        if len(roots) < 2:
            continue
        common = set.intersection(*(unit_allowed[r] for r in roots))
        if common:
            first = min(roots)
            for r in roots:
                _union(parent, first, r)
            unit_allowed[_find(parent, first)] = common
    return [_find(parent, i) for i in range(n)]


@dataclass
class Outcome:
    """A heuristic's schedule, or why it has none."""

    schedule: Schedule | None
    message: str = ""
    reasons: list[InfeasibilityReason] = field(default_factory=list)
    proven_infeasible: bool = False
    placed: int = 0  # tasks placed before getting stuck
    split: list[TaskId] = field(default_factory=list)  # a task of every unit split to fit memory
    note: str = ""  # how the heuristic departed from its rule to find a schedule


def run_list_schedule(
    prep: Prepared,
    priority: Sequence[Key],
    unit_of: Sequence[int],
    *,
    insertion: bool,
    fixed: dict[int, CoreId] | None = None,
    stage_of: Sequence[int] | None = None,
    boost_at: int = 0,
    max_retries: int = 6,
    split_units: bool = False,
    load_aware: bool = False,
) -> Outcome:
    """List-schedule (see :func:`list_schedule_once`); when stuck on a full memory, retry with
    the stuck task ahead of its peers (a flag inserted at `boost_at` in its priority key) and with
    the units that fill the memory (and the stuck one) kept out of it, where they have another.
    With `split_units`, as a last resort, units larger than their explicit groups (whole layers)
    that fill the memory are split back into their groups, so their tiles may spread over several
    cores."""
    if prep.reasons:
        return Outcome(None, prep.reasons[0].reason, list(prep.reasons), proven_infeasible=True)
    unit_of = list(unit_of)
    split: list[int] = []  # first task of every unit split so far
    banned: dict[int, set[MemoryId]] = {}
    boosted: set[int] = set()
    first_message = ""
    keys = list(priority)
    best_placed = -1
    stalls = 0
    attempt = retries = 0
    while retries <= max_retries:  # splits do not count: there are finitely many
        attempt += 1
        cores = UnitCores(prep, unit_of, fixed, banned, load_aware=load_aware)
        outcome, placer, stuck = list_schedule_once(prep, keys, cores, insertion, stage_of)
        if outcome.schedule is not None or placer is None or stuck is None or stuck[1] is None:
            if attempt > 1 and outcome.schedule is None:
                outcome.message = first_message
            outcome.split = [prep.task_ids[i] for i in split]
            return outcome
        first_message = first_message or outcome.message
        task, memory = stuck[0], stuck[1]
        involved = {unit_of[task]}
        for x, ms in placer.open_copies.items():
            if memory in ms:
                involved.update(unit_of[j] for j in placer.readers[x] if placer.core_of[j] is None)
                producer = prep.problem.tensor_by_id[x].producer
                if producer is not None:
                    involved.add(unit_of[prep.index[producer]])
        if outcome.placed <= best_placed:
            stalls += 1
        best_placed = max(best_placed, outcome.placed)
        if stalls >= 2:  # two retries got no further: more of the same will not help
            if not (split_units and _split_units(prep, unit_of, involved, split)):
                break
            stalls, best_placed = 0, -1
            continue
        retries += 1
        # The stuck task and everything it waits for go first next time, ahead of other work
        # that would fill the memory meanwhile.
        grew = task not in boosted
        stack = [task]
        while stack:
            v = stack.pop()
            if v not in boosted:
                boosted.add(v)
                stack.extend(u for u in prep.preds[v] if u not in boosted)
        keys = [
            (*key[:boost_at], 0 if i in boosted else 1, *key[boost_at:])
            for i, key in enumerate(priority)
        ]
        for u in involved:
            if fixed and any(unit_of[i] == u for i in fixed):
                continue
            bans = banned.setdefault(u, set())
            if memory not in bans and cores.unit_mems[u] - bans - {memory}:
                bans.add(memory)
                grew = True
        if not grew and not (split_units and _split_units(prep, unit_of, involved, split)):
            break
    return Outcome(None, first_message)


def _split_units(prep: Prepared, unit_of: list[int], units: set[int], split: list[int]) -> bool:
    """Split every unit in `units` that joins several explicit groups back into those groups."""
    done = False
    for u in units:
        members = [i for i, v in enumerate(unit_of) if v == u]
        if len({prep.group_of[i] for i in members}) > 1:
            for i in members:
                unit_of[i] = prep.group_of[i]
            split.append(members[0])
            done = True
    return done


def list_schedule_once(
    prep: Prepared,
    priority: Sequence[Key],
    cores: UnitCores,
    insertion: bool,
    stage_of: Sequence[int] | None,
) -> tuple[Outcome, Placer | None, tuple[int, MemoryId | None] | None]:
    """Place ready tasks in priority order (smallest key first) on the cores `cores` ranks.

    `cores` ranks each task's candidate cores and is told where it went. With `stage_of`, tasks
    run in stages (e.g. layers): a task of stage k starts after every task of earlier stages ends.
    Returns the outcome, the resources, and the stuck task and its full memory if it got stuck.
    """
    try:
        placer = Placer(prep, insertion=insertion)
    except Blocked as exc:  # an input to be stored does not fit in a bounded dram
        message = f"stuck at the start: {exc.what} does not fit in memory {exc.memory}"
        return Outcome(None, message), None, None
    placer.possible_memories = cores.possible_memories
    n = prep.n_tasks
    preds, succs = prep.preds, prep.succs
    missing = [len(ps) for ps in preds]
    heap: list[tuple[Key, int]] = [(priority[i], i) for i in range(n) if missing[i] == 0]
    heapq.heapify(heap)
    deferred: list[tuple[Key, int, Blocked]] = []
    stage = -1
    stage_lb = 0
    placed_max_end = 0
    placed = 0
    while heap:
        key, i = heapq.heappop(heap)
        lb = placer.dep_ready(i)
        if stage_of is not None:
            if stage_of[i] != stage:
                if deferred and min(stage_of[d[1]] for d in deferred) < stage_of[i]:
                    break
                stage = stage_of[i]
                stage_lb = placed_max_end
            lb = max(lb, stage_lb)
        first: Blocked | None = None
        end = None
        before = 0
        for _ in range(2):
            before = len(placer.pending_stores)
            for core in cores.rank(placer, i, lb):
                try:
                    end = placer.place(i, core, lb)
                    cores.placed(i, core)
                    break
                except Blocked as exc:
                    first = first or exc
            if end is not None or not placer.pending_stores:
                break
            placer.flush_stores()  # placed stores release memory: try once more
            first = None
        if end is None:
            deferred.append(
                (key, i, first or Blocked(f"task {prep.task_ids[i]} has no usable core"))
            )
            continue
        placed += 1
        placed_max_end = max(placed_max_end, end)
        placer.flush_stores(keep_last=len(placer.pending_stores) - before)
        stack = [i]
        while stack:
            u = stack.pop()
            for v in succs[u]:
                missing[v] -= 1
                if missing[v] == 0:
                    if v >= n:  # a barrier: ends when all its `before` tasks have ended
                        placer.end[v] = max((placer.end[w] for w in preds[v]), default=0)
                        stack.append(v)
                    else:
                        heapq.heappush(heap, (priority[v], v))
        if deferred:
            for dkey, di, _ in deferred:
                heapq.heappush(heap, (dkey, di))
            deferred.clear()
    if placed < n:
        if deferred:
            _, i, blocked = min(deferred, key=lambda d: d[0])
            message = f"stuck: {placer.why(blocked)}"
            return Outcome(None, message, placed=placed), placer, (i, blocked.memory)
        return Outcome(None, "stuck: some tasks never became ready", placed=placed), placer, None
    placer.flush_stores()
    return Outcome(placer.schedule()), placer, None


def latency_cycles(problem: Problem, schedule: Schedule) -> int:
    """The latest end of any task or transfer (SPEC.md §5), from the problem's durations."""
    latest = 0
    for st in schedule.tasks:
        opt = problem.option(st.id, st.core)
        assert opt is not None
        latest = max(latest, st.start + opt.duration_cycles)
    for tr in schedule.transfers:
        latest = max(latest, tr.start + problem.transfer_duration_cycles(tr.tensor, tr.src, tr.dst))
    return latest


class InvalidHeuristicSchedule(AssertionError):
    """A heuristic built a schedule the validator rejects: a heuristic bug, not the user's."""


def to_result(
    problem: Problem, method: str, outcome: Outcome, started_s: float, params: dict[str, object]
) -> SolveResult:
    """Validate a heuristic's outcome and wrap it as a SolveResult (SPEC.md §6)."""
    if outcome.schedule is None:
        return SolveResult(
            method=method,
            status="infeasible" if outcome.proven_infeasible else "unknown",
            objective="latency",
            wall_time_s=time.perf_counter() - started_s,
            parameters=params,
            infeasibility=outcome.reasons,
            message=outcome.message,
        )
    from cpsched.check.validate import validate  # the validator shares no code with the heuristics

    violations = validate(problem, outcome.schedule)
    if violations:
        raise InvalidHeuristicSchedule(
            f"heuristic {method} built an invalid schedule for {problem.name!r}: "
            + "; ".join(v.message for v in violations[:5])
        )
    latency = latency_cycles(problem, outcome.schedule)
    return SolveResult(
        method=method,
        status="feasible",
        objective="latency",
        objective_value=float(latency),
        wall_time_s=time.perf_counter() - started_s,
        parameters=params,
        schedule=outcome.schedule,
        message=f"{method}: latency {latency} cycles"
        + (f" ({outcome.note})" if outcome.note else ""),
    )


__all__ = [
    "Blocked",
    "InvalidHeuristicSchedule",
    "Outcome",
    "Placer",
    "Prepared",
    "UnitCores",
    "latency_cycles",
    "merge_units",
    "prepare",
    "run_list_schedule",
    "to_result",
]
