"""The validator, one hand-made broken schedule per rule of docs/validity.md, each violation exact.

The base problem (worked out by hand):

    memories  dram (unbounded), l1a (1000 B, cores c0 and c2), l1b (1000 B, core c1)
    links     bus   10 B/cycle, latency 0, 1 pJ/B
              dlink  4 B/cycle, latency 2, 3 pJ/B
    routes    dram->l1a [dlink]; l1a->dram [dlink]; l1a->l1b [bus]; l1b->l1a [bus];
              dram->l1b [dlink, bus]; l1b->dram [bus, dlink]
    tensors   w weight 100 B in dram; a 200 B by P; b 50 B by Q (store); r 100 B by R
    tasks     P: w -> a   (c0: 10 cycles 5 pJ, c2: 10 cycles 5 pJ)
              Q: a -> b   (c1: 5 cycles 2 pJ, c0: 8 cycles 3 pJ)
              R: -> r, after P   (c2: 3 cycles 1.5 pJ)
              S: nothing  (c0: 4 cycles 4 pJ, c2: 4 cycles 2.5 pJ)

The valid base schedule:

    w  dram->l1a  [0, 27)    ceil(100/4) + 2
    S  c2         [0, 4)
    P  c0         [27, 37)
    R  c2         [37, 40)
    a  l1a->l1b   [37, 57)   ceil(200/10) + 0
    Q  c1         [57, 62)   (a arrives exactly when Q starts)
    b  l1b->dram  [62, 77)   ceil(50/4) + 0 + 2

Holds in l1a: w [0, 37) 100, a [27, 57) 200, r [37, 40) 100: 300 bytes on [27, 40),
with w released exactly when r is allocated (cycle 37).
"""

from __future__ import annotations

import copy
from typing import Any

from tiny_example import TINY_PROBLEM as BASE_PROBLEM
from tiny_example import TINY_SCHEDULE as BASE_SCHEDULE

from cpsched.check.validate import RULE_NAMES, Violation, validate
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule


def problem(**changes: Any) -> Problem:
    """The base problem with top-level fields replaced."""
    data = copy.deepcopy(BASE_PROBLEM)
    data.update(changes)
    return Problem.model_validate(data)


def schedule(**changes: Any) -> Schedule:
    """The base schedule with top-level fields replaced."""
    data = copy.deepcopy(BASE_SCHEDULE)
    data.update(changes)
    return Schedule.model_validate(data)


def with_task(**task: Any) -> list[dict[str, Any]]:
    """The base schedule's tasks with one task (by id) replaced."""
    return [task if t["id"] == task["id"] else t for t in BASE_SCHEDULE["tasks"]]


def extra_transfer(**transfer: Any) -> list[dict[str, Any]]:
    return [*BASE_SCHEDULE["transfers"], transfer]


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, [v.message for v in violations]
    return violations[0]


def test_base_schedule_is_valid() -> None:
    assert validate(problem(), schedule()) == []


def test_rule_names_are_those_of_the_spec() -> None:
    assert RULE_NAMES[1] == "assignment" and RULE_NAMES[9] == "memory-capacity"


# --- rule 0: the schedule names another problem -------------------------------------------


def test_schedule_for_another_problem() -> None:
    v = only(validate(problem(), schedule(problem="other")))
    assert (v.rule, v.rule_name) == (0, "problem-name")
    assert "'other'" in v.message and "'tiny'" in v.message


# --- rule 1: assignment ---------------------------------------------------------------------


def test_unknown_task() -> None:
    tasks = [*BASE_SCHEDULE["tasks"], {"id": "Z", "core": "c0", "start": 0}]
    v = only(validate(problem(), schedule(tasks=tasks)))
    assert (v.rule, v.rule_name, v.tasks) == (1, "assignment", ("Z",))
    assert "unknown task 'Z'" in v.message


def test_task_scheduled_twice() -> None:
    # The second S, on c0 at 100, is reported; the first placement (c2 at 0) is the one used.
    tasks = [*BASE_SCHEDULE["tasks"], {"id": "S", "core": "c0", "start": 100}]
    v = only(validate(problem(), schedule(tasks=tasks)))
    assert (v.rule, v.tasks, v.times) == (1, ("S",), (100,))
    assert "tasks[4]" in v.message and "tasks[3]" in v.message


def test_task_missing() -> None:
    tasks = [t for t in BASE_SCHEDULE["tasks"] if t["id"] != "S"]
    v = only(validate(problem(), schedule(tasks=tasks)))
    assert (v.rule, v.tasks) == (1, ("S",))
    assert "not scheduled" in v.message


