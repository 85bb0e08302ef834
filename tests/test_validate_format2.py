"""Format 2 (docs/validity.md, docs/metrics.md): hand-made schedules for every new rule, valid
staging, multicast and spill-and-reload schedules with their metrics worked out by hand, and
every format 1 test case read as format 1 with the verdict and metrics it had.

The hardware of every hand-made case (worked out by hand):

    memories  dram (unbounded); l2 1000 B (backing dram); l1a, l1b 300 B each (backing l2)
    cores     c0 on l1a, c1 on l1b
    links     dbus   8 B/cycle, latency 2, 4 pJ/B, bandwidth-shared, no multicast
              bus   16 B/cycle, latency 1, 1 pJ/B, bandwidth-shared, multicast
              xlink 16 B/cycle, latency 0, 0.5 pJ/B, exclusive (a single-channel DMA)
    routes    dram<->l2 [dbus]; l2<->l1a, l2<->l1b [bus]; l1a<->l1b [xlink];
              dram->l1a, dram->l1b [dbus, bus]; l1a->dram, l1b->dram [bus, dbus]

so a transfer dram->l2 of n bytes takes ceil(n/8) + 2 cycles, l2->l1 ceil(n/16) + 1,
dram->l1 (both links, the least bandwidth 8) ceil(n/8) + 3.
"""

from __future__ import annotations

import copy
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples
from test_validate_edges import random_case

from cpsched.check.metrics import metrics
from cpsched.check.validate import Violation, validate
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule

HARDWARE: dict[str, Any] = {
    "format": "cpsched-problem/2",
    "memories": [
        {"id": "dram", "capacity_bytes": None},
        {"id": "l2", "capacity_bytes": 1000, "backing": "dram"},
        {"id": "l1a", "capacity_bytes": 300, "backing": "l2"},
        {"id": "l1b", "capacity_bytes": 300, "backing": "l2"},
    ],
    "cores": [{"id": "c0", "memory": "l1a"}, {"id": "c1", "memory": "l1b"}],
    "links": [
        {"id": "dbus", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 2,
         "energy_pj_per_byte": 4.0, "sharing": "bandwidth", "multicast": False},
        {"id": "bus", "bandwidth_bytes_per_cycle": 16, "latency_cycles": 1,
         "energy_pj_per_byte": 1.0, "sharing": "bandwidth", "multicast": True},
        {"id": "xlink", "bandwidth_bytes_per_cycle": 16, "latency_cycles": 0,
         "energy_pj_per_byte": 0.5, "sharing": "exclusive"},
    ],
    "routes": [
        {"src": "dram", "dst": "l2", "links": ["dbus"]},
        {"src": "l2", "dst": "dram", "links": ["dbus"]},
        {"src": "l2", "dst": "l1a", "links": ["bus"]},
        {"src": "l2", "dst": "l1b", "links": ["bus"]},
        {"src": "l1a", "dst": "l2", "links": ["bus"]},
        {"src": "l1b", "dst": "l2", "links": ["bus"]},
        {"src": "l1a", "dst": "l1b", "links": ["xlink"]},
        {"src": "l1b", "dst": "l1a", "links": ["xlink"]},
        {"src": "dram", "dst": "l1a", "links": ["dbus", "bus"]},
        {"src": "dram", "dst": "l1b", "links": ["dbus", "bus"]},
        {"src": "l1a", "dst": "dram", "links": ["bus", "dbus"]},
        {"src": "l1b", "dst": "dram", "links": ["bus", "dbus"]},
    ],
}  # fmt: skip


def task(id: str, core: str, inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    """A task of 10 cycles and 5 pJ on one core."""
    return {"id": id, "inputs": inputs, "outputs": outputs,
            "options": [{"core": core, "duration_cycles": 10, "energy_pj": 5.0}]}  # fmt: skip


def make_problem(name: str, tensors: list[dict[str, Any]], tasks: list[dict[str, Any]],
                 **changes: Any) -> Problem:  # fmt: skip
    data = copy.deepcopy(HARDWARE) | {"name": name, "tensors": tensors, "tasks": tasks}
    data.update(changes)
    return Problem.model_validate(data)


def make_schedule(name: str, tasks: list[tuple[str, str, int]], transfers: list[dict[str, Any]]
                  ) -> Schedule:  # fmt: skip
    return Schedule.model_validate({
        "problem": name,
        "tasks": [{"id": t, "core": c, "start": s} for t, c, s in tasks],
        "transfers": transfers,
    })  # fmt: skip


def move(tensor: str, src: str, dst: str | list[str], start: int, rate: float | None = None
         ) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"tensor": tensor, "src": src, "dst": dst, "start": start}
    if rate is not None:
        out["rate_bytes_per_cycle"] = rate
    return out


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, [v.message for v in violations]
    return violations[0]


