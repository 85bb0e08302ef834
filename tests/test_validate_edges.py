"""Valid edge cases of docs/validity.md (half-open intervals everywhere), random valid schedules.

The base problem and schedule are those of test_validate_rules.py (rebuilt here so each test
file stands alone): l1a holds w [0, 37) 100 B, a [27, 57) 200 B and r [37, 40) 100 B, so it
holds 300 bytes on [27, 40), with w released at 37 exactly when r is allocated.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples
from tiny_example import TINY_PROBLEM as BASE_PROBLEM
from tiny_example import TINY_SCHEDULE as BASE_SCHEDULE

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.model.problem import MemoryId, Problem, TensorId
from cpsched.model.schedule import Schedule


def problem_with_l1a(capacity_bytes: int, data: dict[str, Any] | None = None) -> Problem:
    data = copy.deepcopy(data or BASE_PROBLEM)
    data["memories"][1]["capacity_bytes"] = capacity_bytes
    return Problem.model_validate(data)


def base_schedule(**changes: Any) -> Schedule:
    data = copy.deepcopy(BASE_SCHEDULE)
    data.update(changes)
    return Schedule.model_validate(data)


def test_transfer_ending_when_its_consumer_starts() -> None:
    # a reaches l1b at 57 and Q starts at 57.
    assert validate(problem_with_l1a(1000), base_schedule()) == []


def test_memory_exactly_full_with_release_and_allocation_at_one_instant() -> None:
    # 300 bytes on [27, 40) in 300 bytes: at 37 w (100) is released as r (100) is allocated;
    # counting the allocation first would give 400.
    assert validate(problem_with_l1a(300), base_schedule()) == []
    (v,) = validate(problem_with_l1a(299), base_schedule())
    assert (v.rule, v.times) == (9, (27, 40, 27))


def test_zero_duration_task_inside_another() -> None:
    # Z takes 0 cycles on c0 at 30, inside P [27, 37): an empty interval overlaps nothing, and its
    # 500-byte output (read by nobody) is held on [30, 30), i.e. not at all, so l1a stays at 300.
    data = copy.deepcopy(BASE_PROBLEM)
    data["tensors"].append({"id": "z", "size_bytes": 500, "kind": "activation", "producer": "Z"})
    data["tasks"].append(
        {"id": "Z", "outputs": ["z"], "options": [{"core": "c0", "duration_cycles": 0}]}
    )
    tasks = [*BASE_SCHEDULE["tasks"], {"id": "Z", "core": "c0", "start": 30}]
    assert validate(problem_with_l1a(300, data), base_schedule(tasks=tasks)) == []


def test_tasks_back_to_back_on_a_core() -> None:
    # S on c0 at [23, 27), then P at [27, 37).
    tasks = [
        {"id": "S", "core": "c0", "start": 23} if t["id"] == "S" else t
        for t in BASE_SCHEDULE["tasks"]
    ]
    assert validate(problem_with_l1a(1000), base_schedule(tasks=tasks)) == []


def test_transfers_back_to_back_on_a_link() -> None:
    # b leaves at 62 over bus+dlink for 15 cycles: [62, 77); a copy of w into l1b starts at 77.
    transfers = [
        *BASE_SCHEDULE["transfers"],
        {"tensor": "w", "src": "dram", "dst": "l1b", "start": 77},
    ]
    assert validate(problem_with_l1a(1000), base_schedule(transfers=transfers)) == []


def test_empty_problem_and_schedule() -> None:
    problem = Problem.model_validate({
        "format": "cpsched-problem/1", "name": "empty",
        "memories": [{"id": "dram", "capacity_bytes": None}],
        "cores": [{"id": "c0", "memory": "dram"}],
    })  # fmt: skip
    empty = Schedule(problem="empty")
    assert validate(problem, empty) == []
    assert metrics(problem, empty).latency_cycles == 0


# --- random valid schedules ----------------------------------------------------------------


def random_case(seed: int, num_tasks: int) -> tuple[Problem, Schedule, dict[str, tuple[str, int]]]:
    """A random layered DAG on cores with private memories, and a list schedule of it.

    Every task reads 1-2 earlier outputs or graph inputs; every input missing in the core's
    memory is transferred from its source as soon as it is available and the route is free.
    Outputs nobody reads are stored. Memories are unbounded (capacity added by the test).
    Also returns, for every task with inputs, its last input and when that arrives.
    """
    rng = random.Random(seed)
    num_cores = rng.randint(1, 3)
    mems = ["dram"] + [f"m{i}" for i in range(num_cores)]
    links = [{"id": f"k{i}", "bandwidth_bytes_per_cycle": rng.choice([1, 2.5, 8]),
              "latency_cycles": rng.randint(0, 3), "energy_pj_per_byte": 1.0}
             for i in range(num_cores)]  # fmt: skip

    # k_i joins memory m_i to the others; a route between m_i and m_j occupies k_i and k_j.
    def route_links(src: str, dst: str) -> list[str]:
        return [f"k{m[1:]}" for m in (src, dst) if m != "dram"]

    routes = [
        {"src": s, "dst": d, "links": route_links(s, d)} for s in mems for d in mems if s != d
    ]
    tensors: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    available: list[str] = []
    for i in range(rng.randint(1, 3)):
        tensors.append({"id": f"x{i}", "size_bytes": rng.randint(0, 40),
                        "kind": rng.choice(["input", "weight"]), "home": "dram"})  # fmt: skip
        available.append(f"x{i}")
    for i in range(num_tasks):
        reads = sorted(set(rng.sample(available, k=min(len(available), rng.randint(1, 2)))))
        tensors.append({"id": f"t{i}", "size_bytes": rng.randint(0, 60), "kind": "activation",
                        "producer": f"T{i}"})  # fmt: skip
        cores = rng.sample(range(num_cores), k=rng.randint(1, num_cores))
        tasks.append({"id": f"T{i}", "inputs": reads, "outputs": [f"t{i}"],
                      "options": [{"core": f"c{c}", "duration_cycles": rng.randint(0, 9),
                                   "energy_pj": 1.0} for c in cores]})  # fmt: skip
        available.append(f"t{i}")
    read = {t for task in tasks for t in task["inputs"]}
    for tensor in tensors:
        if "producer" in tensor and tensor["id"] not in read:
            tensor["store"] = True
    problem = Problem.model_validate({
        "format": "cpsched-problem/1", "name": f"random{seed}",
        "memories": [{"id": m, "capacity_bytes": None} for m in mems],
        "cores": [{"id": f"c{i}", "memory": f"m{i}"} for i in range(num_cores)],
        "links": links, "routes": routes, "tensors": tensors, "tasks": tasks,
    })  # fmt: skip

    link_free = {lk["id"]: 0 for lk in links}
    core_free = {f"c{i}": 0 for i in range(num_cores)}
    avail: dict[tuple[str, str], int] = {(t["id"], "dram"): 0 for t in tensors if "home" in t}
    origin: dict[str, str] = {t["id"]: "dram" for t in tensors if "home" in t}
    sched_tasks: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    last_input: dict[str, tuple[str, int]] = {}

    def move(tensor: str, dst: str) -> int:
        src = origin[tensor]
        start = max([avail[(tensor, src)]] + [link_free[k] for k in route_links(src, dst)])
        end = start + problem.transfer_duration_cycles(
            TensorId(tensor), MemoryId(src), MemoryId(dst)
        )
        for k in route_links(src, dst):
            link_free[k] = end
        transfers.append({"tensor": tensor, "src": src, "dst": dst, "start": start})
        avail[(tensor, dst)] = end
        return end

    for task in problem.tasks:
        opt = rng.choice(task.options)
        mem = problem.memory_of(opt.core)
        ready = [avail[(t, mem)] if (t, mem) in avail else move(t, mem) for t in task.inputs]
        start = max([core_free[opt.core], *ready])
        if ready:
            last_input[task.id] = max(zip(task.inputs, ready, strict=True), key=lambda x: x[1])
        core_free[opt.core] = start + opt.duration_cycles
        sched_tasks.append({"id": task.id, "core": opt.core, "start": start})
        for out in task.outputs:
            avail[(out, mem)] = start + opt.duration_cycles
            origin[out] = mem
            if problem.tensor_by_id[out].store and mem != "dram":
                move(out, "dram")
    schedule = Schedule.model_validate(
        {"problem": problem.name, "tasks": sched_tasks, "transfers": transfers}
    )
    return problem, schedule, last_input


@settings(max_examples=examples(60), deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), num_tasks=st.integers(1, 12))
def test_random_list_schedules_are_valid_and_capacity_matches_the_peak(
    seed: int, num_tasks: int
) -> None:
    problem, schedule, _ = random_case(seed, num_tasks)
    assert validate(problem, schedule) == []
    # Bounding every memory by the peak metrics reports keeps it valid; one byte less breaks
    # exactly the memories with a positive peak, at the cycle metrics names.
    unbounded = problem.model_dump()
    bounded = copy.deepcopy(unbounded)
    for m in bounded["memories"]:
        m["capacity_bytes"] = 10**9
    peaks = metrics(Problem.model_validate(bounded), schedule).peak_memory
    for m in bounded["memories"]:
        m["capacity_bytes"] = peaks[m["id"]].peak_bytes
    assert validate(Problem.model_validate(bounded), schedule) == []
    for m in bounded["memories"]:
        m["capacity_bytes"] = max(0, peaks[m["id"]].peak_bytes - 1)
    found = validate(Problem.model_validate(bounded), schedule)
    assert all(v.rule == 9 for v in found)
    expected = {m for m, p in peaks.items() if p.peak_bytes > 0}
    assert {v.memories[0] for v in found} == expected
    # With capacity peak - 1, every overflow interval holds exactly the peak; the peak may recur
    # in several intervals, and the first one is where metrics says it first happens.
    first_seen: set[str] = set()
    for v in found:
        peak = peaks[v.memories[0]]
        assert f"{peak.peak_bytes} bytes at cycle {v.times[2]}" in v.message
        if v.memories[0] not in first_seen:
            assert v.times[2] == peak.at_cycle
            first_seen.add(v.memories[0])


@settings(max_examples=examples(60), deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), num_tasks=st.integers(1, 12), pick=st.integers(0, 100))
def test_a_task_pulled_before_its_last_input_is_caught(
    seed: int, num_tasks: int, pick: int
) -> None:
    problem, schedule, last_input = random_case(seed, num_tasks)
    task_id = sorted(last_input)[pick % len(last_input)]
    tensor, arrival = last_input[task_id]
    tasks = tuple(
        t.model_copy(update={"start": arrival - 1}) if t.id == task_id else t
        for t in schedule.tasks
    )
    found = validate(problem, schedule.model_copy(update={"tasks": tasks}))
    late = [(v.tensors, v.times) for v in found if v.rule == 4 and v.tasks == (task_id,)]
    assert ((tensor,), (arrival, arrival - 1)) in late
