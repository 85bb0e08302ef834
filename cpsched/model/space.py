"""The search space every exact solver shares, worked out once from a problem (no solver here).

docs/results.md lets a solver search a smaller space than docs/validity.md allows. CP-SAT
(:mod:`cpsched.cpsat`) and the MILP peer (:mod:`cpsched.bench.milp_peer`) search this one, so
their proven optima must agree:

- each task on one of its candidate cores: its options, narrowed to those every task tied to it by
  groups has (the tasks of a group share one core), and to a pinned core where a solve pins one;
- at most one transfer of a tensor into each memory, always from the tensor's source memory
  (its producer's memory, or its home), and only into a memory where a consumer of the tensor
  may run (or into `dram` for a `store: true` tensor); never into the source memory itself;
- a task or transfer of zero duration never conflicts on a core or link (half-open intervals).

A solver may add multicast on top (CP-SAT does, the MILP peer does not): :attr:`Space.leaders`
says which transfer may ride along which other transfer of the same tensor from the same source,
so that the two are one transfer with both destinations (docs/results.md names the rule). CP-SAT
also stages (:func:`with_staging`, :func:`extend_space`): a transfer into a memory may leave from
a copy in that memory's backing store, itself moved in from the source; and it spills and
reloads (:func:`with_spill`): a second copy of a tensor in a memory that may overflow.

Every valid schedule that moves only needed tensors lies in this space (a second transfer into one
memory is a violation anyway, and an unneeded transfer only costs time, energy and memory), so an
optimum here is an optimum over all valid schedules for every objective cpsched offers;
:func:`in_space` cuts any schedule down to the space.

Also here, because both solvers break the same symmetry: which cores can be exchanged without
changing anything (:func:`interchangeable_classes`) and the relabelling that makes a schedule use
each class in order (:func:`in_first_use_order`). This module sits beside :mod:`.graph` rather
than in it: graph facts are about the dependencies alone, the space is about placements,
memories and routes as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Literal

from cpsched.model.graph import graph_facts, source_memories
from cpsched.model.problem import (
    DRAM,
    CoreId,
    LinkId,
    MemoryId,
    Problem,
    TaskId,
    TaskOption,
    TensorId,
)
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer

_SLOT = "_search_space"  # where the space with nothing pinned is cached in a problem's __dict__

CopyKind = Literal["source", "dest", "reload"]


@dataclass(frozen=True)
class TransferOption:
    """A possible transfer of one tensor from one memory to another, with its fixed costs."""

    tensor: TensorId
    src: MemoryId
    dst: MemoryId
    duration_cycles: int
    energy_pj: float
    links: tuple[LinkId, ...]


@dataclass(frozen=True)
class HeldCopy:
    """A copy of a tensor that a bounded memory may hold: where the tensor first appears
    (`source`: its producer's memory, or its home) or where a transfer may bring it (`dest`)."""

    tensor: TensorId
    memory: MemoryId
    kind: CopyKind
    size_bytes: int


# eq=False: a space compares by identity, so comparing two problems that each cache one does not
# compare the spaces, and through them the problems again
@dataclass(frozen=True, eq=False)
class Space:
    """Candidate cores, source and destination memories, and transfer options of a problem."""

    problem: Problem
    cores: dict[TaskId, tuple[CoreId, ...]]  # in problem order, each in core order
    sources: dict[TensorId, tuple[MemoryId, ...]]  # in memory order
    dests: dict[TensorId, tuple[MemoryId, ...]]  # in memory order
    # per (tensor, destination) that may be moved: one option per source with a route
    transfers: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]]
    unroutable: tuple[tuple[TensorId, MemoryId, MemoryId], ...]  # (tensor, source, dest), no route
    bounded: tuple[MemoryId, ...]  # memories with a capacity
    # the tasks each task waits for (data, `after`, barriers): the problem's graph facts
    predecessors: Mapping[TaskId, frozenset[TaskId]] = field(default_factory=dict)
    # staging (:func:`with_staging`): (tensor, m) -> m's backing store b, when `transfers[(tensor,
    # m)]` holds an option from b, out of the copy in b that a transfer from the source brings
    staging: Mapping[tuple[TensorId, MemoryId], MemoryId] = field(default_factory=dict)
    # reloads (:func:`with_spill`): (tensor, m) -> the options of a second transfer of the
    # tensor into m (from its source memory or from m's backing store), made after the first
    # copy in m is released
    reloads: Mapping[tuple[TensorId, MemoryId], tuple[TransferOption, ...]] = field(
        default_factory=dict
    )
    # spill stores (:func:`with_spill`): (tensor, b) where backing store b may hold a copy of the
    # tensor that reloads and first copies in other memories may leave from
    spill_stores: frozenset[tuple[TensorId, MemoryId]] = frozenset()
    base: Space | None = None  # the space this one extends (None: a space of its own)

    def from_copy_in(self, tensor: TensorId, src: MemoryId) -> bool:
        """Whether a transfer of `tensor` out of `src` reads a copy moved there (a staging copy,
        or a first copy spilled to its backing store) rather than the tensor's source copy."""
        return src not in self.sources[tensor]

    def duration(self, task: TaskId, core: CoreId) -> int:
        """Duration of `task` on `core` (which must be a candidate)."""
        opt = self.problem.option(task, core)
        assert opt is not None
        return opt.duration_cycles

    def min_duration(self, task: TaskId) -> int:
        """Shortest duration of `task` over its candidate cores (0 when it has none)."""
        out = self._min_durations.get(task)
        if out is None:
            out = self._min_durations[task] = min(
                (self.duration(task, k) for k in self.cores[task]), default=0
            )
        return out

    @cached_property
    def _min_durations(self) -> dict[TaskId, int]:
        return {}  # filled by min_duration, task by task

    def safe_horizon_cycles(self) -> int:
        """An end time no schedule of the space needs to pass: every task (at its longest) and
        every transfer and reload (from its slowest source) in a row.

        Cutting every idle stretch out of a schedule changes neither its validity, nor its energy,
        nor its memory peaks; what remains is at most this long.
        """
        total = sum(
            max((self.duration(t, k) for k in ks), default=0) for t, ks in self.cores.items()
        )
        for options in (*self.transfers.values(), *self.reloads.values()):
            total += max(o.duration_cycles for o in options)
        return total

    def cores_in(self, task: TaskId, memory: MemoryId) -> tuple[CoreId, ...]:
        """The candidate cores of `task` that work in `memory`, in core order."""
        return self._cores_in.get((task, memory), ())

    def readers_in(self, tensor: TensorId, memory: MemoryId) -> tuple[tuple[TaskId, CoreId], ...]:
        """The placements (consumer, core) that read `tensor` in `memory`: the copy is needed
        there exactly when one of them is chosen (or for a stored tensor in `dram`)."""
        return self._readers_in.get((tensor, memory), ())

    @cached_property
    def leaders(self) -> dict[tuple[TensorId, MemoryId, MemoryId], tuple[MemoryId, ...]]:
        """Per transfer option `(tensor, source, destination)` that may follow another in a
        multicast, the destinations it may follow (in memory order); empty without multicast links.

        Destination `d` may follow `lead` (both with a transfer option from `source`) when the
        route to `d` uses only links of the route to `lead`, every link of the route to `lead`
        is `multicast`, and the route to `d` has no more latency: the transfer to both then has
        exactly `lead`'s duration (docs/schedule.md) and `lead`'s energy. Where the two routes
        have the same links, only the earlier memory leads (symmetry). A group of destinations
        is one multicast of the space when one of them leads all others (:func:`group_leader`).
        """
        p = self.problem
        if not any(lk.multicast for lk in p.links):
            return {}
        mem_order = {m.id: i for i, m in enumerate(p.memories)}
        out: dict[tuple[TensorId, MemoryId, MemoryId], tuple[MemoryId, ...]] = {}
        stores: dict[TensorId, list[MemoryId]] = {}
        for x, b in self.spill_stores:
            stores.setdefault(x, []).append(b)
        for tensor in p.tensors:
            x = tensor.id
            for s in (*self.sources[x], *sorted(stores.get(x, ()))):
                ds = [
                    m
                    for m in self.dests[x]
                    if any(o.src == s for o in self.transfers.get((x, m), ()))
                ]
                for d in ds:
                    lead = tuple(
                        d2 for d2 in ds if d2 != d and _may_follow(p, x, s, d, d2, mem_order)
                    )
                    if lead:
                        out[(x, s, d)] = lead
        return out

    @cached_property
    def bounded_copies(self) -> tuple[HeldCopy, ...]:
        """Every copy a bounded memory may hold, tensor by tensor (empty tensors hold no bytes and
        are left out): its sources, then the destinations a transfer may reach."""
        bounded = set(self.bounded)
        out: list[HeldCopy] = []
        for tensor in self.problem.tensors:
            if tensor.size_bytes == 0:
                continue
            for s in self.sources[tensor.id]:
                if s in bounded:
                    out.append(HeldCopy(tensor.id, s, "source", tensor.size_bytes))
            for m in self.dests[tensor.id]:
                if m in bounded and (tensor.id, m) in self.transfers:
                    out.append(HeldCopy(tensor.id, m, "dest", tensor.size_bytes))
        return tuple(out)

    @cached_property
    def _cores_in(self) -> dict[tuple[TaskId, MemoryId], tuple[CoreId, ...]]:
        out: dict[tuple[TaskId, MemoryId], list[CoreId]] = {}
        for t, ks in self.cores.items():
            for k in ks:
                out.setdefault((t, self.problem.memory_of(k)), []).append(k)
        return {key: tuple(ks) for key, ks in out.items()}

    @cached_property
    def _readers_in(self) -> dict[tuple[TensorId, MemoryId], tuple[tuple[TaskId, CoreId], ...]]:
        p = self.problem
        out: dict[tuple[TensorId, MemoryId], list[tuple[TaskId, CoreId]]] = {}
        for tensor in p.tensors:
            for c in p.consumers[tensor.id]:
                for k in self.cores[c]:
                    out.setdefault((tensor.id, p.memory_of(k)), []).append((c, k))
        return {key: tuple(v) for key, v in out.items()}


