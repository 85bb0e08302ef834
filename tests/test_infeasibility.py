"""Cheap infeasibility checks, and what the solver says when none of them applies."""

from __future__ import annotations

from typing import Any

from cpsched.check.infeasibility import find_infeasibility
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule

PARAMS = SolverParams(time_limit_s=10, num_workers=2, seed=0)


def problem(**fields: Any) -> Problem:
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "infeasible",
        "memories": [{"id": "dram", "capacity_bytes": None}, {"id": "l0", "capacity_bytes": 100}],
        "cores": [{"id": "c0", "memory": "l0"}],
        "links": [{"id": "k", "bandwidth_bytes_per_cycle": 10}],
        "routes": [{"src": "dram", "dst": "l0", "links": ["k"]}],
    }
    data.update(fields)
    return Problem.model_validate(data)


def opt(core: str = "c0", d: int = 5) -> dict[str, Any]:
    return {"core": core, "duration_cycles": d}


def test_staging_through_another_memory_is_not_called_infeasible() -> None:
    """A tensor reaches l1 only through l2 (dram -> l2 -> l1, two transfers): valid under format 2
    (a transfer may read a copy another transfer made), so no static check may call it
    infeasible; the checker once looked for a direct route only."""
    p = problem(
        memories=[
            {"id": "dram", "capacity_bytes": None},
            {"id": "l2", "capacity_bytes": None},
            {"id": "l1", "capacity_bytes": 100},
        ],
        cores=[{"id": "c0", "memory": "l1"}],
        routes=[
            {"src": "dram", "dst": "l2", "links": ["k"]},
            {"src": "l2", "dst": "l1", "links": ["k"]},
        ],
        tensors=[{"id": "x", "size_bytes": 80, "kind": "input", "home": "dram"}],
        tasks=[{"id": "a", "inputs": ["x"], "options": [opt()]}],
    )
    assert find_infeasibility(p) == []
    schedule = Schedule.model_validate(
        {
            "format": "cpsched-schedule/2",
            "problem": "infeasible",
            "tasks": [{"id": "a", "core": "c0", "start": 16}],
            "transfers": [
                {"tensor": "x", "src": "dram", "dst": "l2", "start": 0},
                {"tensor": "x", "src": "l2", "dst": "l1", "start": 8},
            ],
        }
    )
    assert validate(p, schedule) == []
    result = solve(p, "latency", PARAMS)  # outside CP-SAT's space: not a proof of infeasibility
    assert result.status == "unknown" and result.infeasibility == []
    assert result.message.startswith("CP-SAT proved that its search space holds no schedule")


def test_task_whose_inputs_and_outputs_exceed_its_memory() -> None:
    # x (80 bytes) in, y (40 bytes) out: 120 bytes held while the task runs, l0 holds 100
    p = problem(
        tensors=[
            {"id": "x", "size_bytes": 80, "kind": "input", "home": "dram"},
            {"id": "y", "size_bytes": 40, "kind": "activation", "producer": "a"},
        ],
        tasks=[{"id": "a", "inputs": ["x"], "outputs": ["y"], "options": [opt()]}],
    )
    [reason] = find_infeasibility(p)
    assert (reason.resource, reason.demand, reason.limit, reason.unit) == (
        "task a",
        120,
        100,
        "bytes",
    )
    r = solve(p, "latency", PARAMS)
    assert r.status == "infeasible" and r.schedule is None
    assert r.infeasibility == [reason]


def test_tensor_with_no_route_to_its_consumer() -> None:
    # y is produced in l0 and read on c1 (memory l1); there is no route l0 -> l1
    p = problem(
        memories=[
            {"id": "dram", "capacity_bytes": None},
            {"id": "l0", "capacity_bytes": None},
            {"id": "l1", "capacity_bytes": None},
        ],
        cores=[{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l1"}],
        tensors=[{"id": "y", "size_bytes": 8, "kind": "activation", "producer": "a"}],
        tasks=[
            {"id": "a", "outputs": ["y"], "options": [opt("c0")]},
            {"id": "b", "inputs": ["y"], "options": [opt("c1")]},
        ],
    )
    [reason] = find_infeasibility(p)
    assert reason.resource == "tensor y"
    assert "no route (direct or through other memories) from l0" in reason.reason
    assert solve(p, "latency", PARAMS).infeasibility == [reason]


def test_stored_tensor_with_no_route_to_dram() -> None:
    p = problem(
        tensors=[
            {"id": "y", "size_bytes": 8, "kind": "activation", "producer": "a", "store": True}
        ],
        tasks=[{"id": "a", "outputs": ["y"], "options": [opt()]}],
    )
    [reason] = find_infeasibility(p)
    assert "must be stored" in reason.reason and reason.resource == "tensor y"


def test_barrier_cycle() -> None:
    # a before b by `after`, and a barrier puts b before a: each waits for the other
    p = problem(
        tasks=[{"id": "a", "options": [opt()]}, {"id": "b", "after": ["a"], "options": [opt()]}],
        barriers=[{"before": ["b"], "after": ["a"]}],
    )
    [reason] = find_infeasibility(p)
    assert reason.resource == "barriers" and reason.reason.startswith("precedence cycle")
    assert solve(p, "latency", PARAMS).status == "infeasible"


def test_cycle_of_instant_tasks_is_feasible() -> None:
    # the same cycle with zero durations: both start and end at 0
    p = problem(
        tasks=[
            {"id": "a", "options": [opt(d=0)]},
            {"id": "b", "after": ["a"], "options": [opt(d=0)]},
        ],
        barriers=[{"before": ["b"], "after": ["a"]}],
    )
    assert find_infeasibility(p) == []
    r = solve(p, "latency", PARAMS)
    assert (r.status, r.objective_value) == ("optimal", 0.0)


def test_group_without_a_common_core() -> None:
    p = problem(
        memories=[{"id": "dram", "capacity_bytes": None}],
        cores=[{"id": "c0", "memory": "dram"}, {"id": "c1", "memory": "dram"}],
        routes=[],
        tasks=[{"id": "a", "options": [opt("c0")]}, {"id": "b", "options": [opt("c1")]}],
        groups=[["a", "b"]],
    )
    reasons = solve(p, "latency", PARAMS).infeasibility
    assert [r.resource for r in reasons] == ["task a", "task b"]


def test_homes_that_do_not_fit_at_time_zero() -> None:
    # w1 and w2 (60 bytes each) lie in l0 from time 0 until read: 120 > 100 at time 0, although
    # each task alone fits. Once only CP-SAT saw it; it is a static proof.
    p = problem(
        tensors=[
            {"id": "w1", "size_bytes": 60, "kind": "weight", "home": "l0"},
            {"id": "w2", "size_bytes": 60, "kind": "weight", "home": "l0"},
        ],
        tasks=[
            {"id": "a", "inputs": ["w1"], "options": [opt()]},
            {"id": "b", "inputs": ["w2"], "options": [opt()]},
        ],
    )
    [reason] = find_infeasibility(p)
    assert (reason.memory, reason.demand, reason.limit) == ("l0", 120, 100)
    assert reason.tensors == ("w1", "w2")
    r = solve(p, "latency", PARAMS)
    assert r.status == "infeasible" and r.schedule is None and r.infeasibility == [reason]
