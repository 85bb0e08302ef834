"""Hand-made problems where each heuristic's known weakness shows, with exact latencies.

Every latency below is worked out by hand in the comment above its assertion.
"""

from __future__ import annotations

from typing import Any

import pytest

from cpsched.check.infeasibility import find_infeasibility
from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.heuristics import HEURISTICS, best_heuristic_schedule, run_heuristic
from cpsched.heuristics.list_scheduler import list_schedule
from cpsched.heuristics.timeline import IntervalTimeline, MemoryProfile, common_window
from cpsched.model.problem import Problem


def problem(**fields: Any) -> Problem:
    """Two cores c0/c1 on private unbounded memories m0/m1 joined by a 1 B/cycle bus."""
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "case",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "m0", "capacity_bytes": None},
            {"id": "m1", "capacity_bytes": None},
        ],
        "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
        "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 1}],
        "routes": [
            {"src": "m0", "dst": "m1", "links": ["bus"]},
            {"src": "m1", "dst": "m0", "links": ["bus"]},
        ],
    }
    data.update(fields)
    return Problem.model_validate(data)


def both(duration: int) -> list[dict[str, Any]]:
    return [
        {"core": "c0", "duration_cycles": duration},
        {"core": "c1", "duration_cycles": duration},
    ]


def latencies(p: Problem) -> dict[str, float | None]:
    out = {}
    for name in HEURISTICS:
        result = run_heuristic(p, name)
        assert result.method == name
        if result.schedule is not None:
            assert validate(p, result.schedule) == []
            assert result.objective_value == metrics(p, result.schedule).latency_cycles
        out[name] = result.objective_value
    return out


# A (10 cycles, c0) writes a (5 bytes); B (10 cycles, c1) reads a; C (5 cycles, c1) is independent
# and comes last in every priority order. c1 idles during [0, 15) while a is computed and sent.
GAP = problem(
    tensors=[{"id": "a", "size_bytes": 5, "kind": "activation", "producer": "A"}],
    tasks=[
        {
            "id": "A",
            "layer": "LA",
            "outputs": ["a"],
            "options": [{"core": "c0", "duration_cycles": 10}],
        },
        {
            "id": "B",
            "layer": "LB",
            "inputs": ["a"],
            "options": [{"core": "c1", "duration_cycles": 10}],
        },
        {"id": "C", "layer": "LC", "options": [{"core": "c1", "duration_cycles": 5}]},
    ],
)


def test_no_backfilling_costs_latency_that_heft_recovers() -> None:
    # A [0,10) on c0; a over the bus [10,15); B [15,25) on c1.
    # Depth-first takes B (deeper layer) before C and cannot back-fill: C [25,30) -> 30.
    # HEFT takes C last too but inserts it into c1's idle gap: C [0,5) -> 25.
    # Breadth-first takes C (layer depth 0) before B (depth 1), so C [0,5) -> 25 by its order.
    # Layer-by-layer runs LA, LB, LC one after another: C starts when B ends -> 30.
    assert latencies(GAP) == {
        "list-depth-first": 30,
        "list-breadth-first": 25,
        "heft": 25,
        "layer-by-layer": 30,
    }
    assert best_heuristic_schedule(GAP) == run_heuristic(GAP, "heft").schedule


# Two layers of two 10-cycle tiles; tile t of L1 reads a_t (2 bytes: 2 cycles on the bus).
PIPE = problem(
    tensors=[
        {"id": "a0", "size_bytes": 2, "kind": "activation", "producer": "L0.t0"},
        {"id": "a1", "size_bytes": 2, "kind": "activation", "producer": "L0.t1"},
    ],
    tasks=[
        {"id": "L0.t0", "layer": "L0", "tile": 0, "outputs": ["a0"], "options": both(10)},
        {"id": "L0.t1", "layer": "L0", "tile": 1, "outputs": ["a1"], "options": both(10)},
        {"id": "L1.t0", "layer": "L1", "tile": 0, "inputs": ["a0"], "options": both(10)},
        {"id": "L1.t1", "layer": "L1", "tile": 1, "inputs": ["a1"], "options": both(10)},
    ],
)


