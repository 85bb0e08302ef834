"""The decision variables of the CP-SAT model, named after what they stand for.

Only creation happens here; how they relate is in :mod:`cpsched.cpsat.constraints`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from cpsched.cpsat.space import Space, TransferOption
from cpsched.model.problem import CoreId, MemoryId, TaskId, TensorId
from cpsched.model.space import CopyKind


@dataclass
class Hold:
    """A copy of a tensor held in a bounded memory: optional interval, allocation to release."""

    tensor: TensorId
    memory: MemoryId
    kind: CopyKind
    size_bytes: int
    present: cp_model.IntVar
    release: cp_model.IntVar
    interval: cp_model.IntervalVar


@dataclass
class Variables:
    """Every variable of one model; keys are problem ids."""

    horizon_cycles: int
    true: cp_model.IntVar  # a literal fixed to 1
    start: dict[TaskId, cp_model.IntVar] = field(default_factory=dict)
    end: dict[TaskId, cp_model.IntVar] = field(default_factory=dict)
    task_interval: dict[TaskId, cp_model.IntervalVar] = field(default_factory=dict)
    on: dict[tuple[TaskId, CoreId], cp_model.IntVar] = field(default_factory=dict)
    on_interval: dict[tuple[TaskId, CoreId], cp_model.IntervalVar] = field(default_factory=dict)
    source_is: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    needed_in: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    moved_in: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    transfer_start: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    transfer_end: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    transfer: dict[tuple[TensorId, MemoryId, MemoryId], cp_model.IntVar] = field(
        default_factory=dict
    )
    transfer_interval: dict[tuple[TensorId, MemoryId, MemoryId], cp_model.IntervalVar] = field(
        default_factory=dict
    )
    transfer_option: dict[tuple[TensorId, MemoryId, MemoryId], TransferOption] = field(
        default_factory=dict
    )
    # multicast: follows[x, s, d, lead] when the transfer of x from s into d rides along the one
    # into lead (Space.leaders); occupies[x, s, d] when that transfer is made and follows none,
    # so that it uses its route's links (the transfer literal itself when it can follow none)
    follows: dict[tuple[TensorId, MemoryId, MemoryId, MemoryId], cp_model.IntVar] = field(
        default_factory=dict
    )
    occupies: dict[tuple[TensorId, MemoryId, MemoryId], cp_model.IntVar] = field(
        default_factory=dict
    )
    # reloads (Space.reloads): a literal per option of a second transfer of x into m, its
    # times, and whether it is made; which readers in m read the reload copy (task readers by
    # consumer, transfer readers by destination)
    reload: dict[tuple[TensorId, MemoryId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    reload_interval: dict[tuple[TensorId, MemoryId, MemoryId], cp_model.IntervalVar] = field(
        default_factory=dict
    )
    reload_option: dict[tuple[TensorId, MemoryId, MemoryId], TransferOption] = field(
        default_factory=dict
    )
    reload_start: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    reload_end: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    reloaded: dict[tuple[TensorId, MemoryId], cp_model.IntVar] = field(default_factory=dict)
    reads_reload: dict[tuple[TensorId, MemoryId, TaskId], cp_model.IntVar] = field(
        default_factory=dict
    )
    sends_reload: dict[tuple[TensorId, MemoryId, MemoryId], cp_model.IntVar] = field(
        default_factory=dict
    )
    holds: list[Hold] = field(default_factory=list)
    makespan: cp_model.IntVar | None = None

    def link_users(self) -> list[tuple[TransferOption, cp_model.IntervalVar]]:
        """Every transfer that may use links, with its route interval: the transfers, then the
        reloads."""
        return [(self.transfer_option[k], i) for k, i in self.transfer_interval.items()] + [
            (self.reload_option[k], i) for k, i in self.reload_interval.items()
        ]


def _literal(model: cp_model.CpModel, name: str, sources: list[cp_model.IntVar]) -> cp_model.IntVar:
    """A literal equal to the sum of mutually exclusive literals (reused when there is one)."""
    if len(sources) == 1:
        return sources[0]
    lit = model.new_bool_var(name)
    model.add(lit == cp_model.LinearExpr.sum(sources))  # sum() built the same, slower
    return lit


def create_task_variables(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Start, end, duration per task; placement literal and optional interval per candidate core."""
    h = v.horizon_cycles
    for t, cores in space.cores.items():
        durations = [space.duration(t, k) for k in cores]
        v.start[t] = model.new_int_var(0, h, f"start[{t}]")
        v.end[t] = model.new_int_var(0, h, f"end[{t}]")
        if len(set(durations)) == 1:
            duration: cp_model.LinearExprT = durations[0]
        else:
            duration = model.new_int_var(min(durations), max(durations), f"duration[{t}]")
        v.task_interval[t] = model.new_interval_var(v.start[t], duration, v.end[t], f"task[{t}]")
        for k, d in zip(cores, durations, strict=True):
            on = v.true if len(cores) == 1 else model.new_bool_var(f"on[{t},{k}]")
            v.on[(t, k)] = on
            v.on_interval[(t, k)] = model.new_optional_interval_var(
                v.start[t], d, v.end[t], on, f"run[{t},{k}]"
            )
        if not isinstance(duration, int):
            model.add(
                duration == sum(d * v.on[(t, k)] for k, d in zip(cores, durations, strict=True))
            )