def _may_follow(
    p: Problem,
    tensor: TensorId,
    src: MemoryId,
    dst: MemoryId,
    lead: MemoryId,
    mem_order: Mapping[MemoryId, int],
) -> bool:
    """Whether the transfer of `tensor` from `src` to `dst` may ride along the one to `lead`
    (:attr:`Space.leaders`)."""
    route, lead_route = p.route_by_pair[(src, dst)].links, p.route_by_pair[(src, lead)].links
    own, union = set(route), set(lead_route)
    if not own <= union or not all(p.link_by_id[lk].multicast for lk in union):
        return False
    if own == union and mem_order[lead] > mem_order[dst]:
        return False  # the same links: the earlier memory leads
    latency = sum(p.link_by_id[lk].latency_cycles for lk in route)
    lead_latency = sum(p.link_by_id[lk].latency_cycles for lk in lead_route)
    if latency > lead_latency:
        return False
    # the multicast's duration by docs/schedule.md: the least bandwidth of the union, plus the
    # largest route latency; it must be the leader's own
    bandwidth = min(Fraction(repr(p.link_by_id[lk].bandwidth_bytes_per_cycle)) for lk in union)
    size = p.tensor_by_id[tensor].size_bytes
    duration = math.ceil(Fraction(size) / bandwidth) + max(latency, lead_latency)
    return duration == p.transfer_duration_cycles(tensor, src, lead)


