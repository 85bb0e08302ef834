"""What a schedule costs (docs/metrics.md): latency, energy, peak memory, traffic (with spills
and reloads) and utilization.

Computed from the same derived timing, copies and holds as the validator (both are the
checking side, independent of the solvers). Works best-effort on invalid schedules: entries
with unknown ids, disallowed cores or missing routes are left out.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from itertools import pairwise

from pydantic import BaseModel, ConfigDict

from cpsched.check.validate import (
    Copies,
    Hold,
    Timing,
    collector_paused,
    derive_copies,
    exact,
    held_bytes_timeline,
    holds_of,
    timed_schedule,
)
from cpsched.model.objective import Metric, Objective, Stage, as_objective
from cpsched.model.problem import DRAM, TENSOR_KINDS, CoreId, LinkId, MemoryId, Problem, TensorKind
from cpsched.model.schedule import Schedule


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeakMemory(_Value):
    """Peak bytes held in one bounded memory, when it happens, and what it is made of."""

    capacity_bytes: int
    peak_bytes: int
    at_cycle: int  # the earliest cycle at which the peak is held
    by_kind: dict[TensorKind, int]  # bytes of each kind held at `at_cycle`
    peak_by_kind: dict[TensorKind, int]  # max over time of each kind alone


class Metrics(_Value):
    """docs/metrics.md for one schedule; energies in pJ, times in cycles, sizes in bytes."""

    latency_cycles: int
    energy_compute_pj: float
    energy_transfer_pj: float
    energy_total_pj: float
    peak_memory: dict[MemoryId, PeakMemory]  # bounded memories only
    link_traffic_bytes: dict[LinkId, int]  # a multicast counts once on each link it uses
    dram_in_bytes: int
    dram_out_bytes: int
    spilled_bytes: int  # transfers that evict a copy the tensor comes back into later
    reloaded_bytes: int  # transfers into a memory that held a copy of the tensor before
    core_busy_cycles: dict[CoreId, int]
    core_utilization: dict[CoreId, float]
    link_busy_cycles: dict[LinkId, int]
    link_utilization: dict[LinkId, float]  # carried bytes / (bandwidth x latency)

    def peak_bytes(self, kind: TensorKind | None = None) -> dict[MemoryId, int]:
        """Peak bytes per bounded memory: of every tensor held, or (with `kind`) of that kind
        alone (its own peak over time, not its share of the total peak)."""
        return {
            m: p.peak_bytes if kind is None else p.peak_by_kind.get(kind, 0)
            for m, p in self.peak_memory.items()
        }

    def largest_peak_bytes(self, kind: TensorKind | None = None) -> int:
        """The largest peak over bounded memories (0 without any): the `memory` metric, or
        with `kind="activation"` the `activation-memory` one."""
        return max(self.peak_bytes(kind).values(), default=0)

    def metric(self, metric: Metric) -> float:
        """The value of one objective metric (cpsched.model.objective), in its unit."""
        if metric == "latency":
            return float(self.latency_cycles)
        if metric == "energy":
            return self.energy_total_pj
        kind: TensorKind | None = "activation" if metric.startswith("activation-") else None
        if metric.endswith("-sum"):
            return float(sum(self.peak_bytes(kind).values()))
        return float(self.largest_peak_bytes(kind))

    def stage_value(self, stage: Stage) -> float:
        """The weighted sum of one objective stage, summed exactly (weights are fractions)."""
        total = sum((t.weight * Fraction(self.metric(t.metric)) for t in stage.terms), Fraction(0))
        return float(total)

    def objective_values(self, objective: str | Objective) -> list[float]:
        """The value of every stage of `objective`, first stage first."""
        return [self.stage_value(s) for s in as_objective(objective).stages]


class MemoryTimeline(_Value):
    """Bytes held per kind on [times[i], times[i+1]) (the last entry: from times[-1] on)."""

    capacity_bytes: int | None
    times: list[int]
    bytes_by_kind: dict[TensorKind, list[int]]


def _latency(timing: Timing) -> int:
    ends = [p.end for p in timing.placed.values()] + [tr.end for tr in timing.transfers]
    return max(ends, default=0)


def _holds_by_memory(problem: Problem, copies: Copies) -> dict[MemoryId, list[Hold]]:
    out: dict[MemoryId, list[Hold]] = {m.id: [] for m in problem.memories}
    for h in holds_of(problem, copies):
        out[h.memory].append(h)
    return out


def spills_and_reloads(copies: Copies) -> tuple[set[int], set[int]]:
    """The positions of the transfers that spill and of those that reload (docs/metrics.md).

    A transfer *reloads* when it brings a tensor into a memory that held a copy of it before
    (a copy allocated earlier there). The copy held before it is *spilled* by the transfer
    out of that memory that reads it last, when such a transfer ends at the copy's release
    (a copy dropped after its last task reads it is not spilled: it costs no transfer).
    """
    spills: set[int] = set()
    reloads: set[int] = set()
    for mine in copies.by_key.values():
        if len(mine) < 2:
            continue
        ordered = sorted(mine, key=lambda c: (c.alloc, c.avail, c.position))
        for before, c in pairwise(ordered):
            if c.position < 0:
                continue
            reloads.add(c.position)
            out = before.last_transfer_reader
            if out is not None and out[0] == before.release and not before.never_released:
                spills.add(out[1])
    return spills, reloads


def _peak(capacity_bytes: int, holds: list[Hold]) -> PeakMemory:
    times, by_kind = held_bytes_timeline(holds)
    peak, at = 0, 0
    for i, t in enumerate(times):
        total = sum(by_kind[k][i] for k in TENSOR_KINDS)
        if total > peak:
            peak, at = total, t
    at_index = times.index(at) if peak > 0 else -1
    return PeakMemory(
        capacity_bytes=capacity_bytes,
        peak_bytes=peak,
        at_cycle=at,
        by_kind={k: (by_kind[k][at_index] if at_index >= 0 else 0) for k in TENSOR_KINDS},
        peak_by_kind={k: max(by_kind[k], default=0) for k in TENSOR_KINDS},
    )


def metrics(problem: Problem, schedule: Schedule) -> Metrics:
    """Latency, energy (compute, transfer), peak memory, traffic (with spills and reloads) and
    utilization (docs/metrics.md)."""
    with collector_paused():
        return _metrics(problem, schedule)


def _metrics(problem: Problem, schedule: Schedule) -> Metrics:
    timing = timed_schedule(problem, schedule)
    copies = derive_copies(problem, timing)
    latency = _latency(timing)
    energy_compute = sum(p.energy_pj for p in timing.placed.values())
    energy_transfer = sum(tr.energy_pj for tr in timing.transfers)
    holds = _holds_by_memory(problem, copies)
    peaks = {
        m.id: _peak(m.capacity_bytes, holds[m.id])
        for m in problem.memories
        if m.capacity_bytes is not None
    }
    traffic: dict[LinkId, int] = {lk.id: 0 for lk in problem.links}
    link_busy: dict[LinkId, int] = {lk.id: 0 for lk in problem.links}
    dram_in = dram_out = 0
    for tr in timing.transfers:
        for lk in tr.links:
            traffic[lk] += tr.size_bytes
            link_busy[lk] += tr.end - tr.start
        if DRAM in tr.dsts:
            dram_in += tr.size_bytes
        if tr.src == DRAM:
            dram_out += tr.size_bytes
    core_busy: dict[CoreId, int] = defaultdict(int)
    for c in problem.cores:
        core_busy[c.id] = 0
    for p in timing.placed.values():
        core_busy[p.core] += p.end - p.start

    def share(busy: int) -> float:
        return busy / latency if latency > 0 else 0.0

    def carried(link: LinkId) -> float:
        capacity = exact(problem.link_by_id[link].bandwidth_bytes_per_cycle) * latency
        return float(traffic[link] / capacity) if latency > 0 else 0.0

    spills, reloads = spills_and_reloads(copies)
    size_at = {tr.position: tr.size_bytes for tr in timing.transfers}

    return Metrics(
        latency_cycles=latency,
        energy_compute_pj=energy_compute,
        energy_transfer_pj=energy_transfer,
        energy_total_pj=energy_compute + energy_transfer,
        peak_memory=peaks,
        link_traffic_bytes=traffic,
        dram_in_bytes=dram_in,
        dram_out_bytes=dram_out,
        spilled_bytes=sum(size_at[i] for i in spills),
        reloaded_bytes=sum(size_at[i] for i in reloads),
        core_busy_cycles=dict(core_busy),
        core_utilization={c: share(b) for c, b in core_busy.items()},
        link_busy_cycles=link_busy,
        link_utilization={lk: carried(lk) for lk in link_busy},
    )


def memory_timeline(problem: Problem, schedule: Schedule) -> dict[MemoryId, MemoryTimeline]:
    """For every memory, the bytes held per tensor kind over time (step function), for plots."""
    timing = timed_schedule(problem, schedule)
    holds = _holds_by_memory(problem, derive_copies(problem, timing))
    out: dict[MemoryId, MemoryTimeline] = {}
    for m in problem.memories:
        times, by_kind = held_bytes_timeline(holds[m.id])
        out[m.id] = MemoryTimeline(
            capacity_bytes=m.capacity_bytes, times=times, bytes_by_kind=by_kind
        )
    return out
