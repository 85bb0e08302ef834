"""Which full-problem subsolver CP-SAT should run first when it has 2 workers.

With `num_workers=2` CP-SAT runs one full-problem worker (the first subsolver listed) and one
LNS worker, so `SolverParams.subsolver` picks the one worker that can raise the bound. This runs
the attention head (M=256, N=64) on quad_bus, latency, from the best heuristic schedule, once
per subsolver (CP-SAT's default first, then default_lp, max_lp, lb_tree_search,
objective_lb_search, core), and prints the incumbent, bound, gap and status of each.

    python benchmarks/bench_subsolvers.py [--tiles 4 8] [--time-limit 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from cpsched.cpsat import SolverParams
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import TilingSpec
from cpsched.heuristics import best_heuristic, run_heuristics
from cpsched.model.io import write_text_atomic
from cpsched.pipeline import solve_from_hint

SUBSOLVERS: tuple[str | None, ...] = (
    None,
    "default_lp",
    "max_lp",
    "lb_tree_search",
    "objective_lb_search",
    "core",
)


def run(
    tiles: int, time_limit_s: float, subsolvers: tuple[str | None, ...]
) -> list[dict[str, Any]]:
    """One solve per subsolver of the attention head at `tiles` tiles on quad_bus."""
    workload = load_workload("attention_head", {"M": 256, "N": 64})
    problem = build_problem(workload, load_hardware("quad_bus"), TilingSpec(tiles=tiles))
    heuristics = run_heuristics(problem)
    best = best_heuristic(heuristics)
    rows = []
    for subsolver in subsolvers:
        params = SolverParams(time_limit_s=time_limit_s, num_workers=2, seed=0, subsolver=subsolver)
        result = solve_from_hint(problem, "latency", params, heuristics=heuristics)
        rows.append(
            {
                "tiles": tiles,
                "tasks": len(problem.tasks),
                "subsolver": subsolver or "(CP-SAT's default)",
                "status": result.status,
                "latency": result.objective_value,
                "bound": result.bound,
                "gap": result.gap,
                "seconds": round(result.wall_time_s, 2),
                "best_heuristic": None if best is None else heuristics[best].objective_value,
            }
        )
    return rows


def main() -> None:
    """Run every subsolver on each tiling, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve")
    parser.add_argument(
        "--subsolvers",
        nargs="+",
        default=None,
        help="subsolvers to compare (default: CP-SAT's default and the five named above)",
    )
    parser.add_argument("--json", dest="json_path", default=None, help="also write results here")
    args = parser.parse_args()
    chosen: tuple[str | None, ...] = (
        SUBSOLVERS
        if args.subsolvers is None
        else tuple(None if s == "default" else s for s in args.subsolvers)
    )
    rows = [row for t in args.tiles for row in run(t, args.time_limit, chosen)]
    table = Table(
        title=f"attention head M=256 N=64 on quad_bus, latency, 2 workers, {args.time_limit:g} s"
    )
    for col in ("tiles", "subsolver", "status", "latency", "bound", "gap", "seconds"):
        table.add_column(col, justify="left" if col in ("subsolver", "status") else "right")
    for r in rows:
        table.add_row(
            str(r["tiles"]),
            r["subsolver"],
            r["status"],
            "-" if r["latency"] is None else f"{r['latency']:,.0f}",
            "-" if r["bound"] is None else f"{r['bound']:,.0f}",
            "-" if r["gap"] is None else f"{r['gap']:.2%}",
            f"{r['seconds']:.1f}",
        )
    Console().print(table)
    if args.json_path:
        payload = {"time_limit_s": args.time_limit, "workers": 2, "seed": 0, "rows": rows}
        write_text_atomic(args.json_path, json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
