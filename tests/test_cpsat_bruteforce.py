"""CP-SAT against an independent brute force on random small problems (hypothesis).

The brute force shares no code with the solver (but for where CP-SAT's space allows a reload,
the definition of that space). It enumerates every core assignment, derives which transfers
that assignment needs (one per tensor and destination memory, from the source memory, and every
choice of a reload from the source where the space allows one, with the readers of the reload
copy), and then searches every schedule in which each task and transfer starts at 0 or at the
end of another one. That class holds an optimum of every objective here: shifting an activity
left to the previous end time keeps every precedence, resource and memory rule (no copy is
released in between) and raises no memory level above the level it had at the old start.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpsched.cpsat import SolverParams, solve
from cpsched.model.problem import Problem

PARAMS = SolverParams(time_limit_s=20, num_workers=2, seed=0)


@dataclass
class Activity:
    name: str
    duration: int
    resources: tuple[str, ...]
    preds: list[int] = field(default_factory=list)


@dataclass
class Copy:
    memory: str
    size: int
    alloc: int | None  # activity whose start allocates it; None: held from time 0
    readers: list[int]
    available: int | None  # activity whose end makes it available; None: time 0


def _duration(p: dict[str, Any], size: int, links: list[str]) -> int:
    by_id = {lk["id"]: lk for lk in p["links"]}
    bandwidth = min(Fraction(repr(by_id[lk]["bandwidth_bytes_per_cycle"])) for lk in links)
    return math.ceil(size / bandwidth) + sum(by_id[lk]["latency_cycles"] for lk in links)


Reloads = dict[tuple[str, str], tuple[str, ...]]  # (tensor, memory) -> memories to reload from


def _reloads(p: dict[str, Any]) -> Reloads:
    """Where CP-SAT's space may reload (docs/results.md: one reload per tensor, only in memories
    that may overflow): the only thing the brute force takes from the solver's side, as the
    definition of the space it searches."""
    from cpsched.cpsat.space import build_space
    from cpsched.model.space import extend_space

    space = extend_space(build_space(Problem.model_validate(p)), staging=True, spill=True)
    return {key: tuple(o.src for o in options) for key, options in space.reloads.items()}


def _instances(
    p: dict[str, Any], assign: dict[str, str], reloads: Reloads
) -> list[tuple[list[Activity], list[Copy]]]:
    """The activities and copies of one core assignment: without reloads, and with every choice
    of reloads (from the source memory: no backing stores here) and of the readers that read
    each reload copy (at least one)."""
    mem = {c["id"]: c["memory"] for c in p["cores"]}
    choices: list[list[tuple[str, str, frozenset[str]] | None]] = []
    for tensor in p["tensors"]:
        producer = tensor.get("producer")
        src = mem[assign[producer]] if producer else tensor["home"]
        consumers = [t["id"] for t in p["tasks"] if tensor["id"] in t.get("inputs", [])]
        for d in sorted({mem[assign[c]] for c in consumers} - {src}):
            if src not in reloads.get((tensor["id"], d), ()):
                continue
            readers = [c for c in consumers if mem[assign[c]] == d]
            options: list[tuple[str, str, frozenset[str]] | None] = [None]
            for k in range(1, len(readers) + 1):
                for later in itertools.combinations(readers, k):
                    options.append((tensor["id"], d, frozenset(later)))
            choices.append(options)
    out = []
    for combo in itertools.product(*choices):
        built = _instance(p, assign, [c for c in combo if c is not None])
        if built is not None and _acyclic(built[0]):  # a reload read before it is made: none
            out.append(built)
    return out


def _acyclic(acts: list[Activity]) -> bool:
    order: list[int] = []
    waiting = {i: set(a.preds) for i, a in enumerate(acts)}
    while True:
        ready = [i for i, q in waiting.items() if not q]
        if not ready:
            return not waiting
        for i in ready:
            del waiting[i]
            order.append(i)
        for q in waiting.values():
            q.difference_update(ready)


def _instance(
    p: dict[str, Any],
    assign: dict[str, str],
    reload: list[tuple[str, str, frozenset[str]]] | None = None,
) -> tuple[list[Activity], list[Copy]] | None:
    """Activities and memory copies of one core assignment (None if a needed route is missing),
    with a reload of each (tensor, memory) of `reload` from the source memory, read by the
    given readers there (the others read the first copy, released before the reload starts)."""
    again = {(x, d): later for x, d, later in reload or []}
    mem = {c["id"]: c["memory"] for c in p["cores"]}
    routes = {(r["src"], r["dst"]): r["links"] for r in p["routes"]}
    tasks = p["tasks"]
    index = {t["id"]: i for i, t in enumerate(tasks)}
    acts = task_activities(p, assign)
    copies: list[Copy] = []
    for tensor in p["tensors"]:
        producer = tensor.get("producer")
        src = mem[assign[producer]] if producer else tensor["home"]
        consumers = [t["id"] for t in tasks if tensor["id"] in t.get("inputs", [])]
        dests = {mem[assign[c]] for c in consumers}
        if tensor.get("store"):
            dests.add("dram")
        moved: dict[str, int] = {}
        for d in sorted(dests - {src}):
            if (src, d) not in routes:
                return None
            links = routes[(src, d)]
            act = Activity(
                f"move {tensor['id']}->{d}",
                _duration(p, tensor["size_bytes"], links),
                tuple("link:" + lk for lk in links),
                [index[producer]] if producer else [],
            )
            acts.append(act)
            moved[d] = len(acts) - 1
        for c in consumers:
            if producer:
                acts[index[c]].preds.append(index[producer])
            d = mem[assign[c]]
            if d != src:
                acts[index[c]].preds.append(moved[d])
        local = [index[c] for c in consumers if mem[assign[c]] == src]
        source_readers = local + list(moved.values())
        for d, a in moved.items():
            readers = [c for c in consumers if mem[assign[c]] == d]
            later = again.get((tensor["id"], d), frozenset())
            first = [index[c] for c in readers if c not in later]
            copies.append(Copy(d, tensor["size_bytes"], a, first, a))
            if not later:
                continue
            # the reload: after the first copy is released (its readers' ends, or its arrival)
            act = Activity(
                f"reload {tensor['id']}->{d}",
                _duration(p, tensor["size_bytes"], routes[(src, d)]),
                tuple("link:" + lk for lk in routes[(src, d)]),
                [*first, a],
            )
            acts.append(act)
            r = len(acts) - 1
            source_readers.append(r)
            for c in later:
                acts[index[c]].preds.append(r)
            copies.append(Copy(d, tensor["size_bytes"], r, [index[c] for c in later], r))
        copies.append(
            Copy(
                src,
                tensor["size_bytes"],
                index[producer] if producer else None,
                source_readers,
                index[producer] if producer else None,
            )
        )
    return acts, copies


def task_activities(p: dict[str, Any], assign: dict[str, str]) -> list[Activity]:
    """One activity per task of `p` on its core in `assign`, with its `after` and barrier
    predecessors (the transfers are added by the caller)."""
    tasks = p["tasks"]
    index = {t["id"]: i for i, t in enumerate(tasks)}
    acts = [
        Activity(
            t["id"],
            next(o["duration_cycles"] for o in t["options"] if o["core"] == assign[t["id"]]),
            ("core:" + assign[t["id"]],),
        )
        for t in tasks
    ]
    for t in tasks:
        acts[index[t["id"]]].preds += [index[a] for a in t.get("after", [])]
    for b in p.get("barriers", []):
        for a in b["after"]:
            acts[index[a]].preds += [index[x] for x in b["before"]]
    return acts


def _tails(acts: list[Activity]) -> list[int]:
    """For each activity, the longest chain of successor durations after it ends."""
    succs: list[list[int]] = [[] for _ in acts]
    for i, a in enumerate(acts):
        for q in a.preds:
            succs[q].append(i)
    memo: dict[int, int] = {}

    def tail(i: int) -> int:
        if i not in memo:
            memo[i] = max((acts[j].duration + tail(j) for j in succs[i]), default=0)
        return memo[i]

    return [tail(i) for i in range(len(acts))]


def _search(
    p: dict[str, Any], acts: list[Activity], copies: list[Copy], metric: str, best: list[float]
) -> None:
    """Depth-first over start times in {0} + end times; lowers best[0] to the best metric found
    (only values below the incoming best[0] are explored)."""
    capacity = {m["id"]: m["capacity_bytes"] for m in p["memories"]}
    bounded = [m for m, c in capacity.items() if c is not None]
    n = len(acts)
    tails = _tails(acts)
    start: list[int | None] = [None] * n
    seen: dict[tuple[Any, ...], int] = {}

    def end(i: int) -> int:
        s = start[i]
        assert s is not None
        return s + acts[i].duration

    def done_by(i: int, tau: int) -> bool:
        return start[i] is not None and end(i) <= tau

    def levels(tau: int) -> dict[str, int]:
        level = dict.fromkeys(bounded, 0)
        for c in copies:
            if c.memory not in level or c.size == 0:
                continue
            if c.alloc is not None and start[c.alloc] is None:
                continue
            ends = c.readers or ([] if c.available is None else [c.available])
            if not all(done_by(r, tau) for r in ends):
                level[c.memory] += c.size
        return level

    def rec(tau: int, peak: int) -> None:
        running = [i for i in range(n) if start[i] is not None and end(i) > tau]
        done = frozenset(i for i in range(n) if start[i] is not None and end(i) <= tau)
        state = (tau, done, tuple((i, end(i)) for i in running))
        if seen.get(state, math.inf) <= peak:
            return  # reached before with a peak no higher: the same futures, no better
        seen[state] = peak
        busy = {r for i in running for r in acts[i].resources}
        eligible = [
            i
            for i in range(n)
            if start[i] is None
            and all(done_by(q, tau) for q in acts[i].preds)
            and not busy & set(acts[i].resources)
        ]
        for k in range(len(eligible) + 1):
            for subset in itertools.combinations(eligible, k):
                used = [r for i in subset for r in acts[i].resources]
                if len(used) != len(set(used)):
                    continue
                for i in subset:
                    start[i] = tau
                level = levels(tau)
                new_peak = max([peak, *level.values()]) if metric == "memory" else 0
                if all(level[m] <= (capacity[m] or 0) for m in bounded):
                    _step(tau, new_peak)
                for i in subset:
                    start[i] = None

    def _step(tau: int, peak: int) -> None:
        started = [i for i in range(n) if start[i] is not None]
        if len(started) == n:
            value = max((end(i) for i in range(n)), default=0) if metric == "latency" else peak
            best[0] = min(best[0], value)
            return
        ends_after = [end(i) for i in started if end(i) > tau]
        if not ends_after:
            return  # nothing runs and nothing started: no later event, a dead end
        nxt = min(ends_after)
        if metric == "latency":
            bound = max(
                [end(i) + tails[i] for i in started]
                + [nxt + acts[i].duration + tails[i] for i in range(n) if start[i] is None]
            )
        else:
            bound = peak
        if bound < best[0]:
            rec(nxt, peak)

    rec(0, 0)


def brute_force(
    p: dict[str, Any], metric: str = "latency", upper: float | None = None, spill: bool = True
) -> float | None:
    """The optimum of `metric` ("latency" or "memory"), or None when no valid schedule exists.
    With `upper`, only schedules no worse than `upper` are searched (None: there is none).
    With `spill`, schedules that reload as CP-SAT's space allows are searched too."""
    best = [math.inf if upper is None else upper + 0.5]
    initial = best[0]
    choices = [[o["core"] for o in t["options"]] for t in p["tasks"]]
    reloads = _reloads(p) if spill else {}
    for combo in itertools.product(*choices):
        assign = {t["id"]: k for t, k in zip(p["tasks"], combo, strict=True)}
        if any(len({assign[t] for t in g}) > 1 for g in p.get("groups", [])):
            continue
        for built in _instances(p, assign, reloads):
            _search(p, *built, metric, best)
    return None if best[0] == initial else best[0]