def test_depth_first_pins_a_layer_greedily_on_its_first_tile() -> None:
    # Plain earliest-finish rule, depth-first: L0.t0 on c0 [0,10) (tie, first core); L1.t0 next
    # (deepest): c0 finishes it at 20, c1 only at 22 (2-cycle transfer), so layer L1 is pinned to
    # c0 as well. Everything runs on c0: L0.t1 [20,30), L1.t1 [30,40) -> 40.
    plain = list_schedule(PIPE, "depth-first", load_aware=False)
    assert plain.objective_value == 40
    # Counting the work still owed by pinned layers (the default): c0 owes L0.t1's 10 cycles,
    # so L1.t0 scores 20 + 10 on c0 against 22 on c1 and layer L1 goes to c1: L1.t0 [12,22);
    # L0.t1 [10,20) on c0; a1 sent [20,22); L1.t1 [22,32) -> 32.
    # Breadth-first: L0 on c0 [0,10),[10,20); L1.t0 then finishes at 30 on c0 but 22 on c1
    # (a0 sent [10,12)), so L1 goes to c1: [12,22); a1 sent [20,22); L1.t1 [22,32) -> 32.
    # Keeping a layer on one core costs both: HEFT (per tile) puts L0.t0 c0 [0,10),
    # L0.t1 c1 [0,10), L1.t0 c0 [10,20), L1.t1 c1 [10,20) -> 20. Layer-by-layer spreads each
    # layer over both cores the same way -> 20 (the optimum: 40 cycles of work on two cores).
    assert latencies(PIPE) == {
        "list-depth-first": 32,
        "list-breadth-first": 32,
        "heft": 20,
        "layer-by-layer": 20,
    }


def test_fixed_allocation_is_followed() -> None:
    # L0 on c0 and L1 on c1: L0 [0,10),[10,20); a0 [10,12), L1.t0 [12,22); a1 [20,22),
    # L1.t1 [22,32) -> 32.
    alloc = {"L0.t0": "c0", "L0.t1": "c0", "L1.t0": "c1", "L1.t1": "c1"}
    result = list_schedule(PIPE, "depth-first", allocation=alloc)  # type: ignore[arg-type]
    assert result.objective_value == 32
    assert result.schedule is not None
    assert {t.id: t.core for t in result.schedule.tasks} == alloc


# A is 1 cycle faster on c1, but its 20-byte output must reach B, which only runs on c0.
MYOPIC = problem(
    tensors=[{"id": "a", "size_bytes": 20, "kind": "activation", "producer": "A"}],
    tasks=[
        {
            "id": "A",
            "layer": "LA",
            "outputs": ["a"],
            "options": [
                {"core": "c0", "duration_cycles": 11},
                {"core": "c1", "duration_cycles": 10},
            ],
        },
        {
            "id": "B",
            "layer": "LB",
            "inputs": ["a"],
            "options": [{"core": "c0", "duration_cycles": 10}],
        },
    ],
)


def test_earliest_finish_allocation_is_myopic() -> None:
    # Every heuristic puts A on c1 (finishes at 10 < 11); a then takes 20 cycles over the bus
    # [10,30) and B runs [30,40) -> 40. A on c0 would give 11 + 10 = 21.
    assert set(latencies(MYOPIC).values()) == {40}


def test_transfers_share_a_link_one_at_a_time() -> None:
    # P (c0, 4 cycles) writes x and y (3 bytes each); Q and R on c1 read one each. Both transfers
    # need the bus, one after the other: x [4,7), y [7,10); Q [7,12), R [12,17) -> 17.
    p = problem(
        tensors=[
            {"id": "x", "size_bytes": 3, "kind": "activation", "producer": "P"},
            {"id": "y", "size_bytes": 3, "kind": "activation", "producer": "P"},
        ],
        tasks=[
            {"id": "P", "outputs": ["x", "y"], "options": [{"core": "c0", "duration_cycles": 4}]},
            {"id": "Q", "inputs": ["x"], "options": [{"core": "c1", "duration_cycles": 5}]},
            {"id": "R", "inputs": ["y"], "options": [{"core": "c1", "duration_cycles": 5}]},
        ],
    )
    result = run_heuristic(p, "heft")
    assert result.objective_value == 17
    assert result.schedule is not None
    assert sorted((t.tensor, t.start) for t in result.schedule.transfers) == [("x", 4), ("y", 7)]