def create_transfer_variables(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    leaders: Mapping[tuple[TensorId, MemoryId, MemoryId], tuple[MemoryId, ...]] | None = None,
) -> None:
    """Source-memory literals per tensor; need, presence, times and route intervals per transfer.
    With `leaders` (multicast, :attr:`Space.leaders`), a follow literal per (transfer, leader),
    and the route interval of a transfer that may follow is present only when it follows none."""
    leaders = leaders or {}
    p = space.problem
    h = v.horizon_cycles
    for tensor in p.tensors:
        for s in space.sources[tensor.id]:
            if tensor.producer is None:
                lit = v.true
            else:
                lits = [v.on[(tensor.producer, k)] for k in space.cores_in(tensor.producer, s)]
                lit = _literal(model, f"source[{tensor.id},{s}]", lits)
            v.source_is[(tensor.id, s)] = lit
        for m in space.dests[tensor.id]:
            if tensor.store and m == "dram":
                v.needed_in[(tensor.id, m)] = v.true
            else:
                v.needed_in[(tensor.id, m)] = model.new_bool_var(f"needed[{tensor.id},{m}]")
    for (tensor_id, m), options in space.transfers.items():
        v.transfer_start[(tensor_id, m)] = model.new_int_var(
            0, h, f"transfer_start[{tensor_id},{m}]"
        )
        v.transfer_end[(tensor_id, m)] = model.new_int_var(0, h, f"transfer_end[{tensor_id},{m}]")
        lits = []
        for o in options:
            key = (tensor_id, o.src, m)
            lit = model.new_bool_var(f"transfer[{tensor_id},{o.src}->{m}]")
            v.transfer[key] = lit
            v.transfer_option[key] = o
            occupies = lit
            if key in leaders:
                occupies = model.new_bool_var(f"occupies[{tensor_id},{o.src}->{m}]")
                for lead in leaders[key]:
                    v.follows[(tensor_id, o.src, m, lead)] = model.new_bool_var(
                        f"follows[{tensor_id},{o.src}->{m},{lead}]"
                    )
            v.occupies[key] = occupies
            # present when the transfer uses its links; a follower's times are its leader's
            v.transfer_interval[key] = model.new_optional_interval_var(
                v.transfer_start[(tensor_id, m)],
                o.duration_cycles,
                v.transfer_end[(tensor_id, m)],
                occupies,
                f"move[{tensor_id},{o.src}->{m}]",
            )
            lits.append(lit)
        v.moved_in[(tensor_id, m)] = _literal(model, f"moved[{tensor_id},{m}]", lits)


