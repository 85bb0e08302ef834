"""Lower bounds on start times, tails and the makespan, worked out before search (no ortools).

Every number here is a bound that holds in every schedule of the search space
(:mod:`cpsched.cpsat.space`), so adding it to the model never cuts off a valid schedule:

- **heads** `head[t, k]`: task `t` on core `k` starts no earlier than the arrival of each input
  in `k`'s memory (its producer's earliest end plus, when the producer cannot run in that
  memory, the shortest transfer into it) and no earlier than the transfers it needs can pass a
  shared link one after another (inputs that no candidate source can provide in `k`'s memory
  must each be moved in; on a link every route to that memory uses, they take turns; a transfer
  starts no earlier than its tensor is produced);
- **tails** `tail[t, k]`: after `t` ends on `k`, the makespan still has to cover the store of each
  stored output into DRAM and, for each successor, the shortest way on to it (a transfer when it
  runs in another memory, then its duration and its own tail);
- **energy bound**: the tasks whose heads are all at least `a` and tails at least `b` run inside
  `[a, makespan - b)` on the cores they can use, so the makespan is at least `a + b` plus their
  least total work divided by the number of those cores (an energetic bound of the cumulative
  over cores, with heads and tails that the model alone does not see);
- **link bound**: a link that every route from a source to every consumer's memory crosses must
  carry one transfer of that tensor; these unavoidable transfers take turns on it, after their
  earliest release and before their tail;
- **core idle bound**: with `u` cores used, `u * makespan >= sum of first starts + sum of
  (makespan - last end) + total work`. A core that alone uses its memory starts with a task whose
  inputs must all be moved in (none can be produced in place before the first task), and those
  transfers into different memories take turns on a shared link: sorted by first start, the
  j-th core's first start is at least the transfer time of the first j cores' inputs on that
  link. Symmetrically after the last task, whose outputs must all move out. The least sums are
  found by a small dynamic programme over the options of every core (a relaxation). With
  `union_inputs`, the j-th first start is also at least the least work of the union of the
  first inputs of j different tasks, each tensor counted once (:func:`first_input_positions`);
- **port heads and tails** (`port_heads`): the inputs of a task's ancestors that must cross a
  link (the DRAM port) queue there before the task starts, and the stores of its descendants
  after it ends; per link a one-machine bound with heads and tails (:func:`compute_heads`).

With multicast (:attr:`cpsched.model.space.Space.leaders`) a transfer that follows another uses
no link, but its leader uses every link of the follower's route, over the same interval, for at
least the follower's own duration, and carries the same tensor. So the heads, tails and link
bound stay valid: they count one transfer per tensor on a link, the inputs of one task are
different tensors, and a follower's copy arrives no earlier than its own route would bring it.
Only the core idle bound counted one tensor's transfer once per core (each core's first inputs
on a shared link): a tensor a multicast may deliver to several memories counts in the heads but
not in those link sums (`shared`), and once in the union of :func:`first_input_positions`.

With shared bandwidth (:class:`cpsched.cpsat.space.LinkShares`) transfers on a `bandwidth` link
may overlap, so "take turns" becomes energetic: a transfer of duration `d` at rate `r` on a link
of bandwidth `B` takes `r * d / B` link-cycles of its capacity (its *work*; `d` when it takes the
whole link), and transfers that must all run inside `[a, b)` have work at most `b - a`. Every
sum of durations on a link above is a sum of works, rounded up once at the end (times are
integers), so the heads, the link bound and the core idle bound stay valid; where every transfer
takes the whole link they are exactly the serial bounds.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

from cpsched.cpsat.space import LinkShares, Space
from cpsched.model.graph import graph_facts
from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, TaskId, TensorId

_T = TypeVar("_T")

INFINITY = 1 << 62  # a head or tail that no placement reaches (the placement is infeasible)

Work = int | Fraction  # link-cycles of a link's capacity a transfer takes (module docstring)


@dataclass(frozen=True)
class StaticBounds:
    """Heads and tails per (task, candidate core), and constant lower bounds on the makespan."""

    head: dict[tuple[TaskId, CoreId], int]
    tail: dict[tuple[TaskId, CoreId], int]
    energy_cycles: int  # cumulative over cores with heads and tails
    link_cycles: int  # unavoidable transfers on the busiest link
    core_idle_cycles: int = 0  # cores idle until their first inputs arrive, after their last output
    idle: IdleProfile | None = None  # what the core idle bound knows of the cores' two ends

    def task_head(self, t: TaskId, cores: tuple[CoreId, ...]) -> int:
        """The least head of `t` over its candidate cores."""
        return min((self.head[(t, k)] for k in cores), default=0)

    def task_tail(self, t: TaskId, cores: tuple[CoreId, ...]) -> int:
        """The least tail of `t` over its candidate cores."""
        return min((self.tail[(t, k)] for k in cores), default=0)

    @property
    def makespan_cycles(self) -> int:
        """The best constant lower bound on the makespan."""
        return max(self.energy_cycles, self.link_cycles, self.core_idle_cycles)


def _route_links(space: Space, src: MemoryId, dst: MemoryId) -> tuple[LinkId, ...] | None:
    route = space.problem.route_by_pair.get((src, dst))
    return None if route is None else route.links


class _Moves:
    """Transfer durations of one space (the problem caches them by size and route), and the
    moves, ways and works they give, each worked out once (the returned values are shared:
    never change them)."""

    def __init__(self, space: Space, shares: LinkShares | None = None) -> None:
        self.space = space
        self.shares = shares or LinkShares(space.problem)
        self.stores: dict[TensorId, list[MemoryId]] = defaultdict(list)
        for x, b in sorted(space.spill_stores):
            self.stores[x].append(b)
        self._into: dict[tuple[TensorId, MemoryId, MemoryId], int] = {}
        self._moves: dict[tuple[TensorId, MemoryId, MemoryId], int] = {}
        self._paths: dict[
            tuple[TensorId, tuple[MemoryId, ...], MemoryId, bool], list[dict[LinkId, Work]]
        ] = {}
        self._works: dict[tuple[TensorId, MemoryId, MemoryId], dict[LinkId, Work]] = {}
        # a route's works depend on the tensor only through its size and the leaders it may
        # follow: one dict per (size, src, dst, leaders), shared by every tensor that has them
        self._works_by_size: dict[
            tuple[int, MemoryId, MemoryId, tuple[MemoryId, ...]], dict[LinkId, Work]
        ] = {}
        self._commons: dict[
            tuple[TensorId, tuple[MemoryId, ...], MemoryId, bool], dict[LinkId, Work]
        ] = {}
        # shortest chains of transfers depend on the tensor only through its size
        self._dists: dict[tuple[int, MemoryId], dict[MemoryId, int]] = {}
        # moves (and, without multicast, ways and their common works) depend on the tensor only
        # through its size, its staging store at the destination and its spill stores (its
        # `_kind`): worked out once per kind, shared by every tensor of that kind
        self._size = {x.id: x.size_bytes for x in space.problem.tensors}
        self._stores_t = {x: tuple(bs) for x, bs in self.stores.items()}
        self._by_kind = not space.leaders  # ways also depend on the leaders a tensor may follow
        self._moves_of_kind: dict[tuple[object, ...], int] = {}
        self._paths_of_kind: dict[tuple[object, ...], list[dict[LinkId, Work]]] = {}
        self._commons_of_kind: dict[tuple[object, ...], dict[LinkId, Work]] = {}
        self._outs_of_kind: dict[tuple[object, ...], dict[LinkId, Work]] = {}
        self._routes = space.problem.route_by_pair
        self._stores_of = {x: set(bs) for x, bs in self.stores.items()}
        self._next: dict[MemoryId, list[MemoryId]] = defaultdict(list)
        for a, c in space.problem.route_by_pair:
            if a != c:
                self._next[a].append(c)

    def _kind(self, tensor: TensorId, dst: MemoryId) -> tuple[object, ...]:
        """What a move or way of `tensor` into `dst` depends on besides its sources."""
        return (
            self._size[tensor],
            self.space.staging.get((tensor, dst)),
            self._stores_t.get(tensor, ()),
        )

    def _into_store(self, tensor: TensorId, src: MemoryId, b: MemoryId) -> int:
        """Least time to have `tensor` from `src` in spill store `b` by any chain of transfers
        (shortest path over the routes, each hop its full-rate duration): whatever way a copy
        reached the store, it is no faster."""
        key = (tensor, src, b)
        if key not in self._into:
            p = self.space.problem
            size_key = (p.tensor_by_id[tensor].size_bytes, src)
            dist = self._dists.get(size_key)
            if dist is None:
                dist = self._dists[size_key] = {src: 0}
                heap = [(0, src)]
                while heap:
                    d, a = heapq.heappop(heap)
                    if d > dist.get(a, INFINITY):
                        continue
                    for c in self._next.get(a, ()):
                        nd = d + p.transfer_duration_cycles(tensor, a, c)
                        if nd < dist.get(c, INFINITY):
                            dist[c] = nd
                            heapq.heappush(heap, (nd, c))
            for m, d in dist.items():
                if m in self._stores_of.get(tensor, ()):
                    self._into[(tensor, src, m)] = d
            self._into.setdefault(key, INFINITY)
        return self._into[key]

    def transfer(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> int:
        """Duration of a transfer over the route from `src` to `dst` (which must exist)."""
        return self.space.problem.transfer_duration_cycles(tensor, src, dst)

    def move(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> int:
        """Shortest time to have `tensor` from `src` in `dst` (0 in place, INFINITY: no route),
        directly or staged through `dst`'s staging store (two transfers in a row)."""
        if src == dst:
            return 0
        key = (tensor, src, dst)
        best = self._moves.get(key)
        if best is None:
            kind = (self._kind(tensor, dst), src, dst)
            best = self._moves_of_kind.get(kind)
            if best is None:
                best = self._moves_of_kind[kind] = self._move(tensor, src, dst)
            self._moves[key] = best
        return best

    def _move(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> int:
        best = INFINITY
        routes = self._routes
        if (src, dst) in routes:
            best = self.transfer(tensor, src, dst)
        b = self.space.staging.get((tensor, dst))
        if b is not None and b != src and (src, b) in routes:
            best = min(best, self.transfer(tensor, src, b) + self.transfer(tensor, b, dst))
        for b in self.stores.get(tensor, ()):  # through a spilled copy
            if b not in (src, dst) and (b, dst) in routes:
                best = min(best, self._into_store(tensor, src, b) + self.transfer(tensor, b, dst))
        return best

    def paths(
        self, tensor: TensorId, srcs: Iterable[MemoryId], dst: MemoryId, last_hop: bool = False
    ) -> list[dict[LinkId, Work]]:
        """Per way to bring `tensor` from one of `srcs` into `dst` (a transfer over a route, or,
        staged, two in a row through `dst`'s staging store), the work it takes of each link
        (:meth:`work`); with `last_hop`, of a staged way only the transfer out of the staging
        store counts (the one into it may serve other memories too)."""
        key = (tensor, tuple(srcs), dst, last_hop)
        return self._memo(
            self._paths, self._paths_of_kind, key, lambda: self._ways(tensor, key[1], dst, last_hop)
        )

    def common(
        self, tensor: TensorId, srcs: Iterable[MemoryId], dst: MemoryId, last_hop: bool = False
    ) -> dict[LinkId, Work]:
        """:func:`_common` of :meth:`paths` (shared: never change it)."""
        key = (tensor, tuple(srcs), dst, last_hop)
        return self._memo(
            self._commons,
            self._commons_of_kind,
            key,
            lambda: _common(self.paths(tensor, key[1], dst, last_hop)),
        )

    def _memo(
        self,
        per_key: dict[Any, _T],
        per_kind: dict[tuple[object, ...], _T],
        key: tuple[TensorId, tuple[MemoryId, ...], MemoryId, bool],
        make: Callable[[], _T],
    ) -> _T:
        """The value for `key` (tensor, sources, destination, last hop), made once per key and,
        where tensors of one kind (:meth:`_kind`) share it, once per kind."""
        out = per_key.get(key)
        if out is None:
            if self._by_kind:
                kind = (self._kind(key[0], key[2]), *key[1:])
                out = per_kind.get(kind)
                if out is None:
                    out = per_kind[kind] = make()
            else:
                out = make()
            per_key[key] = out
        return out

    def common_out(
        self, tensor: TensorId, src: MemoryId, dsts: set[MemoryId]
    ) -> dict[LinkId, Work]:
        """:func:`_common` of the ways of `tensor` from `src` into every memory of `dsts`
        (shared: never change it)."""
        if not self._by_kind:
            return _common([path for d in dsts for path in self.paths(tensor, [src], d)])
        staging = self.space.staging
        into = frozenset((d, staging.get((tensor, d))) for d in dsts)
        kind = (self._size[tensor], self._stores_t.get(tensor, ()), src, into)
        out = self._outs_of_kind.get(kind)
        if out is None:
            out = _common([path for d in dsts for path in self.paths(tensor, [src], d)])
            self._outs_of_kind[kind] = out
        return out

    def _ways(
        self, tensor: TensorId, srcs: tuple[MemoryId, ...], dst: MemoryId, last_hop: bool
    ) -> list[dict[LinkId, Work]]:
        routes = self._routes
        b = self.space.staging.get((tensor, dst))
        staged = b is not None and (b, dst) in routes
        out: list[dict[LinkId, Work]] = []
        for s in srcs:
            if s == dst:
                continue
            if (s, dst) in routes:
                out.append(self.work(tensor, s, dst))
            if staged and b != s and (s, b) in routes:
                assert b is not None
                here: dict[LinkId, Work] = {} if last_hop else dict(self.work(tensor, s, b))
                for lk, w in self.work(tensor, b, dst).items():
                    here[lk] = here.get(lk, 0) + w
                out.append(here)
        for store in self.stores.get(tensor, ()):  # through a spilled copy: its last hop only
            if store != dst and (store, dst) in routes:
                out.append(dict(self.work(tensor, store, dst)))
        return out

    def work(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> dict[LinkId, Work]:
        """Per link of the route from `src` to `dst` (which must exist), the least link-cycles
        the transfer that brings `tensor` there takes: its own (its duration on a link it takes
        whole), or that of a multicast leader it may follow, whose route holds its links but may
        run at a lower rate (less work on a link shared by bandwidth)."""
        key = (tensor, src, dst)
        out = self._works.get(key)
        if out is None:
            leads = self.space.leaders.get(key, ())
            size_key = (self.space.problem.tensor_by_id[tensor].size_bytes, src, dst, leads)
            out = self._works_by_size.get(size_key)
            if out is None:
                out = self._works_by_size[size_key] = self._least_work(tensor, src, dst)
            self._works[key] = out
        return out

    def _least_work(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> dict[LinkId, Work]:
        own = self._route_work(tensor, src, dst)
        for lead in self.space.leaders.get((tensor, src, dst), ()):
            via = self._route_work(tensor, src, lead)
            own = {lk: min(w, via[lk]) for lk, w in own.items()}
        return own

    def _route_work(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> dict[LinkId, Work]:
        links = self.space.problem.route_by_pair[(src, dst)].links
        d = self.transfer(tensor, src, dst)
        return {lk: self.shares.work(links, lk, d) for lk in links}


def _serial_bound(jobs: list[tuple[int, Work]]) -> int:
    """Least time by which jobs `(release, work)` on one link can end: those released at `a` or
    later all run after `a` (taking turns when each work is its duration)."""
    best = 0
    total: Work = 0
    for release, work in sorted(jobs, reverse=True):
        total += work
        best = max(best, release + math.ceil(total))
    return best


def _one_machine_bound(jobs: Iterable[tuple[int, Work, int]]) -> int:
    """Least `a + total work + b` that jobs `(release, work, tail)` on one link force, over the
    jobs released at `a` or later whose tail is `b` or more (they all run inside `[a, end - b)`:
    the value of Jackson's preemptive schedule, valid whether the jobs take turns or share the
    link by bandwidth, each counting its work)."""
    by_release: dict[int, list[tuple[int, Work]]] = defaultdict(list)
    for release, work, tail in jobs:
        by_release[release].append((tail, work))
    best = 0
    chosen: list[tuple[int, Work]] = []
    for a in sorted(by_release, reverse=True):
        chosen.extend(by_release[a])
        total: Work = 0
        for tail, work in sorted(chosen, reverse=True):
            total += work
            best = max(best, a + math.ceil(total) + tail)
    return best


# Port jobs (`port_heads`): per link, per tensor, one crossing of the link by the tensor,
# as (release, least work, lag); see :func:`compute_heads` and :func:`compute_tails`.
PortJobs = dict[LinkId, dict[TensorId, tuple[int, Work, int]]]


def _merge_jobs(into: PortJobs, jobs: PortJobs, shift: int, later: bool) -> None:
    """Add `jobs` to `into`, each lag (`later`: each release) grown by `shift`. One tensor's two
    entries on a link become one crossing: the larger lag (release), the smaller work, the
    smaller release (lag) — the crossing that has the larger lag, or one that serves both."""
    for lk, per_tensor in jobs.items():
        here = into.setdefault(lk, {})
        for x, (r, w, q) in per_tensor.items():
            if later:
                r = r + shift
            else:
                q = q + shift
            old = here.get(x)
            if old is None:
                here[x] = (r, w, q)
            elif later:
                here[x] = (max(old[0], r), min(old[1], w), min(old[2], q))
            else:
                here[x] = (min(old[0], r), min(old[1], w), max(old[2], q))


def _port_bound(jobs: PortJobs) -> int:
    """The best one-machine bound over the links of `jobs`."""
    return max(
        (_one_machine_bound(per.values()) for per in jobs.values() if len(per) > 1), default=0
    )


def _earliest_sources(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    tensor: TensorId,
    not_on: CoreId | None = None,
) -> dict[MemoryId, int]:
    """For each memory `tensor` may first appear in, the earliest time it is there: 0 in its
    home, else its producer's earliest end on a candidate core of that memory (other than
    `not_on`). Needs the producer's heads."""
    p = space.problem
    x = p.tensor_by_id[tensor]
    if x.producer is None:
        assert x.home is not None
        return {x.home: 0}
    out: dict[MemoryId, int] = {}
    for k in space.cores[x.producer]:
        if k != not_on:
            m = p.memory_of(k)
            e = head[(x.producer, k)] + space.duration(x.producer, k)
            out[m] = min(out.get(m, INFINITY), e)
    return out


def compute_heads(
    space: Space,
    order: Sequence[TaskId],
    shares: LinkShares | None = None,
    port_heads: bool = False,
    moves: _Moves | None = None,
) -> dict[tuple[TaskId, CoreId], int]:
    """Earliest start of every task on every candidate core (see the module docstring; `shares`:
    how transfers share links, None: by bandwidth where a link allows it).

    `port_heads` adds the transfers of the task's ancestors: every input of a task or of one of
    its ancestors that must cross a link (a link common to every way into every memory the
    consumer may run in) crosses it at least once, after its release (its earliest source
    time), ending at least `lag` before the task starts (the longest chain of least durations
    from the consumer to the task). Per link these crossings are one-machine jobs with heads
    and tails (:func:`_one_machine_bound`); each tensor counts once per link (one multicast may
    serve every consumer; a reload comes after a first crossing)."""
    p = space.problem
    moves = moves or _Moves(space, shares)
    head: dict[tuple[TaskId, CoreId], int] = {}
    earliest_end: dict[TaskId, int] = {}
    before: dict[TaskId, PortJobs] = {}  # crossings ending `lag` or more before the task starts
    # per input, its earliest sources (fixed once its producer's heads are); per (input,
    # memory), what bringing it there takes: the same for every consumer
    sources_of: dict[TensorId, dict[MemoryId, int]] = {}
    into: dict[tuple[TensorId, MemoryId], tuple[int, bool, int, list[tuple[LinkId, Work]]]] = {}

    def bring(
        x: TensorId, by_source: dict[MemoryId, int], m: MemoryId
    ) -> tuple[int, bool, int, list[tuple[LinkId, Work]]]:
        """(arrival in m, whether x may be in m already, release, positive common works)."""
        out = into.get((x, m))
        if out is None:
            arrival = min((e + moves.move(x, s, m) for s, e in by_source.items()), default=INFINITY)
            if m in by_source:
                out = (arrival, True, 0, [])
            else:
                common = moves.common(x, by_source, m)
                release = min(by_source.values())
                out = (arrival, False, release, [(lk, d) for lk, d in common.items() if d > 0])
            into[(x, m)] = out
        return out

    for t in order:
        task = p.task_by_id[t]
        control = [q for q in space.predecessors[t] if q in earliest_end]
        control_head = max((earliest_end[q] for q in control), default=0)
        srcs: dict[TensorId, dict[MemoryId, int]] = {}
        for x in task.inputs:
            if x not in sources_of:
                sources_of[x] = _earliest_sources(space, head, x)
            srcs[x] = sources_of[x]
        inherited: PortJobs = {}
        if port_heads:
            for q in control:
                _merge_jobs(inherited, before[q], space.min_duration(q), later=False)
        own: list[dict[LinkId, dict[TensorId, tuple[int, Work, int]]]] = []
        for k in space.cores[t]:
            m = p.memory_of(k)
            h = control_head
            per_link: dict[LinkId, list[tuple[int, Work]]] = defaultdict(list)
            direct: PortJobs = {}
            for x, by_source in srcs.items():
                if not by_source:
                    h = INFINITY  # its producer has no candidate core: infeasible anyway
                    continue
                arrival, in_place, release, common = bring(x, by_source, m)
                h = max(h, arrival)
                if in_place:
                    continue  # may be produced (or lie) in this memory: no transfer needed
                # a transfer into m is needed; it uses a link only if every possible route does
                for lk, d in common:
                    per_link[lk].append((release, d))
                    direct.setdefault(lk, {})[x] = (release, d, 0)
            for jobs in per_link.values():
                if len(jobs) > 1:
                    h = max(h, _serial_bound(jobs))
            if port_heads and h < INFINITY:
                jobs_k: PortJobs = {}
                _merge_jobs(jobs_k, inherited, 0, later=False)
                _merge_jobs(jobs_k, direct, 0, later=False)
                h = max(h, _port_bound(jobs_k))
                own.append(direct)
            head[(t, k)] = min(h, INFINITY)
        earliest_end[t] = min(
            (head[(t, k)] + space.duration(t, k) for k in space.cores[t]), default=INFINITY
        )
        if port_heads:
            # passed on: the crossings every candidate core of t needs, and its ancestors'
            if own and len(own) == len(space.cores[t]):
                for lk in set.intersection(*(set(d) for d in own)):
                    for x in set.intersection(*(set(d[lk]) for d in own)):
                        entries = [d[lk][x] for d in own]
                        r, w = min(e[0] for e in entries), min(e[1] for e in entries)
                        _merge_jobs(inherited, {lk: {x: (r, w, 0)}}, 0, later=False)
            before[t] = inherited
    return head


def compute_tails(
    space: Space,
    order: Sequence[TaskId],
    shares: LinkShares | None = None,
    port_heads: bool = False,
    moves: _Moves | None = None,
) -> dict[tuple[TaskId, CoreId], int]:
    """Least time the makespan extends past the end of each task on each candidate core.

    `port_heads` adds the stores of the task's descendants (and its own): each stored output
    crosses the links common to every route from its producer's memories into DRAM, no earlier
    than `release` after the task ends (the longest chain of least durations from the task to
    the producer's end), before the makespan; per link these are one-machine jobs
    (:func:`_one_machine_bound`, as in :func:`compute_heads`)."""
    p = space.problem
    moves = moves or _Moves(space, shares)
    facts = graph_facts(p)
    tail: dict[tuple[TaskId, CoreId], int] = {}
    after: dict[TaskId, PortJobs] = {}  # stores starting `release` or more after the task ends
    # per task whose tails are known: (memory, duration + tail) on each candidate core
    rest: dict[TaskId, list[tuple[MemoryId, int]]] = {}
    for t in reversed(order):
        task = p.task_by_id[t]
        inherited: PortJobs = {}
        if port_heads:
            for c in facts.successors[t]:
                _merge_jobs(inherited, after[c], space.min_duration(c), later=True)
        own: list[PortJobs] = []
        for k in space.cores[t]:
            m = p.memory_of(k)
            q = 0
            stores: PortJobs = {}
            for y in task.outputs:
                if p.tensor_by_id[y].store:
                    q = max(q, moves.move(y, m, DRAM))
                    if port_heads and m != DRAM:
                        for lk, d in moves.common(y, [m], DRAM).items():
                            if d > 0:
                                stores.setdefault(lk, {})[y] = (0, d, 0)
            for c in facts.successors[t]:
                tensors = facts.data_edges.get((t, c), ())
                best = INFINITY
                after_c = rest.get(c)
                if after_c is None:
                    after_c = rest[c] = [
                        (p.memory_of(kc), space.duration(c, kc) + tail[(c, kc)])
                        for kc in space.cores[c]
                    ]
                for mc, then in after_c:
                    if len(tensors) == 1:  # the usual edge: no max over one move
                        move = moves.move(tensors[0], m, mc)
                    else:
                        move = max((moves.move(y, m, mc) for y in tensors), default=0)
                    best = min(best, move + then)
                q = max(q, best)
            if port_heads and q < INFINITY:
                jobs_k: PortJobs = {}
                _merge_jobs(jobs_k, inherited, 0, later=True)
                _merge_jobs(jobs_k, stores, 0, later=True)
                q = max(q, _port_bound(jobs_k))
                own.append(stores)
            tail[(t, k)] = min(q, INFINITY)
        if port_heads:
            if own and len(own) == len(space.cores[t]):
                for lk in set.intersection(*(set(d) for d in own)):
                    for y in set.intersection(*(set(d[lk]) for d in own)):
                        w = min(d[lk][y][1] for d in own)
                        _merge_jobs(inherited, {lk: {y: (0, w, 0)}}, 0, later=True)
            after[t] = inherited
    return tail


def energy_bound(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    tail: dict[tuple[TaskId, CoreId], int],
) -> int:
    """Makespan bound of the cumulative over cores with heads and tails (module docstring)."""
    rows = []
    for t, cores in space.cores.items():
        d = space.min_duration(t)
        if d > 0 and cores:
            a = min(head[(t, k)] for k in cores)
            b = min(tail[(t, k)] for k in cores)
            if a < INFINITY and b < INFINITY:
                rows.append((a, b, d, frozenset(cores)))
    if not rows:
        return 0
    core_sets = sorted({r[3] for r in rows}, key=sorted)
    best = 0
    for a in sorted({r[0] for r in rows}):
        above = sorted((r for r in rows if r[0] >= a), key=lambda r: -r[1])
        total = 0
        union: set[CoreId] = set()
        work = dict.fromkeys(core_sets, 0)
        for i, (_, b, d, can) in enumerate(above):
            total += d
            union |= can
            for cs in core_sets:
                if can <= cs:
                    work[cs] += d
            if i + 1 < len(above) and above[i + 1][1] == b:
                continue  # evaluate once every task with a tail of at least b is in
            best = max(best, a + b + math.ceil(total / len(union)))
            for cs in core_sets:
                if work[cs]:
                    best = max(best, a + b + math.ceil(work[cs] / len(cs)))
    return best


def link_bound(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    tail: dict[tuple[TaskId, CoreId], int],
    shares: LinkShares | None = None,
    moves: _Moves | None = None,
) -> int:
    """Makespan bound from the transfers every schedule makes over one link (module docstring):
    their works, where `shares` lets them share a link's bandwidth."""
    p = space.problem
    moves = moves or _Moves(space, shares)
    jobs: dict[LinkId, list[tuple[int, Work, int]]] = defaultdict(list)  # release, work, tail
    for tensor in p.tensors:
        x = tensor.id
        if tensor.size_bytes == 0:
            continue
        sources = _earliest_sources(space, head, x)
        release = min(sources.values(), default=INFINITY)
        if release >= INFINITY:
            continue
        # every (source, destination) pair a schedule may need: into every candidate memory of
        # every consumer, and into DRAM for a store. A link common to all pairs that need a
        # transfer carries one.
        demands: list[list[tuple[MemoryId, int]]] = []  # per reader: (memory, tail) options
        for c in p.consumers[x]:
            demands.append(
                [(p.memory_of(kc), space.duration(c, kc) + tail[(c, kc)]) for kc in space.cores[c]]
            )
        if tensor.store:
            demands.append([(DRAM, 0)])
        certain: dict[LinkId, tuple[Work, int]] = {}  # link -> (work, tail), one transfer
        for options in demands:
            if not options or any(mc in sources for mc, _ in options):
                continue  # this reader may find the tensor in place
            common: dict[LinkId, tuple[Work, int]] | None = None
            for mc, q in options:
                for path in moves.paths(x, sources, mc):
                    here = {lk: (d, q) for lk, d in path.items()}
                    common = (
                        here
                        if common is None
                        else {
                            lk: (min(v[0], here[lk][0]), min(v[1], here[lk][1]))
                            for lk, v in common.items()
                            if lk in here
                        }
                    )
            # the transfer that serves this reader crosses every common link; transfers serving
            # different readers may be one, so each link counts one transfer per tensor
            for lk, dq in (common or {}).items():
                certain[lk] = max(certain.get(lk, (0, 0)), dq)
        for lk, (d, q) in certain.items():
            if d > 0:
                jobs[lk].append((release, d, q))
    best = 0
    for items in jobs.values():
        releases = sorted({r for r, _, _ in items})
        tails_ = sorted({q for _, _, q in items})
        for a in releases:
            for b in tails_:
                chosen = [d for r, d, q in items if r >= a and q >= b]
                if not chosen:
                    break
                best = max(best, a + math.ceil(sum(chosen)) + b)
    return best


Option = tuple[int, dict[LinkId, Work]]  # (head or tail, work its transfers need on each link)


def _private_cores(space: Space) -> set[CoreId]:
    """Cores that alone use their memory and run nothing in zero time: a core's first task then
    finds none of its inputs produced in place, and its last task's outputs must all move out."""
    p = space.problem
    users: dict[MemoryId, int] = defaultdict(int)
    for c in p.cores:
        users[c.memory] += 1
    out = set()
    for c in p.cores:
        if users[c.memory] != 1:
            continue
        tasks = [t for t, ks in space.cores.items() if c.id in ks]
        if all(space.duration(t, c.id) > 0 for t in tasks):
            out.add(c.id)
    return out


def _common(paths: list[dict[LinkId, Work]]) -> dict[LinkId, Work]:
    """Work a transfer surely takes of each link whichever of `paths` it takes (links off some
    path get nothing)."""
    common: dict[LinkId, Work] | None = None
    for here in paths:
        common = (
            here
            if common is None
            else {lk: min(v, here[lk]) for lk, v in common.items() if lk in here}
        )
    return common or {}


def _options_by_core(
    space: Space, option_of: Callable[[TaskId, CoreId, MemoryId, bool], Option]
) -> dict[CoreId, list[Option]]:
    """For each core, one option per task that may run on it: `option_of(task, core, the core's
    memory, whether the core is private)`."""
    p = space.problem
    private = _private_cores(space)
    options: dict[CoreId, list[Option]] = defaultdict(list)
    for t, cores in space.cores.items():
        for k in cores:
            options[k].append(option_of(t, k, p.memory_of(k), k in private))
    return options


# an input moved into a core's memory as the core's first task reads it: its least arrival,
# the works of its last hop and (with `whole_way`) of its whole way
_FirstInput = tuple[int, dict[LinkId, Work], dict[LinkId, Work] | None]


def _first_inputs(
    space: Space,
    moves: _Moves,
    head: dict[tuple[TaskId, CoreId], int],
    t: TaskId,
    k: CoreId,
    private: bool,
    ready_of: dict[tuple[TensorId, CoreId], dict[MemoryId, int]],
    whole_way: bool = False,
    moved_of: dict[tuple[TensorId, CoreId], _FirstInput | None] | None = None,
    ends_of: dict[TensorId, list[tuple[CoreId, MemoryId, int]]] | None = None,
) -> tuple[int, dict[TensorId, dict[LinkId, Work]], dict[TensorId, dict[LinkId, Work]]]:
    """`t` as the first task of `k`: its least start, and per input that must be moved into
    `k`'s memory (only for a private core), the work it surely takes of each link: of its last
    hop only (a copy staged in the backing store may feed other cores too), and, with
    `whole_way`, of its whole way (what the first crossing of the tensor takes; else empty).
    `ready_of` keeps the earliest sources of each input not produced on `k` (for one `head`);
    `moved_of`, what moving each input into `k`'s memory takes (None: it may be produced there
    by another core), the same for every task that reads it (for one `head` and `whole_way`);
    `ends_of`, the producer's earliest end on each of its cores, per input."""
    p = space.problem
    m = p.memory_of(k)
    first = head[(t, k)]
    last_hop: dict[TensorId, dict[LinkId, Work]] = {}
    whole: dict[TensorId, dict[LinkId, Work]] = {}
    if private:
        for x in dict.fromkeys(p.task_by_id[t].inputs):
            if moved_of is not None and (x, k) in moved_of:
                entry = moved_of[(x, k)]
            else:
                # never produced by k itself: the producer would come first
                ready = ready_of.get((x, k))
                if ready is None:
                    ready = ready_of[(x, k)] = _sources_not_on(
                        space, head, x, k, {} if ends_of is None else ends_of
                    )
                entry = None
                if m not in ready:
                    arrival = min((e + moves.move(x, s, m) for s, e in ready.items()), default=0)
                    entry = (
                        min(arrival, INFINITY),
                        moves.common(x, ready, m, last_hop=True),
                        moves.common(x, ready, m) if whole_way else None,
                    )
                if moved_of is not None:
                    moved_of[(x, k)] = entry
            if entry is None:
                continue
            arrival, hop_works, way_works = entry
            first = max(first, arrival)
            last_hop[x] = hop_works
            if way_works is not None:
                whole[x] = way_works
    return first, last_hop, whole


def _sources_not_on(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    tensor: TensorId,
    k: CoreId,
    ends_of: dict[TensorId, list[tuple[CoreId, MemoryId, int]]],
) -> dict[MemoryId, int]:
    """`_earliest_sources(space, head, tensor, not_on=k)`, with the producer's (core, memory,
    earliest end) on each of its candidate cores kept in `ends_of` for the other cores."""
    p = space.problem
    producer = p.tensor_by_id[tensor].producer
    if producer is None:
        return _earliest_sources(space, head, tensor, not_on=k)
    ends = ends_of.get(tensor)
    if ends is None:
        ends = ends_of[tensor] = [
            (kp, p.memory_of(kp), head[(producer, kp)] + space.duration(producer, kp))
            for kp in space.cores[producer]
        ]
    out: dict[MemoryId, int] = {}
    for kp, mp, e in ends:
        if kp != k:
            out[mp] = min(out.get(mp, INFINITY), e)
    return out


FirstInputs = dict[
    tuple[TaskId, CoreId],
    tuple[int, dict[TensorId, dict[LinkId, Work]], dict[TensorId, dict[LinkId, Work]]],
]


def _first_table(
    space: Space, head: dict[tuple[TaskId, CoreId], int], moves: _Moves, whole_way: bool
) -> FirstInputs:
    """:func:`_first_inputs` of every task on every candidate core."""
    private = _private_cores(space)
    ready_of: dict[tuple[TensorId, CoreId], dict[MemoryId, int]] = {}
    moved_of: dict[tuple[TensorId, CoreId], _FirstInput | None] = {}
    ends_of: dict[TensorId, list[tuple[CoreId, MemoryId, int]]] = {}
    return {
        (t, k): _first_inputs(
            space, moves, head, t, k, k in private, ready_of, whole_way, moved_of, ends_of
        )
        for t, cores in space.cores.items()
        for k in cores
    }


def first_task_options(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    shared: frozenset[TensorId] = frozenset(),
    shares: LinkShares | None = None,
    moves: _Moves | None = None,
    table: FirstInputs | None = None,
) -> dict[CoreId, list[Option]]:
    """For each core, what its first task may be: its head, and the transfers into the core's
    memory that must end before it starts, in work per link (only for private cores). The
    tensors of `shared` (those a multicast may deliver to several cores at once) count in the
    head but not on the links: one transfer may feed several cores' first tasks (they count
    once in :func:`first_input_positions`). `table`: :func:`_first_table`, if already known."""
    if table is None:
        table = _first_table(space, head, moves or _Moves(space, shares), False)

    def first_option(t: TaskId, k: CoreId, m: MemoryId, private: bool) -> Option:
        need: dict[LinkId, Work] = defaultdict(int)
        first, last_hop, _ = table[(t, k)]
        for x, works in last_hop.items():
            if x in shared:
                continue
            for lk, d in works.items():
                need[lk] += d
        return (first, dict(need))

    return _options_by_core(space, first_option)


_MAX_UNIONS = 3_000  # input sets a search of first_input_positions visits, per link and head


def first_input_positions(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    shares: LinkShares | None = None,
    moves: _Moves | None = None,
    table: FirstInputs | None = None,
) -> list[int]:
    """`out[j-1]`: a lower bound on the j-th smallest first start among the cores used, from
    the inputs of the first tasks counted once each (a multicast may bring one tensor to
    several cores, so :func:`first_task_options` leaves such tensors off the links).

    The first tasks of the j cores that start first are j different tasks. On a private core
    every input of its first task crossed the links common to every way into its memory before
    it started (:func:`first_task_options`), so by the j-th first start `f_j` each link has
    carried every tensor of the union of those inputs at least once, and `f_j` is at least
    the head of each of the j tasks: `f_j >= min over H of max(H, least work of an input set
    that holds all the inputs of j different tasks with a head of at most H)`. The least
    input sets are searched by their work (best first, at most `_MAX_UNIONS` per link and
    `H`; a link whose search grows larger gives no bound). `table`: :func:`_first_table` with
    the whole ways, if already known."""
    if table is None:
        table = _first_table(space, head, moves or _Moves(space, shares), True)
    n = len({k for ks in space.cores.values() for k in ks})
    # per task, its options: (first start, the tensors it needs over each link, with work)
    # per task, per option: its first start and, per link, the tensors it needs there with
    # their positive work
    per_task: list[list[tuple[int, dict[LinkId, dict[TensorId, Work]]]]] = []
    links_seen: set[LinkId] = set()
    for t, cores in space.cores.items():
        opts = []
        for k in cores:
            first, _, whole = table[(t, k)]
            if first < INFINITY:
                by_link: dict[LinkId, dict[TensorId, Work]] = {}
                for x, ws in whole.items():
                    links_seen.update(ws)
                    for link, w in ws.items():
                        if w > 0:
                            by_link.setdefault(link, {})[x] = w
                opts.append((first, by_link))
        if opts:
            per_task.append(opts)
    best = [0] * n
    links = sorted(links_seen)
    no_tensors: dict[TensorId, Work] = {}
    for lk in links:
        # each tensor at its least work on lk; a task's option: (first start, its tensor set)
        least: dict[TensorId, Work] = {}
        tasks: list[list[tuple[int, frozenset[TensorId]]]] = []
        for opts in per_task:
            mine = []
            for first, by_link in opts:
                on_lk = by_link.get(lk, no_tensors)
                for x, w in on_lk.items():
                    least[x] = min(least.get(x, w), w)
                mine.append((first, frozenset(on_lk)))
            tasks.append(mine)
        found = _least_unions(tasks, least, n)
        if found is not None:
            best = [max(a, b) for a, b in zip(best, found, strict=True)]
    return best


def _least_unions(
    tasks: list[list[tuple[int, frozenset[TensorId]]]], least: dict[TensorId, Work], n: int
) -> list[int] | None:
    """`out[j-1]`: min over H of max(H, the least work of a tensor set holding one option's
    set, with a first start of at most H, of each of j different tasks) (None: too large)."""
    heads = sorted({h for opts in tasks for h, _ in opts})
    out = [INFINITY] * n
    for h_max in heads:
        if all(h_max >= o for o in out):
            break  # a larger H cannot lower any position
        # tasks with the same option sets count together
        fits = Counter(frozenset(s for h, s in opts if h <= h_max) for opts in tasks)
        fits.pop(frozenset(), None)
        sets = sorted({s for f in fits for s in f}, key=sorted)
        # best first over unions of option sets: the first union that covers j tasks is the least
        heap: list[tuple[Work, int, frozenset[TensorId]]] = [(0, 0, frozenset())]
        seen: set[frozenset[TensorId]] = {frozenset()}
        done = [False] * n
        visited = 0
        counter = 0
        while heap and not all(done):
            work, _, union = heapq.heappop(heap)
            visited += 1
            if visited > _MAX_UNIONS:
                return None
            # the tasks with an option set inside the union (one subset test per set)
            inside = {s for s in sets if s <= union}
            covered = sum(c for f, c in fits.items() if not f.isdisjoint(inside))
            for j in range(min(covered, n)):
                if not done[j]:
                    done[j] = True
                    out[j] = min(out[j], max(h_max, math.ceil(work)))
            for s in sets:
                if s <= union:
                    continue
                nxt = union | s
                if nxt not in seen:
                    seen.add(nxt)
                    counter += 1
                    heapq.heappush(heap, (work + sum(least[x] for x in s - union), counter, nxt))
    return out


def last_task_options(
    space: Space,
    tail: dict[tuple[TaskId, CoreId], int],
    shares: LinkShares | None = None,
    moves: _Moves | None = None,
) -> dict[CoreId, list[Option]]:
    """For each core, what its last task may be: its tail, and the transfers out of the core's
    memory that start after it ends (every output goes to DRAM or to a reader elsewhere), in
    work per link (only for private cores)."""
    p = space.problem
    moves = moves or _Moves(space, shares)
    # per tensor, the (core, memory) of every candidate core of its readers, each once
    readers: dict[TensorId, dict[tuple[CoreId, MemoryId], None]] = {}

    def last_option(t: TaskId, k: CoreId, m: MemoryId, private: bool) -> Option:
        need: dict[LinkId, Work] = defaultdict(int)
        if private:
            for y in p.task_by_id[t].outputs:
                dests = {DRAM} if p.tensor_by_id[y].store else set()
                on = readers.get(y)
                if on is None:
                    on = readers[y] = {
                        (kc, p.memory_of(kc)): None for c in p.consumers[y] for kc in space.cores[c]
                    }
                dests.update(mc for kc, mc in on if kc != k)
                if not dests or m in dests:
                    continue
                for lk, d in moves.common_out(y, m, dests).items():
                    need[lk] += d
        return (tail[(t, k)], dict(need))

    return _options_by_core(space, last_option)


_MAX_STATES = 3_000


def _least_sums(menu: list[tuple[int, Work]], n: int) -> list[int] | None:
    """`out[u-1]`: the least sum of `u` first starts (see :func:`_least_steps`)."""
    steps = _least_steps(menu, n)
    return None if steps is None else steps[0]


def _least_steps(menu: list[tuple[int, Work]], n: int) -> tuple[list[int], list[int]] | None:
    """`(sums, least)`: `sums[u-1]` is the least sum of `u` times `f_1 <= ... <= f_u` where each
    `f_j` is at least the own value `h` of an option `(h, L)` and at least the sum of the `L` of
    options 1..j, rounded up (jobs on one link, each `L` its work, that must all be done by the
    integer `f_j`);
    `least[j-1]` is the least `f_j` alone.
    None if the search grows too large."""
    pareto: list[tuple[int, Work]] = []
    for h, load in sorted(x for x in set(menu) if x[0] < INFINITY):
        if not pareto or load < pareto[-1][1]:
            pareto.append((h, load))
    if not pareto:
        return None  # no placement reachable: the problem is infeasible anyway
    states: dict[tuple[Work, int], int] = {(0, 0): 0}  # (sum of L, last f) -> least sum of f
    out = []
    least_f = []
    for _ in range(n):
        nxt: dict[tuple[Work, int], int] = {}
        for (total, last), cost in states.items():
            for h, load in pareto:
                f = max(last, h, math.ceil(total + load))
                key = (total + load, f)
                if cost + f < nxt.get(key, INFINITY):
                    nxt[key] = cost + f
        if len(nxt) > _MAX_STATES:
            return None
        # drop states no better in any of (sum of L, last f, cost) than another
        kept: dict[tuple[Work, int], int] = {}
        for key in sorted(nxt, key=lambda s: (nxt[s], s)):
            if not any(
                k2[0] <= key[0] and k2[1] <= key[1] and c2 <= nxt[key] for k2, c2 in kept.items()
            ):
                kept[key] = nxt[key]
        states = kept
        out.append(min(states.values()))
        least_f.append(min(f for _, f in states))  # no state with a smaller f is ever dropped
    return out, least_f


def _idle_sums(options: dict[CoreId, list[Option]], n: int) -> list[int]:
    """Least total idle of `u` used cores at one end of the schedule, for u = 1..n (the best
    over links; each core picks from the options of every core, a relaxation)."""
    pairs = [(h, need) for opts in options.values() for h, need in opts]
    links = {lk for _, need in pairs for lk in need}
    best = _least_sums([(h, 0) for h, _ in pairs], n) or [0] * n
    for lk in sorted(links):
        sums = _least_sums([(h, need.get(lk, 0)) for h, need in pairs], n)
        if sums is not None:
            best = [max(a, b) for a, b in zip(best, sums, strict=True)]
    return best


def first_start_positions(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    shared: frozenset[TensorId] = frozenset(),
    shares: LinkShares | None = None,
    moves: _Moves | None = None,
) -> list[int]:
    """`out[j-1]`: a lower bound on the j-th smallest first start among the cores used (the
    best over links of the least j-th start of :func:`_least_steps`; `shared`: tensors that may
    be multicast, :func:`first_task_options`; `shares`: how transfers share links)."""
    return _positions(first_task_options(space, head, shared, shares, moves))


def _positions(options: dict[CoreId, list[Option]]) -> list[int]:
    """:func:`first_start_positions` of the first task options of every core."""
    n = len(options)
    pairs = [(h, need) for opts in options.values() for h, need in opts]
    links = {lk for _, need in pairs for lk in need}
    steps = _least_steps([(h, 0) for h, _ in pairs], n)
    best = [0] * n if steps is None else steps[1]
    for lk in sorted(links):
        steps = _least_steps([(h, need.get(lk, 0)) for h, need in pairs], n)
        if steps is not None:
            best = [max(a, b) for a, b in zip(best, steps[1], strict=True)]
    return best


@dataclass(frozen=True)
class IdleProfile:
    """What the core idle bound knows of the cores' two ends, for `u = 1..n` cores used (index
    `u - 1`): the least sum of their first starts and of their tails (makespan minus last end),
    and, position by position, a lower bound on the j-th smallest first start and the j-th
    smallest tail among the cores used. `work`: the least total work of all tasks."""

    first_sums: tuple[int, ...]
    last_sums: tuple[int, ...]
    first_positions: tuple[int, ...]
    last_positions: tuple[int, ...]
    work: int

    def makespan_cycles(self) -> int:
        """The core idle bound: the least over `u` of (first starts + tails + work) / u."""
        return min(
            math.ceil((self.first_sums[u] + self.last_sums[u] + self.work) / (u + 1))
            for u in range(len(self.first_sums))
        )


def idle_profile(
    space: Space,
    head: dict[tuple[TaskId, CoreId], int],
    tail: dict[tuple[TaskId, CoreId], int],
    shared: frozenset[TensorId] = frozenset(),
    shares: LinkShares | None = None,
    union_inputs: bool = False,
    moves: _Moves | None = None,
) -> IdleProfile | None:
    """The cores' first starts and tails as the core idle bound counts them (None: no core):
    with `u` cores used, `u * makespan >= first starts + (makespan - last ends) + work`, where
    the cores' first inputs (and last outputs) take turns on the links (by their work where
    `shares` lets them share a link; :meth:`IdleProfile.makespan_cycles`). The tails are the
    first starts of the schedule run backwards: the last outputs take turns on the links after
    their producers end, as the first inputs do before their readers start. `union_inputs`:
    the first starts are also at least those of :func:`first_input_positions`, which counts a
    tensor of `shared` once rather than not at all."""
    used_cores = {k for ks in space.cores.values() for k in ks}
    n = len(used_cores)
    if n == 0:
        return None
    work = sum(space.min_duration(t) for t in space.cores)
    moves = moves or _Moves(space, shares)
    table = _first_table(space, head, moves, union_inputs)
    options = first_task_options(space, head, shared, shares, moves, table)
    heads = _idle_sums(options, n)
    positions = _positions(options)
    if union_inputs:
        positions = [
            max(a, b)
            for a, b in zip(
                positions, first_input_positions(space, head, shares, moves, table), strict=True
            )
        ]
        heads = [max(h, sum(positions[: u + 1])) for u, h in enumerate(heads)]
    last = last_task_options(space, tail, shares, moves)
    return IdleProfile(
        tuple(heads), tuple(_idle_sums(last, n)), tuple(positions), tuple(_positions(last)), work
    )


def static_bounds(
    space: Space,
    core_idle: bool = True,
    shared: frozenset[TensorId] = frozenset(),
    shares: LinkShares | None = None,
    port_heads: bool = False,
    union_inputs: bool = False,
) -> StaticBounds | None:
    """Heads, tails and constant makespan bounds of `space` (None when precedences have a cycle);
    `core_idle=False` leaves out the core idle bound (to measure what it brings). `shared`: the
    tensors a multicast may deliver to several memories at once (the model's multicast), which
    the core idle bound must not count once per core. `shares`: how transfers share links (the
    model's; None: by bandwidth wherever a link allows it, valid in every space). `port_heads`:
    heads and tails also count the link crossings of every ancestor's inputs and every
    descendant's stores (:func:`compute_heads`, :func:`compute_tails`). `union_inputs`: the core
    idle bound counts the cores' first inputs once each (:func:`first_input_positions`)."""
    order = graph_facts(space.problem).topological_order
    if order is None:
        return None
    moves = _Moves(space, shares)  # one cache for every bound
    head = compute_heads(space, order, shares, port_heads, moves)
    tail = compute_tails(space, order, shares, port_heads, moves)
    idle = (
        idle_profile(space, head, tail, shared, shares, union_inputs, moves) if core_idle else None
    )
    return StaticBounds(
        head,
        tail,
        energy_bound(space, head, tail),
        link_bound(space, head, tail, shares, moves),
        0 if idle is None else idle.makespan_cycles(),
        idle,
    )
