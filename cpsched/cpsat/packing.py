"""A lower bound on the makespan: the core idle bound with each core's work made of whole tasks.

The core idle bound (:class:`cpsched.cpsat.bounds.IdleProfile`) adds the cores' least first
starts, their least tails (makespan minus last end) and the total work, and divides by the
number of cores, as if work could be cut anywhere. But a core's work is a sum of whole task
durations, and which core starts first and which ends last is one choice: on the attention head
at T=4 every duration is a multiple of 64 cycles while the first starts and tails step by 278
(one X tile or weight over the DRAM port), so no core can end exactly where the sum says, and
the best schedule (18,052) lies 5 cycles above the static bound (18,047).

This relaxation keeps exactly that and nothing else. Each core `k` has a first start `F_k`, a
tail `G_k` and a load `L_k`, the durations of the tasks placed on it, with

- `F_k + L_k + G_k <= makespan` (a core runs one task at a time, between its first start and
  its last end);
- the j-th smallest first start among the cores used at least the idle bound's j-th first
  start position, the j-th smallest tail at least its j-th tail position, and with `u` cores
  used, the first starts (and the tails) summing to at least the idle bound's least sums for
  `u` (:class:`cpsched.cpsat.bounds.IdleProfile`);
- `F_k` at least the least head of the tasks on `k`, `G_k` at least their least tail, and each
  task fitting in between: `head + duration + G_k <= makespan`, `F_k + duration + tail <=
  makespan`.

A schedule of the space gives a solution of the same makespan (its cores' first starts, tails
and loads), so the relaxation's optimum, or CP-SAT's proven bound on it, is a lower bound in
the same space as the static bounds (:mod:`cpsched.cpsat.bounds`). Tasks with the same
candidate cores and durations are counted together (a *class*, with the least head and tail of
its members: a relaxation of each member's own), so the model has a count per class and core,
not a literal per task; cores that exchange (:func:`cpsched.model.space.interchangeable_classes`)
take their first starts in order. Groups, precedences, links and memories are left out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ortools.sat.python import cp_model

from cpsched.cpsat.bounds import StaticBounds
from cpsched.cpsat.relax import solve_for_bound
from cpsched.cpsat.space import Space
from cpsched.model.problem import CoreId, TaskId


@dataclass(frozen=True)
class TaskClass:
    """Tasks with the same candidate cores and durations: how many, and per candidate core the
    duration and the least head and tail of its members."""

    count: int
    duration: dict[CoreId, int]
    head: dict[CoreId, int]
    tail: dict[CoreId, int]


@dataclass(frozen=True)
class Packing:
    """The relaxation's data (module docstring)."""

    cores: tuple[CoreId, ...]
    classes: tuple[TaskClass, ...]
    first_sums: tuple[int, ...]
    last_sums: tuple[int, ...]
    first_positions: tuple[int, ...]
    last_positions: tuple[int, ...]
    floor: int  # the static makespan bound, which the relaxation's optimum is never below
    interchangeable: tuple[tuple[CoreId, ...], ...]


@dataclass(frozen=True)
class PackingBound:
    """What solving the relaxation gave: a lower bound on the makespan (None: none found)."""

    value: int | None
    proven: bool  # the relaxation's optimum (else CP-SAT's bound on it, still a valid bound)
    seconds: float
    classes: int

    def record(self) -> dict[str, object]:
        """For the result's `parameters`."""
        return {
            "value": self.value,
            "proven": self.proven,
            "seconds": round(self.seconds, 3),
            "classes": self.classes,
        }


def packing_relaxation(
    space: Space, bounds: StaticBounds, interchangeable: Sequence[Sequence[CoreId]] = ()
) -> Packing | None:
    """The relaxation of `space` with `bounds`' heads, tails and idle profile (None: the idle
    bound was not worked out). `interchangeable`: classes of cores that exchange."""
    if bounds.idle is None:
        return None
    members: dict[tuple[tuple[CoreId, int], ...], list[TaskId]] = defaultdict(list)
    for t, ks in space.cores.items():
        members[tuple((k, space.duration(t, k)) for k in ks)].append(t)
    classes = tuple(
        TaskClass(
            len(ts),
            dict(key),
            {k: min(bounds.head[(t, k)] for t in ts) for k, _ in key},
            {k: min(bounds.tail[(t, k)] for t in ts) for k, _ in key},
        )
        for key, ts in members.items()
    )
    idle = bounds.idle
    return Packing(
        cores=tuple(sorted({k for ks in space.cores.values() for k in ks})),
        classes=classes,
        first_sums=idle.first_sums,
        last_sums=idle.last_sums,
        first_positions=idle.first_positions,
        last_positions=idle.last_positions,
        floor=bounds.makespan_cycles,
        interchangeable=tuple(tuple(c) for c in interchangeable),
    )


def _at_least_least(
    m: cp_model.CpModel,
    value: cp_model.IntVar,
    used: cp_model.IntVar,
    floors: list[tuple[int, cp_model.IntVar]],
    name: str,
) -> None:
    """`value >= the least floor among those present` (each `(floor, present literal)`), when
    `used`: going up the distinct floors, `value` reaches each unless a smaller one is
    present."""
    by_floor: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for f, lit in floors:
        by_floor[f].append(lit)
    smaller: list[cp_model.IntVar] = []  # presence of a class with a smaller floor
    for f in sorted(by_floor):
        if f > 0:
            if not smaller:
                m.add(value >= f).only_enforce_if(used)
            else:
                below = m.new_bool_var(f"{name}_below[{f}]")
                m.add_bool_or(smaller).only_enforce_if(below)
                m.add_bool_and([~lit for lit in smaller]).only_enforce_if(~below)
                m.add(value >= f).only_enforce_if([used, ~below])
        smaller.extend(by_floor[f])


