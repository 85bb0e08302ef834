"""The metrics a CP-SAT objective stands for, measured on a schedule (SPEC.md §5, rule 9 holds).

The solver reports the objective of the schedule it returns measured here, not the model's
variables (whose memory releases may be later than needed away from an optimum). This
assumes a schedule the validator accepts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from cpsched.model.objective import Metric, Stage
from cpsched.model.problem import MemoryId, Problem, TensorId
from cpsched.model.schedule import Schedule


@dataclass(frozen=True)
class Measures:
    """Latency (cycles), energy (pJ), and peak bytes per bounded memory (total and activations)."""

    latency_cycles: int
    compute_energy_pj: float
    transfer_energy_pj: float
    peak_bytes: dict[MemoryId, int]
    activation_peak_bytes: dict[MemoryId, int]

    @property
    def energy_pj(self) -> float:
        """Compute plus transfer energy."""
        return self.compute_energy_pj + self.transfer_energy_pj

    def metric(self, metric: Metric) -> float:
        """The value of one objective metric."""
        if metric == "latency":
            return float(self.latency_cycles)
        if metric == "energy":
            return self.energy_pj
        peaks = (
            self.peak_bytes if metric in ("memory", "memory-sum") else self.activation_peak_bytes
        )
        if metric.endswith("-sum"):
            return float(sum(peaks.values()))
        return float(max(peaks.values(), default=0))

    def stage_value(self, stage: Stage) -> float:
        """The weighted sum of one objective stage."""
        return float(
            sum((t.weight * Fraction(self.metric(t.metric)) for t in stage.terms), Fraction(0))
        )


def _peak(intervals: list[tuple[int, int, int]]) -> int:
    events: list[tuple[int, int]] = []
    for start, end, size in intervals:
        if end > start and size > 0:
            events.append((start, size))
            events.append((end, -size))
    events.sort(key=lambda e: (e[0], e[1]))  # releases before allocations at the same time
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def measure(problem: Problem, schedule: Schedule) -> Measures:
    """Measure latency, energy and memory peaks of a (valid) schedule."""
    core_of = {st.id: st.core for st in schedule.tasks}
    start = {st.id: st.start for st in schedule.tasks}
    end = {}
    compute = 0.0
    for st in schedule.tasks:
        opt = problem.option(st.id, st.core)
        assert opt is not None
        end[st.id] = st.start + opt.duration_cycles
        compute += opt.energy_pj
    latency = max(end.values(), default=0)
    transfer_energy = 0.0
    copies: dict[tuple[TensorId, MemoryId], list[int]] = {}  # [alloc, available, release]
    for tensor in problem.tensors:
        if tensor.producer is None:
            assert tensor.home is not None
            copies[(tensor.id, tensor.home)] = [0, 0, 0]
        elif tensor.producer in core_of:
            m = problem.memory_of(core_of[tensor.producer])
            copies[(tensor.id, m)] = [
                start[tensor.producer],
                end[tensor.producer],
                end[tensor.producer],
            ]
    for x in schedule.transfers:
        d = problem.transfer_duration_cycles(x.tensor, x.src, x.dst)
        latency = max(latency, x.start + d)
        transfer_energy += problem.transfer_energy_pj(x.tensor, x.src, x.dst)
        copies[(x.tensor, x.dst)] = [x.start, x.start + d, x.start + d]
        source = copies.get((x.tensor, x.src))
        if source is not None:
            source[2] = max(source[2], x.start + d)
    for task in problem.tasks:
        if task.id not in core_of:
            continue
        m = problem.memory_of(core_of[task.id])
        for tensor_id in task.inputs:
            copy = copies.get((tensor_id, m))
            if copy is not None:
                copy[2] = max(copy[2], end[task.id])
    per_memory: dict[MemoryId, list[tuple[int, int, int]]] = defaultdict(list)
    activations: dict[MemoryId, list[tuple[int, int, int]]] = defaultdict(list)
    for (tensor_id, m), (alloc, _, release) in copies.items():
        tensor = problem.tensor_by_id[tensor_id]
        per_memory[m].append((alloc, release, tensor.size_bytes))
        if tensor.kind == "activation":
            activations[m].append((alloc, release, tensor.size_bytes))
    bounded = [m.id for m in problem.memories if m.capacity_bytes is not None]
    return Measures(
        latency_cycles=latency,
        compute_energy_pj=compute,
        transfer_energy_pj=transfer_energy,
        peak_bytes={m: _peak(per_memory[m]) for m in bounded},
        activation_peak_bytes={m: _peak(activations[m]) for m in bounded},
    )