def test_task_waits_until_memory_frees_and_layer_by_layer_cannot() -> None:
    # One core on a 10-byte memory. Layer L0: P writes p, S writes s (6 bytes each); layer L1:
    # Q reads p, T reads s (2 cycles each, no outputs). A 6-byte tensor is held from its
    # producer's start until its reader ends, so p and s can never be held together:
    # P [0,2), Q [2,4), S [4,6), T [6,8) -> 8 (breadth-first and HEFT try S second, find the
    # memory full, and let Q go first).
    # Layer-by-layer must finish L0 (P and S) before Q or T runs: 12 bytes > 10, it is stuck.
    def task(tid: str, layer: str, tile: int, **io: list[str]) -> dict[str, Any]:
        return {
            "id": tid,
            "layer": layer,
            "tile": tile,
            "options": [{"core": "c0", "duration_cycles": 2}],
            **io,
        }

    p = Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "tight",
            "memories": [{"id": "l1", "capacity_bytes": 10}],
            "cores": [{"id": "c0", "memory": "l1"}],
            "tensors": [
                {"id": "p", "size_bytes": 6, "kind": "activation", "producer": "P"},
                {"id": "s", "size_bytes": 6, "kind": "activation", "producer": "S"},
            ],
            "tasks": [
                task("P", "L0", 0, outputs=["p"]),
                task("S", "L0", 1, outputs=["s"]),
                task("Q", "L1", 0, inputs=["p"]),
                task("T", "L1", 1, inputs=["s"]),
            ],
        }
    )
    assert latencies(p) == {
        "list-depth-first": 8,
        "list-breadth-first": 8,
        "heft": 8,
        "layer-by-layer": None,
    }
    stuck = run_heuristic(p, "layer-by-layer")
    assert stuck.status == "unknown"
    assert stuck.message == (
        "stuck: memory l1 (10 bytes) cannot hold the new inputs and outputs of task S (6 bytes): "
        "6 bytes are held by tensors still waiting for readers (p)"
    )


def test_stores_go_to_dram_after_the_producer() -> None:
    # c0 on m0; y (8 bytes, store) must reach dram over the 2 B/cycle dram link: P [0,3),
    # transfer [3,7) -> latency 7.
    p = problem(
        links=[{"id": "dl", "bandwidth_bytes_per_cycle": 2}],
        routes=[{"src": "m0", "dst": "dram", "links": ["dl"]}],
        tensors=[
            {"id": "y", "size_bytes": 8, "kind": "activation", "producer": "P", "store": True}
        ],
        tasks=[{"id": "P", "outputs": ["y"], "options": [{"core": "c0", "duration_cycles": 3}]}],
    )
    for name in HEURISTICS:
        result = run_heuristic(p, name)
        assert result.objective_value == 7
        assert result.schedule is not None
        assert [(t.tensor, t.src, t.dst, t.start) for t in result.schedule.transfers] == [
            ("y", "m0", "dram", 3)
        ]


def test_barrier_holds() -> None:
    # Barrier: B (c1) waits for A (c0, 10 cycles) with no data: B [10,15) -> 15.
    p = problem(
        tasks=[
            {"id": "A", "options": [{"core": "c0", "duration_cycles": 10}]},
            {"id": "B", "options": [{"core": "c1", "duration_cycles": 5}]},
        ],
        barriers=[{"before": ["A"], "after": ["B"]}],
    )
    assert set(latencies(p).values()) == {15}


def test_group_shares_a_core() -> None:
    # A and B are grouped: both on one core, back to back -> 20 although two cores are idle.
    p = problem(
        tasks=[
            {"id": "A", "options": both(10)},
            {"id": "B", "options": both(10)},
        ],
        groups=[["A", "B"]],
    )
    assert set(latencies(p).values()) == {20}


def test_group_without_common_core_is_infeasible_with_reason() -> None:
    p = problem(
        tasks=[
            {"id": "A", "options": [{"core": "c0", "duration_cycles": 1}]},
            {"id": "B", "options": [{"core": "c1", "duration_cycles": 1}]},
        ],
        groups=[["A", "B"]],
    )
    for name in HEURISTICS:
        result = run_heuristic(p, name)
        assert result.status == "infeasible"
        assert result.schedule is None
        assert "no usable core in common" in result.infeasibility[0].reason
    assert best_heuristic_schedule(p) is None


