"""Suite `scaling`: how CP-SAT's time to a proven optimum (or its gap at the time limit) and its
model size grow with the number of tasks, and what each strengthening of the model brings.

Objective: latency. Instances: the attention head (M=256, N=64) on quad_bus at T = 2 to 32;
multi-head attention (`mha`); BERT-base on quad_bus and mesh4x4 at T = 4, 8, 16 (M=128, the
weights cut as the `models` suite cuts them until every tile fits), and, because BERT-base at
M=128 gives no heuristic schedule and no CP-SAT schedule in minutes, BERT-base at M=32 as the
nearest instance CP-SAT can work on. Ablation: on a few instances that prove quickly, each
strengthening (`SolverParams`: use_hint, redundant, symmetry_breaking, and, where the solver
has them, static_bounds, tile_symmetry, idle_bound, port_heads, idle_union_inputs,
prune_memory and starvation_bound) switched in turn from its default: off, or on for one that
is off by default (15 s each).

The report holds the issue's targets against what was measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from matplotlib.figure import Figure

from cpsched.bench.models import Tiling, ladder
from cpsched.bench.runner import BenchConfig, Case, Record, SuiteDef, record_from_result
from cpsched.check.infeasibility import find_infeasibility
from cpsched.cpsat import SolverParams
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.errors import InputError
from cpsched.model.problem import Problem
from cpsched.pipeline import solve_from_hint
from cpsched.report._common import save_png

OBJECTIVE = "latency"
NOT_RUN = "not-run"
DOES_NOT_FIT = "does-not-fit"
# Placements (tasks x cores) above which an instance is recorded but not solved: the CP-SAT
# model of BERT-base M=128 T=8 on mesh4x4 (952 tasks x 16 cores = 15,232) builds in 12 s here
# (374k variables, 1.5M constraints); T=16 would be about twice that, for no schedule.
MAX_PLACEMENTS = 16_000
# Strengthenings switched from their default in turn (those SolverParams has; the first three
# always): off, or on for one off by default (e.g. port_heads).
SWITCHES: tuple[str, ...] = (
    "use_hint",
    "redundant",
    "symmetry_breaking",
    "static_bounds",
    "tile_symmetry",
    "idle_bound",
    "port_heads",
    "idle_union_inputs",
    "prune_memory",
    "starvation_bound",
    "packing_bound",
)


@dataclass(frozen=True)
class ScalingInstance:
    """One instance of the suite: how to build it and how long to give it."""

    workload: str
    hardware: str
    overrides: Mapping[str, int]
    tiles: int
    time_limit_s: float
    tilings: tuple[Tiling, ...] = ()  # head/weight cuts to try in order (empty: token tiles only)
    ablation: bool = False
    note: str = ""
    target: str | None = None  # the target this instance measures
    synthetic_seed: int | None = None  # a random problem instead (cpsched.heuristics.synthetic)

    @property
    def name(self) -> str:
        """Readable and unique, e.g. `attention_head M=256 T=8 @quad_bus`."""
        if self.synthetic_seed is not None:
            return f"synthetic shared-identical s{self.synthetic_seed} ({self.hardware})"
        sets = " ".join(f"{k}={v}" for k, v in self.overrides.items())
        return f"{self.workload} {sets} T={self.tiles} @{self.hardware}".replace("  ", " ")


@dataclass(frozen=True)
class Built:
    """An instance's problem with the tiling it used, or why it has none."""

    problem: Problem | None
    tiling: str
    reason: str | None = None


def build(inst: ScalingInstance) -> Built:
    """The instance's problem at the first of its tilings whose every tile fits a memory."""
    if inst.synthetic_seed is not None:
        problem = random_problem(
            inst.synthetic_seed,
            n_cores=4,
            n_layers=10,
            tiles=inst.tiles,
            bounded_memory=True,
            shared_memory=True,
            restrict_options=0.0,
        )
        return Built(problem, f"10 layers x {inst.tiles} tiles")
    workload = load_workload(inst.workload, dict(inst.overrides))
    hardware = load_hardware(inst.hardware)
    options = inst.tilings or (Tiling(dict(inst.overrides), inst.tiles),)
    reason = "no tiling tried"
    described = ""
    for tiling in options:
        spec = Tiling(dict(inst.overrides), inst.tiles, tiling.head_tiles, tiling.layers)
        described = spec.describe()
        try:
            problem = build_problem(workload, hardware, spec.spec("fused"))
        except InputError as exc:
            reason = str(exc).splitlines()[0]
            continue
        found = find_infeasibility(problem)
        if not found:
            return Built(problem, described)
        worst = max(found, key=lambda r: r.demand or 0.0)
        reason = f"{len(found)} of {len(problem.tasks)} tasks fit no memory: {worst.reason}"
    return Built(None, described, reason)


