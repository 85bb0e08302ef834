"""Checking a schedule against docs/validity.md: every violation, with its objects and times.

This module is the executable form of the validity rules (format 2). It derives end times,
rates, copies, readers, releases and memory holds from the problem data itself and shares no
code with any solver (it does not call ``Problem.transfer_duration_cycles`` either), so a solver
bug cannot hide behind a matching bug here. :mod:`cpsched.check.metrics` reuses the derived
timing and copies (the checking side). Rates and durations are exact (fractions).

Rule numbers follow docs/validity.md. Rule 3 (copies, readers and releases) is a definition;
its failures are reported under rule 4 (a task's input), rule 5 (a transfer's source) or rule
9 (two copies held at once, a reader holding an old copy while a new one arrives). A schedule
written for another problem (``schedule.problem != problem.name``) is reported under rule 0,
``problem-name``.
"""

from __future__ import annotations

import gc
import heapq
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

from cpsched.model.problem import (
    DRAM,
    TENSOR_KINDS,
    CoreId,
    Link,
    LinkId,
    MemoryId,
    Problem,
    TaskId,
    TensorId,
    TensorKind,
)
from cpsched.model.schedule import Schedule

RULE_NAMES: dict[int, str] = {
    0: "problem-name",
    1: "assignment",
    2: "core-exclusivity",
    3: "availability",
    4: "inputs",
    5: "transfers",
    6: "dependencies",
    7: "stores",
    8: "links",
    9: "memory-capacity",
}

TOP_TENSORS = 5  # tensors named in a memory-capacity violation (the largest held at the peak)
TOP_TRANSFERS = 5  # transfers named in a bandwidth overflow (the fastest at the peak)
MAX_PAIRS_PER_RESOURCE = 1000  # overlaps listed per core or link; the rest are counted
NEVER_RELEASED = 1 << 62  # the release of a copy that is never released (Hold.end)


