"""Multicast in the CP-SAT model (docs/results.md, "The solver's search space"): a transfer may
ride along another of the same tensor from the same source over multicast links, so that one
transfer delivers both copies. Tiny problems whose optima are worked out by hand, each asserted
exactly against the unicast optimum (`SolverParams.multicast=False`), and a brute force over
every grouping of transfers into multicasts on random small problems."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples
from test_cpsat_bruteforce import Activity, Copy, _search, task_activities

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.space import build_space
from cpsched.heuristics import run_heuristics
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer

PARAMS = SolverParams(time_limit_s=10, num_workers=2, seed=0)
UNICAST = PARAMS.model_copy(update={"multicast": False})


def bus_problem(multicast: bool = True, **extra: Any) -> Problem:
    """Two cores with private memories l1a, l1b on a bus; dram behind a port. dram -> l1a and
    dram -> l1b both use [port, bus]: ceil(80 / 8) + 10 + 1 = 21 cycles for the 80-byte weight
    w, 80 * (2 + 1) = 240 pJ. Task a (c0 only) and task b (c1 only) read w, 10 cycles each."""
    data: dict[str, Any] = {
        "format": "cpsched-problem/2",
        "name": "bus",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l1a", "capacity_bytes": 1000},
            {"id": "l1b", "capacity_bytes": 1000},
        ],
        "cores": [{"id": "c0", "memory": "l1a"}, {"id": "c1", "memory": "l1b"}],
        "links": [
            {
                "id": "port",
                "bandwidth_bytes_per_cycle": 8,
                "latency_cycles": 10,
                "energy_pj_per_byte": 2.0,
                "sharing": "exclusive",
                "multicast": multicast,
            },
            {
                "id": "bus",
                "bandwidth_bytes_per_cycle": 16,
                "latency_cycles": 1,
                "energy_pj_per_byte": 1.0,
                "sharing": "exclusive",
                "multicast": multicast,
            },
        ],
        "routes": [
            {"src": "dram", "dst": "l1a", "links": ["port", "bus"]},
            {"src": "dram", "dst": "l1b", "links": ["port", "bus"]},
            {"src": "l1a", "dst": "dram", "links": ["bus", "port"]},
            {"src": "l1b", "dst": "dram", "links": ["bus", "port"]},
            {"src": "l1a", "dst": "l1b", "links": ["bus"]},
            {"src": "l1b", "dst": "l1a", "links": ["bus"]},
        ],
        "tensors": [{"id": "w", "size_bytes": 80, "kind": "weight", "home": "dram"}],
        "tasks": [
            {
                "id": "a",
                "inputs": ["w"],
                "options": [{"core": "c0", "duration_cycles": 10, "energy_pj": 5.0}],
            },
            {
                "id": "b",
                "inputs": ["w"],
                "options": [{"core": "c1", "duration_cycles": 10, "energy_pj": 5.0}],
            },
        ],
    }
    data.update(extra)
    return Problem.model_validate(data)


def checked(p: Problem, objective: str, params: SolverParams, **kw: Any) -> SolveResult:
    r = solve(p, objective, params, **kw)
    assert r.schedule is not None
    assert validate(p, r.schedule) == []
    return r


def test_weight_to_two_cores_is_one_multicast() -> None:
    # multicast: w goes to l1a and l1b at once over [port, bus], 0-21; a and b run 21-31 -> 31.
    # unicast: the two transfers take turns on the port and the bus, 0-21 and 21-42; the later
    # task runs 42-52 -> 52.
    p = bus_problem()
    r = checked(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 31.0, 31.0)
    assert r.schedule is not None
    assert [(x.tensor, x.src, x.dst, x.start) for x in r.schedule.transfers] == [
        ("w", "dram", ("l1a", "l1b"), 0)
    ]
    off = checked(p, "latency", UNICAST)
    assert (off.status, off.objective_value) == ("optimal", 52.0)
    assert off.schedule is not None and not any(x.multicast for x in off.schedule.transfers)


def test_links_without_multicast_give_the_unicast_optimum() -> None:
    # the same with `multicast: false` links: two transfers in turn, 52 (as above)
    p = bus_problem(multicast=False)
    assert build_space(p).leaders == {}
    r = checked(p, "latency", PARAMS)
    assert (r.status, r.objective_value) == ("optimal", 52.0)
    assert r.schedule is not None and not any(x.multicast for x in r.schedule.transfers)


def test_energy_counts_a_multicast_once() -> None:
    # energy of bus_problem: tasks 5 + 5 = 10 pJ; one multicast carries w's 80 bytes once over
    # port (2 pJ/B) and bus (1 pJ/B): 240 pJ -> 250. Two unicasts: 2 * 240 + 10 = 490.
    p = bus_problem()
    r = checked(p, "energy", PARAMS)
    assert (r.status, r.objective_value) == ("optimal", 250.0)
    assert r.schedule is not None
    assert metrics(p, r.schedule).energy_transfer_pj == 240.0
    assert checked(p, "energy", UNICAST).objective_value == 490.0


def test_follower_with_a_shorter_route_ends_with_its_leader() -> None:
    # a (c0, 10 cycles) writes y (80 B, stored); b (c1) reads y. l1a -> dram is [bus, port]:
    # ceil(80 / 8) + 1 + 10 = 21 cycles, 240 pJ; l1a -> l1b is [bus]: ceil(80 / 16) + 1 = 6
    # cycles, 80 pJ, and rides along the store (its links are the store's, less latency).
    # energy first: one multicast to dram and l1b (240 pJ, bytes once per link) + tasks 10 pJ
    # = 250; it runs 10-31, so b runs 31-41: latency 41. Unicast: 240 + 80 + 10 = 330 pJ, and
    # then at best latency 37 (l1b 10-16, b 16-26, the store 16-37).
    # latency alone: 37 with multicast on too (the multicast delivers l1b's copy 15 cycles later)
    tensors = [{"id": "y", "size_bytes": 80, "kind": "activation", "producer": "a", "store": True}]
    tasks = [
        {
            "id": "a",
            "outputs": ["y"],
            "options": [{"core": "c0", "duration_cycles": 10, "energy_pj": 5.0}],
        },
        {
            "id": "b",
            "inputs": ["y"],
            "options": [{"core": "c1", "duration_cycles": 10, "energy_pj": 5.0}],
        },
    ]
    p = bus_problem(tensors=tensors, tasks=tasks)
    assert build_space(p).leaders[("y", "l1a", "l1b")] == ("dram",)
    r = checked(p, "energy,latency", PARAMS)
    assert r.status == "optimal"
    assert [s.value for s in r.stages] == [250.0, 41.0]
    assert r.schedule is not None
    assert [(x.src, x.dst, x.start) for x in r.schedule.transfers] == [("l1a", ("dram", "l1b"), 10)]
    off = checked(p, "energy,latency", UNICAST)
    assert [s.value for s in off.stages] == [330.0, 37.0]
    assert checked(p, "latency", PARAMS).objective_value == 37.0


def test_a_multicast_hint_is_used() -> None:
    # the optimum of bus_problem by hand, its destinations in either order: CP-SAT starts from it
    p = bus_problem()
    for dst in (("l1a", "l1b"), ("l1b", "l1a")):
        hint = Schedule(
            problem="bus",
            tasks=(
                ScheduledTask(id="a", core="c0", start=21),
                ScheduledTask(id="b", core="c1", start=21),
            ),
            transfers=(ScheduledTransfer(tensor="w", src="dram", dst=dst, start=0),),
        )
        assert validate(p, hint) == []
        r = checked(p, "latency", PARAMS, hint=hint)
        assert r.hint is not None and r.hint.used and r.hint.why_not is None
        assert r.objective_value == 31.0
    # unicast: the multicast is outside the space, so the hint misses its transfer
    r = checked(p, "latency", UNICAST, hint=hint)
    assert r.hint is not None and not r.hint.used


def test_a_heuristic_multicast_is_used_as_hint() -> None:
    p = bus_problem()
    found = [
        h.schedule
        for h in run_heuristics(p).values()
        if h.schedule is not None and any(x.multicast for x in h.schedule.transfers)
    ]
    assert found  # the heuristics multicast the weight both cores read
    r = checked(p, "latency", PARAMS, hint=found[0], hint_method="heuristic")
    assert r.hint is not None and r.hint.used
    assert r.objective_value == 31.0


# --- brute force over every grouping of the needed transfers into multicasts ---


def _partitions(items: list[str]) -> Iterator[list[list[str]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        yield [[first], *part]
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]


def _group_ok(p: dict[str, Any], src: str, group: list[str]) -> bool:
    """The documented restriction: one source, every link multicast, and one destination whose
    route holds every other's links with no less latency."""
    by_id = {lk["id"]: lk for lk in p["links"]}
    routes = {(r["src"], r["dst"]): r["links"] for r in p["routes"]}
    if len(group) == 1:
        return True
    union = {lk for d in group for lk in routes[(src, d)]}
    if not all(by_id[lk].get("multicast", False) for lk in union):
        return False

    def latency(d: str) -> int:
        return sum(by_id[lk]["latency_cycles"] for lk in routes[(src, d)])

    return any(
        all(set(routes[(src, d)]) <= set(routes[(src, lead)]) for d in group)
        and all(latency(d) <= latency(lead) for d in group)
        for lead in group
    )