def test_task_larger_than_memory_is_infeasible_with_demand_and_limit() -> None:
    p = Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "small",
            "memories": [{"id": "l1", "capacity_bytes": 10}],
            "cores": [{"id": "c0", "memory": "l1"}],
            "tensors": [{"id": "p", "size_bytes": 11, "kind": "activation", "producer": "P"}],
            "tasks": [
                {"id": "P", "outputs": ["p"], "options": [{"core": "c0", "duration_cycles": 1}]}
            ],
        }
    )
    result = run_heuristic(p, "heft")
    assert result.status == "infeasible"
    reason = result.infeasibility[0]
    assert (reason.demand, reason.limit, reason.unit) == (11, 10, "bytes")


def test_dependency_cycle_is_infeasible_with_the_cycle_named() -> None:
    p = problem(
        tasks=[
            {"id": "A", "after": ["B"], "options": both(1)},
            {"id": "B", "after": ["A"], "options": both(1)},
        ]
    )
    result = run_heuristic(p, "list-depth-first")
    assert result.status == "infeasible"
    assert "cycle" in result.message and "A" in result.message and "B" in result.message


def test_missing_route_between_producer_and_reader_is_reported() -> None:
    # A only runs on c0 and B only on c1, but no route leads from m0 to m1: the static checker
    # proves it, so every heuristic says infeasible with the checker's reason.
    p = problem(
        routes=[{"src": "m1", "dst": "m0", "links": ["bus"]}],
        tensors=[{"id": "a", "size_bytes": 1, "kind": "activation", "producer": "A"}],
        tasks=[
            {"id": "A", "outputs": ["a"], "options": [{"core": "c0", "duration_cycles": 1}]},
            {"id": "B", "inputs": ["a"], "options": [{"core": "c1", "duration_cycles": 1}]},
        ],
    )
    result = run_heuristic(p, "heft")
    assert result.status == "infeasible"
    assert result.schedule is None
    assert result.infeasibility == find_infeasibility(p)
    assert result.infeasibility[0].resource == "tensor a"


def test_heuristic_stuck_on_a_missing_route_says_unknown() -> None:
    # A may also run on c1, so a schedule exists (A, B on c1); HEFT puts A on c0 (ties go to the
    # earlier core) and then finds no route for B's input: it found none, which proves nothing.
    p = problem(
        routes=[{"src": "m1", "dst": "m0", "links": ["bus"]}],
        tensors=[{"id": "a", "size_bytes": 1, "kind": "activation", "producer": "A"}],
        tasks=[
            {"id": "A", "outputs": ["a"], "options": both(1)},
            {"id": "B", "inputs": ["a"], "options": [{"core": "c1", "duration_cycles": 1}]},
        ],
    )
    assert find_infeasibility(p) == []
    result = run_heuristic(p, "heft")
    assert result.status == "unknown"
    assert result.schedule is None
    assert result.message == (
        "stuck: task B on core c1 needs tensor a from memory m0, "
        "but there is no route from m0 to m1"
    )


def test_unknown_heuristic_name() -> None:
    with pytest.raises(KeyError, match="known: list-depth-first"):
        run_heuristic(GAP, "nope")


def test_interval_timeline_finds_gaps_and_merges() -> None:
    tl = IntervalTimeline()
    tl.add(0, 5)
    tl.add(10, 15)
    assert tl.earliest(0, 5) == 5  # [5,10) fits exactly
    assert tl.earliest(0, 6) == 15
    assert tl.earliest(3, 0) == 3  # an empty window never conflicts
    tl.add(5, 10)  # fills the gap: one interval [0,15)
    assert (tl.starts, tl.ends) == ([0], [15])
    other = IntervalTimeline()
    other.add(15, 20)
    assert common_window([tl, other], 0, 3) == 20


def test_memory_profile_fits_from_the_last_peak() -> None:
    prof = MemoryProfile(10)
    prof.add_from(0, 6)  # held from 0 "forever"
    assert prof.earliest_fit(0, 5) is None
    prof.add_from(4, -6)  # released at 4
    assert prof.earliest_fit(0, 5) == 4
    assert prof.earliest_fit(0, 4) == 0
    assert prof.held_forever() == 0


