"""Port-queueing heads and tails (`SolverParams.port_heads`) and the cores' first inputs counted
once each (`SolverParams.idle_union_inputs`), cpsched/cpsat/bounds.py: exact on hand-worked
cases, never above what a valid schedule achieves, and the proven optimum is the same with each
switch on and off (random problems with multicast, shared bandwidth, spill)."""

from __future__ import annotations

import warnings
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples
from test_cpsat_bounds import on_both, two_private_cores
from test_cpsat_bruteforce import problems, reload_problems
from test_cpsat_multicast import multicast_problems
from test_heuristics_format2 import tight_format2_problems

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.bounds import (
    StaticBounds,
    _one_machine_bound,
    first_input_positions,
    static_bounds,
)
from cpsched.cpsat.space import LinkShares, build_space
from cpsched.heuristics import run_heuristics
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.problem import CoreId, Problem, TaskId
from cpsched.model.schedule import Schedule
from cpsched.model.space import extend_space
from cpsched.pipeline import BuildOptions, build_job

PARAMS = SolverParams(time_limit_s=5, num_workers=2, seed=0)
ON = PARAMS.model_copy(update={"port_heads": True})
OFF = PARAMS.model_copy(update={"port_heads": False})
SWITCHES = ("port_heads", "idle_union_inputs")


def model_bounds(p: Problem, port_heads: bool, union_inputs: bool = False) -> StaticBounds:
    """The static bounds as the default model computes them (staging, spill, multicast, shared
    bandwidth on)."""
    space = extend_space(build_space(p), staging=True, spill=True)
    shared = frozenset(x for x, _, _ in space.leaders)
    b = static_bounds(
        space,
        shared=shared,
        shares=LinkShares(p),
        port_heads=port_heads,
        union_inputs=union_inputs,
    )
    assert b is not None
    return b


def on_cores(per_placement: dict[tuple[TaskId, CoreId], int], task: str) -> list[int]:
    """The values of `task` on c0 and c1."""
    return [per_placement[(TaskId(task), CoreId(k))] for k in ("c0", "c1")]


def test_one_machine_bound_is_the_best_subset() -> None:
    # jobs (release, work, tail): all three released at 0 or later run 3 + 2 + 1 = 6 cycles;
    # the first alone has tail 5: 0 + 3 + 5 = 8; the one released at 2: 2 + 2 + 1 = 5. The
    # best subset is {first}: 8 (Jackson's preemptive schedule: the first job 0-3, then 5
    # more; the second 3-5, then 1; the third 5-6)
    assert _one_machine_bound([(0, 3, 5), (2, 2, 1), (0, 1, 0)]) == 8
    # shared bandwidth: works are fractions, the total rounds up once
    assert _one_machine_bound([(0, Fraction(1, 2), 0), (0, Fraction(1, 2), 0), (0, 1, 0)]) == 2


def test_port_head_queues_the_inputs_of_every_ancestor() -> None:
    # a reads x, b reads w (64 B each: 8 cycles over the one bus), both run 10; c waits for both
    # (`after`). The old head of c is a's earliest end, 8 + 10 = 18. Both inputs cross the bus,
    # one after the other, and each is 10 cycles of work ahead of c: 8 + 8 + 10 = 26, which the
    # optimum reaches (x at 8, a 8-18 on c0; w at 16, b 16-26 on c1; c 26-31).
    p = two_private_cores(
        [
            on_both("a", 10, inputs=["x"]),
            on_both("b", 10, inputs=["w"]),
            on_both("c", 5, after=["a", "b"]),
        ],
        [
            {"id": "x", "size_bytes": 64, "kind": "input", "home": "dram"},
            {"id": "w", "size_bytes": 64, "kind": "weight", "home": "dram"},
        ],
    )
    old, new = model_bounds(p, False), model_bounds(p, True)
    assert on_cores(old.head, "c") == [18, 18]
    assert on_cores(new.head, "c") == [26, 26]
    for params in (ON, OFF):
        r = solve(p, "latency", params)
        assert (r.status, r.objective_value) == ("optimal", 31.0)


