"""SIGTERM handled like Ctrl-C, and the exit code that says which of them stopped a command.

`install()` (called by :func:`cpsched.cli.main` before anything else) makes SIGTERM run whatever
handles SIGINT at that moment: by default a KeyboardInterrupt in the main thread, which stops a
CP-SAT search with its best schedule kept (the `bench` runner installs its own SIGINT handler,
which SIGTERM then runs too). The signal is remembered, so a command ends with 143 after SIGTERM
and 130 after Ctrl-C (128 + the signal's number, as a shell reports a process it killed).
"""

from __future__ import annotations

import signal
from types import FrameType

_received: list[int] = []  # the signals that reached the handlers, in order


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not _on_sigint:
        # e.g. the bench runner's, which repeats the interrupt until its case gives up, or
        # ignores it while the files are written: SIGTERM gets the same treatment
        handler(signal.SIGINT, frame)
        return
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGTERM like SIGINT and remember which one arrived (main thread only)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)


def received() -> int | None:
    """The first signal that reached the handlers (SIGINT or SIGTERM), or None."""
    return _received[0] if _received else None


def interrupted_exit_code() -> int:
    """The exit code of an interrupted command: 143 after SIGTERM, else 130 (Ctrl-C)."""
    return 128 + int(signal.SIGTERM if signal.SIGTERM in _received else signal.SIGINT)
