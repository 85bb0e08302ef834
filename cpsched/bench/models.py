"""Suite `models`: every bundled transformer workload on every bundled hardware, layer-by-layer
versus fused, for latency, energy and peak memory; which schedule wins for each objective.

Both modes use the same tiling; layer-by-layer only adds barriers (no tile of a layer starts
before every tile of the layers it reads has ended), so every layer-by-layer schedule is also a
fused one. The fused solve is hinted with the better of the heuristics' best schedule and the
layer-by-layer solve's schedule, so a fused result worse than layer-by-layer can only come from
a solve stopped at the time limit (its gap says so).

The big models (BERT-base, GPT-2, ViT, Llama) need their weights cut to fit 256 KiB (or smaller)
core memories and their sequence shortened to stay tractable: each pair takes the first tiling
of a short ladder (:func:`ladder`) whose every tile fits its memories and for which a heuristic
finds a schedule; a pair with none is recorded as `does-not-fit` with the reason.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from cpsched.bench.runner import BenchConfig, Case, Record, SuiteDef, record_from_result
from cpsched.check.infeasibility import find_infeasibility
from cpsched.check.metrics import metrics
from cpsched.cpsat import SolverParams
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.catalog import bundled_hardware, bundled_workloads
from cpsched.frontend.tiling import ExecutionMode, TilingSpec
from cpsched.heuristics import best_heuristic, best_heuristic_schedule, run_heuristics
from cpsched.model.errors import InputError
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule
from cpsched.pipeline import solve_from_hint

MODES: tuple[ExecutionMode, ...] = ("layer-by-layer", "fused")
OBJECTIVES: tuple[str, ...] = ("latency", "energy", "memory")
DOES_NOT_FIT = "does-not-fit"
FULL_TIME_LIMIT_S = 2.0
QUICK_TIME_LIMIT_S = 1.0
# Instances with more (task, core) placements than this get BIG_TIME_LIMIT_S per solve (full
# suite only): below ~8 s, CP-SAT cannot even complete the heuristic hint of the 16-core mesh
# models (its hint completion gets a quarter of the limit, at most 2 s).
BIG_PLACEMENTS = 1000
BIG_TIME_LIMIT_S = 8.0


def placements(problem: Problem) -> int:
    """(task, core) pairs the solver chooses among: a measure of model size."""
    return sum(len(t.options) for t in problem.tasks)


def time_limit(problem: Problem, config: BenchConfig, default_s: float) -> float:
    """The per-solve limit: the configured one, else `default_s`, raised to BIG_TIME_LIMIT_S for
    big instances of the full suite."""
    if config.time_limit_s is not None:
        return config.time_limit_s
    if config.quick:
        return QUICK_TIME_LIMIT_S
    return BIG_TIME_LIMIT_S if placements(problem) > BIG_PLACEMENTS else default_s


# The weight-heavy layers of the big models: layer -> the loop dim its weight is cut along.
_FFN_SPLITS: dict[str, dict[str, str]] = {
    "llama_block": {"GATE": "f", "UP": "f", "DOWN": "e", "OUT": "e"},
}
_DEFAULT_FFN_SPLITS = {"FF1": "f", "FF2": "e", "OUT": "e"}
_BIG = ("bert_base", "gpt2_small", "vit_b16", "llama_block")
# Sequence length of the big models in this suite (their defaults are 128-200 tokens).
BIG_SEQUENCE = 32


@dataclass(frozen=True)
class Tiling:
    """One rung of a ladder: parameter overrides (`--set`) and the tiling."""

    overrides: Mapping[str, int]
    tiles: int
    head_tiles: int = 1
    layers: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def spec(self, mode: ExecutionMode) -> TilingSpec:
        """The tiling as a TilingSpec in `mode`."""
        return TilingSpec(
            tiles=self.tiles,
            head_tiles=self.head_tiles,
            layers={k: dict(v) for k, v in self.layers.items()},
            mode=mode,
        )

    def describe(self) -> str:
        """The cpsched options that build this tiling, e.g. `--set M=32 --tiles 2 ...`."""
        parts = [f"--set {k}={v}" for k, v in self.overrides.items()]
        parts.append(f"--tiles {self.tiles}")
        if self.head_tiles > 1:
            parts.append(f"--head-tiles {self.head_tiles}")
        parts += [
            f"--split {layer}.{dim}={n}" for layer, d in self.layers.items() for dim, n in d.items()
        ]
        return " ".join(parts)


@dataclass(frozen=True)
class ModelInstance:
    """A (workload, hardware) pair with the tiling it runs at, or the reason none fits."""

    workload: str
    hardware: str
    tiling: Tiling  # the tiling used (or, when nothing fits, the finest one tried)
    note: str  # what was reduced or split, and why
    reason: str | None = None  # why the pair does not fit (None: it does)

    @property
    def name(self) -> str:
        """`workload@hardware`."""
        return f"{self.workload}@{self.hardware}"

    def label(self, mode: ExecutionMode) -> str:
        """The instance name of one mode's records."""
        return f"{self.name} {mode}"

    def build(self, mode: ExecutionMode) -> Problem:
        """The problem of this pair in `mode`."""
        workload = load_workload(self.workload, dict(self.tiling.overrides))
        return build_problem(workload, load_hardware(self.hardware), self.tiling.spec(mode))

    def params(self, mode: ExecutionMode | None) -> dict[str, str | int | float | bool | None]:
        """Record parameters: workload, hardware, mode, overrides, tiling and the note."""
        out: dict[str, str | int | float | bool | None] = {
            "workload": self.workload,
            "hardware": self.hardware,
            "mode": mode,
            "T": self.tiling.tiles,
            "head_tiles": self.tiling.head_tiles,
            "tiling": self.tiling.describe(),
            "note": self.note,
        }
        out.update({k: v for k, v in self.tiling.overrides.items()})
        return out


