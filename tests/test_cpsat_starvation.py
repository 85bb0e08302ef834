"""The starvation bound (`SolverParams.starvation_bound`, cpsched/cpsat/starvation.py): exact on a
hand-worked case where it passes the static bound, never above the optimum (brute force) nor
above the latency of any heuristic or CP-SAT schedule, on random problems with multicast and
links shared by bandwidth; and why a link shared by bandwidth counts no latency."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples
from test_cpsat_bounds import on_both, two_private_cores
from test_cpsat_bruteforce import brute_force, problems
from test_cpsat_multicast import multicast_problems

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.bounds import static_bounds
from cpsched.cpsat.space import LinkShares, build_space
from cpsched.cpsat.starvation import StarvationBound, solve_starvation, starvation_relaxation
from cpsched.heuristics import run_heuristics
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule
from cpsched.model.space import extend_space

PARAMS = SolverParams(time_limit_s=5, num_workers=2, seed=0)
HORIZON = 10_000  # above every optimum here


def relax(p: Problem, placement: bool = False, fluid: bool = True) -> StarvationBound:
    """The relaxation of `p`'s default space, solved (tiny problems prove in milliseconds)."""
    space = extend_space(build_space(p), staging=True, spill=True)
    r = starvation_relaxation(space, fluid=fluid, shares=LinkShares(p))
    return solve_starvation(r, HORIZON, 5.0, 2, 0, placement)


def starving() -> Problem:
    """a0 and a2 read x0 (16 B: 2 cycles on the one bus), a1 reads x1 (8 B: 1 cycle)."""
    return two_private_cores(
        [
            on_both("a0", 2, inputs=["x0"]),
            on_both("a1", 3, inputs=["x1"]),
            on_both("a2", 2, inputs=["x0"]),
        ],
        [
            {"id": "x0", "size_bytes": 16, "kind": "input", "home": "dram"},
            {"id": "x1", "size_bytes": 8, "kind": "input", "home": "dram"},
        ],
    )


def test_relaxation_sees_the_cores_starve_for_the_port() -> None:
    # The static bound: heads of at least 1 (a crossing), 7 cycles of work on 2 cores:
    # 1 + ceil(7 / 2) = 5. The relaxation: x0 and x1 cross the bus one after the other. x1
    # first (at 1): x0 arrives at 3, so a0 and a2 need [3, 5) on both cores to end by 5, and
    # a1 (3 cycles, from 1) has no core before 5; x0 first (at 2): x1 arrives at 3, a1 ends at
    # 6. So 6, which the optimum reaches (x0 to l0 0-2, x1 to l1 2-3: a0 2-4 then a2 4-6 on
    # c0, a1 3-6 on c1).
    p = starving()
    space = extend_space(build_space(p), staging=True, spill=True)
    b = static_bounds(space, shares=LinkShares(p), union_inputs=True)
    assert b is not None and b.makespan_cycles == 5
    for placement in (False, True):
        found = relax(p, placement)
        assert (found.value, found.proven, found.link, found.crossings) == (6, True, "bus", 2)
    r = solve(p, "latency", PARAMS.model_copy(update={"starvation_bound": True}))
    assert (r.status, r.objective_value, r.bound) == ("optimal", 6.0, 6.0)
    record = r.parameters["starvation"]
    assert (record["value"], record["proven"]) == (6, True)


def shared_bus() -> Problem:
    """Cores c0, c1 with private memories on one bus shared by bandwidth (8 B/cycle, 10 cycles
    of latency); a0 reads x0, a1 reads x1 (64 B each), 10 cycles each."""
    mems = ("dram", "l0", "l1")
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "shared",
            "memories": [{"id": m, "capacity_bytes": None} for m in mems],
            "cores": [{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l1"}],
            "links": [
                {
                    "id": "bus",
                    "bandwidth_bytes_per_cycle": 8,
                    "latency_cycles": 10,
                    "sharing": "bandwidth",
                }
            ],
            "routes": [
                {"src": a, "dst": b, "links": ["bus"]} for a in mems for b in mems if a != b
            ],
            "tensors": [
                {"id": x, "size_bytes": 64, "kind": "input", "home": "dram"} for x in ("x0", "x1")
            ],
            "tasks": [
                {"id": "a0", "inputs": ["x0"], "options": [{"core": "c0", "duration_cycles": 10}]},
                {"id": "a1", "inputs": ["x1"], "options": [{"core": "c1", "duration_cycles": 10}]},
            ],
        }
    )