# --- staging: DRAM -> L2 -> L1 as two transfers ----------------------------------------------
#
#   w 160 B weight in dram; a 128 B activation by P, stored
#   transfers[0]  w dram->l2   [0, 22)    dbus at 8: ceil(160/8) + 2
#   transfers[1]  w l2->l1a    [22, 33)   bus at 16: ceil(160/16) + 1 (reads the copy of [0])
#   P             c0           [33, 43)
#   transfers[2]  a l1a->dram  [43, 62)   bus + dbus at 8: ceil(128/8) + 1 + 2


def staging() -> tuple[Problem, Schedule]:
    tensors = [
        {"id": "w", "size_bytes": 160, "kind": "weight", "home": "dram"},
        {"id": "a", "size_bytes": 128, "kind": "activation", "producer": "P", "store": True},
    ]
    problem = make_problem("staging", tensors, [task("P", "c0", ["w"], ["a"])])
    schedule = make_schedule(
        "staging",
        [("P", "c0", 33)],
        [move("w", "dram", "l2", 0), move("w", "l2", "l1a", 22), move("a", "l1a", "dram", 43)],
    )
    return problem, schedule


def test_staging_through_l2_is_valid_with_its_metrics() -> None:
    problem, schedule = staging()
    assert validate(problem, schedule) == []
    m = metrics(problem, schedule)
    assert m.latency_cycles == 62
    # compute: P 5; transfers: w 160 * 4 (dbus) + w 160 * 1 (bus) + a 128 * (1 + 4) = 1440
    assert (m.energy_compute_pj, m.energy_transfer_pj) == (5.0, 1440.0)
    # l2 holds w [0, 33) (transfers[1] reads it until 33): 160 at 0.
    # l1a holds w [22, 43) (P reads it) and a [33, 62) (transfers[2] reads it): 288 at 33.
    l2, l1a, l1b = (m.peak_memory[k] for k in ("l2", "l1a", "l1b"))  # type: ignore[index]
    assert (l2.peak_bytes, l2.at_cycle) == (160, 0)
    assert (l1a.peak_bytes, l1a.at_cycle) == (288, 33)
    assert l1a.by_kind == {"activation": 128, "weight": 160, "input": 0}
    assert l1b.peak_bytes == 0
    assert m.link_traffic_bytes == {"dbus": 160 + 128, "bus": 160 + 128, "xlink": 0}
    assert (m.dram_in_bytes, m.dram_out_bytes) == (128, 160)
    assert (m.spilled_bytes, m.reloaded_bytes) == (0, 0)
    # utilization: carried bytes / (bandwidth x latency)
    assert m.link_utilization == {"dbus": 288 / (8 * 62), "bus": 288 / (16 * 62), "xlink": 0.0}


def test_transfer_from_a_memory_with_no_copy_yet() -> None:
    # w leaves l2 at 20, but its copy there becomes available only at 22 (transfers[0]).
    problem, schedule = staging()
    transfers = [schedule.transfers[0], schedule.transfers[1].model_copy(update={"start": 20}),
                 schedule.transfers[2]]  # fmt: skip
    v = only(validate(problem, schedule.model_copy(update={"transfers": tuple(transfers)})))
    assert (v.rule, v.rule_name, v.tensors, v.memories, v.times) == (
        5, "transfers", ("w",), ("l2", "l1a"), (22, 20),
    )  # fmt: skip
    assert v.message == (
        "transfers[1] ('w' 'l2'->'l1a' at cycle 20): tensor 'w' is available in 'l2' only "
        "from cycle 22"
    )


