"""Stream-style list scheduling: a layer's tiles share a core; tasks go in a static priority order.

- Core: the whole layer (joined with any explicit group) runs on one core, chosen when its first
  tile is placed, or given by a fixed allocation. The rule: the core that finishes that tile
  earliest, counting also the work still owed there by layers already pinned to it (`load_aware`,
  the default); without that count, every next layer tends to land on the core that just made
  its input, and a fused stack runs on one core (measured on the bundled models: 2-4x slower on
  many cores).
- Order: among ready tasks, the deepest layer first (depth-first through the fused stack) or the
  shallowest first (breadth-first); then by tile.
- Compute is append-only per core (no back-filling of idle gaps); transfers take the earliest
  window in which every link of their route is free; a task waits while its memory is full.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from cpsched.heuristics.cores import merge_units
from cpsched.heuristics.loop import Key, run_list_schedule
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.result import to_result
from cpsched.model.problem import CoreId, Problem, TaskId
from cpsched.model.result import SolveResult

Order = Literal["depth-first", "breadth-first"]


def list_priority(prep: Prepared, order: Order, stack_depth: int | None = None) -> list[Key]:
    """Static priority keys (smallest first): fused stack, layer depth (deepest or shallowest
    first), tile. With `stack_depth`, layers are cut by depth into stacks of that many levels,
    run one stack after another (Stream's fused layer stacks); otherwise one stack holds all."""
    sign = -1 if order == "depth-first" else 1
    return [
        (
            0 if stack_depth is None else prep.layer_depth[i] // stack_depth,
            sign * prep.layer_depth[i],
            task.tile,
            prep.depth[i],
            i,
        )
        for i, task in enumerate(prep.problem.tasks)
    ]


# Depth-first through the whole stack holds every layer's weights at once; when memory runs
# out, retry with ever shallower fused stacks (1 = layer by layer, each layer depth-first).
STACK_DEPTHS: tuple[int | None, ...] = (None, 16, 4, 1)
RETRY_SMALL_TASKS = 2000


def list_schedule(
    problem: Problem,
    order: Order = "depth-first",
    allocation: Mapping[TaskId, CoreId] | None = None,
    prep: Prepared | None = None,
    load_aware: bool = True,
) -> SolveResult:
    """Schedule `problem` the way Stream does (module doc); `allocation` fixes task cores."""
    started = time.perf_counter()
    prep = prep or prepare(problem)
    layers = [t.layer for t in problem.tasks]
    units = merge_units(prep, layers)
    fixed = {prep.index[t]: c for t, c in (allocation or {}).items()}
    params: dict[str, object] = {
        "order": order,
        "allocation": "fixed"
        if allocation
        else "earliest finish of a layer's first tile"
        + (" + work already pinned to the core" if load_aware else ""),
    }
    depths = STACK_DEPTHS if order == "depth-first" else (None,)
    first_message = ""
    # Layers keep their core unless no stack depth fits; then, last, a layer that fills a
    # memory may spread its tiles over several cores.
    attempts = [(split, depth) for split in (False, True) for depth in depths]
    for split, stack_depth in attempts:
        priority = list_priority(prep, order, stack_depth)
        # Each retry is a full run: the whole stack on a small problem gets the most.
        retries = 6 if stack_depth is None and prep.n_tasks <= RETRY_SMALL_TASKS else 2
        outcome = run_list_schedule(
            prep,
            priority,
            units,
            fixed=fixed,
            insertion=False,
            max_retries=retries,
            split_units=split,
            load_aware=load_aware,
        )
        if outcome.schedule is not None or outcome.reasons or prep.cannot_place:
            break
        first_message = first_message or outcome.message
    if outcome.schedule is None and first_message:
        outcome.message = first_message
    if order == "depth-first":
        params["fused_stack_depth"] = stack_depth if outcome.schedule is not None else None
    if outcome.split:
        layers_split = sorted({problem.task_by_id[t].layer for t in outcome.split})
        params["layers_split_over_cores"] = layers_split
        split_note = f"layers {', '.join(layers_split)} split over cores to fit memory"
        outcome.note = "; ".join(n for n in (split_note, outcome.note) if n)
    return to_result(problem, f"list-{order}", outcome, started, params)