def group_leader(
    space: Space, tensor: TensorId, src: MemoryId, dsts: tuple[MemoryId, ...]
) -> MemoryId | None:
    """The destination that leads a multicast of `tensor` from `src` to `dsts` in the space
    (every other destination may follow it, :attr:`Space.leaders`), or None if none does."""
    for lead in dsts:
        if all(lead in space.leaders.get((tensor, src, d), ()) for d in dsts if d != lead):
            return lead
    return None


def search_space(problem: Problem, pinned: Mapping[TaskId, CoreId] | None = None) -> Space:
    """The search space of `problem`, with the tasks of `pinned` held to their cores.

    With nothing pinned, the space is computed on first use and cached on the problem (as
    :func:`~cpsched.model.graph.graph_facts` are), so every solver of one problem reads one
    space. Pinned cores must be among the task's options (callers check the ids).
    """
    if not pinned:
        space = problem.__dict__.get(_SLOT)
        if not isinstance(space, Space) or space.problem is not problem:
            space = _build(problem, {})
            problem.__dict__[_SLOT] = space
        return space
    return _build(problem, pinned)


def _build(problem: Problem, pinned: Mapping[TaskId, CoreId]) -> Space:
    order = {t.id: i for i, t in enumerate(problem.tasks)}
    cores: dict[TaskId, set[CoreId]] = {t.id: {o.core for o in t.options} for t in problem.tasks}
    for t, core in pinned.items():
        cores[t] = {core}
    facts = graph_facts(problem)
    cores = facts.intersect_over_groups(cores)
    core_order = {c.id: i for i, c in enumerate(problem.cores)}
    cand = {t: tuple(sorted(ks, key=core_order.__getitem__)) for t, ks in cores.items()}
    cand = {t.id: cand[t.id] for t in sorted(problem.tasks, key=lambda x: order[x.id])}

    sources: dict[TensorId, tuple[MemoryId, ...]] = {}
    dests: dict[TensorId, tuple[MemoryId, ...]] = {}
    transfers: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]] = {}
    unroutable: list[tuple[TensorId, MemoryId, MemoryId]] = []
    mem_order = {m.id: i for i, m in enumerate(problem.memories)}
    sources_of = source_memories(problem, cand)
    for tensor in problem.tensors:
        src = sources_of[tensor.id]
        dst: set[MemoryId] = {
            problem.memory_of(k) for c in problem.consumers[tensor.id] for k in cand[c]
        }
        if tensor.store:
            dst.add(DRAM)
        sources[tensor.id] = tuple(sorted(src, key=mem_order.__getitem__))
        dests[tensor.id] = tuple(sorted(dst, key=mem_order.__getitem__))
        for m in dests[tensor.id]:
            options: list[TransferOption] = []
            for s in sources[tensor.id]:
                if s == m:
                    continue
                route = problem.route_by_pair.get((s, m))
                if route is None:
                    unroutable.append((tensor.id, s, m))
                    continue
                options.append(
                    TransferOption(
                        tensor.id,
                        s,
                        m,
                        problem.transfer_duration_cycles(tensor.id, s, m),
                        problem.transfer_energy_pj(tensor.id, s, m),
                        route.links,
                    )
                )
            if options:
                transfers[(tensor.id, m)] = tuple(options)

    bounded = tuple(m.id for m in problem.memories if m.capacity_bytes is not None)
    return Space(
        problem, cand, sources, dests, transfers, tuple(unroutable), bounded, facts.predecessors
    )