def ladder(workload: str) -> list[Tiling]:
    """Tilings to try for `workload`, coarse to fine (the first that fits is used).

    Small workloads: token tiles, then head tiles. Big models: sequence length cut to
    BIG_SEQUENCE tokens, the feed-forward and output weights cut into 16 (then 32) slices and the
    heads into groups, then more token tiles, for memories of 256 KiB down to 128 KiB.
    """
    if workload not in _BIG:
        rungs = [Tiling({}, 4), Tiling({}, 4, 4), Tiling({"M": 64}, 4, 4)]
        return rungs if workload != "attention_head" else [Tiling({}, 4), Tiling({"M": 64}, 4)]
    splits = _FFN_SPLITS.get(workload, _DEFAULT_FFN_SPLITS)
    heads = 8 if workload == "llama_block" else 12
    groups = 6 if heads % 6 == 0 else 8

    def cut(weights: int, out: int) -> dict[str, dict[str, int]]:
        return {k: {d: out if k == "OUT" else weights} for k, d in splits.items()}

    seq = {"M": BIG_SEQUENCE}
    return [
        Tiling(seq, 2, 4, cut(16, 4)),
        Tiling(seq, 2, groups, cut(32, 8)),
        Tiling(seq, 4, groups, cut(32, 8)),
    ]


def _note(tiling: Tiling, rung: int) -> str:
    parts = []
    if "M" in tiling.overrides:
        parts.append(f"sequence length cut to M={tiling.overrides['M']} to stay tractable")
    if rung > 0:
        parts.append(f"rung {rung + 1} of the tiling ladder (coarser tilings do not fit)")
    return "; ".join(parts) or "default parameters"


def choose(workload: str, hardware: str) -> ModelInstance:
    """The first tiling of `ladder(workload)` that fits `hardware` in both modes, or the reason
    none does (from cpsched.check.infeasibility, or the heuristics' message when every tile fits
    on its own but the heuristics cannot schedule them together)."""
    reason = "no tiling of the ladder builds"
    last: Tiling | None = None
    rungs = ladder(workload)
    for rung, tiling in enumerate(rungs):
        try:
            problems = [ModelInstance(workload, hardware, tiling, "").build(mode) for mode in MODES]
        except InputError as exc:  # e.g. more head tiles than heads
            reason = str(exc).splitlines()[0]
            continue
        last = tiling
        found = find_infeasibility(problems[0])
        if found:
            worst = max(found, key=lambda r: r.demand or 0.0)
            reason = f"{len(found)} of {len(problems[0].tasks)} tasks fit no memory: {worst.reason}"
            continue
        if all(best_heuristic_schedule(p) is not None for p in problems):
            return ModelInstance(workload, hardware, tiling, _note(tiling, rung))
        reason = "every tile fits on its own, but no heuristic finds a schedule (memory too full)"
    tried = last or rungs[-1]
    return ModelInstance(
        workload,
        hardware,
        tried,
        f"finest tiling tried: {tried.describe()}",
        reason=reason,
    )


