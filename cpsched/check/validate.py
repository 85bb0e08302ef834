"""Checking a schedule against docs/validity.md: every violation, with its objects and times.

This module is the executable form of the validity rules. It derives end times, availability
and memory holds from the problem data itself and shares no code with any solver (it does not
call ``Problem.transfer_duration_cycles`` either), so a solver bug cannot hide behind a matching
bug here. :mod:`cpsched.check.metrics` reuses the derived timing and holds (the checking side).

Rule numbers follow docs/validity.md. Rule 3 (availability) is a definition; its failures are
reported
under rule 4 (a task's input) or rule 5 (a transfer's source). A schedule written for another
problem (``schedule.problem != problem.name``) is reported under rule 0, ``problem-name``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from cpsched.model.problem import (
    DRAM,
    TENSOR_KINDS,
    CoreId,
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
    8: "link-exclusivity",
    9: "memory-capacity",
}

TOP_TENSORS = 5  # tensors named in a memory-capacity violation (the largest held at the peak)
MAX_PAIRS_PER_RESOURCE = 1000  # overlapping pairs listed per core or link; the rest are counted


class Violation(BaseModel):
    """One broken rule of docs/validity.md, naming the objects and the times (cycles) involved.

    `times` by rule: 1 the bad start; 2 and 8 the overlap [start, end); 4 and 5
    (available from, start) or (start,) when never available; 6 (end of the awaited task,
    start); 9 overflow (start, end, cycle of its peak) or, for an extra copy, the transfer
    starts (first, again).
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
    """A scheduled transfer of a known tensor between known memories joined by a route."""

    position: int  # index in schedule.transfers
    tensor: TensorId
    src: MemoryId
    dst: MemoryId
    start: int
    end: int
    size_bytes: int
    links: tuple[LinkId, ...]
    energy_pj: float