def _staging_store(space: Space, tensor: TensorId, m: MemoryId) -> MemoryId | None:
    """The memory `tensor` may be staged in on its way into `m` (:func:`with_staging`), or None."""
    p = space.problem
    b = p.memory_by_id[m].backing
    sources = space.sources[tensor]
    if b is None or b == m or b in sources or (b, m) not in p.route_by_pair:
        return None
    last_hop = set(p.route_by_pair[(b, m)].links)
    for s in sources:
        if s == m or (s, b) not in p.route_by_pair:
            continue
        direct = p.route_by_pair.get((s, m))
        if direct is None or last_hop <= set(direct.links):
            return b
    return None


# The reloads and spill stores a restricted spill space keeps (:func:`with_spill`): (tensor,
# memory) keys of `Space.reloads` and of `Space.spill_stores`
Keep = frozenset[tuple[TensorId, MemoryId]]


def extend_space(
    space: Space, *, staging: bool, spill: bool = False, keep: Keep | None = None
) -> Space:
    """The space CP-SAT searches: `space` (or the space it extends) with staging
    (:func:`with_staging`) and spill and reload (:func:`with_spill`, restricted to `keep` when
    given) when asked; the same object for the same arguments."""
    base = space.base or space
    if not staging and not spill:
        return base
    cache = base.__dict__.setdefault("_extended", {})
    key = (staging, spill, keep)
    if key not in cache:
        out = with_staging(base) if staging else base
        cache[key] = with_spill(out, keep) if spill else out
    out = cache[key]
    assert isinstance(out, Space)
    return out


def may_overflow(space: Space) -> set[MemoryId]:
    """The bounded memories whose possible copies (:attr:`Space.bounded_copies`) do not all fit
    at once, each tensor counted once: a memory never holds two copies of one tensor at a time
    (SPEC rule 9), so a tensor that may be produced in it, moved into it or reloaded adds its
    size once."""
    held: dict[MemoryId, dict[TensorId, int]] = {}
    for copy in space.bounded_copies:
        held.setdefault(copy.memory, {})[copy.tensor] = copy.size_bytes
    return {
        m
        for m, sizes in held.items()
        if sum(sizes.values()) > (space.problem.memory_by_id[m].capacity_bytes or 0)
    }


def origin_copies(p: Problem, schedule: Schedule) -> set[tuple[TensorId, MemoryId]]:
    """The (tensor, memory) of every copy no transfer makes in `schedule`: home copies, and
    outputs in the memory of their producer's core."""
    core_of = {st.id: st.core for st in schedule.tasks}
    out: set[tuple[TensorId, MemoryId]] = set()
    for t in p.tensors:
        if t.producer is None and t.home is not None:
            out.add((t.id, t.home))
        elif t.producer is not None and core_of.get(t.producer) in p.core_by_id:
            out.add((t.id, p.memory_of(core_of[t.producer])))
    return out


