"""The latency / peak-memory Pareto front (cpsched.analysis.pareto), on problems small enough to
work out by hand.

`parallel_outputs(n)`: n independent tasks, each 10 cycles, each writing a 100-byte activation
that nothing reads (held from the task's start to its end, docs/validity.md rule 9), on n cores that
share one 1000-byte memory. With k tasks running at once the peak is 100*k bytes; at most k at
once means ceil(n/k) rounds of 10 cycles. So the front is {(10*ceil(n/k), 100*k)} over the k
where ceil(n/k) changes: for n=2 {(10, 200), (20, 100)}, for n=3 {(10, 300), (20, 200),
(30, 100)} (k=2 and k=3 rounds differ; a cap of 299 bytes allows two at once: 20 cycles).
"""

from __future__ import annotations

from typing import Any

import pytest

from cpsched.analysis.pareto import (
    ParetoPoint,
    dominates,
    memory_metric,
    pareto_front,
    peak_floor,
    reference_points,
    split_dominated,
    write_front,
)
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.model.errors import InputError
from cpsched.model.io import load_schedule, parse_model
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult

PARAMS = SolverParams(time_limit_s=5, num_workers=2, seed=0)


def parallel_outputs(n: int, name: str = "parallel") -> Problem:
    """n independent 10-cycle tasks with 100-byte outputs on n cores sharing one memory."""
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": name,
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l1", "capacity_bytes": 1000},
        ],
        "cores": [{"id": f"c{i}", "memory": "l1"} for i in range(n)],
        "links": [],
        "routes": [],
        "tensors": [
            {"id": f"o{i}", "size_bytes": 100, "kind": "activation", "producer": f"t{i}"}
            for i in range(n)
        ],
        "tasks": [
            {
                "id": f"t{i}",
                "layer": f"L{i}",
                "outputs": [f"o{i}"],
                "options": [
                    {"core": f"c{k}", "duration_cycles": 10, "energy_pj": 1.0} for k in range(n)
                ],
            }
            for i in range(n)
        ],
    }
    return parse_model(data, Problem, "test")


def pairs(points: list[ParetoPoint]) -> list[tuple[int, int]]:
    return [(p.latency_cycles, p.peak_bytes) for p in points]


def test_two_task_front_is_the_hand_worked_two_points() -> None:
    front = pareto_front(parallel_outputs(2), PARAMS)
    assert pairs(front.points) == [(10, 200), (20, 100)]
    assert all(p.status == "optimal" and p.gap == 0.0 for p in front.points)
    assert front.complete
    # the min-memory extreme and the solve under cap 199 find the same point: one is kept
    assert front.points[0].role == "min-latency"
    assert len(front.dominated) == 1


def test_three_task_front_has_three_points_and_each_respects_its_cap() -> None:
    problem = parallel_outputs(3)
    front = pareto_front(problem, PARAMS, memory="activation")
    assert pairs(front.points) == [(10, 300), (20, 200), (30, 100)]
    assert front.complete
    for point in [*front.points, *front.dominated]:
        assert validate(problem, point.schedule) == []
        if point.cap_bytes is not None:
            assert point.peak_bytes <= point.cap_bytes
    capped = [p for p in front.points if p.role == "capped"]
    assert [p.cap_bytes for p in capped] == [299]  # 300 - 1; then 199 finds (30, 100) again


def test_front_is_sorted_and_non_dominated() -> None:
    front = pareto_front(parallel_outputs(3), PARAMS)
    latencies = [p.latency_cycles for p in front.points]
    peaks = [p.peak_bytes for p in front.points]
    assert latencies == sorted(latencies) and len(set(latencies)) == len(latencies)
    assert peaks == sorted(peaks, reverse=True) and len(set(peaks)) == len(peaks)
    assert not any(dominates(a, b) for a in front.points for b in front.points if a is not b)


def test_extremes_equal_the_lexicographic_solves() -> None:
    problem = parallel_outputs(3)
    front = pareto_front(problem, PARAMS)
    fastest = solve(problem, "latency,memory", PARAMS)
    leanest = solve(problem, "memory,latency", PARAMS)
    assert fastest.status == leanest.status == "optimal"
    assert (front.points[0].latency_cycles, front.points[0].peak_bytes) == (10, 300)
    assert fastest.objective_value == 10 and fastest.stages[1].value == 300
    assert (front.points[-1].peak_bytes, front.points[-1].latency_cycles) == (100, 30)
    assert leanest.objective_value == 100 and leanest.stages[1].value == 30


