"""The tiny three-memory problem and its valid schedule, shared by the validator and metrics tests.

w  dram->l1a  [0, 27)    ceil(100/4) + 2
S  c2         [0, 4)
P  c0         [27, 37)
R  c2         [37, 40)
a  l1a->l1b   [37, 57)   ceil(200/10) + 0
Q  c1         [57, 62)   (a arrives exactly when Q starts)
b  l1b->dram  [62, 77)   ceil(50/4) + 0 + 2
"""

from __future__ import annotations

from typing import Any

TINY_PROBLEM: dict[str, Any] = {
    "format": "cpsched-problem/1",
    "name": "tiny",
    "memories": [
        {"id": "dram", "capacity_bytes": None},
        {"id": "l1a", "capacity_bytes": 1000},
        {"id": "l1b", "capacity_bytes": 1000},
    ],
    "cores": [
        {"id": "c0", "memory": "l1a"},
        {"id": "c1", "memory": "l1b"},
        {"id": "c2", "memory": "l1a"},
    ],
    "links": [
        {"id": "bus", "bandwidth_bytes_per_cycle": 10, "latency_cycles": 0,
         "energy_pj_per_byte": 1.0},
        {"id": "dlink", "bandwidth_bytes_per_cycle": 4, "latency_cycles": 2,
         "energy_pj_per_byte": 3.0},
    ],
    "routes": [
        {"src": "dram", "dst": "l1a", "links": ["dlink"]},
        {"src": "l1a", "dst": "dram", "links": ["dlink"]},
        {"src": "l1a", "dst": "l1b", "links": ["bus"]},
        {"src": "l1b", "dst": "l1a", "links": ["bus"]},
        {"src": "dram", "dst": "l1b", "links": ["dlink", "bus"]},
        {"src": "l1b", "dst": "dram", "links": ["bus", "dlink"]},
    ],
    "tensors": [
        {"id": "w", "size_bytes": 100, "kind": "weight", "home": "dram"},
        {"id": "a", "size_bytes": 200, "kind": "activation", "producer": "P"},
        {"id": "b", "size_bytes": 50, "kind": "activation", "producer": "Q", "store": True},
        {"id": "r", "size_bytes": 100, "kind": "activation", "producer": "R"},
    ],
    "tasks": [
        {
            "id": "P", "inputs": ["w"], "outputs": ["a"],
            "options": [
                {"core": "c0", "duration_cycles": 10, "energy_pj": 5.0},
                {"core": "c2", "duration_cycles": 10, "energy_pj": 5.0},
            ],
        },
        {
            "id": "Q", "inputs": ["a"], "outputs": ["b"],
            "options": [
                {"core": "c1", "duration_cycles": 5, "energy_pj": 2.0},
                {"core": "c0", "duration_cycles": 8, "energy_pj": 3.0},
            ],
        },
        {
            "id": "R", "outputs": ["r"], "after": ["P"],
            "options": [{"core": "c2", "duration_cycles": 3, "energy_pj": 1.5}],
        },
        {
            "id": "S",
            "options": [
                {"core": "c0", "duration_cycles": 4, "energy_pj": 4.0},
                {"core": "c2", "duration_cycles": 4, "energy_pj": 2.5},
            ],
        },
    ],
}  # fmt: skip

TINY_SCHEDULE: dict[str, Any] = {
    "format": "cpsched-schedule/1",
    "problem": "tiny",
    "tasks": [
        {"id": "P", "core": "c0", "start": 27},
        {"id": "Q", "core": "c1", "start": 57},
        {"id": "R", "core": "c2", "start": 37},
        {"id": "S", "core": "c2", "start": 0},
    ],
    "transfers": [
        {"tensor": "w", "src": "dram", "dst": "l1a", "start": 0},
        {"tensor": "a", "src": "l1a", "dst": "l1b", "start": 37},
        {"tensor": "b", "src": "l1b", "dst": "dram", "start": 62},
    ],
}