@st.composite
def problems(draw: st.DrawFn, max_tasks: int = 6) -> dict[str, Any]:
    """Random small problems: 2-3 cores, private or shared memories, a few links and routes,
    3 to `max_tasks` tasks."""
    n_cores = draw(st.integers(2, 3))
    memories: list[dict[str, Any]] = [{"id": "dram", "capacity_bytes": None}]
    n_mems = draw(st.integers(1, n_cores))
    for m in range(n_mems):
        memories.append(
            {"id": f"l{m}", "capacity_bytes": draw(st.sampled_from([None, 10, 16, 24, 40]))}
        )
    cores = [{"id": f"c{k}", "memory": f"l{k % n_mems}"} for k in range(n_cores)]
    links = [
        {
            "id": f"k{i}",
            "bandwidth_bytes_per_cycle": draw(st.sampled_from([1, 2, 4, 0.5])),
            "latency_cycles": draw(st.integers(0, 2)),
            "energy_pj_per_byte": 1.0,
        }
        for i in range(draw(st.integers(1, 2)))
    ]
    mem_ids = [m["id"] for m in memories]
    routes = []
    for a, b in itertools.permutations(mem_ids, 2):
        if draw(st.integers(0, 9)) < 9:
            chosen = draw(
                st.lists(
                    st.sampled_from([lk["id"] for lk in links]),
                    min_size=1,
                    max_size=len(links),
                    unique=True,
                )
            )
            routes.append({"src": a, "dst": b, "links": chosen})
    n_tasks = draw(st.integers(3, max_tasks))
    core_ids = [c["id"] for c in cores]
    tensors: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for i in range(n_tasks):
        options = draw(
            st.lists(st.sampled_from(core_ids), min_size=1, max_size=n_cores, unique=True)
        )
        inputs = []
        produced = [t["id"] for t in tensors]
        if produced:
            inputs = draw(st.lists(st.sampled_from(produced), max_size=2, unique=True))
        if draw(st.integers(0, 3)) == 0:
            w = f"w{i}"
            tensors.append(
                {"id": w, "size_bytes": draw(st.integers(1, 8)), "kind": "weight", "home": "dram"}
            )
            inputs.append(w)
        out = f"y{i}"
        tensors.append(
            {
                "id": out,
                "size_bytes": draw(st.integers(1, 8)),
                "kind": "activation",
                "producer": f"t{i}",
                "store": draw(st.integers(0, 4)) == 0,
            }
        )
        after = []
        if i and draw(st.integers(0, 5)) == 0:
            after = [f"t{draw(st.integers(0, i - 1))}"]
        tasks.append(
            {
                "id": f"t{i}",
                "inputs": inputs,
                "outputs": [out],
                "after": after,
                "options": [
                    {"core": k, "duration_cycles": draw(st.integers(1, 4)), "energy_pj": 1.0}
                    for k in options
                ],
            }
        )
    groups = []
    if draw(st.integers(0, 4)) == 0:
        groups = [
            [
                f"t{i}"
                for i in draw(
                    st.lists(st.integers(0, n_tasks - 1), min_size=2, max_size=2, unique=True)
                )
            ]
        ]
    barriers = []
    if draw(st.integers(0, 4)) == 0:
        first, second = sorted(
            draw(st.lists(st.integers(0, n_tasks - 1), min_size=2, max_size=2, unique=True))
        )
        barriers = [{"before": [f"t{first}"], "after": [f"t{second}"]}]
    return {
        "format": "cpsched-problem/1",
        "name": "random",
        "memories": memories,
        "cores": cores,
        "links": links,
        "routes": routes,
        "tensors": tensors,
        "tasks": tasks,
        "groups": groups,
        "barriers": barriers,
    }


