"""The constraints of the CP-SAT model: one named function per family of docs/validity.md.

Each function adds one family; :func:`cpsched.cpsat.model.build_model` calls them in turn.
The strengthenings (redundant constraints, symmetry breaking) are in
:mod:`cpsched.cpsat.strengthen`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import pairwise

from ortools.sat.python import cp_model

from cpsched.cpsat.space import LinkShares, Space
from cpsched.cpsat.variables import Variables
from cpsched.model.problem import DRAM, CoreId, LinkId, MemoryId, TaskId, TensorId


def add_assignment(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rule 1: every task on exactly one candidate core; the tasks of a group on the same core."""
    for t, cores in space.cores.items():
        if len(cores) > 1:
            model.add_exactly_one(v.on[(t, k)] for k in cores)
    for group in space.problem.groups:
        first = group[0]
        for other in group[1:]:
            for k in space.cores[first]:  # groups share their candidate cores (see Space)
                if len(space.cores[first]) > 1:
                    model.add(v.on[(first, k)] == v.on[(other, k)])


def add_core_exclusivity(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rule 2: no two tasks overlap on a core (zero-length runs overlap nothing: left out)."""
    per_core: dict[CoreId, list[cp_model.IntervalVar]] = defaultdict(list)
    for (t, k), interval in v.on_interval.items():
        if space.duration(t, k) > 0:
            per_core[k].append(interval)
    for intervals in per_core.values():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)


def add_transfer_presence(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """A transfer into memory m exists exactly when some consumer runs on m (or m is DRAM for a
    stored tensor) and the tensor is not produced in m; a needed copy with no route is forbidden.
    This also covers rule 7 (stores): a stored tensor is needed in DRAM unconditionally.

    With staging (:func:`cpsched.model.space.with_staging`), the transfer into m may instead
    leave from the copy in m's backing store b, which is then needed (so moved in from the
    source); likewise from a spilled copy in a store (:attr:`Space.spill_stores`). m must not be
    the tensor's source memory then (rule 9: one copy per memory)."""
    p = space.problem
    # transfers out of a copy that was moved in (staging, reload from the backing store): that
    # copy is needed when one is made
    copy_out: dict[tuple[TensorId, MemoryId], list[cp_model.IntVar]] = defaultdict(list)
    copy_in: dict[tuple[TensorId, MemoryId], list[cp_model.IntVar]] = defaultdict(list)
    for (tensor_id, s, m), lit in v.transfer.items():
        if space.from_copy_in(tensor_id, s):
            copy_in[(tensor_id, m)].append(lit)
            if p.memory_by_id[s].backing != m:  # out of a staged or spilled copy, not a spill
                copy_out[(tensor_id, s)].append(lit)
    for (tensor_id, s, _), lit in v.reload.items():
        if space.from_copy_in(tensor_id, s):
            copy_out[(tensor_id, s)].append(lit)
    for tensor in p.tensors:
        for m in space.dests[tensor.id]:
            need = v.needed_in[(tensor.id, m)]
            if need is v.true:
                continue
            placements = [v.on[placement] for placement in space.readers_in(tensor.id, m)]
            placements += copy_out.get((tensor.id, m), [])
            model.add_bool_or(placements).only_enforce_if(need)
            for lit in placements:
                model.add_implication(lit, need)
    for (tensor_id, s, m), lit in v.transfer.items():
        need = v.needed_in[(tensor_id, m)]
        if space.from_copy_in(tensor_id, s):
            model.add_implication(lit, need)
            model.add_implication(lit, v.moved_in[(tensor_id, s)])
            if (tensor_id, m) in v.source_is:  # a first copy: never into the source memory
                model.add_implication(lit, v.source_is[(tensor_id, m)].Not())
            continue
        src = v.source_is[(tensor_id, s)]
        model.add_implication(lit, src)
        model.add_implication(lit, need)
        model.add_bool_or([src.Not(), need.Not(), lit, *copy_in.get((tensor_id, m), [])])
    for tensor_id, s, m in space.unroutable:
        either = [v.source_is[(tensor_id, s)].Not(), v.needed_in[(tensor_id, m)].Not()]
        model.add_bool_or([*either, *copy_in.get((tensor_id, m), [])])