class Violation(BaseModel):
    """One broken rule of docs/validity.md, naming the objects and the times (cycles) involved.

    `times` by rule: 1 the bad start; 2 and exclusive-link 8 the overlap [start, end); 4 and
    5 (available from, start) or (start,) when never available; 6 (end of the awaited task,
    start); bandwidth-link 8 and memory-capacity 9 the overflow (start, end, cycle of its
    peak; the end is NEVER_RELEASED when copies never released keep a memory full); two
    copies held at once (9) the overlap (start, end), or (start,) when the older copy is
    never released.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: int
    rule_name: str
    message: str
    tasks: tuple[TaskId, ...] = ()
    tensors: tuple[TensorId, ...] = ()
    memories: tuple[MemoryId, ...] = ()
    links: tuple[LinkId, ...] = ()
    cores: tuple[CoreId, ...] = ()
    times: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"rule {self.rule} ({self.rule_name}): {self.message}"


def _violation(rule: int, message: str, **objects: tuple[str, ...] | tuple[int, ...]) -> Violation:
    return Violation(rule=rule, rule_name=RULE_NAMES[rule], message=message, **objects)


def _number(x: Fraction) -> str:
    """A rate as the user would write it: 4, 2.5, or 1/3 when no short decimal is exact."""
    if x.denominator == 1:
        return str(x.numerator)
    f = float(x)
    return repr(f) if Fraction(repr(f)) == x else f"{x.numerator}/{x.denominator}"


def _moves(src: str, dsts: tuple[str, ...]) -> str:
    """'a'->'b', or 'a'->['b', 'c'] for a multicast."""
    return f"{src!r}->{dsts[0]!r}" if len(dsts) == 1 else f"{src!r}->{list(dsts)!r}"


def exact(value: float) -> Fraction:
    """A bandwidth or rate as an exact fraction of its shortest decimal (0.1 is 1/10)."""
    return Fraction(repr(value))


# --------------------------------------------------------------------------------------------
# Timing: what the schedule means in cycles (shared with cpsched.check.metrics)
# --------------------------------------------------------------------------------------------


class PlacedTask(NamedTuple):
    """A scheduled task whose id is known and whose core is among its options."""

    task: TaskId
    core: CoreId
    memory: MemoryId
    start: int
    end: int
    energy_pj: float


class TimedTransfer(NamedTuple):
    """A scheduled transfer of a known tensor from a known memory to known destinations, each
    joined to it by a route, at a positive rate (docs/schedule.md, "Transfers")."""

    position: int  # index in schedule.transfers
    tensor: TensorId
    src: MemoryId
    dsts: tuple[MemoryId, ...]
    start: int
    end: int
    size_bytes: int
    links: tuple[LinkId, ...]  # the union of the routes' links, each once
    energy_pj: float
    rate: Fraction  # bytes per cycle, exactly

    @property
    def dst(self) -> MemoryId | tuple[MemoryId, ...]:
        """The destination as the schedule writes it: one memory, or several."""
        return self.dsts[0] if len(self.dsts) == 1 else self.dsts


@dataclass(frozen=True, slots=True)
class _Path:
    """What a transfer from one memory to a set of destinations uses (docs/schedule.md)."""

    dsts: tuple[MemoryId, ...]
    links: tuple[LinkId, ...]  # union of the routes' links, in route order
    bandwidth: Fraction  # the least bandwidth in `links`
    latency_cycles: int  # the largest summed latency over the routes
    energy_pj_per_byte: float  # summed over `links`, each once


@dataclass(frozen=True)
class Timing:
    """The schedule in cycles: placed tasks (first occurrence of each) and timed transfers."""

    placed: dict[TaskId, PlacedTask]
    transfers: list[TimedTransfer]


def _path(
    problem: Problem, links: dict[LinkId, Link], src: MemoryId, dsts: tuple[MemoryId, ...]
) -> _Path | None:
    routes = problem.route_by_pair
    used: dict[LinkId, None] = {}
    latency = 0
    for d in dsts:
        route = routes.get((src, d))
        if route is None or d == src:
            return None
        latency = max(latency, sum(links[lk].latency_cycles for lk in route.links))
        used.update(dict.fromkeys(route.links))
    on_path = tuple(used)
    return _Path(
        dsts,
        on_path,
        min(exact(links[lk].bandwidth_bytes_per_cycle) for lk in on_path),
        latency,
        sum(links[lk].energy_pj_per_byte for lk in on_path),
    )


def timed_schedule(problem: Problem, schedule: Schedule) -> Timing:
    """End times of every task and transfer that can be timed (known ids, allowed core, a
    route to every destination, a positive rate). Entries that cannot be timed are left out
    here; :func:`validate` reports them."""
    memory_of_core = {c.id: c.memory for c in problem.cores}
    tasks = problem.task_by_id
    placed: dict[TaskId, PlacedTask] = {}
    for st in schedule.tasks:
        task = tasks.get(st.id)
        if task is None or st.id in placed:
            continue
        for opt in task.options:
            if opt.core == st.core:
                placed[st.id] = PlacedTask(
                    st.id,
                    st.core,
                    memory_of_core[st.core],
                    st.start,
                    st.start + opt.duration_cycles,
                    opt.energy_pj,
                )
                break
    links = problem.link_by_id
    paths: dict[tuple[MemoryId, MemoryId | tuple[MemoryId, ...]], _Path | None] = {}
    rates: dict[float, Fraction] = {}
    tensors = problem.tensor_by_id
    transfers: list[TimedTransfer] = []
    for i, tr in enumerate(schedule.transfers):
        tensor = tensors.get(tr.tensor)
        if tensor is None:
            continue
        key = (tr.src, tr.dst)  # as written: many transfers share one
        if key in paths:
            path = paths[key]
        else:
            path = paths[key] = _path(problem, links, tr.src, tr.dsts)
        if path is None:
            continue
        if tr.rate_bytes_per_cycle is None:
            rate = path.bandwidth
        else:
            given = rates.get(tr.rate_bytes_per_cycle)
            if given is None:
                given = rates[tr.rate_bytes_per_cycle] = exact(tr.rate_bytes_per_cycle)
            if given <= 0:
                continue
            rate = given
        size = tensor.size_bytes
        # ceil(size / (num / den)) = ceil(size * den / num), in integers
        cycles = -((-size * rate.denominator) // rate.numerator) + path.latency_cycles
        transfers.append(
            TimedTransfer(
                i,
                tr.tensor,
                tr.src,
                path.dsts,
                tr.start,
                tr.start + cycles,
                size,
                path.links,
                size * path.energy_pj_per_byte,
                rate,
            )
        )
    return Timing(placed, transfers)


# --------------------------------------------------------------------------------------------
# Copies, readers and releases (docs/validity.md, rule 3)
# --------------------------------------------------------------------------------------------


Reader = tuple[TaskId | None, int]  # a reading task, or (None, position of a transfer)


def reader_text(reader: Reader) -> str:
    """ "task 'Q'" or "transfers[2]"."""
    task, position = reader
    return f"task {task!r}" if task is not None else f"transfers[{position}]"


class Copy:
    """A copy of a tensor in a memory: allocated, available, and held until its release."""

    __slots__ = (
        "alloc",
        "avail",
        "last_reader",
        "last_reader_start",
        "last_transfer_reader",
        "memory",
        "never_released",
        "position",
        "producer",
        "release",
        "released_by",
        "tensor",
    )

    def __init__(
        self,
        tensor: TensorId,
        memory: MemoryId,
        alloc: int,
        avail: int,
        producer: TaskId | None,
        position: int,
        never_released: bool,
    ) -> None:
        self.tensor = tensor
        self.memory = memory
        self.alloc = alloc
        self.avail = avail
        self.producer = producer  # the producing task, for a producer's copy
        self.position = position  # the transfer that made it, or -1 (producer's or home copy)
        self.never_released = never_released  # a stored tensor's or a home copy in dram
        self.release = avail  # the latest end among its readers, or `avail` when none
        self.released_by: Reader | None = None  # the reader that ends last
        self.last_reader: Reader | None = None  # the reader that starts last, and its start
        self.last_reader_start = -1
        self.last_transfer_reader: tuple[int, int] | None = None  # (end, position), last-ending

    @property
    def held_until(self) -> int:
        """The release, or NEVER_RELEASED."""
        return NEVER_RELEASED if self.never_released else self.release

    @property
    def origin(self) -> str:
        """What made it: "task 'P'" (its producer), "its home" or "transfers[3]"."""
        if self.position >= 0:
            return f"transfers[{self.position}]"
        return "its home" if self.producer is None else f"task {self.producer!r}"


class MissingCopy(NamedTuple):
    """A reader (task or transfer) that finds no copy available in its memory at its start."""

    task: TaskId | None  # the reading task, or None for a transfer
    position: int  # the reading transfer, or -1 for a task
    tensor: TensorId
    memory: MemoryId
    start: int
    first_available: int | None  # when a copy becomes available there later, if ever


@dataclass
class Copies:
    """Every copy by (tensor, memory), and every read that found none."""

    by_key: dict[tuple[TensorId, MemoryId], list[Copy]] = field(default_factory=dict)
    missing: list[MissingCopy] = field(default_factory=list)

    def all(self) -> Iterator[Copy]:
        for copies in self.by_key.values():
            yield from copies


def derive_copies(problem: Problem, timing: Timing) -> Copies:
    """docs/validity.md, rule 3: the copies made by producers, homes and transfers; which copy
    every reader reads (the one that most recently became available at or before its start);
    and the release of each copy (the latest end among its readers)."""
    out = Copies()
    by_key = out.by_key
    tensors = problem.tensor_by_id
    for t in problem.tensors:
        if t.producer is None:
            if t.home is not None:
                by_key[(t.id, t.home)] = [Copy(t.id, t.home, 0, 0, None, -1, t.home == DRAM)]
        else:
            p = timing.placed.get(t.producer)
            if p is not None:
                stays = t.store and p.memory == DRAM
                by_key[(t.id, p.memory)] = [Copy(t.id, p.memory, p.start, p.end, p.task, -1, stays)]
    for tr in timing.transfers:
        store = tensors[tr.tensor].store
        for d in tr.dsts:
            c = Copy(tr.tensor, d, tr.start, tr.end, None, tr.position, store and d == DRAM)
            key = (tr.tensor, d)
            mine = by_key.get(key)
            if mine is None:
                by_key[key] = [c]
            else:
                mine.append(c)
    avails: dict[tuple[TensorId, MemoryId], list[int]] = {}
    for key, copies in by_key.items():
        if len(copies) > 1:
            copies.sort(key=lambda c: (c.avail, c.alloc, c.position))
            avails[key] = [c.avail for c in copies]

    missing = out.missing

    def read(
        reader: Reader, tensor: TensorId, memory: MemoryId, start: int, end: int
    ) -> Copy | None:
        key = (tensor, memory)
        copies = by_key.get(key)
        if copies is None:
            missing.append(MissingCopy(reader[0], reader[1], tensor, memory, start, None))
            return None
        if len(copies) == 1:
            c = copies[0]
            if c.avail > start:
                missing.append(MissingCopy(reader[0], reader[1], tensor, memory, start, c.avail))
                return None
        else:
            k = bisect_right(avails[key], start) - 1
            if k < 0:
                first = copies[0].avail
                missing.append(MissingCopy(reader[0], reader[1], tensor, memory, start, first))
                return None
            c = copies[k]
        if c.released_by is None or end > c.release:
            if end > c.release:
                c.release = end
            c.released_by = reader
        if c.last_reader is None or start > c.last_reader_start:
            c.last_reader, c.last_reader_start = reader, start
        return c

    task_by_id = problem.task_by_id
    for p in timing.placed.values():
        for tensor in task_by_id[p.task].inputs:
            read((p.task, -1), tensor, p.memory, p.start, p.end)
    for tr in timing.transfers:
        source = read((None, tr.position), tr.tensor, tr.src, tr.start, tr.end)
        if source is not None and (
            source.last_transfer_reader is None or tr.end > source.last_transfer_reader[0]
        ):
            source.last_transfer_reader = (tr.end, tr.position)
    return out


class Hold(NamedTuple):
    """A copy of a tensor held in a memory on [start, end) (docs/validity.md, rule 9); `end` is
    NEVER_RELEASED for a copy never released (a stored tensor's or a home copy in dram)."""

    tensor: TensorId
    memory: MemoryId
    kind: TensorKind
    size_bytes: int
    start: int  # allocation
    end: int  # release


def holds_of(problem: Problem, copies: Copies, *, bounded_only: bool = False) -> list[Hold]:
    """Every copy as a hold (allocation to release); with `bounded_only`, only those in
    memories with a capacity."""
    tensors = problem.tensor_by_id
    bounded = {m.id for m in problem.memories if m.capacity_bytes is not None}
    out: list[Hold] = []
    for (tensor, memory), mine in copies.by_key.items():
        if bounded_only and memory not in bounded:
            continue
        t = tensors[tensor]
        for c in mine:
            end = NEVER_RELEASED if c.never_released else c.release
            out.append(Hold(tensor, memory, t.kind, t.size_bytes, c.alloc, end))
    return out


def memory_holds(problem: Problem, timing: Timing) -> list[Hold]:
    """Every copy held in every memory, from its allocation to its release (docs/validity.md,
    rules 3 and 9); several copies of one tensor in one memory are each a hold."""
    return holds_of(problem, derive_copies(problem, timing))


def held_bytes_timeline(holds: Iterable[Hold]) -> tuple[list[int], dict[TensorKind, list[int]]]:
    """Breakpoints and bytes held per kind on [times[i], times[i+1]) (the last: onwards).

    Zero-length holds hold nothing; intervals are half-open, so a release and an allocation
    at the same cycle never count together. A copy never released is held from its
    allocation on.
    """
    deltas: dict[TensorKind, dict[int, int]] = {k: defaultdict(int) for k in TENSOR_KINDS}
    for h in holds:
        if h.end <= h.start or h.size_bytes == 0:
            continue
        d = deltas[h.kind]
        d[h.start] += h.size_bytes
        if h.end != NEVER_RELEASED:
            d[h.end] -= h.size_bytes
    times = sorted(set().union(*deltas.values()))
    series: dict[TensorKind, list[int]] = {}
    for kind, d in deltas.items():
        current = 0
        values = series[kind] = []
        for t in times:
            current += d.get(t, 0)
            values.append(current)
    return times, series


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (not reference counting) for a block that
    allocates many objects without cycles, such as checking a large schedule: otherwise its
    full collections walk the whole problem again and again (nearly half of the time on
    10,000 tasks). Restores the collector as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate(problem: Problem, schedule: Schedule) -> list[Violation]:
    """Every violation of docs/validity.md in `schedule` of `problem` (empty when valid)."""
    with collector_paused():
        return _validate(problem, schedule)


def _validate(problem: Problem, schedule: Schedule) -> list[Violation]:
    timing = timed_schedule(problem, schedule)
    copies = derive_copies(problem, timing)
    out: list[Violation] = []
    if schedule.problem != problem.name:
        out.append(
            _violation(0, f"the schedule is for problem {schedule.problem!r}, not {problem.name!r}")
        )
    out += _check_assignment(problem, schedule)
    out += _check_core_exclusivity(timing)
    out += _check_inputs(timing, copies)
    out += _check_transfers(problem, schedule, timing, copies)
    out += _check_dependencies(problem, timing)
    out += _check_stores(problem, schedule, timing)
    out += _check_links(problem, timing)
    out += _check_copies(problem, copies)
    out += _check_memory_capacity(problem, copies)
    out.sort(key=lambda v: v.rule)  # stable: within a rule, in the order found
    return out


def _check_assignment(problem: Problem, schedule: Schedule) -> Iterator[Violation]:
    tasks = problem.task_by_id
    cores = problem.core_by_id
    seen: dict[TaskId, int] = {}
    core_of: dict[TaskId, CoreId] = {}
    for i, st in enumerate(schedule.tasks):
        task = tasks.get(st.id)
        if task is None:
            yield _violation(1, f"tasks[{i}]: unknown task {st.id!r}", tasks=(st.id,))
            continue
        if st.id in seen:
            yield _violation(
                1,
                f"tasks[{i}]: task {st.id!r} is scheduled again (first at tasks[{seen[st.id]}]); "
                "every task appears exactly once",
                tasks=(st.id,),
                times=(st.start,),
            )
            continue
        seen[st.id] = i
        core_of[st.id] = st.core
        if st.core not in cores:
            yield _violation(
                1,
                f"task {st.id!r} is on unknown core {st.core!r}",
                tasks=(st.id,),
                cores=(st.core,),
            )
        elif all(opt.core != st.core for opt in task.options):
            allowed = ", ".join(repr(o.core) for o in task.options)
            yield _violation(
                1,
                f"task {st.id!r} is on core {st.core!r}, not among its options ({allowed})",
                tasks=(st.id,),
                cores=(st.core,),
            )
        if st.start < 0:
            yield _violation(
                1,
                f"task {st.id!r} starts at cycle {st.start}, before 0",
                tasks=(st.id,),
                times=(st.start,),
            )
    for task in problem.tasks:
        if task.id not in seen:
            yield _violation(1, f"task {task.id!r} is not scheduled", tasks=(task.id,))
    for g, group in enumerate(problem.groups):
        used = sorted({core_of[t] for t in group if t in core_of})
        if len(used) > 1:
            members = tuple(t for t in group if t in core_of)
            yield _violation(
                1,
                f"group {g} is split over cores {', '.join(map(repr, used))}; its tasks must share "
                "one core",
                tasks=members,
                cores=tuple(used),
            )


_Interval = tuple[int, int, str]  # (start, end, key)


def _overlapping_pairs(
    intervals: list[_Interval], limit: int
) -> tuple[list[tuple[_Interval, _Interval]], int]:
    """Overlapping pairs of non-empty half-open intervals, by start: the first `limit` of them,
    and how many more there are (counted, not listed, so a pile-up stays O(n log n))."""
    active: list[tuple[int, int, str]] = []  # heap of (end, start, key)
    pairs: list[tuple[_Interval, _Interval]] = []
    more = 0
    for item in sorted(intervals):
        start, end, _ = item
        if end <= start:
            continue
        while active and active[0][0] <= start:
            heapq.heappop(active)
        if len(pairs) < limit:
            for e, s, k in sorted(active, key=lambda a: (a[1], a[0], a[2])):
                if len(pairs) < limit:
                    pairs.append(((s, e, k), item))
                else:
                    more += 1
        else:
            more += len(active)
        heapq.heappush(active, (end, start, item[2]))
    return pairs, more


def _check_core_exclusivity(timing: Timing) -> Iterator[Violation]:
    by_core: dict[CoreId, list[tuple[int, int, str]]] = defaultdict(list)
    for p in timing.placed.values():
        by_core[p.core].append((p.start, p.end, p.task))
    for core in sorted(by_core):
        pairs, more = _overlapping_pairs(by_core[core], MAX_PAIRS_PER_RESOURCE)
        for (s1, e1, a), (s2, e2, b) in pairs:
            yield _violation(
                2,
                f"tasks {a!r} [{s1}, {e1}) and {b!r} [{s2}, {e2}) overlap on core {core!r} "
                f"during [{s2}, {min(e1, e2)})",
                tasks=(TaskId(a), TaskId(b)),
                cores=(core,),
                times=(s2, min(e1, e2)),
            )
        if more:
            yield _violation(
                2,
                f"and {more} more overlapping pairs of tasks on core {core!r} (not listed)",
                cores=(core,),
            )


def _check_inputs(timing: Timing, copies: Copies) -> Iterator[Violation]:
    placed = timing.placed
    for m in copies.missing:
        if m.task is None:
            continue
        p = placed[m.task]
        if m.first_available is None:
            yield _violation(
                4,
                f"task {p.task!r} (core {p.core!r}, start {p.start}) reads tensor {m.tensor!r}, "
                f"which is never available in memory {p.memory!r}",
                tasks=(p.task,),
                tensors=(m.tensor,),
                memories=(p.memory,),
                cores=(p.core,),
                times=(p.start,),
            )
        else:
            yield _violation(
                4,
                f"task {p.task!r} starts at cycle {p.start} on core {p.core!r} but its input "
                f"{m.tensor!r} is available in memory {p.memory!r} only from cycle "
                f"{m.first_available}",
                tasks=(p.task,),
                tensors=(m.tensor,),
                memories=(p.memory,),
                cores=(p.core,),
                times=(m.first_available, p.start),
            )


def _check_transfers(
    problem: Problem, schedule: Schedule, timing: Timing, copies: Copies
) -> Iterator[Violation]:
    tensors = problem.tensor_by_id
    memories = problem.memory_by_id
    routes = problem.route_by_pair
    links = problem.link_by_id
    missing = {m.position: m for m in copies.missing if m.task is None}
    for i, tr in enumerate(schedule.transfers):
        dsts = tr.dsts
        if (
            tr.rate_bytes_per_cycle is None
            and len(dsts) == 1
            and tr.start >= 0
            and i not in missing
            and tr.tensor in tensors
            and (tr.src, dsts[0]) in routes
        ):
            continue  # the common case, with nothing to report (a route joins known memories)
        what = f"transfers[{i}] ({tr.tensor!r} {_moves(tr.src, dsts)} at cycle {tr.start})"
        bad_ids = False
        if tr.tensor not in tensors:
            yield _violation(5, f"{what}: unknown tensor {tr.tensor!r}", tensors=(tr.tensor,))
            bad_ids = True
        for side, mem in (("src", tr.src), *(("dst", d) for d in dsts)):
            if mem not in memories:
                yield _violation(5, f"{what}: unknown {side} memory {mem!r}", memories=(mem,))
                bad_ids = True
        if bad_ids:
            continue
        objects = {"tensors": (tr.tensor,), "memories": (tr.src, *dsts)}
        if tr.start < 0:
            yield _violation(5, f"{what}: starts before cycle 0", **objects, times=(tr.start,))
        if tr.src in dsts:
            yield _violation(
                5,
                f"{what}: its source {tr.src!r} is among its destinations",
                **objects,
                times=(tr.start,),
            )
        unrouted = [d for d in dsts if d != tr.src and (tr.src, d) not in routes]
        for d in unrouted:
            yield _violation(
                5,
                f"{what}: there is no route from {tr.src!r} to {d!r}",
                tensors=(tr.tensor,),
                memories=(tr.src, d),
            )
        if tr.src in dsts or unrouted:
            continue
        used: dict[LinkId, None] = {}
        for d in dsts:
            used.update(dict.fromkeys(routes[(tr.src, d)].links))
        if len(dsts) > 1:
            single = [lk for lk in used if not links[lk].multicast]
            if single:
                yield _violation(
                    5,
                    f"{what}: a multicast to {len(dsts)} memories uses link"
                    f"{'s' if len(single) > 1 else ''} {', '.join(map(repr, single))}, which "
                    "cannot multicast (multicast: false); send one transfer per destination",
                    **objects,
                    links=tuple(single),
                    times=(tr.start,),
                )
        if tr.rate_bytes_per_cycle is not None:
            rate = exact(tr.rate_bytes_per_cycle)
            least = min(used, key=lambda lk: exact(links[lk].bandwidth_bytes_per_cycle))
            bandwidth = exact(links[least].bandwidth_bytes_per_cycle)
            if rate <= 0:
                yield _violation(
                    5,
                    f"{what}: rate {_number(rate)} bytes/cycle; a rate must be positive",
                    **objects,
                    times=(tr.start,),
                )
                continue
            if rate > bandwidth:
                yield _violation(
                    5,
                    f"{what}: rate {_number(rate)} bytes/cycle exceeds the bandwidth of link "
                    f"{least!r}, {_number(bandwidth)} bytes/cycle, the least on its route",
                    **objects,
                    links=(least,),
                    times=(tr.start,),
                )
        m = missing.get(i)
        if m is None:
            continue
        if m.first_available is None:
            t = tensors[tr.tensor]
            if t.producer is not None and t.producer not in timing.placed:
                continue  # the producer is unplaced, reported under rule 1
            yield _violation(
                5,
                f"{what}: tensor {tr.tensor!r} has no copy in {tr.src!r} to read "
                "(never available there)",
                **objects,
                times=(tr.start,),
            )
        else:
            yield _violation(
                5,
                f"{what}: tensor {tr.tensor!r} is available in {tr.src!r} only from cycle "
                f"{m.first_available}",
                **objects,
                times=(m.first_available, tr.start),
            )


def _check_dependencies(problem: Problem, timing: Timing) -> Iterator[Violation]:
    placed = timing.placed
    for task in problem.tasks:
        p = placed.get(task.id)
        if p is None:
            continue
        for before in task.after:
            q = placed.get(before)
            if q is not None and q.end > p.start:
                yield _violation(
                    6,
                    f"task {task.id!r} starts at cycle {p.start} but must wait for task "
                    f"{before!r}, which ends at cycle {q.end}",
                    tasks=(before, task.id),
                    times=(q.end, p.start),
                )
    for b, barrier in enumerate(problem.barriers):
        ends = [(placed[t].end, t) for t in barrier.before if t in placed]
        if not ends:
            continue
        last_end, last = max(ends)
        for t in barrier.after:
            p = placed.get(t)
            if p is not None and p.start < last_end:
                yield _violation(
                    6,
                    f"barrier {b}: task {t!r} starts at cycle {p.start} before task {last!r} "
                    f"ends at cycle {last_end}",
                    tasks=(last, t),
                    times=(last_end, p.start),
                )


def _check_stores(problem: Problem, schedule: Schedule, timing: Timing) -> Iterator[Violation]:
    stored = {tr.tensor for tr in schedule.transfers if DRAM in tr.dsts}
    for t in problem.tensors:
        if not t.store or t.id in stored:
            continue
        if t.producer is None:
            origin = t.home
        else:
            p = timing.placed.get(t.producer)
            origin = None if p is None else p.memory
        if origin is not None and origin != DRAM:
            yield _violation(
                7,
                f"tensor {t.id!r} must be stored to {DRAM!r} but is produced in {origin!r} "
                f"and never transferred to {DRAM!r}",
                tensors=(t.id,),
                memories=(origin, DRAM),
            )


def _check_links(problem: Problem, timing: Timing) -> Iterator[Violation]:
    by_link: dict[LinkId, list[TimedTransfer]] = defaultdict(list)
    for tr in timing.transfers:
        if tr.end > tr.start:
            for lk in tr.links:
                by_link[lk].append(tr)
    links = problem.link_by_id
    for link in sorted(by_link):
        if links[link].sharing == "exclusive":
            yield from _check_exclusive_link(link, by_link[link])
        else:
            yield from _check_bandwidth_link(links[link], by_link[link])


def _check_exclusive_link(link: LinkId, transfers: list[TimedTransfer]) -> Iterator[Violation]:
    by_position = {str(tr.position): tr for tr in transfers}
    intervals = [(tr.start, tr.end, str(tr.position)) for tr in transfers]
    pairs, more = _overlapping_pairs(intervals, MAX_PAIRS_PER_RESOURCE)
    for (s1, e1, i), (s2, e2, j) in pairs:
        a, b = by_position[i], by_position[j]
        yield _violation(
            8,
            f"transfers[{i}] ({a.tensor!r} {_moves(a.src, a.dsts)} [{s1}, {e1})) and "
            f"transfers[{j}] ({b.tensor!r} {_moves(b.src, b.dsts)} [{s2}, {e2})) overlap on "
            f"exclusive link {link!r} during [{s2}, {min(e1, e2)})",
            tensors=(a.tensor, b.tensor),
            links=(link,),
            times=(s2, min(e1, e2)),
        )
    if more:
        yield _violation(
            8,
            f"and {more} more overlapping pairs of transfers on link {link!r} (not listed)",
            links=(link,),
        )


def _check_bandwidth_link(link: Link, transfers: list[TimedTransfer]) -> Iterator[Violation]:
    """At every cycle the rates of the transfers on `link` add up to at most its bandwidth:
    one sweep over the starts and ends, in integers scaled by the rates' common denominator."""
    bandwidth = exact(link.bandwidth_bytes_per_cycle)
    rates = {id(tr.rate): tr.rate for tr in transfers}  # few distinct objects: one per path
    if max(rates.values()) * len(transfers) <= bandwidth:
        return  # even all at once they fit
    scale = bandwidth.denominator
    for r in rates.values():
        scale = math.lcm(scale, r.denominator)
    cap = bandwidth.numerator * (scale // bandwidth.denominator)
    units_of = {k: r.numerator * (scale // r.denominator) for k, r in rates.items()}
    deltas: dict[int, int] = defaultdict(int)
    for tr in transfers:
        units = units_of[id(tr.rate)]
        deltas[tr.start] += units
        deltas[tr.end] -= units
    overflows: list[tuple[int, int, int, int]] = []  # (start, end, peak cycle, peak units)
    total = 0
    begin: int | None = None
    peak = peak_at = 0
    more = 0
    for t in sorted(deltas):
        total += deltas[t]
        if total > cap:
            if begin is None:
                begin, peak, peak_at = t, total, t
            elif total > peak:
                peak, peak_at = total, t
        elif begin is not None:
            if len(overflows) < MAX_PAIRS_PER_RESOURCE:
                overflows.append((begin, t, peak_at, peak))
            else:
                more += 1
            begin = None
    intervals = [(tr.start, tr.end, tr) for tr in transfers]
    for (start, end, t_peak, units), active in zip(
        overflows, _active_at(intervals, [o[2] for o in overflows]), strict=True
    ):
        top = heapq.nsmallest(TOP_TRANSFERS, active, key=lambda tr: (-tr.rate, tr.position))
        shown = ", ".join(
            f"transfers[{tr.position}] ({tr.tensor!r} {_moves(tr.src, tr.dsts)} "
            f"[{tr.start}, {tr.end}) at {_number(tr.rate)})"
            for tr in top
        )
        others = f" and {len(active) - len(top)} more" if len(active) > len(top) else ""
        yield _violation(
            8,
            f"link {link.id!r} carries {_number(Fraction(units, scale))} bytes/cycle at cycle "
            f"{t_peak}, more than its bandwidth of {_number(bandwidth)}, during [{start}, {end}): "
            f"{shown}{others}",
            tensors=tuple(dict.fromkeys(tr.tensor for tr in top)),
            links=(link.id,),
            times=(start, end, t_peak),
        )
    if more:
        yield _violation(
            8,
            f"and {more} more intervals over the bandwidth of link {link.id!r} (not listed)",
            links=(link.id,),
        )


def _check_copies(problem: Problem, copies: Copies) -> Iterator[Violation]:
    """Rule 9: two copies of one tensor are never held in one memory at the same time."""
    for (tensor, memory), mine in copies.by_key.items():
        if len(mine) < 2:
            continue
        holder: Copy | None = None
        for c in sorted(mine, key=lambda c: (c.alloc, c.avail, c.position)):
            if c.held_until <= c.alloc:
                continue  # held on an empty interval: holds nothing
            if holder is not None and c.alloc < holder.held_until:
                yield _two_copies(tensor, memory, holder, c)
            if holder is None or c.held_until > holder.held_until:
                holder = c


def _held_text(c: Copy) -> str:
    return (
        f"held from {c.alloc}, never released"
        if c.never_released
        else (f"held [{c.alloc}, {c.release})")
    )


def _two_copies(tensor: TensorId, memory: MemoryId, old: Copy, new: Copy) -> Violation:
    start = new.alloc
    end = min(old.held_until, new.held_until)
    during = f"from cycle {start} on" if end == NEVER_RELEASED else f"during [{start}, {end})"
    why = ""
    if old.never_released:
        why = f"; the copy in {DRAM!r} of a stored or home tensor is never released"
    elif old.last_reader is not None and old.last_reader_start >= new.alloc:
        why = (
            f"; {reader_text(old.last_reader)} starts at cycle {old.last_reader_start}, after "
            f"the new copy is allocated but before it is available (cycle {new.avail}), so it "
            "reads the old copy and holds it"
        )
    elif old.released_by is not None:
        why = f"; {reader_text(old.released_by)} reads the old copy until cycle {old.release}"
    return _violation(
        9,
        f"tensor {tensor!r} has two copies held in memory {memory!r} {during}: the copy from "
        f"{old.origin} ({_held_text(old)}) and the copy from {new.origin} ({_held_text(new)})"
        f"{why}; a memory holds one copy of a tensor at a time",
        tensors=(tensor,),
        memories=(memory,),
        times=(start,) if end == NEVER_RELEASED else (start, end),
    )


def _check_memory_capacity(problem: Problem, copies: Copies) -> Iterator[Violation]:
    """Rule 9: in every bounded memory, at every time, the copies held fit its capacity (one
    sweep over allocations and releases per memory; the copies are listed only on overflow)."""
    bounded = {m.id for m in problem.memories if m.capacity_bytes is not None}
    tensors = problem.tensor_by_id
    deltas: dict[MemoryId, dict[int, int]] = {m: defaultdict(int) for m in bounded}
    for (tensor_id, memory_id), held in copies.by_key.items():
        d = deltas.get(memory_id)
        size = tensors[tensor_id].size_bytes
        if d is None or size == 0:
            continue
        for c in held:
            end = NEVER_RELEASED if c.never_released else c.release
            if end > c.alloc:
                d[c.alloc] += size
                if end != NEVER_RELEASED:
                    d[end] -= size
    for memory in problem.memories:
        cap = memory.capacity_bytes
        if cap is None:
            continue
        d = deltas[memory.id]
        overflows: list[tuple[int, int, int, int]] = []  # (start, end, peak cycle, peak bytes)
        total = 0
        begin: int | None = None
        peak = peak_at = 0
        for t in sorted(d):
            total += d[t]
            if total > cap:
                if begin is None:
                    begin, peak, peak_at = t, total, t
                elif total > peak:
                    peak, peak_at = total, t
            elif begin is not None:
                overflows.append((begin, t, peak_at, peak))
                begin = None
        if begin is not None:  # copies never released keep it over its capacity for good
            overflows.append((begin, NEVER_RELEASED, peak_at, peak))
        if not overflows:
            continue
        mine = [
            (c.alloc, c.held_until, (c.tensor, tensors[c.tensor].size_bytes))
            for (_, m), of_tensor in copies.by_key.items()
            if m == memory.id
            for c in of_tensor
            if tensors[c.tensor].size_bytes > 0
        ]
        for (start, end, t_peak, total), held_then in zip(
            overflows, _active_at(mine, [o[2] for o in overflows]), strict=True
        ):
            top = heapq.nsmallest(TOP_TENSORS, held_then, key=lambda h: (-h[1], h[0]))
            shown = ", ".join(f"{tensor!r} {size}" for tensor, size in top)
            more = f" and {len(held_then) - len(top)} more" if len(held_then) > len(top) else ""
            during = (
                f"from cycle {start} on" if end == NEVER_RELEASED else f"during [{start}, {end})"
            )
            yield _violation(
                9,
                f"memory {memory.id!r} holds more than its {cap} bytes {during}: "
                f"{total} bytes at cycle {t_peak} ({shown}{more})",
                tensors=tuple(tensor for tensor, _ in top),
                memories=(memory.id,),
                times=(start, end, t_peak),
            )


_T = TypeVar("_T")


def _active_at(intervals: list[tuple[int, int, _T]], times: list[int]) -> Iterator[list[_T]]:
    """For each of the ascending `times`, the items whose non-empty [start, end) holds it
    (one sweep)."""
    order = sorted((iv for iv in intervals if iv[1] > iv[0]), key=lambda iv: iv[0])
    active: dict[int, _T] = {}
    ends: list[tuple[int, int]] = []
    k = 0
    for t in times:
        while k < len(order) and order[k][0] <= t:
            active[k] = order[k][2]
            heapq.heappush(ends, (order[k][1], k))
            k += 1
        while ends and ends[0][0] <= t:
            del active[heapq.heappop(ends)[1]]
        yield list(active.values())