def test_unknown_core() -> None:
    v = only(validate(problem(), schedule(tasks=with_task(id="S", core="c9", start=0))))
    assert (v.rule, v.tasks, v.cores) == (1, ("S",), ("c9",))
    assert "unknown core 'c9'" in v.message


def test_core_not_among_options() -> None:
    # R may run only on c2; on c1 (free at [37, 40)) it is unplaced, so nothing else is checked.
    v = only(validate(problem(), schedule(tasks=with_task(id="R", core="c1", start=37))))
    assert (v.rule, v.tasks, v.cores) == (1, ("R",), ("c1",))
    assert "not among its options ('c2')" in v.message


def test_negative_start() -> None:
    # S on c2 at -4 ends at 0: nothing overlaps it; only the start is wrong.
    v = only(validate(problem(), schedule(tasks=with_task(id="S", core="c2", start=-4))))
    assert (v.rule, v.tasks, v.times) == (1, ("S",), (-4,))


def test_group_split_over_cores() -> None:
    # Group [P, S]: P on c0, S on c2.
    v = only(validate(problem(groups=[["P", "S"]]), schedule()))
    assert (v.rule, v.tasks, v.cores) == (1, ("P", "S"), ("c0", "c2"))
    assert "group 0" in v.message


def test_group_on_one_core_is_valid() -> None:
    # S on c0 at 0: [0, 4), before P [27, 37) on c0.
    sched = schedule(tasks=with_task(id="S", core="c0", start=0))
    assert validate(problem(groups=[["P", "S"]]), sched) == []


# --- rule 2: core exclusivity ---------------------------------------------------------------


def test_tasks_overlap_on_a_core() -> None:
    # S on c0 at 35: [35, 39) overlaps P [27, 37) during [35, 37).
    v = only(validate(problem(), schedule(tasks=with_task(id="S", core="c0", start=35))))
    assert (v.rule, v.rule_name) == (2, "core-exclusivity")
    assert (v.tasks, v.cores, v.times) == (("P", "S"), ("c0",), (35, 37))


def test_every_overlapping_pair_is_reported() -> None:
    # Three tasks on c0: P [27, 37), S [30, 34), Q [33, 41) (Q reads a in l1a, available at 37:
    # one rule-4 violation too). Pairs: P-S [30, 34), P-Q [33, 37), S-Q [33, 34).
    tasks = with_task(id="S", core="c0", start=30)
    tasks = [{"id": "Q", "core": "c0", "start": 33} if t["id"] == "Q" else t for t in tasks]
    found = validate(problem(), schedule(tasks=tasks))
    overlaps = {(v.tasks, v.times) for v in found if v.rule == 2}
    assert overlaps == {(("P", "S"), (30, 34)), (("P", "Q"), (33, 37)), (("S", "Q"), (33, 34))}


# --- rule 4: inputs (rule 3 defines availability) --------------------------------------------


def test_input_arrives_after_the_task_starts() -> None:
    # Q at 56 on c1, but a reaches l1b at 57.
    v = only(validate(problem(), schedule(tasks=with_task(id="Q", core="c1", start=56))))
    assert (v.rule, v.rule_name) == (4, "inputs")
    assert (v.tasks, v.tensors, v.memories, v.cores, v.times) == (
        ("Q",), ("a",), ("l1b",), ("c1",), (57, 56),
    )  # fmt: skip


def test_input_never_available() -> None:
    # Without the transfer of a, Q on c1 (memory l1b) never finds a there.
    transfers = [t for t in BASE_SCHEDULE["transfers"] if t["tensor"] != "a"]
    v = only(validate(problem(), schedule(transfers=transfers)))
    assert (v.rule, v.tasks, v.tensors, v.memories, v.times) == (4, ("Q",), ("a",), ("l1b",), (57,))
    assert "never available" in v.message


def test_input_produced_by_a_core_of_the_same_memory() -> None:
    # Q on c0 (same memory l1a as P) at 40: a is available there from P's end, 37; no transfer
    # needed. b, now produced in l1a, is stored from l1a: [48, 48 + 13 + 2 = 63) on dlink.
    tasks = with_task(id="Q", core="c0", start=40)
    transfers = [
        {"tensor": "w", "src": "dram", "dst": "l1a", "start": 0},
        {"tensor": "b", "src": "l1a", "dst": "dram", "start": 48},
    ]
    assert validate(problem(), schedule(tasks=tasks, transfers=transfers)) == []