Pair = tuple[str, str, Tiling | None]  # workload, hardware, tiling (None: from the ladder)


def pairs(quick: bool) -> list[Pair]:
    """The suite's (workload, hardware) pairs; `quick`: a small attention head on two hardware
    and one pair that does not fit (BERT-base on the 64 KiB GAP8 cluster)."""
    if quick:
        tiny = Tiling({"M": 64}, 2)
        return [
            ("attention_head", "single_core", tiny),
            ("attention_head", "quad_bus", tiny),
            ("bert_base", "gap8", None),
        ]
    return [(w, h, None) for w in bundled_workloads() for h in bundled_hardware()]


def instance(pair: Pair) -> ModelInstance:
    """The pair at its given tiling, or at the first rung of its ladder that fits."""
    workload, hardware, tiling = pair
    if tiling is None:
        return choose(workload, hardware)
    return ModelInstance(workload, hardware, tiling, _note(tiling, 0))


def _value(problem: Problem, schedule: Schedule, objective: str) -> float:
    m = metrics(problem, schedule)
    if objective == "latency":
        return float(m.latency_cycles)
    if objective == "energy":
        return m.energy_total_pj
    return float(max((p.peak_bytes for p in m.peak_memory.values()), default=0))


def _hint(
    problem: Problem,
    objective: str,
    lbl: Schedule | None,
    heuristics: Mapping[str, SolveResult],
) -> tuple[Schedule | None, str]:
    """The better (for `objective`) of the heuristics' best schedule and the layer-by-layer one."""
    candidates: list[tuple[float, str, Schedule]] = []
    best = best_heuristic(heuristics)
    heuristic = None if best is None else heuristics[best].schedule
    if heuristic is not None:
        candidates.append((_value(problem, heuristic, objective), "heuristic", heuristic))
    if lbl is not None:
        mine = lbl.model_copy(update={"problem": problem.name})
        candidates.append((_value(problem, mine, objective), "layer-by-layer solve", mine))
    if not candidates:
        return None, "none"
    _, source, schedule = min(candidates, key=lambda c: c[0])
    return schedule, source


def run_pair(pair: Pair, config: BenchConfig) -> list[Record]:
    """Solve both modes for every objective (layer-by-layer first: it hints the fused solve)."""
    inst = instance(pair)
    if inst.reason is not None:
        return [
            Record(
                instance=inst.label(mode),
                method="cpsat",
                objective=None,
                status=DOES_NOT_FIT,
                params=inst.params(mode),
                extra={"reason": inst.reason},
            )
            for mode in MODES
        ]
    records: list[Record] = []
    lbl_schedules: dict[str, Schedule | None] = {}
    for mode in MODES:
        problem = inst.build(mode)
        params = SolverParams(
            time_limit_s=time_limit(problem, config, FULL_TIME_LIMIT_S),
            num_workers=config.num_workers,
            seed=config.seed,
        )
        heuristics = run_heuristics(problem)  # once per mode: every objective's hint comes from it
        for objective in OBJECTIVES:
            hint, source = None, "heuristic"
            if mode == "fused":
                hint, source = _hint(problem, objective, lbl_schedules.get(objective), heuristics)
            result = solve_from_hint(problem, objective, params, hint=hint, heuristics=heuristics)
            if mode == "layer-by-layer":
                lbl_schedules[objective] = result.schedule
            records.append(
                record_from_result(
                    inst.label(mode),
                    problem,
                    result,
                    params=inst.params(mode),
                    extra={"hint": source},
                )
            )
    return records


def cases(config: BenchConfig) -> list[Case]:
    """One case per (workload, hardware) pair."""
    return [
        Case(f"{w}@{h}", partial(run_pair, (w, h, t), config)) for w, h, t in pairs(config.quick)
    ]