def test_transfer_from_a_memory_that_never_holds_the_tensor() -> None:
    # An extra w l1b->l1a at 0 on xlink: l1b never holds w. (Its copy in l1a, [0, 10), is not
    # the one P reads: P reads the copy that became available last before 33, transfers[1]'s.)
    problem, schedule = staging()
    extra = Schedule.model_validate(
        schedule.model_dump() | {"transfers": [*schedule.model_dump()["transfers"],
                                               move("w", "l1b", "l1a", 0)]}
    )  # fmt: skip
    v = only(validate(problem, extra))
    assert (v.rule, v.tensors, v.memories, v.times) == (5, ("w",), ("l1b", "l1a"), (0,))
    assert "has no copy in 'l1b' to read (never available there)" in v.message


# --- multicast -------------------------------------------------------------------------------
#
#   w 160 B weight in dram, read by P (c0, l1a) and Q (c1, l1b); a 128 B by P, b 64 B by Q
#   transfers[0]  w dram->l2          [0, 22)   dbus at 8
#   transfers[1]  w l2->[l1a, l1b]    [22, 33)  bus at 16, once: ceil(160/16) + max(1, 1)
#   P c0, Q c1    [33, 43)


def multicast_problem() -> Problem:
    tensors = [
        {"id": "w", "size_bytes": 160, "kind": "weight", "home": "dram"},
        {"id": "a", "size_bytes": 128, "kind": "activation", "producer": "P"},
        {"id": "b", "size_bytes": 64, "kind": "activation", "producer": "Q"},
    ]
    tasks = [task("P", "c0", ["w"], ["a"]), task("Q", "c1", ["w"], ["b"])]
    return make_problem("multicast", tensors, tasks)


def multicast_schedule(*transfers: dict[str, Any], start: int = 33) -> Schedule:
    return make_schedule("multicast", [("P", "c0", start), ("Q", "c1", start)], list(transfers))


def test_multicast_is_valid_with_its_metrics() -> None:
    problem = multicast_problem()
    schedule = multicast_schedule(move("w", "dram", "l2", 0), move("w", "l2", ["l1a", "l1b"], 22))
    assert validate(problem, schedule) == []
    m = metrics(problem, schedule)
    assert m.latency_cycles == 43
    # transfers: w 160 * 4 on dbus, then 160 * 1 on bus once for both destinations
    assert (m.energy_compute_pj, m.energy_transfer_pj) == (10.0, 800.0)
    assert m.link_traffic_bytes == {"dbus": 160, "bus": 160, "xlink": 0}
    # l1a: w [22, 43) + a [33, 43) = 288 at 33; l1b: w [22, 43) + b [33, 43) = 224 at 33
    assert [(m.peak_memory[k].peak_bytes, m.peak_memory[k].at_cycle)  # type: ignore[index]
            for k in ("l2", "l1a", "l1b")] == [(160, 0), (288, 33), (224, 33)]  # fmt: skip
    assert (m.dram_in_bytes, m.dram_out_bytes, m.spilled_bytes, m.reloaded_bytes) == (0, 160, 0, 0)


def test_multicast_over_a_link_without_multicast() -> None:
    # w dram->[l1a, l1b] uses dbus (no multicast) and bus: rate 8, ceil(160/8) + max(3, 3) =
    # 23 cycles, [0, 23); P and Q at 23. Only the multicast is wrong.
    problem = multicast_problem()
    schedule = multicast_schedule(move("w", "dram", ["l1a", "l1b"], 0), start=23)
    v = only(validate(problem, schedule))
    assert (v.rule, v.tensors, v.memories, v.links, v.times) == (
        5, ("w",), ("dram", "l1a", "l1b"), ("dbus",), (0,),
    )  # fmt: skip
    assert v.message == (
        "transfers[0] ('w' 'dram'->['l1a', 'l1b'] at cycle 0): a multicast to 2 memories uses "
        "link 'dbus', which cannot multicast (multicast: false); send one transfer per "
        "destination"
    )


