"""A lower bound on the makespan that sees the cores starve for what the DRAM port delivers.

The static bounds (:mod:`cpsched.cpsat.bounds`) count the port's transfers against heads and
tails, one task at a time; they miss that light work runs only as fast as the port brings its
inputs, all along the schedule. This relaxation keeps exactly that: the tasks with their least
durations and their precedences, on the cores, and one link every way out of the tensors'
homes crosses (the DRAM port), carrying

- every input a task reads that lies in a memory at time 0 (`home`, normally DRAM), once,
  before the first task that reads it in a memory the link separates from the home (one
  multicast may serve every core; a later copy may come core-to-core without the link), and
- every stored output, once, after its producer ends and before the makespan, when the link
  separates the producer's memory from DRAM.

Memory capacities and every other link are dropped. The relaxation is solved separately by
CP-SAT with a short time limit; its optimum, or CP-SAT's proven bound on it, bounds the latency
of every valid schedule (:func:`solve_starvation`). Two ways to count a crossing:

- `fluid` (valid for every schedule of SPEC.md, whatever its rates): on a `bandwidth` link a
  transfer may run slower than its route allows and share the link, so a crossing only surely
  takes `floor(size / bandwidth)` cycles of the link's capacity (its latency costs nothing at a
  low rate); on an `exclusive` link it holds the link for its shortest duration over the routes
  that cross it. The crossings take turns (a no-overlap). This is a relaxation because the
  inputs are all there at 0 and the stores all have the same deadline (the makespan): the
  earliest-deadline-first schedule of the crossings' work, preemptive in general, runs the
  inputs back to back from 0 and the stores in order of release, never preempting, and it
  meets every deadline the real schedule's crossings meet (Horn's condition holds for any
  schedule that shares the link by bandwidth). Task durations of the relaxation are at most the
  real ones, so releases only come earlier.
- `fluid=False` (valid in CP-SAT's space, :mod:`cpsched.cpsat.space`: every transfer at its
  route's full rate, a multicast riding a leader whose route holds the others'): a crossing
  takes the link as the model's does: its least duration at full rate over the routes that
  cross the link, as a no-overlap where it takes the whole link and as a cumulative (demand:
  its share of the bandwidth) where transfers share it.

Cores: either one cumulative over all tasks with capacity the number of cores (never more
tasks run at once than there are cores, each at least its least duration: valid on
heterogeneous cores too), or `placement`: one optional interval per (task, candidate core)
with its own duration, a no-overlap per core, groups and pinned cores kept; then a crossing is
needed only for the placements the link separates, and a consumer on a core whose memory its
producer did not run in waits for the data's shortest way there.

A link *separates* memory `b` from `a` when no chain of routes avoiding it leads from `a` to
`b`: a copy in `b` then came through a chain of transfers (each out of a copy the previous one
delivered) one of which crossed the link, ending before the copy was read. Heads and tails
are the shortest such chains at full rate (a slower rate or a multicast only takes longer). The
leaders of runs of interchangeable tiles start in order, as in the model: the relaxation is
built from the problem alone, so renumbering tiles maps its solutions onto solutions.

Measured (params.py): on the attention head the relaxation's optimum is about the static bound
and CP-SAT proves less than that in seconds; so the switch is off.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise

from ortools.sat.python import cp_model

from cpsched.cpsat.relax import solve_for_bound
from cpsched.cpsat.space import LinkShares, Space
from cpsched.model.graph import graph_facts
from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, Problem, TaskId, TensorId

_DEMAND_SCALE = 1_000  # cumulative demands in thousandths of the link's bandwidth (rounded down)


@dataclass(frozen=True)
class Crossing:
    """One tensor's unavoidable crossing of the link: an interval of `length_cycles`, taking
    `demand` of the link's capacity. An input ends before each placement in `before` starts;
    a store starts after the placement of its producer in `after` ends (and is needed only
    then)."""

    tensor: TensorId
    length_cycles: int
    demand: int
    before: frozenset[tuple[TaskId, CoreId]]  # an input's readers the link separates
    after: frozenset[tuple[TaskId, CoreId]]  # a store's producer placements the link separates


@dataclass(frozen=True)
class Starvation:
    """The relaxation's data: tasks on cores with precedences, and crossings of one link."""

    cores: dict[TaskId, tuple[CoreId, ...]]
    duration: dict[tuple[TaskId, CoreId], int]
    predecessors: dict[TaskId, frozenset[TaskId]]
    groups: tuple[tuple[TaskId, ...], ...]
    head: dict[tuple[TaskId, CoreId], int]  # earliest start: its home inputs' shortest arrival
    tail: dict[tuple[TaskId, CoreId], int]  # after its end: its stores' shortest way to DRAM
    link: LinkId | None
    capacity: int  # of the link, in demand units (a crossing with demand == capacity takes it)
    crossings: tuple[Crossing, ...]
    fluid: bool
    memory: dict[CoreId, MemoryId]
    # (producer, consumer) -> per consumer core, the least time the data takes to it from any
    # other memory the producer may run in (used with placement)
    delay: dict[tuple[TaskId, TaskId], dict[CoreId, int]]
    # tasks whose starts may be ordered (a run of interchangeable tiles, cpsched.cpsat.tiles):
    # the relaxation is built from the problem alone, so a renumbering of tiles maps its
    # solutions onto solutions of the same makespan
    tile_order: tuple[tuple[TaskId, ...], ...] = ()


