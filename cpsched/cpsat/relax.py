"""Solving a relaxation for a lower bound: what the packing and starvation bounds share."""

from __future__ import annotations

import math

from ortools.sat.python import cp_model


def solve_for_bound(
    model: cp_model.CpModel, time_limit_s: float, num_workers: int, seed: int
) -> tuple[int | None, bool]:
    """Minimize `model` (a relaxation whose objective is a makespan) within `time_limit_s`:
    `(its optimum, True)`, or `(CP-SAT's proven bound on it, False)` when the time runs out
    with a solution, or `(None, False)` when there is none (infeasible, or none found)."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = num_workers
    solver.parameters.random_seed = seed
    solver.parameters.catch_sigint_signal = False
    status = solver.solve(model)
    if status == cp_model.OPTIMAL:
        return round(solver.objective_value), True
    if status == cp_model.FEASIBLE:
        return math.ceil(solver.best_objective_bound - 1e-6), False
    return None, False


__all__ = ["solve_for_bound"]
