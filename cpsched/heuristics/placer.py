"""The resources of one heuristic run and the placement of one task with its transfers.

Placement follows the exact docs/validity.md semantics:

- one transfer per (tensor, destination memory), in the earliest window in which every link has
  room and the destination memory has room: a link used by one transfer at a time, or, with
  `Features.shared_bandwidth`, a bandwidth-shared link used by transfers whose full rates add up
  to at most its bandwidth;
- from the tensor's source copy (its producer's memory or its home); with `Features.spill`, from
  whichever copy delivers it first, staged through the destination's backing store where the
  direct route crosses that store's link (DRAM -> L2 -> L1); with `Features.multicast`, a memory
  may instead be added to a transfer of the same copy already placed over multicast links, when
  that delivers no later;
- `store: true` tensors are sent to `dram` once produced, right after the next task has taken the
  links its inputs need (inputs are urgent, stores are not);
- memory holds as in §4.9: a produced copy from its producer's start, a transferred copy from
  its transfer's start, a home copy from 0, each until its last reader or outgoing transfer
  ends (the home and stored copies in dram: never). While some reader is still unplaced a copy
  counts as held forever, so every placement is checked against an upper bound of the final
  memory profile and can never overflow it;
- a task whose memory cannot hold its new inputs and outputs is Blocked, with which memory is
  full and why; with `Features.spill`, the loop may then ask for room: copies are evicted
  (farthest next use first), the only copy of a tensor is first spilled to the memory's backing
  store, and an evicted copy is brought back (reloaded) when a reader needs it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from cpsched.heuristics.prepare import Prepared
from cpsched.heuristics.timeline import (
    IntervalTimeline,
    LinkTimeline,
    MemoryProfile,
    Rate,
    RateTimeline,
    common_window,
)
from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer

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


@dataclass
class _Transfer:
    """A placed transfer: one source copy to one or more memories, at full rate."""

    start: int
    end: int
    tensor: TensorId
    src: MemoryId
    dsts: list[MemoryId]
    links: frozenset[LinkId]
    latency: int  # the largest summed latency of the routes to its destinations
    # whether others may join it: every link it uses multicasts (and, with
    # Features.cpsat_space, it is no reload or spill: CP-SAT's space has neither in a multicast)
    multicast: bool


def _exact(value: float) -> Rate:
    q = Fraction(repr(value))
    return q.numerator if q.denominator == 1 else q


class Placer:
    """The resources of one heuristic run and the schedule built so far."""

    def __init__(self, prep: Prepared, *, insertion: bool) -> None:
        p = prep.problem
        self.prep = prep
        self.p = p
        self.features = prep.features
        self.insertion = insertion
        self.tasks = p.tasks
        self.tensor = p.tensor_by_id
        self.mem_of: dict[CoreId, MemoryId] = {c.id: c.memory for c in p.cores}
        self.core_tl = {c.id: IntervalTimeline() for c in p.cores}
        shared = self.features.shared_bandwidth
        self.link_tl: dict[LinkId, LinkTimeline] = {
            lk.id: RateTimeline(_exact(lk.bandwidth_bytes_per_cycle))
            if shared and lk.sharing == "bandwidth"
            else IntervalTimeline()
            for lk in p.links
        }
        self.route_links: dict[tuple[MemoryId, MemoryId], list[LinkTimeline]] = {
            (r.src, r.dst): [self.link_tl[lk] for lk in r.links] for r in p.routes
        }
        link = p.link_by_id
        self.route_rate: dict[tuple[MemoryId, MemoryId], Rate] = {
            (r.src, r.dst): min(_exact(link[lk].bandwidth_bytes_per_cycle) for lk in r.links)
            for r in p.routes
        }
        self.route_latency = {
            (r.src, r.dst): sum(link[lk].latency_cycles for lk in r.links) for r in p.routes
        }
        self.route_linkset = {(r.src, r.dst): frozenset(r.links) for r in p.routes}
        self.route_multicast = {
            (r.src, r.dst): all(link[lk].multicast for lk in r.links) for r in p.routes
        }
        # where a memory's copies are spilled and staged: its declared `backing` store, else
        # dram (with Features.cpsat_space only the declared one, as CP-SAT's space has it)
        self.backing: dict[MemoryId, MemoryId] = {
            m.id: m.backing or DRAM
            for m in p.memories
            if m.id != DRAM and (m.backing or not prep.features.cpsat_space)
        }
        self.mem = {
            m.id: MemoryProfile(m.capacity_bytes)
            for m in p.memories
            if m.capacity_bytes is not None
        }
        self.opt_dur: list[dict[CoreId, int]] = [
            {o.core: o.duration_cycles for o in t.options} for t in p.tasks
        ]
        # The current copy of each tensor in each memory: when it is (or will be) available,
        # the latest end among its readers so far, and where the copies are that are not
        # released yet. A released copy may come back later (a reload), never before
        # `released_at`.
        self.avail: dict[tuple[TensorId, MemoryId], int] = {}
        self.last_use: dict[tuple[TensorId, MemoryId], int] = {}
        self.open_copies: dict[TensorId, list[MemoryId]] = {}
        self.closed: set[tuple[TensorId, MemoryId]] = set()
        self.released_at: dict[tuple[TensorId, MemoryId], int] = {}
        # The copy each tensor keeps while readers remain: its source copy, or where it was
        # spilled to (without spills, always the source copy).
        self.anchor: dict[TensorId, MemoryId] = {}
        # Where each tensor first appears: its home, or its producer's memory once placed.
        self.origin: dict[TensorId, MemoryId] = {}
        # A task may list an input twice; it reads (and needs moved) one copy.
        self.inputs: list[tuple[TensorId, ...]] = [tuple(dict.fromkeys(t.inputs)) for t in p.tasks]
        self.readers: dict[TensorId, list[int]] = {
            x: [prep.index[r] for r in dict.fromkeys(rs)] for x, rs in p.consumers.items()
        }
        self.remaining: dict[TensorId, int] = {x: len(r) for x, r in self.readers.items()}
        all_mems = [frozenset(self.mem_of[c] for c in cores) for cores in prep.allowed]
        # Where each task may still run; the core rule narrows it (e.g. once a layer is pinned).
        self.possible_memories: Callable[[int], frozenset[MemoryId]] = all_mems.__getitem__
        # The loop's priority keys (smallest first): an evicted copy is the one whose next
        # reader comes last.
        self.priority: Sequence[tuple[float, ...]] | None = None
        n_nodes = len(prep.preds)
        self.end: list[int] = [0] * n_nodes
        self.core_of: list[CoreId | None] = [None] * prep.n_tasks
        self.start: list[int] = [0] * prep.n_tasks
        self.transfers: list[_Transfer] = []
        self.transfers_of: dict[TensorId, list[_Transfer]] = {}
        # Stores wait until the next task has taken the links it needs (stores are not urgent;
        # inputs are); a pending store keeps its tensor's copy held.
        self.pending_stores: list[tuple[TensorId, MemoryId, int]] = []
        for t in p.tensors:
            if t.producer is None:
                assert t.home is not None
                self._open_copy(t.id, t.home, 0, 0)
                self.anchor[t.id] = self.origin[t.id] = t.home
                if t.store and t.home != DRAM:
                    self._transfer(t.id, t.home, DRAM, 0)
                self._release_unneeded(t.id)

    # --- resources ---

    def duration(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> int:
        """Cycles of a transfer of `tensor` from `src` to `dst` (docs/schedule.md; cached by the
        problem, shared by every run)."""
        return self.p.transfer_duration_cycles(tensor, src, dst)

    def _permanent(self, tensor: TensorId, m: MemoryId) -> bool:
        """Whether a copy is never released (docs/validity.md): a home or stored copy in dram."""
        if m != DRAM:
            return False
        t = self.tensor[tensor]
        return t.store or (t.producer is None and t.home == DRAM)

    def _open_copy(self, tensor: TensorId, m: MemoryId, hold_from: int, avail: int) -> None:
        key = (tensor, m)
        if key in self.closed:  # a reload: a new copy, never held beside the old one
            self.closed.discard(key)
            self.last_use.pop(key, None)
        self.avail[key] = avail
        self.open_copies.setdefault(tensor, []).append(m)
        prof = self.mem.get(m)
        if prof is not None:
            prof.add_from(hold_from, self.tensor[tensor].size_bytes)

    def _close_copy(self, tensor: TensorId, m: MemoryId) -> None:
        key = (tensor, m)
        release = self.last_use.get(key, self.avail[key])
        self.closed.add(key)
        self.released_at[key] = release
        left = self.open_copies[tensor]
        left.remove(m)
        if self.anchor.get(tensor) == m and left:
            # another copy takes over: a permanent one (dram) or an unbounded one first (with
            # Features.cpsat_space the spilled one in m's backing store, see _heirs)
            self.anchor[tensor] = min(
                self._heirs(tensor, m) or left,
                key=lambda s: (not self._permanent(tensor, s), s in self.mem),
            )
        prof = self.mem.get(m)
        if prof is not None:
            prof.add_from(release, -self.tensor[tensor].size_bytes)

    def _heirs(self, tensor: TensorId, m: MemoryId) -> list[MemoryId]:
        """The open copies of `tensor` other than the one in `m` that may become its anchor
        when `m`'s copy (the anchor) goes. With `Features.cpsat_space` only a copy in `m`'s
        backing store, and only when `m` is where the tensor first appeared: CP-SAT's space
        moves a tensor out of its source copy, out of that copy spilled to the source memory's
        backing store, or out of a staged copy, never out of another core's copy, and never
        spills a spilled copy again (docs/results.md)."""
        left = [s for s in self.open_copies.get(tensor, ()) if s != m]
        if not self.features.cpsat_space:
            return left
        if self.origin.get(tensor) != m:
            return []
        return [s for s in left if s == self.backing.get(m)]

    def flush_stores(self, keep_last: int = 0) -> None:
        """Place the pending stores except the `keep_last` newest ones, and release their copies."""
        n = len(self.pending_stores) - keep_last
        if n <= 0:
            return
        flushed, self.pending_stores = self.pending_stores[:n], self.pending_stores[n:]
        for x, m, end in flushed:
            if self._has_copy(x, DRAM):
                continue  # already there (spilled to dram): a second copy would be one too many
            self._transfer(x, m, DRAM, end)
        for x, _, _ in flushed:
            self._release_unneeded(x)

    def _release_unneeded(self, tensor: TensorId) -> None:
        """Release the copies of a tensor no unplaced reader can still need (docs/validity.md).

        A copy in memory m is needed while an unplaced reader may still run in m (with spills,
        also while one may run in a memory m backs: it is staged there); the anchor copy also
        while an unplaced reader may run where there is no copy yet (it will be sent from
        there). Without spills a released copy is never used again, so readers then avoid that
        memory; with spills it is reloaded when needed.
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
            src = self.anchor[tensor]
            copies = frozenset(m for m in open_ms if m != src)
            src_needed = any(not ms <= copies for ms in possible)
            needed = frozenset().union(*possible)
            if self.features.spill:
                needed |= {self.backing[m] for m in needed if m in self.backing}
            if self.features.cpsat_space and not self._heirs(tensor, src):
                src_needed = True  # no copy CP-SAT's space could send it from once it goes
            keep = [m for m in open_ms if (src_needed if m == src else m in needed)]
            if len(keep) == len(open_ms):
                return
        stay = self.features.cpsat_space and self.remaining[tensor] > 0
        for m in list(open_ms):
            if m in keep or self._permanent(tensor, m) or (stay and m not in self.mem):
                continue  # (a copy in an unbounded store stays while the tensor is still read)
            self._close_copy(tensor, m)

    def _use(self, tensor: TensorId, m: MemoryId, end: int) -> None:
        key = (tensor, m)
        if self.last_use.get(key, -1) < end:
            self.last_use[key] = end

    def _plan(self, tensor: TensorId, src: MemoryId, dst: MemoryId, not_before: int) -> int:
        """The earliest start of a new transfer of `tensor` from `src` into `dst` (Blocked when
        `dst` is full for good)."""
        pair = (src, dst)
        d = self.duration(tensor, src, dst)
        t = max(not_before, self.avail[(tensor, src)], self.released_at.get((tensor, dst), 0))
        prof = self.mem.get(dst)
        if prof is not None:
            size = self.tensor[tensor].size_bytes
            fit = prof.earliest_fit(t, size)
            if fit is None:
                raise Blocked("", dst, size, f"a copy of tensor {tensor}")
            t = fit
        return common_window(self.route_links[pair], t, d, self.route_rate[pair])

    def _transfer(
        self, tensor: TensorId, src: MemoryId, dst: MemoryId, not_before: int, alone: bool = False
    ) -> int:
        """Place the transfer of `tensor` into `dst` as early as it fits; return its end. With
        `alone` no other destination may join it later (a spill)."""
        t = self._plan(tensor, src, dst, not_before)
        return self._commit(tensor, src, dst, t, alone)

    def _commit(
        self, tensor: TensorId, src: MemoryId, dst: MemoryId, t: int, alone: bool = False
    ) -> int:
        pair = (src, dst)
        d = self.duration(tensor, src, dst)
        rate = self.route_rate[pair]
        for tl in self.route_links[pair]:
            tl.add(t, t + d, rate)
        # in CP-SAT's space a reload or a spill travels alone (see _join_option)
        alone = self.features.cpsat_space and (alone or (tensor, dst) in self.released_at)
        self._open_copy(tensor, dst, t, t + d)
        self._use(tensor, src, t + d)
        tr = _Transfer(
            t,
            t + d,
            tensor,
            src,
            [dst],
            self.route_linkset[pair],
            self.route_latency[pair],
            self.route_multicast[pair] and not alone,
        )
        self.transfers.append(tr)
        self.transfers_of.setdefault(tensor, []).append(tr)
        return t + d

    def _join_option(self, tensor: TensorId, dst: MemoryId, not_before: int) -> _Transfer | None:
        """The placed transfer of `tensor` that `dst` can join as one more destination without
        changing its links, duration or other destinations (earliest end first), or None."""
        if not self.features.multicast:
            return None
        if self.features.cpsat_space and (tensor, dst) in self.released_at:
            return None  # a reload travels alone (CP-SAT's space has no multicast reload)
        best: _Transfer | None = None
        floor = max(not_before, self.released_at.get((tensor, dst), 0))
        prof = self.mem.get(dst)
        size = self.tensor[tensor].size_bytes
        for tr in self.transfers_of.get(tensor, ()):
            pair = (tr.src, dst)
            if (
                not tr.multicast
                or tr.start < floor
                or dst == tr.src
                or dst in tr.dsts
                or pair not in self.route_linkset
                or not self.route_linkset[pair] <= tr.links
                or self.route_latency[pair] > tr.latency
                or (best is not None and tr.end >= best.end)
            ):
                continue
            if prof is not None and prof.earliest_fit(tr.start, size) != tr.start:
                continue
            best = tr
        return best

    def _join(self, tr: _Transfer, dst: MemoryId) -> int:
        tr.dsts.append(dst)
        self._open_copy(tr.tensor, dst, tr.start, tr.end)
        return tr.end

    def _sources(self, tensor: TensorId, dst: MemoryId) -> list[MemoryId]:
        """The copies a transfer of `tensor` into `dst` may start from: the anchor (the source
        copy, or where it was spilled), with spills also a copy staged in `dst`'s backing store,
        and with `Features.forward` every copy with a route to `dst`."""
        anchor = self.anchor[tensor]
        if not self.features.spill:
            return [anchor] if (anchor, dst) in self.route_links else []
        backing = self.backing.get(dst)
        return [
            s
            for s in self.open_copies.get(tensor, ())
            if s != dst
            and (s, dst) in self.route_links
            and (tensor, s) in self.avail
            and (self.features.forward or s in (anchor, backing))
        ]

    def _staging(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> MemoryId | None:
        """The memory to stage `tensor` in on its way from `src` to `dst`: `dst`'s backing store,
        where routes go through it and the direct route (if any) crosses its link to `dst`."""
        if not self.features.spill:
            return None
        b = self.backing.get(dst)
        if b is None or b == src or (src, b) not in self.route_links:
            return None
        if (b, dst) not in self.route_links or self._has_copy(tensor, b):
            return None
        direct = self.route_linkset.get((src, dst))
        if direct is not None and not self.route_linkset[(b, dst)] <= direct:
            return None
        return b

    def arrival(self, tensor: TensorId, dst: MemoryId) -> int | None:
        """A quick estimate of when `tensor` could be in `dst` (links not looked at), or None
        when no copy has a route there."""
        best: int | None = None
        floor = self.released_at.get((tensor, dst), 0)
        for s in self._sources(tensor, dst):
            a = max(self.avail[(tensor, s)], floor) + self.duration(tensor, s, dst)
            if best is None or a < best:
                best = a
        tr = self._join_option(tensor, dst, 0) if self.features.multicast else None
        if tr is not None and (best is None or tr.end < best):
            best = tr.end
        return best

    def _deliver(self, tensor: TensorId, dst: MemoryId, not_before: int) -> int:
        """Bring `tensor` into `dst` the way that delivers it first; return when it is there."""
        best: tuple[int, int, MemoryId] | None = None  # end, start, source
        for s in self._sources(tensor, dst):
            t = self._plan(tensor, s, dst, not_before)
            end = t + self.duration(tensor, s, dst)
            if best is None or end < best[0] or (end == best[0] and s == self.anchor[tensor]):
                best = (end, t, s)
        assert best is not None  # place() checked that some copy has a route
        tr = self._join_option(tensor, dst, not_before)
        if tr is not None and tr.end <= best[0]:
            return self._join(tr, dst)
        end, t, s = best
        staging = self._staging(tensor, s, dst)
        if staging is not None:
            try:
                self._make_room(staging, self.tensor[tensor].size_bytes, frozenset((tensor,)))
                self._transfer(tensor, s, staging, not_before)
                return self._transfer(tensor, staging, dst, not_before)
            except Blocked:
                pass  # no room in the staging memory: go directly
        return self._commit(tensor, s, dst, t)

    # --- eviction ---

    def _next_use(self, tensor: TensorId) -> tuple[float, ...]:
        """The priority key of the next unplaced reader of `tensor` (largest: never again)."""
        priority = self.priority
        waiting = [j for j in self.readers.get(tensor, ()) if self.core_of[j] is None]
        if not waiting:
            return (float("inf"),)
        if priority is None:
            return (float(min(waiting)),)
        return min(priority[j] for j in waiting)

    def _make_room(self, m: MemoryId, need: int, keep: frozenset[TensorId]) -> None:
        """Evict copies from bounded memory `m` (not those of `keep`) until `need` more bytes
        can be held from some time on: copies read again last go first; the only copy of a
        tensor still to be read is spilled to `m`'s backing store first. Changes nothing when
        `m` already has room; may leave it short when nothing more can go."""
        prof = self.mem.get(m)
        if prof is None or prof.held_forever() + need <= prof.capacity_bytes:
            return
        if self.pending_stores:
            self.flush_stores()
        once = self.features.cpsat_space  # a reloaded copy stays (no third copy)
        victims = [
            x
            for x, ms in self.open_copies.items()
            if m in ms
            and x not in keep
            and not self._permanent(x, m)
            and not (once and (x, m) in self.released_at)
        ]
        victims.sort(key=self._next_use, reverse=True)
        for x in victims:
            if prof.held_forever() + need <= prof.capacity_bytes:
                return
            self._evict(x, m)

    def _evict(self, tensor: TensorId, m: MemoryId) -> bool:
        """Release the copy of `tensor` in `m`, spilling it first when it is the copy the
        tensor keeps and no other copy is left; False (nothing changed) when it cannot go."""
        others = [s for s in self.open_copies[tensor] if s != m]
        if self.features.cpsat_space and self.anchor.get(tensor) == m:
            if self.origin.get(tensor) != m and self.remaining[tensor] > 0:
                return False  # a spilled copy is not spilled again in CP-SAT's space
            others = self._heirs(tensor, m)
        if self.remaining[tensor] > 0 and not others:
            target = self._spill(tensor, m)
            if target is None:
                return False
            self.anchor[tensor] = target
        self._close_copy(tensor, m)
        return True

    def _spill(self, tensor: TensorId, m: MemoryId) -> MemoryId | None:
        """Send the copy of `tensor` in `m` to `m`'s backing store (or to dram when that cannot
        take it); return where it went, or None."""
        if m not in self.backing:
            return None  # (Features.cpsat_space: no declared backing store)
        targets = [self.backing[m]]
        if targets[0] != DRAM and not self.features.cpsat_space:
            targets.append(DRAM)
        for b in targets:
            if b == m or (m, b) not in self.route_links:
                continue
            if (tensor, b) in self.avail and (tensor, b) not in self.closed:
                return b
            try:
                self._transfer(tensor, m, b, 0, alone=True)
            except Blocked:
                continue
            return b
        return None

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

    def _has_copy(self, tensor: TensorId, m: MemoryId) -> bool:
        key = (tensor, m)
        return key in self.avail and key not in self.closed

    def quick_bound(self, i: int, core: CoreId, lb: int) -> int:
        """A lower bound of :meth:`estimate` that looks at no link (inputs sent at once)."""
        m = self.mem_of[core]
        ready = lb
        spill = self.features.spill
        for x in self.inputs[i]:
            a = self.avail.get((x, m)) if not spill or self._has_copy(x, m) else None
            if a is None:
                a = self.arrival(x, m)
                if a is None:
                    continue  # estimate says None; rank puts such cores last
            if a > ready:
                ready = a
        dur = self.opt_dur[i][core]
        return self.core_free(core, ready, dur) + dur

    def estimate(self, i: int, core: CoreId, lb: int) -> int | None:
        """Rough finish of task i on `core`: its transfers in turn on the links (memory ignored)."""
        m = self.mem_of[core]
        ready = lb
        spill = self.features.spill
        moves: list[tuple[int, TensorId, MemoryId]] = []
        for x in self.inputs[i]:
            a = self.avail.get((x, m)) if not spill or self._has_copy(x, m) else None
            if a is None:
                tr = self._join_option(x, m, 0)
                sources = self._sources(x, m)
                if not sources and tr is None:
                    return None
                if tr is not None and (
                    not sources
                    or tr.end <= min(self.avail[(x, s)] + self.duration(x, s, m) for s in sources)
                ):
                    ready = max(ready, tr.end)
                    continue
                s = min(sources, key=lambda s: self.avail[(x, s)] + self.duration(x, s, m))
                moves.append((max(self.avail[(x, s)], self.released_at.get((x, m), 0)), x, s))
            elif a > ready:
                ready = a
        if moves:
            # The task's own transfers cannot share a link at the same time either.
            busy: dict[int, int] = {}
            moves.sort()
            for a, x, src in moves:
                pair = (src, m)
                links = self.route_links[pair]
                d = self.duration(x, src, m)
                t = max([a] + [busy.get(id(tl), 0) for tl in links])
                t = common_window(links, t, d, self.route_rate[pair]) + d
                for tl in links:
                    busy[id(tl)] = t
                if t > ready:
                    ready = t
        dur = self.opt_dur[i][core]
        return self.core_free(core, ready, dur) + dur

    def place(self, i: int, core: CoreId, lb: int, *, make_room: bool = False) -> int:
        """Place task i on `core` no earlier than `lb`, with its transfers; return its end.

        Raises Blocked (having changed nothing, unless `make_room` evicted copies) when no copy
        of an input can reach the core's memory or that memory cannot hold the task's new inputs
        and outputs until some other copy is released. With `make_room` (and `Features.spill`),
        copies are evicted from the core's memory first to make room.
        """
        task = self.tasks[i]
        m = self.mem_of[core]
        dur = self.opt_dur[i][core]
        tensor = self.tensor
        spill = self.features.spill
        needed: list[tuple[int, TensorId]] = []
        for x in self.inputs[i]:
            if (x, m) in self.closed:
                if not spill:
                    raise Blocked(
                        f"task {task.id} cannot read tensor {x} in memory {m}: released there"
                    )
            elif (x, m) in self.avail:
                continue
            if not self._sources(x, m) and self._join_option(x, m, 0) is None:
                src = self.anchor[x]
                raise Blocked(
                    f"task {task.id} on core {core} needs tensor {x} from memory {src}, "
                    f"but there is no route from {src} to {m}"
                )
            sources = self._sources(x, m)
            needed.append((min((self.avail[(x, s)] for s in sources), default=0), x))
        out_bytes = sum(tensor[x].size_bytes for x in task.outputs)
        prof = self.mem.get(m)
        if prof is not None:
            new_bytes = out_bytes + sum(tensor[x].size_bytes for _, x in needed)
            if make_room and spill:
                keep = frozenset(self.inputs[i]) | frozenset(task.outputs)
                self._make_room(m, new_bytes, keep)
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
            if self._has_copy(x, m):
                a = self.avail[(x, m)]
                if a > ready:
                    ready = a
        # Inputs move as early as their memory and links allow (measured against CP-SAT on
        # random problems, this beats sending them just in time for the core).
        needed.sort()
        for _, x in needed:
            arrival = self._deliver(x, m, 0)
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
            self.anchor[x] = self.origin[x] = m
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
        placed = self._read_transfers() if self.features.cpsat_space else self.transfers
        transfers = [
            ScheduledTransfer.model_construct(
                tensor=tr.tensor,
                src=tr.src,
                dst=tr.dsts[0] if len(tr.dsts) == 1 else tuple(tr.dsts),
                start=tr.start,
                rate_bytes_per_cycle=None,
            )
            for tr in sorted(placed, key=lambda tr: (tr.start, tr.tensor, tr.dsts[0]))
        ]
        return Schedule(problem=self.p.name, tasks=tuple(tasks), transfers=tuple(transfers))

    def _read_transfers(self) -> list[_Transfer]:
        """The placed transfers without those that made a copy nothing reads (one destination,
        no task reading the tensor in that memory from the transfer's start on, no transfer
        leaving from there after it, no stored tensor's dram copy), until none is left.

        With `Features.cpsat_space` the producer's copy is spilled to its backing store before
        it goes while the tensor is still read (CP-SAT's space sends a tensor only out of its
        source copy, that spill or a staged copy), in case a reader needs it later; when none
        did, CP-SAT's space leaves the spill out, and so does the schedule (dropping it keeps
        the schedule valid: it frees link time and memory)."""
        last_read: dict[tuple[TensorId, MemoryId], int] = {}  # latest start of a task reader
        for x, readers in self.readers.items():
            for i in readers:
                core = self.core_of[i] if i < len(self.core_of) else None
                if core is not None:
                    key = (x, self.mem_of[core])
                    last_read[key] = max(last_read.get(key, -1), self.start[i])
        placed = self.transfers
        while True:
            last_out: dict[tuple[TensorId, MemoryId], int] = {}  # latest start of one out
            for tr in placed:
                key = (tr.tensor, tr.src)
                last_out[key] = max(last_out.get(key, -1), tr.start)
            kept = [
                tr
                for tr in placed
                if len(tr.dsts) != 1
                or (tr.dsts[0] == DRAM and self.tensor[tr.tensor].store)
                or last_read.get((tr.tensor, tr.dsts[0]), -1) >= tr.start
                or last_out.get((tr.tensor, tr.dsts[0]), -1) >= tr.start
            ]
            if len(kept) == len(placed):
                return kept
            placed = kept


def _short_list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


__all__ = ["Blocked", "Placer"]