def add_data_dependencies(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rules 3-5: a transfer starts once its tensor is produced; a consumer starts once each input
    is available in its memory (its producer's end, or the end of the transfer into that memory);
    a transfer out of a moved copy (staged, or a spill) starts once that copy is available."""
    p = space.problem
    for (tensor_id, m), start in v.transfer_start.items():
        producer = p.tensor_by_id[tensor_id].producer
        if producer is not None:
            model.add(start >= v.end[producer]).only_enforce_if(v.moved_in[(tensor_id, m)])
    for (tensor_id, s, m), lit in v.transfer.items():
        if space.from_copy_in(tensor_id, s):  # out of a staging copy, or a spill
            after = v.transfer_start[(tensor_id, m)] >= v.transfer_end[(tensor_id, s)]
            model.add(after).only_enforce_if(lit)
    for task in p.tasks:
        for tensor_id in task.inputs:
            producer = p.tensor_by_id[tensor_id].producer
            if producer is not None:
                model.add(v.start[task.id] >= v.end[producer])
            for k in space.cores[task.id]:
                m = p.memory_of(k)
                if (tensor_id, m) in v.moved_in:
                    model.add(v.start[task.id] >= v.transfer_end[(tensor_id, m)]).only_enforce_if(
                        [v.on[(task.id, k)], v.moved_in[(tensor_id, m)]]
                    )


def add_control_dependencies(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rule 6: every task in `after` ends before the task starts."""
    for task in space.problem.tasks:
        for a in task.after:
            model.add(v.start[task.id] >= v.end[a])


def add_barriers(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rule 6: no task after a barrier starts before every task before it has ended (through
    one time variable per barrier, so the model grows linearly)."""
    for i, barrier in enumerate(space.problem.barriers):
        at = model.new_int_var(0, v.horizon_cycles, f"barrier[{i}]")
        for b in barrier.before:
            model.add(at >= v.end[b])
        for a in barrier.after:
            model.add(v.start[a] >= at)


def add_multicast(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rules 3, 5 and 8 for multicast (docs/schedule.md): a transfer that follows another of the
    same tensor from the same source is one transfer with it: both are made, they start and end
    together (the leader's duration is the multicast's, :attr:`Space.leaders`), the follower
    uses no link (its route interval is absent) and the leader follows none. A transfer follows
    at most one leader; its copy is held from the shared start as before."""
    per_transfer: dict[tuple[TensorId, MemoryId, MemoryId], list[cp_model.IntVar]] = defaultdict(
        list
    )
    for (tensor_id, s, m, lead), f in v.follows.items():
        per_transfer[(tensor_id, s, m)].append(f)
        model.add_implication(f, v.occupies[(tensor_id, s, lead)])  # made, and itself leads
        for times in (v.transfer_start, v.transfer_end):
            model.add(times[(tensor_id, m)] == times[(tensor_id, lead)]).only_enforce_if(f)
    for key, fs in per_transfer.items():
        # made = occupies its links, or follows exactly one leader
        model.add(v.occupies[key] + sum(fs) == v.transfer[key])


def add_link_exclusivity(
    model: cp_model.CpModel, space: Space, v: Variables, shares: LinkShares | None = None
) -> list[LinkId]:
    """Rule 8: every transfer runs at its route's full rate; an `exclusive` link carries one
    transfer at a time, a `bandwidth` link transfers whose rates add up to at most its bandwidth
    (`shares`; None: one at a time everywhere). Zero-length transfers are left out; a
    multicast's followers use no link (their route intervals are absent); reloads use their
    route like any transfer.

    A link where every transfer that may use it takes all of it (an `exclusive` link, or each
    transfer's rate is the link's bandwidth) gets a no-overlap, which propagates more strongly
    than a cumulative; the others a cumulative with demand `rate * D` and capacity
    `bandwidth * D`, `D` the least common denominator of those rationals (exact integers).
    Returns the links given a cumulative."""
    per_link: dict[LinkId, list[tuple[cp_model.IntervalVar, Fraction]]] = defaultdict(list)
    partial: set[LinkId] = set()  # links some transfer takes only a share of
    # per route, each link's share and whether it is the whole link: once per distinct route
    route_shares: dict[tuple[LinkId, ...], list[tuple[LinkId, Fraction, bool]]] = {}
    for option, interval in v.link_users():  # transfers, then reloads
        if option.duration_cycles > 0:
            on_route = route_shares.get(option.links)
            if on_route is None:
                of_route = None if shares is None else shares.shares(option.links)
                on_route = route_shares[option.links] = []
                for link in option.links:
                    share = Fraction(1) if of_route is None else of_route[link]
                    on_route.append((link, share, share == 1))
            for link, share, whole in on_route:
                per_link[link].append((interval, share))
                if not whole:
                    partial.add(link)
    shared: list[LinkId] = []
    for link, items in per_link.items():
        if link not in partial:  # every transfer takes the whole link
            if len(items) > 1:
                model.add_no_overlap([i for i, _ in items])
            continue
        if len(items) == 1:
            continue  # one transfer at its rate never exceeds the link
        assert shares is not None
        bandwidth = shares.bandwidth(link)
        rates = [share * bandwidth for _, share in items]
        scale = math.lcm(bandwidth.denominator, *(r.denominator for r in rates))
        model.add_cumulative(
            [i for i, _ in items],
            [int(r * scale) for r in rates],
            int(bandwidth * scale),
        )
        shared.append(link)
    return shared


def _holds_if(
    reload: bool, lit: cp_model.IntVar, choice: cp_model.IntVar | None
) -> list[cp_model.LiteralT]:
    """When a reader (present with `lit`) holds the reload copy (`reload`) or the first copy: by
    its `choice` of copy; with none (no reload there, or a spill) it reads the first copy."""
    if choice is None:
        return [] if reload else [lit]
    return [lit, choice] if reload else [lit, choice.Not()]


def add_releases(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rule 9, release times: a copy is held at least until it is available and until every task
    in its memory and every transfer out of it that reads it has ended. Where a tensor may be
    reloaded into a memory, each reader there reads the first copy or the reload copy
    (:func:`add_reloads`), and holds the one it reads."""
    p = space.problem
    out_of: dict[tuple[TensorId, MemoryId], list[MemoryId]] = defaultdict(list)
    for tensor_id, s, m in v.transfer:  # transfers indexed by their source copy
        out_of[(tensor_id, s)].append(m)
    reloads_out: dict[tuple[TensorId, MemoryId], list[MemoryId]] = defaultdict(list)
    for tensor_id, s, m in v.reload:
        reloads_out[(tensor_id, s)].append(m)
    for hold in v.holds:
        tensor = p.tensor_by_id[hold.tensor]
        key = (hold.tensor, hold.memory)
        if hold.memory == DRAM and (tensor.store or tensor.producer is None):
            # a home copy in dram and a stored tensor's dram copy are never released
            model.add(hold.release == v.horizon_cycles)
            continue
        reload = hold.kind == "reload"
        if reload:
            model.add(hold.release >= v.reload_end[key])
        elif hold.kind == "source":
            if tensor.producer is not None:
                model.add(hold.release >= v.end[tensor.producer])
        else:
            model.add(hold.release >= v.transfer_end[key])
        if reload or hold.kind == "source" or space.from_copy_in(*key):
            for m in out_of.get(key, []):
                lit = v.transfer[(hold.tensor, hold.memory, m)]
                cond = _holds_if(reload, lit, v.sends_reload.get((hold.tensor, hold.memory, m)))
                if cond:
                    model.add(hold.release >= v.transfer_end[(hold.tensor, m)]).only_enforce_if(
                        cond
                    )
        if not reload:
            for m in reloads_out.get(key, []):  # a reload elsewhere out of this copy
                lit = v.reload[(hold.tensor, hold.memory, m)]
                model.add(hold.release >= v.reload_end[(hold.tensor, m)]).only_enforce_if(lit)
        for c in p.consumers[hold.tensor]:
            choice = v.reads_reload.get((hold.tensor, hold.memory, c))
            for k in space.cores_in(c, hold.memory):
                cond = _holds_if(reload, v.on[(c, k)], choice)
                if cond:
                    model.add(hold.release >= v.end[c]).only_enforce_if(cond)


def add_reloads(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """Rules 3, 5 and 9 for reloads (:attr:`Space.reloads`): a second copy of a tensor in a
    memory, made only beside a first copy there and allocated no earlier than the first copy's
    release (two copies are never held at once); its transfer leaves from the source copy or
    from the copy in the backing store once that is available. Each reader in the memory reads
    one of the two copies: the reload copy from its end on, the first copy only when it starts
    before the reload copy is available (a reader reads the latest copy available at its
    start); a reload copy is made only to be read."""
    first: dict[tuple[TensorId, MemoryId], list[tuple[cp_model.IntVar, cp_model.IntVar]]] = {}
    for hold in v.holds:
        if hold.kind != "reload" and (hold.tensor, hold.memory) in space.reloads:
            first.setdefault((hold.tensor, hold.memory), []).append((hold.present, hold.release))
    # the reload sends out of each (tensor, memory), in their order
    sends: dict[tuple[TensorId, MemoryId], list[tuple[MemoryId, cp_model.IntVar]]] = {}
    for (tensor_id, s, d), q in v.sends_reload.items():
        sends.setdefault((tensor_id, s), []).append((d, q))
    for (x, m), made in v.reloaded.items():
        start, end = v.reload_start[(x, m)], v.reload_end[(x, m)]
        present = [v.source_is[(x, m)]] if (x, m) in v.source_is else []
        if (x, m) in v.moved_in:
            present.append(v.moved_in[(x, m)])
        model.add_bool_or(present).only_enforce_if(made)
        for here, release in first.get((x, m), []):
            model.add(start >= release).only_enforce_if([made, here])
        for o in space.reloads[(x, m)]:
            lit = v.reload[(x, o.src, m)]
            if space.from_copy_in(x, o.src):
                model.add_implication(lit, v.moved_in[(x, o.src)])
                model.add(start >= v.transfer_end[(x, o.src)]).only_enforce_if(lit)
            else:
                model.add_implication(lit, v.source_is[(x, o.src)])
        readers: list[cp_model.IntVar] = []
        for c in dict.fromkeys(c for c, _ in space.readers_in(x, m)):
            q = v.reads_reload[(x, m, c)]
            readers.append(q)
            model.add_implication(q, made)
            model.add_bool_or([v.on[(c, k)] for k in space.cores_in(c, m)]).only_enforce_if(q)
            model.add(v.start[c] >= end).only_enforce_if(q)
            for k in space.cores_in(c, m):
                model.add(v.start[c] < end).only_enforce_if([v.on[(c, k)], q.Not(), made])
        for d, q in sends.get((x, m), ()):
            readers.append(q)
            lit = v.transfer[(x, m, d)]
            model.add_implication(q, made)
            model.add_implication(q, lit)
            model.add(v.transfer_start[(x, d)] >= end).only_enforce_if(q)
            model.add(v.transfer_start[(x, d)] < end).only_enforce_if([lit, q.Not(), made])
        model.add_bool_or(readers).only_enforce_if(made)


def add_memory_capacity(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    peak_bytes: Mapping[MemoryId, cp_model.LinearExprT] | None = None,
    *,
    prune: bool = True,
) -> None:
    """Rule 9, capacity: the copies held in a bounded memory never exceed its capacity. With
    `peak_bytes`, the cumulative's limit is that memory's peak variable instead (itself at most
    the capacity), so the same constraint measures the peak for the memory objectives.

    With `prune` (and no `peak_bytes`), a memory whose every possible copy fits at once gets no
    cumulative: it cannot bind (docs/results.md; measured in the scaling suite's ablation). Each
    tensor counts once there: two copies of one tensor are never held in one memory at a time
    (the releases and reload orders of :func:`add_releases` keep them apart)."""
    p = space.problem
    per_memory: dict[MemoryId, list[tuple[cp_model.IntervalVar, int]]] = defaultdict(list)
    tensors: dict[MemoryId, dict[TensorId, int]] = defaultdict(dict)
    for hold in v.holds:
        per_memory[hold.memory].append((hold.interval, hold.size_bytes))
        tensors[hold.memory][hold.tensor] = hold.size_bytes
    for m in space.bounded:
        capacity = p.memory_by_id[m].capacity_bytes
        assert capacity is not None
        limit: cp_model.LinearExprT = capacity if peak_bytes is None else peak_bytes[m]
        holds = per_memory.get(m, [])
        if prune and peak_bytes is None and sum(tensors[m].values()) <= capacity:
            continue  # everything this memory may ever hold fits at once
        if holds:
            model.add_cumulative([i for i, _ in holds], [d for _, d in holds], limit)


def add_activation_peaks(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    peak_bytes: Mapping[MemoryId, cp_model.LinearExprT],
) -> None:
    """The activation copies in each bounded memory never exceed its activation peak."""
    p = space.problem
    per_memory: dict[MemoryId, list[tuple[cp_model.IntervalVar, int]]] = defaultdict(list)
    for hold in v.holds:
        if p.tensor_by_id[hold.tensor].kind == "activation":
            per_memory[hold.memory].append((hold.interval, hold.size_bytes))
    for m, holds in per_memory.items():
        model.add_cumulative([i for i, _ in holds], [d for _, d in holds], peak_bytes[m])


def add_makespan(model: cp_model.CpModel, space: Space, v: Variables) -> None:
    """The makespan (latency) is at least the end of every task and of every transfer made."""
    assert v.makespan is not None
    for t in space.cores:
        model.add(v.makespan >= v.end[t])
    for key, end in v.transfer_end.items():
        model.add(v.makespan >= end).only_enforce_if(v.moved_in[key])
    for key, end in v.reload_end.items():
        model.add(v.makespan >= end).only_enforce_if(v.reloaded[key])


def add_fixed_order(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    fixed_order: Mapping[CoreId, Sequence[TaskId]],
) -> None:
    """Re-timing: the given tasks run on the given core in the given order (cores are fixed in
    the space already)."""
    for seq in fixed_order.values():
        for a, b in pairwise(seq):
            model.add(v.start[b] >= v.end[a])
