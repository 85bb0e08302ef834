"""The `cpsched` command line: thin commands over the library (one module per command).

Importing this package loads nothing else: `main` must be running, with its signal handling in
place, before the commands and the library are imported (a Ctrl-C during those imports is one
line and exit 130, not a traceback). `app`, the typer application with every command, is
loaded on first use.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from cpsched.cli import signals  # the standard library's signal module, nothing more

if TYPE_CHECKING:
    import typer

    app: typer.Typer


def main() -> None:
    """Entry point of the `cpsched` console script (and of `python -m cpsched`)."""
    try:
        signals.install()
        from cpsched.cli.commands import app
    except KeyboardInterrupt:
        print("interrupted while starting; nothing done", file=sys.stderr)
        raise SystemExit(signals.interrupted_exit_code()) from None
    try:
        app()
    except SystemExit as exc:
        # typer ends a command that an interrupt stopped with 130; after SIGTERM it is 143
        if exc.code == 130 and signals.received() is not None:
            raise SystemExit(signals.interrupted_exit_code()) from None
        raise


def __getattr__(name: str) -> Any:
    if name == "app":
        from cpsched.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
