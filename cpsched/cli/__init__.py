"""The `cpsched` command line: thin commands over the library (one module per command)."""

from __future__ import annotations

from cpsched.cli.app import app

# Each command lives in its own module and registers itself on `app` when imported.
from cpsched.cli import validate as _validate  # noqa: F401  isort: skip
from cpsched.cli import compare as _compare  # noqa: F401  isort: skip
from cpsched.cli import build as _build  # noqa: F401  isort: skip
from cpsched.cli import models as _models  # noqa: F401  isort: skip
from cpsched.cli import plot as _plot  # noqa: F401  isort: skip
from cpsched.cli import solve_problem as _solve_problem  # noqa: F401  isort: skip
from cpsched.cli import solve as _solve  # noqa: F401  isort: skip
from cpsched.cli import show as _show  # noqa: F401  isort: skip
from cpsched.cli import pareto as _pareto  # noqa: F401  isort: skip
from cpsched.cli import bench as _bench  # noqa: F401  isort: skip


def main() -> None:
    """Entry point of the `cpsched` console script."""
    app()


__all__ = ["app", "main"]
