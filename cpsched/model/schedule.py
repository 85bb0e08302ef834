"""A schedule (docs/schedule.md, `cpsched-schedule/1`): where and when each task and transfer runs.

End times are derived from the problem, never stored. Loading checks structure only;
whether a schedule is *valid* for a problem is the validator's job (docs/validity.md), so a
schedule naming unknown tasks or negative starts still loads and is reported there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cpsched.model.problem import MAX_INTEGER, CoreId, MemoryId, TaskId, TensorId

SCHEDULE_FORMAT: Literal["cpsched-schedule/1"] = "cpsched-schedule/1"

# A start is a strict integer within the problem format's integer limit, either side of 0: a
# negative start still loads (the validator reports it), and one beyond +-2**40 (a hint CP-SAT
# cannot hold in int64 once durations are added) is refused at loading.
Start = Annotated[StrictInt, Field(ge=-MAX_INTEGER, le=MAX_INTEGER)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduledTask(_Data):
    """A task placed on a core at a start time (cycles)."""

    id: TaskId
    core: CoreId
    start: Start


class ScheduledTransfer(_Data):
    """A tensor moved from memory `src` to memory `dst`, starting at `start` (cycles)."""

    tensor: TensorId
    src: MemoryId
    dst: MemoryId
    start: Start


class Schedule(_Data):
    """Every task's core and start, and every transfer's route and start."""

    format: Literal["cpsched-schedule/1"] = SCHEDULE_FORMAT
    problem: str
    tasks: tuple[ScheduledTask, ...] = ()
    transfers: tuple[ScheduledTransfer, ...] = Field(default=())