Params = dict[str, str | int | float | bool | None]


def _params(inst: ScalingInstance, built: Built, config: str) -> Params:
    out: Params = {
        "workload": inst.workload,
        "hardware": inst.hardware,
        "T": inst.tiles,
        "mode": "fused",
        "tiling": built.tiling,
        "config": config,
        "time_limit_s": inst.time_limit_s,
        "note": inst.note,
        "target": inst.target,
    }
    out.update(inst.overrides)
    return out


def run_instance(
    inst: ScalingInstance, solver: SolverParams, switches: tuple[str, ...]
) -> list[Record]:
    """Solve the instance with everything on, then (for ablation instances) each switch off."""
    built = build(inst)
    if built.problem is None:
        return [
            Record(
                instance=inst.name,
                method="cpsat",
                objective=OBJECTIVE,
                status=DOES_NOT_FIT,
                params=_params(inst, built, "all on"),
                extra={"reason": built.reason},
            )
        ]
    problem = built.problem
    placements = sum(len(t.options) for t in problem.tasks)
    if placements > MAX_PLACEMENTS:
        return [
            Record(
                instance=inst.name,
                method="cpsat",
                objective=OBJECTIVE,
                status=NOT_RUN,
                num_tasks=len(problem.tasks),
                params=_params(inst, built, "all on"),
                extra={
                    "reason": f"{len(problem.tasks)} tasks with {placements:,} (task, core) "
                    f"placements, above this suite's cap of {MAX_PLACEMENTS:,} (the model of "
                    "15,232 placements takes 12 s to build and, with no heuristic hint, finds "
                    "no schedule in its limit)",
                },
            )
        ]
    configs: list[tuple[str, dict[str, bool]]] = [("all on", {})]
    if inst.ablation:
        # a switch that is off by default is switched on instead ("with ...")
        configs += [
            (f"no {s}", {s: False}) if getattr(solver, s) else (f"with {s}", {s: True})
            for s in switches
        ]
    records = []
    for label, switch in configs:
        params = solver.model_copy(update={"time_limit_s": inst.time_limit_s, **switch})
        result = solve_from_hint(problem, OBJECTIVE, params)
        records.append(
            record_from_result(
                inst.name,
                problem,
                result,
                params=_params(inst, built, label),
                extra={"hint": str(result.hint or "none")},
            )
        )
    return records


def _bert_tilings(workload: str = "bert_base") -> tuple[Tiling, ...]:
    return tuple(ladder(workload))


T8_TARGET = "attention head M=256, N=64, T=8 on quad_bus: proven optimal in < 5 s"
T16_TARGET = "attention head M=256, N=64, T=16 on quad_bus: proven optimal in < 60 s"
BERT_TARGET = "BERT-base (M=128, T=4) on mesh4x4: within 5 % of the proven bound in 120 s"


