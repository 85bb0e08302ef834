"""The typer application with every command registered (each command module adds itself).

Every command also ends an interrupt it does not handle itself (Ctrl-C, SIGTERM) with one line
and exit 130 / 143 instead of typer's silent exit; the solving commands catch theirs first, to
write what they found.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from cpsched.cli import (
    bench,
    build,
    compare,
    models,
    pareto,
    plot,
    show,
    solve,
    solve_problem,
    sweep,
)
from cpsched.cli import validate as validate_
from cpsched.cli.common import app, fail
from cpsched.cli.signals import interrupted_exit_code

# the command modules, in the order of `cpsched --help`
COMMANDS = (
    validate_,
    compare,
    build,
    models,
    plot,
    solve_problem,
    solve,
    show,
    pareto,
    bench,
    sweep,
)


def _one_line_on_interrupt(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise fail("interrupted before the command finished", interrupted_exit_code()) from None

    return run


for _info in app.registered_commands:
    if _info.callback is not None and not hasattr(_info.callback, "__wrapped__"):
        _info.callback = _one_line_on_interrupt(_info.callback)

__all__ = ["COMMANDS", "app"]