@dataclass(frozen=True)
class StarvationBound:
    """What solving the relaxation gave: a lower bound on the makespan (None: none found)."""

    value: int | None
    proven: bool  # the relaxation's optimum (else CP-SAT's bound on it, still a valid bound)
    seconds: float
    link: LinkId | None
    crossings: int
    placement: bool
    fluid: bool

    def record(self) -> dict[str, object]:
        """For the result's `parameters`."""
        return {
            "value": self.value,
            "proven": self.proven,
            "seconds": round(self.seconds, 3),
            "link": self.link,
            "crossings": self.crossings,
            "placement": self.placement,
            "fluid": self.fluid,
        }


def _reachable(p: Problem, src: MemoryId, without: LinkId | None) -> set[MemoryId]:
    """Memories a chain of transfers from `src` reaches using no route through `without`."""
    seen = {src}
    todo = [src]
    while todo:
        a = todo.pop()
        for (s, d), route in p.route_by_pair.items():
            if s == a and d not in seen and (without is None or without not in route.links):
                seen.add(d)
                todo.append(d)
    return seen


def _shortest_arrival(p: Problem, tensor: TensorId, src: MemoryId) -> dict[MemoryId, int]:
    """Least time to have `tensor` from `src` in each memory by any chain of transfers, each at
    its route's full rate (a slower rate or a multicast only takes longer)."""
    dist: dict[MemoryId, int] = {src: 0}
    heap = [(0, src)]
    while heap:
        d, a = heapq.heappop(heap)
        if d > dist[a]:
            continue
        for s, c in p.route_by_pair:
            if s != a or s == c:
                continue
            nd = d + p.transfer_duration_cycles(tensor, s, c)
            if c not in dist or nd < dist[c]:
                dist[c] = nd
                heapq.heappush(heap, (nd, c))
    return dist


def _crossing_size(
    p: Problem, shares: LinkShares, tensor: TensorId, link: LinkId, fluid: bool
) -> tuple[int, Fraction]:
    """(length, share of the link) of the least crossing of `link` by `tensor`."""
    routes = [r for r in p.routes if link in r.links and r.src != r.dst]
    size = p.tensor_by_id[tensor].size_bytes
    bandwidth = shares.bandwidth(link)
    if fluid and p.link_by_id[link].sharing == "bandwidth":
        return int(Fraction(size) / bandwidth), Fraction(1)
    # the least duration and the least share over the routes that cross the link: a rectangle
    # that fits inside every crossing's
    length = min(p.transfer_duration_cycles(tensor, r.src, r.dst) for r in routes)
    if fluid:
        return length, Fraction(1)
    return length, min(shares.shares(r.links)[link] for r in routes)