def test_port_tail_queues_the_stores_of_every_descendant() -> None:
    # a (5 cycles) comes before b and c (10 each), whose outputs (64 B: 8 cycles) are stored in
    # DRAM over the one bus. The old tail of a is one successor and its store, 10 + 8 = 18; both
    # stores start 10 or more after a ends and take turns: 10 + 8 + 8 = 26, which the optimum
    # reaches (a 0-5, b and c 5-15 on both cores, the stores 15-23 and 23-31).
    p = two_private_cores(
        [
            on_both("a", 5),
            on_both("b", 10, outputs=["yb"], after=["a"]),
            on_both("c", 10, outputs=["yc"], after=["a"]),
        ],
        [
            {"id": y, "size_bytes": 64, "kind": "activation", "producer": y[1], "store": True}
            for y in ("yb", "yc")
        ],
    )
    old, new = model_bounds(p, False), model_bounds(p, True)
    assert on_cores(old.tail, "a") == [18, 18]
    assert on_cores(new.tail, "a") == [26, 26]
    for params in (ON, OFF):
        r = solve(p, "latency", params)
        assert (r.status, r.objective_value) == ("optimal", 31.0)


def test_attention_head_qkt_waits_for_six_tiles_through_the_dram_port() -> None:
    # attention_head M=256 N=64 T=4 on quad_bus: QKT.t0 needs Q.t0 (X0, Wq) and every K^T, so
    # K.t0..K.t3 (X0..X3, Wk): six DRAM tiles of 4,096 B cross the DRAM port (16 B/cycle, with
    # the port's and the bus's latencies 20 + 2: 278 cycles each; multicast counts each once).
    # Ordered best, the last to arrive are X0 and Wq, 1,024 cycles (Q.t0) ahead of QKT.t0; the
    # rest are 1,088 (K, K^T) ahead: 6 * 278 + 1,024 = 2,692. The old head is 1,644 (one X tile
    # and Wk, then K and K^T).
    p = build_job(BuildOptions(workload="attention_head", hardware="quad_bus", tiles=4)).problem
    old, new = model_bounds(p, False), model_bounds(p, True)
    cores = tuple(c.id for c in p.cores)
    assert old.task_head(TaskId("QKT.t0"), cores) == 1644
    assert new.task_head(TaskId("QKT.t0"), cores) == 2692


def multicast_bus(tasks: list[dict[str, Any]], tensors: list[dict[str, Any]]) -> Problem:
    """Cores c0, c1 with private memories l0, l1 on one exclusive multicast bus (8 B/cycle)."""
    mems = ("dram", "l0", "l1")
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "union",
            "memories": [{"id": m, "capacity_bytes": None} for m in mems],
            "cores": [{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l1"}],
            "links": [
                {
                    "id": "bus",
                    "bandwidth_bytes_per_cycle": 8,
                    "sharing": "exclusive",
                    "multicast": True,
                }
            ],
            "routes": [
                {"src": a, "dst": b, "links": ["bus"]} for a in mems for b in mems if a != b
            ],
            "tensors": tensors,
            "tasks": tasks,
        }
    )


def test_first_inputs_count_once_when_they_may_be_multicast() -> None:
    # a0 reads x0 and w, a1 reads x1 and w (64 B each: 8 cycles on the bus), 10 cycles each.
    # Every tensor may be multicast to both memories, so the core idle bound counted none of
    # them on the bus: both first starts at least 16 (a task's two inputs), (16 + 16 + 20) / 2
    # = 26. Counted once each: the first core waits for 2 tensors (16), the second for the 3 of
    # two different tasks (24): (16 + 24 + 20) / 2 = 30. The optimum is 34 (w multicast, x0,
    # then x1: a0 16-26, a1 24-34), which the link bound proves (24 on the bus, then 10).
    p = multicast_bus(
        [
            on_both("a0", 10, inputs=["x0", "w"]),
            on_both("a1", 10, inputs=["x1", "w"]),
        ],
        [
            {"id": x, "size_bytes": 64, "kind": "weight" if x == "w" else "input", "home": "dram"}
            for x in ("x0", "x1", "w")
        ],
    )
    old, new = model_bounds(p, False, False), model_bounds(p, False, True)
    assert (old.core_idle_cycles, new.core_idle_cycles) == (26, 30)
    space = extend_space(build_space(p), staging=True, spill=True)
    assert first_input_positions(space, new.head) == [16, 24]
    for on in (False, True):
        r = solve(p, "latency", PARAMS.model_copy(update={"idle_union_inputs": on}))
        assert (r.status, r.objective_value) == ("optimal", 34.0)