def create_reload_variables(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Per reload of a tensor into a memory (:attr:`Space.reloads`): a literal and route interval
    per option, shared times, and per reader in that memory whether it reads the reload copy."""
    p = space.problem
    h = v.horizon_cycles
    # the destinations of the transfers out of each (tensor, memory), in transfer order
    sent_to: dict[tuple[TensorId, MemoryId], list[MemoryId]] = defaultdict(list)
    for tensor_id, s, d in v.transfer:
        sent_to[(tensor_id, s)].append(d)
    for (x, m), options in space.reloads.items():
        start = v.reload_start[(x, m)] = model.new_int_var(0, h, f"reload_start[{x},{m}]")
        end = v.reload_end[(x, m)] = model.new_int_var(0, h, f"reload_end[{x},{m}]")
        lits = []
        for o in options:
            key = (x, o.src, m)
            lit = v.reload[key] = model.new_bool_var(f"reload[{x},{o.src}->{m}]")
            v.reload_option[key] = o
            v.reload_interval[key] = model.new_optional_interval_var(
                start, o.duration_cycles, end, lit, f"remove[{x},{o.src}->{m}]"
            )
            lits.append(lit)
        v.reloaded[(x, m)] = _literal(model, f"reloaded[{x},{m}]", lits)
        for c in dict.fromkeys(c for c, _ in space.readers_in(x, m)):
            v.reads_reload[(x, m, c)] = model.new_bool_var(f"reads_reload[{x},{m},{c}]")
        for d in sent_to.get((x, m), ()):
            if p.memory_by_id[m].backing != d:
                v.sends_reload[(x, m, d)] = model.new_bool_var(f"sends_reload[{x},{m}->{d}]")


def create_hold_variables(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """One optional interval per copy a bounded memory may hold, from allocation to release
    (reload copies last)."""
    p = space.problem
    for copy in space.bounded_copies:
        key = (copy.tensor, copy.memory)
        if copy.kind == "source":
            producer = p.tensor_by_id[copy.tensor].producer
            present, alloc = v.source_is[key], 0 if producer is None else v.start[producer]
        else:
            present, alloc = v.moved_in[key], v.transfer_start[key]
        _add_hold(model, v, *key, copy.kind, copy.size_bytes, present, alloc, v.horizon_cycles)
    for key in space.reloads:
        size = p.tensor_by_id[key[0]].size_bytes
        present, alloc = v.reloaded[key], v.reload_start[key]
        _add_hold(model, v, *key, "reload", size, present, alloc, v.horizon_cycles)


def _add_hold(
    model: cp_model.CpModel,
    v: Variables,
    tensor: TensorId,
    memory: MemoryId,
    kind: CopyKind,
    size_bytes: int,
    present: cp_model.IntVar,
    alloc: cp_model.LinearExprT,
    h: int,
) -> None:
    release = model.new_int_var(0, h, f"release[{tensor},{memory},{kind}]")
    length = model.new_int_var(0, h, f"held[{tensor},{memory},{kind}]")
    interval = model.new_optional_interval_var(
        alloc, length, release, present, f"hold[{tensor},{memory},{kind}]"
    )
    v.holds.append(Hold(tensor, memory, kind, size_bytes, present, release, interval))


def create_variables(
    model: cp_model.CpModel,
    space: Space,
    horizon_cycles: int,
    leaders: Mapping[tuple[TensorId, MemoryId, MemoryId], tuple[MemoryId, ...]] | None = None,
) -> Variables:
    """Create every variable of the model over [0, horizon_cycles] (with `leaders`: the follow
    literals of multicast)."""
    true = model.new_bool_var("true")
    model.add(true == 1)
    v = Variables(horizon_cycles=horizon_cycles, true=true)
    create_task_variables(model, space, v)
    create_transfer_variables(model, space, v, leaders)
    create_reload_variables(model, space, v)
    create_hold_variables(model, space, v)
    v.makespan = model.new_int_var(0, horizon_cycles, "makespan")
    return v