def _link_crossings(
    p: Problem,
    cores: dict[TaskId, tuple[CoreId, ...]],
    homes: dict[TensorId, MemoryId],
    link: LinkId,
    shares: LinkShares,
    fluid: bool,
) -> list[Crossing]:
    """The crossings of `link` that every schedule makes (module docstring): a memory the link
    separates from a tensor's home (or a producer's memory from DRAM) is reachable only by a
    chain of transfers one of which crosses it."""
    reach: dict[MemoryId, set[MemoryId]] = {}

    def separated(src: MemoryId, dst: MemoryId) -> bool:
        if src not in reach:
            reach[src] = _reachable(p, src, link)
        return dst not in reach[src]

    out: list[Crossing] = []
    for tensor in p.tensors:
        x = tensor.id
        before: set[tuple[TaskId, CoreId]] = set()
        after: set[tuple[TaskId, CoreId]] = set()
        if x in homes:
            for c in p.consumers[x]:
                before.update((c, k) for k in cores[c] if separated(homes[x], p.memory_of(k)))
        elif tensor.store and tensor.producer is not None:
            q = tensor.producer
            after.update((q, k) for k in cores[q] if separated(p.memory_of(k), DRAM))
        if not before and not after:
            continue
        length, share = _crossing_size(p, shares, x, link, fluid)
        if length <= 0:
            continue
        demand = _DEMAND_SCALE if share == 1 else max(1, int(share * _DEMAND_SCALE))
        out.append(Crossing(x, length, demand, frozenset(before), frozenset(after)))
    return out


def _delays(
    p: Problem, cores: dict[TaskId, tuple[CoreId, ...]]
) -> dict[tuple[TaskId, TaskId], dict[CoreId, int]]:
    """Per data edge and consumer core, the least time its data takes from any other memory
    the producer may run in (the longest over its tensors of the shortest chain)."""
    facts = graph_facts(p)
    ways: dict[tuple[TensorId, MemoryId], dict[MemoryId, int]] = {}
    out: dict[tuple[TaskId, TaskId], dict[CoreId, int]] = {}
    for (q, t), tensors in facts.data_edges.items():
        per_core: dict[CoreId, int] = {}
        for k in cores[t]:
            mt = p.memory_of(k)
            least: int | None = None
            for mq in {p.memory_of(kq) for kq in cores[q]} - {mt}:
                d = 0
                for x in tensors:
                    if (x, mq) not in ways:
                        ways[(x, mq)] = _shortest_arrival(p, x, mq)
                    d = max(d, ways[(x, mq)].get(mt, 0))
                least = d if least is None else min(least, d)
            if least:
                per_core[k] = least
        if per_core:
            out[(q, t)] = per_core
    return out


