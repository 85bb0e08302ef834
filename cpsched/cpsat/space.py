"""The search space the CP-SAT model covers, worked out from a problem (no ortools here).

docs/results.md lets a solver search a smaller space than docs/validity.md allows; this one:

- at most one transfer of a tensor into each memory, always from the tensor's source memory
  (its producer's memory, or its home), and only into a memory where a consumer of the tensor
  runs (or into `dram` for a `store: true` tensor); never into the source memory itself;
- a copy is held from its allocation (producer start, transfer start, or 0 at home) until a
  release time the solver chooses no earlier than docs/validity.md, rule 9's release, so a model's
  memory use over-approximates the schedule's; at an optimum they coincide;
- a task or transfer of zero duration never conflicts on a core or link (half-open intervals).

Every valid schedule that moves only needed tensors lies in this space (a second transfer into one
memory is a violation anyway, and an unneeded transfer only costs time, energy and memory), so an
optimum here is an optimum over all valid schedules for every objective cpsched offers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cpsched.model.errors import input_error
from cpsched.model.graph import graph_facts, source_memories
from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, Problem, TaskId, TensorId


@dataclass(frozen=True)
class TransferOption:
    """A possible transfer of one tensor from one memory to another, with its fixed costs."""

    tensor: TensorId
    src: MemoryId
    dst: MemoryId
    duration_cycles: int
    energy_pj: float
    links: tuple[LinkId, ...]


@dataclass
class Space:
    """Candidate cores, source and destination memories, and transfer options of a problem."""

    problem: Problem
    cores: dict[TaskId, tuple[CoreId, ...]]
    sources: dict[TensorId, tuple[MemoryId, ...]]
    dests: dict[TensorId, tuple[MemoryId, ...]]
    transfers: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]]
    unroutable: list[tuple[TensorId, MemoryId, MemoryId]]
    bounded: tuple[MemoryId, ...]
    # the tasks each task waits for (data, `after`, barriers): the problem's graph facts
    predecessors: Mapping[TaskId, frozenset[TaskId]] = field(default_factory=dict)

    def duration(self, task: TaskId, core: CoreId) -> int:
        """Duration of `task` on `core` (which must be a candidate)."""
        opt = self.problem.option(task, core)
        assert opt is not None
        return opt.duration_cycles

    def min_duration(self, task: TaskId) -> int:
        """Shortest duration of `task` over its candidate cores (0 when it has none)."""
        return min((self.duration(task, k) for k in self.cores[task]), default=0)

    def safe_horizon_cycles(self) -> int:
        """An end time no schedule of the space needs to pass: every task and transfer in a row.

        Cutting every idle stretch out of a schedule changes neither its validity, nor its energy,
        nor its memory peaks; what remains is at most this long.
        """
        total = sum(
            max((self.duration(t, k) for k in ks), default=0) for t, ks in self.cores.items()
        )
        for options in self.transfers.values():
            total += max(o.duration_cycles for o in options)
        return total


def build_space(
    problem: Problem,
    fixed_cores: Mapping[TaskId, CoreId] | None = None,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None = None,
) -> Space:
    """Work out the search space; bad `fixed_cores`/`fixed_order` ids are an InputError."""
    order = {t.id: i for i, t in enumerate(problem.tasks)}
    cores: dict[TaskId, set[CoreId]] = {t.id: {o.core for o in t.options} for t in problem.tasks}
    forced: dict[TaskId, CoreId] = dict(fixed_cores or {})
    for core, seq in (fixed_order or {}).items():
        if core not in problem.core_by_id:
            raise input_error("fixed_order", str(core), f"unknown core {core!r}")
        for t in seq:
            if forced.get(t, core) != core:
                raise input_error(
                    "fixed_order", str(core), f"task {t!r} is fixed to core {forced[t]!r}"
                )
            forced[t] = core
    for t, core in forced.items():
        if t not in problem.task_by_id:
            raise input_error("fixed_cores", str(t), f"unknown task {t!r}")
        if core not in cores[t]:
            raise input_error(
                "fixed_cores", str(t), f"core {core!r} is not among the options of task {t!r}"
            )
        cores[t] = {core}
    facts = graph_facts(problem)
    cores = facts.intersect_over_groups(cores)
    core_order = {c.id: i for i, c in enumerate(problem.cores)}
    cand = {t: tuple(sorted(ks, key=core_order.__getitem__)) for t, ks in cores.items()}
    cand = {t.id: cand[t.id] for t in sorted(problem.tasks, key=lambda x: order[x.id])}

    sources: dict[TensorId, tuple[MemoryId, ...]] = {}
    dests: dict[TensorId, tuple[MemoryId, ...]] = {}
    transfers: dict[tuple[TensorId, MemoryId], tuple[TransferOption, ...]] = {}
    unroutable: list[tuple[TensorId, MemoryId, MemoryId]] = []
    mem_order = {m.id: i for i, m in enumerate(problem.memories)}
    sources_of = source_memories(problem, cand)
    for tensor in problem.tensors:
        src = sources_of[tensor.id]
        dst: set[MemoryId] = {
            problem.memory_of(k) for c in problem.consumers[tensor.id] for k in cand[c]
        }
        if tensor.store:
            dst.add(DRAM)
        sources[tensor.id] = tuple(sorted(src, key=mem_order.__getitem__))
        dests[tensor.id] = tuple(sorted(dst, key=mem_order.__getitem__))
        for m in dests[tensor.id]:
            options: list[TransferOption] = []
            for s in sources[tensor.id]:
                if s == m:
                    continue
                route = problem.route_by_pair.get((s, m))
                if route is None:
                    unroutable.append((tensor.id, s, m))
                    continue
                options.append(
                    TransferOption(
                        tensor.id,
                        s,
                        m,
                        problem.transfer_duration_cycles(tensor.id, s, m),
                        problem.transfer_energy_pj(tensor.id, s, m),
                        route.links,
                    )
                )
            if options:
                transfers[(tensor.id, m)] = tuple(options)

    bounded = tuple(m.id for m in problem.memories if m.capacity_bytes is not None)
    return Space(problem, cand, sources, dests, transfers, unroutable, bounded, facts.predecessors)