def test_bandwidth_overflow_on_a_shared_link() -> None:
    # w to l1a and to l1b as two transfers at full rate from 22: 16 + 16 = 32 B/cycle on bus
    # (16) during [22, 33).
    problem = multicast_problem()
    schedule = multicast_schedule(
        move("w", "dram", "l2", 0), move("w", "l2", "l1a", 22), move("w", "l2", "l1b", 22)
    )
    v = only(validate(problem, schedule))
    assert (v.rule, v.rule_name, v.links, v.tensors, v.times) == (
        8, "links", ("bus",), ("w",), (22, 33, 22),
    )  # fmt: skip
    assert v.message == (
        "link 'bus' carries 32 bytes/cycle at cycle 22, more than its bandwidth of 16, during "
        "[22, 33): transfers[1] ('w' 'l2'->'l1a' [22, 33) at 16), transfers[2] ('w' 'l2'->'l1b' "
        "[22, 33) at 16)"
    )


def test_transfers_share_a_bandwidth_link_at_exact_fractional_rates() -> None:
    # 5.5 + 10.5 = 16 B/cycle on bus exactly: l1a gets w in ceil(160/5.5) + 1 = 31 cycles
    # [22, 53), l1b in ceil(160/10.5) + 1 = 17 cycles [22, 39). P at 53, Q at 39.
    problem = multicast_problem()
    transfers = [move("w", "dram", "l2", 0), move("w", "l2", "l1a", 22, rate=5.5),
                 move("w", "l2", "l1b", 22, rate=10.5)]  # fmt: skip
    schedule = make_schedule("multicast", [("P", "c0", 53), ("Q", "c1", 39)], transfers)
    assert validate(problem, schedule) == []
    assert metrics(problem, schedule).latency_cycles == 63
    # one cycle early for P: its input arrives at 53
    early = make_schedule("multicast", [("P", "c0", 52), ("Q", "c1", 39)], transfers)
    v = only(validate(problem, early))
    assert (v.rule, v.tasks, v.times) == (4, ("P",), (53, 52))
    # 5.5 + 10.6 > 16 during the overlap [22, 39)
    transfers[2] = move("w", "l2", "l1b", 22, rate=10.6)
    found = validate(problem, make_schedule("multicast", [("P", "c0", 53), ("Q", "c1", 39)],
                                            transfers))  # fmt: skip
    assert [(v.rule, v.links, v.times) for v in found] == [(8, ("bus",), (22, 39, 22))]
    assert "carries 16.1 bytes/cycle" in found[0].message


def test_rate_above_the_least_bandwidth_and_not_positive() -> None:
    problem = multicast_problem()
    fast = multicast_schedule(move("w", "dram", "l1a", 0, rate=9), move("w", "dram", "l2", 40))
    # (at 9 B/cycle, [0, 21): dbus overflows too, and Q never gets w in l1b)
    found = [v for v in validate(problem, fast) if v.rule == 5]
    assert [(v.links, v.times) for v in found] == [(("dbus",), (0,))]
    assert found[0].message == (
        "transfers[0] ('w' 'dram'->'l1a' at cycle 0): rate 9 bytes/cycle exceeds the bandwidth "
        "of link 'dbus', 8 bytes/cycle, the least on its route"
    )
    zero = multicast_schedule(move("w", "dram", "l1a", 0, rate=0))
    assert [v.message for v in validate(problem, zero) if v.rule == 5] == [
        "transfers[0] ('w' 'dram'->'l1a' at cycle 0): rate 0 bytes/cycle; a rate must be positive"
    ]


def test_exclusive_link_carries_one_transfer_whatever_the_rates() -> None:
    # a and c go l1a->l1b over xlink at 8 B/cycle each: 8 + 8 = 16 would fit a bandwidth link
    # of 16 B/cycle, but xlink is exclusive.
    tensors = [
        {"id": "a", "size_bytes": 80, "kind": "activation", "producer": "P"},
        {"id": "c", "size_bytes": 80, "kind": "activation", "producer": "R"},
    ]
    tasks = [task("P", "c0", [], ["a"]), task("R", "c0", [], ["c"]),
             task("Q", "c1", ["a", "c"], [])]  # fmt: skip
    problem = make_problem("exclusive", tensors, tasks)
    # P [0, 10), R [10, 20); a l1a->l1b at 20 and c at 20, both at 8: [20, 30) each; Q at 30
    schedule = make_schedule(
        "exclusive",
        [("P", "c0", 0), ("R", "c0", 10), ("Q", "c1", 30)],
        [move("a", "l1a", "l1b", 20, rate=8), move("c", "l1a", "l1b", 20, rate=8)],
    )
    v = only(validate(problem, schedule))
    assert (v.rule, v.links, v.tensors, v.times) == (8, ("xlink",), ("a", "c"), (20, 30))
    assert "overlap on exclusive link 'xlink' during [20, 30)" in v.message


