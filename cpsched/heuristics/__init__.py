"""Heuristic schedulers: fast valid schedules, as baselines and as CP-SAT's hint and horizon.

Every heuristic returns a :class:`~cpsched.model.result.SolveResult` whose schedule has passed the
validator, or `schedule=None` with the reason it could not build one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from cpsched.heuristics.engine import InvalidHeuristicSchedule, Prepared, prepare
from cpsched.heuristics.heft import heft_schedule
from cpsched.heuristics.layer_by_layer import layer_by_layer_schedule
from cpsched.heuristics.list_scheduler import list_schedule
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule


def _list_depth_first(problem: Problem, prep: Prepared | None = None) -> SolveResult:
    return list_schedule(problem, "depth-first", prep=prep)


def _list_breadth_first(problem: Problem, prep: Prepared | None = None) -> SolveResult:
    return list_schedule(problem, "breadth-first", prep=prep)


HEURISTICS: dict[str, Callable[..., SolveResult]] = {
    "list-depth-first": _list_depth_first,
    "list-breadth-first": _list_breadth_first,
    "heft": heft_schedule,
    "layer-by-layer": layer_by_layer_schedule,
}


def run_heuristic(problem: Problem, name: str) -> SolveResult:
    """Run the heuristic called `name` (a key of HEURISTICS) on `problem`."""
    if name not in HEURISTICS:
        raise KeyError(f"unknown heuristic {name!r}; known: {', '.join(HEURISTICS)}")
    return HEURISTICS[name](problem)


def run_all_heuristics(problem: Problem) -> dict[str, SolveResult]:
    """Every heuristic's result on `problem`, sharing one analysis of the problem."""
    prep = prepare(problem)
    return {name: fn(problem, prep=prep) for name, fn in HEURISTICS.items()}


def best_heuristic_schedule(problem: Problem) -> Schedule | None:
    """The lowest-latency valid schedule any heuristic finds (CP-SAT's hint, horizon), or None."""
    best: SolveResult | None = None
    prep = prepare(problem)
    for name, fn in HEURISTICS.items():
        try:
            result = fn(problem, prep=prep)
        except InvalidHeuristicSchedule as exc:  # a heuristic bug must not break the solver
            warnings.warn(f"skipping heuristic {name}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        if result.schedule is None or result.objective_value is None:
            continue
        if best is None or result.objective_value < (best.objective_value or 0.0):
            best = result
    return best.schedule if best is not None else None


__all__ = [
    "HEURISTICS",
    "Prepared",
    "best_heuristic_schedule",
    "prepare",
    "run_all_heuristics",
    "run_heuristic",
]