# --- report ---


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "cycles":
        return f"{value:,.0f}"
    if unit == "pJ":
        return f"{value / 1e6:,.2f} µJ"
    return f"{value / 1024:,.1f} KiB"


def _pick(records: list[Record], instance: str, objective: str) -> Record | None:
    return next((r for r in records if r.instance == instance and r.objective == objective), None)


def _metric(record: Record | None, objective: str) -> float | None:
    if record is None or record.latency_cycles is None:
        return None
    if objective == "latency":
        return float(record.latency_cycles)
    if objective == "energy":
        return record.energy_total_pj
    return float(max(record.peak_memory_bytes.values(), default=0))


UNITS = {"latency": "cycles", "energy": "pJ", "memory": "bytes"}


def winner(lbl: float | None, fused: float | None) -> str:
    """`fused`, `lbl`, `tie`, or `–` when a side has no schedule."""
    if lbl is None or fused is None:
        return "–"
    if abs(lbl - fused) <= 1e-9 * max(1.0, abs(lbl)):
        return "tie"
    return "fused" if fused < lbl else "lbl"


@dataclass
class PairOutcome:
    """One pair's values and winners, computed from its records."""

    name: str
    values: dict[tuple[str, str], float | None]  # (mode, objective) -> value
    winners: dict[str, str]  # objective -> fused | lbl | tie | –
    proven: dict[tuple[str, str], bool]
    gaps: dict[tuple[str, str], float | None]
    reason: str | None
    tiling: str
    tasks: int | None


def outcomes(records: list[Record]) -> list[PairOutcome]:
    """Per pair (in record order): each mode's value for each objective and the winners."""
    names = list(dict.fromkeys(r.instance.rsplit(" ", 1)[0] for r in records))
    out = []
    for name in names:
        mine = [r for r in records if r.instance.rsplit(" ", 1)[0] == name]
        reason = next((str(r.extra.get("reason")) for r in mine if r.status == DOES_NOT_FIT), None)
        values: dict[tuple[str, str], float | None] = {}
        proven: dict[tuple[str, str], bool] = {}
        gaps: dict[tuple[str, str], float | None] = {}
        for mode in MODES:
            for objective in OBJECTIVES:
                rec = _pick(mine, f"{name} {mode}", objective)
                values[mode, objective] = _metric(rec, objective)
                proven[mode, objective] = rec is not None and rec.status == "optimal"
                gaps[mode, objective] = None if rec is None else rec.gap
        winners = {o: winner(values["layer-by-layer", o], values["fused", o]) for o in OBJECTIVES}
        out.append(
            PairOutcome(
                name=name,
                values=values,
                winners=winners,
                proven=proven,
                gaps=gaps,
                reason=reason,
                tiling=str(mine[0].params.get("tiling", "")),
                tasks=mine[0].num_tasks,
            )
        )
    return out


def _status_cell(p: PairOutcome) -> str:
    if p.reason is not None:
        return "does not fit"
    worst = max((g for g in p.gaps.values() if g is not None), default=None)
    if all(p.proven.values()):
        return "all proven"
    unproven = sum(1 for v in p.proven.values() if not v)
    missing = sum(1 for v in p.values.values() if v is None)
    text = f"{unproven}/6 unproven" + (f", max gap {100 * worst:.0f}%" if worst is not None else "")
    return text + (f", {missing}/6 without a schedule in the limit" if missing else "")


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """The workload x hardware table and findings counted from the records."""
    pairs = outcomes(records)
    lines = [
        "Each pair is solved with CP-SAT for each objective separately (latency; energy; "
        "`memory` = the largest peak over bounded memories), once layer-by-layer (lbl) and once "
        "fused, at the same tiling. Values are those of the schedule found for that objective; "
        "`tie` means equal values. Status: how many of the 6 solves were not proven optimal "
        "within the time limit, and the largest gap.",
        "",
        "| workload @ hardware | tasks | latency lbl / fused (cycles) | win | energy lbl / fused "
        "| win | peak memory lbl / fused | win | status |",
        "|---|---:|---|---|---|---|---|---|---|",
    ]
    for p in pairs:
        if p.reason is not None:
            lines.append(f"| {p.name} | – | does not fit | | | | | | {p.reason} ({p.tiling}) |")
            continue
        cells = []
        for o in OBJECTIVES:
            lbl = _fmt(p.values["layer-by-layer", o], UNITS[o])
            fused = _fmt(p.values["fused", o], UNITS[o])
            cells.append(f"{lbl} / {fused} | {p.winners[o]}")
        lines.append(f"| {p.name} | {p.tasks} | " + " | ".join(cells) + f" | {_status_cell(p)} |")
    lines += ["", "Tilings used (options of `cpsched solve`):", ""]
    lines += [f"- {p.name}: `{p.tiling}`" for p in pairs if p.reason is None]
    lines += ["", "## Findings", ""]
    lines += findings(pairs)
    return "\n".join(lines) + "\n"


