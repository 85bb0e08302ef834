"""The MILP peer (cpsched.bench.milp_peer) on tiny problems: its schedules are valid and its
proven optimum is CP-SAT's, on both MILP backends.

No outcome here depends on wall time: the MILP runs with no time limit and a node limit (the
same on every machine; these problems take a few nodes), and CP-SAT proves these optima in
milliseconds, far inside its limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.bench.milp_peer import Backend, MilpResult, build_milp, solve_milp
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.space import build_space
from cpsched.cpsat.strengthen import interchangeable_classes
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.io import load_problem
from cpsched.model.problem import Problem

ROOT = Path(__file__).resolve().parents[1]

BACKENDS: tuple[Backend, ...] = ("SCIP", "HIGHS")
# the MILP peer searches the unicast, one-transfer-per-link space: CP-SAT searches the same one
PARAMS = SolverParams(
    time_limit_s=60, num_workers=2, seed=0, multicast=False, shared_bandwidth=False
)
NODE_LIMIT = 10_000


def _solve(problem: Problem, backend: Backend) -> MilpResult:
    result = solve_milp(problem, backend, time_limit_s=None, node_limit=NODE_LIMIT)
    assert result.status == "optimal", result.message
    assert result.schedule is not None
    assert validate(problem, result.schedule) == []
    return result


def two_loads(capacity_bytes: int | None) -> Problem:
    """One core on l1; tasks A and B read 10-byte inputs x and y from dram over a 1 B/cycle bus.

    Unbounded l1: x moves in [0,10), A runs [10,15), y moves in [10,20), B runs [20,25): 25.
    With 10 bytes of l1, y cannot arrive while x is held (until A ends): x [0,10), A [10,15),
    y [15,25), B [25,30): 30 (either order is symmetric).
    """
    return Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "two_loads",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "l1", "capacity_bytes": capacity_bytes},
            ],
            "cores": [{"id": "c0", "memory": "l1"}],
            "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 1}],
            "routes": [{"src": "dram", "dst": "l1", "links": ["bus"]}],
            "tensors": [
                {"id": "x", "size_bytes": 10, "kind": "input", "home": "dram"},
                {"id": "y", "size_bytes": 10, "kind": "input", "home": "dram"},
            ],
            "tasks": [
                {"id": "A", "inputs": ["x"], "options": [{"core": "c0", "duration_cycles": 5}]},
                {"id": "B", "inputs": ["y"], "options": [{"core": "c0", "duration_cycles": 5}]},
            ],
        }
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("capacity", "latency"), [(None, 25), (20, 25), (10, 30)])
def test_memory_capacity_delays_second_load(
    backend: Backend, capacity: int | None, latency: int
) -> None:
    result = _solve(two_loads(capacity), backend)
    assert result.objective_value == latency
    assert result.bound == latency
    # 20 bytes fit both copies at once, so only the 10-byte memory needs capacity constraints
    assert result.capacity_memories == (("l1",) if capacity == 10 else ())


@pytest.mark.parametrize("backend", BACKENDS)
def test_ft06_optimum_is_55(backend: Backend) -> None:
    # Fisher and Thompson's 6x6 job shop: optimal makespan 55 (known since 1963)
    problem = load_problem(ROOT / "models" / "problems" / "ft06.yaml")
    assert _solve(problem, backend).objective_value == 55


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["two_cores_private", "two_cores_shared"])
def test_bundled_examples_match_cpsat(backend: Backend, name: str) -> None:
    problem = load_problem(ROOT / "models" / "problems" / f"{name}.yaml")
    exact = solve(problem, "latency", PARAMS)
    assert exact.status == "optimal"
    assert _solve(problem, backend).objective_value == exact.objective_value


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_problems_match_cpsat(backend: Backend, seed: int) -> None:
    # bounded private memories (binding or not, at random), groups, barriers, `after`
    problem = random_problem(seed, n_cores=2, n_layers=2, tiles=2)
    exact = solve(problem, "latency", PARAMS)
    assert exact.status == "optimal"
    assert _solve(problem, backend).objective_value == exact.objective_value


def test_milp_and_cpsat_read_one_space() -> None:
    # the space (and with it the core classes both break symmetry on) is worked out once per
    # problem in cpsched.model.space; neither solver has a copy of its own
    problem = load_problem(ROOT / "models" / "problems" / "two_cores_private.yaml")
    space = build_milp(problem, use_heuristic=False).space
    assert space is build_space(problem)
    assert interchangeable_classes(space) == [["c0", "c1"]]


def test_unknown_objective_is_refused() -> None:
    with pytest.raises(ValueError, match="latency only"):
        solve_milp(two_loads(None), "SCIP", 1.0, "energy")  # type: ignore[arg-type]


def three_machines() -> Problem:
    """Four independent tasks (3, 3, 2, 2 cycles) on three identical cores sharing one memory.

    10 cycles of work on 3 cores need at least 4 cycles, and 3 | 3 | 2+2 takes 4: optimum 4.
    The cores are interchangeable, so symmetry breaking is in play.
    """
    cores = [{"id": f"c{i}", "memory": "l1"} for i in range(3)]
    tasks = [
        {"id": f"T{i}", "options": [{"core": f"c{k}", "duration_cycles": d} for k in range(3)]}
        for i, d in enumerate([3, 3, 2, 2])
    ]
    return Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "three_machines",
            "memories": [{"id": "l1", "capacity_bytes": None}],
            "cores": cores,
            "tasks": tasks,
        }
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_interchangeable_cores(backend: Backend) -> None:
    assert _solve(three_machines(), backend).objective_value == 4


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("problem", "latency"),
    [(two_loads(10), 30), (three_machines(), 4), (random_problem(1, n_layers=2, tiles=2), 219)],
)
def test_plain_formulation_same_optimum(backend: Backend, problem: Problem, latency: int) -> None:
    # no heuristic horizon (big-M from every duration in a row), no load bounds, no symmetry
    # breaking: only the formulation itself. random-1's 219 is CP-SAT's proven optimum.
    result = solve_milp(
        problem,
        backend,
        time_limit_s=None,
        node_limit=NODE_LIMIT,
        use_heuristic=False,
        strengthen=False,
    )
    assert result.status == "optimal"
    assert result.schedule is not None
    assert validate(problem, result.schedule) == []
    assert result.objective_value == latency
