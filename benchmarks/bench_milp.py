"""CP-SAT against a MILP of the same problem (issue 7): time to a proven optimum, or the gap left.

Every instance is solved for latency by the MILP peer (benchmarks/peers/milp.py) on SCIP and on
HiGHS (both through OR-Tools' MathOpt; their branch-and-bound runs on one thread) and by
cpsched's CP-SAT model (`--workers` workers), each with the same `--time-limit`. Both sides
start from the heuristics' best schedule (CP-SAT's hint, the MILP's MIP start) and take its
latency as the horizon. Every schedule goes through the validator. The table shows, per solver,
the latency found, the status (opt = proven optimal), the wall time (including the heuristics
and model building) and the gap to the proven bound; then CP-SAT's speed-up over each MILP
(MILP time / CP-SAT time) when both proved the optimum, or ">=" the MILP's time over CP-SAT's
when only CP-SAT did.

Instances: the bundled problems (models/problems/*.yaml), random layer-fused problems of 6 to
40 tasks on 2 to 4 cores (some with binding memories), the attention head at T=2 and T=4 on
quad_bus when the problem builder is installed, and any `--problem FILE`. Add an instance by
adding an entry to `synthetic_instances` or `built_instances`.

    python -m benchmarks.bench_milp [--time-limit 60] [--workers 2] [--only NAME ...]
        [--problem FILE ...] [--json benchmarks/results/milp.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peers.milp import Backend, MilpResult, solve_milp
from cpsched.cpsat import SolverParams, solve
from cpsched.heuristics.synthetic import random_problem
from cpsched.io import load_problem, write_text_atomic
from cpsched.problem import Problem
from cpsched.result import SolveResult
from cpsched.validate import validate

ROOT = Path(__file__).resolve().parents[1]
BACKENDS: tuple[Backend, ...] = ("SCIP", "HIGHS")


@dataclass(frozen=True)
class Instance:
    """A named problem, made on demand (building may be slow or unavailable)."""

    name: str
    note: str
    make: Callable[[], Problem | None]


def bundled_instances() -> list[Instance]:
    """The example problems shipped in models/problems (not their schedules)."""
    paths = sorted(
        p for p in (ROOT / "models" / "problems").glob("*.yaml") if ".schedule" not in p.name
    )
    return [Instance(p.stem, "bundled example", partial(load_problem, p)) for p in paths]


def synthetic_instances() -> list[Instance]:
    """Random layered DAGs (cpsched.heuristics.synthetic): 10 to 40 tasks on 2 to 4 cores, each
    core's private memory behind its own bus link, DRAM behind one shared DRAM link."""

    def rnd(seed: int, cores: int, layers: int, tiles: int, memory: bool) -> Instance:
        tag = "mem" if memory else "nomem"
        name = f"rand-s{seed}-{cores}c-{layers * tiles}t-{tag}"
        note = f"{layers} layers x {tiles} tiles, " + (
            "bounded memories (2x the largest task's need)" if memory else "unbounded memories"
        )
        return Instance(
            name,
            note,
            lambda: random_problem(
                seed,
                n_cores=cores,
                n_layers=layers,
                tiles=tiles,
                bounded_memory=memory,
                capacity_factor=2 if memory else None,
            ),
        )

    return [
        rnd(6, 2, 3, 2, False),
        rnd(7, 2, 4, 2, True),
        rnd(1, 2, 5, 2, False),
        rnd(3, 3, 4, 4, False),
        rnd(5, 4, 10, 4, False),
    ]


def _build_attention(tiles: int) -> Problem | None:
    """The attention head at `tiles` tiles on quad_bus, from the problem builder (library or
    `cpsched build`), or None when it is not installed."""
    try:
        build = importlib.import_module("cpsched.build")
    except ImportError:
        build = None
    if build is not None and hasattr(build, "build_bundled"):
        problem: Problem = build.build_bundled("attention_head", "quad_bus", tiles=tiles)
        return problem
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.json"
        command = ["cpsched", "build", "--workload", "attention_head", "--hardware", "quad_bus"]
        try:
            done = subprocess.run(
                [*command, "--tiles", str(tiles), "-o", str(out)], capture_output=True, check=False
            )
        except FileNotFoundError:  # no `cpsched` on the PATH
            return None
        if done.returncode != 0 or not out.exists():
            return None
        return load_problem(out)