def test_a_grid_of_caps_with_max_points() -> None:
    # extremes 300 and 100 bytes; 4 points: caps 100 + 200*k//3 for k = 2, 1: 233, 166
    front = pareto_front(parallel_outputs(3), PARAMS, max_points=4)
    assert pairs(front.points) == [(10, 300), (20, 200), (30, 100)]
    caps = sorted(p.cap_bytes for p in [*front.points, *front.dominated] if p.cap_bytes)
    assert caps == [166, 233]
    assert front.solves == 4


def test_the_sweep_ends_at_a_proven_least_peak_or_a_single_point() -> None:
    front = pareto_front(parallel_outputs(2), PARAMS)
    assert front.end == "the least peak, 100 bytes, is proven"  # no solve under cap 99 needed
    single = pareto_front(parallel_outputs(1), PARAMS)
    assert pairs(single.points) == [(10, 100)]
    assert single.end == "the fastest schedule is also the leanest"
    assert single.complete and single.solves == 2


def test_caps_are_model_constraints() -> None:
    problem = parallel_outputs(2)
    capped = solve(problem, "latency", PARAMS, caps={"memory": 199})
    assert capped.status == "optimal" and capped.objective_value == 20
    infeasible = solve(problem, "latency", PARAMS, caps={"memory": 99})
    # proven empty within CP-SAT's space (status unknown: the space is restricted)
    assert infeasible.schedule is None and infeasible.status == "unknown"
    assert infeasible.stages[0].status == "infeasible"


def test_reference_points_and_hints_from_a_sibling_problem() -> None:
    sibling = parallel_outputs(3, name="sibling")
    refs = reference_points(sibling, PARAMS)
    assert [p.role for p in refs] == ["layer-by-layer min-latency", "layer-by-layer min-memory"]
    assert pairs(refs) == [(10, 300), (30, 100)]
    problem = parallel_outputs(3)
    front = pareto_front(problem, PARAMS, hints=[r.schedule for r in refs], references=refs)
    assert front.references == refs
    assert pairs(front.points) == [(10, 300), (20, 200), (30, 100)]


def test_peak_floor_counts_what_a_task_holds_while_it_runs() -> None:
    # each task holds its 100-byte output while it runs; with a 50-byte weight it reads (held in
    # l1 from time 0), 150 bytes of all kinds but still 100 of activations
    problem = parallel_outputs(2)
    assert peak_floor(problem) == (
        100,
        "task t0 holds 100 bytes of inputs and outputs while it runs",
    )
    data = problem.model_dump(mode="json")
    data["tensors"].append({"id": "w", "size_bytes": 50, "kind": "weight", "home": "l1"})
    data["tasks"][1]["inputs"] = ["w"]
    weighted = parse_model(data, Problem, "test")
    assert peak_floor(weighted)[0] == 150
    assert peak_floor(weighted, "activation")[0] == 100
    # all: t1 with its weight needs 150 bytes whenever it runs; together with t0 250
    front = pareto_front(weighted, PARAMS)
    assert pairs(front.points) == [(10, 250), (20, 150)]
    assert front.complete


def _point(latency: int, peak: int, status: str = "optimal") -> ParetoPoint:
    result = SolveResult(method="cpsat", status="optimal", objective="latency")
    return ParetoPoint(
        role="capped",
        cap_bytes=None,
        latency_cycles=latency,
        peak_bytes=peak,
        peak_all_bytes=peak,
        peak_activation_bytes=peak,
        energy_pj=0.0,
        status=status,
        latency_proven=status == "optimal",
        bound=None,
        gap=None,
        wall_time_s=0.0,
        result=result,
    )


def test_split_dominated_keeps_one_of_equal_points_and_prefers_the_proven() -> None:
    a, b, c = _point(10, 300), _point(20, 300), _point(15, 200, "feasible")
    d, e = _point(15, 200), _point(15, 200)
    front, dominated = split_dominated([b, a, c, d, e])
    assert front == [a, d]  # b: same peak, slower; c: equal to d but unproven; e: copy of d
    assert {id(x) for x in dominated} == {id(b), id(c), id(e)}


def test_bad_memory_kind_is_an_input_error() -> None:
    with pytest.raises(InputError, match="accepted: all, activation"):
        memory_metric("weights")
    with pytest.raises(InputError, match="--points"):
        pareto_front(parallel_outputs(1), PARAMS, max_points=1)


def test_write_front_writes_every_schedule_and_the_plot(tmp_path: Any) -> None:
    problem = parallel_outputs(2)
    front = pareto_front(problem, PARAMS, references=reference_points(problem, PARAMS))
    written = write_front(front, tmp_path, PARAMS)
    names = sorted(p.name for p in written)
    assert names == [
        "front.json",
        "pareto.png",
        "reference-0.json",
        "reference-1.json",
        "schedule-0.json",
        "schedule-1.json",
    ]
    for i, point in enumerate(front.points):
        assert load_schedule(tmp_path / f"schedule-{i}.json") == point.schedule
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"
