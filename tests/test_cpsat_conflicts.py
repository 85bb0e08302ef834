"""The memory-conflict bound (cpsched/cpsat/conflicts.py): tasks whose data does not fit their
shared memory together run one at a time. Exact on hand-worked cases, never above the
brute-force optimum or a heuristic schedule, and kept for a hint outside CP-SAT's space."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples
from test_cpsat_bruteforce import brute_force

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.conflicts import ConflictBound, memory_conflict_bound
from cpsched.heuristics import run_heuristics
from cpsched.model.problem import Problem
from cpsched.model.result import HintInfo, SolveResult
from cpsched.model.schedule import Schedule
from cpsched.pipeline import keep_hint

PARAMS = SolverParams(time_limit_s=5, num_workers=2, seed=0)


def shared_scratchpad(
    capacity: int, tasks: list[dict[str, Any]], tensors: list[dict[str, Any]]
) -> Problem:
    """Cores c0 and c1 on one scratchpad `l` of `capacity` bytes; dram behind one bus."""
    return Problem.model_validate(scratchpad_data(capacity, tasks, tensors))


def scratchpad_data(
    capacity: int, tasks: list[dict[str, Any]], tensors: list[dict[str, Any]]
) -> dict[str, Any]:
    """The document of :func:`shared_scratchpad`."""
    return {
        "format": "cpsched-problem/2",
        "name": "conflicts",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l", "capacity_bytes": capacity},
        ],
        "cores": [{"id": "c0", "memory": "l"}, {"id": "c1", "memory": "l"}],
        "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 100, "latency_cycles": 0}],
        "routes": [
            {"src": "dram", "dst": "l", "links": ["bus"]},
            {"src": "l", "dst": "dram", "links": ["bus"]},
        ],
        "tensors": tensors,
        "tasks": [
            {
                "id": t["id"],
                "options": [{"core": k, "duration_cycles": t["duration"]} for k in ("c0", "c1")],
                "inputs": t.get("inputs", []),
                "outputs": t.get("outputs", []),
            }
            for t in tasks
        ],
    }


@st.composite
def scratchpad_problems(draw: st.DrawFn) -> dict[str, Any]:
    """Three to five tasks on two cores sharing a scratchpad of 100 B: each writes one output
    of 20-100 B, some read a weight (10-60 B, shared) or an earlier task's output, some store
    theirs: most pairs do not fit together, some do, and shared inputs count once."""
    n = draw(st.integers(3, 5))
    tensors: list[dict[str, Any]] = [
        {"id": "w", "size_bytes": draw(st.integers(10, 60)), "kind": "weight", "home": "dram"}
    ]
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        inputs = []
        if draw(st.booleans()):
            inputs.append("w")
        if i > 0 and draw(st.booleans()):
            inputs.append(f"o{draw(st.integers(0, i - 1))}")
        tensors.append(
            {
                "id": f"o{i}",
                "size_bytes": draw(st.integers(20, 100 - (60 if inputs else 0))),
                "kind": "activation",
                "producer": f"t{i}",
                "store": draw(st.booleans()),
            }
        )
        tasks.append(
            {
                "id": f"t{i}",
                "duration": draw(st.integers(1, 9)),
                "inputs": inputs,
                "outputs": [f"o{i}"],
            }
        )
    return scratchpad_data(100, tasks, tensors)


def three_writers(capacity: int) -> Problem:
    # three independent tasks of 10 cycles, each writing its own 60 B output
    return shared_scratchpad(
        capacity,
        [{"id": t, "duration": 10, "outputs": [f"{t}.o"]} for t in ("a", "b", "c")],
        [{"id": f"{t}.o", "size_bytes": 60, "kind": "activation", "producer": t} for t in "abc"],
    )


def test_tasks_whose_outputs_do_not_fit_together_run_one_at_a_time() -> None:
    # on 100 B any two outputs (120 B) do not fit: the three run one after another, 30 cycles,
    # though two cores would spread the work to 15
    p = three_writers(100)
    assert memory_conflict_bound(p) == ConflictBound(30, 3, "l")
    r = solve(p, "latency", PARAMS.model_copy(update={"use_hint": False}))
    assert (r.status, r.objective_value, r.bound) == ("optimal", 30.0, 30.0)
    assert r.parameters["memory_conflicts"] == {"value": 30, "tasks": 3, "memory": "l"}
    # on 120 B two fit together: no two tasks conflict, one task alone is no bound worth more
    # than its own duration
    assert memory_conflict_bound(three_writers(120)) == ConflictBound(10, 1, "l")


def test_a_shared_input_counts_once() -> None:
    # a and b read the same 50 B weight and write 30 B each: 80 B apiece but 110 B together,
    # so they conflict on 100 B and fit on 110 B
    def problem(capacity: int) -> Problem:
        return shared_scratchpad(
            capacity,
            [{"id": t, "duration": 10, "inputs": ["w"], "outputs": [f"{t}.o"]} for t in ("a", "b")],
            [
                {"id": "w", "size_bytes": 50, "kind": "weight", "home": "dram"},
                *(
                    {"id": f"{t}.o", "size_bytes": 30, "kind": "activation", "producer": t}
                    for t in "ab"
                ),
            ],
        )

    assert memory_conflict_bound(problem(109)).value == 20
    assert memory_conflict_bound(problem(110)).value == 10


def test_the_bound_holds_for_a_kept_hint_outside_the_space() -> None:
    # CP-SAT found nothing (unknown, no bound of its space applies to a hint outside it); the
    # bound for every schedule still does, and here it proves the hint optimal
    p = three_writers(100)
    serial = Schedule.model_validate(
        {
            "problem": "conflicts",
            "tasks": [{"id": t, "core": "c0", "start": 10 * i} for i, t in enumerate("abc")],
        }
    )
    assert validate(p, serial) == []
    unknown = SolveResult(
        method="cpsat",
        status="unknown",
        objective="latency",
        hint=HintInfo(source="given", used=False, why_not="invalid or outside the search space"),
        parameters={"bound_every_schedule": 30},
        message="no schedule found within the time limit",
    )
    kept = keep_hint(p, unknown, serial)
    assert (kept.status, kept.objective_value, kept.bound, kept.gap) == ("optimal", 30.0, 30.0, 0.0)
    later = serial.model_copy(
        update={"tasks": tuple(t.model_copy(update={"start": t.start + 5}) for t in serial.tasks)}
    )
    kept = keep_hint(p, unknown, later)
    assert (kept.status, kept.objective_value, kept.bound) == ("feasible", 35.0, 30.0)
    assert kept.gap == pytest.approx(5 / 35)
    # latency first, energy second: the bound proves the first stage only, and the second is
    # still open (the hint's energy may not be the least at latency 30)
    lexicographic = unknown.model_copy(update={"objective": "latency,energy"})
    kept = keep_hint(p, lexicographic, serial)
    assert (kept.status, kept.objective_value, kept.bound) == ("feasible", 30.0, 30.0)


_SLOW = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}


# at most the brute-force optimum on random problems: tests/test_cpsat_work.py, with the work
# bound


@settings(max_examples=examples(60), **_SLOW)  # type: ignore[arg-type]
@given(scratchpad_problems())
def test_the_bound_is_at_most_the_optimum_on_a_crowded_scratchpad(data: dict[str, Any]) -> None:
    # CP-SAT's proven optimum, checked by brute force, and every heuristic schedule
    p = Problem.model_validate(data)
    bound = memory_conflict_bound(p).value
    r = solve(p, "latency", PARAMS.model_copy(update={"use_hint": False}))
    if r.status == "optimal":
        assert brute_force(data, "latency", upper=r.objective_value) == r.objective_value
        assert bound <= r.objective_value  # type: ignore[operator]
    for result in run_heuristics(p).values():
        if result.schedule is not None and validate(p, result.schedule) == []:
            assert bound <= metrics(p, result.schedule).latency_cycles