def used_spills(space: Space, schedule: Schedule) -> Keep:
    """The reloads and spill stores of `space` that `schedule` (a schedule of the space, e.g. a
    projected hint) uses: a second copy of a tensor in a memory, a copy in a spill store."""
    seen = origin_copies(space.problem, schedule)
    used: set[tuple[TensorId, MemoryId]] = set()
    for x in sorted(schedule.transfers, key=lambda x: x.start):
        for d in x.dsts:
            key = (x.tensor, d)
            if key in seen and key in space.reloads:
                used.add(key)
            if key in space.spill_stores:
                used.add(key)
            seen.add(key)
    return frozenset(used)


def with_spill(space: Space, keep: Keep | None = None) -> Space:
    """`space` (with or without staging) with spill and reload: in a bounded memory `m` that may
    overflow (:func:`may_overflow`), a tensor a consumer may read there may get one reload copy,
    a second transfer into `m` made after its first copy there is released, from the tensor's
    source memory or from the copy in `m`'s backing store `b`; that copy may come from the source
    or from a spill, a transfer `m -> b` out of the first copy. A reload out of the source
    memory reads the source copy there (which is held until the reload ends, so that a reload
    of the tensor into the source memory itself comes after it); one out of `b` needs `b` to be
    a memory where the tensor gets no reload itself.
    Such a copy in a store (:attr:`Space.spill_stores`) may also make the first copy of the
    tensor in any other memory it has a route to: a reader on another core after the producer's
    copy was spilled, as the heuristics do. With `keep`, only the reloads and spill stores it
    names (:func:`used_spills`). Returns `space` itself when no memory may overflow."""
    p = space.problem
    full = may_overflow(space)
    if not full:
        return space
    routes = p.route_by_pair
    staged_out = {(x, b) for (x, _), b in space.staging.items()}

    def may_reload(x: TensorId, m: MemoryId) -> bool:
        # the first copy is read (or spilled) and the reload copy read after it: a copy first
        # moved in is worth reloading only for a second reader
        readers = len({c for c, _ in space.readers_in(x, m)})
        if m in space.sources[x]:
            return readers > 0
        return readers + ((x, m) in staged_out) > 1

    candidates = {
        (x, m)
        for x, ds in ((t.id, (*space.sources[t.id], *space.dests[t.id])) for t in p.tensors)
        for m in ds
        if m in full
        and p.tensor_by_id[x].size_bytes > 0
        and may_reload(x, m)
        and (keep is None or (x, m) in keep)
    }
    mem_order = {m.id: i for i, m in enumerate(p.memories)}
    dests = dict(space.dests)
    transfers = dict(space.transfers)
    reloads: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]] = {}
    stores: set[tuple[TensorId, MemoryId]] = set()

    def add_store(x: TensorId, m: MemoryId) -> MemoryId | None:
        """Make m's backing store b a destination of x, moved in from a source or spilled out
        of m's first copy; returns b, or None when it cannot be."""
        b = p.memory_by_id[m].backing
        if b is None or b in space.sources[x] or (x, b) in candidates:
            return None
        if keep is not None and (x, b) not in keep:
            return None
        into_b = [s for s in space.sources[x] if s != b and (s, b) in routes]
        spill = m not in space.sources[x] and (m, b) in routes
        if not (into_b or spill):
            return None
        stores.add((x, b))
        if b not in dests[x]:
            dests[x] = tuple(sorted((*dests[x], b), key=mem_order.__getitem__))
        known = transfers.get((x, b), ())
        have = {o.src for o in known}
        extra = [_option(p, x, s, b) for s in into_b if s not in have]
        if spill and m not in have:
            extra.append(_option(p, x, m, b))
        if extra:
            transfers[(x, b)] = (*known, *extra)
        return b

    for x, m in sorted(candidates, key=lambda k: (k[0], mem_order[k[1]])):
        # out of the source copy, even in a source memory that may itself get a reload: the
        # reload then reads the first copy there, held until it ends (the heuristics reload
        # from a source copy that a later reload replaces)
        options = [_option(p, x, s, m) for s in space.sources[x] if s != m and (s, m) in routes]
        b = p.memory_by_id[m].backing
        if b is not None and (b, m) in routes and add_store(x, m) == b:
            options.append(_option(p, x, b, m))
        if options:
            reloads[(x, m)] = tuple(options)
    # the producer's copy in a memory that may overflow may be spilled to the store, and the
    # tensor's first copies elsewhere made from there (a reader on another core after the
    # producer's copy has gone), as the heuristics do
    for tensor in p.tensors:
        x = tensor.id
        if tensor.size_bytes == 0 or not space.dests[x]:
            continue
        for s in space.sources[x]:
            if s in full and (x, s) not in candidates:
                add_store(x, s)
    if not reloads and not stores:
        return space
    for x, b in sorted(stores, key=lambda k: (k[0], mem_order[k[1]])):
        for d in space.dests[x]:
            if d == b or (b, d) not in routes:
                continue
            known = transfers.get((x, d), ())
            if all(o.src != b for o in known):
                transfers[(x, d)] = (*known, _option(p, x, b, d))
    order = {key: i for i, key in enumerate(space.transfers)}
    transfers = dict(sorted(transfers.items(), key=lambda kv: order.get(kv[0], len(order))))
    order_r = {t.id: i for i, t in enumerate(p.tensors)}
    reloads = dict(sorted(reloads.items(), key=lambda kv: (order_r[kv[0][0]], mem_order[kv[0][1]])))
    return replace(
        space,
        dests=dests,
        transfers=transfers,
        reloads=reloads,
        spill_stores=frozenset(stores),
        base=space.base or space,
    )


