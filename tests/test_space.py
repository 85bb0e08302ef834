"""The search space every exact solver shares (cpsched.model.space), on hand-worked problems."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples

from cpsched.check.validate import validate
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.io import load_problem
from cpsched.model.problem import DRAM, CoreId, MemoryId, Problem, TaskId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer
from cpsched.model.space import (
    in_first_use_order,
    in_space,
    interchangeable_classes,
    search_space,
    swap_of,
)

ROOT = Path(__file__).resolve().parents[1]

A, B, C = TaskId("A"), TaskId("B"), TaskId("C")
X, W = TensorId("x"), TensorId("w")
L1A, L1B = MemoryId("l1a"), MemoryId("l1b")
C0, C1 = CoreId("c0"), CoreId("c1")


def three_machines() -> Problem:
    """Four independent tasks (3, 3, 2, 2 cycles) on three identical cores sharing one memory."""
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


def two_memories(**fields: Any) -> Problem:
    """Core c0 on l1a, c1 on l1b; dram reaches both over a 1 B/cycle bus, l1a reaches l1b, but
    l1b has no route back to l1a. A (on c0 or c1) writes x (4 bytes); B (c0 or c1) reads x and
    the 2-byte weight w from dram; C (c1 only) reads x; A and B are grouped unless told not."""
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "two_memories",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l1a", "capacity_bytes": 64},
            {"id": "l1b", "capacity_bytes": None},
        ],
        "cores": [{"id": "c0", "memory": "l1a"}, {"id": "c1", "memory": "l1b"}],
        "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 1, "energy_pj_per_byte": 0.5}],
        "routes": [
            {"src": "dram", "dst": "l1a", "links": ["bus"]},
            {"src": "dram", "dst": "l1b", "links": ["bus"]},
            {"src": "l1a", "dst": "l1b", "links": ["bus"]},
        ],
        "tensors": [
            {"id": "x", "size_bytes": 4, "kind": "activation", "producer": "A"},
            {"id": "w", "size_bytes": 2, "kind": "weight", "home": "dram"},
        ],
        "tasks": [
            {
                "id": "A",
                "outputs": ["x"],
                "options": [
                    {"core": "c0", "duration_cycles": 5},
                    {"core": "c1", "duration_cycles": 7},
                ],
            },
            {
                "id": "B",
                "inputs": ["x", "w"],
                "options": [
                    {"core": "c1", "duration_cycles": 3},
                    {"core": "c0", "duration_cycles": 2},
                ],
            },
            {"id": "C", "inputs": ["x"], "options": [{"core": "c1", "duration_cycles": 1}]},
        ],
        "groups": [["A", "B"]],
    }
    data.update(fields)
    return Problem.model_validate(data)


def test_space_of_a_hand_worked_problem() -> None:
    p = two_memories()
    space = search_space(p)
    # the group A, B keeps both cores (both have both), listed in core order
    assert space.cores == {"A": ("c0", "c1"), "B": ("c0", "c1"), "C": ("c1",)}
    assert space.sources == {"x": ("l1a", "l1b"), "w": ("dram",)}
    # x is read where B or C may run; w where B may run
    assert space.dests == {"x": ("l1a", "l1b"), "w": ("l1a", "l1b")}
    # x into l1b from l1a only (the same memory is no transfer); nothing brings x back to l1a
    assert [(o.src, o.duration_cycles, o.energy_pj) for o in space.transfers[(X, L1B)]] == [
        ("l1a", 4, 2.0)
    ]
    assert (X, L1A) not in space.transfers
    assert space.unroutable == (("x", "l1b", "l1a"),)
    assert [o.src for o in space.transfers[(W, L1A)]] == ["dram"]
    assert space.bounded == ("l1a",)
    # longest durations 7 + 3 + 1, transfers 4 (x) + 2 + 2 (w into each memory)
    assert space.safe_horizon_cycles() == 19
    assert space.min_duration(A) == 5
    assert space.cores_in(A, L1B) == ("c1",)
    assert space.cores_in(C, L1A) == ()
    assert space.readers_in(X, L1B) == (("B", "c1"), ("C", "c1"))
    assert space.readers_in(X, L1A) == (("B", "c0"),)
    assert space.readers_in(W, DRAM) == ()


def test_groups_and_pins_narrow_the_cores() -> None:
    p = two_memories(groups=[["A", "C"]])
    assert search_space(p).cores == {"A": ("c1",), "B": ("c0", "c1"), "C": ("c1",)}
    pinned = search_space(p, {B: C0})
    assert pinned.cores == {"A": ("c1",), "B": ("c0",), "C": ("c1",)}
    assert pinned.dests[X] == ("l1a", "l1b")
    assert search_space(p).cores[B] == ("c0", "c1")  # a pinned space is not the cached one


def test_space_is_cached_on_the_problem_and_rebuilt_for_a_copy() -> None:
    p = two_memories()
    space = search_space(p)
    assert search_space(p) is space
    assert search_space(p, {A: C0}) is not space
    renamed = p.model_copy(update={"name": "renamed"})
    assert search_space(renamed).problem is renamed  # the copy's own space, with its own name
    slower = p.model_copy(
        update={"links": (p.links[0].model_copy(update={"bandwidth_bytes_per_cycle": 0.5}),)}
    )
    assert search_space(slower).transfers[(X, L1B)][0].duration_cycles == 8
    assert search_space(p) is space


def test_cached_space_stays_out_of_the_problem_data() -> None:
    p = two_memories()
    before = p.model_dump_json()
    search_space(p)
    assert p.model_dump_json() == before
    other = two_memories()
    search_space(other)
    assert p == other  # spaces compare by identity, so this compares the problems' fields only
    again = pickle.loads(pickle.dumps(p))
    assert again == p and search_space(again).cores == search_space(p).cores


def test_in_space_keeps_the_first_needed_transfer_from_the_source() -> None:
    p = two_memories(groups=[])
    schedule = Schedule(
        problem=p.name,
        tasks=(
            ScheduledTask(id="A", core="c0", start=0),
            ScheduledTask(id="B", core="c0", start=5),
            ScheduledTask(id="C", core="c1", start=10),
        ),
        transfers=(
            ScheduledTransfer(tensor="w", src="dram", dst="l1a", start=0),
            ScheduledTransfer(tensor="w", src="dram", dst="l1a", start=2),  # a second one
            ScheduledTransfer(tensor="w", src="dram", dst="l1b", start=2),  # nobody reads it there
            ScheduledTransfer(tensor="x", src="l1a", dst="l1b", start=5),
        ),
    )
    cut = in_space(search_space(p), schedule)
    assert [(x.tensor, x.dst, x.start) for x in cut.transfers] == [
        ("w", "l1a", 0),
        ("x", "l1b", 5),
    ]
    assert cut.tasks == schedule.tasks


def test_interchangeable_classes_read_from_the_problem() -> None:
    # three identical cores on one memory; two cores with private memories of one capacity
    # behind links of the same parameters (the bundled example)
    assert interchangeable_classes(search_space(three_machines())) == [["c0", "c1", "c2"]]
    private = load_problem(ROOT / "models" / "problems" / "two_cores_private.yaml")
    space = search_space(private)
    assert interchangeable_classes(space) == [["c0", "c1"]]
    swap = swap_of(space, C0, C1)
    assert swap is not None and swap.memories == {"l1a": "l1b", "l1b": "l1a"}
    # options that differ by core, or a memory only one side can reach, break the symmetry
    assert interchangeable_classes(search_space(two_memories())) == []


def test_start_schedule_is_relabelled_into_first_use_order() -> None:
    # cores first used (in task order) c2, c0, c1; the order asks c0, c1, c2: swapping c2 and c0
    # gives c0, c2, c1, then swapping c2 and c1 gives c0, c1, c2
    problem = three_machines()
    space = search_space(problem)
    start = Schedule(
        problem=problem.name,
        tasks=(
            ScheduledTask(id="T0", core="c2", start=0),
            ScheduledTask(id="T1", core="c0", start=0),
            ScheduledTask(id="T2", core="c1", start=0),
            ScheduledTask(id="T3", core="c1", start=2),
        ),
    )
    ordered = in_first_use_order(space, interchangeable_classes(space), start)
    assert [st.core for st in ordered.tasks] == ["c0", "c1", "c2", "c2"]
    assert validate(problem, ordered) == []


@settings(max_examples=examples(40), deadline=None, derandomize=True)
@given(st.integers(0, 10_000), st.integers(1, 3), st.booleans())
def test_every_transfer_option_is_routed_from_a_source_to_a_reader(
    seed: int, n_cores: int, shared: bool
) -> None:
    p = random_problem(seed, n_cores=n_cores, shared_memory=shared, group_layers=0.5)
    space = search_space(p)
    for (tensor, m), options in space.transfers.items():
        readers = {p.memory_of(k) for _, k in space.readers_in(tensor, m)}
        assert m in readers or (m == "dram" and p.tensor_by_id[tensor].store)
        for o in options:
            assert o.src in space.sources[tensor] and o.src != m
            assert p.route_by_pair[(o.src, m)].links == o.links
    for _tensor, s, m in space.unroutable:
        assert (s, m) not in p.route_by_pair and s != m
