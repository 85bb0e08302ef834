"""The list-scheduling loop all heuristics share, and its retries when a memory fills up.

A heuristic is a priority order over tasks plus a rule that picks each task's core
(:mod:`cpsched.heuristics.cores`); this loop places ready tasks in that order
(:mod:`cpsched.heuristics.placer`). A task that cannot be placed yet waits while other ready
tasks go first; if none can be placed the run is stuck, and is retried with the stuck task
first and the units that fill the memory kept out of it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from cpsched.heuristics.cores import UnitCores
from cpsched.heuristics.features import FORMAT_1
from cpsched.heuristics.placer import Blocked, Placer
from cpsched.heuristics.prepare import Prepared
from cpsched.model.problem import CoreId, MemoryId, TaskId
from cpsched.model.result import InfeasibilityReason
from cpsched.model.schedule import Schedule

Key = tuple[float, ...]

# With spills, once this many ready tasks wait for a full memory, the first of them makes room
# by evicting copies instead of the loop looking for more tasks that fit (each look costs a
# placement attempt per waiting task: quadratic on thousands of tasks).
SPILL_AFTER_DEFERRED = 4


@dataclass
class Outcome:
    """A heuristic's schedule, or why it has none."""

    schedule: Schedule | None
    message: str = ""
    # the static checker's proof that no schedule exists: the one way to say "infeasible"
    reasons: list[InfeasibilityReason] = field(default_factory=list)
    placed: int = 0  # tasks placed before getting stuck
    split: list[TaskId] = field(default_factory=list)  # a task of every unit split to fit memory
    note: str = ""  # how the heuristic departed from its rule to find a schedule


def run_list_schedule(
    prep: Prepared,
    priority: Sequence[Key],
    unit_of: Sequence[int],
    *,
    insertion: bool,
    fixed: dict[int, CoreId] | None = None,
    stage_of: Sequence[int] | None = None,
    boost_at: int = 0,
    max_retries: int = 6,
    split_units: bool = False,
    load_aware: bool = False,
) -> Outcome:
    """List-schedule (see :func:`list_schedule_once`); when stuck on a full memory, retry with
    the stuck task ahead of its peers (a flag inserted at `boost_at` in its priority key) and with
    the units that fill the memory (and the stuck one) kept out of it, where they have another.
    With `split_units`, as a last resort, units larger than their explicit groups (whole layers)
    that fill the memory are split back into their groups, so their tiles may spread over several
    cores."""
    if prep.reasons:
        return Outcome(None, prep.reasons[0].reason, list(prep.reasons))
    if prep.cannot_place:
        return Outcome(None, f"found none: {prep.cannot_place}")
    args = (priority, unit_of, insertion, fixed, stage_of, boost_at, max_retries, split_units)
    outcome = _run(prep, *args, load_aware)
    # Spilling (and multicast) change every later choice; they must never lose a schedule the
    # placement without them finds, so that one runs when they found none: first with reloads
    # as often as needed, then without spills, then without any of format 2's freedoms (as for
    # format 1).
    fallbacks = [replace(prep.features, spill=False), FORMAT_1] if prep.features.spill else []
    if prep.features.spill and prep.features.cpsat_space:
        fallbacks.insert(0, replace(prep.features, cpsat_space=False))
    if prep.features != FORMAT_1 and not prep.features.spill:
        fallbacks = [FORMAT_1]
    for features in fallbacks:
        if outcome.schedule is not None:
            break
        fallback = _run(replace(prep, features=features), *args, load_aware)
        if fallback.schedule is not None:
            used = (
                "reloads more than once"
                if features.spill
                else "no spills"
                if features.multicast
                else "none of format 2's freedoms"
            )
            fallback.note = "; ".join(n for n in (fallback.note, used) if n)
            return fallback
    return outcome


def _run(
    prep: Prepared,
    priority: Sequence[Key],
    unit_of: Sequence[int],
    insertion: bool,
    fixed: dict[int, CoreId] | None,
    stage_of: Sequence[int] | None,
    boost_at: int,
    max_retries: int,
    split_units: bool,
    load_aware: bool,
) -> Outcome:
    unit_of = list(unit_of)
    split: list[int] = []  # first task of every unit split so far
    banned: dict[int, set[MemoryId]] = {}
    boosted: set[int] = set()
    first_message = ""
    keys = list(priority)
    best_placed = -1
    stalls = 0
    attempt = retries = 0
    while retries <= max_retries:  # splits do not count: there are finitely many
        attempt += 1
        cores = UnitCores(prep, unit_of, fixed, banned, load_aware=load_aware)
        outcome, placer, stuck = list_schedule_once(prep, keys, cores, insertion, stage_of)
        if outcome.schedule is not None or placer is None or stuck is None or stuck[1] is None:
            if attempt > 1 and outcome.schedule is None:
                outcome.message = first_message
            outcome.split = [prep.task_ids[i] for i in split]
            return outcome
        first_message = first_message or outcome.message
        task, memory = stuck[0], stuck[1]
        involved = {unit_of[task]}
        for x, ms in placer.open_copies.items():
            if memory in ms:
                involved.update(unit_of[j] for j in placer.readers[x] if placer.core_of[j] is None)
                producer = prep.problem.tensor_by_id[x].producer
                if producer is not None:
                    involved.add(unit_of[prep.index[producer]])
        if outcome.placed <= best_placed:
            stalls += 1
        best_placed = max(best_placed, outcome.placed)
        if stalls >= 2:  # two retries got no further: more of the same will not help
            if not (split_units and _split_units(prep, unit_of, involved, split)):
                break
            stalls, best_placed = 0, -1
            continue
        retries += 1
        # The stuck task and everything it waits for go first next time, ahead of other work
        # that would fill the memory meanwhile.
        grew = task not in boosted
        stack = [task]
        while stack:
            v = stack.pop()
            if v not in boosted:
                boosted.add(v)
                stack.extend(u for u in prep.preds[v] if u not in boosted)
        keys = [
            (*key[:boost_at], 0 if i in boosted else 1, *key[boost_at:])
            for i, key in enumerate(priority)
        ]
        for u in involved:
            if fixed and any(unit_of[i] == u for i in fixed):
                continue
            bans = banned.setdefault(u, set())
            if memory not in bans and cores.unit_mems[u] - bans - {memory}:
                bans.add(memory)
                grew = True
        if not grew and not (split_units and _split_units(prep, unit_of, involved, split)):
            break
    return Outcome(None, first_message)