def test_an_input_listed_twice_is_moved_once() -> None:
    # B lists a twice: a moves once, [10,15); B [15,25) -> 25.
    p = problem(
        tensors=[{"id": "a", "size_bytes": 5, "kind": "activation", "producer": "A"}],
        tasks=[
            {"id": "A", "outputs": ["a"], "options": [{"core": "c0", "duration_cycles": 10}]},
            {"id": "B", "inputs": ["a", "a"], "options": [{"core": "c1", "duration_cycles": 10}]},
        ],
    )
    for name in HEURISTICS:
        result = run_heuristic(p, name)
        assert result.objective_value == 25
        assert result.schedule is not None
        assert len(result.schedule.transfers) == 1


def test_zero_durations_and_sizes() -> None:
    # Nothing takes time: latency 0, and the schedule is still valid.
    p = problem(
        tensors=[{"id": "a", "size_bytes": 0, "kind": "activation", "producer": "A"}],
        tasks=[
            {"id": "A", "outputs": ["a"], "options": [{"core": "c0", "duration_cycles": 0}]},
            {"id": "B", "inputs": ["a"], "options": [{"core": "c1", "duration_cycles": 0}]},
        ],
    )
    assert set(latencies(p).values()) == {0}


def test_stored_input_homed_in_a_local_memory_and_a_core_on_dram() -> None:
    # w (4 bytes) lies in bounded m0 from time 0 and must be stored: sent to dram over the
    # 2 B/cycle link at 0, [0,2). R on c0 reads w in place [0,3); D on cd (whose memory is dram)
    # reads the dram copy once it has arrived: [2,4) -> 4.
    p = problem(
        memories=[
            {"id": "dram", "capacity_bytes": None},
            {"id": "m0", "capacity_bytes": 4},
            {"id": "m1", "capacity_bytes": None},
        ],
        cores=[{"id": "c0", "memory": "m0"}, {"id": "cd", "memory": "dram"}],
        links=[{"id": "dl", "bandwidth_bytes_per_cycle": 2}],
        routes=[{"src": "m0", "dst": "dram", "links": ["dl"]}],
        tensors=[{"id": "w", "size_bytes": 4, "kind": "weight", "home": "m0", "store": True}],
        tasks=[
            {"id": "R", "inputs": ["w"], "options": [{"core": "c0", "duration_cycles": 3}]},
            {"id": "D", "inputs": ["w"], "options": [{"core": "cd", "duration_cycles": 2}]},
        ],
    )
    assert set(latencies(p).values()) == {4}


def test_a_layer_too_big_for_one_memory_is_split_over_cores() -> None:
    # Layers A and B of two 1-cycle tiles on two cores with 10-byte memories and no route
    # between them. The barrier makes A finish before B, so a0 and a1 (6 bytes each) are held
    # together: never in one memory. Pinning layer A to one core (Stream's rule) is stuck at
    # every fused-stack depth, so the list schedulers spread A's (and B's) tiles over both
    # cores: A0, A1 [0,1) side by side, B0, B1 [1,2) next to their inputs -> 2, as HEFT and
    # layer-by-layer find directly.
    def tile(tid: str, layer: str, t: int, **io: list[str]) -> dict[str, Any]:
        return {"id": tid, "layer": layer, "tile": t, "options": both(1), **io}

    p = Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "split",
            "memories": [{"id": "m0", "capacity_bytes": 10}, {"id": "m1", "capacity_bytes": 10}],
            "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
            "tensors": [
                {"id": "a0", "size_bytes": 6, "kind": "activation", "producer": "A0"},
                {"id": "a1", "size_bytes": 6, "kind": "activation", "producer": "A1"},
            ],
            "tasks": [
                tile("A0", "A", 0, outputs=["a0"]),
                tile("A1", "A", 1, outputs=["a1"]),
                tile("B0", "B", 0, inputs=["a0"]),
                tile("B1", "B", 1, inputs=["a1"]),
            ],
            "barriers": [{"before": ["A0", "A1"], "after": ["B0", "B1"]}],
        }
    )
    assert set(latencies(p).values()) == {2}
    for name in ("list-depth-first", "list-breadth-first"):
        result = run_heuristic(p, name)
        assert result.parameters["layers_split_over_cores"] == ["A", "B"]
        assert "layers A, B split over cores to fit memory" in result.message
        assert result.schedule is not None
        cores: dict[str, str] = {t.id: t.core for t in result.schedule.tasks}
        assert cores["A0"] != cores["A1"] and cores["B0"] == cores["A0"]