def starvation_relaxation(
    space: Space,
    fluid: bool = True,
    shares: LinkShares | None = None,
    tile_order: Sequence[Sequence[TaskId]] = (),
) -> Starvation:
    """The relaxation of `space`'s problem (its candidate cores: groups and pinned tasks
    applied) on the link with the most unavoidable crossing work (module docstring). `fluid`:
    valid for every schedule (else only for those of CP-SAT's space, with `shares` as the
    model's). `tile_order`: runs of tasks whose starts may be ordered (the leaders of
    :func:`cpsched.cpsat.tiles.tile_runs`)."""
    p = space.problem
    shares = shares or LinkShares(p)
    cores = {t: tuple(ks) for t, ks in space.cores.items()}
    duration = {(t, k): space.duration(t, k) for t, ks in cores.items() for k in ks}
    head: dict[tuple[TaskId, CoreId], int] = defaultdict(int)
    tail: dict[tuple[TaskId, CoreId], int] = defaultdict(int)
    homes = {x.id: x.home for x in p.tensors if x.producer is None and x.home is not None}
    arrival = {x: _shortest_arrival(p, x, h) for x, h in homes.items()}
    for t, ks in cores.items():
        task = p.task_by_id[t]
        for k in ks:
            m = p.memory_of(k)
            for x in task.inputs:
                if x in arrival:
                    head[(t, k)] = max(head[(t, k)], arrival[x].get(m, 0))
            for y in task.outputs:
                if p.tensor_by_id[y].store and m != DRAM:
                    tail[(t, k)] = max(tail[(t, k)], _shortest_arrival(p, y, m).get(DRAM, 0))
    best: tuple[Fraction, LinkId, list[Crossing]] | None = None
    for lk in sorted(lk.id for lk in p.links):
        jobs = _link_crossings(p, cores, homes, lk, shares, fluid)
        work = sum((Fraction(j.length_cycles * j.demand, _DEMAND_SCALE) for j in jobs), Fraction(0))
        if len(jobs) > 1 and (best is None or work > best[0]):
            best = (work, lk, jobs)
    facts = graph_facts(p)
    return Starvation(
        cores=cores,
        duration=duration,
        predecessors={t: frozenset(facts.predecessors.get(t, frozenset())) for t in cores},
        groups=tuple(tuple(g) for g in p.groups),
        head=dict(head),
        tail=dict(tail),
        link=None if best is None else best[1],
        capacity=_DEMAND_SCALE,
        crossings=() if best is None else tuple(best[2]),
        fluid=fluid,
        memory={c.id: c.memory for c in p.cores},
        delay=_delays(p, cores),
        tile_order=tuple(tuple(run) for run in tile_order),
    )


def _build(
    r: Starvation, horizon: int, placement: bool
) -> tuple[cp_model.CpModel, cp_model.IntVar]:
    """The CP-SAT model of the relaxation and its makespan variable."""
    m = cp_model.CpModel()
    makespan = m.new_int_var(0, horizon, "makespan")
    start: dict[TaskId, cp_model.IntVar] = {}
    end: dict[TaskId, cp_model.LinearExpr] = {}
    on: dict[tuple[TaskId, CoreId], cp_model.IntVar] = {}
    per_core: dict[CoreId, list[cp_model.IntervalVar]] = defaultdict(list)
    all_cores = sorted({k for ks in r.cores.values() for k in ks})
    intervals = []
    least: dict[TaskId, int] = {}
    for t, ks in r.cores.items():
        least[t] = min(r.duration[(t, k)] for k in ks)
        lo = min(r.head.get((t, k), 0) for k in ks)
        start[t] = m.new_int_var(lo, horizon, f"start[{t}]")
        if placement:
            lits = []
            for k in ks:
                lit = m.new_bool_var(f"on[{t},{k}]")
                on[(t, k)] = lit
                lits.append(lit)
                d = r.duration[(t, k)]
                per_core[k].append(
                    m.new_optional_fixed_size_interval_var(start[t], d, lit, f"run[{t},{k}]")
                )
                m.add(start[t] >= r.head.get((t, k), 0)).only_enforce_if(lit)
                m.add(makespan >= start[t] + d + r.tail.get((t, k), 0)).only_enforce_if(lit)
            m.add_exactly_one(lits)
            end[t] = start[t] + cp_model.LinearExpr.weighted_sum(
                [on[(t, k)] for k in ks], [r.duration[(t, k)] for k in ks]
            )
        else:
            end[t] = start[t] + cp_model.LinearExpr.constant(least[t])
            intervals.append(m.new_fixed_size_interval_var(start[t], least[t], f"run[{t}]"))
            m.add(makespan >= end[t] + min(r.tail.get((t, k), 0) for k in ks))
        m.add(makespan >= end[t])
    if placement:
        for k in all_cores:
            m.add_no_overlap(per_core[k])
        for g in r.groups:
            for a, b in pairwise(g):
                for k in r.cores[a]:
                    if (b, k) in on:
                        m.add(on[(a, k)] == on[(b, k)])
    else:
        m.add_cumulative(intervals, [1] * len(intervals), len(all_cores))
    for t, ps in r.predecessors.items():
        for q in ps:
            m.add(start[t] >= end[q])
            delay = r.delay.get((q, t), {}) if placement else {}
            for k, d in sorted(delay.items()):
                # on k, t waits for its input from q's memory unless q ran in k's memory
                same = [on[(q, kq)] for kq in r.cores[q] if r.memory[kq] == r.memory[k]]
                waits = d - d * cp_model.LinearExpr.sum(same)
                m.add(start[t] >= end[q] + waits).only_enforce_if(on[(t, k)])

    link_intervals = []
    demands = []
    for j in r.crossings:
        s = m.new_int_var(0, horizon, f"cross[{j.tensor}]")
        if placement:
            needed = [on[pk] for pk in sorted(j.before | j.after)]
            present = m.new_bool_var(f"crosses[{j.tensor}]")
            for lit in needed:
                m.add_implication(lit, present)
            iv = m.new_optional_fixed_size_interval_var(s, j.length_cycles, present, "")
            for pk in j.before:
                m.add(s + j.length_cycles <= start[pk[0]]).only_enforce_if(on[pk])
            for pk in j.after:
                m.add(s >= start[pk[0]] + r.duration[pk]).only_enforce_if(on[pk])
            m.add(makespan >= s + j.length_cycles).only_enforce_if(present)
        else:
            # needed when every candidate core of a reader (the producer) is separated
            readers = {t for t, _ in j.before if all((t, k) in j.before for k in r.cores[t])}
            producers = {t for t, _ in j.after if all((t, k) in j.after for k in r.cores[t])}
            if not readers and not producers:
                continue
            iv = m.new_fixed_size_interval_var(s, j.length_cycles, "")
            for t in sorted(readers):
                m.add(s + j.length_cycles <= start[t])
            for t in sorted(producers):
                m.add(s >= end[t])
            m.add(makespan >= s + j.length_cycles)
        link_intervals.append(iv)
        demands.append(j.demand)
    if link_intervals:
        if all(d == r.capacity for d in demands):
            m.add_no_overlap(link_intervals)
        else:
            m.add_cumulative(link_intervals, demands, r.capacity)
    for run in r.tile_order:
        for a, b in pairwise(run):
            m.add(start[a] <= start[b])
    m.minimize(makespan)
    return m, makespan


