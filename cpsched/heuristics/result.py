"""A heuristic's outcome as a SolveResult: validated, with its latency from the metrics."""

from __future__ import annotations

import time

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate  # the validator shares no code with the heuristics
from cpsched.heuristics.loop import Outcome
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult


class InvalidHeuristicSchedule(AssertionError):
    """A heuristic built a schedule the validator rejects: a heuristic bug, not the user's."""


def to_result(
    problem: Problem, method: str, outcome: Outcome, started_s: float, params: dict[str, object]
) -> SolveResult:
    """Validate a heuristic's outcome and wrap it as a SolveResult (docs/results.md): `infeasible`
    only with the static checker's reasons, `unknown` (found none) otherwise."""
    if outcome.schedule is None:
        return SolveResult(
            method=method,
            status="infeasible" if outcome.reasons else "unknown",  # only with a proof
            objective="latency",
            wall_time_s=time.perf_counter() - started_s,
            parameters=params,
            infeasibility=outcome.reasons,
            message=outcome.message,
        )
    violations = validate(problem, outcome.schedule)
    if violations:
        raise InvalidHeuristicSchedule(
            f"heuristic {method} built an invalid schedule for {problem.name!r}: "
            + "; ".join(v.message for v in violations[:5])
        )
    latency = metrics(problem, outcome.schedule).latency_cycles
    return SolveResult(
        method=method,
        status="feasible",
        objective="latency",
        objective_value=float(latency),
        wall_time_s=time.perf_counter() - started_s,
        parameters=params,
        schedule=outcome.schedule,
        message=f"{method}: latency {latency} cycles"
        + (f" ({outcome.note})" if outcome.note else ""),
    )


__all__ = ["InvalidHeuristicSchedule", "to_result"]