# --- spill and reload ------------------------------------------------------------------------
#
#   a 192 B by P, read again by Q on the same core after R, which needs w2 160 B: a and w2 do
#   not fit l1a (300 B) together, so a goes to l2 and comes back.
#   P  c0 [0, 10)                a's first copy in l1a: [0, 23)
#   transfers[0] a  l1a->l2   [10, 23)   bus: ceil(192/16) + 1    (the spill)
#   transfers[1] w2 dram->l1a [23, 46)   dbus + bus: ceil(160/8) + 3
#   R  c0 [46, 56)               c 64 B: [46, 56)
#   transfers[2] a  l2->l1a   [56, 69)   bus                       (the reload)
#   Q  c0 [69, 79)               b 64 B: [69, 79)
#   l1a: a 192 on [0, 23); w2 160 [23, 56) + c 64 [46, 56) = 224; a 192 [56, 79) + b 64 [69, 79)
#   = 256 at 69, the peak. l2: a [10, 69) 192.


def spill_problem(**changes: Any) -> Problem:
    tensors = [
        {"id": "a", "size_bytes": 192, "kind": "activation", "producer": "P"},
        {"id": "w2", "size_bytes": 160, "kind": "weight", "home": "dram"},
        {"id": "c", "size_bytes": 64, "kind": "activation", "producer": "R"},
        {"id": "b", "size_bytes": 64, "kind": "activation", "producer": "Q"},
    ]
    tasks = [task("P", "c0", [], ["a"]), task("R", "c0", ["w2"], ["c"]),
             task("Q", "c0", ["a"], ["b"])]  # fmt: skip
    return make_problem("spill", tensors, tasks, **changes)


def spill_schedule(q_start: int = 69) -> Schedule:
    return make_schedule(
        "spill",
        [("P", "c0", 0), ("R", "c0", 46), ("Q", "c0", q_start)],
        [move("a", "l1a", "l2", 10), move("w2", "dram", "l1a", 23), move("a", "l2", "l1a", 56)],
    )


def test_spill_and_reload_is_valid_with_its_metrics() -> None:
    problem, schedule = spill_problem(), spill_schedule()
    assert validate(problem, schedule) == []
    m = metrics(problem, schedule)
    assert m.latency_cycles == 79
    # transfers: a 192 * 1 + w2 160 * (4 + 1) + a 192 * 1 = 1184; compute 3 * 5
    assert (m.energy_compute_pj, m.energy_transfer_pj) == (15.0, 1184.0)
    l1a = m.peak_memory["l1a"]  # type: ignore[index]
    assert (l1a.peak_bytes, l1a.at_cycle, l1a.by_kind["activation"]) == (256, 69, 256)
    assert (m.peak_memory["l2"].peak_bytes, m.peak_memory["l2"].at_cycle) == (192, 10)  # type: ignore[index]
    assert m.link_traffic_bytes == {"dbus": 160, "bus": 192 + 160 + 192, "xlink": 0}
    # transfers[0] is the last reader of a's first copy in l1a and a comes back there: a spill;
    # transfers[2] brings a into l1a, which held it before: a reload.
    assert (m.spilled_bytes, m.reloaded_bytes) == (192, 192)
    assert (m.dram_in_bytes, m.dram_out_bytes) == (0, 160)


def test_without_the_spill_l1a_overflows() -> None:
    # Keeping a in l1a (no transfers of a; Q reads P's copy) holds a [0, 79) beside w2: 352 on
    # [23, 46), and with c 416 on [46, 56); then a + b = 256 fits.
    problem = spill_problem()
    schedule = make_schedule("spill", [("P", "c0", 0), ("R", "c0", 46), ("Q", "c0", 69)],
                             [move("w2", "dram", "l1a", 23)])  # fmt: skip
    v = only(validate(problem, schedule))
    assert (v.rule, v.memories, v.times) == (9, ("l1a",), (23, 56, 46))
    assert "416 bytes at cycle 46" in v.message


