"""Large-neighbourhood search from a valid schedule, CP-SAT solving each neighbourhood.

For schedules of real sizes (hundreds to thousands of tasks and transfers) the full model
(:mod:`cpsched.cpsat.model`) is slow to search, and a heuristic schedule may lie outside its
restricted space (several reloads of a tensor into one memory). This search works on the
retiming model of the incumbent (:mod:`cpsched.cpsat.retime`: cores, transfers and copies
kept, every start free), so it starts from any valid schedule and every schedule it accepts
has a latency no higher and the same energy, and (with `keep_peaks`) no memory peak higher.

It alternates neighbourhoods that follow the schedule's structure, each solved by CP-SAT with
the incumbent as hint and about a second of time:

- **window**: the tasks and transfers that start in one window of the incumbent's time are
  free; everything earlier stays where it is; everything later moves earlier as one block, by
  one common amount (its order and gaps kept), so the latency can fall;
- **core**: the tasks of one core are free (everything else as for a window that starts at
  that core's first task);
- **layer**: the tiles of one layer and the transfers they read and write are free.

A copy's release that depends only on items that stay (or only on items of the block) is fixed
where the validator puts it (or moves with the block), so each neighbourhood is small after
presolve however large the schedule. Within a neighbourhood, CP-SAT minimizes the latency
first and then, that latency held, the starts (two solves: a left shift, which opens room for
the next neighbourhood). A neighbourhood's schedule is kept when its latency is lower, or
equal with an earlier sum of starts. The window size adapts: it doubles after a
neighbourhood whose latency CP-SAT proved optimal, and halves after one that ran out of time;
once a window holds the whole schedule and is proven, the search ends (the re-timed optimum).

Re-timing cannot change the order of the tasks, which decides what each memory must load.
Before the search, :func:`resequence` offers each start schedule re-sequenced for reuse on the
same cores (:mod:`cpsched.heuristics.reuse`: a greedy order that loads the fewest new bytes,
timed by the list scheduler; not solved by CP-SAT), and with the tasks that read one weight
run together on new cores (:mod:`cpsched.heuristics.share`), and the search starts from them
where they are faster.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from cpsched.check.metrics import Metrics, metrics
from cpsched.cpsat.relax import inner_solver
from cpsched.cpsat.retime import Retime, build_retime
from cpsched.heuristics.prepare import Prepared, prepare
from cpsched.heuristics.reuse import resequence_for_reuse
from cpsched.heuristics.share import share_weights
from cpsched.model.objective import Metric
from cpsched.model.problem import CoreId, Problem, TaskId
from cpsched.model.schedule import Schedule

# CP-SAT's time per neighbourhood (the last one gets what is left). BERT-base M=128 on quad_bus
# from heft's schedule (1,854,158 cycles), 30 s, one weighted solve per neighbourhood:
# 1,836,032 with 1 s, 1,837,686 with 4 s; with the two solves and 1 s, 1,835,832
NEIGHBOURHOOD_S = 1.0
FIRST_WINDOW = 24  # items (tasks and transfers) free in the first window
# re-sequencings for reuse in a row, each from the one before (the best is kept). BERT-base
# M=128 from CP-SAT's schedule on hetero_quad: 1,842,532 -> 1,838,424, 1,841,012, 1,827,954;
# on gap8 the first is a fixed point
RESEQUENCE_ROUNDS = 3


@dataclass
class LnsStats:
    """What the search did: neighbourhoods tried and kept per kind."""

    tried: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    improved: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    interrupted: bool = False  # Ctrl-C ended the search (the best schedule so far is kept)
    # seconds to build the re-timing model, plus the longest neighbourhood: what one more
    # search from a schedule of this size costs at least
    least_s: float = 0.0


@dataclass(frozen=True)
class LnsOutcome:
    """The best schedule found (the start schedule when nothing better was), and the stats."""

    schedule: Schedule
    latency_cycles: int
    start_latency_cycles: int
    stats: LnsStats


@dataclass(frozen=True)
class Resequenced:
    """The best of a few re-sequencings, for reuse or to share weights (the start schedule
    when none was better)."""

    schedule: Schedule
    latency_cycles: int
    start_latency_cycles: int
    rounds: list[int | None]  # each round's latency (None: the list scheduler got stuck)
    regrouped: bool = False  # on cores balanced by weight groups (cpsched.cpsat.regroup)
    # weight mates together (cpsched.heuristics.share), on the list scheduler's cores or on
    # given ones
    shared: bool = False
    # shared on given cores (the solver gives cores balanced by activation groups,
    # cpsched.cpsat.regroup; `how` names that)
    stationary: bool = False

    @property
    def how(self) -> str:
        """What was done, for messages."""
        if self.stationary:
            return "activations kept where they are made, weights shared"
        if self.shared:
            return "re-sequenced to share weights"
        if self.regrouped:
            return "cores balanced by weight groups and re-sequenced for reuse"
        return "re-sequenced for reuse"

    @property
    def gained(self) -> bool:
        return self.latency_cycles < self.start_latency_cycles


def resequence(
    problem: Problem,
    schedule: Schedule,
    *,
    keep_peaks: bool = True,
    caps: Mapping[Metric, float] | None = None,
    rounds: int = RESEQUENCE_ROUNDS,
    time_limit_s: float = float("inf"),
    cores: Mapping[TaskId, CoreId] | None = None,
    prep: Prepared | None = None,
    share: bool = False,
) -> Resequenced:
    """Re-sequence `schedule` (valid for `problem`) for reuse on the same cores, or on `cores` when
    given (:mod:`cpsched.heuristics.reuse`), or with `share` so that tasks reading one weight run
    together, on the cores the list scheduler picks or on `cores` when given
    (:mod:`cpsched.heuristics.share`), up to `rounds` times, each round from the one before,
    starting no round after `time_limit_s` (the first always runs); keep the lowest latency among
    them that raises no memory peak (with `keep_peaks`, as the search keeps them) and meets every
    cap in `caps`. `prep`: the problem's analysis, when the caller has it.

    A re-sequenced schedule changes the transfers, so its energy may differ (it moves fewer
    bytes where it gains). Every schedule returned is valid."""
    started = time.monotonic()
    first = metrics(problem, schedule)

    def acceptable(m: Metrics) -> bool:
        if any(m.metric(k) > cap for k, cap in (caps or {}).items()):
            return False
        if not keep_peaks:
            return True
        return all(
            m.peak_bytes(kind).get(mem, 0) <= peak
            for kind in (None, "activation")
            for mem, peak in first.peak_bytes(kind).items()
        )

    best, best_latency = schedule, first.latency_cycles
    latencies: list[int | None] = []
    prep = prep or prepare(problem)
    current = schedule
    for _ in range(rounds):
        if time.monotonic() - started >= time_limit_s:
            break
        found = (
            share_weights(problem, current, prep, cores)
            if share
            else resequence_for_reuse(
                problem, current, prep, cores if current is schedule else None
            )
        )
        if found is None:
            latencies.append(None)
            break
        measured = metrics(problem, found)
        latencies.append(measured.latency_cycles)
        if measured.latency_cycles < best_latency and acceptable(measured):
            best, best_latency = found, measured.latency_cycles
        if found == current:
            break  # a fixed point
        current = found
    return Resequenced(
        best,
        best_latency,
        first.latency_cycles,
        latencies,
        regrouped=cores is not None and not share,
        shared=share,
        stationary=cores is not None and share,
    )


def _latency(r: Retime, values: dict[cp_model.IntVar, int]) -> int:
    tasks = (values[v] + r.task_duration[t] for t, v in r.task_start.items())
    moves = (values[v] + m.duration for v, m in zip(r.move_start, r.moves, strict=True))
    return max([*tasks, *moves, 0])


def _items(r: Retime) -> list[tuple[cp_model.IntVar, int, str]]:
    """Every start variable with its duration and the layer it belongs to ('' for transfers
    whose tensor has no producer layer)."""
    layer_of_task = {t.id: t.layer for t in r.problem.tasks}
    producer = {x.id: x.producer for x in r.problem.tensors}
    out = [(v, r.task_duration[t], layer_of_task[t]) for t, v in r.task_start.items()]
    for v, m in zip(r.move_start, r.moves, strict=True):
        p = producer[m.transfer.tensor]
        out.append((v, m.duration, layer_of_task.get(p, "") if p else ""))
    return out


def _solve(
    r: Retime,
    values: dict[cp_model.IntVar, int],
    free: set[int],
    shift: set[int],
    limit_s: float,
    workers: int,
    seed: int,
) -> tuple[Any, dict[cp_model.IntVar, int] | None]:
    """Solve the neighbourhood where the variables with index in `free` move freely, those in
    `shift` move together, earlier by one common amount (order and gaps kept), and the rest
    stay at `values`. Returns CP-SAT's status on the latency (OPTIMAL: no lower latency in
    the neighbourhood) and the new values (None when no solution).

    A copy's release whose maker and readers are all fixed (or all shifted) is fixed where the
    validator would put it (or shifted with them), so CP-SAT sees only the neighbourhood: on
    BERT-base on gap8 (8,300 items) presolve leaves 50 variables of 25,000, where leaving the
    releases free left 5,700 and no neighbourhood found a schedule in 4 s."""
    model = r.model.clone()

    def var(v: cp_model.IntVar) -> cp_model.IntVar:
        return model.get_int_var_from_proto_index(v.index)

    latency = _latency(r, values)
    earlier = model.new_int_var(0, latency, "shift")
    for v, value in values.items():
        if v.index in shift:
            model.add(var(v) == value - earlier)
        elif v.index not in free:
            model.add(var(v) == value)
        model.add_hint(var(v), value)
    model.add_hint(earlier, 0)
    for release in r.releases:
        if release.never:
            continue  # fixed at the horizon by the model
        value = release.value(values, r.horizon)
        items = [v.index for v in release.items()]
        if not any(i in free for i in items):
            if items and all(i in shift for i in items):
                model.add(var(release.var) == value - earlier)
            elif not any(i in shift for i in items):
                model.add(var(release.var) == value)
        model.add_hint(var(release.var), value)
    makespan = var(r.makespan)
    model.add(makespan <= latency)
    started = time.monotonic()
    # the latency first; then, the latency held, the starts (a left shift: the free starts,
    # and the block's by `earlier`). One weighted sum is not lexicographic: cutting one cycle
    # of latency can take many starts later
    model.minimize(makespan)
    solver = _solver(workers, limit_s / 2, seed)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, None
    found = {v: int(solver.value(var(v))) for v in values}
    solution = list(solver.response_proto.solution)
    model.add(makespan <= int(solver.value(makespan)))
    model.clear_hints()
    for i, value in enumerate(solution):
        model.add_hint(model.get_int_var_from_proto_index(i), value)
    starts = [model.get_int_var_from_proto_index(i) for i in sorted(free)]
    model.minimize(sum(starts) - earlier)
    shifted = _solver(workers, limit_s - (time.monotonic() - started), seed)
    if shifted.solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = {v: int(shifted.value(var(v))) for v in values}
    return status, found


def _solver(workers: int, limit_s: float, seed: int) -> cp_model.CpSolver:
    return inner_solver(workers, max(0.05, limit_s), seed)


def improve(
    problem: Problem,
    schedule: Schedule,
    *,
    time_limit_s: float,
    num_workers: int = 2,
    seed: int = 0,
    keep_peaks: bool = True,
    on_improve: Callable[[float, int], None] | None = None,
) -> LnsOutcome:
    """Search from `schedule` (valid for `problem`) for `time_limit_s` seconds; `on_improve`
    gets (elapsed seconds, latency) at each better schedule. With `keep_peaks` no memory peak
    rises above the start schedule's (for objectives that count memory); without, memories
    are bounded by their capacity only. Ctrl-C ends the search with the best schedule so far
    (`stats.interrupted`). The caller validates the result (every schedule a solver returns
    passes the validator)."""
    started = time.monotonic()
    r = build_retime(problem, schedule, keep_peaks=keep_peaks)
    state = _State(r, r.solution_of(schedule))
    stats = LnsStats(least_s=time.monotonic() - started)
    start_latency = state.latency
    try:
        _search(r, state, stats, started, time_limit_s, num_workers, seed, on_improve)
    except KeyboardInterrupt:
        stats.interrupted = True
    return LnsOutcome(
        r.schedule_from(values=_as_list(r, state.values)), state.latency, start_latency, stats
    )


@dataclass
class _State:
    r: Retime
    values: dict[cp_model.IntVar, int]

    @property
    def latency(self) -> int:
        return _latency(self.r, self.values)


KINDS = ("window", "window", "core", "layer")  # the neighbourhoods in turn


def _search(
    r: Retime,
    state: _State,
    stats: LnsStats,
    started: float,
    time_limit_s: float,
    num_workers: int,
    seed: int,
    on_improve: Callable[[float, int], None] | None,
) -> None:
    items = _items(r)
    if not items:
        return
    by_core = [
        {v.index for v, _ in chain} for name, chain in r.chains.items() if name.startswith("core:")
    ]
    layers: dict[str, set[int]] = defaultdict(set)
    for v, _, layer in items:
        if layer:
            layers[layer].add(v.index)
    layer_names = sorted(layers)
    window = min(FIRST_WINDOW, len(items))
    position = 0
    round_no = 0
    # the longest a neighbourhood took: its limit plus copying the model, fixing the rest and
    # two presolves, which a short limit does not shorten (BERT-base on gap8: 1.2-1.3 s with a
    # 1 s limit; the search ended 0.7-1 s late when the last one started with what was left).
    # After the first, none starts unless that long is left.
    longest = 0.0
    setup = stats.least_s
    while True:
        left = time_limit_s - (time.monotonic() - started)
        if left <= 0.05 or (round_no > 0 and left < longest):
            return
        values = state.values
        kind = KINDS[round_no % len(KINDS)]
        if (kind == "core" and not by_core) or (kind == "layer" and not layer_names):
            kind = "window"
        order = sorted(range(len(items)), key=lambda i: values[items[i][0]])
        turn = round_no // len(KINDS)
        if kind == "window":
            if position >= len(order):
                position = 0
            chosen = {items[i][0].index for i in order[position : position + window]}
            position += max(1, window // 2)
        elif kind == "core":
            chosen = by_core[turn % len(by_core)]
        else:
            chosen = layers[layer_names[turn % len(layer_names)]]
        first = min((values[v] for v, _, _ in items if v.index in chosen), default=0)
        shift = {v.index for v, _, _ in items if v.index not in chosen and values[v] >= first}
        stats.tried[kind] += 1
        before = time.monotonic()
        status, new = _solve(
            r, values, chosen, shift, min(NEIGHBOURHOOD_S, left), num_workers, seed + round_no
        )
        longest = max(longest, time.monotonic() - before)
        stats.least_s = setup + longest
        round_no += 1
        if status == cp_model.OPTIMAL and len(chosen) == len(items):
            if new is not None and _latency(r, new) < state.latency:
                _keep(state, new, kind, stats, started, on_improve)
            return  # the whole schedule was free: the re-timed optimum
        if kind == "window":  # grow after a proof, shrink after a timeout
            proved = status == cp_model.OPTIMAL
            window = min(len(items), window * 2) if proved else max(4, window // 2)
        if new is None:
            continue
        best = state.latency
        latency = _latency(r, new)
        earlier = sum(new.values()) < sum(values.values())
        if latency < best:
            _keep(state, new, kind, stats, started, on_improve)
        elif latency == best and earlier:
            state.values = new  # the same latency, shifted left: room for the next neighbourhood


def _keep(
    state: _State,
    new: dict[cp_model.IntVar, int],
    kind: str,
    stats: LnsStats,
    started: float,
    on_improve: Callable[[float, int], None] | None,
) -> None:
    state.values = new
    stats.improved[kind] += 1
    if on_improve is not None:
        on_improve(time.monotonic() - started, state.latency)


def _as_list(r: Retime, values: dict[cp_model.IntVar, int]) -> list[int]:
    out = [0] * len(r.model.proto.variables)
    for var, value in values.items():
        out[var.index] = value
    return out
