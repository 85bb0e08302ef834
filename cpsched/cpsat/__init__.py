"""The CP-SAT backend of cpsched: the only package that imports ortools.

`SolverParams` and `Progress` live in :mod:`cpsched.cpsat.params` (no ortools), so importing
them is cheap; `solve` is loaded on first use.
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