def findings(pairs: list[PairOutcome]) -> list[str]:
    """How often fused wins per objective, and each layer-by-layer win with its explanation."""
    fits = [p for p in pairs if p.reason is None]
    misfits = [p for p in pairs if p.reason is not None]
    out = [
        f"- {len(pairs)} workload × hardware pairs; {len(fits)} fit, {len(misfits)} do not "
        f"fit at any tiling tried ({', '.join(p.name for p in misfits) or 'none'})."
    ]
    for o in OBJECTIVES:
        compared = [p for p in fits if p.winners[o] != "–"]
        counts = {w: sum(1 for p in compared if p.winners[o] == w) for w in ("fused", "lbl", "tie")}
        both_proven = sum(
            1 for p in compared if p.proven["layer-by-layer", o] and p.proven["fused", o]
        )
        ratios = [
            f / lbl
            for p in compared
            if (lbl := p.values["layer-by-layer", o]) and (f := p.values["fused", o]) is not None
        ]
        median = (
            f"; fused / layer-by-layer median {statistics.median(ratios):.3f}" if ratios else ""
        )
        out.append(
            f"- {o}: fused better on {counts['fused']} of {len(compared)} pairs, "
            f"layer-by-layer better on {counts['lbl']}, equal on {counts['tie']}{median}"
            + (f", lowest {min(ratios):.3f}" if ratios else "")
            + f"; both sides proven optimal on {both_proven} of these pairs."
        )
    for o in OBJECTIVES:
        gains = sorted(
            (f / lbl, p.name)
            for p in fits
            if (lbl := p.values["layer-by-layer", o]) and (f := p.values["fused", o]) is not None
        )
        best = [f"{name} ({ratio:.3f}×)" for ratio, name in gains[:3] if ratio < 1]
        if best:
            out.append(f"- Largest fused gains in {o}: {', '.join(best)}.")
    lbl_wins = [(p, o) for p in fits for o in OBJECTIVES if p.winners[o] == "lbl"]
    if not lbl_wins:
        out.append(
            "- Layer-by-layer never beats fused: every layer-by-layer schedule is a fused one "
            "(same tiles, plus barriers), and the fused solve starts from it."
        )
    for p, o in lbl_wins:
        gap = p.gaps["fused", o]
        why = (
            f"the fused solve stopped at the time limit with a {100 * gap:.1f}% gap"
            if gap
            else "the fused solve had no proof"
        )
        if p.proven["fused", o]:
            why = (
                "unexpected: the fused result is proven optimal, and a layer-by-layer "
                "schedule is a fused one"
            )
        out.append(
            f"- layer-by-layer better on {p.name} for {o}: "
            f"{_fmt(p.values['layer-by-layer', o], UNITS[o])} vs "
            f"{_fmt(p.values['fused', o], UNITS[o])}; {why}."
        )
    return out


SUITE = SuiteDef(
    name="models",
    title="Every bundled workload on every bundled hardware: layer-by-layer versus fused",
    description=(
        "For each bundled transformer workload on each bundled hardware, CP-SAT minimizes "
        "latency, energy and peak memory (each on its own), once with layer-by-layer execution "
        "and once fused, at the same tiling, and says which schedule wins each objective. "
        "The big models run with their sequence cut to "
        f"{BIG_SEQUENCE} tokens and their weights sliced to fit the core memories; a pair that "
        "fits at no tiling tried is listed with the reason. This is the table that shows that "
        "the best schedule depends on the workload and the hardware."
    ),
    cases=cases,
    report=report,
)
