"""The CP-SAT backend of cpsched: beside the MILP peer in `cpsched.bench`, the only ortools user.

`SolverParams` and `Progress` live in :mod:`cpsched.cpsat.params` (no ortools), so importing
them is cheap; `solve` is loaded on first use.

Layout: :mod:`~cpsched.cpsat.space` (the search space every exact solver shares,
:mod:`cpsched.model.space`, with the cores a solve fixes; no ortools), :mod:`~.variables`,
:mod:`~.constraints` (one function per rule family of docs/validity.md), :mod:`~.strengthen`
(redundant constraints, symmetry breaking), :mod:`~.objective` (metrics as integer
expressions), :mod:`~.model` (assembles them), :mod:`~.solver` (stages, hints, Ctrl-C, results).

Restricted search space (docs/results.md, SPEC §6): at most one transfer per (tensor,
destination memory), always from the tensor's source memory (producer's memory or home), to one
destination or a multicast within one route's links, at the full rate of its route, and only
into memories where a consumer runs (or DRAM for `store: true`): no staging, spill or reload.
Transfers on a `bandwidth` link overlap while their rates fit its bandwidth (a cumulative; with
`SolverParams(shared_bandwidth=False)`, and on `exclusive` links, one transfer at a time: a
restriction, never a violation, since one transfer at full rate never exceeds a link's
bandwidth). Zero-length tasks and
transfers never conflict on cores or links. Transfer start times are free (not forced as soon
as possible). "Optimal" means optimal within this space; under format 2 a schedule outside it
(other multicasts, slower rates, spill and reload) may be better.
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