def with_staging(space: Space) -> Space:
    """`space` with staging: a transfer of a tensor into a memory `m` may also start from the
    copy in `m`'s backing store `b`, itself moved in from the tensor's source (one hop), where
    `b` is not a source memory of the tensor, routes source -> b and b -> m exist, and the route
    b -> m is part of the direct route source -> m (as GAP8's L2 -> L1 is of dram -> L1), or
    there is no direct route. `b` then becomes a destination of the tensor (its copy is needed
    when a transfer out of it is made). Returns `space` itself when nothing may be staged."""
    if space.base is not None:
        space = space.base
    p = space.problem
    staged: dict[tuple[TensorId, MemoryId], MemoryId] = {}
    for tensor in p.tensors:
        for m in space.dests[tensor.id]:
            b = _staging_store(space, tensor.id, m)
            if b is not None:
                staged[(tensor.id, m)] = b
    if not staged:
        return space
    mem_order = {m.id: i for i, m in enumerate(p.memories)}
    dests = dict(space.dests)
    transfers = dict(space.transfers)
    for (x, m), b in staged.items():
        if b not in dests[x]:
            dests[x] = tuple(sorted((*dests[x], b), key=mem_order.__getitem__))
        if (x, b) not in transfers:
            transfers[(x, b)] = tuple(
                _option(p, x, s, b) for s in space.sources[x] if (s, b) in p.route_by_pair
            )
        transfers[(x, m)] = (*transfers.get((x, m), ()), _option(p, x, b, m))
    order = {key: i for i, key in enumerate(space.transfers)}
    transfers = dict(sorted(transfers.items(), key=lambda kv: order.get(kv[0], len(order))))
    # a pair with no direct route stays in `unroutable`: its needed copy must then come from a
    # staged (or spilled) copy, which the model's constraint on those pairs allows and requires
    return replace(space, dests=dests, transfers=transfers, staging=staged, base=space)


def _option(p: Problem, tensor: TensorId, src: MemoryId, dst: MemoryId) -> TransferOption:
    return TransferOption(
        tensor,
        src,
        dst,
        p.transfer_duration_cycles(tensor, src, dst),
        p.transfer_energy_pj(tensor, src, dst),
        p.route_by_pair[(src, dst)].links,
    )


