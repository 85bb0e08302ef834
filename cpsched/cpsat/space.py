"""The search space of the CP-SAT model: the shared one of :mod:`cpsched.model.space`, with the
tasks a solve fixes pinned to their cores (no ortools here).

The space itself (candidate cores, transfer options, the horizon no schedule needs to pass) is
worked out once per problem in :mod:`cpsched.model.space`, which the MILP peer reads too. CP-SAT
adds multicast to it (:attr:`~cpsched.model.space.Space.leaders`, switched by
`SolverParams.multicast`): a transfer may follow another of the same tensor from the same source
whose route holds its links; the MILP peer does not. It also stages through a destination's
backing store (:func:`~cpsched.model.space.with_staging`, switched by `SolverParams.staging`)
and reloads a tensor once into a memory that may overflow, after a spill to its backing store
(:func:`~cpsched.model.space.with_spill`, `SolverParams.spill`).
On top
of it the CP-SAT model holds a copy from its allocation (producer start, transfer start, or 0 at
home) until a release time the solver chooses no earlier than the release of docs/validity.md,
rule 9, so a model's memory use over-approximates the schedule's; at an optimum they coincide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cpsched.model.errors import input_error
from cpsched.model.problem import CoreId, Problem, TaskId
from cpsched.model.space import Space, TransferOption, search_space


def build_space(
    problem: Problem,
    fixed_cores: Mapping[TaskId, CoreId] | None = None,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None = None,
) -> Space:
    """The search space with the tasks of `fixed_cores` and `fixed_order` pinned to their cores;
    bad ids in either are an InputError."""
    forced: dict[TaskId, CoreId] = dict(fixed_cores or {})
    for core, seq in (fixed_order or {}).items():
        if core not in problem.core_by_id:
            raise input_error("fixed_order", str(core), f"unknown core {core!r}")
        for t in seq:
            if forced.get(t, core) != core:
                raise input_error(
                    "fixed_order", str(core), f"task {t!r} is fixed to core {forced[t]!r}"
                )
            forced[t] = core
    for t, core in forced.items():
        if t not in problem.task_by_id:
            raise input_error("fixed_cores", str(t), f"unknown task {t!r}")
        if problem.option(t, core) is None:
            raise input_error(
                "fixed_cores", str(t), f"core {core!r} is not among the options of task {t!r}"
            )
    return search_space(problem, forced)


__all__ = ["Space", "TransferOption", "build_space"]
