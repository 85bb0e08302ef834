"""Choosing the coarsest tiling whose every tile fits a memory it may use (`--tiles auto`).

The fit rule is that of `cpsched.check.infeasibility.task_too_big` (SPEC rule 9): a task's
inputs and outputs are all held while it runs, so they must fit at once in the memory of at
least one core it may run on (a core with no capacity limit, or on which the task takes no
time, always fits). frontend/ sits below check/, so the rule is restated here on frontend data
(:func:`layer_misfits` on a Problem; :func:`tile_need_bytes` on one tile of a layer), and
tests hold both equal to check/'s.

"Coarsest" means fewest tasks. A tile's need depends only on its own layer's split (what it
reads and writes, not how its neighbours are cut), so the fewest tasks overall is every layer
at its own coarsest fitting split, searched layer by layer. A layer's candidates are the
products of tile counts that divide its free dims, ordered by tile count, then (equal counts)
by more token tiles, then more head tiles, then more tiles along its other dims in loop order.
Free dims: the token dim when the token count is auto, the head dim when the head count is
auto, every other splittable dim when the splits are auto; a count the user gave stays.
The chosen splits are written back as one token count, one head count (the count most layers
share, the smaller on a tie) and `LAYER.DIM=N` overrides for the layers that differ.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from cpsched.frontend.build import build_problem
from cpsched.frontend.costs import CostModel, CostTable
from cpsched.frontend.hardware import CoreSpec, Hardware
from cpsched.frontend.tiling import (
    Tile,
    TilingSpec,
    layer_splits,
    operand_box,
    read_runs,
    reads_volume,
    task_id,
)
from cpsched.frontend.workload.spec import Layer, Workload
from cpsched.model.errors import input_error
from cpsched.model.problem import MemoryId, Problem

Split = dict[str, int]  # loop dim -> tile count (> 1 only, as layer_splits gives it)


@dataclass(frozen=True)
class LayerMisfit:
    """The largest need among a layer's tiles that fit no memory they may use, against the
    largest of those memories."""

    layer: str
    memory: MemoryId
    capacity_bytes: int
    need_bytes: int


@dataclass(frozen=True)
class AutoTiling:
    """A tiling chosen by :func:`choose_tiling`: the counts to pass back as options, the split
    of every layer they make, and how many tasks that is."""

    tiles: int
    head_tiles: int
    split: tuple[str, ...]  # DIM=N and LAYER.DIM=N items (the user's, then the chosen ones)
    splits: dict[str, Split]  # layer -> its counts (> 1)
    tasks: int

    def options(self) -> str:
        """The chosen tiling as command-line options, e.g. `--tiles 4 --split FF1.f=4`."""
        items = [f"--tiles {self.tiles}", f"--head-tiles {self.head_tiles}"]
        items += [f"--split {s}" for s in self.split]
        return " ".join(items)


def layer_misfits(problem: Problem) -> dict[str, LayerMisfit]:
    """Per layer, its hungriest tile that fits no memory it may use (check_tiles_fit's rule
    on every option core); layers whose tiles all fit are absent."""
    out: dict[str, LayerMisfit] = {}
    for task in problem.tasks:
        need = sum(problem.tensor_by_id[t].size_bytes for t in {*task.inputs, *task.outputs})
        largest: tuple[int, MemoryId] | None = None
        fits = False
        for option in task.options:
            memory = problem.memory_of(option.core)
            capacity = problem.memory_by_id[memory].capacity_bytes
            if option.duration_cycles == 0 or capacity is None or need <= capacity:
                fits = True
                break
            if largest is None or capacity > largest[0]:
                largest = (capacity, memory)
        if fits or largest is None:
            continue
        seen = out.get(task.layer)
        if seen is None or need > seen.need_bytes:
            out[task.layer] = LayerMisfit(task.layer, largest[1], largest[0], need)
    return out


def tile_need_bytes(workload: Workload, layer: Layer, tile: Tile) -> int:
    """Bytes a tile's inputs and outputs take: what it reads of each tensor and the box it
    writes (several operands of one tensor count their hull, which can only overstate)."""
    reads: dict[str, list[tuple[tuple[int, int], ...]]] = {}
    runs_of: dict[str, int] = {}
    for op in layer.inputs:
        shape = workload.tensor_shape(op.tensor) if op.offsets else ()
        got = read_runs(tile, op, shape)
        if got is None:
            continue
        hull = tuple((r[0][0], r[-1][1]) for r in got)
        if op.tensor in reads:
            runs_of[op.tensor] = -1  # read twice: fall back to the hull of both
        else:
            runs_of[op.tensor] = reads_volume(got)
        reads.setdefault(op.tensor, []).append(hull)
    need = 0
    for name, hulls in reads.items():
        volume = runs_of[name]
        if volume < 0:
            volume = math.prod(
                max(h[k][1] for h in hulls) - min(h[k][0] for h in hulls)
                for k in range(len(hulls[0]))
            )
        need += -(-volume * workload.tensor_bits(name) // 8)
    out = math.prod(hi - lo for lo, hi in operand_box(tile, layer.output.dims))
    return need - (-out * layer.output.bits // 8)


def _sample_tiles(layer: Layer, split: Mapping[str, int]) -> list[Tile]:
    """The first, a middle and the last tile along each split dim (their products): interior
    and edge tiles differ only where a window is clipped, so these hold the largest need."""
    picks = []
    for d, n in split.items():
        size = layer.loops[d]
        picks.append([(i * size // n, (i + 1) * size // n) for i in sorted({0, n // 2, n - 1})])
    tiles = []
    for combo in itertools.product(*picks):
        chosen = dict(zip(split, combo, strict=True))
        ranges = {d: chosen.get(d, (0, size)) for d, size in layer.loops.items()}
        tiles.append(Tile(task=task_id(layer.name, 0), layer=layer.name, index=0, ranges=ranges))
    return tiles


def layer_fit(
    workload: Workload,
    layer: Layer,
    split: Mapping[str, int],
    cores: Sequence[CoreSpec],
    model: CostModel,
    capacity: Mapping[MemoryId, int | None],
) -> LayerMisfit | None:
    """None when every tile of `layer` cut as `split` fits a memory of a core that may run it,
    else its hungriest tile's need against the largest such memory (from the tile's reads and
    writes, without building the problem)."""
    worst: LayerMisfit | None = None
    for tile in _sample_tiles(layer, split):
        need = tile_need_bytes(workload, layer, tile)
        largest: tuple[int, MemoryId] | None = None
        fits = False
        for core in cores:
            cost = model.cost(layer, tile, core)
            if cost is None:
                continue
            cap = capacity[core.memory]
            if cost.cycles == 0 or cap is None or need <= cap:
                fits = True
                break
            if largest is None or cap > largest[0]:
                largest = (cap, core.memory)
        if fits or largest is None:  # no core at all: build_problem says so
            continue
        if worst is None or need > worst.need_bytes:
            worst = LayerMisfit(layer.name, largest[1], largest[0], need)
    return worst


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def layer_candidates(layer: Layer, base: Mapping[str, int], free: Sequence[str]) -> list[Split]:
    """The splits of `layer` the search tries, coarsest first: `base` (the counts given) with
    every combination of divisors of the `free` dims, ordered by tile count, then by larger
    counts along the free dims in the order given (tokens, heads, then the others)."""
    combos = itertools.product(*(_divisors(layer.loops[d]) for d in free))
    ordered = sorted(combos, key=lambda c: (math.prod(c), tuple(-n for n in c)))
    out = []
    for combo in ordered:
        split = {d: n for d, n in base.items() if d not in free}
        split.update(zip(free, combo, strict=True))
        out.append({d: n for d, n in split.items() if n > 1})
    return out


def _free_dims(
    layer: Layer,
    tiles_auto: bool,
    head_auto: bool,
    split_auto: bool,
    given: set[str],
) -> list[str]:
    """The dims of `layer` the search may cut: tokens, heads, then the other splittable dims
    in loop order, leaving out every dim whose count the user gave (`given`)."""
    reduced = layer.reduced_dims()
    free: list[str] = []
    if tiles_auto and layer.token_dim is not None and layer.token_dim not in given:
        free.append(layer.token_dim)
    if head_auto and layer.head_dim is not None and layer.head_dim not in given:
        free.append(layer.head_dim)
    if split_auto:
        for d, size in layer.loops.items():
            if d in reduced or d in given or d in free or size == 1:
                continue
            if d in (layer.token_dim, layer.head_dim):
                continue  # cut by --tiles / --head-tiles, which the user gave
            free.append(d)
    return free


def _most_common(counts: Sequence[int]) -> int:
    if not counts:
        return 1
    tally = Counter(counts)
    return min(tally, key=lambda n: (-tally[n], n))


def _write_back(
    workload: Workload,
    base: TilingSpec,
    chosen: Mapping[str, Split],
    tiles: int | None,
    head_tiles: int | None,
    user_split: Sequence[str],
) -> AutoTiling:
    """Express per-layer splits as one token count, one head count and per-layer overrides."""
    layers = workload.layers
    t = (
        tiles
        if tiles is not None
        else _most_common(
            [chosen[lay.name].get(lay.token_dim, 1) for lay in layers if lay.token_dim]
        )
    )
    h = (
        head_tiles
        if head_tiles is not None
        else _most_common([chosen[lay.name].get(lay.head_dim, 1) for lay in layers if lay.head_dim])
    )
    plain = layer_splits(workload, base.model_copy(update={"tiles": t, "head_tiles": h}))
    items = list(user_split)
    for layer in layers:
        want, got = chosen[layer.name], plain[layer.name]
        for d in layer.loops:
            if want.get(d, 1) != got.get(d, 1):
                items.append(f"{layer.name}.{d}={want.get(d, 1)}")
    tasks = sum(math.prod(chosen[lay.name].values()) for lay in layers)
    return AutoTiling(t, h, tuple(items), {k: dict(v) for k, v in chosen.items()}, tasks)


def search_candidates(
    workload: Workload,
    base: TilingSpec,
    *,
    tiles_auto: bool,
    head_auto: bool,
    split_auto: bool,
    source: str = "--tiles",
) -> dict[str, tuple[list[str], list[Split]]]:
    """Per layer, the dims the search may cut and its candidate splits in search order
    (coarsest first; the last is the finest), on top of the counts `base` gives."""
    given_base = base.model_copy(
        update={
            "tiles": 1 if tiles_auto else base.tiles,
            "head_tiles": 1 if head_auto else base.head_tiles,
        }
    )
    start = layer_splits(workload, given_base, source)
    out: dict[str, tuple[list[str], list[Split]]] = {}
    for layer in workload.layers:
        given = set(base.dims) | set(base.layers.get(layer.name, {}))
        free = _free_dims(layer, tiles_auto, head_auto, split_auto, given)
        out[layer.name] = (free, layer_candidates(layer, start[layer.name], free))
    return out


def choose_tiling(
    workload: Workload,
    hardware: Hardware,
    base: TilingSpec,
    *,
    tiles_auto: bool,
    head_auto: bool,
    split_auto: bool,
    user_split: Sequence[str] = (),
    costs: CostTable | None = None,
    source: str = "--tiles",
) -> AutoTiling:
    """The coarsest tiling (fewest tasks) of `workload` on `hardware` whose every tile fits a
    memory it may use, searching the counts marked auto on top of `base` (the counts given:
    `base.tiles`/`base.head_tiles` are ignored where auto; `user_split` are base's --split
    items, kept as given).

    Raises InputError (option `source`) naming a layer that fits at none of its candidates,
    its largest memory and the smallest need it reaches, when no tiling fits.
    """
    searched = search_candidates(
        workload,
        base,
        tiles_auto=tiles_auto,
        head_auto=head_auto,
        split_auto=split_auto,
        source=source,
    )
    model = CostModel(workload, hardware, costs)
    capacity = {m.id: m.capacity_bytes for m in hardware.memories}
    pending: dict[str, Iterator[Split]] = {}
    chosen: dict[str, Split] = {}
    for layer in workload.layers:
        free, candidates = searched[layer.name]
        cores = hardware.cores
        if base.allocation == "fixed" and layer.name in base.fixed:
            cores = tuple(c for c in cores if c.id == base.fixed[layer.name])
        finest = layer_fit(workload, layer, candidates[-1], cores, model, capacity)
        if finest is not None:
            raise _nothing_fits(layer, candidates[-1], finest, free, source)
        found = next(
            i
            for i, c in enumerate(candidates)
            if i == len(candidates) - 1
            or layer_fit(workload, layer, c, cores, model, capacity) is None
        )
        chosen[layer.name] = candidates[found]
        pending[layer.name] = iter(candidates[found + 1 :])
    tiles = None if tiles_auto else base.tiles
    heads = None if head_auto else base.head_tiles
    # The estimate above rounds bytes per tensor, the problem per piece: confirm on the problem
    # and move a layer that the problem finds too big on to its next candidate.
    while True:
        auto = _write_back(workload, base, chosen, tiles, heads, user_split)
        spec = base.model_copy(
            update={"tiles": auto.tiles, "head_tiles": auto.head_tiles, **_spec_splits(auto)}
        )
        misfits = layer_misfits(build_problem(workload, hardware, spec, costs))
        if not misfits:
            return auto
        for name, misfit in misfits.items():
            nxt = next(pending[name], None)
            if nxt is None:
                layer = workload.layer_by_name()[name]
                raise _nothing_fits(layer, chosen[name], misfit, list(chosen[name]), source)
            chosen[name] = nxt


def _spec_splits(auto: AutoTiling) -> dict[str, object]:
    from cpsched.frontend.tiling import parse_splits

    dims, layers = parse_splits(list(auto.split))
    return {"dims": dims, "layers": layers}


def _nothing_fits(
    layer: Layer, split: Mapping[str, int], misfit: LayerMisfit, free: Sequence[str], source: str
) -> Exception:
    reduced = layer.reduced_dims()
    cut = ", ".join(f"{d}={n}" for d, n in split.items()) or "whole"
    whole = [d for d in reduced if layer.loops[d] > 1]
    why = (
        f"; it sums or normalizes over {', '.join(f'{d} of {layer.loops[d]}' for d in whole)}, "
        "which cannot be split"
        if whole
        else ""
    )
    searched = f" searching {', '.join(free)}" if free else ""
    others = [
        f"{d} of {n}"
        for d, n in layer.loops.items()
        if d not in reduced and d not in free and d not in split and n > 1
    ]
    fix = (
        f"let more loops be cut (--head-tiles auto, --split auto; {layer.name}'s other "
        f"splittable loops: {', '.join(others)}) or use a hardware with larger memories"
        if others
        else "use a hardware with larger memories"
    )
    return input_error(
        source,
        "",
        f"no tiling fits: layer {layer.name} at its finest tiling{searched} ({cut}) needs "
        f"{misfit.need_bytes:,} bytes per tile, more than {misfit.memory} holds "
        f"({misfit.capacity_bytes:,} bytes, the largest memory it may use){why}; {fix}",
    )
