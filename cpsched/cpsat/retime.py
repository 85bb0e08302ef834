"""The retiming model: a schedule's structure held fixed, its times left to CP-SAT.

A schedule decides two things: *what* happens (each task's core; each transfer's tensor,
source, destinations and rate; so which copies each memory gets and which copy each reader
reads) and *when*. The full model (:mod:`cpsched.cpsat.model`) searches both over a restricted
space that a heuristic schedule may lie outside (several reloads of one tensor into one memory,
a first copy fetched from a spilled one; see docs/results.md). The retiming model keeps the
*what* of a given schedule exactly, so the schedule is always one of its solutions, and leaves
every start free: tasks and transfers may move and change order on their cores and links, as
long as the docs/validity.md rules hold for the structure kept:

- a reader (a task reading an input, a transfer reading its source) reads the same copy as in
  the given schedule: it starts once that copy is available and before the memory's next copy
  of the tensor is;
- the copies of a tensor in a memory keep their order (the validator's: by availability,
  then allocation, then the schedule's order), each allocated no earlier than the previous
  one's release (two copies are never held at once; a copy made in no time that nobody reads
  holds nothing); a copy is held from its allocation to its release, which is at least its
  availability and every reader's end (the `dram` copies of stored and home tensors are held
  to the end);
- rules 2, 6 and 8 as in the full model (cores and exclusive links one at a time, dependencies
  and barriers, bandwidth links a cumulative of exact integer rates), and rule 9's capacity as a
  cumulative of the holds per bounded memory.

Release variables are only bounded below, so a solution may hold a copy longer than the
validator does: capacity is checked against at least the real holds, and every solution,
timed as written, is valid. Energy does not depend on times, so it is the given schedule's.

Only latency and memory peaks can change; :func:`build_retime` minimizes latency and keeps
each bounded memory's peak (and its activation peak) at most the given schedule's, so the
schedules it finds are never worse in any metric. What it cannot do: move a task to another
core or change a transfer (:mod:`cpsched.cpsat.lns` uses it for the large-neighbourhood
search on schedules of real sizes).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from ortools.sat.python import cp_model

from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, Problem, TaskId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer


def _exact(value: float) -> Fraction:
    return Fraction(repr(value))


def task_item(task: TaskId) -> str:
    """The key of a task among the items (tasks and transfers) of a schedule."""
    return f"task:{task}"


def move_item(index: int) -> str:
    """The key of the schedule's `index`-th transfer among its items."""
    return f"move:{index}"


@dataclass(frozen=True)
class _Move:
    """A transfer of the given schedule, timed by its derived duration."""

    index: int
    transfer: ScheduledTransfer
    duration: int
    links: tuple[LinkId, ...]
    rate: Fraction


@dataclass
class _Copy:
    """One copy of a tensor in a memory, made by a task (its producer), its home or a transfer."""

    tensor: TensorId
    memory: MemoryId
    size: int
    maker: str | None  # the item (:func:`task_item`, :func:`move_item`) that makes it; None: home
    alloc_at: int  # in the given schedule
    avail_at: int
    position: int  # the transfer's index in the schedule; -1 for a home or producer's copy
    release_at: int = 0  # in the given schedule: availability, or the last reader's end
    readers: list[str] = field(default_factory=list)  # the items that read it


@dataclass(frozen=True)
class Release:
    """The release variable of the `k`-th copy of `tensor` in `memory` (in the validator's
    order) and what bounds it below: the end of the item that makes the copy (None: a
    home copy, available at 0) and the ends of its readers, each an item's start and length;
    `never`: the copy is held to the horizon (its release is fixed there)."""

    tensor: TensorId
    memory: MemoryId
    k: int
    var: cp_model.IntVar
    maker: tuple[cp_model.IntVar, int] | None
    readers: tuple[tuple[cp_model.IntVar, int], ...]
    never: bool

    def value(self, starts: dict[cp_model.IntVar, int], horizon: int) -> int:
        """The earliest release that `starts` allow (the validator's own release)."""
        if self.never:
            return horizon
        ends = [starts[v] + d for v, d in self.readers]
        if self.maker is not None:
            ends.append(starts[self.maker[0]] + self.maker[1])
        return max(ends, default=0)

    def items(self) -> list[cp_model.IntVar]:
        """The start variables of the maker and the readers."""
        out = [v for v, _ in self.readers]
        return out if self.maker is None else [self.maker[0], *out]


