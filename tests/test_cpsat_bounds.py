"""Static bounds of the CP-SAT model (cpsched/cpsat/bounds.py): tight on hand-worked cases, and
never above what a valid schedule achieves (random problems, every heuristic and the optimum)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from test_cpsat_bruteforce import problems

from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.bounds import static_bounds
from cpsched.cpsat.space import build_space
from cpsched.heuristics import run_all_heuristics
from cpsched.problem import Problem
from cpsched.schedule import Schedule

PARAMS = SolverParams(time_limit_s=10, num_workers=2, seed=0)


def two_private_cores(tasks: list[dict[str, Any]], tensors: list[dict[str, Any]]) -> Problem:
    """Cores c0, c1 with private memories l0, l1; every transfer crosses one bus (8 bytes/cycle)."""
    return Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "bounds",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "l0", "capacity_bytes": 1000},
                {"id": "l1", "capacity_bytes": 1000},
            ],
            "cores": [{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l1"}],
            "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 8}],
            "routes": [
                {"src": a, "dst": b, "links": ["bus"]}
                for a in ("dram", "l0", "l1")
                for b in ("dram", "l0", "l1")
                if a != b
            ],
            "tensors": tensors,
            "tasks": tasks,
        }
    )


def on_both(tid: str, duration: int, **kw: Any) -> dict[str, Any]:
    return {
        "id": tid,
        "options": [{"core": k, "duration_cycles": duration} for k in ("c0", "c1")],
        **kw,
    }


def test_head_counts_input_transfers_taking_turns_and_tail_the_store() -> None:
    # a reads x (64 B: 8 cycles) and w (32 B: 4 cycles), both from DRAM over the one bus, so it
    # starts at 8 + 4 = 12 at the earliest; it runs 10 and its output y (16 B: 2 cycles) is
    # stored: 12 + 10 + 2 = 24, the optimum. The task-only critical path says 10. The energy
    # bound spreads a's 10 over both cores (12 + 2 + 5 = 19); the link bound sees the same 24:
    # x and w take 12 on the bus, then a's 10 and the store's 2.
    p = two_private_cores(
        [on_both("a", 10, inputs=["x", "w"], outputs=["y"])],
        [
            {"id": "x", "size_bytes": 64, "kind": "input", "home": "dram"},
            {"id": "w", "size_bytes": 32, "kind": "weight", "home": "dram"},
            {"id": "y", "size_bytes": 16, "kind": "activation", "producer": "a", "store": True},
        ],
    )
    b = static_bounds(build_space(p))
    assert b is not None
    assert b.head == {("a", "c0"): 12, ("a", "c1"): 12}
    assert b.tail == {("a", "c0"): 2, ("a", "c1"): 2}
    assert (b.energy_cycles, b.link_cycles) == (19, 24)
    r = solve(p, "latency", PARAMS.model_copy(update={"use_hint": False}))
    assert (r.status, r.objective_value, r.bound) == ("optimal", 24.0, 24.0)


def test_energy_bound_with_heads_on_two_cores() -> None:
    # four tasks of 10, each reading its own 8-byte input (1 cycle) from DRAM: every task starts
    # at 1 or later and the work 40 spreads over 2 cores: 1 + 40 / 2 = 21. The optimum is 22:
    # the second core's first input passes the bus after the first core's, so it starts at 2
    # and runs two tasks (2 + 20); three tasks on one core take 1 + 30.
    tensors = [{"id": f"x{i}", "size_bytes": 8, "kind": "input", "home": "dram"} for i in range(4)]
    tasks = [on_both(f"t{i}", 10, inputs=[f"x{i}"]) for i in range(4)]
    p = two_private_cores(tasks, tensors)
    b = static_bounds(build_space(p))
    assert b is not None
    assert b.energy_cycles == 21
    r = solve(p, "latency", PARAMS)
    assert (r.status, r.objective_value) == ("optimal", 22.0)


def test_link_bound_counts_unavoidable_transfers() -> None:
    # two tasks of 1 on DRAM-less cores read 80 B each from DRAM (10 cycles each over the bus):
    # the bus carries 20 cycles before the second can start: 20 + 1 = 21 (both the link bound
    # and the optimum)
    tensors = [{"id": f"x{i}", "size_bytes": 80, "kind": "input", "home": "dram"} for i in range(2)]
    tasks = [on_both(f"t{i}", 1, inputs=[f"x{i}"]) for i in range(2)]
    p = two_private_cores(tasks, tensors)
    b = static_bounds(build_space(p))
    assert b is not None
    assert b.link_cycles == 21
    r = solve(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 21.0, 21.0)


def _holds(p: Problem, schedule: Schedule) -> None:
    """Every static bound holds in `schedule` (a valid schedule of `p`)."""
    space = build_space(p)
    b = static_bounds(space)
    if b is None:
        return
    core_of = {st.id: st.core for st in schedule.tasks}
    start = {st.id: st.start for st in schedule.tasks}
    end = {t: start[t] + space.duration(t, core_of[t]) for t in start}
    makespan = max(
        [*end.values()]
        + [x.start + p.transfer_duration_cycles(x.tensor, x.src, x.dst) for x in schedule.transfers]
    )
    assert b.makespan_cycles <= makespan
    for t in start:
        assert b.head[(t, core_of[t])] <= start[t]
        assert end[t] + b.tail[(t, core_of[t])] <= makespan


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems())
def test_static_bounds_hold_in_valid_schedules(data: dict[str, Any]) -> None:
    p = Problem.model_validate(data)
    for result in run_all_heuristics(p).values():
        if result.schedule is not None:
            _holds(p, result.schedule)
    off = solve(p, "latency", PARAMS.model_copy(update={"static_bounds": False}))
    on = solve(p, "latency", PARAMS)
    assert (on.status, on.objective_value) == (off.status, off.objective_value)
    if off.schedule is not None:
        _holds(p, off.schedule)
