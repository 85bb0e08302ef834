"""Heuristic schedulers: fast valid schedules, as baselines and as CP-SAT's hint and horizon.

Every heuristic returns a :class:`~cpsched.model.result.SolveResult` whose schedule has passed the
validator, or `schedule=None` with the reason it could not build one: status `infeasible` only
with the static checker's proof (:func:`cpsched.check.infeasibility.find_infeasibility`),
`unknown` when it found none.

The rooms: `prepare` (what every heuristic knows about a problem, on the graph facts of
:mod:`cpsched.model.graph`), `placer` (resources and the placement of one task), `cores` (which
core a task takes), `loop` (the list-scheduling loop and its retries), `result` (validation and
the SolveResult); the heuristics themselves in `list_scheduler`, `heft` and `layer_by_layer`.
Two re-sequencings of a given schedule, which CP-SAT's search offers as starts: `reuse` (the
same cores, an order that loads fewer bytes) and `share` (the tasks reading one weight
together, on new cores).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence

from cpsched.heuristics.features import ALL, FORMAT_1, IN_SPACE, Features
from cpsched.heuristics.heft import heft_schedule
from cpsched.heuristics.layer_by_layer import layer_by_layer_schedule
from cpsched.heuristics.list_scheduler import list_schedule
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.result import InvalidHeuristicSchedule
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


def run_heuristics(
    problem: Problem, names: Sequence[str] | None = None, *, features: Features = ALL
) -> dict[str, SolveResult]:
    """The result of each heuristic in `names` (default: all, in HEURISTICS order) on `problem`,
    sharing one analysis of the problem, using the format-2 freedoms in `features` (all).

    The one failure rule: a heuristic that finds no schedule returns a result with
    `schedule=None` and says why; a heuristic that builds a schedule the validator rejects has a
    bug, which is reported as a RuntimeWarning and as a result with `schedule=None` and status
    `unknown`, so that one broken heuristic never stops a solve.
    """
    return dict(iter_heuristics(problem, names, features=features))


def iter_heuristics(
    problem: Problem, names: Sequence[str] | None = None, *, features: Features = ALL
) -> Iterator[tuple[str, SolveResult]]:
    """:func:`run_heuristics` one heuristic at a time, in the order of `names`: each runs when
    the caller asks for the next (a caller short of time stops asking). Unknown names fail
    before any runs."""
    chosen = tuple(HEURISTICS) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in HEURISTICS]
    if unknown:
        raise KeyError(f"unknown heuristic {unknown[0]!r}; known: {', '.join(HEURISTICS)}")
    return _iter_heuristics(problem, chosen, features)


def _iter_heuristics(
    problem: Problem, chosen: tuple[str, ...], features: Features
) -> Iterator[tuple[str, SolveResult]]:
    prep = prepare(problem, features)
    for name in chosen:
        started = time.perf_counter()
        try:
            yield name, HEURISTICS[name](problem, prep=prep)
        except InvalidHeuristicSchedule as exc:
            warnings.warn(f"heuristic {name} failed: {exc}", RuntimeWarning, stacklevel=2)
            yield (
                name,
                SolveResult(
                    method=name,
                    status="unknown",
                    objective="latency",
                    wall_time_s=time.perf_counter() - started,
                    message=f"internal error, no schedule: {exc}",
                ),
            )


def run_heuristic(problem: Problem, name: str) -> SolveResult:
    """The result of the heuristic called `name` (a key of HEURISTICS) on `problem`."""
    return run_heuristics(problem, [name])[name]


def best_heuristic(results: Mapping[str, SolveResult]) -> str | None:
    """The name of the lowest-latency result that has a schedule (the first on ties), or None."""
    found = {
        name: r.objective_value
        for name, r in results.items()
        if r.schedule is not None and r.objective_value is not None
    }
    return min(found, key=lambda name: found[name]) if found else None


def best_heuristic_schedule(problem: Problem) -> Schedule | None:
    """The lowest-latency valid schedule any heuristic finds (CP-SAT's hint, horizon), or None."""
    results = run_heuristics(problem)
    best = best_heuristic(results)
    return None if best is None else results[best].schedule


__all__ = [
    "ALL",
    "FORMAT_1",
    "HEURISTICS",
    "IN_SPACE",
    "Features",
    "InvalidHeuristicSchedule",
    "Prepared",
    "best_heuristic",
    "best_heuristic_schedule",
    "iter_heuristics",
    "prepare",
    "run_heuristic",
    "run_heuristics",
]
