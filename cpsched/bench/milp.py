"""Suite `milp`: CP-SAT against a mixed-integer linear program of the same problem (latency).

The MILP peer (:mod:`cpsched.bench.milp_peer`: disjunctive big-M, the same search space as the
CP-SAT model) runs on SCIP and on HiGHS through OR-Tools' MathOpt, single-threaded branch and bound;
CP-SAT runs with the configured workers. Each side gets the same time limit and starts from the
heuristics' best schedule (CP-SAT's hint, the MILP's MIP start and horizon). Every schedule of
either side passes the validator. Reported: time to a proven optimum or the gap at the limit,
and CP-SAT's speed-up (MILP time / CP-SAT time) where both proved the optimum.

Instances: the bundled example problems (models/problems), random layer-fused problems of 6 to
40 tasks on 2 to 4 cores (some with binding memories), and small attention heads.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cpsched.bench.milp_peer import Backend, InvalidMilpScheduleError, MilpResult, solve_milp
from cpsched.bench.runner import (
    BenchConfig,
    Case,
    Record,
    SuiteDef,
    record_from_result,
    record_from_schedule,
)
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.catalog import models_dir
from cpsched.frontend.tiling import TilingSpec
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.io import load_problem
from cpsched.model.problem import Problem
from cpsched.pipeline import solve_from_hint

OBJECTIVE = "latency"
BACKENDS: tuple[Backend, ...] = ("SCIP", "HIGHS")
FULL_TIME_LIMIT_S = 40.0
# The quick run's instances are proven by every side in well under a second; its limits are a
# safety net, not part of the result, so what the quick run reports does not depend on the
# machine's load: a generous time limit for each side, and for the MILP a node limit (a count of
# branch-and-bound nodes, the same on every machine).
QUICK_TIME_LIMIT_S = 60.0
QUICK_NODE_LIMIT = 10_000  # the quick instances take under 1,000 nodes on either backend
TARGET_SPEEDUP = 10.0


@dataclass(frozen=True)
class MilpInstance:
    """A named problem, made on demand, with a note on what it is."""

    name: str
    note: str
    make: Callable[[], Problem]


def bundled_instances() -> list[MilpInstance]:
    """The example problems shipped in models/problems (not their schedules)."""
    paths = sorted(
        p for p in (models_dir() / "problems").glob("*.yaml") if ".schedule" not in p.name
    )
    return [MilpInstance(p.stem, "bundled example", partial(load_problem, p)) for p in paths]


def _random(seed: int, cores: int, layers: int, tiles: int, memory: bool) -> MilpInstance:
    tag = "mem" if memory else "nomem"
    note = f"random: {layers} layers x {tiles} tiles on {cores} cores, " + (
        "bounded memories (2x the largest task's need)" if memory else "unbounded memories"
    )
    return MilpInstance(
        f"rand-s{seed}-{cores}c-{layers * tiles}t-{tag}",
        note,
        partial(
            random_problem,
            seed,
            n_cores=cores,
            n_layers=layers,
            tiles=tiles,
            bounded_memory=memory,
            capacity_factor=2 if memory else None,
        ),
    )


def synthetic_instances() -> list[MilpInstance]:
    """Random layered DAGs (cpsched.heuristics.synthetic), each core's private memory behind its
    own bus link, DRAM behind one shared link: 6 to 40 tasks on 2 to 4 cores."""
    return [
        _random(6, 2, 3, 2, False),
        _random(7, 2, 4, 2, True),
        _random(1, 2, 5, 2, False),
        _random(3, 3, 4, 4, False),
        _random(5, 4, 10, 4, False),
    ]


def _attention(m: int, tiles: int, hardware: str) -> Problem:
    workload = load_workload("attention_head", {"M": m})
    return build_problem(workload, load_hardware(hardware), TilingSpec(tiles=tiles))


def attention_instances() -> list[MilpInstance]:
    """Small attention heads from the problem builder (14 tasks each)."""
    return [
        MilpInstance(
            f"attention_head M={m} T={t} @{hw}",
            f"attention head, M={m}, N=64, {t} token tiles, fused",
            partial(_attention, m, t, hw),
        )
        for m, t, hw in ((64, 2, "single_core"), (64, 2, "quad_bus"), (256, 2, "quad_bus"))
    ]


def instances(quick: bool) -> list[MilpInstance]:
    """The suite's instances; `quick`: a 4-task example and a 6-task random problem."""
    every = [*bundled_instances(), *synthetic_instances(), *attention_instances()]
    if quick:
        return [i for i in every if i.name in ("two_cores_private", "rand-s6-2c-6t-nomem")]
    return every