def _agrees(data: dict[str, Any], metric: str) -> None:
    """CP-SAT's proven optimum is the brute-force optimum; its space proven empty (a static
    proof, status `infeasible`, or CP-SAT's own, status `unknown` with an infeasible stage)
    exactly when brute force finds no schedule in that space. The brute force searches only
    schedules no worse than CP-SAT's value, which proves that nothing better exists and finds
    that value if it is reachable."""
    r = solve(Problem.model_validate(data), metric, PARAMS)
    if r.schedule is None:
        assert r.status == "infeasible" or (r.stages and r.stages[0].status == "infeasible")
        assert brute_force(data, "latency") is None  # feasibility does not depend on the metric
    else:
        assert r.status == "optimal"
        assert brute_force(data, metric, upper=r.objective_value) == r.objective_value


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems(max_tasks=5))
def test_latency_optimum_equals_brute_force(data: dict[str, Any]) -> None:
    # up to 5 tasks and 40 examples (was 6 and 70: 13 s, most of it the brute force of the
    # 6-task instances); every feature of the generator (groups, barriers, `after`, stores,
    # weights, bounded and shared memories, missing routes) still turns up
    _agrees(data, "latency")


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(problems())
def test_memory_optimum_equals_brute_force(data: dict[str, Any]) -> None:
    _agrees(data, "memory")


