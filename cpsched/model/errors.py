"""Errors that stand for a user's mistake, with the file, the field and the bad value.

The CLI turns an :class:`InputError` into one clear message and exit code 2; nothing else
in the library should be caught that way. An :class:`OutputError` (a file that cannot be
written) is an InputError too, so it is reported the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of a user's input."""

    path: str  # field path inside the file, e.g. "tasks[3].options[0].core"; "" for the whole file
    message: str  # what is wrong and what would be accepted

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(eq=False)  # not frozen: raising it through a `with` sets __traceback__
class InputError(Exception):
    """A user input (a file, an option) that cpsched cannot accept."""

    source: str  # a file path, or a CLI option such as "--set"
    problems: Sequence[FieldProblem] = field(default_factory=tuple)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        lines = [f"{self.source}: {len(self.problems)} problems"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def input_error(source: str, path: str, message: str) -> InputError:
    """Shorthand for an InputError with a single field problem."""
    return InputError(source, (FieldProblem(path, message),))


@dataclass(eq=False)
class OutputError(InputError):
    """An output cpsched cannot write (a full disk, a read-only folder): the user's to fix, so it
    is reported like a bad input, as one message naming the path and the reason (exit code 2)."""


def output_error(path: str, exc: OSError) -> OutputError:
    """The OutputError for an OSError met while writing `path`, e.g. "no space left on device"."""
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    return OutputError(path, (FieldProblem("", f"cannot write: {reason}"),))
