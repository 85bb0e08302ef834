"""Progress reports from a running CP-SAT search (new incumbents and better bounds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction

from ortools.sat.python import cp_model

from cpsched.cpsat.params import Progress
from cpsched.model.result import relative_gap


class ProgressCallback(cp_model.CpSolverSolutionCallback):
    """Counts incumbents and forwards each new incumbent or bound, in objective units."""

    def __init__(
        self,
        stage: str,
        scale: Fraction,
        started: float,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        super().__init__()
        self.stage = stage
        self.scale = float(scale)
        self.started = started
        self.on_progress = on_progress
        self.solutions = 0
        self.objective: float | None = None
        self.bound: float | None = None

    def on_solution_callback(self) -> None:
        self.solutions += 1
        self.objective = self.objective_value / self.scale
        self.bound = self.best_objective_bound / self.scale
        self._report()

    def on_bound(self, bound: float) -> None:
        """For `CpSolver.best_bound_callback`."""
        self.bound = bound / self.scale
        self._report()

    def _report(self) -> None:
        if self.on_progress is None:
            return
        gap = None
        if self.objective is not None and self.bound is not None:
            gap = max(0.0, relative_gap(self.objective, self.bound))
        self.on_progress(
            Progress(
                elapsed_s=time.monotonic() - self.started,
                objective=self.objective,
                bound=self.bound,
                gap=gap,
                stage=self.stage,
                solutions=self.solutions,
            )
        )