def built_instances() -> list[Instance]:
    """Problems from the problem builder (skipped when it is not installed)."""
    return [
        Instance(
            f"attention_head-T{t}@quad_bus",
            f"attention head, {t} tiles",
            partial(_build_attention, t),
        )
        for t in (2, 4)
    ]


def _speedup(milp: dict[str, Any], cpsat: dict[str, Any]) -> str:
    """MILP time over CP-SAT time to a proven optimum ('>=' when only CP-SAT proved it)."""
    if cpsat["status"] != "optimal":
        return "-"
    ratio = milp["wall_time_s"] / max(cpsat["wall_time_s"], 1e-3)
    if milp["status"] == "optimal":
        return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"
    return f">={ratio:.0f}x"


def _record_milp(problem: Problem, r: MilpResult) -> dict[str, Any]:
    if r.schedule is not None:  # solve_milp validates already; checked here once more, openly
        assert validate(problem, r.schedule) == []
    return {
        "status": r.status,
        "latency_cycles": r.objective_value,
        "bound": r.bound,
        "gap": r.gap,
        "wall_time_s": round(r.wall_time_s, 3),
        "solve_time_s": round(r.solve_time_s, 3),
        "num_variables": r.num_variables,
        "num_binaries": r.num_binaries,
        "num_constraints": r.num_constraints,
        "horizon_cycles": r.horizon_cycles,
        "capacity_memories": list(r.capacity_memories),
        "start_latency_cycles": r.start_latency_cycles,
        "valid": r.schedule is not None,
        "message": r.message,
    }


def _record_cpsat(problem: Problem, r: SolveResult) -> dict[str, Any]:
    if r.schedule is not None:
        assert validate(problem, r.schedule) == []
    return {
        "status": r.status,
        "latency_cycles": r.objective_value,
        "bound": r.bound,
        "gap": r.gap,
        "wall_time_s": round(r.wall_time_s, 3),
        "num_variables": r.num_variables,
        "num_constraints": r.num_constraints,
        "valid": r.schedule is not None,
        "message": r.message,
    }


