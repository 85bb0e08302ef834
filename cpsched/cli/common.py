"""The typer application and what every command shares: exit codes, consoles, error handling.

Light on purpose: every command module imports it at start-up, so it imports only typer, rich
and the error type. The library is imported inside the commands, by what each one needs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from cpsched.model.errors import InputError

app = typer.Typer(
    name="cpsched",
    help="Provably optimal layer-fused schedules of transformer workloads, with CP-SAT.",
    epilog="Exit codes: 0 done; 1 an invalid schedule; 2 bad input, or an output that cannot be "
    "written or would replace a file (without --force); 3 proven infeasible; 4 no schedule "
    "found; 130 after Ctrl-C, 143 after SIGTERM (what was found so far is written).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_INVALID = 1  # a schedule that breaks a rule of the schedule format
EXIT_BAD_INPUT = 2  # unreadable or malformed input, bad option, an output that cannot be written
EXIT_INFEASIBLE = 3  # proven infeasible
EXIT_NO_SOLUTION = 4  # no schedule found in time
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT); 143 after SIGTERM: see cpsched.cli.signals


def stdout() -> Console:
    """Console for results (created per call, so tests capturing stdout see the output)."""
    return Console(file=sys.stdout, soft_wrap=True)


def stderr() -> Console:
    """Console for progress and errors."""
    return Console(file=sys.stderr, soft_wrap=True)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print one clear error line to stderr and return the Exit to raise."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an InputError raised inside the block into a clear message and exit code 2."""
    try:
        yield
    except InputError as exc:
        raise fail(str(exc)) from None