def in_space(space: Space, schedule: Schedule, multicast: bool = False) -> Schedule:
    """`schedule` with only the transfers the space has (from the tensor's source memory into a
    memory where a consumer runs, or into `dram` for a stored tensor, the first of each); dropping
    the others keeps a valid schedule valid and never makes it slower.

    With `multicast`, a multicast from the source memory keeps its destinations the space has
    when one of them leads the others (:func:`group_leader`; it comes first in `dst`, the others
    in memory order); a multicast it cannot keep is dropped (which leaves its readers without
    their input). Without it, every multicast is dropped, as it is outside the unicast space.
    Fewer destinations only shorten a transfer and free links and memory, so a valid schedule
    stays valid. A transfer with a given rate is kept (without it) when the rate is its full
    rate, the least bandwidth of the links it uses, and dropped when slower.

    With staging in the space (:func:`with_staging`), a transfer into a memory `m` from `m`'s
    staging store `b` is kept too, and with it the transfer from the source into `b`; a copy in
    `b` that no kept transfer leaves from (and no consumer reads) is not moved. With reloads
    (:func:`with_spill`), transfers are taken in order of start: a second transfer into a memory
    the space reloads into is kept as its reload when it leaves from the source copy or from a
    kept copy in the backing store, and a spill (a transfer out of a first copy moved in, into
    the backing store) is kept; a third transfer into one memory is dropped. A first copy out of
    a kept copy in a spill store (:attr:`Space.spill_stores`) is kept like one out of the source.
    """
    p = space.problem
    mem_order = {m.id: i for i, m in enumerate(p.memories)}
    core_of = {st.id: st.core for st in schedule.tasks}
    needed = {
        (tensor, p.memory_of(core_of[task.id]))
        for task in p.tasks
        if core_of.get(task.id) in p.core_by_id
        for tensor in task.inputs
    }
    needed |= {(tensor.id, DRAM) for tensor in p.tensors if tensor.store}
    source_of: dict[TensorId, MemoryId] = {}
    for tensor in p.tensors:
        if tensor.producer is None:
            assert tensor.home is not None
            source_of[tensor.id] = tensor.home
        elif core_of.get(tensor.producer) in p.core_by_id:
            source_of[tensor.id] = p.memory_of(core_of[tensor.producer])
    staging = {
        (x, b) for (x, m), b in space.staging.items() if (x, m) in needed and b != source_of.get(x)
    }
    spill_to = {(x, b) for x, b in space.spill_stores if b != source_of.get(x)}
    wanted = needed | staging | spill_to
    seen: set[tuple[TensorId, MemoryId]] = set()
    reloaded: set[tuple[TensorId, MemoryId]] = set()
    kept: list[ScheduledTransfer] = []
    left: set[tuple[TensorId, MemoryId]] = set()  # moved copies a kept transfer leaves from
    moves = schedule.transfers
    if space.reloads:  # the first transfer into a memory in time makes the first copy
        moves = tuple(sorted(moves, key=lambda x: x.start))
    for x in moves:
        if x.multicast and not multicast:
            continue  # outside the space: one destination (or a multicast)
        if x.rate_bytes_per_cycle is not None:
            if not _at_full_rate(p, x):
                continue  # outside the space: every transfer at its full rate
            x = x.model_copy(update={"rate_bytes_per_cycle": None})
        source = source_of.get(x.tensor)
        if source is None:
            continue
        d = x.dsts[0]
        if (
            not x.multicast
            and (x.tensor, d) in space.reloads
            and ((x.tensor, d) in seen or d == source)
        ):
            # a second copy: the reload, out of the source copy or a kept copy in the store
            if (
                (x.tensor, d) not in reloaded
                and any(o.src == x.src for o in space.reloads[(x.tensor, d)])
                # out of the source copy, or out of a copy moved into a memory the tensor
                # cannot originate in (the model reads a reload out of a memory it may
                # originate in as leaving from the source copy there)
                and (
                    x.src == source
                    or (space.from_copy_in(x.tensor, x.src) and (x.tensor, x.src) in seen)
                )
                and (x.tensor, x.src) not in reloaded  # (it would read the reload copy there)
            ):
                reloaded.add((x.tensor, d))
                left.add((x.tensor, x.src))
                kept.append(x)
            continue
        if x.src != source:
            if (
                not x.multicast
                and (x.tensor, x.src) in staging
                and space.staging.get((x.tensor, d)) == x.src
                and (x.tensor, d) in needed
                and d != source
                and (x.tensor, d) not in seen
            ):
                seen.add((x.tensor, d))
                left.add((x.tensor, x.src))
                kept.append(x)
            elif (
                not x.multicast
                and (x.tensor, d) in spill_to
                and any(o.src == x.src for o in space.transfers.get((x.tensor, d), ()))
                and space.from_copy_in(x.tensor, x.src)  # (the model reads a transfer out of
                # a memory the tensor may originate in as leaving from the source copy)
                and (x.tensor, x.src) in seen
                and p.memory_by_id[x.src].backing == d
                and (x.tensor, d) not in seen
            ):
                seen.add((x.tensor, d))  # a spill out of the first copy
                kept.append(x)
                continue
            if (x.tensor, x.src) not in space.spill_stores or (x.tensor, x.src) not in seen:
                continue
            # first copies out of a spilled copy in a store: as out of the source, below
            left.add((x.tensor, x.src))
        dsts = tuple(
            sorted(
                (
                    d
                    for d in dict.fromkeys(x.dsts)
                    if (x.tensor, d) in wanted and d not in (source, x.src)
                ),
                key=lambda d: mem_order.get(d, len(mem_order)),
            )
        )
        dsts = tuple(d for d in dsts if (x.tensor, d) not in seen)
        if not dsts:
            continue
        lead = dsts[0] if len(dsts) == 1 else group_leader(space, x.tensor, x.src, dsts)
        if lead is None:
            continue
        rest = tuple(d for d in dsts if d != lead)
        seen.update((x.tensor, d) for d in dsts)
        if rest:
            kept.append(x.model_copy(update={"dst": (lead, *rest)}))
        elif x.multicast:
            kept.append(x.model_copy(update={"dst": lead}))
        else:
            kept.append(x)
    unused = (staging | spill_to) - needed - left
    if unused:
        kept = [x for x in kept if not any((x.tensor, d) in unused for d in x.dsts)]
    return schedule.model_copy(update={"transfers": tuple(kept)})


