"""The bound for every schedule from the tasks' durations (cpsched/cpsat/work.py): exact on
hand-worked cases, never above the brute-force optimum (nor is the memory-conflict bound),
and never above any valid schedule, inside CP-SAT's space or not (every heuristic's, which
reload and stage as they like)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sampling import examples
from test_cpsat_bounds import on_both, two_private_cores
from test_cpsat_bruteforce import brute_force, problems
from test_heuristics_format2 import schedules, tight_format2_problems

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat.conflicts import memory_conflict_bound
from cpsched.cpsat.work import critical_path, work_bound
from cpsched.model.problem import Barrier, Problem


def test_three_equal_tasks_on_two_cores_load_one_with_twenty() -> None:
    # three independent 10-cycle tasks: spread as work, 15; whole tasks, some core runs two
    p = two_private_cores([on_both(f"t{i}", 10) for i in range(3)], [])
    w = work_bound(p, 5.0)
    assert (w.critical_path, w.load, w.load_proven, w.value) == (10, 20, True, 20)


def test_a_chain_is_its_durations_end_to_end() -> None:
    # a -> b (reads a's output) -> c (after b): 3 + 4 + 5, whatever the transfers between them
    tensors = [
        {"id": "y", "size_bytes": 8, "kind": "activation", "producer": "a"},
    ]
    tasks = [
        on_both("a", 3, outputs=["y"]),
        on_both("b", 4, inputs=["y"]),
        on_both("c", 5, after=["b"]),
    ]
    p = two_private_cores(tasks, tensors)
    assert critical_path(p) == 12
    assert work_bound(p, 5.0).value == 12


def test_a_barrier_chains_every_task_before_it_to_every_task_after_it() -> None:
    # a (5) and b (2) before the barrier, c (4) and d (1) after it: 5 + 4
    p = two_private_cores([on_both("a", 5), on_both("b", 2), on_both("c", 4), on_both("d", 1)], [])
    p = p.model_copy(update={"barriers": (Barrier(before=("a", "b"), after=("c", "d")),)})
    assert critical_path(p) == 9


def test_unequal_cores_take_the_least_most_loaded_placement() -> None:
    # three tasks of 4 cycles on c0 or 6 on c1: all on c0 12, two and one max(8, 6) = 8
    tasks = [
        {
            "id": f"t{i}",
            "options": [
                {"core": "c0", "duration_cycles": 4},
                {"core": "c1", "duration_cycles": 6},
            ],
        }
        for i in range(3)
    ]
    p = two_private_cores(tasks, [])
    w = work_bound(p, 5.0)
    assert (w.load, w.load_proven, w.classes) == (8, True, 1)


def test_instant_tasks_after_each_other_in_a_cycle_add_nothing() -> None:
    tasks = [
        on_both("a", 0, after=["b"]),
        on_both("b", 0, after=["a"]),
        on_both("c", 7, after=["a"]),
    ]
    p = two_private_cores(tasks, [])
    assert critical_path(p) == 7


_SLOW = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}


@pytest.mark.parametrize(
    "bound",
    [lambda p: work_bound(p, 5.0).value, lambda p: memory_conflict_bound(p).value],
    ids=["work", "memory-conflict"],
)
@settings(max_examples=examples(40), **_SLOW)  # type: ignore[arg-type]
@given(problems(max_tasks=5))
def test_each_bound_for_every_schedule_is_at_most_the_brute_force_optimum(
    bound: Callable[[Problem], int], data: dict[str, Any]
) -> None:
    optimum = brute_force(data, "latency")
    if optimum is not None:
        assert bound(Problem.model_validate(data)) <= optimum


@settings(max_examples=examples(30), **_SLOW)  # type: ignore[arg-type]
@given(tight_format2_problems())
def test_the_bound_is_at_most_every_heuristic_schedule(p: Problem) -> None:
    # valid schedules that may lie outside CP-SAT's space (reloads, staging, multicasts)
    bound = work_bound(p, 5.0).value
    for name, schedule in schedules(p).items():
        if schedule is not None and validate(p, schedule) == []:
            assert bound <= metrics(p, schedule).latency_cycles, name