def instances(quick: bool, time_limit_s: float | None) -> list[ScalingInstance]:
    """The suite's instances (`quick`: a small attention head, ablation on the smallest, and the
    BERT target's fit check). `time_limit_s` replaces every instance's own limit."""

    def lim(default: float) -> float:
        return time_limit_s if time_limit_s is not None else default

    if quick:
        small = {"M": 64}
        return [
            ScalingInstance("attention_head", "quad_bus", small, 2, lim(2), ablation=True),
            ScalingInstance("attention_head", "quad_bus", small, 4, lim(2)),
            ScalingInstance(
                "bert_base", "mesh4x4", {"M": 128}, 4, lim(2), _bert_tilings(), target=BERT_TARGET
            ),
        ]
    head = {"M": 256, "N": 64}
    out = [
        ScalingInstance("attention_head", "quad_bus", head, 2, lim(20)),
        ScalingInstance("attention_head", "quad_bus", head, 4, lim(15), ablation=True),
        ScalingInstance(
            "attention_head", "quad_bus", head, 8, lim(15), ablation=True, target=T8_TARGET
        ),
        ScalingInstance("attention_head", "quad_bus", head, 16, lim(60), target=T16_TARGET),
        ScalingInstance("attention_head", "quad_bus", head, 32, lim(60)),
        ScalingInstance("mha", "quad_bus", {}, 4, lim(15), ablation=True),
        ScalingInstance("mha", "quad_bus", {}, 8, lim(30)),
        ScalingInstance(
            "synthetic",
            "4 interchangeable cores, one shared bounded memory",
            {},
            6,
            lim(15),
            ablation=True,
            note="synthetic: a random layer-fused problem whose 4 cores are interchangeable "
            "(where symmetry breaking applies)",
            synthetic_seed=0,
        ),
    ]
    full = "BERT-base at its issue size M=128; head and weight cuts as in the models suite"
    for hardware in ("quad_bus", "mesh4x4"):
        for tiles in (4, 8, 16):
            is_target = hardware == "mesh4x4" and tiles == 4
            out.append(
                ScalingInstance(
                    "bert_base",
                    hardware,
                    {"M": 128},
                    tiles,
                    lim(120 if is_target else 30),
                    _bert_tilings(),
                    note=full,
                    target=BERT_TARGET if is_target else None,
                )
            )
    reduced = "BERT-base at M=32: the nearest size with a heuristic schedule (CP-SAT's hint)"
    out += [
        ScalingInstance(
            "bert_base", "quad_bus", {"M": 32}, 2, lim(30), _bert_tilings(), note=reduced
        ),
        ScalingInstance(
            "bert_base",
            "mesh4x4",
            {"M": 32},
            2,
            lim(120),
            _bert_tilings(),
            note=reduced + "; stands in for the BERT target, which does not fit",
            target="stand-in for: " + BERT_TARGET,
        ),
    ]
    return out


def available_switches() -> tuple[str, ...]:
    """The strengthenings SolverParams has, of SWITCHES."""
    return tuple(s for s in SWITCHES if s in SolverParams.model_fields)


def cases(config: BenchConfig) -> list[Case]:
    """One case per instance (its ablation runs included)."""
    solver = SolverParams(num_workers=config.num_workers, seed=config.seed)
    switches = available_switches() if not config.quick else available_switches()[:3]
    return [
        Case(inst.name, partial(run_instance, inst, solver, switches))
        for inst in instances(config.quick, config.time_limit_s)
    ]


# --- report ---


def _main(records: list[Record]) -> list[Record]:
    return [r for r in records if r.params.get("config") == "all on"]


def _status(r: Record) -> str:
    if r.status in (DOES_NOT_FIT, NOT_RUN):
        return f"{r.status}: {r.extra.get('reason')}"
    if r.status == "optimal":
        return "optimal"
    gap = "" if r.gap is None else f", gap {100 * r.gap:.1f}%"
    return f"{r.status}{gap}"


