"""Heuristic schedulers: how fast they are, and how far from CP-SAT's result.

speed: every heuristic on one large random layer-fused problem (default 5,000 tasks: 625 layers
       of 8 tiles, on 16 cores with private bounded memories behind per-core buses and one DRAM
       link). Prints the median of `--runs` runs of each heuristic (schedule + validation, as
       `run_heuristic` returns it) and of the validation alone.
gaps:  every heuristic and CP-SAT (`--time-limit`, 2 workers) on each problem: the bundled
       workloads at T=8 on every bundled hardware (unless `--no-bundled`), plus
       any `--problem FILE` and `--synthetic N` random problems of 4 layers x 8 tiles on 2 or 4
       cores (some layers attention-like, reading every earlier tile). Prints each heuristic's
       latency and its gap to the CP-SAT result (latency / CP-SAT latency - 1) and to CP-SAT's
       proven bound (SPEC.md §6 relative gap).

    python benchmarks/bench_heuristics.py speed [--tasks 5000] [--cores 16] [--runs 3] [--json F]
    python benchmarks/bench_heuristics.py gaps [--time-limit 60] [--no-bundled]
                                               [--problem FILE ...] [--synthetic N] [--json F]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from cpsched.build import build_problem, load_hardware, load_workload
from cpsched.catalog import bundled_hardware, bundled_workloads
from cpsched.cpsat import SolverParams, solve
from cpsched.heuristics import HEURISTICS, run_heuristic
from cpsched.heuristics.synthetic import random_problem
from cpsched.io import load_problem, write_text_atomic
from cpsched.problem import Problem
from cpsched.result import relative_gap
from cpsched.tiling import TilingSpec
from cpsched.validate import validate


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


def bundled_problems(tiles: int = 8) -> dict[str, Problem]:
    """The bundled workloads cut into `tiles` tiles, on every bundled hardware."""
    problems: dict[str, Problem] = {}
    for workload in bundled_workloads():
        for hardware in bundled_hardware():
            spec = TilingSpec(tiles=tiles)
            problem = build_problem(load_workload(workload), load_hardware(hardware), spec)
            problems[f"{workload} @ {hardware}"] = problem
    return problems


def gaps(args: argparse.Namespace) -> dict[str, Any]:
    """Each heuristic's latency and gap to CP-SAT on the bundled (and given) problems."""
    problems = bundled_problems() if args.bundled else {}
    for path in args.problem or []:
        problems[Path(path).stem] = load_problem(path)
    for seed in range(args.synthetic):
        cores = (2, 4)[seed % 2]
        problems[f"random{seed}: {cores} cores, 4 layers x 8 tiles"] = random_problem(
            seed,
            n_cores=cores,
            n_layers=4,
            tiles=8,
            capacity_factor=3,
            group_layers=0.0,
            barrier_prob=0.0,
            after_prob=0.0,
            causal_prob=0.5,
        )
    if not problems:
        raise SystemExit("no problems: no builder, no --problem, no --synthetic")
    params = SolverParams(time_limit_s=args.time_limit, num_workers=2, seed=0)
    names = list(HEURISTICS)
    width = max(len(label) for label in problems)
    header = f"{'problem':<{width}} {'tasks':>5} {'cpsat':>16} {'bound':>8}"
    for name in names:
        header += f" {name:>22}"
    print(header)
    out: dict[str, Any] = {"time_limit_s": args.time_limit, "problems": {}}
    for label, problem in problems.items():
        exact = solve(problem, "latency", params)
        ref = exact.objective_value
        bound = exact.bound
        cells = []
        entry: dict[str, Any] = {
            "tasks": len(problem.tasks),
            "cpsat": {
                "status": exact.status,
                "latency_cycles": ref,
                "bound": bound,
                "wall_time_s": round(exact.wall_time_s, 3),
            },
            "heuristics": {},
        }
        for name in names:
            result = run_heuristic(problem, name)
            value = result.objective_value
            over = None if value is None or not ref else value / ref - 1
            to_bound = None if value is None or bound is None else relative_gap(value, bound)
            entry["heuristics"][name] = {
                "status": result.status,
                "latency_cycles": value,
                "over_cpsat": over,
                "gap_to_bound": to_bound,
                "wall_time_s": round(result.wall_time_s, 4),
                "message": result.message,
            }
            if value is None:
                cells.append("stuck" if result.status == "unknown" else str(result.status))
            else:
                cells.append(f"{value:.0f}" + ("" if over is None else f" ({over:+.1%})"))
        cpsat_cell = f"{exact.status[:4]} {ref:.0f}" if ref is not None else exact.status
        bound_cell = "" if bound is None else f"{bound:.0f}"
        line = f"{label:<{width}} {len(problem.tasks):>5} {cpsat_cell:>16} {bound_cell:>8}"
        print(line + "".join(f" {c:>22}" for c in cells))
        out["problems"][label] = entry
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
    p_gaps = sub.add_parser("gaps", help="each heuristic's gap to CP-SAT")
    p_gaps.add_argument("--time-limit", type=float, default=60.0)
    p_gaps.add_argument("--problem", action="append", help="a problem file (repeatable)")
    p_gaps.add_argument(
        "--no-bundled", dest="bundled", action="store_false", help="skip the bundled models"
    )
    p_gaps.add_argument(
        "--synthetic", type=int, default=0, help="also this many random 4-layer, 8-tile problems"
    )
    for p in (p_speed, p_gaps):
        p.add_argument("--json", dest="json_path", default=None, help="also write results here")
    args = parser.parse_args()
    result = speed(args) if args.part == "speed" else gaps(args)
    if args.json_path:
        write_text_atomic(args.json_path, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
