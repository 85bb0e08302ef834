"""The result of a solve (docs/results.md): a value, never an exception for "no schedule".

Everything a caller decides on is a typed field: whether Ctrl-C stopped the search
(`interrupted`), where the hint came from and whether CP-SAT used it (`hint`), each
lexicographic stage (`stages`), and which tasks, tensors or memory an infeasibility is about.
`message` is for people only. Format 2 (`cpsched-result/2`) added these fields; a format-1
file is read by :func:`upgrade_result`.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cpsched.model.problem import MemoryId, TaskId, TensorId
from cpsched.model.schedule import Schedule

RESULT_FORMAT: Literal["cpsched-result/2"] = "cpsched-result/2"
OLD_RESULT_FORMATS = ("cpsched-result/1",)

# An invalid CP-SAT model is a bug in cpsched and raises ModelInvalidError; it is no status.
Status = Literal["optimal", "feasible", "infeasible", "unknown"]
HintSource = Literal["given", "heuristic"]


class InfeasibilityReason(BaseModel):
    """Why a problem cannot be scheduled, in the user's terms: which resource, demand vs limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str  # one sentence a user can act on
    resource: str | None = None  # for people: e.g. "memory l1", "task QK.t3", "barriers"
    tasks: tuple[TaskId, ...] = ()  # the tasks the reason is about
    tensors: tuple[TensorId, ...] = ()  # the tensors it is about
    memory: MemoryId | None = None  # the memory whose capacity or routes it is about
    demand: float | None = None
    limit: float | None = None
    unit: str | None = None  # e.g. "bytes", "cycles"
    suggestion: str | None = None


class HintInfo(BaseModel):
    """The schedule a solve started from: who gave it, and whether CP-SAT could use it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: HintSource  # "given" by the caller, or the best "heuristic" schedule
    method: str | None = None  # the heuristic that made it (source "heuristic")
    used: bool  # CP-SAT started from it (it was valid and completed into the model)
    why_not: str | None = None  # why it was not used, e.g. "outside the model"
    kept: bool = False  # CP-SAT found no schedule of its own; the hint is the result's schedule

    def __str__(self) -> str:
        """For people and tables: e.g. "heuristic heft", "given (not used: outside the model)"."""
        text = self.source if self.method is None else f"{self.source} {self.method}"
        if not self.used:
            text += f" (not used: {self.why_not or 'not completed'})"
        return text + (", kept" if self.kept else "")


class StageResult(BaseModel):
    """One stage of a lexicographic objective (the only one of a plain objective), as CP-SAT
    ended it: `value` is CP-SAT's own objective of the stage, in the stage's unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: str  # e.g. "latency"
    status: Status
    value: float | None = None
    bound: float | None = None
    wall_time_s: float = 0.0
    solutions: int = 0  # incumbents found in this stage


class SolveResult(BaseModel):
    """What a solver or heuristic returns. `schedule` is None exactly when none was found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["cpsched-result/2"] = RESULT_FORMAT
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
    stages: list[StageResult] = Field(default_factory=list)  # one per lexicographic stage
    hint: HintInfo | None = None  # None: the solve started from no schedule
    interrupted: bool = False  # Ctrl-C stopped it (the schedule, if any, is the best so far)
    infeasibility: list[InfeasibilityReason] = Field(default_factory=list)
    message: str = ""  # for people; never parsed
    versions: dict[str, str] = Field(default_factory=dict)
    schedule: Schedule | None = None


def relative_gap(objective: float, bound: float) -> float:
    """docs/results.md: (objective - bound) / max(1, objective)."""
    return (objective - bound) / max(1.0, abs(objective))


def solver_versions() -> dict[str, str]:
    """Versions of cpsched and OR-Tools, recorded in every result so a run can be repeated."""
    import cpsched

    return {"cpsched": cpsched.__version__, "ortools": version("ortools")}


def upgrade_result(data: Any) -> Any:
    """Data of a `cpsched-result/1` file in the shape of format 2 (anything else unchanged).

    Format 1 said in free text what format 2 says in fields: the hint's origin in
    `parameters["hint"]` ("given", "heuristic <name>", with "(unusable ...)" or "(not used by
    CP-SAT: ...)" after it), and an interrupt in a message starting "interrupted". Reading those
    texts is done here once, for old run folders only.
    """
    if not isinstance(data, dict) or data.get("format") not in OLD_RESULT_FORMATS:
        return data
    out = dict(data, format=RESULT_FORMAT)
    message = out.get("message")
    message = message if isinstance(message, str) else ""
    out["interrupted"] = message.startswith("interrupted")
    parameters = out.get("parameters")
    if not isinstance(parameters, dict) or "hint" not in parameters:
        return out
    out["parameters"] = {k: v for k, v in parameters.items() if k != "hint"}
    text = parameters["hint"]
    if not isinstance(text, str):
        return out
    head, _, note = text.partition(" (")
    source, _, method = head.partition(" ")
    why = note.rstrip(")").removeprefix("not used by CP-SAT: ").removeprefix("unusable: ")
    if source in ("given", "heuristic"):
        out["hint"] = {
            "source": source,
            "method": method or None,
            "used": not why,
            "why_not": why or None,
            "kept": message.endswith("is kept") or "hint is returned" in message,
        }
    return out
