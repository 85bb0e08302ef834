"""CP-SAT on tiny problems whose optimum is worked out by hand: one per constraint family and
per objective. Each test states the arithmetic in a comment and asserts the exact optimum."""

from __future__ import annotations

from typing import Any

import pytest

from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.heuristics import best_heuristic, run_heuristics
from cpsched.model.problem import CoreId, Problem, TaskId
from cpsched.model.result import SolveResult

PARAMS = SolverParams(time_limit_s=10, num_workers=2, seed=0)


def problem(**fields: Any) -> Problem:
    """A problem with defaults: one unbounded dram and no links unless given."""
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "hand",
        "memories": [{"id": "dram", "capacity_bytes": None}],
        "cores": [{"id": "c0", "memory": "dram"}, {"id": "c1", "memory": "dram"}],
    }
    data.update(fields)
    return Problem.model_validate(data)


def task(tid: str, *options: tuple[str, int] | tuple[str, int, float], **kw: Any) -> dict[str, Any]:
    opts = [
        {"core": o[0], "duration_cycles": o[1], "energy_pj": o[2] if len(o) > 2 else 0.0}
        for o in options
    ]
    return {"id": tid, "options": opts, **kw}


def run(p: Problem, objective: str = "latency", **kw: Any) -> SolveResult:
    heuristics = run_heuristics(p)
    best = best_heuristic(heuristics)
    hint = heuristics[best].schedule if best is not None else None
    for given in (hint, None):  # the optimum must not depend on the hint
        r = solve(p, objective, PARAMS, hint=given, **kw)
        if r.schedule is not None:
            assert validate(p, r.schedule) == []
        if given is hint:
            first = r
        else:
            assert (r.status, r.objective_value) == (first.status, first.objective_value)
    return first


def both(tid: str, d: int, **kw: Any) -> dict[str, Any]:
    return task(tid, ("c0", d), ("c1", d), **kw)


def test_core_exclusivity_two_cores_run_in_parallel() -> None:
    # three independent tasks of 10, 6, 4 on two cores: 10 | 6+4 -> latency 10
    p = problem(tasks=[both("a", 10), both("b", 6), both("c", 4)])
    r = run(p)
    assert (r.status, r.objective_value, r.bound, r.gap) == ("optimal", 10.0, 10.0, 0.0)


def test_group_forces_one_core() -> None:
    # two independent tasks of 10 would run side by side (10); grouped, they share a core: 20
    p = problem(tasks=[both("a", 10), both("b", 10)], groups=[["a", "b"]])
    r = run(p)
    assert r.objective_value == 20.0
    assert r.schedule is not None
    assert len({st.core for st in r.schedule.tasks}) == 1


def test_control_dependency_serializes() -> None:
    # b after a: 10 then 10 -> 20 although two cores are free
    p = problem(tasks=[both("a", 10), both("b", 10, after=["a"])])
    assert run(p).objective_value == 20.0


def test_barrier_costs_latency() -> None:
    # a=10 on one core, b=5 and c=5 on the other: 10. A barrier a -> b delays b to 10: a on c0
    # [0,10), c on c1 [0,5), b [10,15) -> 15
    tasks = [both("a", 10), both("b", 5), both("c", 5)]
    assert run(problem(tasks=tasks)).objective_value == 10.0
    r = run(problem(tasks=tasks, barriers=[{"before": ["a"], "after": ["b"]}]))
    assert r.objective_value == 15.0