def _instances(p: dict[str, Any], assign: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    """Activities and copies of one core assignment, once per grouping of each tensor's
    transfers into multicasts (a multicast: one activity on the union of the links, for
    ceil(size / least bandwidth) + the largest route latency, docs/schedule.md)."""
    mem = {c["id"]: c["memory"] for c in p["cores"]}
    routes = {(r["src"], r["dst"]): r["links"] for r in p["routes"]}
    by_id = {lk["id"]: lk for lk in p["links"]}
    tasks = p["tasks"]
    index = {t["id"]: i for i, t in enumerate(tasks)}
    per_tensor: list[list[list[list[str]]]] = []
    for tensor in p["tensors"]:
        producer = tensor.get("producer")
        src = mem[assign[producer]] if producer else tensor["home"]
        dests = {mem[assign[t["id"]]] for t in tasks if tensor["id"] in t.get("inputs", [])}
        if tensor.get("store"):
            dests.add("dram")
        need = sorted(dests - {src})
        if any((src, d) not in routes for d in need):
            return
        per_tensor.append(
            [g for g in _partitions(need) if all(_group_ok(p, src, grp) for grp in g)]
        )
    for grouping in itertools.product(*per_tensor):
        acts = task_activities(p, assign)
        copies: list[Copy] = []
        for tensor, groups in zip(p["tensors"], grouping, strict=True):
            producer = tensor.get("producer")
            src = mem[assign[producer]] if producer else tensor["home"]
            consumers = [t["id"] for t in tasks if tensor["id"] in t.get("inputs", [])]
            moved: dict[str, int] = {}
            for group in groups:
                links = sorted({lk for d in group for lk in routes[(src, d)]})
                bandwidth = min(
                    Fraction(repr(by_id[lk]["bandwidth_bytes_per_cycle"])) for lk in links
                )
                latency = max(
                    sum(by_id[lk]["latency_cycles"] for lk in routes[(src, d)]) for d in group
                )
                acts.append(
                    Activity(
                        f"move {tensor['id']}->{group}",
                        math.ceil(tensor["size_bytes"] / bandwidth) + latency,
                        tuple("link:" + lk for lk in links),
                        [index[producer]] if producer else [],
                    )
                )
                moved.update(dict.fromkeys(group, len(acts) - 1))
            for c in consumers:
                if producer:
                    acts[index[c]].preds.append(index[producer])
                if mem[assign[c]] != src:
                    acts[index[c]].preds.append(moved[mem[assign[c]]])
            local = [index[c] for c in consumers if mem[assign[c]] == src]
            first = index[producer] if producer else None
            copies.append(
                Copy(src, tensor["size_bytes"], first, local + sorted(set(moved.values())), first)
            )
            for d, a in moved.items():
                readers = [index[c] for c in consumers if mem[assign[c]] == d]
                copies.append(Copy(d, tensor["size_bytes"], a, readers, a))
        yield acts, copies


def brute_force(p: dict[str, Any], upper: float) -> float | None:
    """The least latency over every core assignment and multicast grouping, searching only
    schedules no worse than `upper` (None: there is none)."""
    best = [upper + 0.5]
    choices = [[o["core"] for o in t["options"]] for t in p["tasks"]]
    for combo in itertools.product(*choices):
        assign = {t["id"]: k for t, k in zip(p["tasks"], combo, strict=True)}
        if any(len({assign[t] for t in g}) > 1 for g in p.get("groups", [])):
            continue
        for acts, copies in _instances(p, assign):
            _search(p, acts, copies, "latency", best)
    return None if best[0] == upper + 0.5 else best[0]


@st.composite
def multicast_problems(draw: st.DrawFn) -> dict[str, Any]:
    """Random small format 2 problems where multicast pays: 2-3 cores with private memories,
    two exclusive links (most multicast) on routes of random link subsets (so that one route
    often holds another's links), weights in dram read by several tasks, a few activations."""
    n_cores = draw(st.integers(2, 3))
    memories: list[dict[str, Any]] = [{"id": "dram", "capacity_bytes": None}]
    memories += [
        {"id": f"l{i}", "capacity_bytes": draw(st.sampled_from([None, 12, 24]))}
        for i in range(n_cores)
    ]
    cores = [{"id": f"c{i}", "memory": f"l{i}"} for i in range(n_cores)]
    links = [
        {
            "id": lk,
            "bandwidth_bytes_per_cycle": draw(st.sampled_from([1, 2, 4])),
            "latency_cycles": draw(st.integers(0, 2)),
            "energy_pj_per_byte": 1.0,
            "sharing": "exclusive",
            "multicast": draw(st.integers(0, 4)) > 0,
        }
        for lk in ("k0", "k1")
    ]
    routes = [
        {"src": a, "dst": b, "links": draw(st.sampled_from([["k0"], ["k1"], ["k0", "k1"]]))}
        for a, b in itertools.permutations([m["id"] for m in memories], 2)
    ]
    weights = [f"w{i}" for i in range(draw(st.integers(1, 2)))]
    tensors: list[dict[str, Any]] = [
        {"id": w, "size_bytes": draw(st.integers(1, 8)), "kind": "weight", "home": "dram"}
        for w in weights
    ]
    tasks: list[dict[str, Any]] = []
    for i in range(draw(st.integers(2, 4))):
        inputs = draw(st.lists(st.sampled_from(weights), min_size=1, unique=True))
        produced = [t["id"] for t in tensors if t["kind"] == "activation"]
        if produced and draw(st.booleans()):
            inputs.append(draw(st.sampled_from(produced)))
        options = draw(
            st.lists(st.sampled_from([c["id"] for c in cores]), min_size=1, max_size=2, unique=True)
        )
        tensors.append(
            {
                "id": f"y{i}",
                "size_bytes": draw(st.integers(1, 8)),
                "kind": "activation",
                "producer": f"t{i}",
                "store": draw(st.integers(0, 3)) == 0,
            }
        )
        tasks.append(
            {
                "id": f"t{i}",
                "inputs": inputs,
                "outputs": [f"y{i}"],
                "options": [
                    {"core": k, "duration_cycles": draw(st.integers(1, 4)), "energy_pj": 1.0}
                    for k in options
                ],
            }
        )
    return {
        "format": "cpsched-problem/2",
        "name": "random",
        "memories": memories,
        "cores": cores,
        "links": links,
        "routes": routes,
        "tensors": tensors,
        "tasks": tasks,
    }


@settings(
    max_examples=examples(40),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(multicast_problems())
def test_latency_optimum_equals_brute_force_with_multicast(data: dict[str, Any]) -> None:
    # CP-SAT's proven optimum is the least latency over every grouping into multicasts the space
    # allows, and never worse than the unicast optimum
    p = Problem.model_validate(data)
    r = solve(p, "latency", PARAMS)
    if r.schedule is None:  # capacities: the space proven empty, and brute force agrees
        assert r.status == "infeasible" or (r.stages and r.stages[0].status == "infeasible")
        assert brute_force(data, math.inf) is None
        return
    assert r.status == "optimal"
    assert validate(p, r.schedule) == []
    assert r.objective_value is not None
    assert brute_force(data, r.objective_value) == r.objective_value
    off = solve(p, "latency", UNICAST)
    assert off.objective_value is not None and r.objective_value <= off.objective_value
