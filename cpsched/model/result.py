"""The result of a solve (SPEC.md §6): a value, never an exception for "no schedule"."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cpsched.model.schedule import Schedule

RESULT_FORMAT: Literal["cpsched-result/1"] = "cpsched-result/1"

Status = Literal["optimal", "feasible", "infeasible", "unknown", "model_invalid"]


class InfeasibilityReason(BaseModel):
    """Why a problem cannot be scheduled, in the user's terms: which resource, demand vs limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str  # one sentence a user can act on
    resource: str | None = None  # e.g. "memory l1", "task QK.t3", "barrier 2"
    demand: float | None = None
    limit: float | None = None
    unit: str | None = None  # e.g. "bytes", "cycles"
    suggestion: str | None = None


class SolveResult(BaseModel):
    """What a solver or heuristic returns. `schedule` is None exactly when none was found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["cpsched-result/1"] = RESULT_FORMAT
    method: str  # "cpsat", "heft", "list-depth-first", ...
    status: Status
    objective: str  # e.g. "latency", "latency,memory", "energy"
    objective_value: float | None = None
    bound: float | None = None
    gap: float | None = None
    wall_time_s: float = 0.0
    parameters: dict[str, Any] = Field(default_factory=dict)
    num_variables: int | None = None
    num_constraints: int | None = None
    stages: list[dict[str, Any]] = Field(default_factory=list)  # one per lexicographic stage
    infeasibility: list[InfeasibilityReason] = Field(default_factory=list)
    message: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    schedule: Schedule | None = None


def relative_gap(objective: float, bound: float) -> float:
    """SPEC.md §6: (objective - bound) / max(1, objective)."""
    return (objective - bound) / max(1.0, abs(objective))


def solver_versions() -> dict[str, str]:
    """Versions of cpsched and OR-Tools, recorded in every result so a run can be repeated."""
    import cpsched

    return {"cpsched": cpsched.__version__, "ortools": version("ortools")}