def test_reader_starting_during_a_reload_holds_the_old_copy() -> None:
    # Rule 9's reload-while-reading case. Q starts at 60 while a is being reloaded into l1a
    # ([56, 69)): the latest copy available at 60 is P's (available since 10), so Q reads it
    # and holds it until 70, beside the new copy allocated at 56 (l1a at 1000 B, so that only
    # the two copies are wrong).
    memories = copy.deepcopy(HARDWARE["memories"])
    memories[2]["capacity_bytes"] = 1000
    v = only(validate(spill_problem(memories=memories), spill_schedule(q_start=60)))
    assert (v.rule, v.rule_name, v.tensors, v.memories, v.times) == (
        9, "memory-capacity", ("a",), ("l1a",), (56, 69),
    )  # fmt: skip
    assert v.message == (
        "tensor 'a' has two copies held in memory 'l1a' during [56, 69): the copy from task 'P' "
        "(held [0, 70)) and the copy from transfers[2] (held [56, 69)); task 'Q' starts at "
        "cycle 60, after the new copy is allocated but before it is available (cycle 69), so "
        "it reads the old copy and holds it; a memory holds one copy of a tensor at a time"
    )


def test_two_copies_held_at_once() -> None:
    # A second w dram->l2 at 23 ([23, 45) on dbus) while the first copy in l2 is held until 33
    # (transfers[1] reads it [22, 33)): two copies of w in l2 during [23, 33).
    problem = multicast_problem()
    schedule = multicast_schedule(
        move("w", "dram", "l2", 0), move("w", "l2", ["l1a", "l1b"], 22), move("w", "dram", "l2", 23)
    )
    v = only(validate(problem, schedule))
    assert (v.rule, v.tensors, v.memories, v.times) == (9, ("w",), ("l2",), (23, 33))
    assert v.message == (
        "tensor 'w' has two copies held in memory 'l2' during [23, 33): the copy from "
        "transfers[0] (held [0, 33)) and the copy from transfers[2] (held [23, 45)); "
        "transfers[1] reads the old copy until cycle 33; a memory holds one copy of a tensor at "
        "a time"
    )


# --- format 1 read as format 1 --------------------------------------------------------------

FORMAT1 = json.loads((Path(__file__).parent / "data" / "format1_cases.json").read_text())

# Format 2 only adds freedom (docs/validity.md, "Version 1"): these cases, invalid under
# format 1, are valid now. Each is a test of test_validate_rules.py as it was for format 1.
NOW_VALID = {
    "d27969994d49ad9f": "a transfer reads b's copy in dram, made by another transfer",
    "028f71387e6197e7": "a reload of a into l1b after its first copy there is released",
    "34dc32110a298a42": "a back into l1a from its copy in l1b, after P's copy is released",
}


def bounded_dram(case: dict[str, Any]) -> bool:
    return any(m["id"] == "dram" and m["capacity_bytes"] is not None
               for m in case["problem"]["memories"])  # fmt: skip


@pytest.mark.parametrize(
    "case", FORMAT1["cases"], ids=lambda c: f"{c['problem']['name']}-{c['id']}"
)
def test_format1_case_keeps_its_verdict_and_metrics(case: dict[str, Any]) -> None:
    problem = Problem.model_validate(case["problem"])
    schedule = Schedule.model_validate(case["schedule"])
    assert case["problem"]["format"] == "cpsched-problem/1"
    assert all(lk.sharing == "exclusive" and not lk.multicast for lk in problem.links)
    violations = validate(problem, schedule)
    rules = sorted(v.rule for v in violations)
    if case["id"] in NOW_VALID:
        assert case["rules"] and rules == []
        return
    if bounded_dram(case):
        # A bounded dram holds every home and stored copy for good under format 2 (format 1
        # released them after their last reader), so only dram's capacity may differ.
        assert [r for r in rules if r != 9] == sorted(r for r in case["rules"] if r != 9)
        if 9 not in case["rules"]:
            assert all(v.memories == ("dram",) for v in violations if v.rule == 9)
    else:
        assert rules == sorted(case["rules"])
    if case["metrics"] is None or case["rules"]:
        return  # metrics are promised the same for schedules valid under format 1
    m = metrics(problem, schedule).model_dump(mode="json")
    for key, value in case["metrics"].items():
        if key == "peak_memory" and bounded_dram(case):
            value = {k: v for k, v in value.items() if k != "dram"}
            m[key] = {k: v for k, v in m[key].items() if k != "dram"}
        assert m[key] == value, key


