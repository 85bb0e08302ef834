"""Static bounds of the CP-SAT model (cpsched/cpsat/bounds.py): tight on hand-worked cases, and
never above what a valid schedule achieves (random problems, every heuristic and the optimum);
tile symmetry (cpsched/cpsat/tiles.py): which tiles it finds, and that it keeps the optimum."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples
from test_cpsat_bruteforce import problems

from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.bounds import _least_sums, first_start_positions, static_bounds
from cpsched.cpsat.space import build_space
from cpsched.cpsat.strengthen import canonical_first_start
from cpsched.cpsat.tiles import canonical_tiles, tile_runs
from cpsched.heuristics import run_heuristics
from cpsched.model.problem import CoreId, Problem
from cpsched.model.schedule import Schedule

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
    # the core idle bound sees the turns on the bus: first starts 1 and 2, (1 + 2 + 40) / 2
    # rounds up to 22, the optimum
    assert b.core_idle_cycles == 22
    r = solve(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 22.0, 22.0)


def test_least_sums_of_first_starts() -> None:
    # attention head T=8 on quad_bus: a core starts with Q/K/V at 428 after 428 cycles of DRAM
    # transfers, or with KT at 1006 after none. Four cores: 428, 856, then KT twice: 3296
    assert _least_sums([(428, 428), (1006, 0)], 4) == [428, 1284, 2290, 3296]


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
    max_examples=examples(40),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problems())
def test_static_bounds_hold_in_valid_schedules(data: dict[str, Any]) -> None:
    p = Problem.model_validate(data)
    for result in run_heuristics(p).values():
        if result.schedule is not None:
            _holds(p, result.schedule)
    off = solve(p, "latency", PARAMS.model_copy(update={"static_bounds": False}))
    on = solve(p, "latency", PARAMS)
    assert (on.status, on.objective_value) == (off.status, off.objective_value)
    if off.schedule is not None:
        _holds(p, off.schedule)


# --- tile symmetry (cpsched/cpsat/tiles.py) ---


def layered(
    durations: list[int], n_tiles: int, size_bytes: int, shared_read: bool, private: bool
) -> Problem:
    """Layers L0, L1, ... of `n_tiles` identical tiles on two cores (private memories, or one
    shared): L0 tile i reads x_i and w; layer j tile i reads layer j-1's tile i and, with
    `shared_read`, every other tile also reads tile 0 of the layer before (so tile 0 differs)."""
    tensors: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    tensors.append({"id": "w", "size_bytes": size_bytes, "kind": "weight", "home": "dram"})
    for i in range(n_tiles):
        tensors.append({"id": f"x{i}", "size_bytes": size_bytes, "kind": "input", "home": "dram"})
    last = len(durations) - 1
    for j, d in enumerate(durations):
        for i in range(n_tiles):
            out = f"L{j}.t{i}.o"
            tensors.append(
                {
                    "id": out,
                    "size_bytes": size_bytes,
                    "kind": "activation",
                    "producer": f"L{j}.t{i}",
                    "store": j == last,
                }
            )
            if j == 0:
                inputs = [f"x{i}", "w"]
            else:
                extra = [f"L{j - 1}.t0.o"] if shared_read and i != 0 else []
                inputs = [f"L{j - 1}.t{i}.o", *extra]
            tasks.append(
                on_both(f"L{j}.t{i}", d, layer=f"L{j}", tile=i, inputs=inputs, outputs=[out])
            )
    p = two_private_cores(tasks, tensors)
    if private:
        return p
    data = p.model_dump(mode="json")
    data["cores"] = [{"id": "c0", "memory": "l0"}, {"id": "c1", "memory": "l0"}]
    return Problem.model_validate(data)


def test_identical_tiles_form_one_run_and_an_odd_tile_breaks_it() -> None:
    # three tiles that read their own input and one shared weight: any renumbering is a symmetry
    p = layered([5, 7], 3, 16, shared_read=False, private=True)
    runs = tile_runs(build_space(p))
    assert [(r.tiles, r.leader) for r in runs] == [((0, 1, 2), ("L0.t0", "L0.t1", "L0.t2"))]
    # tiles 1 and 2 of the second layer also read L0.t0.o: tile 0 is special, 1 and 2 are not
    p = layered([5, 7], 3, 16, shared_read=True, private=True)
    assert [r.tiles for r in tile_runs(build_space(p))] == [(1, 2)]
    data = p.model_dump(mode="json")
    for task in data["tasks"]:
        if task["id"] == "L1.t1":
            task["options"][0]["duration_cycles"] = 6  # tile 1 now differs from tile 2
    assert tile_runs(build_space(Problem.model_validate(data))) == []


def test_canonical_tiles_orders_a_heuristic_schedule() -> None:
    p = layered([5, 7], 3, 16, shared_read=False, private=True)
    space = build_space(p)
    runs = tile_runs(space)
    for result in run_heuristics(p).values():
        assert result.schedule is not None
        renamed = canonical_tiles(space, runs, result.schedule)
        assert validate(p, renamed) == []
        start = {st.id: st.start for st in renamed.tasks}
        assert [start[t] for t in runs[0].leader] == sorted(start[t] for t in runs[0].leader)


@settings(
    max_examples=examples(25),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=3),
    st.integers(2, 3),
    st.sampled_from([8, 40, 120]),
    st.booleans(),
    st.booleans(),
)
def test_tile_symmetry_keeps_the_optimum(
    durations: list[int], n_tiles: int, size_bytes: int, shared_read: bool, private: bool
) -> None:
    p = layered(durations, n_tiles, size_bytes, shared_read, private)
    on = solve(p, "latency", PARAMS)
    off = solve(p, "latency", PARAMS.model_copy(update={"tile_symmetry": False}))
    assert on.status == off.status == "optimal"
    assert on.objective_value == off.objective_value
    # tile 0 differs only when a second layer reads it from every tile; a run needs two tiles
    runs = [list(range(n_tiles))]
    if shared_read and len(durations) > 1:
        runs = [list(range(1, n_tiles))] if n_tiles > 2 else []
    assert on.parameters["symmetric_tile_runs"] == runs
    memory_on = solve(p, "memory", PARAMS)
    memory_off = solve(p, "memory", PARAMS.model_copy(update={"tile_symmetry": False}))
    assert memory_on.objective_value == memory_off.objective_value


# --- cores ordered by first start (SolverParams.first_start_order) ---


def test_first_start_positions_count_turns_on_the_bus() -> None:
    # two private cores; each task reads its own 8-byte input (1 cycle on the one bus): the first
    # core starts at 1 at the earliest, the second at 2
    tensors = [{"id": f"x{i}", "size_bytes": 8, "kind": "input", "home": "dram"} for i in range(4)]
    p = two_private_cores([on_both(f"t{i}", 10, inputs=[f"x{i}"]) for i in range(4)], tensors)
    space = build_space(p)
    b = static_bounds(space)
    assert b is not None
    assert first_start_positions(space, b.head) == [1, 2]
    # a heuristic schedule relabelled by first start obeys the order and stays valid
    for result in run_heuristics(p).values():
        assert result.schedule is not None
        c0, c1 = CoreId("c0"), CoreId("c1")
        relabelled = canonical_first_start(space, [[c0, c1]], result.schedule)
        assert validate(p, relabelled) == []
        first = {
            k: min(st.start for st in relabelled.tasks if st.core == k)
            for k in {st.core for st in relabelled.tasks}
        }
        assert c0 in first and first[c0] <= first.get(c1, first[c0])
    on = solve(p, "latency", PARAMS.model_copy(update={"first_start_order": True}))
    assert (on.status, on.objective_value) == ("optimal", 22.0)


@settings(
    max_examples=examples(20),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=3),
    st.integers(2, 3),
    st.sampled_from([8, 40, 120]),
    st.booleans(),
)
def test_first_start_order_keeps_the_optimum(
    durations: list[int], n_tiles: int, size_bytes: int, shared_read: bool
) -> None:
    p = layered(durations, n_tiles, size_bytes, shared_read, private=True)
    on = solve(p, "latency", PARAMS.model_copy(update={"first_start_order": True}))
    off = solve(p, "latency", PARAMS)
    assert on.status == off.status == "optimal"
    assert on.objective_value == off.objective_value
    assert on.parameters["symmetric_core_classes"] == [["c0", "c1"]]


def _root_bound(problem: Problem, objective: str, redundant: bool) -> float:
    """CP-SAT's bound on `objective` after presolve and root propagation (no conflict allowed)."""
    from ortools.sat.python import cp_model

    from cpsched.cpsat.model import build_model
    from cpsched.model.objective import as_objective

    space = build_space(problem)
    built = build_model(
        space, as_objective(objective), space.safe_horizon_cycles(), redundant=redundant
    )
    built.model.minimize(built.stages[0].expr)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_number_of_conflicts = 0
    solver.parameters.catch_sigint_signal = False  # CP-SAT's own handler outlives the solve
    solver.solve(built.model)
    return float(solver.best_objective_bound)


def test_peak_floors_put_the_root_bound_at_the_largest_task_need() -> None:
    # Q0 and Q1 each read two 100-byte inputs and write a 100-byte activation: 300 bytes held
    # while each runs, wherever it runs, so every schedule's largest peak is at least 300 (and
    # 300 is reached: one task per core). The cumulative alone lets a fractional
    # placement hold less, so without the floors the root bound is lower.
    p = two_private_cores(
        [on_both(f"Q{i}", 10, inputs=[f"a{i}", f"b{i}"], outputs=[f"q{i}"]) for i in range(2)],
        [
            *(
                {"id": f"{x}{i}", "size_bytes": 100, "kind": "input", "home": "dram"}
                for x in "ab"
                for i in range(2)
            ),
            *(
                {
                    "id": f"q{i}",
                    "size_bytes": 100,
                    "kind": "activation",
                    "producer": f"Q{i}",
                    "store": True,
                }
                for i in range(2)
            ),
        ],
    )
    assert _root_bound(p, "memory", redundant=True) >= 300
    assert _root_bound(p, "activation-memory", redundant=True) >= 100
    assert _root_bound(p, "memory", redundant=False) < 300
    r = solve(p, "memory", PARAMS)
    assert r.status == "optimal" and r.objective_value == 300
