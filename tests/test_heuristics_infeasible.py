"""A heuristic says `infeasible` only with the static checker's proof; otherwise it found none.

The heuristics once re-implemented the static checks with their own rules and called whatever
they found a proof; these two problems were both called infeasible by every heuristic although
CP-SAT schedules them (a task of zero duration holds no memory and waits for nothing in time).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples

from cpsched.check.infeasibility import find_infeasibility
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.heuristics import HEURISTICS, run_heuristics
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.problem import Problem

PARAMS = SolverParams(time_limit_s=10, num_workers=2, seed=0)


def problem(**fields: Any) -> Problem:
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "instant",
        "memories": [{"id": "dram", "capacity_bytes": None}, {"id": "l1", "capacity_bytes": 10}],
        "cores": [{"id": "c0", "memory": "l1"}],
    }
    data.update(fields)
    return Problem.model_validate(data)


def instant(tid: str, **fields: Any) -> dict[str, Any]:
    return {"id": tid, "options": [{"core": "c0", "duration_cycles": 0}], **fields}


def assert_found_none_but_cpsat_schedules(p: Problem) -> None:
    assert find_infeasibility(p) == []
    results = run_heuristics(p)
    assert set(results) == set(HEURISTICS)
    for name, result in results.items():
        assert result.status != "infeasible", name
        assert result.infeasibility == [], name
        if result.schedule is None:
            assert result.status == "unknown" and result.message, name
    exact = solve(p, "latency", PARAMS)
    assert exact.status == "optimal" and exact.schedule is not None
    assert validate(p, exact.schedule) == []
    assert exact.objective_value == 0


def test_zero_duration_tasks_after_each_other_are_not_called_infeasible() -> None:
    # a after b and b after a, both instant: both start and end at 0, a valid schedule
    p = problem(tasks=[instant("a", after=["b"]), instant("b", after=["a"])])
    assert_found_none_but_cpsat_schedules(p)
    message = run_heuristics(p, ["heft"])["heft"].message
    assert message.startswith("found none: the dependencies form a cycle, a -> b -> a")


def test_zero_duration_task_larger_than_its_memory_is_not_called_infeasible() -> None:
    # y (100 bytes) out of an instant task in a 10-byte memory: held over [0, 0), never at once
    p = problem(
        tensors=[{"id": "y", "size_bytes": 100, "kind": "activation", "producer": "a"}],
        tasks=[instant("a", outputs=["y"])],
    )
    assert_found_none_but_cpsat_schedules(p)
    message = run_heuristics(p, ["heft"])["heft"].message
    assert message == (
        "found none: task a cannot run on any of its cores: "
        "core c0: memory l1 holds 10 bytes < 100 bytes of inputs and outputs"
    )


@st.composite
def tight_problems(draw: st.DrawFn) -> Problem:
    """Random small problems pushed towards infeasibility: some instant tasks, memories cut
    down, extra `after` entries that may close cycles, groups that may share no core."""
    p = random_problem(
        draw(st.integers(0, 10_000)),
        n_cores=draw(st.integers(1, 3)),
        n_layers=draw(st.integers(1, 3)),
        tiles=draw(st.integers(1, 3)),
        shared_memory=draw(st.booleans()),
        group_layers=0.4,
        restrict_options=0.6,
    )
    data = p.model_dump(mode="json")
    ids = [t["id"] for t in data["tasks"]]
    for task in data["tasks"]:
        if draw(st.integers(0, 3)) == 0:
            for option in task["options"]:
                option["duration_cycles"] = 0
    for memory in data["memories"]:
        if memory["capacity_bytes"] is not None:
            memory["capacity_bytes"] = memory["capacity_bytes"] * draw(st.integers(1, 4)) // 4
    for _ in range(draw(st.integers(0, 2))):
        a, b = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
        task = next(t for t in data["tasks"] if t["id"] == b)
        if a != b and a not in task.get("after", []):
            task["after"] = [*task.get("after", []), a]
    if len(ids) > 1 and draw(st.booleans()):
        data["groups"] = [*data["groups"], draw(st.permutations(ids))[:2]]
    return Problem.model_validate(data)


@settings(max_examples=examples(120), deadline=None, derandomize=True)
@given(tight_problems())
def test_heuristic_infeasible_implies_a_static_proof(p: Problem) -> None:
    reasons = find_infeasibility(p)
    for name, result in run_heuristics(p).items():
        if result.status == "infeasible":
            assert reasons, name
            assert result.infeasibility == reasons, name
        else:
            assert result.infeasibility == [], name
        assert result.schedule is not None or result.message, name


def test_group_whose_usable_cores_differ_is_found_none_not_a_proof() -> None:
    # a's output (15 bytes) does not fit c0's memory and b's input has no route to c1's: each
    # task alone has a core, but the group shares none. No static check combines the two, so
    # the heuristics found none (CP-SAT would have to prove it).
    p = Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "split-group",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "m0", "capacity_bytes": 10},
                {"id": "m1", "capacity_bytes": 20},
            ],
            "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
            "links": [{"id": "k", "bandwidth_bytes_per_cycle": 1}],
            "routes": [{"src": "dram", "dst": "m0", "links": ["k"]}],
            "tensors": [
                {"id": "w", "size_bytes": 1, "kind": "input", "home": "dram"},
                {"id": "x", "size_bytes": 15, "kind": "activation", "producer": "a"},
            ],
            "tasks": [
                {"id": "a", "outputs": ["x"], "options": both(1)},
                {"id": "b", "inputs": ["w"], "options": both(1)},
            ],
            "groups": [["a", "b"]],
        }
    )
    assert find_infeasibility(p) == []
    result = run_heuristics(p, ["heft"])["heft"]
    assert (result.status, result.infeasibility) == ("unknown", [])
    assert result.message == (
        "found none: the tasks of the group a, b have no core in common that each of them can use"
    )


def both(duration: int) -> list[dict[str, Any]]:
    return [{"core": c, "duration_cycles": duration} for c in ("c0", "c1")]


def test_layers_in_a_cycle_are_found_none_for_layer_by_layer_only() -> None:
    # a (L0) -> b (L1) -> c (L0): the tasks are ordered, the layers are not
    p = problem(
        memories=[{"id": "dram", "capacity_bytes": None}],
        cores=[{"id": "c0", "memory": "dram"}],
        tensors=[
            {"id": "x", "size_bytes": 1, "kind": "activation", "producer": "a"},
            {"id": "y", "size_bytes": 1, "kind": "activation", "producer": "b"},
        ],
        tasks=[
            {"id": "a", "layer": "L0", "outputs": ["x"], "options": both(1)[:1]},
            {"id": "b", "layer": "L1", "inputs": ["x"], "outputs": ["y"], "options": both(1)[:1]},
            {"id": "c", "layer": "L0", "inputs": ["y"], "options": both(1)[:1]},
        ],
    )
    results = run_heuristics(p)
    stuck = results.pop("layer-by-layer")
    assert (stuck.status, stuck.infeasibility) == ("unknown", [])
    assert stuck.message.startswith("found none: the layers depend on each other in a cycle")
    assert all(r.objective_value == 3 for r in results.values())
