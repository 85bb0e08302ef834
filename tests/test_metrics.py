"""Metrics (docs/metrics.md) worked out by hand on small schedules, and the memory timeline."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from tiny_example import TINY_PROBLEM as PROBLEM
from tiny_example import TINY_SCHEDULE as SCHEDULE

from cpsched.check.metrics import memory_timeline, metrics
from cpsched.model.io import load_problem, load_schedule
from cpsched.model.problem import CoreId, MemoryId, Problem
from cpsched.model.schedule import Schedule

EXAMPLES = Path(__file__).resolve().parent.parent / "models" / "problems"

# The problem and schedule of test_validate_rules.py:
#   w  dram->l1a [0, 27) dlink;  S c2 [0, 4);  P c0 [27, 37);  R c2 [37, 40)
#   a  l1a->l1b  [37, 57) bus;   Q c1 [57, 62);  b l1b->dram [62, 77) bus + dlink


def tiny() -> tuple[Problem, Schedule]:
    return Problem.model_validate(PROBLEM), Schedule.model_validate(SCHEDULE)


def test_latency_and_energy() -> None:
    m = metrics(*tiny())
    # Latest end: the store of b, 62 + ceil(50/4) + 2 = 77.
    assert m.latency_cycles == 77
    # P 5 (c0) + Q 2 (c1) + R 1.5 (c2) + S 2.5 (c2) = 11.
    assert m.energy_compute_pj == pytest.approx(11.0)
    # w 100 B * 3 (dlink) + a 200 B * 1 (bus) + b 50 B * (1 + 3) = 300 + 200 + 200 = 700.
    assert m.energy_transfer_pj == pytest.approx(700.0)
    assert m.energy_total_pj == pytest.approx(711.0)


def test_peak_memory_by_kind() -> None:
    m = metrics(*tiny())
    assert set(m.peak_memory) == {"l1a", "l1b"}  # dram is unbounded
    # l1a: w [0, 37) 100 weight; a [27, 57) 200; r [37, 40) 100.
    # 300 on [27, 40): first at 27, as weight 100 + activation 200. Activation alone peaks at
    # 300 on [37, 40) (a + r).
    l1a = m.peak_memory[MemoryId("l1a")]
    assert (l1a.capacity_bytes, l1a.peak_bytes, l1a.at_cycle) == (1000, 300, 27)
    assert l1a.by_kind == {"activation": 200, "weight": 100, "input": 0}
    assert l1a.peak_by_kind == {"activation": 300, "weight": 100, "input": 0}
    # l1b: a [37, 62) 200 (its transfer starts at 37; Q ends at 62); b [57, 77) 50: 250 at 57.
    l1b = m.peak_memory[MemoryId("l1b")]
    assert (l1b.peak_bytes, l1b.at_cycle) == (250, 57)
    assert l1b.by_kind == {"activation": 250, "weight": 0, "input": 0}


def test_traffic_and_utilization() -> None:
    m = metrics(*tiny())
    # bus: a 200 + b 50; dlink: w 100 + b 50.
    assert m.link_traffic_bytes == {"bus": 250, "dlink": 150}
    assert (m.dram_in_bytes, m.dram_out_bytes) == (50, 100)  # b in; w out
    # bus busy: a 20 + b 15; dlink: w 27 + b 15.
    assert m.link_busy_cycles == {"bus": 35, "dlink": 42}
    # Utilization: carried bytes / (bandwidth x latency): 250 / (10 * 77), 150 / (4 * 77).
    assert m.link_utilization == {
        "bus": pytest.approx(250 / 770),
        "dlink": pytest.approx(150 / 308),
    }
    assert (m.spilled_bytes, m.reloaded_bytes) == (0, 0)
    assert m.core_busy_cycles == {"c0": 10, "c1": 5, "c2": 7}
    assert m.core_utilization[CoreId("c2")] == pytest.approx(7 / 77)


def test_memory_timeline() -> None:
    timelines = memory_timeline(*tiny())
    l1a = timelines[MemoryId("l1a")]
    assert l1a.capacity_bytes == 1000
    # Steps at 0 (w), 27 (+a), 37 (-w +r), 40 (-r), 57 (-a).
    assert l1a.times == [0, 27, 37, 40, 57]
    assert l1a.bytes_by_kind == {
        "activation": [0, 200, 300, 200, 0],
        "weight": [100, 100, 0, 0, 0],
        "input": [0, 0, 0, 0, 0],
    }
    # dram: w's home copy from 0 and b's stored copy from its transfer's start (62), neither
    # ever released (format 2; under format 1 they were released at 27 and 77).
    dram = timelines[MemoryId("dram")]
    assert dram.capacity_bytes is None
    assert dram.times == [0, 62]
    assert dram.bytes_by_kind["weight"] == [100, 100]
    assert dram.bytes_by_kind["activation"] == [0, 50]


def test_metrics_dump_to_json() -> None:
    dumped = metrics(*tiny()).model_dump(mode="json")
    assert dumped["peak_memory"]["l1a"]["peak_bytes"] == 300
    assert dumped["latency_cycles"] == 77


def test_metrics_of_an_invalid_schedule_with_known_ids() -> None:
    # Q on c0 too early (no transfer of a needed there, but starts at 0 before P) and the
    # transfer of a left in: metrics still adds up what is scheduled.
    data = copy.deepcopy(SCHEDULE)
    data["tasks"][1] = {"id": "Q", "core": "c0", "start": 0}  # Q: 8 cycles, 3 pJ on c0
    m = metrics(Problem.model_validate(PROBLEM), Schedule.model_validate(data))
    assert m.energy_compute_pj == pytest.approx(5 + 3 + 1.5 + 2.5)
    assert m.core_busy_cycles == {"c0": 18, "c1": 0, "c2": 7}


def test_metrics_skip_unknown_ids() -> None:
    data = copy.deepcopy(SCHEDULE)
    data["tasks"].append({"id": "nope", "core": "c0", "start": 500})
    data["transfers"].append({"tensor": "nope", "src": "dram", "dst": "l1a", "start": 900})
    m = metrics(Problem.model_validate(PROBLEM), Schedule.model_validate(data))
    assert m.latency_cycles == 77


def test_two_cores_shared_example() -> None:
    problem = load_problem(EXAMPLES / "two_cores_shared.yaml")
    m = metrics(problem, load_schedule(EXAMPLES / "two_cores_shared.schedule.yaml"))
    # x [0, 36), w [36, 104), A c0 [104, 124), B c0 / C c1 [124, 134), D c0 [134, 142),
    # y stored [142, 162).
    assert m.latency_cycles == 162
    assert m.energy_compute_pj == pytest.approx(100 + 50 + 50 + 40)
    assert m.energy_transfer_pj == pytest.approx((512 + 1024 + 256) * 2.0)
    # l1: x [0, 124), w [36, 124), a [104, 134) -> 2048 at 104.
    peak = m.peak_memory[MemoryId("l1")]
    assert (peak.peak_bytes, peak.at_cycle) == (2048, 104)
    assert peak.by_kind == {"activation": 512, "weight": 1024, "input": 512}


def test_two_cores_private_example() -> None:
    problem = load_problem(EXAMPLES / "two_cores_private.yaml")
    m = metrics(problem, load_schedule(EXAMPLES / "two_cores_private.schedule.yaml"))
    assert m.latency_cycles == 272
    # dram routes cost 4 + 0.5 pJ/B: (512 + 128 + 128 + 512 + 64 + 64) * 4.5 = 6336;
    # l1a->l1b 0.5 pJ/B: (256 + 256) * 0.5 = 256.
    assert m.energy_transfer_pj == pytest.approx(6592.0)
    # l1a at 132: w1 512 + x1 128 + h0 256 + h1 256 (x0 released by L1.t0 at 132).
    assert (m.peak_memory[MemoryId("l1a")].peak_bytes, m.peak_memory[MemoryId("l1a")].at_cycle) == (
        1152,
        132,
    )
    # l1b at 213: w2 512 + h0 256 + h1 256 + y0 64 (allocated as L2.t0 starts).
    assert (m.peak_memory[MemoryId("l1b")].peak_bytes, m.peak_memory[MemoryId("l1b")].at_cycle) == (
        1088,
        213,
    )
    assert (m.dram_in_bytes, m.dram_out_bytes) == (128, 1280)
