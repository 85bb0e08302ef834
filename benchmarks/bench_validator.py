"""How fast the validator and the metrics are on a large schedule (10,000 tasks, 20,000 transfers).

Builds a random format 2 problem on 4 cores with private memories (a shared dram link, one NoC
link per core; every link `bandwidth`-shared, or `exclusive` with --sharing exclusive) and a
valid list schedule of it: every task reads its own weight from dram and the output of a random
recent task on another core, so each task needs exactly two transfers (the first task reads a
graph input instead). Prints the median of 5 runs of `validate` and `metrics`.

    python benchmarks/bench_validator.py [--tasks 10000] [--seed 0] [--sharing exclusive]
                                         [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.model.io import write_text_atomic
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule

NUM_CORES = 4


def build(num_tasks: int, seed: int, sharing: str = "bandwidth") -> tuple[Problem, Schedule]:
    """A random problem and a valid list schedule with 2 transfers per task."""
    rng = random.Random(seed)
    mems = [f"l1_{c}" for c in range(NUM_CORES)]

    def route(src: str, dst: str) -> list[str]:
        return [("dram_link" if m == "dram" else f"noc_{m[3:]}") for m in (src, dst)]

    def cycles(size: int, links: list[str]) -> int:
        # bandwidths: dram_link 16, noc 32 B/cycle; latency 2 per link
        bandwidth = min(16 if lk == "dram_link" else 32 for lk in links)
        return -(-size // bandwidth) + 2 * len(links)

    tensors: list[dict[str, Any]] = [
        {"id": "x", "size_bytes": 4096, "kind": "input", "home": "dram"}
    ]
    tasks: list[dict[str, Any]] = []
    sched_tasks: list[dict[str, Any]] = []
    transfers: list[dict[str, Any]] = []
    core_free = [0] * NUM_CORES
    link_free: dict[str, int] = {"dram_link": 0} | {f"noc_{c}": 0 for c in range(NUM_CORES)}
    core_of: list[int] = []
    end_of: list[int] = []

    def move(tensor: str, size: int, src: str, dst: str, ready: int) -> int:
        links = route(src, dst)
        start = max([ready] + [link_free[lk] for lk in links])
        end = start + cycles(size, links)
        for lk in links:
            link_free[lk] = end
        transfers.append({"tensor": tensor, "src": src, "dst": dst, "start": start})
        return end

    size_of: list[int] = []
    copied: set[tuple[int, int]] = set()  # (producer task, core) whose output already moved there
    for i in range(num_tasks):
        if i == 0:
            core, act, act_size = 0, "x", 4096
        else:
            # a recent output made on another core and not yet copied to this core's memory
            while True:
                core = rng.randrange(NUM_CORES)
                window = range(max(0, i - 64), i)
                choices = [j for j in window if core_of[j] != core and (j, core) not in copied]
                if choices:
                    break
            j = rng.choice(choices)
            copied.add((j, core))
            act, act_size = f"a{j}", size_of[j]
        weight_size = rng.randint(1, 64) * 64
        size = rng.randint(1, 64) * 64
        size_of.append(size)
        duration = rng.randint(1, 50)
        tensors.append(
            {"id": f"a{i}", "size_bytes": size, "kind": "activation", "producer": f"T{i}"}
        )
        tensors.append({"id": f"w{i}", "size_bytes": weight_size, "kind": "weight", "home": "dram"})
        mem = mems[core]
        w_arrival = move(f"w{i}", weight_size, "dram", mem, 0)
        if i == 0:
            act_arrival = move("x", act_size, "dram", mem, 0)
        else:
            act_arrival = move(act, act_size, mems[core_of[j]], mem, end_of[j])
        start = max(core_free[core], w_arrival, act_arrival)
        core_free[core] = start + duration
        core_of.append(core)
        end_of.append(start + duration)
        tasks.append({
            "id": f"T{i}", "layer": f"L{i // 16}", "tile": i % 16,
            "inputs": [act, f"w{i}"], "outputs": [f"a{i}"],
            "options": [{"core": f"c{c}", "duration_cycles": duration, "energy_pj": 10.0 * duration}
                        for c in range(NUM_CORES)],
        })  # fmt: skip
        sched_tasks.append({"id": f"T{i}", "core": f"c{core}", "start": start})

    links = [
        {
            "id": "dram_link",
            "bandwidth_bytes_per_cycle": 16,
            "latency_cycles": 2,
            "energy_pj_per_byte": 20.0,
            "sharing": sharing,
        }
    ]
    links += [
        {
            "id": f"noc_{c}",
            "bandwidth_bytes_per_cycle": 32,
            "latency_cycles": 2,
            "energy_pj_per_byte": 1.0,
            "sharing": sharing,
        }
        for c in range(NUM_CORES)
    ]
    routes = [{"src": s, "dst": d, "links": route(s, d)}
              for s in ["dram", *mems] for d in mems if s != d]  # fmt: skip
    problem = Problem.model_validate({
        "format": "cpsched-problem/2", "name": f"bench{num_tasks}",
        "memories": [{"id": "dram", "capacity_bytes": None}]
        + [{"id": m, "capacity_bytes": 1 << 20} for m in mems],
        "cores": [{"id": f"c{c}", "memory": mems[c]} for c in range(NUM_CORES)],
        "links": links, "routes": routes, "tensors": tensors, "tasks": tasks,
    })  # fmt: skip
    schedule = Schedule.model_validate(
        {"problem": problem.name, "tasks": sched_tasks, "transfers": transfers}
    )
    return problem, schedule


def median_s(fn: Callable[[], object], runs: int = 5) -> float:
    """Median wall time of `runs` calls, in seconds."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Build the instance, check it is valid, and time validate and metrics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sharing", choices=["bandwidth", "exclusive"], default="bandwidth")
    parser.add_argument("--json", dest="json_path", default=None, help="also write results here")
    args = parser.parse_args()

    problem, schedule = build(args.tasks, args.seed, args.sharing)
    violations = validate(problem, schedule)
    if violations:
        raise SystemExit(f"benchmark schedule is invalid: {violations[0].message}")
    m = metrics(problem, schedule)
    validate_s = median_s(lambda: validate(problem, schedule))
    metrics_s = median_s(lambda: metrics(problem, schedule))
    result = {
        "tasks": len(schedule.tasks),
        "sharing": args.sharing,
        "transfers": len(schedule.transfers),
        "latency_cycles": m.latency_cycles,
        "validate_s": round(validate_s, 4),
        "metrics_s": round(metrics_s, 4),
    }
    print(f"{'tasks':>8} {'transfers':>10} {'latency':>10} {'validate s':>11} {'metrics s':>10}")
    print(
        f"{result['tasks']:>8} {result['transfers']:>10} {result['latency_cycles']:>10} "
        f"{validate_s:>11.3f} {metrics_s:>10.3f}"
    )
    if args.json_path:
        write_text_atomic(args.json_path, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