@dataclass(frozen=True, slots=True)
class _RouteCost:
    bandwidth_num: int  # min bandwidth on the route = num / den bytes per cycle, exactly
    bandwidth_den: int
    latency_cycles: int
    energy_pj_per_byte: float
    links: tuple[LinkId, ...]

    def duration_cycles(self, size_bytes: int) -> int:
        # ceil(size / (num / den)) = ceil(size * den / num), in integers
        return -((-size_bytes * self.bandwidth_den) // self.bandwidth_num) + self.latency_cycles


@dataclass(frozen=True)
class Timing:
    """The schedule in cycles: placed tasks (first occurrence of each) and routed transfers."""

    placed: dict[TaskId, PlacedTask]
    transfers: list[TimedTransfer]


def _route_costs(problem: Problem) -> dict[tuple[MemoryId, MemoryId], _RouteCost]:
    links = {lk.id: lk for lk in problem.links}
    out: dict[tuple[MemoryId, MemoryId], _RouteCost] = {}
    for route in problem.routes:
        on_route = [links[lk] for lk in route.links]
        bandwidth = min(Fraction(repr(lk.bandwidth_bytes_per_cycle)) for lk in on_route)
        out[(route.src, route.dst)] = _RouteCost(
            bandwidth_num=bandwidth.numerator,
            bandwidth_den=bandwidth.denominator,
            latency_cycles=sum(lk.latency_cycles for lk in on_route),
            energy_pj_per_byte=sum(lk.energy_pj_per_byte for lk in on_route),
            links=route.links,
        )
    return out


def timed_schedule(problem: Problem, schedule: Schedule) -> Timing:
    """End times of every task and transfer that can be timed (known ids, allowed core, route).

    Entries that cannot be timed are left out here; :func:`validate` reports them.
    """
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
    routes = _route_costs(problem)
    tensors = problem.tensor_by_id
    transfers: list[TimedTransfer] = []
    for i, tr in enumerate(schedule.transfers):
        tensor = tensors.get(tr.tensor)
        cost = routes.get((tr.src, tr.dst))
        if tensor is None or cost is None:
            continue
        size = tensor.size_bytes
        transfers.append(
            TimedTransfer(
                i,
                tr.tensor,
                tr.src,
                tr.dst,
                tr.start,
                tr.start + cost.duration_cycles(size),
                size,
                cost.links,
                size * cost.energy_pj_per_byte,
            )
        )
    return Timing(placed, transfers)


def source_memories(problem: Problem, timing: Timing) -> dict[TensorId, MemoryId]:
    """Where each tensor originates: its placed producer's memory, or its home."""
    out: dict[TensorId, MemoryId] = {}
    for t in problem.tensors:
        if t.producer is None:
            if t.home is not None:
                out[t.id] = t.home
        else:
            producer = timing.placed.get(t.producer)
            if producer is not None:
                out[t.id] = producer.memory
    return out


def availability(problem: Problem, timing: Timing) -> dict[tuple[TensorId, MemoryId], int]:
    """docs/validity.md, rule 3: the earliest time each tensor is available in each memory."""
    avail: dict[tuple[TensorId, MemoryId], int] = {}

    def offer(key: tuple[TensorId, MemoryId], time: int) -> None:
        old = avail.get(key)
        if old is None or time < old:
            avail[key] = time

    for t in problem.tensors:
        if t.producer is None:
            if t.home is not None:
                offer((t.id, t.home), 0)
        else:
            producer = timing.placed.get(t.producer)
            if producer is not None:
                offer((t.id, producer.memory), producer.end)
    for tr in timing.transfers:
        offer((tr.tensor, tr.dst), tr.end)
    return avail


class Hold(NamedTuple):
    """A copy of a tensor held in a memory on [start, end) (docs/validity.md, rule 9)."""

    tensor: TensorId
    memory: MemoryId
    kind: TensorKind
    size_bytes: int
    start: int  # allocation
    end: int  # release


def memory_holds(problem: Problem, timing: Timing) -> list[Hold]:
    """Every copy held in every memory, with allocation and release (docs/validity.md, rule 9).

    One copy per (tensor, memory): the original (producer's memory or home) or else the
    earliest-starting transfer into that memory; extra copies are rule-9 violations and hold
    nothing here. A release is never earlier than the copy becomes available.
    """
    tensors = problem.tensor_by_id
    # (tensor, memory) -> [allocation, available]
    copies: dict[tuple[TensorId, MemoryId], tuple[int, int]] = {}
    for t in problem.tensors:
        if t.producer is None:
            if t.home is not None:
                copies[(t.id, t.home)] = (0, 0)
        else:
            producer = timing.placed.get(t.producer)
            if producer is not None:
                copies[(t.id, producer.memory)] = (producer.start, producer.end)
    for tr in sorted(timing.transfers, key=lambda x: (x.start, x.position)):
        key = (tr.tensor, tr.dst)
        if key not in copies:
            copies[key] = (tr.start, tr.end)
    release: dict[tuple[TensorId, MemoryId], int] = {k: v[1] for k, v in copies.items()}

    def read(key: tuple[TensorId, MemoryId], end: int) -> None:
        old = release.get(key)
        if old is not None and end > old:
            release[key] = end

    for p in timing.placed.values():
        for tensor in problem.task_by_id[p.task].inputs:
            read((tensor, p.memory), p.end)
    for tr in timing.transfers:
        read((tr.tensor, tr.src), tr.end)
    out: list[Hold] = []
    for (tensor_id, memory), (start, _) in copies.items():
        t = tensors[tensor_id]
        out.append(
            Hold(tensor_id, memory, t.kind, t.size_bytes, start, release[(tensor_id, memory)])
        )
    return out


def held_bytes_timeline(holds: Iterable[Hold]) -> tuple[list[int], dict[TensorKind, list[int]]]:
    """Breakpoints and bytes held per kind on [times[i], times[i+1]) (the last: onwards).

    Zero-length holds hold nothing; intervals are half-open, so a release and an allocation
    at the same cycle never count together.
    """
    deltas: dict[TensorKind, dict[int, int]] = {k: defaultdict(int) for k in TENSOR_KINDS}
    for h in holds:
        if h.end <= h.start or h.size_bytes == 0:
            continue
        d = deltas[h.kind]
        d[h.start] += h.size_bytes
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


def validate(problem: Problem, schedule: Schedule) -> list[Violation]:
    """Every violation of docs/validity.md in `schedule` of `problem` (empty when valid)."""
    timing = timed_schedule(problem, schedule)
    avail = availability(problem, timing)
    sources = source_memories(problem, timing)
    out: list[Violation] = []
    if schedule.problem != problem.name:
        out.append(
            _violation(0, f"the schedule is for problem {schedule.problem!r}, not {problem.name!r}")
        )
    out += _check_assignment(problem, schedule)
    out += _check_core_exclusivity(timing)
    out += _check_inputs(problem, timing, avail)
    out += _check_transfers(problem, schedule, sources, avail)
    out += _check_dependencies(problem, timing)
    out += _check_stores(problem, schedule, sources)
    out += _check_link_exclusivity(timing)
    out += _check_copies(problem, schedule, sources)
    out += _check_memory_capacity(problem, memory_holds(problem, timing))
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


def _check_inputs(
    problem: Problem, timing: Timing, avail: dict[tuple[TensorId, MemoryId], int]
) -> Iterator[Violation]:
    tasks = problem.task_by_id
    for st_id, p in timing.placed.items():
        for tensor in tasks[st_id].inputs:
            when = avail.get((tensor, p.memory))
            if when is None:
                yield _violation(
                    4,
                    f"task {p.task!r} (core {p.core!r}, start {p.start}) reads tensor {tensor!r}, "
                    f"which is never available in memory {p.memory!r}",
                    tasks=(p.task,),
                    tensors=(tensor,),
                    memories=(p.memory,),
                    cores=(p.core,),
                    times=(p.start,),
                )
            elif when > p.start:
                yield _violation(
                    4,
                    f"task {p.task!r} starts at cycle {p.start} on core {p.core!r} but its input "
                    f"{tensor!r} is available in memory {p.memory!r} only from cycle {when}",
                    tasks=(p.task,),
                    tensors=(tensor,),
                    memories=(p.memory,),
                    cores=(p.core,),
                    times=(when, p.start),
                )


def _check_transfers(
    problem: Problem,
    schedule: Schedule,
    sources: dict[TensorId, MemoryId],
    avail: dict[tuple[TensorId, MemoryId], int],
) -> Iterator[Violation]:
    tensors = problem.tensor_by_id
    memories = problem.memory_by_id
    routes = problem.route_by_pair
    for i, tr in enumerate(schedule.transfers):
        what = f"transfers[{i}] ({tr.tensor!r} {tr.src!r}->{tr.dst!r} at cycle {tr.start})"
        bad_ids = False
        if tr.tensor not in tensors:
            yield _violation(5, f"{what}: unknown tensor {tr.tensor!r}", tensors=(tr.tensor,))
            bad_ids = True
        for side, mem in (("src", tr.src), ("dst", tr.dst)):
            if mem not in memories:
                yield _violation(5, f"{what}: unknown {side} memory {mem!r}", memories=(mem,))
                bad_ids = True
        if bad_ids:
            continue
        objects = {"tensors": (tr.tensor,), "memories": (tr.src, tr.dst)}
        if tr.start < 0:
            yield _violation(5, f"{what}: starts before cycle 0", **objects, times=(tr.start,))
        if (tr.src, tr.dst) not in routes:
            yield _violation(
                5, f"{what}: there is no route from {tr.src!r} to {tr.dst!r}", **objects
            )
        origin = sources.get(tr.tensor)
        if origin is not None and tr.src != origin:
            yield _violation(
                5,
                f"{what}: reads a copy; tensor {tr.tensor!r} originates in memory {origin!r} and "
                "transfers must read it there",
                tensors=(tr.tensor,),
                memories=(tr.src, origin),
                times=(tr.start,),
            )
            continue
        when = avail.get((tr.tensor, tr.src))
        if when is None:
            if origin is not None:  # else the producer is unplaced, reported under rule 1
                yield _violation(
                    5,
                    f"{what}: tensor {tr.tensor!r} is never available in {tr.src!r}",
                    **objects,
                    times=(tr.start,),
                )
        elif when > tr.start:
            yield _violation(
                5,
                f"{what}: tensor {tr.tensor!r} is available in {tr.src!r} only from cycle {when}",
                **objects,
                times=(when, tr.start),
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


def _check_stores(
    problem: Problem, schedule: Schedule, sources: dict[TensorId, MemoryId]
) -> Iterator[Violation]:
    stored = {tr.tensor for tr in schedule.transfers if tr.dst == DRAM}
    for t in problem.tensors:
        if not t.store or t.id in stored:
            continue
        origin = sources.get(t.id)
        if origin is not None and origin != DRAM:
            yield _violation(
                7,
                f"tensor {t.id!r} must be stored to {DRAM!r} but is produced in {origin!r} "
                f"and never transferred to {DRAM!r}",
                tensors=(t.id,),
                memories=(origin, DRAM),
            )


def _check_link_exclusivity(timing: Timing) -> Iterator[Violation]:
    by_link: dict[LinkId, list[tuple[int, int, str]]] = defaultdict(list)
    transfers = {str(tr.position): tr for tr in timing.transfers}
    for tr in timing.transfers:
        for lk in tr.links:
            by_link[lk].append((tr.start, tr.end, str(tr.position)))
    for link in sorted(by_link):
        pairs, more = _overlapping_pairs(by_link[link], MAX_PAIRS_PER_RESOURCE)
        for (s1, e1, i), (s2, e2, j) in pairs:
            a, b = transfers[i], transfers[j]
            yield _violation(
                8,
                f"transfers[{i}] ({a.tensor!r} {a.src!r}->{a.dst!r} [{s1}, {e1})) and "
                f"transfers[{j}] ({b.tensor!r} {b.src!r}->{b.dst!r} [{s2}, {e2})) overlap on link "
                f"{link!r} during [{s2}, {min(e1, e2)})",
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


def _check_copies(
    problem: Problem, schedule: Schedule, sources: dict[TensorId, MemoryId]
) -> Iterator[Violation]:
    tensors = problem.tensor_by_id
    memories = problem.memory_by_id
    first: dict[tuple[TensorId, MemoryId], int] = {}
    for i, tr in enumerate(schedule.transfers):
        if tr.tensor not in tensors or tr.dst not in memories:
            continue
        if sources.get(tr.tensor) == tr.dst:
            yield _violation(
                9,
                f"transfers[{i}] brings tensor {tr.tensor!r} into {tr.dst!r} at cycle {tr.start}, "
                "where it already originates; a memory holds at most one copy",
                tensors=(tr.tensor,),
                memories=(tr.dst,),
                times=(tr.start,),
            )
            continue
        key = (tr.tensor, tr.dst)
        if key in first:
            j = first[key]
            yield _violation(
                9,
                f"transfers[{i}] brings tensor {tr.tensor!r} into {tr.dst!r} at cycle {tr.start}, "
                f"but transfers[{j}] already does (at cycle {schedule.transfers[j].start}); "
                "a memory holds at most one copy",
                tensors=(tr.tensor,),
                memories=(tr.dst,),
                times=(schedule.transfers[j].start, tr.start),
            )
        else:
            first[key] = i


def _check_memory_capacity(problem: Problem, holds: list[Hold]) -> Iterator[Violation]:
    by_memory: dict[MemoryId, list[Hold]] = defaultdict(list)
    for h in holds:
        by_memory[h.memory].append(h)
    for memory in problem.memories:
        cap = memory.capacity_bytes
        if cap is None or memory.id not in by_memory:
            continue
        mine = by_memory[memory.id]
        times, by_kind = held_bytes_timeline(mine)
        totals = [sum(col) for col in zip(*by_kind.values(), strict=True)]
        overflows: list[tuple[int, int, int, int]] = []  # (start, end, peak cycle, peak bytes)
        i = 0
        while i < len(times):
            if totals[i] <= cap:
                i += 1
                continue
            j = peak_at = i
            while j < len(times) and totals[j] > cap:
                if totals[j] > totals[peak_at]:
                    peak_at = j
                j += 1
            end = times[j] if j < len(times) else times[-1]
            overflows.append((times[i], end, times[peak_at], totals[peak_at]))
            i = j
        for (start, end, t_peak, peak), held in zip(
            overflows, _held_at(mine, [o[2] for o in overflows]), strict=True
        ):
            top = heapq.nsmallest(TOP_TENSORS, held, key=lambda h: (-h.size_bytes, h.tensor))
            shown = ", ".join(f"{h.tensor!r} {h.size_bytes}" for h in top)
            more = f" and {len(held) - len(top)} more" if len(held) > len(top) else ""
            yield _violation(
                9,
                f"memory {memory.id!r} holds more than its {cap} bytes during [{start}, {end}): "
                f"{peak} bytes at cycle {t_peak} ({shown}{more})",
                tensors=tuple(h.tensor for h in top),
                memories=(memory.id,),
                times=(start, end, t_peak),
            )


def _held_at(holds: list[Hold], times: list[int]) -> Iterator[list[Hold]]:
    """For each of the ascending `times`, the holds with bytes held then (one sweep)."""
    order = sorted(
        (h for h in holds if h.end > h.start and h.size_bytes > 0), key=lambda h: h.start
    )
    active: dict[int, Hold] = {}
    ends: list[tuple[int, int]] = []
    k = 0
    for t in times:
        while k < len(order) and order[k].start <= t:
            active[k] = order[k]
            heapq.heappush(ends, (order[k].end, k))
            k += 1
        while ends and ends[0][0] <= t:
            del active[heapq.heappop(ends)[1]]
        yield list(active.values())
