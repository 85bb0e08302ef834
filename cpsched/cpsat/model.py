"""Assemble the CP-SAT model: variables, then each constraint family, then the objective stages."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from ortools.sat.python import cp_model

from cpsched.cpsat import constraints as c
from cpsched.cpsat.bounds import StaticBounds, first_start_positions
from cpsched.cpsat.bounds import static_bounds as compute_static_bounds
from cpsched.cpsat.objective import (
    MetricExpr,
    PeakVariables,
    StageExpr,
    add_caps,
    create_peak_variables,
    stage_expr,
)
from cpsched.cpsat.space import LinkShares, Space
from cpsched.cpsat.strengthen import (
    add_first_start_order,
    add_peak_floors,
    add_redundant,
    add_static_bounds,
    add_symmetry_breaking,
    add_tile_symmetry,
    interchangeable_classes,
)
from cpsched.cpsat.tiles import TileRun, tile_runs
from cpsched.cpsat.variables import Variables, create_variables
from cpsched.model.objective import Metric, Objective
from cpsched.model.problem import CoreId, LinkId, TaskId
from cpsched.model.space import Keep, extend_space


@dataclass
class BuiltModel:
    """A model ready to solve, with its variables and one integer objective per stage."""

    model: cp_model.CpModel
    space: Space
    vars: Variables
    peaks: PeakVariables | None
    stages: list[StageExpr]
    symmetric_classes: list[list[CoreId]] = field(default_factory=list)
    tile_runs: list[TileRun] = field(default_factory=list)
    symmetry_by_first_start: bool = False  # classes ordered by first start, not by first use
    shared_links: list[LinkId] = field(default_factory=list)  # links with a cumulative
    static_makespan_cycles: int = 0  # the static lower bound on the makespan (0: not computed)
    bounds: StaticBounds | None = None  # the static bounds the model holds (None: not computed)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _collector_paused(build: Callable[_P, _R]) -> Callable[_P, _R]:
    """`build` with Python's cyclic garbage collector (not reference counting) paused while it
    runs: a model holds hundreds of thousands of live objects, and every full collection walked
    them all again (1.5 s of 11.5 s building BERT-base on mesh4x4). Restores the collector as it
    was; whatever cycles the build leaves are collected afterwards."""

    @functools.wraps(build)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run


@_collector_paused
def build_model(
    space: Space,
    objective: Objective,
    horizon_cycles: int,
    *,
    redundant: bool = True,
    symmetry_breaking: bool = True,
    static_bounds: bool = True,
    tile_symmetry: bool = True,
    idle_bound: bool = True,
    port_heads: bool = False,
    idle_union_inputs: bool = True,
    first_start_order: bool = False,
    multicast: bool = True,
    shared_bandwidth: bool = True,
    staging: bool = True,
    spill: bool = True,
    prune_memory: bool = True,
    keep: Keep | None = None,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None = None,
    caps: Mapping[Metric, float] | None = None,
) -> BuiltModel:
    """Build the model of `space` over [0, horizon_cycles] for `objective` (no objective set yet:
    the solver sets each stage's in turn). `caps` bounds metrics from above (metric <= cap).
    `multicast` lets a transfer ride along another of the same tensor (:attr:`Space.leaders`);
    without multicast links it changes nothing. `shared_bandwidth` lets transfers on a
    `bandwidth` link overlap while their rates fit its bandwidth (off: one at a time on every
    link); where every transfer takes a whole link it changes nothing. `staging` searches the
    space with staging (:func:`cpsched.model.space.with_staging`), `spill` the one with spill and
    reload (:func:`cpsched.model.space.with_spill`, only the reloads and spill stores in `keep`
    when given); `space` may be any of them. `prune_memory`
    leaves out the capacity cumulative of a memory that can hold everything it may ever hold at
    once. `port_heads`: static heads and tails count the link crossings of ancestors' inputs and
    descendants' stores (:func:`cpsched.cpsat.bounds.compute_heads`). `idle_union_inputs`: the
    core idle bound counts the cores' first inputs once each, multicast ones included
    (:func:`cpsched.cpsat.bounds.first_input_positions`)."""
    space = extend_space(space, staging=staging, spill=spill, keep=keep)
    model = cp_model.CpModel()
    model.name = space.problem.name
    leaders = space.leaders if multicast else {}
    shares = LinkShares(space.problem, shared_bandwidth)
    v = create_variables(model, space, horizon_cycles, leaders)
    c.add_assignment(model, space, v)
    c.add_core_exclusivity(model, space, v)
    c.add_transfer_presence(model, space, v)
    c.add_multicast(model, space, v)
    c.add_data_dependencies(model, space, v)
    c.add_control_dependencies(model, space, v)
    c.add_barriers(model, space, v)
    shared_links = c.add_link_exclusivity(model, space, v, shares)
    c.add_releases(model, space, v)
    c.add_reloads(model, space, v)
    peaks = create_peak_variables(model, space, objective, extra=caps or {})
    c.add_memory_capacity(
        model, space, v, None if peaks is None else peaks.total, prune=prune_memory
    )
    if peaks is not None and peaks.activation:
        c.add_activation_peaks(model, space, v, peaks.activation)
    c.add_makespan(model, space, v)
    if fixed_order:
        c.add_fixed_order(model, space, v, fixed_order)
    if redundant:
        add_redundant(model, space, v, shares)
        if peaks is not None:
            add_peak_floors(model, space, v, peaks)
    # a tensor that may be multicast feeds several cores with one transfer: the idle bound and
    # first start positions must not count it once per core
    shared = frozenset(x for x, _, _ in leaders)
    bounds = (
        compute_static_bounds(
            space,
            core_idle=idle_bound,
            shared=shared,
            shares=shares,
            port_heads=port_heads,
            union_inputs=idle_union_inputs,
        )
        if static_bounds
        else None
    )
    if bounds is not None:
        add_static_bounds(model, space, v, bounds)
    classes: list[list[CoreId]] = []
    by_first_start = symmetry_breaking and first_start_order and bounds is not None
    if by_first_start:
        assert bounds is not None
        classes = interchangeable_classes(space)
        positions = first_start_positions(space, bounds.head, shared, shares)
        add_first_start_order(model, space, v, classes, positions, bounds)
    elif symmetry_breaking:
        classes = add_symmetry_breaking(model, space, v)
    runs = tile_runs(space) if tile_symmetry and not fixed_order else []
    add_tile_symmetry(model, space, v, runs)
    cache: dict[Metric, MetricExpr] = {}
    add_caps(model, space, v, peaks, caps or {}, cache)
    stages = [stage_expr(model, space, v, peaks, s, cache) for s in objective.stages]
    return BuiltModel(
        model,
        space,
        v,
        peaks,
        stages,
        classes,
        runs,
        symmetry_by_first_start=by_first_start,
        static_makespan_cycles=0 if bounds is None else bounds.makespan_cycles,
        bounds=bounds,
        shared_links=shared_links,
    )