def _split_units(prep: Prepared, unit_of: list[int], units: set[int], split: list[int]) -> bool:
    """Split every unit in `units` that joins several explicit groups back into those groups."""
    done = False
    for u in units:
        members = [i for i, v in enumerate(unit_of) if v == u]
        if len({prep.group_of[i] for i in members}) > 1:
            for i in members:
                unit_of[i] = prep.group_of[i]
            split.append(members[0])
            done = True
    return done


def list_schedule_once(
    prep: Prepared,
    priority: Sequence[Key],
    cores: UnitCores,
    insertion: bool,
    stage_of: Sequence[int] | None,
) -> tuple[Outcome, Placer | None, tuple[int, MemoryId | None] | None]:
    """Place ready tasks in priority order (smallest key first) on the cores `cores` ranks.

    `cores` ranks each task's candidate cores and is told where it went. With `stage_of`, tasks
    run in stages (e.g. layers): a task of stage k starts after every task of earlier stages ends.
    Returns the outcome, the resources, and the stuck task and its full memory if it got stuck.
    """
    try:
        placer = Placer(prep, insertion=insertion)
    except Blocked as exc:  # an input to be stored does not fit in a bounded dram
        message = f"stuck at the start: {exc.what} does not fit in memory {exc.memory}"
        return Outcome(None, message), None, None
    placer.possible_memories = cores.possible_memories
    placer.priority = priority
    n = prep.n_tasks
    preds, succs = prep.preds, prep.succs
    missing = [len(ps) for ps in preds]
    heap: list[tuple[Key, int]] = [(priority[i], i) for i in range(n) if missing[i] == 0]
    heapq.heapify(heap)
    deferred: list[tuple[Key, int, Blocked, int]] = []  # key, task, why, lower bound
    stage = -1
    stage_lb = 0
    placed_max_end = 0
    placed = 0
    spill = prep.features.spill

    def try_place(i: int, lb: int, make_room: bool) -> tuple[int | None, Blocked | None]:
        """Place task i on its best core that takes it; its end, or why none did."""
        first: Blocked | None = None
        for _ in range(2):
            before = len(placer.pending_stores)
            for core in cores.rank(placer, i, lb):
                try:
                    end = placer.place(i, core, lb, make_room=make_room)
                except Blocked as exc:
                    first = first or exc
                    continue
                cores.placed(i, core)
                placer.flush_stores(keep_last=max(len(placer.pending_stores) - before, 0))
                return end, None
            if not placer.pending_stores:
                break
            placer.flush_stores()  # placed stores release memory: try once more
            first = None
        return None, first

    def after_placed(i: int) -> None:
        """Make ready what waited for task i; give the deferred tasks another chance."""
        stack = [i]
        while stack:
            u = stack.pop()
            for v in succs[u]:
                missing[v] -= 1
                if missing[v] == 0:
                    if v >= n:  # a barrier: ends when all its `before` tasks have ended
                        placer.end[v] = max((placer.end[w] for w in preds[v]), default=0)
                        stack.append(v)
                    else:
                        heapq.heappush(heap, (priority[v], v))
        for dkey, di, _, _ in deferred:
            heapq.heappush(heap, (dkey, di))
        deferred.clear()

    while True:
        while heap:
            key, i = heapq.heappop(heap)
            lb = placer.dep_ready(i)
            if stage_of is not None:
                if stage_of[i] != stage:
                    if deferred and min(stage_of[d[1]] for d in deferred) < stage_of[i]:
                        heapq.heappush(heap, (key, i))
                        break
                    stage = stage_of[i]
                    stage_lb = placed_max_end
                lb = max(lb, stage_lb)
            end, blocked = try_place(i, lb, make_room=False)
            if end is None:
                why = blocked or Blocked(f"task {prep.task_ids[i]} has no usable core")
                deferred.append((key, i, why, lb))
                if spill and why.memory is not None and len(deferred) >= SPILL_AFTER_DEFERRED:
                    break  # enough tasks wait for memory: make room rather than look further
                continue
            placed += 1
            placed_max_end = max(placed_max_end, end)
            after_placed(i)
        if placed == n or not deferred or not spill:
            break
        # Stuck: every ready task waits for memory. Make room for the first of them by
        # evicting (spilling) copies from its memory, then go on.
        key, i, _, lb = min(deferred, key=lambda d: d[0])
        end, _ = try_place(i, lb, make_room=True)
        if end is None:
            break
        deferred.remove(next(d for d in deferred if d[1] == i))
        placed += 1
        placed_max_end = max(placed_max_end, end)
        after_placed(i)
    if placed < n:
        if deferred:
            _, i, why, _ = min(deferred, key=lambda d: d[0])
            message = f"stuck: {placer.why(why)}"
            return Outcome(None, message, placed=placed), placer, (i, why.memory)
        return Outcome(None, "stuck: some tasks never became ready", placed=placed), placer, None
    placer.flush_stores()
    return Outcome(placer.schedule()), placer, None


__all__ = ["Key", "Outcome", "list_schedule_once", "run_list_schedule"]