@dataclass
class Retime:
    """The retiming model of one schedule, and the variables a caller needs."""

    problem: Problem
    schedule: Schedule
    model: cp_model.CpModel
    task_start: dict[TaskId, cp_model.IntVar]
    task_core: dict[TaskId, CoreId]
    task_duration: dict[TaskId, int]
    move_start: list[cp_model.IntVar]
    moves: list[_Move]
    makespan: cp_model.IntVar
    # the intervals on one core or one exclusive link, by resource, in the given schedule's order
    chains: dict[str, list[tuple[cp_model.IntVar, int]]]
    releases: list[Release]
    horizon: int

    def schedule_from(
        self, values: Sequence[int] | None = None, solver: cp_model.CpSolver | None = None
    ) -> Schedule:
        """The schedule of a solution: from `solver`'s last one, or from raw `values` (in the
        model's variable order)."""

        def value(var: cp_model.IntVar) -> int:
            if values is not None:
                return int(values[var.index])
            assert solver is not None
            return int(solver.value(var))

        tasks = tuple(
            ScheduledTask(id=t, core=self.task_core[t], start=value(v))
            for t, v in self.task_start.items()
        )
        transfers = tuple(
            m.transfer.model_copy(update={"start": value(self.move_start[i])})
            for i, m in enumerate(self.moves)
        )
        return self.schedule.model_copy(update={"tasks": tasks, "transfers": transfers})

    def solution_of(self, schedule: Schedule) -> dict[cp_model.IntVar, int]:
        """The start variables' values in `schedule` (one of this model's structure)."""
        starts = {st.id: st.start for st in schedule.tasks}
        out = {v: starts[t] for t, v in self.task_start.items()}
        for var, tr in zip(self.move_start, schedule.transfers, strict=True):
            out[var] = tr.start
        return out


def _moves(p: Problem, schedule: Schedule) -> list[_Move]:
    out = []
    for i, x in enumerate(schedule.transfers):
        size = p.tensor_by_id[x.tensor].size_bytes
        links: dict[LinkId, None] = {}
        latency = 0
        for d in x.dsts:
            route = p.route_by_pair[(x.src, d)].links
            links.update(dict.fromkeys(route))
            latency = max(latency, sum(p.link_by_id[lk].latency_cycles for lk in route))
        full = min(_exact(p.link_by_id[lk].bandwidth_bytes_per_cycle) for lk in links)
        rate = full if x.rate_bytes_per_cycle is None else _exact(x.rate_bytes_per_cycle)
        duration = math.ceil(Fraction(size) / rate) + latency
        out.append(_Move(i, x, duration, tuple(links), rate))
    return out


def _copies(
    p: Problem, schedule: Schedule, moves: list[_Move], durations: dict[TaskId, int]
) -> dict[tuple[TensorId, MemoryId], list[_Copy]]:
    """Every copy of the given schedule per (tensor, memory), in order of availability, with
    the readers of each (the copy most recently available at the reader's start)."""
    copies: dict[tuple[TensorId, MemoryId], list[_Copy]] = defaultdict(list)
    for t in p.tensors:
        if t.producer is None and t.home is not None:
            copies[(t.id, t.home)].append(_Copy(t.id, t.home, t.size_bytes, None, 0, 0, -1))
    starts = {st.id: st for st in schedule.tasks}
    for task in p.tasks:
        st = starts[task.id]
        memory = p.memory_of(st.core)
        for x in task.outputs:
            size = p.tensor_by_id[x].size_bytes
            end = st.start + durations[task.id]
            copies[(x, memory)].append(
                _Copy(x, memory, size, task_item(task.id), st.start, end, -1)
            )
    for m in moves:
        tr = m.transfer
        size = p.tensor_by_id[tr.tensor].size_bytes
        for d in tr.dsts:
            copies[(tr.tensor, d)].append(
                _Copy(
                    tr.tensor, d, size, move_item(m.index), tr.start, tr.start + m.duration, m.index
                )
            )
    for chain in copies.values():
        # the validator's order (docs/validity.md, rule 3): copies available at one cycle in
        # the order of allocation, then of the schedule's transfers
        chain.sort(key=lambda c: (c.avail_at, c.alloc_at, c.position))
        for c in chain:
            c.release_at = c.avail_at

    def read(tensor: TensorId, memory: MemoryId, at: int, end: int, reader: str) -> None:
        found = None
        for c in copies.get((tensor, memory), ()):
            if c.avail_at <= at:
                found = c
        if found is None:
            raise ValueError(f"{reader} reads {tensor!r} in {memory!r}, never available there")
        found.readers.append(reader)
        found.release_at = max(found.release_at, end)

    for task in p.tasks:
        st = starts[task.id]
        for x in task.inputs:
            end = st.start + durations[task.id]
            read(x, p.memory_of(st.core), st.start, end, task_item(task.id))
    for m in moves:
        tr = m.transfer
        read(tr.tensor, tr.src, tr.start, tr.start + m.duration, move_item(m.index))
    return copies