def _at_full_rate(p: Problem, x: ScheduledTransfer) -> bool:
    """Whether `x`'s given rate is the least bandwidth of the links its routes use (exactly)."""
    links: set[LinkId] = set()
    for d in x.dsts:
        route = p.route_by_pair.get((x.src, d))
        if route is None:
            return False
        links.update(route.links)
    if not links or x.rate_bytes_per_cycle is None:
        return False
    full = min(Fraction(repr(p.link_by_id[lk].bandwidth_bytes_per_cycle)) for lk in links)
    return Fraction(repr(x.rate_bytes_per_cycle)) == full


# --- interchangeable cores ---


@dataclass(frozen=True)
class Swap:
    """Exchanging two cores, with the memories that exchange with them (private memories)."""

    cores: dict[CoreId, CoreId]
    memories: dict[MemoryId, MemoryId]


def _same_but_core(a: TaskOption | None, b: TaskOption | None) -> bool:
    """Whether option `b` is option `a` but for its core (`a == b` with `b`'s core set to `a`'s,
    without making that copy)."""
    assert b is not None
    if a is None:
        return False
    return type(a) is type(b) and a.__dict__ == {**b.__dict__, "core": a.core}


def swap_of(space: Space, a: CoreId, b: CoreId) -> Swap | None:
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
        if a in cores and not _same_but_core(p.option(t, a), p.option(t, b)):
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


def interchangeable_classes(space: Space) -> list[list[CoreId]]:
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


def apply_swap(schedule: Schedule, swap: Swap) -> Schedule:
    """`schedule` with the cores and memories of `swap` exchanged (times unchanged)."""
    k, m = swap.cores, swap.memories
    tasks = tuple(
        ScheduledTask(id=st.id, core=k.get(st.core, st.core), start=st.start)
        for st in schedule.tasks
    )
    transfers = tuple(
        ScheduledTransfer(
            tensor=x.tensor,
            src=m.get(x.src, x.src),
            dst=tuple(m.get(d, d) for d in x.dsts) if x.multicast else m.get(x.dsts[0], x.dsts[0]),
            start=x.start,
            rate_bytes_per_cycle=x.rate_bytes_per_cycle,
        )
        for x in schedule.transfers
    )
    return schedule.model_copy(update={"tasks": tasks, "transfers": transfers})


def class_tasks(space: Space, cls: list[CoreId]) -> list[TaskId]:
    """The tasks (in problem order) that may run on the cores of an interchangeable class (all of
    them or none, by :func:`swap_of`)."""
    return [t for t, ks in space.cores.items() if cls[0] in ks]


def in_first_use_order(space: Space, classes: list[list[CoreId]], schedule: Schedule) -> Schedule:
    """`schedule` with interchangeable cores (and their memories) relabelled so that, in each
    class, the i-th core is first used (in problem order of the tasks) before the (i+1)-th: what
    first-use symmetry breaking asks. Relabelling changes no time, metric or validity."""
    for cls in classes:
        tasks = class_tasks(space, cls)
        for i in range(len(cls)):
            core_of = {st.id: st.core for st in schedule.tasks}
            first_use = list(dict.fromkeys(core_of[t] for t in tasks if core_of.get(t) in cls))
            if i < len(first_use) and first_use[i] != cls[i]:
                swap = swap_of(space, first_use[i], cls[i])
                assert swap is not None
                schedule = apply_swap(schedule, swap)
    return schedule


__all__ = [
    "CopyKind",
    "HeldCopy",
    "Space",
    "Swap",
    "TransferOption",
    "apply_swap",
    "class_tasks",
    "extend_space",
    "group_leader",
    "in_first_use_order",
    "in_space",
    "interchangeable_classes",
    "may_overflow",
    "origin_copies",
    "search_space",
    "swap_of",
    "used_spills",
    "with_spill",
    "with_staging",
]