def _milp_record(problem: Problem, inst: MilpInstance, result: MilpResult) -> Record:
    """A Record of one MilpResult (its schedule validated here once more, openly)."""
    method = f"milp-{result.backend.lower()}"
    extra: dict[str, str | int | float | bool | None] = {
        "num_binaries": result.num_binaries,
        "solve_time_s": round(result.solve_time_s, 4),
        "horizon_cycles": result.horizon_cycles,
        "start_latency_cycles": result.start_latency_cycles,
        "capacity_memories": ",".join(result.capacity_memories),
        "message": result.message,
    }
    size = {
        "objective": OBJECTIVE,
        "status": result.status,
        "objective_value": result.objective_value,
        "bound": result.bound,
        "gap": result.gap,
        "num_variables": result.num_variables,
        "num_constraints": result.num_constraints,
    }
    params = {"note": inst.note}
    if result.schedule is None:
        return Record(
            instance=inst.name,
            method=method,
            wall_time_s=result.wall_time_s,
            num_tasks=len(problem.tasks),
            params=params,
            extra=extra,
            **size,
        )
    if bad := validate(problem, result.schedule):
        raise InvalidMilpScheduleError(f"{method} on {inst.name}: {bad[0]}")
    record = record_from_schedule(
        inst.name,
        problem,
        method,
        result.schedule,
        result.wall_time_s,
        params=params,
        extra=extra,
    )
    return record.model_copy(update=size)


def run_instance(
    inst: MilpInstance, solver: SolverParams, node_limit: int | None = None
) -> list[Record]:
    """MILP on SCIP, MILP on HiGHS (each also stopped after `node_limit` nodes, when given),
    then CP-SAT, all with the same time limit."""
    problem = inst.make()
    records = [
        _milp_record(
            problem,
            inst,
            solve_milp(problem, backend, solver.time_limit_s, node_limit=node_limit),
        )
        for backend in BACKENDS
    ]
    exact = solve_from_hint(problem, OBJECTIVE, solver)
    records.append(record_from_result(inst.name, problem, exact, params={"note": inst.note}))
    return records


def cases(config: BenchConfig) -> list[Case]:
    """One case per instance."""
    limit = config.time_limit_s or (QUICK_TIME_LIMIT_S if config.quick else FULL_TIME_LIMIT_S)
    # the MILP peer searches the unicast space (no multicast, one transfer at a time on every
    # link, no staging, no spill): CP-SAT searches the same one here, so that their proven optima
    # compare (the attention heads on quad_bus have multicast links and a bus that DRAM transfers
    # half use)
    solver = SolverParams(
        time_limit_s=limit,
        num_workers=config.num_workers,
        seed=config.seed,
        multicast=False,
        shared_bandwidth=False,
        staging=False,
        spill=False,
    )
    nodes = QUICK_NODE_LIMIT if config.quick else None
    return [Case(i.name, partial(run_instance, i, solver, nodes)) for i in instances(config.quick)]


# --- report ---


def _cell(r: Record | None) -> str:
    if r is None:
        return "–"
    value = "–" if r.objective_value is None else f"{r.objective_value:,.0f}"
    state = {"optimal": "opt", "feasible": "feas", "unknown": "none"}.get(r.status, r.status)
    gap = "" if not r.gap else f", gap {100 * r.gap:.1f}%"
    return f"{value} {state} {r.wall_time_s:.2f} s{gap}"


def speedups(records: list[Record], method: str) -> dict[str, float]:
    """MILP time / CP-SAT time per instance where both proved the optimum."""
    out = {}
    for inst in dict.fromkeys(r.instance for r in records):
        mine = {r.method: r for r in records if r.instance == inst}
        milp, cpsat = mine.get(method), mine.get("cpsat")
        if milp and cpsat and milp.status == "optimal" and cpsat.status == "optimal":
            out[inst] = milp.wall_time_s / max(cpsat.wall_time_s, 1e-3)
    return out


