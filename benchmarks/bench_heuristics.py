"""Heuristic schedulers: how fast they are on a large problem.

speed: every heuristic on one large random layer-fused problem (default 5,000 tasks: 625 layers
       of 8 tiles, on 16 cores with private bounded memories behind per-core buses and one DRAM
       link). Prints the median of `--runs` runs of each heuristic (schedule + validation, as
       `run_heuristic` returns it) and of the validation alone.

How far each heuristic is from CP-SAT is the `heuristics` suite of `cpsched bench`
(cpsched/bench/heuristics.py): a different question on different instances, so the two share
nothing and neither repeats the other.

    python benchmarks/bench_heuristics.py speed [--tasks 5000] [--cores 16] [--runs 3] [--json F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from cpsched.check.validate import validate
from cpsched.heuristics import HEURISTICS, run_heuristic
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.io import write_text_atomic


def speed(args: argparse.Namespace) -> dict[str, Any]:
    """Time every heuristic on one large random problem."""
    tiles = 8
    problem = random_problem(
        args.seed,
        n_cores=args.cores,
        n_layers=args.tasks // tiles,
        tiles=tiles,
        capacity_factor=4,
        group_layers=0.0,
        barrier_prob=0.02,
        after_prob=0.02,
    )
    print(
        f"{len(problem.tasks)} tasks, {len(problem.cores)} cores, {len(problem.tensors)} tensors; "
        f"median of {args.runs} runs"
    )
    print(f"{'heuristic':<20} {'status':<9} {'latency':>9} {'total s':>8} {'validate s':>11}")
    out: dict[str, Any] = {"tasks": len(problem.tasks), "cores": len(problem.cores), "runs": {}}
    for name in HEURISTICS:
        totals, checks = [], []
        result = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = run_heuristic(problem, name)
            totals.append(time.perf_counter() - t0)
            if result.schedule is not None:
                t0 = time.perf_counter()
                assert validate(problem, result.schedule) == []
                checks.append(time.perf_counter() - t0)
        assert result is not None
        total_s = statistics.median(totals)
        validate_s = statistics.median(checks) if checks else 0.0
        latency = "" if result.objective_value is None else f"{result.objective_value:.0f}"
        print(f"{name:<20} {result.status:<9} {latency:>9} {total_s:>8.3f} {validate_s:>11.3f}")
        out["runs"][name] = {
            "status": result.status,
            "latency_cycles": result.objective_value,
            "total_s": round(total_s, 4),
            "validate_s": round(validate_s, 4),
            "message": result.message,
        }
    return out


def main() -> None:
    """Run the part asked for and print (and optionally save) its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    p_speed = sub.add_parser("speed", help="time every heuristic on a large random problem")
    p_speed.add_argument("--tasks", type=int, default=5000)
    p_speed.add_argument("--cores", type=int, default=16)
    p_speed.add_argument("--runs", type=int, default=3)
    p_speed.add_argument("--seed", type=int, default=0)
    p_speed.add_argument("--json", dest="json_path", default=None, help="also write results here")
    args = parser.parse_args()
    result = speed(args)
    if args.json_path:
        write_text_atomic(args.json_path, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