def _private(bandwidth: float, **fields: Any) -> Problem:
    """Cores c0/c1 with private unbounded memories l0/l1 joined by one bus (latency 0)."""
    return problem(
        memories=[
            {"id": "dram", "capacity_bytes": None},
            {"id": "l0", "capacity_bytes": None},
            {"id": "l1", "capacity_bytes": None},
        ],
        cores=[{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l1"}],
        links=[
            {
                "id": "bus",
                "bandwidth_bytes_per_cycle": bandwidth,
                "latency_cycles": 0,
                "energy_pj_per_byte": 1.0,
            }
        ],
        routes=[
            {"src": "l0", "dst": "l1", "links": ["bus"]},
            {"src": "l1", "dst": "l0", "links": ["bus"]},
        ],
        **fields,
    )


def _fan_out(bandwidth: float) -> Problem:
    # a (c0 only, 10) writes t (100 bytes) read by b and c (10 each, either core)
    return _private(
        bandwidth,
        tensors=[{"id": "t", "size_bytes": 100, "kind": "activation", "producer": "a"}],
        tasks=[
            task("a", ("c0", 10), outputs=["t"]),
            both("b", 10, inputs=["t"]),
            both("c", 10, inputs=["t"]),
        ],
    )


def test_slow_bus_makes_colocation_optimal() -> None:
    # bus 1 byte/cycle: moving t takes 100 cycles, so c on c1 would end at 10+100+10 = 120;
    # b and c both on c0 after a: 10+10+10 = 30, no transfer
    r = run(_fan_out(1.0))
    assert r.objective_value == 30.0
    assert r.schedule is not None and r.schedule.transfers == ()
    assert {st.core for st in r.schedule.tasks} == {"c0"}


def test_fast_bus_makes_spreading_optimal() -> None:
    # bus 100 bytes/cycle: t moves in 1 cycle [10,11); c on c1 [11,21), b on c0 [10,20) -> 21
    r = run(_fan_out(100.0))
    assert r.objective_value == 21.0
    assert r.schedule is not None
    assert [(x.tensor, x.src, x.dst, x.start) for x in r.schedule.transfers] == [
        ("t", "l0", "l1", 10)
    ]


def test_link_exclusivity_serializes_transfers() -> None:
    # a (c0, 10) writes t1, t2 (50 bytes each, 10 bytes/cycle -> 5 cycles per transfer);
    # b reads t1, c reads t2, both only on c1 (5 each). The bus carries one transfer at a time:
    # t1 [10,15), t2 [15,20); b [15,20), c [20,25) -> 25
    p = _private(
        10.0,
        tensors=[
            {"id": "t1", "size_bytes": 50, "kind": "activation", "producer": "a"},
            {"id": "t2", "size_bytes": 50, "kind": "activation", "producer": "a"},
        ],
        tasks=[
            task("a", ("c0", 10), outputs=["t1", "t2"]),
            task("b", ("c1", 5), inputs=["t1"]),
            task("c", ("c1", 5), inputs=["t2"]),
        ],
    )
    assert run(p).objective_value == 25.0


def test_store_moves_output_to_dram() -> None:
    # a (c0, 10) writes y (50 bytes, stored); l0 -> dram over a 10 bytes/cycle link with latency
    # 5: the store takes ceil(50/10) + 5 = 10 cycles -> latency 20
    p = problem(
        memories=[{"id": "dram", "capacity_bytes": None}, {"id": "l0", "capacity_bytes": 1000}],
        cores=[{"id": "c0", "memory": "l0"}],
        links=[{"id": "out", "bandwidth_bytes_per_cycle": 10, "latency_cycles": 5}],
        routes=[{"src": "l0", "dst": "dram", "links": ["out"]}],
        tensors=[
            {"id": "y", "size_bytes": 50, "kind": "activation", "producer": "a", "store": True}
        ],
        tasks=[task("a", ("c0", 10), outputs=["y"])],
    )
    r = run(p)
    assert r.objective_value == 20.0
    assert r.schedule is not None
    assert [(x.tensor, x.dst, x.start) for x in r.schedule.transfers] == [("y", "dram", 10)]


def _shared_bounded(capacity: int) -> Problem:
    # two independent tasks of 10 on two cores sharing memory sram; each writes 60 bytes
    return problem(
        memories=[
            {"id": "dram", "capacity_bytes": None},
            {"id": "sram", "capacity_bytes": capacity},
        ],
        cores=[{"id": "c0", "memory": "sram"}, {"id": "c1", "memory": "sram"}],
        tensors=[
            {"id": "ya", "size_bytes": 60, "kind": "activation", "producer": "a"},
            {"id": "yb", "size_bytes": 60, "kind": "activation", "producer": "b"},
        ],
        tasks=[both("a", 10, outputs=["ya"]), both("b", 10, outputs=["yb"])],
    )


def test_memory_capacity_forces_serialization() -> None:
    # each output is held while its producer runs: 60 + 60 = 120 bytes in parallel. With 120
    # bytes they run side by side (10); with 100 bytes they must run one after the other (20)
    assert run(_shared_bounded(120)).objective_value == 10.0
    assert run(_shared_bounded(100)).objective_value == 20.0


def test_memory_objective_and_lexicographic_orders() -> None:
    # peak memory alone: serialize -> 60 bytes. latency first: parallel (10) then the peak is
    # 120. memory first: 60, then the best latency with a 60-byte peak is 20
    p = _shared_bounded(1000)
    assert run(p, "memory").objective_value == 60.0
    r = run(p, "latency,memory")
    assert [s.value for s in r.stages] == [10.0, 120.0]
    assert r.objective_value == 10.0 and r.status == "optimal"
    r = run(p, "memory,latency")
    assert [s.value for s in r.stages] == [60.0, 20.0]


def test_memory_sum_and_activation_memory() -> None:
    # a runs on c0 (l0), b on c1 (l1). a reads weight w (500 bytes, home dram, moved into l0 over
    # a 100 bytes/cycle link: 5 cycles) and writes activation ya (30 bytes); b writes yb (40).
    # Peaks: l0 holds w + ya = 530, l1 holds 40. memory = 530, memory-sum = 570,
    # activation-memory = max(30, 40) = 40, activation-memory-sum = 70
    p = problem(
        memories=[
            {"id": "dram", "capacity_bytes": None},
            {"id": "l0", "capacity_bytes": 1000},
            {"id": "l1", "capacity_bytes": 1000},
        ],
        cores=[{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l1"}],
        links=[{"id": "d0", "bandwidth_bytes_per_cycle": 100}],
        routes=[{"src": "dram", "dst": "l0", "links": ["d0"]}],
        tensors=[
            {"id": "w", "size_bytes": 500, "kind": "weight", "home": "dram"},
            {"id": "ya", "size_bytes": 30, "kind": "activation", "producer": "a"},
            {"id": "yb", "size_bytes": 40, "kind": "activation", "producer": "b"},
        ],
        tasks=[
            task("a", ("c0", 10), inputs=["w"], outputs=["ya"]),
            task("b", ("c1", 10), outputs=["yb"]),
        ],
    )
    expected = {
        "memory": 530.0,
        "memory-sum": 570.0,
        "activation-memory": 40.0,
        "activation-memory-sum": 70.0,
        "latency": 15.0,
    }
    for objective, value in expected.items():
        assert run(p, objective).objective_value == value, objective


def test_energy_and_weighted_objectives() -> None:
    # one task: c0 takes 10 cycles and 100 pJ, c1 takes 5 cycles and 300 pJ.
    # latency -> c1 (5); energy -> c0 (100); latency+0.1*energy: c0 10+10 = 20 < c1 5+30 = 35;
    # 100*latency+energy: c0 1000+100 = 1100 > c1 500+300 = 800
    p = problem(tasks=[task("a", ("c0", 10, 100.0), ("c1", 5, 300.0))])
    assert run(p, "latency").objective_value == 5.0
    assert run(p, "energy").objective_value == 100.0
    assert run(p, "latency+0.1*energy").objective_value == 20.0
    r = run(p, "100*latency+energy")
    assert r.objective_value == 800.0
    assert r.schedule is not None and r.schedule.tasks[0].core == "c1"


def test_energy_counts_transfers_with_decimal_costs() -> None:
    # fast bus (1 pJ/byte). Energy of the tasks: 0.1 pJ each on c0, 0.2 on c1; moving t (100
    # bytes) costs 100 pJ. Both on c0: 0.1 + 0.1 = 0.2 pJ, no transfer: the energy optimum
    p = _private(
        100.0,
        tensors=[{"id": "t", "size_bytes": 100, "kind": "activation", "producer": "a"}],
        tasks=[
            task("a", ("c0", 10, 0.1), outputs=["t"]),
            task("b", ("c0", 10, 0.1), ("c1", 1, 0.2), inputs=["t"]),
        ],
    )
    r = run(p, "energy")
    assert r.objective_value == pytest.approx(0.2, abs=1e-12)
    assert r.schedule is not None and r.schedule.transfers == ()


def test_fixed_cores_and_order_retime() -> None:
    # a=10, b=6, c=4 with everything fixed on c0: 20. The order c, b, a on c0 is kept.
    p = problem(tasks=[both("a", 10), both("b", 6), both("c", 4)])
    c0 = CoreId("c0")
    r = solve(p, "latency", PARAMS, fixed_cores={TaskId(t): c0 for t in "abc"})
    assert r.objective_value == 20.0
    r = solve(p, "latency", PARAMS, fixed_order={c0: [TaskId(t) for t in "cba"]})
    assert r.schedule is not None
    starts = {st.id: st.start for st in r.schedule.tasks}
    assert starts == {"c": 0, "b": 4, "a": 10}


FT06 = [  # (machine, duration) per operation, job by job: the classic 6x6 instance, optimum 55
    [(2, 1), (0, 3), (1, 6), (3, 7), (5, 3), (4, 6)],
    [(1, 8), (2, 5), (4, 10), (5, 10), (0, 10), (3, 4)],
    [(2, 5), (3, 4), (5, 8), (0, 9), (1, 1), (4, 7)],
    [(1, 5), (0, 5), (2, 5), (3, 3), (4, 8), (5, 9)],
    [(2, 9), (1, 3), (4, 5), (5, 4), (0, 3), (3, 1)],
    [(1, 3), (3, 3), (5, 9), (0, 10), (4, 4), (2, 1)],
]


def test_ft06_solves_to_55() -> None:
    tasks = []
    for j, ops in enumerate(FT06):
        for i, (machine, duration) in enumerate(ops):
            after = [f"j{j}o{i - 1}"] if i else []
            tasks.append(task(f"j{j}o{i}", (f"m{machine}", duration), after=after))
    p = problem(cores=[{"id": f"m{k}", "memory": "dram"} for k in range(6)], tasks=tasks)
    r = solve(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 55.0, 55.0)


def test_result_reports_parameters_and_model_size() -> None:
    r = solve(problem(tasks=[both("a", 1)]), "latency", PARAMS)
    assert r.method == "cpsat" and r.objective == "latency"
    assert r.parameters["num_workers"] == 2 and r.parameters["seed"] == 0
    assert r.num_variables is not None and r.num_variables > 0
    assert r.num_constraints is not None and r.num_constraints > 0
