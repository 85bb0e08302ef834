"""Suite `heuristics`: every heuristic against CP-SAT on the `models` suite's instances (fused),
for latency: the gap distribution of each, how much of it the allocation explains and how much
the timing (re-timing with CP-SAT), and whether CP-SAT is ever worse than a heuristic.

With L a heuristic's latency, L_order its best re-timing with its cores and per-core order kept,
L_cores with only its cores kept, and L* CP-SAT's latency (cpsched.analysis.compare):

    L - L* = (L - L_order)        timing: idle time the order did not need
           + (L_order - L_cores)  order on each core
           + (L_cores - L*)       allocation

exact when CP-SAT and both re-timings are proven optimal (else estimates; L_cores < L* can
happen when CP-SAT stopped at its limit).

How fast the heuristics are is not this suite's question (their times here are those of small
instances, next to CP-SAT's): benchmarks/bench_heuristics.py times them on one large problem.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cpsched.analysis.compare import retime
from cpsched.bench.models import DOES_NOT_FIT, Pair, instance, pairs, time_limit
from cpsched.bench.runner import (
    BenchConfig,
    Case,
    Record,
    SuiteDef,
    record_from_result,
    record_from_schedule,
)
from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams
from cpsched.heuristics import HEURISTICS, run_heuristics
from cpsched.model.result import SolveResult
from cpsched.pipeline import solve_from_hint

OBJECTIVE = "latency"
FULL_TIME_LIMIT_S = 4.0  # the CP-SAT solve of each instance
FULL_RETIME_LIMIT_S = 1.5  # each re-timing
QUICK_RETIME_LIMIT_S = 0.5


class InvalidScheduleError(RuntimeError):
    """A heuristic or re-timed schedule failed the validator: a bug, never a benchmark result."""


def run_instance(pair: Pair, config: BenchConfig) -> list[Record]:
    """Every heuristic, CP-SAT, and the two re-timings of each heuristic schedule."""
    inst = instance(pair)
    label = inst.label("fused")
    params = inst.params("fused")
    if inst.reason is not None:
        return [
            Record(
                instance=label,
                method=method,
                objective=OBJECTIVE if method == "cpsat" else None,
                status=DOES_NOT_FIT,
                params=params,
                extra={"reason": inst.reason},
            )
            for method in (*HEURISTICS, "cpsat")
        ]
    problem = inst.build("fused")
    solver = SolverParams(
        time_limit_s=time_limit(problem, config, FULL_TIME_LIMIT_S),
        num_workers=config.num_workers,
        seed=config.seed,
    )
    retime_limit = QUICK_RETIME_LIMIT_S if config.quick else FULL_RETIME_LIMIT_S
    if config.time_limit_s is not None:
        retime_limit = min(retime_limit, config.time_limit_s)
    retimer = solver.model_copy(update={"time_limit_s": retime_limit})
    heuristic_results = run_heuristics(problem)
    for name, result in heuristic_results.items():
        if result.schedule is not None and (bad := validate(problem, result.schedule)):
            raise InvalidScheduleError(f"{name} on {label}: {bad[0]}")
    exact = solve_from_hint(problem, OBJECTIVE, solver, heuristics=heuristic_results)
    reference = exact.objective_value
    records = [record_from_result(label, problem, exact, params=params)]
    for name, result in heuristic_results.items():
        if result.schedule is None:
            records.append(
                Record(
                    instance=label,
                    method=name,
                    objective=None,
                    status=result.status,
                    wall_time_s=result.wall_time_s,
                    num_tasks=len(problem.tasks),
                    params=params,
                    extra={"message": result.message},
                )
            )
            continue
        latency = metrics(problem, result.schedule).latency_cycles
        # cores kept is a relaxation of cores and order kept: it starts from that re-timing
        retimed: dict[str, SolveResult] = {
            "order": retime(problem, result.schedule, keep_order=True, params=retimer)
        }
        start = retimed["order"].schedule or result.schedule
        retimed["cores"] = retime(problem, start, keep_order=False, params=retimer)
        lat: dict[str, int | None] = {}
        for kept, r in retimed.items():
            if r.schedule is not None and (bad := validate(problem, r.schedule)):
                raise InvalidScheduleError(f"{name} re-timed ({kept}) on {label}: {bad[0]}")
            lat[kept] = None if r.schedule is None else metrics(problem, r.schedule).latency_cycles
        extra: dict[str, str | int | float | bool | None] = {
            "retimed_order_kept_cycles": lat["order"],
            "retimed_cores_kept_cycles": lat["cores"],
            "retime_order_status": retimed["order"].status,
            "retime_cores_status": retimed["cores"].status,
            "cpsat_latency_cycles": reference,
            "over_cpsat": None if not reference else latency / reference - 1,
            "exact_split": exact.status == "optimal"
            and all(r.status == "optimal" for r in retimed.values()),
        }
        if reference is not None and lat["order"] is not None and lat["cores"] is not None:
            extra.update(
                from_timing_cycles=latency - lat["order"],
                from_order_cycles=lat["order"] - lat["cores"],
                from_allocation_cycles=lat["cores"] - reference,
            )
        records.append(
            record_from_schedule(
                label,
                problem,
                name,
                result.schedule,
                result.wall_time_s,
                params=params,
                extra=extra,
            )
        )
    return records


def cases(config: BenchConfig) -> list[Case]:
    """One case per models-suite pair, fused."""
    return [
        Case(f"{w}@{h}", partial(run_instance, (w, h, t), config))
        for w, h, t in pairs(config.quick)
    ]


# --- report ---


@dataclass
class Violation:
    """CP-SAT's latency above a heuristic's on one instance (must not happen)."""

    instance: str
    heuristic: str
    heuristic_cycles: int
    cpsat_cycles: float | None
    cpsat_status: str


def violations(records: list[Record]) -> list[Violation]:
    """Instances where a heuristic found a schedule and CP-SAT's is longer (or missing)."""
    cpsat = {r.instance: r for r in records if r.method == "cpsat"}
    out = []
    for r in records:
        if r.method == "cpsat" or r.latency_cycles is None:
            continue
        ref = cpsat.get(r.instance)
        ref_latency = None if ref is None else ref.latency_cycles
        if ref_latency is None or ref_latency > r.latency_cycles:
            out.append(
                Violation(
                    r.instance,
                    r.method,
                    r.latency_cycles,
                    None if ref_latency is None else float(ref_latency),
                    "missing" if ref is None else ref.status,
                )
            )
    return out