def _cell(entry: dict[str, Any]) -> str:
    status = {"optimal": "opt", "feasible": "feas", "infeasible": "inf", "unknown": "none"}
    value = "-" if entry["latency_cycles"] is None else f"{entry['latency_cycles']:.0f}"
    gap = "" if entry["gap"] in (None, 0.0) else f" gap {100 * entry['gap']:.1f}%"
    state = status.get(entry["status"], entry["status"])
    return f"{value} {state} {entry['wall_time_s']:.2f}s{gap}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Solve every instance with MILP-SCIP, MILP-HiGHS and CP-SAT; print rows as they finish."""
    instances = [*bundled_instances(), *synthetic_instances(), *built_instances()]
    for path in args.problem or []:
        instances.append(Instance(Path(path).stem, "given", partial(load_problem, path)))
    if args.only:
        instances = [i for i in instances if any(o in i.name for o in args.only)]
    params = SolverParams(time_limit_s=args.time_limit, num_workers=args.workers, seed=0)
    out: dict[str, Any] = {
        "benchmark": "milp",
        "command": " ".join(["python -m benchmarks.bench_milp", *sys.argv[1:]]),
        "time_limit_s": args.time_limit,
        "cpsat_workers": args.workers,
        "milp_interface": "ortools.math_opt (GSCIP, HIGHS), solver default threads",
        "versions": {
            "ortools": version("ortools"),
            "python": platform.python_version(),
        },
        "instances": {},
        "skipped": {},
    }
    header = (
        f"{'instance':<34} {'tasks':>5} {'cores':>5} {'mem':>4} "
        f"{'MILP-SCIP':>26} {'MILP-HiGHS':>26} {'CP-SAT':>22} {'vs SCIP':>8} {'vs HiGHS':>8}"
    )
    print(header)
    print("-" * len(header))
    for inst in instances:
        problem = inst.make()
        if problem is None:
            out["skipped"][inst.name] = "problem builder not installed"
            print(f"{inst.name:<34} skipped: problem builder not installed")
            continue
        entry: dict[str, Any] = {
            "note": inst.note,
            "tasks": len(problem.tasks),
            "cores": len(problem.cores),
            "tensors": len(problem.tensors),
        }
        for backend in BACKENDS:
            r = solve_milp(problem, backend, args.time_limit)
            entry[f"milp_{backend.lower()}"] = _record_milp(problem, r)
        entry["cpsat"] = _record_cpsat(problem, solve(problem, "latency", params))
        cpsat = entry["cpsat"]
        scip, highs = entry["milp_scip"], entry["milp_highs"]
        entry["capacity_modelled"] = scip["capacity_memories"]
        entry["speedup_vs_scip"] = _speedup(scip, cpsat)
        entry["speedup_vs_highs"] = _speedup(highs, cpsat)
        for side in (scip, highs):
            if side["status"] == "optimal" and cpsat["status"] == "optimal":
                assert side["latency_cycles"] == cpsat["latency_cycles"], (inst.name, side, cpsat)
        out["instances"][inst.name] = entry
        mem = "yes" if entry["capacity_modelled"] else "no"
        print(
            f"{inst.name:<34} {entry['tasks']:>5} {entry['cores']:>5} {mem:>4} "
            f"{_cell(scip):>26} {_cell(highs):>26} {_cell(cpsat):>22} "
            f"{entry['speedup_vs_scip']:>8} {entry['speedup_vs_highs']:>8}",
            flush=True,
        )
    out["summary"] = summary(out["instances"])
    print()
    for line in out["summary"]["lines"]:
        print(line)
    return out


def summary(instances: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Does CP-SAT reach a proven optimum at least 10x faster than each MILP where both do?"""
    result: dict[str, Any] = {"lines": []}
    for backend in ("scip", "highs"):
        both = {
            name: e[f"milp_{backend}"]["wall_time_s"] / max(e["cpsat"]["wall_time_s"], 1e-3)
            for name, e in instances.items()
            if e[f"milp_{backend}"]["status"] == "optimal" and e["cpsat"]["status"] == "optimal"
        }
        only_cpsat = [
            name
            for name, e in instances.items()
            if e["cpsat"]["status"] == "optimal" and e[f"milp_{backend}"]["status"] != "optimal"
        ]
        slowest = min(both.values(), default=None)
        result[backend] = {
            "both_optimal": {k: round(v, 2) for k, v in both.items()},
            "min_speedup": None if slowest is None else round(slowest, 2),
            "only_cpsat_optimal": only_cpsat,
            "target_10x_met": slowest is not None and slowest >= 10,
        }
        label = "SCIP" if backend == "scip" else "HiGHS"
        result["lines"].append(
            f"MILP-{label}: both proved the optimum on {len(both)} instances, CP-SAT faster by "
            + ("-" if slowest is None else f"{slowest:.1f}x at least")
            + f" (10x target {'met' if result[backend]['target_10x_met'] else 'NOT met'}); "
            f"only CP-SAT proved it on {len(only_cpsat)}"
        )
    return result


def main(argv: list[str] | None = None) -> None:
    """Parse options, run the benchmark, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per solver")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers")
    parser.add_argument("--problem", action="append", help="another problem file (repeatable)")
    parser.add_argument("--only", action="append", help="run instances whose name contains this")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "milp.json"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    out = run(args)
    out["total_wall_time_s"] = round(time.monotonic() - started, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.json, json.dumps(out, indent=2) + "\n")
    print(f"\nwrote {args.json} ({out['total_wall_time_s']} s in all)")


if __name__ == "__main__":
    main()
