"""A schedule (SPEC.md §3, `cpsched-schedule/1`): where and when each task and transfer runs.

End times are derived from the problem, never stored. Loading checks structure only;
whether a schedule is *valid* for a problem is the validator's job (SPEC.md §4), so a
schedule naming unknown tasks or negative starts still loads and is reported there.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cpsched.model.problem import CoreId, MemoryId, TaskId, TensorId

SCHEDULE_FORMAT: Literal["cpsched-schedule/1"] = "cpsched-schedule/1"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduledTask(_Data):
    """A task placed on a core at a start time (cycles)."""

    id: TaskId
    core: CoreId
    start: StrictInt


class ScheduledTransfer(_Data):
    """A tensor moved from memory `src` to memory `dst`, starting at `start` (cycles)."""

    tensor: TensorId
    src: MemoryId
    dst: MemoryId
    start: StrictInt


class Schedule(_Data):
    """Every task's core and start, and every transfer's route and start."""

    format: Literal["cpsched-schedule/1"] = SCHEDULE_FORMAT
    problem: str
    tasks: tuple[ScheduledTask, ...] = ()
    transfers: tuple[ScheduledTransfer, ...] = Field(default=())
