"""The resources of one heuristic run and the placement of one task with its transfers.

Placement follows the exact docs/validity.md semantics:

- one transfer per (tensor, destination memory), always from the tensor's source memory
  (its producer's memory or its home), over the route's links, in the earliest window in which
  every link is free and the destination memory has room;
- `store: true` tensors are sent to `dram` once produced, right after the next task has taken the
  links its inputs need (inputs are urgent, stores are not);
- memory holds as in §4.9: a produced copy from its producer's start, a transferred copy from
  its transfer's start, a home copy from 0, each until its last reader or outgoing transfer
  ends. While some reader is still unplaced a copy counts as held forever, so every placement
  is checked against an upper bound of the final memory profile and can never overflow it;
- a task whose memory cannot hold its new inputs and outputs is Blocked, with which memory is
  full and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cpsched.heuristics.prepare import Prepared
from cpsched.heuristics.timeline import IntervalTimeline, MemoryProfile, common_window
from cpsched.model.problem import DRAM, CoreId, MemoryId, TensorId
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
        """Cycles of a transfer of `tensor` from `src` to `dst` (docs/schedule.md; cached by the
        problem, shared by every run)."""
        return self.p.transfer_duration_cycles(tensor, src, dst)

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
        """Release the copies of a tensor no unplaced reader can still need (docs/validity.md).

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


def _short_list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


__all__ = ["Blocked", "Placer"]
