"""The packing bound (cpsched/cpsat/packing.py, `SolverParams.packing_bound`): exact on
hand-worked cases, never above the brute-force optimum or a valid schedule of the space, and
the same proven optimum with it on and off."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from sampling import examples
from test_cpsat_bounds import on_both, two_private_cores
from test_cpsat_bruteforce import brute_force, problems, reload_problems
from test_cpsat_multicast import multicast_problems

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.bounds import StaticBounds, static_bounds
from cpsched.cpsat.packing import PackingBound, packing_relaxation, solve_packing
from cpsched.cpsat.space import LinkShares, Space, build_space
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import TilingSpec
from cpsched.heuristics import run_heuristics
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule
from cpsched.model.space import extend_space, in_space, interchangeable_classes

PARAMS = SolverParams(time_limit_s=5, num_workers=2, seed=0)


def model_space(p: Problem) -> tuple[Space, StaticBounds]:
    """The default model's space (staging, spill) and its static bounds (multicast, shared
    bandwidth, the cores' first inputs counted once each)."""
    space = extend_space(build_space(p), staging=True, spill=True)
    b = static_bounds(
        space,
        shared=frozenset(x for x, _, _ in space.leaders),
        shares=LinkShares(p),
        union_inputs=True,
    )
    assert b is not None
    return space, b


def packed(p: Problem, horizon: int) -> tuple[StaticBounds, PackingBound]:
    """The static bounds and the packing bound of the default model's space within `horizon`."""
    space, b = model_space(p)
    r = packing_relaxation(space, b, interchangeable_classes(space))
    assert r is not None
    return b, solve_packing(r, horizon, 20.0, num_workers=2, seed=0)


def test_three_equal_tasks_on_two_cores_pack_into_twenty() -> None:
    # three independent tasks of 10 and no data: the static bounds spread the work, 30 / 2 = 15;
    # whole tasks put two on one core, 20, the optimum
    p = two_private_cores([on_both(f"t{i}", 10) for i in range(3)], [])
    b, packing = packed(p, 100)
    assert b.makespan_cycles == 15
    assert (packing.value, packing.proven, packing.classes) == (20, True, 1)
    r = solve(p, "latency", PARAMS.model_copy(update={"use_hint": False}))
    assert (r.status, r.objective_value, r.bound) == ("optimal", 20.0, 20.0)
    assert r.parameters["packing"]["value"] == 20


def test_a_core_that_runs_two_tasks_waits_for_their_input_or_runs_the_long_one() -> None:
    # a and b (10 each) read an input (8 B: 1 cycle over the bus) and store their output (1
    # cycle); c (12) reads and stores nothing. The static bounds spread the work: a core may
    # start c at 0 and end with it, the other waits 1 for an input, (0 + 1 + 32) / 2 -> 17.
    # Whole tasks: some core runs two of the three, 20 cycles with a and b (then also 1 for an
    # input before and 1 for a store after) or 22 with c: 22 at least, the optimum (b 1-11 and
    # a 11-21 on one core, each output stored as the core goes on; c 0-12 on the other)
    tensors = [
        {"id": "x", "size_bytes": 8, "kind": "input", "home": "dram"},
        {"id": "w", "size_bytes": 8, "kind": "input", "home": "dram"},
        {"id": "y", "size_bytes": 8, "kind": "activation", "producer": "a", "store": True},
        {"id": "z", "size_bytes": 8, "kind": "activation", "producer": "b", "store": True},
    ]
    tasks = [
        on_both("a", 10, inputs=["x"], outputs=["y"]),
        on_both("b", 10, inputs=["w"], outputs=["z"]),
        on_both("c", 12),
    ]
    p = two_private_cores(tasks, tensors)
    b, packing = packed(p, 100)
    assert (b.makespan_cycles, packing.value, packing.proven) == (17, 22, True)
    r = solve(p, "latency", PARAMS.model_copy(update={"use_hint": False}))
    assert (r.status, r.objective_value, r.bound) == ("optimal", 22.0, 22.0)


def test_attention_head_at_four_tiles_packs_five_cycles_above_the_static_bound() -> None:
    # M=256 N=64 on quad_bus: every task takes a multiple of 64 cycles while the cores' first
    # starts (556, 834, 1112, 1112) and tails (278, 556, 834, 1112) step by one X tile or weight
    # over the DRAM port, so no core ends where the idle bound's sum (18,047) says; whole tasks
    # put the makespan at 18,052, which CP-SAT's schedules reach
    w = load_workload("attention_head", {"M": 256, "N": 64})
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=4))
    b, packing = packed(p, 20_000)
    assert b.idle is not None
    assert b.idle.first_positions == (556, 834, 1112, 1112)
    assert b.idle.last_positions == (278, 556, 834, 1112)
    assert (b.makespan_cycles, packing.value, packing.proven) == (18_047, 18_052, True)


def _in_space(p: Problem, space: Space, schedule: Schedule) -> bool:
    """Whether `schedule` is valid and lies in `space` (projecting it keeps every transfer):
    the packing bound, like the static bounds, holds for the space's schedules."""
    projected = in_space(space, schedule, multicast=True)
    return validate(p, schedule) == [] and len(projected.transfers) == len(schedule.transfers)


def _holds(p: Problem) -> None:
    """The packing bound is at most the latency of every heuristic schedule in the space and
    CP-SAT's optimum with the bound off, which it leaves unchanged when on (examples that do
    not prove in the limit are only checked against the schedules)."""
    space, _ = model_space(p)
    results = run_heuristics(p)
    latencies = [
        metrics(p, res.schedule).latency_cycles
        for res in results.values()
        if res.schedule is not None and _in_space(p, space, res.schedule)
    ]
    off = solve(p, "latency", PARAMS.model_copy(update={"packing_bound": False}))
    if off.schedule is not None:
        latencies.append(metrics(p, off.schedule).latency_cycles)
    if not latencies:
        return
    _, packing = packed(p, max(latencies))
    assert packing.value is not None and packing.value <= min(latencies)
    if off.status == "optimal":
        on = solve(p, "latency", PARAMS)
        assert (on.status, on.objective_value) == ("optimal", off.objective_value)
        assert on.schedule is not None and validate(p, on.schedule) == []


_SLOW = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=examples(30), **_SLOW)  # type: ignore[arg-type]
@given(problems(max_tasks=5))
def test_packing_bound_is_at_most_the_brute_force_optimum(data: dict[str, Any]) -> None:
    optimum = brute_force(data, "latency")
    if optimum is None:
        return
    p = Problem.model_validate(data)
    _, packing = packed(p, round(optimum))
    # within a horizon at the optimum the relaxation holds the optimal schedule's cores
    assert packing.value is not None and packing.value <= optimum


@settings(max_examples=examples(30), **_SLOW)  # type: ignore[arg-type]
@given(problems())
def test_packing_bound_keeps_the_optimum(data: dict[str, Any]) -> None:
    _holds(Problem.model_validate(data))


@settings(max_examples=examples(25), **_SLOW)  # type: ignore[arg-type]
@given(multicast_problems())
def test_packing_bound_keeps_the_optimum_with_multicast(data: dict[str, Any]) -> None:
    _holds(Problem.model_validate(data))


@settings(max_examples=examples(20), **_SLOW)  # type: ignore[arg-type]
@given(reload_problems())
def test_packing_bound_keeps_the_optimum_with_reloads(data: dict[str, Any]) -> None:
    _holds(Problem.model_validate(data))