@dataclass
class _Vars:
    """The relaxation's variables: per core its load terms, the classes present on it (with
    their duration, head and tail), its first start, tail and whether it is used."""

    makespan: cp_model.IntVar
    load: dict[CoreId, list[cp_model.LinearExprT]]
    present: dict[CoreId, list[tuple[int, int, int, cp_model.IntVar]]]
    first: dict[CoreId, cp_model.IntVar]
    gap: dict[CoreId, cp_model.IntVar]
    used: dict[CoreId, cp_model.IntVar]


def _add_counts(m: cp_model.CpModel, r: Packing, v: _Vars) -> None:
    """Each class's tasks spread over its candidate cores: a count per core, and whether any."""
    for i, cls in enumerate(r.classes):
        counts = []
        for k, d in cls.duration.items():
            n = m.new_int_var(0, cls.count, f"count[{i},{k}]")
            counts.append(n)
            v.load[k].append(d * n)
            lit = m.new_bool_var(f"any[{i},{k}]")
            m.add(n >= 1).only_enforce_if(lit)
            m.add(n == 0).only_enforce_if(~lit)
            v.present[k].append((d, cls.head[k], cls.tail[k], lit))
        m.add(sum(counts) == cls.count)


def _add_core_ends(m: cp_model.CpModel, r: Packing, v: _Vars) -> None:
    """Per used core: first start, load and tail within the makespan, each present class
    fitting between its head and the core's tail (and the core's first start and its tail),
    the first start at least the least head present, the tail at least the least tail."""
    for k in r.cores:
        lits = [lit for _, _, _, lit in v.present[k]]
        m.add_bool_or(lits).only_enforce_if(v.used[k])
        for lit in lits:
            m.add_implication(lit, v.used[k])
        m.add(v.first[k] == 0).only_enforce_if(~v.used[k])
        m.add(v.gap[k] == 0).only_enforce_if(~v.used[k])
        m.add(v.first[k] + cp_model.LinearExpr.sum(v.load[k]) + v.gap[k] <= v.makespan)
        for d, h, q, lit in v.present[k]:
            m.add(h + d + v.gap[k] <= v.makespan).only_enforce_if(lit)
            m.add(v.first[k] + d + q <= v.makespan).only_enforce_if(lit)
        heads = [(h, lit) for _, h, _, lit in v.present[k]]
        _at_least_least(m, v.first[k], v.used[k], heads, f"first[{k}]")
        tails = [(q, lit) for _, _, q, lit in v.present[k]]
        _at_least_least(m, v.gap[k], v.used[k], tails, f"tail[{k}]")


def _add_positions(m: cp_model.CpModel, r: Packing, v: _Vars) -> None:
    """The j-th smallest first start (tail) among the cores used is at least the idle bound's
    j-th position: at most j cores used lie below it."""
    for kind, values, positions in (
        ("first", v.first, r.first_positions),
        ("tail", v.gap, r.last_positions),
    ):
        for j, floor in enumerate(positions):
            if floor <= 0:
                continue
            below = []
            for k in r.cores:
                lit = m.new_bool_var(f"{kind}_below_position[{k},{j}]")
                m.add(values[k] >= floor).only_enforce_if([v.used[k], ~lit])
                below.append(lit)
            m.add(sum(below) <= j)


def _add_sums(m: cp_model.CpModel, r: Packing, v: _Vars) -> None:
    """With `u` cores used, the first starts (tails) sum to at least the idle bound's least
    sum for `u`."""
    n_used = sum(v.used.values())
    for u in range(1, len(r.cores) + 1):
        exactly = m.new_bool_var(f"uses[{u}]")
        m.add(n_used == u).only_enforce_if(exactly)
        m.add(n_used != u).only_enforce_if(~exactly)
        m.add(sum(v.first.values()) >= r.first_sums[u - 1]).only_enforce_if(exactly)
        m.add(sum(v.gap.values()) >= r.last_sums[u - 1]).only_enforce_if(exactly)


def _build(r: Packing, horizon: int) -> tuple[cp_model.CpModel, cp_model.IntVar]:
    """The CP-SAT model of the relaxation and its makespan variable."""
    m = cp_model.CpModel()
    v = _Vars(
        makespan=m.new_int_var(min(r.floor, horizon), horizon, "makespan"),
        load=defaultdict(list),
        present=defaultdict(list),
        first={k: m.new_int_var(0, horizon, f"first[{k}]") for k in r.cores},
        gap={k: m.new_int_var(0, horizon, f"tail[{k}]") for k in r.cores},
        used={k: m.new_bool_var(f"used[{k}]") for k in r.cores},
    )
    _add_counts(m, r, v)
    _add_core_ends(m, r, v)
    _add_positions(m, r, v)
    _add_sums(m, r, v)
    for cores in r.interchangeable:  # cores no task may use are left out of the relaxation
        for left, right in pairwise(k for k in cores if k in v.first):
            m.add(v.first[left] <= v.first[right])
    m.minimize(v.makespan)
    return m, v.makespan


def solve_packing(
    r: Packing, horizon_cycles: int, time_limit_s: float, num_workers: int = 2, seed: int = 0
) -> PackingBound:
    """Solve the relaxation within `time_limit_s`: its optimum, or CP-SAT's proven bound on it
    when the time runs out (both lower bounds on the makespan of every schedule of the space
    within `horizon_cycles`; None when it finds none there)."""
    started = time.monotonic()
    model, _ = _build(r, horizon_cycles)
    value, proven = solve_for_bound(model, time_limit_s, num_workers, seed)
    return PackingBound(value, proven, time.monotonic() - started, len(r.classes))


__all__ = ["Packing", "PackingBound", "TaskClass", "packing_relaxation", "solve_packing"]