# --- the bandwidth check against a cycle-by-cycle count ---------------------------------------


@settings(max_examples=examples(80), deadline=None, derandomize=True)
@given(data=st.data())
def test_bandwidth_overflows_are_exactly_the_overloaded_cycles(data: st.DataObject) -> None:
    # Random transfers, multicasts and rates over one shared link: the intervals rule 8 reports
    # are exactly the maximal runs of cycles where the rates add up to more than the bandwidth,
    # each with its earliest highest cycle, counted cycle by cycle in fractions.
    bandwidth = data.draw(st.sampled_from([0.5, 1, 2.5, 3, 8]))
    latency = data.draw(st.integers(0, 2))
    memories = ["m0", "m1", "m2"]
    problem = Problem.model_validate({
        "format": "cpsched-problem/2", "name": "bw",
        "memories": [{"id": "dram", "capacity_bytes": None}]
        + [{"id": m, "capacity_bytes": None} for m in memories],
        "cores": [{"id": "c0", "memory": "m0"}],
        "links": [{"id": "bus", "bandwidth_bytes_per_cycle": bandwidth,
                   "latency_cycles": latency, "multicast": True}],
        "routes": [{"src": "dram", "dst": m, "links": ["bus"]} for m in memories],
        "tensors": [{"id": f"x{i}", "size_bytes": data.draw(st.integers(0, 12)),
                     "kind": "input", "home": "dram"} for i in range(6)],
    })  # fmt: skip
    transfers = []
    for _ in range(data.draw(st.integers(1, 6))):
        dsts = data.draw(st.lists(st.sampled_from(memories), min_size=1, max_size=3, unique=True))
        rate = data.draw(st.sampled_from([None, 0.25, 0.5, 1, 1.5]))
        transfers.append(
            move(
                f"x{data.draw(st.integers(0, 5))}",
                "dram",
                dsts if len(dsts) > 1 else dsts[0],
                data.draw(st.integers(0, 20)),
                rate,
            )
        )
    schedule = make_schedule("bw", [], transfers)
    found = [v for v in validate(problem, schedule) if v.rule == 8]
    # cycle by cycle
    load: dict[int, Fraction] = {}
    for x in schedule.transfers:
        speed = Fraction(repr(x.rate_bytes_per_cycle or bandwidth))
        size = problem.tensor_by_id[x.tensor].size_bytes
        end = x.start + math.ceil(Fraction(size) / speed) + latency
        for t in range(x.start, end):
            load[t] = load.get(t, Fraction(0)) + speed
    runs: list[tuple[int, int, int]] = []
    cap = Fraction(repr(bandwidth))
    t = 0
    horizon = max(load, default=-1) + 1
    while t < horizon:
        if load.get(t, 0) > cap:
            start = t
            while t < horizon and load.get(t, 0) > cap:
                t += 1
            peak_at = max(range(start, t), key=lambda c: (load[c], -c))
            runs.append((start, t, peak_at))
        else:
            t += 1
    assert [v.times for v in found] == runs


@settings(max_examples=examples(30), deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), num_tasks=st.integers(1, 12))
def test_sharing_a_link_by_bandwidth_only_adds_freedom(seed: int, num_tasks: int) -> None:
    # The random valid list schedules of test_validate_edges (links used one transfer at a
    # time, at full rate) stay valid, with the same metrics, when every link is bandwidth-shared
    # and multicasts: one transfer at full rate never exceeds a link's bandwidth.
    problem, schedule, _ = random_case(seed, num_tasks)
    data = problem.model_dump()
    assert all(lk["sharing"] == "exclusive" for lk in data["links"])
    for lk in data["links"]:
        lk.update(sharing="bandwidth", multicast=True)
    shared = Problem.model_validate(data)
    assert validate(shared, schedule) == []
    assert metrics(shared, schedule) == metrics(problem, schedule)