def _num(value: float | int | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


@dataclass
class TargetRow:
    """One of the issue's targets with what was measured."""

    target: str
    measured: str
    met: str
    instances: list[str] = field(default_factory=list)


def targets(records: list[Record]) -> list[TargetRow]:
    """The issue's three solver targets, each judged from the main (all on) records."""
    rows = []
    main = _main(records)

    def find(target: str) -> list[Record]:
        return [r for r in main if r.params.get("target") == target]

    for target, limit_s in ((T8_TARGET, 5.0), (T16_TARGET, 60.0)):
        found = find(target)
        if not found:
            continue
        r = found[0]
        proven = r.status == "optimal"
        measured = (
            f"{r.status}, {r.wall_time_s:.1f} s"
            + ("" if proven or r.gap is None else f", gap {100 * r.gap:.1f}%")
            + f" (latency {_num(r.objective_value)}, bound {_num(r.bound)})"
        )
        met = "met" if proven and r.wall_time_s < limit_s else "not met"
        rows.append(TargetRow(target, measured, met, [r.instance]))
    for r in find(BERT_TARGET):
        if r.status == DOES_NOT_FIT:
            measured = f"no valid schedule exists at this size: {r.extra.get('reason')}"
            rows.append(TargetRow(BERT_TARGET, measured, "not measurable", [r.instance]))
        else:
            ok = r.gap is not None and r.gap <= 0.05 and r.wall_time_s <= 120.5
            gap = "no schedule" if r.gap is None else f"gap {100 * r.gap:.1f}%"
            rows.append(
                TargetRow(
                    BERT_TARGET, f"{r.status}, {gap}", "met" if ok else "not met", [r.instance]
                )
            )
    for r in find("stand-in for: " + BERT_TARGET):
        gap = "no schedule" if r.gap is None else f"gap {100 * r.gap:.1f}%"
        ok = r.gap is not None and r.gap <= 0.05
        rows.append(
            TargetRow(
                f"stand-in: {r.instance} ({r.num_tasks} tasks), within 5 % in 120 s",
                f"{r.status}, {gap} after {r.wall_time_s:.0f} s",
                "met" if ok else "not met",
                [r.instance],
            )
        )
    return rows


def _plot(records: list[Record], path: Path) -> bool:
    points = [r for r in _main(records) if r.num_tasks and r.status not in (DOES_NOT_FIT, NOT_RUN)]
    if not points:
        return False
    fig = Figure(figsize=(8.0, 4.5))
    ax = fig.add_subplot()
    for proven, marker, label in ((True, "o", "proven optimal"), (False, "x", "not proven")):
        mine = [r for r in points if (r.status == "optimal") == proven]
        ax.scatter(
            [r.num_tasks or 0 for r in mine],
            [max(r.wall_time_s, 1e-3) for r in mine],
            marker=marker,
            label=label,
        )
        for r in mine:
            ax.annotate(
                f"{r.params.get('workload')} T={r.params.get('T')}",
                (r.num_tasks or 0, max(r.wall_time_s, 1e-3)),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tasks")
    ax.set_ylabel("CP-SAT wall time (s), latency")
    ax.set_title("Time to proven optimum (o) or to the time limit (x)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
    return True


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """Targets, the scaling table, the ablation table and the figure."""
    lines = [
        "Objective: latency. Wall time: the whole `solve` call (heuristic hint, model building, "
        "search). Each instance has its own time limit (column `limit`).",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {t.target} | {t.measured} | **{t.met}** |" for t in targets(records)]
    lines += [
        "",
        "## Time and model size against tasks",
        "",
        "| instance | tiling | tasks | variables | constraints | limit s | status | time s "
        "| latency | bound |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in _main(records):
        lines.append(
            f"| {r.instance} | `{r.params.get('tiling')}` | {_num(r.num_tasks)} "
            f"| {_num(r.num_variables)} | {_num(r.num_constraints)} "
            f"| {r.params.get('time_limit_s')} | {_status(r)} | {r.wall_time_s:.2f} "
            f"| {_num(r.objective_value)} | {_num(r.bound)} |"
        )
    notes = list(dict.fromkeys(str(r.params.get("note")) for r in records if r.params.get("note")))
    lines += [""] + [f"- {n}" for n in notes]
    if _plot(records, out_dir / "scaling-time.png"):
        lines += ["", "![time against tasks](scaling-time.png)"]
    lines += ["", "## Ablation: each strengthening switched from its default in turn", ""]
    lines += ablation_table(records)
    return "\n".join(lines) + "\n"


def ablation_table(records: list[Record]) -> list[str]:
    """Per ablation instance: status and time of each configuration, and the slowdown factor."""
    names = list(
        dict.fromkeys(r.instance for r in records if str(r.params.get("config")) != "all on")
    )
    if not names:
        return ["(no ablation runs)"]
    configs = list(dict.fromkeys(str(r.params.get("config")) for r in records))
    out = [
        "Time to proven optimum (or status and gap at the limit); in brackets, the time over the "
        "time with everything on.",
        "",
        "| instance | " + " | ".join(configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for name in names:
        mine = {str(r.params.get("config")): r for r in records if r.instance == name}
        base = mine.get("all on")
        cells = []
        for c in configs:
            r = mine.get(c)
            if r is None:
                cells.append("–")
                continue
            cell = f"{r.wall_time_s:.2f} s" + ("" if r.status == "optimal" else f" {_status(r)}")
            if base is not None and base.wall_time_s > 0 and c != "all on":
                cell += f" ({r.wall_time_s / base.wall_time_s:.1f}×)"
            cells.append(cell)
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


SUITE = SuiteDef(
    name="scaling",
    title="CP-SAT time to proven optimum and model size against the number of tasks, and ablation",
    description=(
        "Latency solves of the attention head (T = 2 to 32), multi-head attention and BERT-base "
        "(T = 4, 8, 16 on quad_bus and mesh4x4) with everything on: status, time to proven "
        "optimum or gap at the limit, variables and constraints. Ablation: each strengthening "
        "switched from its default in turn on instances that prove quickly. The report judges "
        "the issue's solver targets against the measurements."
    ),
    cases=cases,
    report=report,
)
