"""The core rule of the list schedulers: units of tasks that share a core, and which core each
unit's first task takes.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpsched.heuristics.placer import Placer
from cpsched.heuristics.prepare import Prepared
from cpsched.model.graph import DisjointSets
from cpsched.model.problem import CoreId, MemoryId


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
    sets = DisjointSets(prep.group_of)
    # Every task of a group has the group's common cores (see prepare).
    unit_allowed: dict[int, set[CoreId]] = {}
    by_label: dict[object, list[int]] = {}
    for i in range(n):
        unit_allowed.setdefault(prep.group_of[i], set(prep.allowed[i]))
        by_label.setdefault(label[i], []).append(i)
    for members in by_label.values():
        roots = {sets.find(i) for i in members}
        if len(roots) < 2:
            continue
        common = set.intersection(*(unit_allowed[r] for r in roots))
        if common:
            first = min(roots)
            for r in roots:
                sets.union(first, r)
            unit_allowed[sets.find(first)] = common
    return sets.roots()


__all__ = ["UnitCores", "merge_units"]