# --- rule 5: transfers ----------------------------------------------------------------------


def test_transfer_before_its_tensor_is_produced() -> None:
    # a leaves l1a at 30, but P writes it only at 37. It still arrives in l1b at 50 <= 57.
    transfers = [
        {**t, "start": 30} if t["tensor"] == "a" else t for t in BASE_SCHEDULE["transfers"]
    ]
    v = only(validate(problem(), schedule(transfers=transfers)))
    assert (v.rule, v.rule_name) == (5, "transfers")
    assert (v.tensors, v.memories, v.times) == (("a",), ("l1a", "l1b"), (37, 30))


def test_transfer_without_route() -> None:
    # Without the route dram->l1b, an extra copy of w into l1b at 100 has no route.
    routes = [r for r in BASE_PROBLEM["routes"] if (r["src"], r["dst"]) != ("dram", "l1b")]
    sched = schedule(transfers=extra_transfer(tensor="w", src="dram", dst="l1b", start=100))
    v = only(validate(problem(routes=routes), sched))
    assert (v.rule, v.tensors, v.memories) == (5, ("w",), ("dram", "l1b"))
    assert "no route from 'dram' to 'l1b'" in v.message


def test_transfer_from_a_copy_made_by_a_transfer_is_valid() -> None:
    # Format 2: b's copy in dram (stored by transfers[2], available at 77) may be read at 80:
    # dram->l1a on dlink [80, 80 + 13 + 2 = 95), after b's store [62, 77) there.
    sched = schedule(transfers=extra_transfer(tensor="b", src="dram", dst="l1a", start=80))
    assert validate(problem(), sched) == []


def test_transfer_from_a_copy_not_yet_available() -> None:
    # The same read of b from dram at 76: its copy there becomes available only at 77.
    # (dlink: b's store [62, 77) and this transfer [76, 91) overlap during [76, 77).)
    sched = schedule(transfers=extra_transfer(tensor="b", src="dram", dst="l1a", start=76))
    found = validate(problem(), sched)
    assert [(v.rule, v.tensors, v.memories, v.times) for v in found] == [
        (5, ("b",), ("dram", "l1a"), (77, 76)),
        (8, ("b", "b"), (), (76, 77)),
    ]


def test_transfer_of_unknown_tensor_and_memory() -> None:
    sched = schedule(transfers=extra_transfer(tensor="nope", src="dram", dst="l9", start=0))
    found = validate(problem(), sched)
    assert [(v.rule, v.tensors, v.memories) for v in found] == [
        (5, ("nope",), ()),
        (5, (), ("l9",)),
    ]


def test_transfer_with_negative_start() -> None:
    # w leaves dram at -1 (available there from 0): negative start and unavailable source.
    transfers = [
        {**t, "start": -1} if t["tensor"] == "w" else t for t in BASE_SCHEDULE["transfers"]
    ]
    found = validate(problem(), schedule(transfers=transfers))
    assert [(v.rule, v.times) for v in found] == [(5, (-1,)), (5, (0, -1))]


# --- rule 6: control dependencies and barriers ----------------------------------------------


def test_after_dependency_broken() -> None:
    # R must wait for P (ends 37) but starts at 36 on c2 (S is on c2 at [0, 4)).
    v = only(validate(problem(), schedule(tasks=with_task(id="R", core="c2", start=36))))
    assert (v.rule, v.rule_name) == (6, "dependencies")
    assert (v.tasks, v.times) == (("P", "R"), (37, 36))


def test_barrier_broken() -> None:
    # Barrier: S after P. S runs at [0, 4) but P ends at 37.
    v = only(validate(problem(barriers=[{"before": ["P"], "after": ["S"]}]), schedule()))
    assert (v.rule, v.tasks, v.times) == (6, ("P", "S"), (37, 0))
    assert "barrier 0" in v.message


def test_barrier_held() -> None:
    # Barrier: R after P and S. R starts at 37 = P's end (S ends at 4).
    assert validate(problem(barriers=[{"before": ["P", "S"], "after": ["R"]}]), schedule()) == []


# --- rule 7: stores -------------------------------------------------------------------------


def test_stored_tensor_never_reaches_dram() -> None:
    transfers = [t for t in BASE_SCHEDULE["transfers"] if t["tensor"] != "b"]
    v = only(validate(problem(), schedule(transfers=transfers)))
    assert (v.rule, v.rule_name, v.tensors, v.memories) == (7, "stores", ("b",), ("l1b", "dram"))


