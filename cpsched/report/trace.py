"""A Chrome/Perfetto trace of a schedule: cores and links as tracks, tasks and transfers as slices.

The trace uses the Chrome trace event format (JSON), which the Perfetto UI
(https://ui.perfetto.dev) and chrome://tracing open directly. Timestamps are in the
schedule's cycles, written where the format expects microseconds: 1 us in the viewer is
1 cycle. Memory occupancy of every bounded memory is a counter track.

A transfer is one slice on every link it uses, however many destinations it has (a
multicast's args list them all), with its rate in its args. A thread's slices must nest (the
trace format's rule; Perfetto drops those that overlap otherwise), so a link that carries
several transfers at once (shared by bandwidth, docs/problem.md) gets more threads, "link L
#2" and so on, each transfer on the first of them that is free for its whole duration.
"""

from __future__ import annotations

import json
from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpsched.check.metrics import memory_timeline, spills_and_reloads
from cpsched.check.validate import TimedTransfer, derive_copies, timed_schedule
from cpsched.model.io import write_text_atomic
from cpsched.model.problem import TENSOR_KINDS, LinkId, Problem
from cpsched.model.schedule import Schedule

TRACE_FORMAT = "cpsched-trace/1"
CORES_PID = 1
LINKS_PID = 2
MEMORIES_PID = 3


def _meta(pid: int, name: str, value: str | int, tid: int = 0) -> dict[str, Any]:
    key = "sort_index" if name.endswith("sort_index") else "name"
    return {"ph": "M", "pid": pid, "tid": tid, "name": name, "args": {key: value}}


def rate_value(rate: Fraction) -> int | float:
    """An exact rate as JSON writes it: an int when whole, else the nearest float."""
    return rate.numerator if rate.denominator == 1 else float(rate)


def link_lanes(transfers: list[TimedTransfer]) -> dict[int, int]:
    """A lane for each transfer on one link (by position) such that no two transfers of one
    lane overlap in time: sweeping by start, the first lane free at its start."""
    lane_end: list[int] = []
    out: dict[int, int] = {}
    for tr in sorted(transfers, key=lambda tr: (tr.start, tr.end, tr.position)):
        lane = next((i for i, end in enumerate(lane_end) if end <= tr.start), len(lane_end))
        if lane == len(lane_end):
            lane_end.append(tr.end)
        else:
            lane_end[lane] = tr.end
        out[tr.position] = lane
    return out


def chrome_trace(problem: Problem, schedule: Schedule) -> dict[str, Any]:
    """The schedule as a Chrome trace event dict (`traceEvents`, 1 us = 1 cycle) for Perfetto."""
    timing = timed_schedule(problem, schedule)
    tasks = problem.task_by_id
    tensors = problem.tensor_by_id
    core_tid = {c.id: i + 1 for i, c in enumerate(problem.cores)}
    on_link: dict[LinkId, list[TimedTransfer]] = defaultdict(list)
    for tr in timing.transfers:
        for link_id in tr.links:
            on_link[link_id].append(tr)
    lanes = {lk.id: link_lanes(on_link[lk.id]) for lk in problem.links}
    # Lane 0 of the i-th link is thread i + 1, as without lanes; further lanes come after.
    link_tid: dict[tuple[LinkId, int], int] = {
        (lk.id, 0): i + 1 for i, lk in enumerate(problem.links)
    }
    for link in problem.links:
        for lane in range(1, max(lanes[link.id].values(), default=0) + 1):
            link_tid[(link.id, lane)] = len(link_tid) + 1
    moved = spills_and_reloads(derive_copies(problem, timing))

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
    order = {lk.id: i for i, lk in enumerate(problem.links)}
    for sort_index, ((link_id, lane), tid) in enumerate(
        sorted(link_tid.items(), key=lambda item: (order[item[0][0]], item[0][1])), start=1
    ):
        name = f"link {link_id}" if lane == 0 else f"link {link_id} #{lane + 1}"
        events.append(_meta(LINKS_PID, "thread_name", name, tid))
        events.append(_meta(LINKS_PID, "thread_sort_index", sort_index, tid))

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
            "dst": tr.dst if isinstance(tr.dst, str) else list(tr.dst),
            "links": list(tr.links),
            "rate_bytes_per_cycle": rate_value(tr.rate),
            "energy_pj": tr.energy_pj,
        }
        if producer is not None:
            args["layer"] = producer.layer
            args["tile"] = producer.tile
        spill, reload = tr.position in moved[0], tr.position in moved[1]
        if spill or reload:
            args["movement"] = " and ".join(
                word for word, yes in (("spill", spill), ("reload", reload)) if yes
            )
        for lk in tr.links:
            slices.append(
                {
                    "ph": "X",
                    "cat": "transfer",
                    "name": f"{tr.tensor} {tr.src}->{'+'.join(tr.dsts)}",
                    "pid": LINKS_PID,
                    "tid": link_tid[(lk, lanes[lk][tr.position])],
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
