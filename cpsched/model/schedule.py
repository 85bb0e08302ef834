"""A schedule (docs/schedule.md, `cpsched-schedule/2`): where and when each task and transfer runs.

End times, rates and durations are derived from the problem, never stored (except a transfer's
optional `rate_bytes_per_cycle`, a choice of the schedule). Loading checks structure only;
whether a schedule is *valid* for a problem is the validator's job (docs/validity.md), so a
schedule naming unknown tasks, negative starts or a rate above its links' bandwidth still loads
and is reported there. A `cpsched-schedule/1` file is read as version 2 (a single `dst`, every
transfer at full rate); everything written is version 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from cpsched.model.errors import FieldProblem
from cpsched.model.problem import (
    MAX_INTEGER,
    CoreId,
    MemoryId,
    ProblemReferenceError,
    TaskId,
    TensorId,
)

SCHEDULE_FORMAT: Literal["cpsched-schedule/2"] = "cpsched-schedule/2"
SCHEDULE_FORMAT_1 = "cpsched-schedule/1"  # read as version 2, never written

# A start is a strict integer within the problem format's integer limit, either side of 0: a
# negative start still loads (the validator reports it), and one beyond +-2**40 (a hint CP-SAT
# cannot hold in int64 once durations are added) is refused at loading.
Start = Annotated[StrictInt, Field(ge=-MAX_INTEGER, le=MAX_INTEGER)]

# A rate is a finite number of bytes per cycle, at most the integer limit; whether it is
# positive and within its links' bandwidth is a validity rule (docs/validity.md, rule 5).
Rate = Annotated[StrictFloat, Field(le=MAX_INTEGER, allow_inf_nan=False)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduledTask(_Data):
    """A task placed on a core at a start time (cycles)."""

    id: TaskId
    core: CoreId
    start: Start


class ScheduledTransfer(_Data):
    """A tensor moved from memory `src` to memory `dst` (one memory, or a list of distinct
    memories for a multicast), starting at `start` (cycles), at `rate_bytes_per_cycle` when
    given and otherwise at the least bandwidth of the links it uses."""

    tensor: TensorId
    src: MemoryId
    dst: MemoryId | tuple[MemoryId, ...]
    start: Start
    rate_bytes_per_cycle: Rate | None = None

    @field_validator("dst")
    @classmethod
    def _distinct_destinations(
        cls, dst: MemoryId | tuple[MemoryId, ...]
    ) -> MemoryId | tuple[MemoryId, ...]:
        if isinstance(dst, tuple):
            if not dst:
                raise ValueError("an empty list of destinations; give at least one memory")
            seen: set[MemoryId] = set()
            for m in dst:  # one pass: a list may be long
                if m in seen:
                    raise ValueError(f"memory {m!r} appears twice; destinations must be distinct")
                seen.add(m)
        return dst

    @property
    def dsts(self) -> tuple[MemoryId, ...]:
        """The destination memories, one or more."""
        return (self.dst,) if isinstance(self.dst, str) else self.dst

    @property
    def multicast(self) -> bool:
        """Whether this transfer has several destinations."""
        return len(self.dsts) > 1


class Schedule(_Data):
    """Every task's core and start, and every transfer's route and start."""

    format: Literal["cpsched-schedule/2"] = SCHEDULE_FORMAT
    problem: str
    tasks: tuple[ScheduledTask, ...] = ()
    transfers: tuple[ScheduledTransfer, ...] = Field(default=())

    @model_validator(mode="before")
    @classmethod
    def _read_version_1(cls, data: Any) -> Any:
        return upgrade_schedule_1(data)


def upgrade_schedule_1(data: Any) -> Any:
    """A `cpsched-schedule/1` document as version 2 (docs/schedule.md, "Version 1"); anything
    else as it is. A version 1 transfer with a list `dst` or a rate is refused, naming it."""
    if not isinstance(data, Mapping) or data.get("format") != SCHEDULE_FORMAT_1:
        return data
    problems: list[FieldProblem] = []
    transfers = data.get("transfers")
    if isinstance(transfers, list | tuple):
        for i, tr in enumerate(transfers):
            if not isinstance(tr, Mapping):
                continue
            if "rate_bytes_per_cycle" in tr:
                problems.append(
                    FieldProblem(
                        f"transfers[{i}].rate_bytes_per_cycle",
                        f"not part of {SCHEDULE_FORMAT_1}; write format: {SCHEDULE_FORMAT} "
                        "to use it",
                    )
                )
            if isinstance(tr.get("dst"), list | tuple):
                problems.append(
                    FieldProblem(
                        f"transfers[{i}].dst",
                        f"a list of memories is not part of {SCHEDULE_FORMAT_1}; write "
                        f"format: {SCHEDULE_FORMAT} for a multicast",
                    )
                )
    if problems:
        raise ProblemReferenceError(problems)
    return {**data, "format": SCHEDULE_FORMAT}
