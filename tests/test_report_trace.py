"""The Chrome/Perfetto trace of a hand-made schedule: tracks, slices and memory counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cpsched.check.validate import validate
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule
from cpsched.report.trace import CORES_PID, LINKS_PID, MEMORIES_PID, chrome_trace, write_trace

# Two cores with private memories m0 and m1; x (graph input) comes from dram over L0, A on c0
# makes a, a moves m0 -> m1 over L0 and L1 at once, B on c1 makes y, y is stored over L1.
PROBLEM = Problem.model_validate({
    "format": "cpsched-problem/1",
    "name": "two_private",
    "memories": [
        {"id": "dram", "capacity_bytes": None},
        {"id": "m0", "capacity_bytes": 1000},
        {"id": "m1", "capacity_bytes": 1000},
    ],
    "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
    "links": [
        {"id": "L0", "bandwidth_bytes_per_cycle": 10, "latency_cycles": 2,
         "energy_pj_per_byte": 1.0},
        {"id": "L1", "bandwidth_bytes_per_cycle": 5, "latency_cycles": 1,
         "energy_pj_per_byte": 0.5},
    ],
    "routes": [
        {"src": "dram", "dst": "m0", "links": ["L0"]},
        {"src": "m0", "dst": "m1", "links": ["L0", "L1"]},
        {"src": "m1", "dst": "dram", "links": ["L1"]},
    ],
    "tensors": [
        {"id": "x", "size_bytes": 100, "kind": "input", "home": "dram"},
        {"id": "a", "size_bytes": 50, "kind": "activation", "producer": "A"},
        {"id": "y", "size_bytes": 20, "kind": "activation", "producer": "B", "store": True},
    ],
    "tasks": [
        {"id": "A", "layer": "L1", "tile": 0, "inputs": ["x"], "outputs": ["a"],
         "options": [{"core": "c0", "duration_cycles": 30, "energy_pj": 10.0}]},
        {"id": "B", "layer": "L2", "tile": 3, "inputs": ["a"], "outputs": ["y"],
         "options": [{"core": "c1", "duration_cycles": 15, "energy_pj": 5.0}]},
    ],
})  # fmt: skip

# x: ceil(100/10) + 2 = 12 cycles, [0, 12).  A: [12, 42).  a over L0+L1: min bandwidth 5,
# ceil(50/5) + 2 + 1 = 13 cycles, [42, 55).  B: [55, 70).  y over L1: ceil(20/5) + 1 = 5, [70, 75).
SCHEDULE = Schedule.model_validate({
    "problem": "two_private",
    "tasks": [{"id": "A", "core": "c0", "start": 12}, {"id": "B", "core": "c1", "start": 55}],
    "transfers": [
        {"tensor": "x", "src": "dram", "dst": "m0", "start": 0},
        {"tensor": "a", "src": "m0", "dst": "m1", "start": 42},
        {"tensor": "y", "src": "m1", "dst": "dram", "start": 70},
    ],
})  # fmt: skip


def _slices(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in trace["traceEvents"] if e["ph"] == "X"]


def test_hand_made_schedule_is_valid() -> None:
    assert validate(PROBLEM, SCHEDULE) == []


def test_trace_slices_have_the_derived_times_and_tracks() -> None:
    trace = chrome_trace(PROBLEM, SCHEDULE)
    got = sorted((e["name"], e["pid"], e["tid"], e["ts"], e["dur"]) for e in _slices(trace))
    # Cores are pid 1 (c0 tid 1, c1 tid 2), links pid 2 (L0 tid 1, L1 tid 2); a occupies both links.
    assert got == sorted([
        ("A", CORES_PID, 1, 12, 30),
        ("B", CORES_PID, 2, 55, 15),
        ("x dram->m0", LINKS_PID, 1, 0, 12),
        ("a m0->m1", LINKS_PID, 1, 42, 13),
        ("a m0->m1", LINKS_PID, 2, 42, 13),
        ("y m1->dram", LINKS_PID, 2, 70, 5),
    ])  # fmt: skip
    assert trace["displayTimeUnit"] == "ns"
    assert trace["otherData"]["latency_cycles"] == 75
    assert "1 cycle" in trace["otherData"]["clock"]


def test_trace_args_carry_layer_tile_and_bytes() -> None:
    by_name = {(e["name"], e["tid"]): e["args"] for e in _slices(chrome_trace(PROBLEM, SCHEDULE))}
    assert by_name[("B", 2)] == {
        "layer": "L2", "tile": 3, "core": "c1", "memory": "m1", "energy_pj": 5.0,
        "inputs": ["a"], "outputs": ["y"], "in_bytes": 50, "out_bytes": 20,
    }  # fmt: skip
    # a: 50 bytes x (1.0 + 0.5) pJ/byte = 75 pJ, at 5 bytes/cycle (L1's bandwidth, the least);
    # produced by A (layer L1, tile 0).
    assert by_name[("a m0->m1", 1)] == {
        "tensor": "a", "kind": "activation", "bytes": 50, "src": "m0", "dst": "m1",
        "links": ["L0", "L1"], "rate_bytes_per_cycle": 5, "energy_pj": 75.0, "layer": "L1",
        "tile": 0,
    }  # fmt: skip
    assert "layer" not in by_name[("x dram->m0", 1)]  # a graph input has no producer


def test_trace_names_every_track() -> None:
    meta = [e for e in chrome_trace(PROBLEM, SCHEDULE)["traceEvents"] if e["ph"] == "M"]
    processes = {e["pid"]: e["args"]["name"] for e in meta if e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert processes == {CORES_PID: "cores", LINKS_PID: "links", MEMORIES_PID: "memories"}
    assert threads == {
        (CORES_PID, 1): "c0 (m0)",
        (CORES_PID, 2): "c1 (m1)",
        (LINKS_PID, 1): "link L0",
        (LINKS_PID, 2): "link L1",
    }


def test_trace_counts_bytes_held_in_bounded_memories() -> None:
    counters = [e for e in chrome_trace(PROBLEM, SCHEDULE)["traceEvents"] if e["ph"] == "C"]
    m0 = [(e["ts"], e["args"]) for e in counters if e["name"].startswith("m0 ")]
    # m0 holds x from its transfer's start (0) to A's end (42), and a from A's start (12)
    # until its transfer to m1 ends (55).
    assert m0 == [
        (0, {"activation": 0, "weight": 0, "input": 100}),
        (12, {"activation": 50, "weight": 0, "input": 100}),
        (42, {"activation": 50, "weight": 0, "input": 0}),
        (55, {"activation": 0, "weight": 0, "input": 0}),
    ]
    # m1 holds a from its transfer's start (42) to B's end (70) and y from B's start (55)
    # until its store ends (75); there is no counter for the unbounded dram.
    m1 = [(e["ts"], sum(e["args"].values())) for e in counters if e["name"].startswith("m1 ")]
    assert m1 == [(0, 0), (42, 50), (55, 70), (70, 20), (75, 0)]
    assert not [e for e in counters if e["name"].startswith("dram")]


def test_write_trace_writes_json_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    write_trace(PROBLEM, SCHEDULE, path)
    assert json.loads(path.read_text()) == chrome_trace(PROBLEM, SCHEDULE)