def solve_starvation(
    r: Starvation,
    horizon_cycles: int,
    time_limit_s: float,
    num_workers: int = 2,
    seed: int = 0,
    placement: bool = False,
) -> StarvationBound:
    """Solve the relaxation within `time_limit_s`: its optimum, or CP-SAT's proven bound on it
    when the time runs out (both lower bounds on the makespan of every schedule the relaxation
    relaxes, given one exists within `horizon_cycles`)."""
    started = time.monotonic()
    model, _ = _build(r, horizon_cycles, placement)
    value, proven = solve_for_bound(model, time_limit_s, num_workers, seed)
    return StarvationBound(
        value,
        proven,
        time.monotonic() - started,
        r.link,
        len(r.crossings),
        placement,
        r.fluid,
    )


def starvation_bound(
    space: Space,
    horizon_cycles: int,
    time_limit_s: float,
    num_workers: int = 2,
    seed: int = 0,
    tile_order: Sequence[Sequence[TaskId]] = (),
) -> StarvationBound:
    """The fluid relaxation of `space` (valid for every schedule), solved with the cores as a
    cumulative in up to half of `time_limit_s`, then with per-core placement in what is left:
    the higher of the two bounds (the cumulative proves more on many identical cores, placement
    sees tasks that only some cores may run)."""
    started = time.monotonic()
    r = starvation_relaxation(space, fluid=True, tile_order=tile_order)
    best = solve_starvation(r, horizon_cycles, time_limit_s / 2, num_workers, seed)
    left = time_limit_s - (time.monotonic() - started)
    if left > 0:
        placed = solve_starvation(r, horizon_cycles, left, num_workers, seed, placement=True)
        if (placed.value or 0) > (best.value or 0):
            best = placed
    return replace(best, seconds=time.monotonic() - started)
