"""The CP-SAT backend of cpsched: beside the MILP peer in `cpsched.bench`, the only ortools user.

`SolverParams` and `Progress` live in :mod:`cpsched.cpsat.params` (no ortools), so importing
them is cheap; `solve` is loaded on first use.

Layout: :mod:`~cpsched.cpsat.space` (the search space every exact solver shares,
:mod:`cpsched.model.space`, with the cores a solve fixes; no ortools), :mod:`~.variables`,
:mod:`~.constraints` (one function per rule family of docs/validity.md), :mod:`~.strengthen`
(redundant constraints, symmetry breaking), :mod:`~.objective` (metrics as integer
expressions), :mod:`~.model` (assembles them), :mod:`~.solver` (stages, hints, Ctrl-C, results).

Restricted search space (docs/results.md): at most one transfer per (tensor, destination memory),
always from the tensor's source memory (producer's memory or home), and only into memories
where a consumer runs (or DRAM for `store: true`); zero-length tasks and transfers never
conflict on cores or links. Transfer start times are free (not forced as soon as possible).
Every valid schedule that makes only needed transfers lies in this space, and dropping an
unneeded transfer never hurts latency, energy or memory, so "optimal" here is optimal over all
valid schedules for cpsched's objectives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpsched.cpsat.params import Progress, SolverParams

if TYPE_CHECKING:
    from cpsched.cpsat.solver import ModelInvalidError, solve

__all__ = ["ModelInvalidError", "Progress", "SolverParams", "solve"]


def __getattr__(name: str) -> Any:
    if name in ("solve", "ModelInvalidError"):
        from cpsched.cpsat import solver as _solver_module

        return getattr(_solver_module, name)
    raise AttributeError(f"module 'cpsched.cpsat' has no attribute {name!r}")