def test_stored_tensor_produced_in_dram() -> None:
    # A core working directly in dram: its stored output needs no transfer.
    data = copy.deepcopy(BASE_PROBLEM)
    data["cores"].append({"id": "cd", "memory": "dram"})
    data["tasks"][1]["options"].append({"core": "cd", "duration_cycles": 5, "energy_pj": 2.0})
    # Q on cd reads a in dram: a goes l1a->dram on dlink [37, 37 + 50 + 2 = 89); Q at [89, 94).
    tasks = with_task(id="Q", core="cd", start=89)
    transfers = [
        {"tensor": "w", "src": "dram", "dst": "l1a", "start": 0},
        {"tensor": "a", "src": "l1a", "dst": "dram", "start": 37},
    ]
    assert validate(Problem.model_validate(data), schedule(tasks=tasks, transfers=transfers)) == []


# --- rule 8: link exclusivity ---------------------------------------------------------------


def test_transfers_overlap_on_links() -> None:
    # An extra w dram->l1b at 50 lasts ceil(100/4) + 2 = 27 cycles, [50, 77), on dlink and bus.
    # On bus it meets a [37, 57) during [50, 57) and b [62, 77) during [62, 77); on dlink, b too.
    sched = schedule(transfers=extra_transfer(tensor="w", src="dram", dst="l1b", start=50))
    found = validate(problem(), sched)
    assert [(v.rule, v.rule_name, v.links, v.tensors, v.times) for v in found] == [
        (8, "links", ("bus",), ("a", "w"), (50, 57)),
        (8, "links", ("bus",), ("w", "b"), (62, 77)),
        (8, "links", ("dlink",), ("w", "b"), (62, 77)),
    ]


def test_exact_fraction_bandwidth() -> None:
    # 3 bytes at 0.1 B/cycle: exactly 30 cycles (a float division gives 30.000000000000004,
    # whose ceiling 31 would wrongly clash with the next transfer starting at 30).
    data = copy.deepcopy(BASE_PROBLEM)
    data["links"][1]["bandwidth_bytes_per_cycle"] = 0.1
    data["links"][1]["latency_cycles"] = 0
    data["tensors"][0]["size_bytes"] = 3
    # w dram->l1a [0, 30); P [30, 40); R [40, 43); a l1a->l1b [40, 60); Q [60, 65);
    # b l1b->dram on bus and dlink: [65, 65 + 500).
    sched = schedule(
        tasks=[
            {"id": "P", "core": "c0", "start": 30},
            {"id": "Q", "core": "c1", "start": 60},
            {"id": "R", "core": "c2", "start": 40},
            {"id": "S", "core": "c2", "start": 0},
        ],
        transfers=[
            {"tensor": "w", "src": "dram", "dst": "l1a", "start": 0},
            {"tensor": "a", "src": "l1a", "dst": "l1b", "start": 40},
            {"tensor": "b", "src": "l1b", "dst": "dram", "start": 65},
        ],
    )
    assert validate(Problem.model_validate(data), sched) == []
    early = sched.model_copy(update={"tasks": (sched.tasks[0].model_copy(update={"start": 29}),
                                               *sched.tasks[1:])})  # fmt: skip
    v = only(validate(Problem.model_validate(data), early))
    assert (v.rule, v.tasks, v.times) == (4, ("P",), (30, 29))


# --- rule 9: memory capacity and single copies -----------------------------------------------


def memories(l1a_bytes: int) -> list[dict[str, Any]]:
    return [
        {"id": "dram", "capacity_bytes": None},
        {"id": "l1a", "capacity_bytes": l1a_bytes},
        {"id": "l1b", "capacity_bytes": 1000},
    ]


def test_memory_over_capacity() -> None:
    # l1a holds w 100 + a 200 on [27, 37) and a 200 + r 100 on [37, 40): 300 > 250 on [27, 40).
    v = only(validate(problem(memories=memories(250)), schedule()))
    assert (v.rule, v.rule_name) == (9, "memory-capacity")
    assert (v.memories, v.times, v.tensors) == (("l1a",), (27, 40, 27), ("a", "w"))
    assert "300 bytes at cycle 27" in v.message and "250 bytes" in v.message