def _pct(values: list[float]) -> str:
    return "–" if not values else f"{100 * statistics.median(values):+.1f}%"


def _max(values: list[float]) -> str:
    return "–" if not values else f"{100 * max(values):+.1f}%"


def improvements(records: list[Record]) -> list[float]:
    """Per instance: 1 - CP-SAT latency / best heuristic latency."""
    out = []
    for inst in dict.fromkeys(r.instance for r in records):
        mine = [r for r in records if r.instance == inst]
        ref = next((r.latency_cycles for r in mine if r.method == "cpsat"), None)
        best = min(
            (r.latency_cycles for r in mine if r.method != "cpsat" and r.latency_cycles),
            default=None,
        )
        if ref is not None and best:
            out.append(1 - ref / best)
    return out


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """Gap distribution and split per heuristic, the never-worse check, the median improvement."""
    instances = list(dict.fromkeys(r.instance for r in records))
    cpsat = {r.instance: r for r in records if r.method == "cpsat"}
    solved = [i for i in instances if cpsat.get(i) and cpsat[i].latency_cycles is not None]
    proven = [i for i in solved if cpsat[i].status == "optimal"]
    misfit = [i for i in instances if cpsat.get(i) and cpsat[i].status == DOES_NOT_FIT]
    lines = [
        f"Instances: the `models` suite's pairs, fused ({len(instances)}; {len(misfit)} do not "
        f"fit at any tiling tried, {len(solved)} with a CP-SAT schedule, {len(proven)} of them "
        "proven optimal). Gap: heuristic latency / CP-SAT latency - 1. Split of the gap "
        "(summed over instances, in cycles): timing = idle time the heuristic's order did not "
        "need, order = the order on each core, allocation = the cores chosen.",
        "",
        "| heuristic | schedules | stuck | gap median | gap max | timing | order | allocation "
        "| allocation share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in HEURISTICS:
        mine = [r for r in records if r.method == name and r.instance in solved]
        found = [r for r in mine if r.latency_cycles is not None]
        gaps = [g for r in found if (g := _num(r.extra.get("over_cpsat"))) is not None]
        parts = {
            k: sum(_num(r.extra.get(f"from_{k}_cycles")) or 0.0 for r in found)
            for k in ("timing", "order", "allocation")
        }
        total = sum(parts.values())
        share = "–" if total <= 0 else f"{100 * parts['allocation'] / total:.0f}%"
        lines.append(
            f"| {name} | {len(found)} | {len(mine) - len(found)} | {_pct(gaps)} | {_max(gaps)} "
            f"| {parts['timing']:,.0f} | {parts['order']:,.0f} | {parts['allocation']:,.0f} "
            f"| {share} |"
        )
    bad = violations([r for r in records if r.instance not in misfit])
    gains = improvements(records)
    lines += ["", "## CP-SAT never worse than any heuristic", ""]
    fitting = len(instances) - len(misfit)
    if not bad:
        lines.append(
            f"Holds on all {fitting} instances that fit (CP-SAT's hint is the best heuristic "
            "schedule)."
        )
    else:
        lines.append(f"**Violated {len(bad)} times:**")
        lines += [
            f"- {v.instance}: {v.heuristic} {v.heuristic_cycles:,} cycles, CP-SAT "
            + (
                f"no schedule within its limit ({v.cpsat_status})"
                if v.cpsat_cycles is None
                else f"{v.cpsat_cycles:,.0f} ({v.cpsat_status})"
            )
            for v in bad
        ]
        if any(v.cpsat_cycles is None for v in bad):
            lines.append(
                "\nCP-SAT ending without a schedule means it could not even complete the "
                "heuristic hint into a full assignment of its model in time (`cpsched solve` "
                "then keeps the heuristic schedule); never a worse schedule."
                if all(v.cpsat_cycles is None for v in bad)
                else ""
            )
    if gains:
        lines += [
            "",
            f"CP-SAT's improvement over the best heuristic (1 - CP-SAT / best): median "
            f"{100 * statistics.median(gains):.1f}%, max {100 * max(gains):.1f}%, over "
            f"{len(gains)} instances; none on {sum(1 for g in gains if g <= 0)}.",
        ]
    lines += ["", "## Per instance (latency, cycles)", ""]
    lines += [
        "| instance | tasks | CP-SAT | " + " | ".join(HEURISTICS) + " |",
        "|---|---:|---|" + "---:|" * len(HEURISTICS),
    ]
    for inst in instances:
        ref = cpsat.get(inst)
        if ref is None or ref.status == DOES_NOT_FIT:
            continue
        cells = []
        for name in HEURISTICS:
            r = next((x for x in records if x.instance == inst and x.method == name), None)
            if r is None or r.latency_cycles is None:
                cells.append("stuck")
                continue
            over = _num(r.extra.get("over_cpsat"))
            cells.append(f"{r.latency_cycles:,}" + ("" if over is None else f" ({over:+.1%})"))
        ref_cell = "–" if ref.latency_cycles is None else f"{ref.latency_cycles:,}"
        if ref.status != "optimal":
            ref_cell += f" {ref.status}" + ("" if ref.gap is None else f" gap {ref.gap:.1%}")
        lines.append(f"| {inst} | {ref.num_tasks} | {ref_cell} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


SUITE = SuiteDef(
    name="heuristics",
    title="Every heuristic against CP-SAT on the models suite's instances (latency)",
    description=(
        "Each heuristic (list-depth-first, list-breadth-first, HEFT, layer-by-layer) and CP-SAT "
        "on every fused instance of the `models` suite: the distribution of each heuristic's "
        "latency gap to CP-SAT, the part of it that the core allocation explains and the part "
        "the order and timing explain (CP-SAT re-timing the heuristic's allocation, with and "
        "without its order), and a check that CP-SAT is never worse than any heuristic."
    ),
    cases=cases,
    report=report,
)
