"""The typer application with every command registered (each command module adds itself)."""

from __future__ import annotations

from cpsched.cli import bench, build, compare, models, pareto, plot, show, solve, solve_problem
from cpsched.cli import validate as validate_
from cpsched.cli.common import app

# the command modules, in the order of `cpsched --help`
COMMANDS = (validate_, compare, build, models, plot, solve_problem, solve, show, pareto, bench)

__all__ = ["COMMANDS", "app"]
