"""Symmetry between tiles: renumbering the tiles of every layer at once, when that maps the problem
onto itself (no ortools here; the constraint is added in :mod:`cpsched.cpsat.strengthen`).

When tiles `i` and `i+1` can be exchanged in every layer (same candidate cores with the same
costs, tensors of the same size, kind, home and store flag, and the same reads, groups and
barriers once renamed), the renaming is an automorphism of the problem: it turns every valid
schedule into a valid schedule with the same latency, energy and memory peaks. Adjacent
exchanges of a run of tiles `a..b` generate every permutation of that run, so for any schedule
some renumbering puts the tiles of one layer (the leader) in order of start time. Hence
`start[leader tile a] <= ... <= start[leader tile b]` keeps an optimal schedule of every
objective. It is compatible with the core symmetry breaking of :mod:`~.strengthen`: exchanging
cores changes no start time, so a schedule can first be renumbered by tiles, then by cores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from cpsched.cpsat.space import Space
from cpsched.model.problem import TaskId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer


@dataclass(frozen=True)
class TileRun:
    """Tiles `tiles` (consecutive) that any renumbering exchanges; `leader` lists, per tile in
    order, the task of the leading layer whose start times are ordered."""

    tiles: tuple[int, ...]
    leader: tuple[TaskId, ...]


@dataclass(frozen=True)
class Renaming:
    """A renaming of tasks and tensors that maps a problem onto itself."""

    tasks: dict[TaskId, TaskId]
    tensors: dict[TensorId, TensorId]


def _by_layer_tile(space: Space) -> dict[str, dict[int, TaskId]] | None:
    out: dict[str, dict[int, TaskId]] = defaultdict(dict)
    for task in space.problem.tasks:
        if task.tile in out[task.layer]:
            return None  # two tasks share a (layer, tile): tiles do not name tasks
        out[task.layer][task.tile] = task.id
    return out


def renaming(space: Space, tile_map: Mapping[int, int]) -> Renaming | None:
    """The renaming that renumbers tiles by `tile_map` in every layer, if it maps the problem
    (restricted to the space's candidate cores) onto itself; else None."""
    p = space.problem
    grid = _by_layer_tile(space)
    if grid is None:
        return None
    tasks: dict[TaskId, TaskId] = {}
    for tiles in grid.values():
        for i, t in tiles.items():
            j = tile_map.get(i, i)
            if j not in tiles:
                return None
            tasks[t] = tiles[j]
    if len(set(tasks.values())) != len(tasks):
        return None
    tensors: dict[TensorId, TensorId] = {}
    for task in p.tasks:
        image = p.task_by_id[tasks[task.id]]
        if len(image.outputs) != len(task.outputs):
            return None
        tensors.update(zip(task.outputs, image.outputs, strict=True))
    free = [x for x in p.tensors if x.producer is None]
    taken: set[TensorId] = set()
    for x in free:
        readers = {tasks[c] for c in p.consumers[x.id]}
        candidates = [
            y.id
            for y in free
            if set(p.consumers[y.id]) == readers
            and (y.size_bytes, y.kind, y.home, y.store) == (x.size_bytes, x.kind, x.home, x.store)
            and y.id not in taken
        ]
        if not candidates:
            return None
        pick = x.id if x.id in candidates else candidates[0]
        tensors[x.id] = pick
        taken.add(pick)
    if not _is_automorphism(space, Renaming(tasks, tensors)):
        return None
    return Renaming(tasks, tensors)


def _is_automorphism(space: Space, r: Renaming) -> bool:
    p = space.problem
    if len(set(r.tensors.values())) != len(r.tensors) or len(r.tensors) != len(p.tensors):
        return False
    for x in p.tensors:
        y = p.tensor_by_id[r.tensors[x.id]]
        if (x.size_bytes, x.kind, x.home, x.store) != (y.size_bytes, y.kind, y.home, y.store):
            return False
        if (None if x.producer is None else r.tasks[x.producer]) != y.producer:
            return False
    for task in p.tasks:
        image = p.task_by_id[r.tasks[task.id]]
        if space.cores[task.id] != space.cores[image.id]:
            return False
        for k in space.cores[task.id]:
            a, b = p.option(task.id, k), p.option(image.id, k)
            assert a is not None and b is not None
            if (a.duration_cycles, a.energy_pj) != (b.duration_cycles, b.energy_pj):
                return False
        if {r.tensors[x] for x in task.inputs} != set(image.inputs):
            return False
        if len(set(task.inputs)) != len(task.inputs) or len(image.inputs) != len(task.inputs):
            return False
        if {r.tasks[a] for a in task.after} != set(image.after):
            return False
        if [r.tensors[y] for y in task.outputs] != list(image.outputs):
            return False
    groups = {frozenset(g) for g in p.groups}
    if {frozenset(r.tasks[t] for t in g) for g in p.groups} != groups:
        return False
    barriers = {(frozenset(b.before), frozenset(b.after)) for b in p.barriers}
    mapped = {
        (frozenset(r.tasks[t] for t in b.before), frozenset(r.tasks[t] for t in b.after))
        for b in p.barriers
    }
    return mapped == barriers


def tile_runs(space: Space) -> list[TileRun]:
    """Runs of consecutive tiles whose adjacent exchanges are automorphisms (length 2 or more)."""
    grid = _by_layer_tile(space)
    if grid is None:
        return []
    tiles = sorted({i for layer in grid.values() for i in layer})
    runs: list[list[int]] = []
    for i, j in pairwise(tiles):
        if renaming(space, {i: j, j: i}) is None:
            continue
        if runs and runs[-1][-1] == i:
            runs[-1].append(j)
        else:
            runs.append([i, j])
    out = []
    order = {t.id: n for n, t in enumerate(space.problem.tasks)}
    for run in runs:
        layers = [layer for layer in grid.values() if all(i in layer for i in run)]
        if not layers:
            continue
        leader = min(layers, key=lambda layer: order[layer[run[0]]])
        out.append(TileRun(tuple(run), tuple(leader[i] for i in run)))
    return out


def canonical_tiles(space: Space, runs: list[TileRun], schedule: Schedule) -> Schedule:
    """Renumber the tiles of `schedule` so that each run's leader tasks start in tile order (a
    schedule that obeys the tile ordering; unchanged if a renaming cannot be built)."""
    for run in runs:
        start = {st.id: st.start for st in schedule.tasks}
        if any(t not in start for t in run.leader):
            continue
        by_start = sorted(range(len(run.tiles)), key=lambda n: (start[run.leader[n]], n))
        # the tile at rank r of start times becomes tile run.tiles[r]
        tile_map = {run.tiles[n]: run.tiles[r] for r, n in enumerate(by_start)}
        r = renaming(space, tile_map)
        if r is None:
            continue
        schedule = apply_renaming(schedule, r)
    return schedule


def apply_renaming(schedule: Schedule, r: Renaming) -> Schedule:
    """The schedule with tasks and tensors renamed (valid for the problem when `r` is an
    automorphism of it)."""
    return schedule.model_copy(
        update={
            "tasks": tuple(
                ScheduledTask(id=r.tasks.get(st.id, st.id), core=st.core, start=st.start)
                for st in schedule.tasks
            ),
            "transfers": tuple(
                ScheduledTransfer(
                    tensor=r.tensors.get(x.tensor, x.tensor),
                    src=x.src,
                    dst=x.dst,
                    start=x.start,
                    rate_bytes_per_cycle=x.rate_bytes_per_cycle,
                )
                for x in schedule.transfers
            ),
        }
    )
