"""Solving small inner models: a relaxation for a lower bound (what the packing and starvation
bounds share), a neighbourhood, a balance of cores."""

from __future__ import annotations

import math

from ortools.sat.python import cp_model


def inner_solver(num_workers: int, time_limit_s: float, seed: int) -> cp_model.CpSolver:
    """A CP-SAT solver for a model solved inside a solve: its own workers, limit and seed, and
    Ctrl-C left to the caller (which keeps the best schedule so far)."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = num_workers
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.random_seed = seed
    solver.parameters.catch_sigint_signal = False
    return solver


def solve_for_bound(
    model: cp_model.CpModel, time_limit_s: float, num_workers: int, seed: int
) -> tuple[int | None, bool]:
    """Minimize `model` (a relaxation whose objective is a makespan) within `time_limit_s`:
    `(its optimum, True)`, or `(CP-SAT's proven bound on it, False)` when the time runs out
    with a solution, or `(None, False)` when there is none (infeasible, or none found)."""
    solver = inner_solver(num_workers, time_limit_s, seed)
    status = solver.solve(model)
    if status == cp_model.OPTIMAL:
        return round(solver.objective_value), True
    if status == cp_model.FEASIBLE:
        return math.ceil(solver.best_objective_bound - 1e-6), False
    return None, False


__all__ = ["inner_solver", "solve_for_bound"]