def test_memory_overflows_are_reported_per_interval() -> None:
    # Capacity 200 in l1a: 300 on [27, 40) (a, w then a, r); 200 on [40, 57) fits.
    # With S's output... none; so one interval. With l1b at 200: a [37, 62) 200 + b [57, 77) 50
    # gives 250 on [57, 62): a second violation, in l1b.
    mems = [
        {"id": "dram", "capacity_bytes": None},
        {"id": "l1a", "capacity_bytes": 200},
        {"id": "l1b", "capacity_bytes": 200},
    ]
    found = validate(problem(memories=mems), schedule())
    assert [(v.memories, v.times, v.tensors) for v in found] == [
        (("l1a",), (27, 40, 27), ("a", "w")),
        (("l1b",), (57, 62, 57), ("a", "b")),
    ]


def test_second_copy_in_one_memory_while_the_first_is_held() -> None:
    # a goes to l1b at 37 (held [37, 62): Q reads it [57, 62)) and again at 60, from P's copy
    # in l1a (available since 37): the new copy is allocated at 60, two copies on [60, 62).
    # The second transfer [60, 80) also meets b's store [62, 77) on bus.
    sched = schedule(transfers=extra_transfer(tensor="a", src="l1a", dst="l1b", start=60))
    found = validate(problem(), sched)
    assert [(v.rule, v.tensors, v.memories, v.links, v.times) for v in found] == [
        (8, ("a", "b"), (), ("bus",), (62, 77)),
        (9, ("a",), ("l1b",), (), (60, 62)),
    ]
    assert found[1].message == (
        "tensor 'a' has two copies held in memory 'l1b' during [60, 62): the copy from "
        "transfers[1] (held [37, 62)) and the copy from transfers[3] (held [60, 80)); "
        "task 'Q' reads the old copy until cycle 62; a memory holds one copy of a tensor at a time"
    )


def test_reload_after_release_is_valid() -> None:
    # Format 2: a back into l1b at 80 (its first copy there released at 62, when Q ends) is a
    # reload, not a second copy; it reads P's copy in l1a, held now until 100.
    sched = schedule(transfers=extra_transfer(tensor="a", src="l1a", dst="l1b", start=80))
    assert validate(problem(), sched) == []


def test_copy_back_into_dram_beside_its_home_copy() -> None:
    # w's home copy in dram is never released; bringing w back from l1a at 30 (dlink [30, 57))
    # makes a second copy there, held until it becomes available (57; nothing reads it).
    sched = schedule(transfers=extra_transfer(tensor="w", src="l1a", dst="dram", start=30))
    v = only(validate(problem(), sched))
    assert (v.rule, v.tensors, v.memories, v.times) == (9, ("w",), ("dram",), (30, 57))
    assert v.message == (
        "tensor 'w' has two copies held in memory 'dram' during [30, 57): the copy from its "
        "home (held from 0, never released) and the copy from transfers[3] (held [30, 57)); "
        "the copy in 'dram' of a stored or home tensor is never released; a memory holds one "
        "copy of a tensor at a time"
    )


def test_pile_up_on_one_core_lists_1000_pairs_and_counts_the_rest() -> None:
    # 50 tasks of 1 cycle, all at cycle 0 on c0: 50 * 49 / 2 = 1225 overlapping pairs;
    # 1000 are listed (first: t00 with t01, in start order), the other 225 counted in one line.
    data: dict[str, Any] = {
        "format": "cpsched-problem/1", "name": "pile",
        "memories": [{"id": "dram", "capacity_bytes": None}],
        "cores": [{"id": "c0", "memory": "dram"}],
        "tasks": [{"id": f"t{i:02}", "options": [{"core": "c0", "duration_cycles": 1}]}
                  for i in range(50)],
    }  # fmt: skip
    sched = Schedule.model_validate(
        {
            "problem": "pile",
            "tasks": [{"id": f"t{i:02}", "core": "c0", "start": 0} for i in range(50)],
        }
    )
    found = validate(Problem.model_validate(data), sched)
    assert all(v.rule == 2 for v in found) and len(found) == 1001
    assert (found[0].tasks, found[0].times) == (("t00", "t01"), (0, 1))
    assert found[-1].message == "and 225 more overlapping pairs of tasks on core 'c0' (not listed)"


def test_violation_reads_as_one_line() -> None:
    v = only(validate(problem(), schedule(tasks=with_task(id="R", core="c2", start=36))))
    assert str(v) == (
        "rule 6 (dependencies): task 'R' starts at cycle 36 but must wait for task 'P', "
        "which ends at cycle 37"
    )