def test_attention_head_cores_wait_for_the_union_of_their_first_inputs() -> None:
    # attention_head M=256 N=64 T=4 on quad_bus: a core's first task is Q, K or V of a tile
    # (an X tile and a weight, 278 cycles each through the DRAM port) or, later, K^T. Every
    # tile may be multicast, so the idle bound counted none of them: 4 x 556 for the first
    # starts. Once each: 2 tensors for one task (556), 3 for two (X0, Wq, Wk: 834), 4 for
    # three or four (X0, X1, Wq, Wk: 1,112). With the last outputs' stores (278 + 556 + 834
    # + 1,112 = 2,780) and the work (65,792) on 4 cores: (3,614 + 2,780 + 65,792) / 4 rounds
    # up to 18,047 (the old bound: (2,224 + 2,780 + 65,792) / 4 = 17,699).
    p = build_job(BuildOptions(workload="attention_head", hardware="quad_bus", tiles=4)).problem
    old, new = model_bounds(p, False, False), model_bounds(p, False, True)
    space = extend_space(build_space(p), staging=True, spill=True)
    assert first_input_positions(space, new.head, LinkShares(p)) == [556, 834, 1112, 1112]
    assert (old.core_idle_cycles, new.core_idle_cycles) == (17699, 18047)
    assert (old.makespan_cycles, new.makespan_cycles) == (17699, 18047)


def _holds(p: Problem, schedule: Schedule, b: StaticBounds) -> None:
    """Every static bound `b` holds in `schedule` (a valid schedule of `p`)."""
    core_of = {st.id: st.core for st in schedule.tasks}
    start = {st.id: st.start for st in schedule.tasks}
    end = {t: start[t] + p.option(t, core_of[t]).duration_cycles for t in start}  # type: ignore[union-attr]
    makespan = metrics(p, schedule).latency_cycles
    assert b.makespan_cycles <= makespan
    for t in start:
        assert b.head[(t, core_of[t])] <= start[t], t
        assert end[t] + b.tail[(t, core_of[t])] <= makespan, t


def _same_optimum(p: Problem) -> None:
    """The static bounds with both switches hold in every heuristic schedule and in CP-SAT's;
    the proven optimum is the same with both off and with each on (the other at its default;
    examples that do not prove in the limit are skipped)."""
    b = model_bounds(p, True, True)
    with warnings.catch_warnings():  # a heuristic's invalid schedule fails the test
        warnings.simplefilter("error", RuntimeWarning)
        results = run_heuristics(p)
    for result in results.values():
        if result.schedule is not None:
            _holds(p, result.schedule, b)
    off = solve(p, "latency", PARAMS.model_copy(update=dict.fromkeys(SWITCHES, False)))
    if off.schedule is not None:
        assert validate(p, off.schedule) == []
        _holds(p, off.schedule, b)
    if off.status != "optimal":
        return
    for switch in SWITCHES:
        on = solve(p, "latency", PARAMS.model_copy(update={switch: True}))
        if on.status == "optimal":
            assert on.objective_value == off.objective_value, switch
            assert on.schedule is not None and validate(p, on.schedule) == []


_SLOW = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=examples(30), **_SLOW)  # type: ignore[arg-type]
@given(problems())
def test_port_bounds_keep_the_optimum(data: dict[str, Any]) -> None:
    _same_optimum(Problem.model_validate(data))


@settings(max_examples=examples(25), **_SLOW)  # type: ignore[arg-type]
@given(multicast_problems(), st.booleans())
def test_port_bounds_keep_the_optimum_with_multicast_and_shared_links(
    data: dict[str, Any], shared: bool
) -> None:
    # multicast links, exclusive or (shared) by bandwidth
    if shared:
        for lk in data["links"]:
            lk["sharing"] = "bandwidth"
    _same_optimum(Problem.model_validate(data))


@settings(max_examples=examples(20), **_SLOW)  # type: ignore[arg-type]
@given(reload_problems())
def test_port_bounds_keep_the_optimum_with_reloads(data: dict[str, Any]) -> None:
    _same_optimum(Problem.model_validate(data))


@pytest.mark.slow  # 12 s: in the slow run (the other soundness properties run by default)
@settings(max_examples=examples(20), **_SLOW)  # type: ignore[arg-type]
@given(tight_format2_problems())
def test_port_bounds_keep_the_optimum_on_tight_format2_problems(p: Problem) -> None:
    _same_optimum(p)


def test_port_bounds_keep_the_optimum_behind_a_dram_link() -> None:
    # random_problem puts a DRAM link in front of the buses: every DRAM input crosses it
    for seed in range(6, 12):
        _same_optimum(random_problem(seed, n_cores=2, n_layers=2, tiles=2))