def disagreements(records: list[Record]) -> list[str]:
    """Instances where two sides proved different optima (a bug in one of them)."""
    out = []
    for inst in dict.fromkeys(r.instance for r in records):
        optima = {
            r.method: r.objective_value
            for r in records
            if r.instance == inst and r.status == "optimal"
        }
        if len(set(optima.values())) > 1:
            out.append(f"{inst}: {optima}")
    return out


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """Side-by-side table, speed-ups, the 10x target per backend."""
    methods = ("milp-scip", "milp-highs", "cpsat")
    lines = [
        "Latency; each cell: latency found, status (opt = proven optimal), wall time (model "
        "building, MIP start / hint and validation included), gap at the limit. Speed-up: "
        "MILP time / CP-SAT time where both proved the optimum; `≥` where only CP-SAT did.",
        "",
        "| instance | tasks | MILP-SCIP | MILP-HiGHS | CP-SAT | vs SCIP | vs HiGHS |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for inst in dict.fromkeys(r.instance for r in records):
        mine = {r.method: r for r in records if r.instance == inst}
        cpsat = mine.get("cpsat")
        ratios = []
        for method in methods[:2]:
            milp = mine.get(method)
            if cpsat is None or milp is None or cpsat.status != "optimal":
                ratios.append("–")
                continue
            ratio = milp.wall_time_s / max(cpsat.wall_time_s, 1e-3)
            text = f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"
            ratios.append(text if milp.status == "optimal" else f"≥ {text}")
        tasks = next((r.num_tasks for r in mine.values() if r.num_tasks), None)
        lines.append(
            f"| {inst} | {tasks} | "
            + " | ".join(_cell(mine.get(m)) for m in methods)
            + " | "
            + " | ".join(ratios)
            + " |"
        )
    lines += ["", "## Target: CP-SAT at least 10× faster to a proven optimum", ""]
    tiny = [
        inst
        for inst in dict.fromkeys(r.instance for r in records)
        if all(r.wall_time_s < 0.05 for r in records if r.instance == inst)
    ]
    for method, label in (("milp-scip", "SCIP"), ("milp-highs", "HiGHS")):
        both = speedups(records, method)
        only_cpsat = [
            inst
            for inst in dict.fromkeys(r.instance for r in records)
            if any(
                r.instance == inst and r.method == "cpsat" and r.status == "optimal"
                for r in records
            )
            and not any(
                r.instance == inst and r.method == method and r.status == "optimal" for r in records
            )
        ]
        slow = {k: v for k, v in both.items() if v < TARGET_SPEEDUP}
        if both:
            summary = (
                f"both proved the optimum on {len(both)} instances; CP-SAT faster by "
                f"{min(both.values()):.1f}× to {max(both.values()):.0f}× "
                f"(median {statistics.median(both.values()):.0f}×)"
            )
        else:
            summary = "no instance where both proved the optimum"
        verdict = "met" if both and not slow else "not met"
        lines.append(
            f"- MILP-{label}: {summary}; only CP-SAT proved it on {len(only_cpsat)} "
            f"({', '.join(only_cpsat) or 'none'}). 10× on every instance both solve: **{verdict}**"
            + (
                ""
                if not slow
                else " (below 10×: " + ", ".join(f"{k} {v:.1f}×" for k, v in slow.items()) + ")"
            )
            + "."
        )
        real = {k: v for k, v in slow.items() if k not in tiny}
        if tiny and len(real) < len(slow):
            lines.append(
                f"  Leaving out instances every solver finishes in under 50 ms: **"
                f"{'met' if both and not real else 'not met'}**"
                + (
                    ""
                    if not real
                    else " (" + ", ".join(f"{k} {v:.1f}×" for k, v in real.items()) + ")"
                )
                + "."
            )
    if tiny:
        lines.append(
            f"- On {', '.join(tiny)} every solver finishes in under 50 ms: the ratio there "
            "measures start-up costs, not search."
        )
    wrong = disagreements(records)
    lines += [
        "",
        "Proven optima agree on every instance."
        if not wrong
        else "**Proven optima disagree:** " + "; ".join(wrong),
    ]
    return "\n".join(lines) + "\n"


SUITE = SuiteDef(
    name="milp",
    title="CP-SAT against a MILP of the same problem (SCIP and HiGHS), latency",
    description=(
        "The MILP peer (cpsched.bench.milp_peer: disjunctive big-M, same search space) on "
        "SCIP and HiGHS through OR-Tools MathOpt, against CP-SAT, each with the same time "
        "limit and the heuristics' best schedule as start; all schedules validated. Time to a "
        "proven optimum or gap at the limit, and the speed-up where both proved the optimum."
    ),
    cases=cases,
    report=report,
)