@st.composite
def reload_problems(draw: st.DrawFn) -> dict[str, Any]:
    """One or two cores on one small memory and a chain of tasks, some reading one of one or two
    weights: a weight held from its first reader to its last may not fit beside the others, so
    a reload (from dram) may be needed or better."""
    n_cores = draw(st.integers(1, 2))
    weights = [
        {"id": f"w{j}", "size_bytes": draw(st.integers(3, 5)), "kind": "weight", "home": "dram"}
        for j in range(draw(st.integers(1, 2)))
    ]
    tensors = list(weights)
    tasks = []
    n_tasks = draw(st.integers(3, 5))
    for i in range(n_tasks):
        inputs = [f"y{i - 1}"] if i else []
        inputs += draw(st.lists(st.sampled_from([w["id"] for w in weights]), max_size=1))
        tensors.append(
            {
                "id": f"y{i}",
                "size_bytes": draw(st.integers(1, 2)),
                "kind": "activation",
                "producer": f"t{i}",
                "store": i == n_tasks - 1,
            }
        )
        options = [
            {"core": f"c{k}", "duration_cycles": draw(st.integers(1, 3)), "energy_pj": 1.0}
            for k in range(n_cores)
        ]
        tasks.append({"id": f"t{i}", "inputs": inputs, "outputs": [f"y{i}"], "options": options})
    link = {
        "id": "k0",
        "bandwidth_bytes_per_cycle": draw(st.sampled_from([1, 2])),
        "latency_cycles": draw(st.integers(0, 1)),
        "energy_pj_per_byte": 1.0,
    }
    return {
        "format": "cpsched-problem/1",
        "name": "reload",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l0", "capacity_bytes": draw(st.integers(7, 10))},
        ],
        "cores": [{"id": f"c{k}", "memory": "l0"} for k in range(n_cores)],
        "links": [link],
        "routes": [
            {"src": "dram", "dst": "l0", "links": ["k0"]},
            {"src": "l0", "dst": "dram", "links": ["k0"]},
        ],
        "tensors": tensors,
        "tasks": tasks,
    }


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(reload_problems())
def test_latency_optimum_with_reloads_equals_brute_force(data: dict[str, Any]) -> None:
    # CP-SAT's space with spill (one reload per tensor and memory that may overflow): 15 of these
    # 40 examples may reload, 2 have schedules only with a reload (measured when written)
    _agrees(data, "latency")


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(reload_problems())
def test_memory_optimum_with_reloads_equals_brute_force(data: dict[str, Any]) -> None:
    _agrees(data, "memory")
