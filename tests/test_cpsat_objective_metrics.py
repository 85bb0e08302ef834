"""The objective CP-SAT reports is the metric of the schedule it returns (hypothesis).

`solve` measures its `objective_value` on the checking side (cpsched.check.metrics), and every
stage's `value` is CP-SAT's own integer objective over its scale. On random small problems,
for every kind of objective, both must equal the metric of the returned schedule as
`metrics` measures it: a model whose objective disagreed with the metrics (an energy scaled
wrongly, a memory peak counted differently from the validator's holds) fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples
from test_cpsat_bruteforce import problems

from cpsched.check.metrics import metrics
from cpsched.cpsat import SolverParams, solve
from cpsched.model.objective import parse_objective
from cpsched.model.problem import Problem

PARAMS = SolverParams(time_limit_s=5, num_workers=2, seed=0)

OBJECTIVES = [
    "latency",
    "energy",
    "memory",
    "activation-memory",
    "latency,memory",
    "latency+0.25*energy",
]


@st.composite
def priced_problems(draw: st.DrawFn) -> dict[str, Any]:
    """The brute-force test's random problems with decimal energies on every option and link,
    so that the model's exact scaling of energies meets the metrics' float sums."""
    data = draw(problems(max_tasks=5))
    energies = st.sampled_from([0.0, 0.1, 0.3, 2.5])
    for task in data["tasks"]:
        for option in task["options"]:
            option["energy_pj"] = draw(energies)
    for link in data["links"]:
        link["energy_pj_per_byte"] = draw(energies)
    return data


@pytest.mark.parametrize("objective", OBJECTIVES)
@settings(
    max_examples=examples(12),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=priced_problems())
def test_reported_objective_is_the_metric_of_the_returned_schedule(
    objective: str, data: dict[str, Any]
) -> None:
    problem = Problem.model_validate(data)
    r = solve(problem, objective, PARAMS)
    if r.schedule is None:
        assert r.status in ("infeasible", "unknown") and r.objective_value is None
        return
    measured = metrics(problem, r.schedule).objective_values(objective)
    assert r.objective_value == measured[0]

    if r.status == "optimal":
        # CP-SAT's own value of each stage, proven, is what the schedule measures
        assert len(r.stages) == len(parse_objective(objective).stages)
        for stage, value in zip(r.stages, measured, strict=True):
            assert stage.value == pytest.approx(value, rel=1e-12, abs=1e-9)
