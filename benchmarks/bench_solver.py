"""CP-SAT: time to proven optimality and model size, and what each strengthening brings.

For every problem, solves `latency` with everything on, then with each strengthening switched off
in turn (the heuristic hint and hint-derived horizon, the redundant constraints, the symmetry
breaking between identical cores). Prints one row per (problem, configuration): status, latency,
bound, wall time, variables and constraints. Problems: the bundled examples
(models/problems/*.yaml) and synthetic layer-fused problems of 60 tasks (10 layers x 6 tiles) on
4 cores with bounded memories, a DRAM link and per-memory buses:

- `shared`: the 4 cores share one bounded L1 (memory contention, little traffic);
- `shared-identical`: the same with every task able to run on every core at the same cost, so
  the cores are interchangeable (where symmetry breaking applies);
- `private`: each core owns a bounded L1 behind its own bus (much DRAM traffic: the hard case).

    python benchmarks/bench_solver.py [--time-limit 30] [--workers 2] [--seeds 0 1 2]
                                      [--kinds shared shared-identical private] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from cpsched.cpsat import SolverParams, solve
from cpsched.heuristics.synthetic import random_problem
from cpsched.io import load_problem, write_text_atomic
from cpsched.problem import Problem

ROOT = Path(__file__).resolve().parent.parent
CONFIGS: dict[str, dict[str, bool]] = {
    "all on": {},
    "no hint": {"use_hint": False},
    "no redundant": {"redundant": False},
    "no symmetry": {"symmetry_breaking": False},
}
KINDS: dict[str, dict[str, Any]] = {
    "shared": {"shared_memory": True},
    "shared-identical": {"shared_memory": True, "restrict_options": 0.0},
    "private": {"shared_memory": False},
}


def problems(seeds: list[int], kinds: list[str]) -> list[tuple[str, Problem]]:
    """The bundled example problems, then the synthetic ones."""
    out = [
        (path.stem, load_problem(path))
        for path in sorted((ROOT / "models" / "problems").glob("*.yaml"))
        if not path.name.endswith(".schedule.yaml")
    ]
    for kind in kinds:
        for seed in seeds:
            p = random_problem(
                seed, n_cores=4, n_layers=10, tiles=6, bounded_memory=True, **KINDS[kind]
            )
            out.append((f"{kind}-{seed}", p))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "solver.json"
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    header = (
        f"{'problem':<20} {'tasks':>5} {'config':<13} {'status':<9} {'latency':>8} "
        f"{'bound':>8} {'time s':>7} {'vars':>6} {'cons':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, problem in problems(args.seeds, args.kinds):
        for config, switch in CONFIGS.items():
            params = SolverParams(
                time_limit_s=args.time_limit, num_workers=args.workers, seed=0, **switch
            )
            started = time.monotonic()
            r = solve(problem, "latency", params)
            wall = time.monotonic() - started
            row = {
                "problem": name,
                "tasks": len(problem.tasks),
                "config": config,
                "status": r.status,
                "latency": r.objective_value,
                "bound": r.bound,
                "wall_time_s": round(wall, 3),
                "num_variables": r.num_variables,
                "num_constraints": r.num_constraints,
                "symmetric_core_classes": r.parameters.get("symmetric_core_classes"),
            }
            rows.append(row)
            latency = "-" if r.objective_value is None else f"{r.objective_value:.0f}"
            bound = "-" if r.bound is None else f"{r.bound:.0f}"
            print(
                f"{name:<20} {len(problem.tasks):>5} {config:<13} {r.status:<9} {latency:>8} "
                f"{bound:>8} {wall:>7.2f} {r.num_variables or 0:>6} {r.num_constraints or 0:>6}",
                flush=True,
            )
    report = {"time_limit_s": args.time_limit, "workers": args.workers, "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
