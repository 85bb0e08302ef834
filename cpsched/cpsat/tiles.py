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


_FreeKey = tuple[frozenset[TaskId], int, str, str | None, bool]


def _free_tensors(space: Space) -> dict[_FreeKey, list[TensorId]]:
    """The tensors with no producer, by what a renaming must keep (their readers, size, kind,
    home and store flag), each list in problem order."""
    p = space.problem
    out: dict[_FreeKey, list[TensorId]] = defaultdict(list)
    for y in p.tensors:
        if y.producer is None:
            key = (frozenset(p.consumers[y.id]), y.size_bytes, y.kind, y.home, y.store)
            out[key].append(y.id)
    return out


def renaming(
    space: Space,
    tile_map: Mapping[int, int],
    grid: Mapping[str, dict[int, TaskId]] | None = None,
    free: Mapping[_FreeKey, list[TensorId]] | None = None,
) -> Renaming | None:
    """The renaming that renumbers tiles by `tile_map` in every layer, if it maps the problem
    (restricted to the space's candidate cores) onto itself; else None. `grid` and `free` are
    the problem's tasks by (layer, tile) and its free tensors by key, when the caller has them
    (tile_runs asks for one renaming per pair of tiles: thousands on a big layer)."""
    p = space.problem
    grid = _by_layer_tile(space) if grid is None else grid
    if grid is None:
        return None
    free = _free_tensors(space) if free is None else free
    # every task maps to itself but those of the renumbered tiles
    tasks: dict[TaskId, TaskId] = {t.id: t.id for t in p.tasks}
    moved: list[TaskId] = []
    for tiles in grid.values():
        for i, j in tile_map.items():
            if i == j or i not in tiles:
                continue
            if j not in tiles:
                return None
            tasks[tiles[i]] = tiles[j]
            moved.append(tiles[i])
    if {tasks[t] for t in moved} != set(moved):
        return None  # not a permutation of the renumbered tasks
    tensors: dict[TensorId, TensorId] = {x.id: x.id for x in p.tensors if x.producer is not None}
    for t in moved:
        task, image = p.task_by_id[t], p.task_by_id[tasks[t]]
        if len(image.outputs) != len(task.outputs):
            return None
        tensors.update(zip(task.outputs, image.outputs, strict=True))
    taken: set[TensorId] = set()
    for x in p.tensors:
        if x.producer is not None:
            continue
        readers = frozenset(tasks[c] for c in p.consumers[x.id])
        bucket = free.get((readers, x.size_bytes, x.kind, x.home, x.store), [])
        candidates = [y for y in bucket if y not in taken]
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
    free = _free_tensors(space)
    sign = _signatures(space)
    runs: list[list[int]] = []
    for i, j in pairwise(tiles):
        if any(
            (i in layer) != (j in layer) or (i in layer and sign[layer[i]] != sign[layer[j]])
            for layer in grid.values()
        ):
            continue  # some layer's tiles i and j differ: no renaming exchanges them
        if renaming(space, {i: j, j: i}, grid, free) is None:
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


def _signatures(space: Space) -> dict[TaskId, tuple[object, ...]]:
    """What a renaming must keep of each task: its candidate cores with their costs, its output
    sizes in order and its input sizes (two tasks with different signatures never map onto each
    other, so a pair of tiles is rejected without building the renaming)."""
    p = space.problem
    size = {x.id: x.size_bytes for x in p.tensors}
    out: dict[TaskId, tuple[object, ...]] = {}
    for task in p.tasks:
        costs = []
        for k in space.cores[task.id]:
            o = p.option(task.id, k)
            assert o is not None
            costs.append((k, o.duration_cycles, o.energy_pj))
        out[task.id] = (
            tuple(costs),
            tuple(size[y] for y in task.outputs),
            tuple(sorted(size[x] for x in task.inputs)),
            len(task.after),
        )
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
