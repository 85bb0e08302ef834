"""A Chrome/Perfetto trace of a schedule: cores and links as tracks, tasks and transfers as slices.

The trace uses the Chrome trace event format (JSON), which the Perfetto UI
(https://ui.perfetto.dev) and chrome://tracing open directly. Timestamps are in the
schedule's cycles, written where the format expects microseconds: 1 us in the viewer is
1 cycle. Memory occupancy of every bounded memory is a counter track.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cpsched.check.metrics import memory_timeline
from cpsched.check.validate import timed_schedule
from cpsched.model.io import write_text_atomic
from cpsched.model.problem import TENSOR_KINDS, Problem
from cpsched.model.schedule import Schedule

TRACE_FORMAT = "cpsched-trace/1"
CORES_PID = 1
LINKS_PID = 2
MEMORIES_PID = 3


def _meta(pid: int, name: str, value: str | int, tid: int = 0) -> dict[str, Any]:
    key = "sort_index" if name.endswith("sort_index") else "name"
    return {"ph": "M", "pid": pid, "tid": tid, "name": name, "args": {key: value}}


def chrome_trace(problem: Problem, schedule: Schedule) -> dict[str, Any]:
    """The schedule as a Chrome trace event dict (`traceEvents`, 1 us = 1 cycle) for Perfetto."""
    timing = timed_schedule(problem, schedule)
    tasks = problem.task_by_id
    tensors = problem.tensor_by_id
    core_tid = {c.id: i + 1 for i, c in enumerate(problem.cores)}
    link_tid = {lk.id: i + 1 for i, lk in enumerate(problem.links)}

    events: list[dict[str, Any]] = [
        _meta(CORES_PID, "process_name", "cores"),
        _meta(CORES_PID, "process_sort_index", 1),
        _meta(LINKS_PID, "process_name", "links"),
        _meta(LINKS_PID, "process_sort_index", 2),
        _meta(MEMORIES_PID, "process_name", "memories"),
        _meta(MEMORIES_PID, "process_sort_index", 3),
    ]
    for core in problem.cores:
        tid = core_tid[core.id]
        events.append(_meta(CORES_PID, "thread_name", f"{core.id} ({core.memory})", tid))
        events.append(_meta(CORES_PID, "thread_sort_index", tid, tid))
    for link in problem.links:
        tid = link_tid[link.id]
        events.append(_meta(LINKS_PID, "thread_name", f"link {link.id}", tid))
        events.append(_meta(LINKS_PID, "thread_sort_index", tid, tid))

    slices: list[dict[str, Any]] = []
    for placed in timing.placed.values():
        task = tasks[placed.task]
        slices.append(
            {
                "ph": "X",
                "cat": "task",
                "name": str(placed.task),
                "pid": CORES_PID,
                "tid": core_tid[placed.core],
                "ts": placed.start,
                "dur": placed.end - placed.start,
                "args": {
                    "layer": task.layer,
                    "tile": task.tile,
                    "core": placed.core,
                    "memory": placed.memory,
                    "energy_pj": placed.energy_pj,
                    "inputs": list(task.inputs),
                    "outputs": list(task.outputs),
                    "in_bytes": sum(tensors[t].size_bytes for t in task.inputs),
                    "out_bytes": sum(tensors[t].size_bytes for t in task.outputs),
                },
            }
        )
    for tr in timing.transfers:
        tensor = tensors[tr.tensor]
        producer = tasks.get(tensor.producer) if tensor.producer is not None else None
        args: dict[str, Any] = {
            "tensor": tr.tensor,
            "kind": tensor.kind,
            "bytes": tr.size_bytes,
            "src": tr.src,
            "dst": tr.dst,
            "links": list(tr.links),
            "energy_pj": tr.energy_pj,
        }
        if producer is not None:
            args["layer"] = producer.layer
            args["tile"] = producer.tile
        for lk in tr.links:
            slices.append(
                {
                    "ph": "X",
                    "cat": "transfer",
                    "name": f"{tr.tensor} {tr.src}->{'+'.join(tr.dsts)}",
                    "pid": LINKS_PID,
                    "tid": link_tid[lk],
                    "ts": tr.start,
                    "dur": tr.end - tr.start,
                    "args": args,
                }
            )
    slices.sort(key=lambda e: (e["ts"], e["pid"], e["tid"]))
    events += slices

    for memory_id, timeline in memory_timeline(problem, schedule).items():
        if timeline.capacity_bytes is None:
            continue
        name = f"{memory_id} held bytes (capacity {timeline.capacity_bytes})"
        points = list(
            zip(timeline.times, *(timeline.bytes_by_kind[k] for k in TENSOR_KINDS), strict=True)
        )
        if not points or points[0][0] > 0:
            points.insert(0, (0, *(0 for _ in TENSOR_KINDS)))
        for time, *values in points:
            events.append(
                {
                    "ph": "C",
                    "pid": MEMORIES_PID,
                    "tid": 0,
                    "name": name,
                    "ts": time,
                    "args": dict(zip(TENSOR_KINDS, values, strict=True)),
                }
            )

    latency = max(
        [p.end for p in timing.placed.values()] + [t.end for t in timing.transfers], default=0
    )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "format": TRACE_FORMAT,
            "problem": problem.name,
            "clock": "1 us in the trace = 1 cycle of the schedule",
            "latency_cycles": latency,
        },
    }


def write_trace(problem: Problem, schedule: Schedule, path: str | Path) -> None:
    """Write :func:`chrome_trace` of `schedule` as JSON to `path`, atomically."""
    write_text_atomic(path, json.dumps(chrome_trace(problem, schedule), separators=(",", ":")))