def test_a_link_shared_by_bandwidth_counts_no_latency() -> None:
    # At full rate (8 B/cycle) each transfer takes the whole bus for 8 + 10 = 18 cycles, so in
    # CP-SAT's space they take turns: the second input arrives at 36, latency 46, and the
    # relaxation that counts crossings at full rate says 46. At half rate (4 B/cycle) both
    # share the bus for 16 + 10 = 26 cycles: both tasks run 26-36, a valid schedule of latency
    # 36 < 46. The fluid relaxation counts a crossing as 64 / 8 = 8 cycles of the bus (no
    # latency) and each task's head as its input's full-rate arrival (18): 18 + 10 = 28.
    p = shared_bus()
    half = Schedule.model_validate(
        {
            "format": "cpsched-schedule/2",
            "problem": "shared",
            "tasks": [
                {"id": "a0", "core": "c0", "start": 26},
                {"id": "a1", "core": "c1", "start": 26},
            ],
            "transfers": [
                {"tensor": x, "src": "dram", "dst": m, "start": 0, "rate_bytes_per_cycle": 4}
                for x, m in (("x0", "l0"), ("x1", "l1"))
            ],
        }
    )
    assert validate(p, half) == []
    assert metrics(p, half).latency_cycles == 36
    assert relax(p, fluid=False).value == 46  # only valid in CP-SAT's space
    assert relax(p).value == 28
    r = solve(p, "latency", PARAMS.model_copy(update={"starvation_bound": True}))
    assert (r.status, r.objective_value) == ("optimal", 46.0)  # the space's optimum


def _below(p: Problem, latency: float) -> None:
    """Every form of the relaxation is at most `latency` (a valid schedule's, or the optimum)."""
    for placement in (False, True):
        found = relax(p, placement)
        assert found.value is None or found.value <= latency, (placement, found)


_SETTINGS: Any = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow],
}


@settings(max_examples=examples(15), **_SETTINGS)
@given(problems(max_tasks=4))
def test_relaxation_is_at_most_the_brute_force_optimum(data: dict[str, Any]) -> None:
    p = Problem.model_validate(data)
    r = solve(p, "latency", PARAMS)
    if r.status != "optimal":
        return
    optimum = brute_force(data, "latency", upper=r.objective_value)
    assert optimum is not None
    _below(p, optimum)
    # format 1: every link is exclusive, so the full-rate form is valid too
    assert (relax(p, fluid=False).value or 0) <= optimum


@settings(max_examples=examples(15), **_SETTINGS)
@given(multicast_problems(), st.booleans())
def test_relaxation_is_at_most_every_schedule(data: dict[str, Any], shared: bool) -> None:
    # multicast links, exclusive or shared by bandwidth: below every heuristic schedule and
    # CP-SAT's (whose reported bound with the switch on stays at most its value)
    if shared:
        for lk in data["links"]:
            lk["sharing"] = "bandwidth"
    p = Problem.model_validate(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        results = run_heuristics(p)
    latencies = [
        metrics(p, res.schedule).latency_cycles
        for res in results.values()
        if res.schedule is not None
    ]
    r = solve(p, "latency", PARAMS.model_copy(update={"starvation_bound": True}))
    if r.schedule is not None:
        assert validate(p, r.schedule) == []
        latencies.append(metrics(p, r.schedule).latency_cycles)
        assert r.bound is not None and r.objective_value is not None
        assert r.bound <= r.objective_value
    if latencies:
        _below(p, min(latencies))


def test_relaxation_is_at_most_every_schedule_behind_a_dram_link() -> None:
    # random_problem puts a DRAM link in front of the buses: every DRAM input crosses it
    for seed in range(6, 10):
        p = random_problem(seed, n_cores=2, n_layers=2, tiles=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            results = run_heuristics(p)
        latencies = [
            metrics(p, res.schedule).latency_cycles
            for res in results.values()
            if res.schedule is not None
        ]
        r = solve(p, "latency", PARAMS.model_copy(update={"starvation_bound": True}))
        assert r.schedule is not None
        latencies.append(metrics(p, r.schedule).latency_cycles)
        _below(p, min(latencies))