def build_retime(
    problem: Problem,
    schedule: Schedule,
    *,
    horizon: int | None = None,
    keep_peaks: bool = True,
) -> Retime:
    """The retiming model of `schedule`, a valid schedule of `problem`: latency minimized over
    [0, `horizon`] (default: the schedule's own latency, so only better or equal ones exist),
    and with `keep_peaks` every bounded memory's peak (total and activation) at most the
    schedule's own. Raises ValueError when `schedule` reads a copy that never exists."""
    p = problem
    model = cp_model.CpModel()
    starts = {st.id: st for st in schedule.tasks}
    core = {t.id: starts[t.id].core for t in p.tasks}
    duration: dict[TaskId, int] = {}
    for t in p.tasks:
        option = p.option(t.id, core[t.id])
        assert option is not None
        duration[t.id] = option.duration_cycles
    moves = _moves(p, schedule)
    copies = _copies(p, schedule, moves, duration)
    given_end = max(
        [starts[t].start + duration[t] for t in duration]
        + [m.transfer.start + m.duration for m in moves]
        + [0]
    )
    h = given_end if horizon is None else max(horizon, 0)

    task_start = {t.id: model.new_int_var(0, h, f"start[{t.id}]") for t in p.tasks}
    task_iv = {
        t: model.new_fixed_size_interval_var(s, duration[t], f"task[{t}]")
        for t, s in task_start.items()
    }
    move_start = [model.new_int_var(0, h, f"move_start[{m.index}]") for m in moves]
    move_iv = [
        model.new_fixed_size_interval_var(s, m.duration, f"move[{m.index}]")
        for s, m in zip(move_start, moves, strict=True)
    ]

    start_of: dict[str, cp_model.IntVar] = {task_item(t): v for t, v in task_start.items()}
    start_of.update((move_item(i), v) for i, v in enumerate(move_start))
    length = {task_item(t): d for t, d in duration.items()}
    length.update((move_item(m.index), m.duration) for m in moves)

    def end_of(item: str) -> cp_model.LinearExprT:
        return start_of[item] + length[item]

    makespan = model.new_int_var(0, h, "makespan")
    for item, start in start_of.items():
        model.add(makespan >= start + length[item])

    # rules 2 and 6: cores, dependencies, barriers
    by_core: dict[CoreId, list[TaskId]] = defaultdict(list)
    for t in p.tasks:
        by_core[core[t.id]].append(t.id)
    chains: dict[str, list[tuple[cp_model.IntVar, int]]] = {}
    for core_id, on_core in by_core.items():
        busy = [t for t in on_core if duration[t] > 0]
        if len(busy) > 1:
            model.add_no_overlap([task_iv[t] for t in busy])
        busy.sort(key=lambda t: starts[t].start)
        chains[f"core:{core_id}"] = [(task_start[t], duration[t]) for t in busy]
    for task in p.tasks:
        for a in task.after:
            model.add(task_start[task.id] >= task_start[a] + duration[a])
    for b in p.barriers:
        last = model.new_int_var(0, h, "barrier")
        model.add_max_equality(last, [task_start[a] + duration[a] for a in b.before])
        for a in b.after:
            model.add(task_start[a] >= last)

    # rule 8: links
    per_link: dict[LinkId, list[int]] = defaultdict(list)
    for m in moves:
        if m.duration > 0:
            for lk in m.links:
                per_link[lk].append(m.index)
    for lk, users in per_link.items():
        link = p.link_by_id[lk]
        bandwidth = _exact(link.bandwidth_bytes_per_cycle)
        if link.sharing == "exclusive" or all(moves[i].rate >= bandwidth for i in users):
            if len(users) > 1:
                model.add_no_overlap([move_iv[i] for i in users])
            ordered = sorted(users, key=lambda i: moves[i].transfer.start)
            chains[f"link:{lk}"] = [(move_start[i], moves[i].duration) for i in ordered]
        elif len(users) > 1:
            scale = math.lcm(bandwidth.denominator, *(moves[i].rate.denominator for i in users))
            model.add_cumulative(
                [move_iv[i] for i in users],
                [int(moves[i].rate * scale) for i in users],
                int(bandwidth * scale),
            )

    # rules 3-5 and 9: readers read their copy; copies in order; holds within capacity
    holds: dict[MemoryId, list[tuple[cp_model.IntervalVar, int, bool]]] = defaultdict(list)
    given: dict[MemoryId, list[tuple[int, int, int, bool]]] = defaultdict(list)
    every_release: list[Release] = []
    for (x, mem), chain in copies.items():
        tensor = p.tensor_by_id[x]
        held_before: cp_model.IntVar | None = None  # the release of the last copy that holds
        for k, c in enumerate(chain):
            alloc: cp_model.LinearExprT = 0 if c.maker is None else start_of[c.maker]
            avail: cp_model.LinearExprT = 0 if c.maker is None else end_of(c.maker)
            # the copy in dram of a stored tensor, and a home copy in dram, are never released
            never = mem == DRAM and (tensor.store or c.maker is None)
            # made in no time and read by nobody: held on an empty interval, which holds nothing
            empty = not never and not c.readers and (c.maker is None or length[c.maker] == 0)
            if held_before is not None and not empty:  # two copies are never held at once
                model.add(alloc >= held_before)
            for reader in c.readers:
                model.add(start_of[reader] >= avail)
            if k + 1 < len(chain):  # a reader starts before the next copy is available
                nxt = chain[k + 1].maker
                assert nxt is not None  # a home copy is the first
                for reader in c.readers:
                    model.add(start_of[reader] + 1 <= end_of(nxt))
            release = model.new_int_var(0, h, f"release[{x},{mem},{k}]")
            if never:
                model.add(release == h)
            else:
                model.add(release >= avail)
                for reader in c.readers:
                    model.add(release >= end_of(reader))
            if not empty:
                held_before = release
            every_release.append(
                Release(
                    x,
                    mem,
                    k,
                    release,
                    None if c.maker is None else (start_of[c.maker], length[c.maker]),
                    tuple((start_of[rd], length[rd]) for rd in c.readers),
                    never,
                )
            )
            capacity = p.memory_by_id[mem].capacity_bytes
            if capacity is not None and c.size > 0:
                held = model.new_int_var(0, h, f"held[{x},{mem},{k}]")
                iv = model.new_interval_var(alloc, held, release, f"hold[{x},{mem},{k}]")
                holds[mem].append((iv, c.size, tensor.kind == "activation"))
                end = h if never else c.release_at
                given[mem].append((c.alloc_at, end, c.size, tensor.kind == "activation"))

    for mem, items in holds.items():
        capacity = p.memory_by_id[mem].capacity_bytes
        assert capacity is not None
        cap = capacity
        act_cap = None
        if keep_peaks:
            total, acts = _peaks(given[mem])
            cap, act_cap = min(cap, total), acts
        model.add_cumulative([iv for iv, _, _ in items], [s for _, s, _ in items], cap)
        if act_cap is not None and any(a for _, _, a in items):
            model.add_cumulative(
                [iv for iv, _, a in items if a], [s for _, s, a in items if a], act_cap
            )

    model.minimize(makespan)
    return Retime(
        problem=p,
        schedule=schedule,
        model=model,
        task_start=task_start,
        task_core=core,
        task_duration=duration,
        move_start=move_start,
        moves=moves,
        makespan=makespan,
        chains=chains,
        releases=every_release,
        horizon=h,
    )


def _peaks(holds: Iterable[tuple[int, int, int, bool]]) -> tuple[int, int]:
    """The most bytes held at once, and the most activation bytes, over `holds` given as
    (allocation, release, bytes, is activation); holds are half-open, empty ones hold nothing."""
    events: list[tuple[int, int, int]] = []
    for alloc, release, size, act in holds:
        if release > alloc:
            events += [(alloc, size, size if act else 0), (release, -size, -size if act else 0)]
    events.sort(key=lambda e: (e[0], e[1]))  # releases before allocations at one cycle
    total = acts = peak = peak_acts = 0
    for _, d, a in events:
        total, acts = total + d, acts + a
        peak, peak_acts = max(peak, total), max(peak_acts, acts)
    return peak, peak_acts
