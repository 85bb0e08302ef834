"""Suite `fusion-memory`: the reference study's question (Colleman, Symons, Jung, Verhelst,
"Optimizing Layer-Fused Scheduling of Transformer Networks on Multi-accelerator Platforms",
ISQED 2024): how much peak activation memory does layer fusion save on one attention head, as a
function of the sequence length M over the embedding N?

For the bundled `attention_head` workload (Q, K, V projections of X, Kᵀ, QKᵀ, softmax, ×V) with
N = H = 64, 8-bit tensors and M in {8, ..., 512} (N/8 .. 8N), on `single_core` and `gap8`:

- layer-by-layer: every layer one tile (T = 1, each layer computed whole; the barriers of
  `mode=layer-by-layer`), so a layer's whole input and output are live while it runs;
- fused: every layer cut into T tiles along its token dim (rows of X, Q, K, V and of the
  attention matrices, columns of Kᵀ), T in {2, 4, 8, 16} dividing M, any order.

For each point two CP-SAT solves: `activation-memory,latency` (lexicographic: the least peak of
activation tensors alone, X and the weights excluded, then the fastest schedule at that peak)
and `latency` (the fastest schedule, whatever it holds). α(M/N) = the best fused least peak over
T divided by the layer-by-layer least peak. The least-peak solve starts from the better of two
hand-made single-core orders (below), because CP-SAT's memory bound is weak and a random start
is far from the optimum; its lower bound is the larger of CP-SAT's and the static floor (a task
holds its inputs and outputs while it runs), so unproven points show a gap.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from matplotlib.figure import Figure

from cpsched.analysis.pareto import peak_floor
from cpsched.bench.runner import BenchConfig, Case, Record, SuiteDef, record_from_result
from cpsched.check.infeasibility import find_infeasibility
from cpsched.check.metrics import metrics
from cpsched.check.validate import memory_holds, timed_schedule
from cpsched.cpsat import SolverParams, solve
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import ExecutionMode, TilingSpec, task_id
from cpsched.model.problem import CoreId, Problem, TaskId
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule
from cpsched.pipeline import solve_from_hint
from cpsched.report._common import save_png

SUITE_NAME = "fusion-memory"
WORKLOAD = "attention_head"
EMBED_N = 64  # N, and the head size H (the study's head has H = N)
BITS = 8
LAYERS = ("Q", "K", "V", "KT", "QKT", "SM", "AV")
MEMORY_OBJECTIVE = "activation-memory,latency"
LATENCY_OBJECTIVE = "latency"
DOES_NOT_FIT = "does-not-fit"

FULL_SEQUENCES = (8, 16, 32, 64, 128, 256, 512)
FULL_HARDWARE = ("single_core", "gap8")
FULL_TILES = (2, 4, 8, 16)
FULL_MEMORY_LIMIT_S = 4.0  # the lexicographic solve (both stages)
FULL_LATENCY_LIMIT_S = 3.0
FULL_HINT_LIMIT_S = 0.5  # re-timing each hand-made order, plus HINT_S_PER_TASK per task
HINT_S_PER_TASK = 0.01

QUICK_SEQUENCES = (32, 64, 128)
QUICK_HARDWARE = ("single_core",)
QUICK_TILES = (2,)
QUICK_MEMORY_LIMIT_S = 2.0
QUICK_LATENCY_LIMIT_S = 1.0
QUICK_HINT_LIMIT_S = 0.3

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Point:
    """One build of the attention head: sequence length, hardware, mode and tile count."""

    m: int
    hardware: str
    mode: ExecutionMode
    tiles: int

    @property
    def name(self) -> str:
        """The instance as records name it (unique within the suite)."""
        return f"{WORKLOAD} M={self.m} N={EMBED_N} {self.hardware} T={self.tiles} {self.mode}"

    def params(self) -> dict[str, Scalar]:
        """The record's params."""
        return {
            "workload": WORKLOAD,
            "M": self.m,
            "N": EMBED_N,
            "H": EMBED_N,
            "hardware": self.hardware,
            "mode": self.mode,
            "tiles": self.tiles,
        }

    def problem(self) -> Problem:
        """The scheduling problem of this point."""
        workload = load_workload(WORKLOAD, {"M": self.m, "N": EMBED_N, "H": EMBED_N, "BITS": BITS})
        spec = TilingSpec(tiles=self.tiles, mode=self.mode)
        return build_problem(workload, load_hardware(self.hardware), spec)


def study_alpha(m: int, n: int = EMBED_N) -> float:
    """The study's closed form: (2N+M)/(3N) for M < N, 3N/(2N+M) for M >= N (both 1 at M = N)."""
    return (2 * n + m) / (3 * n) if m < n else (3 * n) / (2 * n + m)


def study_sets_bytes(m: int, n: int = EMBED_N) -> tuple[int, int]:
    """The two activation sets whose ratio the closed forms are, in bytes at 8 bits: three M×N
    matrices (Q, K, V) and two M×N plus one M×M (Q, Kᵀ and QKᵀ); α = smaller / larger."""
    return 3 * m * n, m * (2 * n + m)


def tile_counts(m: int, quick: bool) -> list[int]:
    """The fused tile counts tried at sequence length m (those that divide it)."""
    return [t for t in (QUICK_TILES if quick else FULL_TILES) if m % t == 0]


# --- the hand-made single-core orders that seed the least-peak solve ---


def lean_orders(tiles: int) -> dict[str, list[TaskId]]:
    """Two memory-lean task orders of the fused head on one core.

    `v-early`: every K tile with its Kᵀ tile, all of V, then row by row Q, QKᵀ, softmax, ×V
    (Kᵀ and V are whole while the rows stream: about 2·M·H bytes plus one row tile of each).
    `v-late`: K and Kᵀ, then row by row Q, QKᵀ, softmax, then V and the ×V rows (Kᵀ is freed
    before V exists, but every softmax row waits for V: about M·M + M·H bytes).
    """
    rows = range(tiles)

    def t(layer: str, i: int) -> TaskId:
        return task_id(layer, i)

    keys = [x for i in rows for x in (t("K", i), t("KT", i))]
    return {
        "v-early": [
            *keys,
            *(t("V", i) for i in rows),
            *(x for i in rows for x in (t("Q", i), t("QKT", i), t("SM", i), t("AV", i))),
        ],
        "v-late": [
            *keys,
            *(x for i in rows for x in (t("Q", i), t("QKT", i), t("SM", i))),
            *(t("V", i) for i in rows),
            *(t("AV", i) for i in rows),
        ],
    }


def activation_peak(problem: Problem, schedule: Schedule) -> int:
    """The largest peak of activation tensors over the bounded memories."""
    peaks = metrics(problem, schedule).peak_memory.values()
    return max((p.peak_by_kind.get("activation", 0) for p in peaks), default=0)


def lean_hint(problem: Problem, params: SolverParams) -> tuple[Schedule | None, str]:
    """The leanest of the hand-made orders on the first core, re-timed by CP-SAT (a hint)."""
    core = CoreId(problem.cores[0].id)
    best: tuple[int, Schedule, str] | None = None
    for name, order in lean_orders(max(t.tile for t in problem.tasks) + 1).items():
        result = solve(
            problem,
            "activation-memory",
            params.model_copy(update={"use_hint": False}),
            fixed_cores=dict.fromkeys(order, core),
            fixed_order={core: order},
        )
        if result.schedule is None:
            continue
        peak = activation_peak(problem, result.schedule)
        if best is None or peak < best[0]:
            best = (peak, result.schedule, name)
    return (None, "") if best is None else (best[1], best[2])


def live_at_peak(problem: Problem, schedule: Schedule) -> tuple[int, dict[str, int]]:
    """The activation peak and the bytes of each layer's output held at its earliest moment
    (in the bounded memory with the largest activation peak)."""
    holds = [
        h
        for h in memory_holds(problem, timed_schedule(problem, schedule))
        if h.kind == "activation"
        and problem.memory_by_id[h.memory].capacity_bytes is not None
        and h.end > h.start
    ]
    best_bytes, best_at, best_memory = 0, 0, None
    for memory in {h.memory for h in holds}:
        mine = [h for h in holds if h.memory == memory]
        for moment in sorted({h.start for h in mine}):
            held = sum(h.size_bytes for h in mine if h.start <= moment < h.end)
            if held > best_bytes:
                best_bytes, best_at, best_memory = held, moment, memory
    by_layer: dict[str, int] = defaultdict(int)
    for h in holds:
        if h.memory == best_memory and h.start <= best_at < h.end:
            producer = problem.tensor_by_id[h.tensor].producer
            layer = problem.task_by_id[producer].layer if producer is not None else h.tensor
            by_layer[layer] += h.size_bytes
    return best_bytes, dict(by_layer)


# --- running one (M, hardware) case ---


@dataclass(frozen=True)
class Limits:
    """Seconds per solve of one run of the suite."""

    memory_s: float
    latency_s: float
    hint_s: float


def limits(config: BenchConfig) -> Limits:
    """The per-solve limits: `--time-limit` for both solves if given, else the suite's own."""
    if config.quick:
        found = Limits(QUICK_MEMORY_LIMIT_S, QUICK_LATENCY_LIMIT_S, QUICK_HINT_LIMIT_S)
    else:
        found = Limits(FULL_MEMORY_LIMIT_S, FULL_LATENCY_LIMIT_S, FULL_HINT_LIMIT_S)
    if config.time_limit_s is not None:
        found = Limits(config.time_limit_s, config.time_limit_s, found.hint_s)
    return found


def _solver_params(config: BenchConfig, time_limit_s: float) -> SolverParams:
    return SolverParams(time_limit_s=time_limit_s, num_workers=config.num_workers, seed=config.seed)


def attention_floor_bytes(m: int, tiles: int) -> int:
    """A lower bound on the activation peak of every schedule of the head cut into `tiles` equal
    row tiles (any mode), when all its tasks share one memory (true on both hardware here).

    Every QKᵀ tile reads all of Kᵀ (M·H bytes) and every ×V tile all of V (M·H), and a tensor
    cannot come back from DRAM once it left (docs/validity.md, rule 5): either the first ×V tile
    starts before the last QKᵀ tile ends: then Kᵀ and V are whole, with that ×V tile's softmax input
    and its output, 2·M·H + (M·M + M·H)/T. Or it does not: just before the last QKᵀ tile ends,
    Kᵀ is whole with that tile's Q rows, and every row holds its QKᵀ tile or its softmax tile
    (each M·M/T: a QKᵀ tile is freed only when its softmax ends, a softmax tile only when its
    ×V tile ends), M·H + M·H/T + M·M. The least of the two.
    """
    mh, mm = m * EMBED_N * BITS // 8, m * m * BITS // 8
    return min(2 * mh + (mm + mh) // tiles, mh + mh // tiles + mm)


def _one_memory(problem: Problem) -> bool:
    return len({problem.memory_of(c.id) for c in problem.cores}) == 1


def _memory_extra(
    point: Point, problem: Problem, result: SolveResult, hint: str
) -> dict[str, Scalar]:
    """Activation peak, its proven lower bound and gap, and what is live at the peak."""
    extra: dict[str, Scalar] = {"hint": hint or None}
    floor_bytes, _ = peak_floor(problem, "activation")
    if _one_memory(problem):
        floor_bytes = max(floor_bytes, attention_floor_bytes(point.m, point.tiles))
    stage = result.stages[0] if result.stages else None
    cpsat_bound = stage.bound if stage is not None else None
    bound = max(floor_bytes, math.ceil(cpsat_bound) if cpsat_bound is not None else 0)
    extra["activation_bound_bytes"] = bound
    extra["activation_floor_bytes"] = floor_bytes
    extra["memory_status"] = stage.status if stage is not None else result.status
    if len(result.stages) > 1:  # the latency at that peak: proven or not
        extra["latency_status"] = result.stages[1].status
        extra["latency_bound_cycles"] = result.stages[1].bound
    if result.schedule is not None:
        peak, by_layer = live_at_peak(problem, result.schedule)
        extra["activation_peak_bytes"] = peak
        extra["activation_gap"] = (peak - bound) / max(1, peak)
        extra["memory_proven"] = peak <= bound
        for layer, size in sorted(by_layer.items()):
            extra[f"live_{layer}_bytes"] = size
    return extra


def _not_fitting(point: Point, problem: Problem, objective: str, reason: str) -> Record:
    return Record(
        instance=point.name,
        method="cpsat",
        objective=objective,
        status=DOES_NOT_FIT,
        num_tasks=len(problem.tasks),
        params=point.params(),
        extra={"reason": reason},
    )


def run_point(point: Point, config: BenchConfig) -> list[Record]:
    """The least-peak and the fastest solve of one point, as two records."""
    problem = point.problem()
    lim = limits(config)
    reasons = find_infeasibility(problem)
    if reasons:
        why = reasons[0].reason
        return [_not_fitting(point, problem, o, why) for o in (MEMORY_OBJECTIVE, LATENCY_OBJECTIVE)]
    hint, hint_name = (None, "")
    if point.mode == "fused":
        hint_s = lim.hint_s + HINT_S_PER_TASK * len(problem.tasks)
        hint, hint_name = lean_hint(problem, _solver_params(config, hint_s))
    lean_params = _solver_params(config, lim.memory_s)
    lean = solve_from_hint(problem, MEMORY_OBJECTIVE, lean_params, hint=hint)
    fast = solve_from_hint(problem, LATENCY_OBJECTIVE, _solver_params(config, lim.latency_s))
    records = [
        record_from_result(
            point.name,
            problem,
            lean,
            point.params(),
            _memory_extra(point, problem, lean, hint_name),
        )
    ]
    fast_extra: dict[str, Scalar] = {}
    if fast.schedule is not None:
        fast_extra["activation_peak_bytes"] = activation_peak(problem, fast.schedule)
    records.append(record_from_result(point.name, problem, fast, point.params(), fast_extra))
    return records


def _with_alpha(records: list[Record], reference_bytes: int | None) -> list[Record]:
    """Each least-peak record's α: its activation peak over the layer-by-layer one."""
    out = []
    for r in records:
        peak = r.extra.get("activation_peak_bytes")
        if r.objective == MEMORY_OBJECTIVE and reference_bytes and isinstance(peak, int):
            r = r.model_copy(update={"extra": {**r.extra, "alpha": peak / reference_bytes}})
        out.append(r)
    return out


def run_case(m: int, hardware: str, config: BenchConfig) -> list[Record]:
    """Layer-by-layer (T = 1), every fused tile count, and layer-by-layer at the largest tile
    count, of one (M, hardware); α (over the T = 1 layer-by-layer peak) on each least-peak
    record."""
    lbl = run_point(Point(m, hardware, "layer-by-layer", 1), config)
    reference = next(
        (r.extra.get("activation_peak_bytes") for r in lbl if r.objective == MEMORY_OBJECTIVE),
        None,
    )
    ref_bytes = reference if isinstance(reference, int) else None
    records = list(lbl)
    counts = tile_counts(m, config.quick)
    for tiles in counts:
        records += run_point(Point(m, hardware, "fused", tiles), config)
    if counts:  # layer-by-layer with the layers cut too: tiles run in parallel, no fusion
        records += run_point(Point(m, hardware, "layer-by-layer", max(counts)), config)
    extra = {"study_alpha": study_alpha(m)}
    return [
        r.model_copy(update={"extra": {**r.extra, **extra}})
        for r in _with_alpha(records, ref_bytes)
    ]


def cases(config: BenchConfig) -> list[Case]:
    """One case per (M, hardware)."""
    sequences = QUICK_SEQUENCES if config.quick else FULL_SEQUENCES
    hardware = QUICK_HARDWARE if config.quick else FULL_HARDWARE
    return [
        Case(f"M={m} {hw}", partial(run_case, m, hw, config)) for hw in hardware for m in sequences
    ]


# --- the report ---


@dataclass(frozen=True)
class Outcome:
    """What one (M, hardware) came to: the layer-by-layer and the best fused records."""

    m: int
    hardware: str
    lbl_lean: Record | None
    lbl_fast: Record | None
    fused_lean: Record | None  # the least activation peak over T
    fused_fast: Record | None  # the least latency over T
    fused_all: tuple[Record, ...]
    tiled_lean: Record | None  # layer-by-layer with every layer cut into T tiles
    tiled_fast: Record | None

    @property
    def alpha(self) -> float | None:
        """Measured α, when both peaks exist."""
        a = _peak(self.fused_lean)
        b = _peak(self.lbl_lean)
        return a / b if a is not None and b else None


def _peak(record: Record | None) -> int | None:
    if record is None:
        return None
    value = record.extra.get("activation_peak_bytes")
    return value if isinstance(value, int) else None


def outcomes(records: Sequence[Record]) -> list[Outcome]:
    """The records grouped by (M, hardware), in run order."""
    groups: dict[tuple[int, str], list[Record]] = {}
    for r in records:
        groups.setdefault((int(r.params["M"] or 0), str(r.params["hardware"])), []).append(r)
    found = []
    for (m, hw), rs in groups.items():

        def pick(mode: str, objective: str, rs: list[Record] = rs) -> list[Record]:
            return [r for r in rs if r.params["mode"] == mode and r.objective == objective]

        def lbl(objective: str, tiled: bool) -> Record | None:
            found = pick("layer-by-layer", objective)
            return next((r for r in found if (r.params["tiles"] != 1) == tiled), None)

        lbl_lean = lbl(MEMORY_OBJECTIVE, False)
        lbl_fast = lbl(LATENCY_OBJECTIVE, False)
        leans = [r for r in pick("fused", MEMORY_OBJECTIVE) if _peak(r) is not None]
        fasts = [r for r in pick("fused", LATENCY_OBJECTIVE) if r.latency_cycles is not None]
        fused_lean = min(leans, key=lambda r: (_peak(r) or 0, r.latency_cycles or 0), default=None)
        fused_fast = min(fasts, key=lambda r: r.latency_cycles or 0, default=None)
        found.append(
            Outcome(
                m,
                hw,
                lbl_lean,
                lbl_fast,
                fused_lean,
                fused_fast,
                tuple(pick("fused", MEMORY_OBJECTIVE)),
                lbl(MEMORY_OBJECTIVE, True),
                lbl(LATENCY_OBJECTIVE, True),
            )
        )
    return found


def _proven(record: Record | None) -> bool:
    return bool(record is not None and record.extra.get("memory_proven"))


def _bytes(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _proof(record: Record | None) -> str:
    """'opt' for a proven least peak, else its gap to the lower bound."""
    if record is None:
        return "-"
    if record.status == DOES_NOT_FIT:
        return "does not fit"
    if _peak(record) is None:
        return record.status
    if record.extra.get("memory_proven"):
        return "opt"
    gap = record.extra.get("activation_gap")
    return f"gap {gap:.0%}" if isinstance(gap, float) else record.status


def _live(record: Record | None) -> str:
    """The layers whose outputs are live at the activation peak: 'Q 512 + KT 512 + QKT 64'."""
    if record is None:
        return "-"
    parts = [
        (layer, record.extra.get(f"live_{layer}_bytes"))
        for layer in LAYERS
        if isinstance(record.extra.get(f"live_{layer}_bytes"), int)
    ]
    return " + ".join(f"{layer} {size:,}" for layer, size in parts) or "-"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def alpha_table(found: Sequence[Outcome]) -> list[str]:
    """Markdown table: least activation peaks, α measured and α of the closed forms."""
    lines = [
        "| hardware | M | M/N | layer-by-layer least peak (bytes) | best fused least peak "
        "(bytes) | T | α measured | α closed form | fused peak by T | layer-by-layer, tiled: "
        "least peak (bytes) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for o in found:
        alpha = "-" if o.alpha is None else f"{o.alpha:.3f}"
        by_t = ", ".join(
            f"T={r.params['tiles']}: {_bytes(_peak(r))} ({_proof(r)})" for r in o.fused_all
        )
        lbl = f"{_bytes(_peak(o.lbl_lean))} ({_proof(o.lbl_lean)})"
        fused = f"{_bytes(_peak(o.fused_lean))} ({_proof(o.fused_lean)})"
        tiles = o.fused_lean.params["tiles"] if o.fused_lean is not None else "-"
        tiled = (
            "-"
            if o.tiled_lean is None
            else f"T={o.tiled_lean.params['tiles']}: {_bytes(_peak(o.tiled_lean))} "
            f"({_proof(o.tiled_lean)})"
        )
        lines.append(
            f"| {o.hardware} | {o.m} | {o.m / EMBED_N:g} | {lbl} | {fused} | {tiles} | {alpha} | "
            f"{study_alpha(o.m):.3f} | {by_t} | {tiled} |"
        )
    return lines


def _cycles(record: Record | None, *, at_peak: bool = False) -> str:
    """A latency cell; at a least peak, '≤' marks a latency that is not proven least."""
    if record is None or record.latency_cycles is None:
        return "-" if record is None or record.status != DOES_NOT_FIT else "does not fit"
    proven = (
        record.extra.get("latency_status") == "optimal" if at_peak else record.status == "optimal"
    )
    return f"{'' if proven else '≤ '}{record.latency_cycles:,}"


def _energy(record: Record | None) -> float | None:
    return None if record is None else record.energy_total_pj


def cost_table(found: Sequence[Outcome]) -> list[str]:
    """Markdown table: what the least-peak schedules cost in latency and energy, and the
    fastest schedules of each mode."""
    lines = [
        "| hardware | M | fastest LbL | fastest LbL, tiled (T) | fastest fused (T) | LbL at "
        "least peak | fused at least peak | energy LbL least peak (pJ) | energy fused least "
        "peak (pJ) | fused/LbL latency at least peak | fused/LbL energy at least peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in found:

        def with_t(r: Record | None) -> str:
            cell = _cycles(r)
            return (
                cell if r is None or r.latency_cycles is None else f"{cell} (T={r.params['tiles']})"
            )

        e_lbl, e_fused = _energy(o.lbl_lean), _energy(o.fused_lean)
        lat_lbl = o.lbl_lean.latency_cycles if o.lbl_lean else None
        lat_fused = o.fused_lean.latency_cycles if o.fused_lean else None
        lines.append(
            f"| {o.hardware} | {o.m} | {_cycles(o.lbl_fast)} | {with_t(o.tiled_fast)} | "
            f"{with_t(o.fused_fast)} | {_cycles(o.lbl_lean, at_peak=True)} | "
            f"{_cycles(o.fused_lean, at_peak=True)} | "
            f"{'-' if e_lbl is None else f'{e_lbl:,.0f}'} | "
            f"{'-' if e_fused is None else f'{e_fused:,.0f}'} | "
            f"{_ratio(lat_fused, lat_lbl)} | {_ratio(e_fused, e_lbl)} |"
        )
    return lines


def live_table(found: Sequence[Outcome]) -> list[str]:
    """Markdown table: which layers' outputs make up each least peak, against the study's sets."""
    lines = [
        "| hardware | M | 3·M·N | M·(2N+M) | 2·M·M | layer-by-layer peak: live outputs | "
        "best fused peak: live outputs |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for o in found:
        p1, p2 = study_sets_bytes(o.m)
        lines.append(
            f"| {o.hardware} | {o.m} | {p1:,} | {p2:,} | {2 * o.m * o.m:,} | "
            f"{_live(o.lbl_lean)} | {_live(o.fused_lean)} |"
        )
    return lines


def whole_bytes(layer: str, m: int) -> int:
    """Bytes of a layer's whole output at sequence length m (8-bit, H = N)."""
    return m * m if layer in ("QKT", "SM") else m * EMBED_N


def _whole_layers(record: Record | None, m: int) -> list[str]:
    """The layers whose whole output is live at the record's activation peak."""
    if record is None:
        return []
    return [L for L in LAYERS if record.extra.get(f"live_{L}_bytes") == whole_bytes(L, m)]


def _names(points: Sequence[Outcome]) -> str:
    return ", ".join(f"{o.hardware} M={o.m}" for o in points) or "none"


def _of(part: Sequence[Outcome], whole: Sequence[Outcome]) -> str:
    """'all 5' or '3 of 5 (names)': a count that says which points it counts."""
    if len(part) == len(whole):
        return f"all {len(whole)}"
    return f"{len(part)} of {len(whole)} ({_names(part)})"


def _by_tiles(records: Sequence[Record], value: str) -> list[float]:
    """`value` ('peak' or 'energy') of each record that has it, in order of tile count."""
    out = []
    for r in sorted(records, key=lambda r: int(r.params["tiles"] or 0)):
        v = _peak(r) if value == "peak" else r.energy_total_pj
        if v is not None:
            out.append(float(v))
    return out


def _closed_forms(found: Sequence[Outcome]) -> str:
    """What the study's closed forms count (its identity with the two sets checked at every M)."""
    ms = sorted({o.m for o in found})
    identity = all(
        math.isclose(study_alpha(m), min(study_sets_bytes(m)) / max(study_sets_bytes(m)))
        for m in ms
    )
    text = (
        "**What the closed forms assume.** With P₁ = 3·M·N (Q, K and V whole: three M×N "
        "matrices) and P₂ = M·(2N+M) (two M×N matrices and one M×M, e.g. Q, Kᵀ and QKᵀ while "
        "QKᵀ runs), "
    )
    if identity:
        text += (
            f"at every M measured ({', '.join(map(str, ms))}) both closed forms equal "
            "min(P₁, P₂) / max(P₁, P₂): (2N+M)/(3N) = P₂/P₁ for M < N and 3N/(2N+M) = P₁/P₂ "
            "for M > N. So the study's layer-by-layer peak is the larger and its fused peak the "
            "smaller of these two sets: fusion with row tiles makes the M×M part negligible "
            "(T → ∞) but keeps three M×N matrices live. "
        )
    else:
        text += "the closed forms are not the ratio of these two sets at every M measured. "
    return text + (
        "Only M×N and M×M activations count: the input X, the weights, the softmax's second M×M "
        "buffer and memory capacities do not appear."
    )


def _layer_by_layer(lbl: Sequence[Outcome]) -> str:
    """Which sets make up the measured layer-by-layer least peaks."""
    p2 = [o for o in lbl if _peak(o.lbl_lean) == study_sets_bytes(o.m)[1]]
    sm = [o for o in lbl if _peak(o.lbl_lean) == 2 * o.m * o.m]
    qkv = [o for o in lbl if {"Q", "K", "V"} <= set(_whole_layers(o.lbl_lean, o.m))]
    k_live = [o for o in lbl if "K" in _whole_layers(o.lbl_lean, o.m)]
    v_live = [o for o in lbl if "V" in _whole_layers(o.lbl_lean, o.m)]
    either = [o for o in lbl if _peak(o.lbl_lean) == max(study_sets_bytes(o.m)[1], 2 * o.m * o.m)]
    study = [o for o in lbl if _peak(o.lbl_lean) == max(study_sets_bytes(o.m))]
    text = (
        f"**Layer-by-layer (measured on {len(lbl)} points).** The least peak equals "
        f"M·(2N+M) = P₂ (Q, Kᵀ and QKᵀ live while QKᵀ runs) on {len(p2)} points "
        f"({_names(p2)}) and 2·M·M (the softmax's M×M input and M×M output) on "
        f"{len(sm)} ({_names(sm)}). Q, K and V are all whole at the peak on {len(qkv)}; K is "
        f"whole at it on {len(k_live)}, V on {len(v_live)}."
    )
    if sm:
        big = [o for o in sm if o.m > 2 * EMBED_N]
        text += (
            " The softmax, which the closed forms do not count separately, holds two M×M "
            f"tensors, more than P₂ exactly when M > 2N (true of {len(big)} of the {len(sm)})."
        )
    text += (
        f" The least peak is max(P₂, 2·M·M) on {_of(either, lbl)} points and the closed forms' "
        f"max(P₁, P₂) on {len(study)}."
    )
    return text


def _fused(both: Sequence[Outcome]) -> str:
    """What the measured fused least peaks are made of, against the floor and the closed forms."""
    mn_layers = [layer for layer in LAYERS if layer not in ("QKT", "SM")]

    def whole_mn(o: Outcome) -> int:
        return sum(x in mn_layers for x in _whole_layers(o.fused_lean, o.m))

    kt_whole = [o for o in both if "KT" in _whole_layers(o.fused_lean, o.m)]
    v_whole = [o for o in both if "V" in _whole_layers(o.fused_lean, o.m)]
    most_mn = max((whole_mn(o) for o in both), default=0)
    at_most_two = [o for o in both if whole_mn(o) <= 2]
    several = [o for o in both if len(_by_tiles(o.fused_all, "peak")) > 1]
    shrinking = [
        o
        for o in several
        if all(b <= a for a, b in itertools.pairwise(_by_tiles(o.fused_all, "peak")))
    ]
    big_t = [
        o
        for o in several
        if o.fused_lean is not None
        and o.fused_lean.params["tiles"] == max(r.params["tiles"] or 0 for r in o.fused_all)
    ]
    unproven = [o for o in both if not (o.fused_lean and o.fused_lean.extra.get("memory_proven"))]
    below = [o for o in both if o.alpha is not None and o.alpha < study_alpha(o.m)]
    at_floor = [
        o
        for o in both
        if o.fused_lean is not None
        and _peak(o.fused_lean)
        == attention_floor_bytes(o.m, int(o.fused_lean.params["tiles"] or 1))
    ]
    text = (
        f"**Fused (measured on {len(both)} points).** At the best fused peak the whole Kᵀ "
        f"is live on {len(kt_whole)} points (every QKᵀ row reads all of Kᵀ) and the whole V "
        f"on {len(v_whole)}; at most two whole M×N matrices on {_of(at_most_two, both)} points "
        f"(the most at one point: {most_mn}), where the closed forms keep three (P₁). "
        + (
            f"The least peak shrinks or stays with every larger T on {_of(shrinking, several)} "
            "points with more than one T, and was found at the largest T tried on "
            f"{_of(big_t, several)}"
            + (", so more tiles might lower α further. " if len(big_t) == len(several) else ". ")
            if several
            else ""
        )
        + "A schedule either starts the first ×V row before the last QKᵀ row ends (then Kᵀ and "
        "V are both whole: 2·M·N + (M·M + M·N)/T) or it does not (then every row's QKᵀ or "
        "softmax tile waits for V, with Kᵀ whole: M·N + M·N/T + M·M); the least of the two is a "
        "lower bound on the fused peak (`attention_floor_bytes`; many tiles: α → min(2N, N+M) "
        "/ max(2N+M, 2M), the dotted line), and the best fused peak equals it on "
        f"{len(at_floor)} points ({_names(at_floor)}), which proves it least. Measured α is "
        f"below the closed form on {_of(below, both)} points. "
    )
    if unproven:
        return text + (
            f"Unproven fused peaks (the table's gaps): {_names(unproven)}; their α is an upper "
            "bound."
        )
    return text + "Every fused least peak is proven."


def _energy_and_traffic(found: Sequence[Outcome]) -> list[str]:
    """Whether energy follows the tile count or fusion, and whether traffic changes at all."""
    out = []
    same_t = [
        (r, t)
        for o in found
        for r in o.fused_all
        for t in ([o.tiled_lean] if o.tiled_lean is not None else [])
        if r.params["tiles"] == t.params["tiles"]
        and r.energy_total_pj is not None
        and t.energy_total_pj is not None
    ]
    if same_t:
        equal = [
            (r, t)
            for r, t in same_t
            if abs((r.energy_total_pj or 0) - (t.energy_total_pj or 0))
            < 1e-6 * (r.energy_total_pj or 1)
        ]
        text = (
            "**Energy.** Fused and tiled layer-by-layer least-peak schedules with the same T "
            f"cost the same energy on {len(equal)} of {len(same_t)} comparisons"
        )
        text += (
            ": energy depends on the tile count, not on fusion."
            if len(equal) == len(same_t)
            else "."
        )
        several = [o for o in found if len(_by_tiles(o.fused_all, "energy")) > 1]
        grows = [
            o
            for o in several
            if all(b > a for a, b in itertools.pairwise(_by_tiles(o.fused_all, "energy")))
        ]
        if several:
            text += (
                f" The fused least-peak energy grows with T on {_of(grows, several)} points "
                "with more than one T"
                + (
                    ": each tile reads its whole shared operands (all of Kᵀ, all of V, the "
                    "weights) again (see the cost table)."
                    if len(grows) == len(several)
                    else " (see the cost table)."
                )
            )
        out.append(text)
    transfer = [
        {r.energy_transfer_pj for r in (o.lbl_lean, *o.fused_all) if r is not None} - {None}
        for o in found
    ]
    transfer = [t for t in transfer if t]  # points with at least one schedule
    if transfer:
        same = sum(len(t) == 1 for t in transfer)
        text = (
            f"**Traffic.** On {same} of {len(transfer)} (M, hardware) points every least-peak "
            "schedule, layer-by-layer or fused at any T, spends the same transfer energy"
        )
        text += (
            ": fusion saves memory, not DRAM traffic, here."
            if same == len(transfer)
            else "; on the others fusion or the tile count changes the traffic."
        )
        out.append(text)
    return out


def findings(found: Sequence[Outcome]) -> list[str]:
    """The explanation of the measured α against the closed forms. Every conclusion is computed
    from the records (counts, and a sentence only where the counts bear it out), so a rerun
    whose numbers differ cannot print a conclusion they contradict."""
    out = [_closed_forms(found)] if found else []
    both = [o for o in found if o.alpha is not None and _peak(o.lbl_lean) is not None]
    lbl = [o for o in found if _peak(o.lbl_lean) is not None]
    if lbl:
        out.append(_layer_by_layer(lbl))
    if both:
        out.append(_fused(both))
        diffs = sorted(both, key=lambda o: abs((o.alpha or 0) - study_alpha(o.m)), reverse=True)
        out.append(
            "**Largest differences:** "
            + "; ".join(
                f"{o.hardware} M={o.m} (M/N={o.m / EMBED_N:g}): measured {o.alpha:.3f} vs "
                f"{study_alpha(o.m):.3f}"
                for o in diffs[:3]
                if o.alpha is not None
            )
            + "."
        )
        for hw in dict.fromkeys(o.hardware for o in both):
            mine = [o for o in both if o.hardware == hw]
            best = min(mine, key=lambda o: o.alpha or 1.0)
            worst = max(mine, key=lambda o: o.alpha or 0.0)
            out.append(
                f"**Least α on {hw}:** M={best.m} (M/N={best.m / EMBED_N:g}), "
                f"α = {best.alpha:.3f}; largest at M={worst.m} (M/N={worst.m / EMBED_N:g}), "
                f"α = {worst.alpha:.3f}."
            )
    out += _energy_and_traffic(found)
    for o in found:
        if _peak(o.lbl_lean) is not None:
            continue
        if o.lbl_lean is not None and o.lbl_lean.status == DOES_NOT_FIT:
            why = o.lbl_lean.extra.get("reason")
            lbl_text = f"the layer-by-layer schedule does not fit{f' ({why})' if why else ''}"
        else:
            status = "no record" if o.lbl_lean is None else o.lbl_lean.status
            lbl_text = f"no layer-by-layer least-peak schedule was found ({status})"
        fused = _peak(o.fused_lean)
        fits = (
            f"a fused schedule was (T={o.fused_lean.params['tiles']}, peak {fused:,} bytes)"
            if o.fused_lean is not None and fused is not None
            else "no fused schedule either"
        )
        out.append(f"**{o.hardware} M={o.m}:** {lbl_text}; {fits}. α is undefined there.")
    return out


# --- the figure ---

_HW_STYLE = {"single_core": ("#1f77b4", "o"), "gap8": ("#d62728", "s")}


def alpha_figure(found: Sequence[Outcome]) -> Figure:
    """α against M/N (log2 axis) per hardware, with the study's closed forms and the limit of
    cpsched's model for many tiles; an unproven fused peak is an open marker with a bar down to
    the α its lower bound allows."""
    fig = Figure(figsize=(8.5, 6.2))
    ax = fig.add_subplot()
    ratios = [2.0**k for k in range(-3, 4)]
    xs = [2 ** (k / 20) for k in range(-3 * 20, 3 * 20 + 1)]
    ax.plot(
        xs, [_study_at(x) for x in xs], color="black", linestyle="--", linewidth=1.5,
        label="study's closed forms: (2N+M)/3N for M<N, 3N/(2N+M) for M>N",
    )  # fmt: skip
    ax.plot(
        xs, [model_alpha_limit(x) for x in xs], color="grey", linestyle=":", linewidth=1.8,
        label="cpsched's model, T → ∞: min(2N, N+M) / max(2N+M, 2M)",
    )  # fmt: skip
    hardware = list(dict.fromkeys(o.hardware for o in found))
    for k, hw in enumerate(hardware):
        colour, marker = _HW_STYLE.get(hw, ("#2ca02c", "^"))
        mine = [o for o in found if o.hardware == hw and o.alpha is not None]
        if not mine:
            continue
        shift = 2 ** (0.05 * (k - (len(hardware) - 1) / 2))  # side by side when they coincide
        x = [o.m / EMBED_N * shift for o in mine]
        y = [o.alpha or 0.0 for o in mine]
        ax.plot(x, y, color=colour, linewidth=1.2, label=f"cpsched measured, {hw} (best T)")
        for o, xi, yi in zip(mine, x, y, strict=True):
            proven = _proven(o.fused_lean)
            ax.plot(
                [xi], [yi], marker=marker, color=colour, markersize=7,
                markerfacecolor=colour if proven else "white", linestyle="none",
            )  # fmt: skip
            bound = o.fused_lean.extra.get("activation_bound_bytes") if o.fused_lean else None
            lbl = _peak(o.lbl_lean)
            if not proven and isinstance(bound, int) and lbl:
                ax.plot([xi, xi], [bound / lbl, yi], color=colour, linewidth=1.0, alpha=0.7)
            if k == 0:
                tiles = o.fused_lean.params["tiles"] if o.fused_lean else None
                ax.annotate(
                    f"T={tiles}", (xi, yi), textcoords="offset points", xytext=(-8, -14),
                    fontsize=7, color="#444444",
                )  # fmt: skip
        missing = [o for o in found if o.hardware == hw and o.alpha is None]
        if missing:
            misfit = all(
                o.lbl_lean is not None and o.lbl_lean.status == DOES_NOT_FIT for o in missing
            )
            ax.text(
                0.99, 0.02 + 0.05 * k,
                f"{hw}: no α at M = {', '.join(str(o.m) for o in missing)} "
                + ("(layer-by-layer does not fit)" if misfit else "(a least peak is missing)"),
                transform=ax.transAxes, ha="right", fontsize=8, color=colour,
            )  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(ratios)
    ax.set_xticklabels([f"{r:g}" if r >= 1 else f"1/{int(1 / r)}" for r in ratios])
    ax.set_xlim(1 / 10, 10)
    ax.set_ylim(0, 1.05)
    ax.axvline(1.0, color="grey", linewidth=0.6)
    ax.set_xlabel("M / N (sequence length over embedding, N = H = 64)")
    ax.set_ylabel("α = fused / layer-by-layer least peak activation")
    ax.set_title("Peak activation memory saved by layer fusion, one attention head")
    ax.grid(True, which="major", alpha=0.3)
    ax.plot(
        [], [], marker="o", color="grey", linestyle="none",
        label="filled: least peak proven; open: not proven (bar: down to its lower bound)",
    )  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, ncol=1, frameon=False)
    fig.tight_layout()
    return fig


def _study_at(ratio: float) -> float:
    """The closed forms at a real M/N ratio."""
    return (2 + ratio) / 3 if ratio < 1 else 3 / (2 + ratio)


def model_alpha_limit(ratio: float) -> float:
    """α of cpsched's model for many tiles, at r = M/N (H = N): the fused floor
    min(2·M·N, M·N + M·M) over the layer-by-layer peak max(M·(2N+M), 2·M·M)."""
    return min(2.0, 1.0 + ratio) / max(2.0 + ratio, 2.0 * ratio)


# --- the report ---


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """Tables of α, costs and live tensors, the α figure, and the explanation."""
    found = outcomes(records)
    lines: list[str] = []
    figure_name = f"{SUITE_NAME}-alpha.png"
    if any(o.alpha is not None for o in found):
        save_png(alpha_figure(found), out_dir / figure_name)
        lines += [f"![α against M/N]({figure_name})", ""]
    lim = limits(config)
    lines += [
        "## α: least peak activation memory, fused over layer-by-layer",
        "",
        f"N = H = {EMBED_N}, 8-bit tensors. Layer-by-layer: every layer one tile (T = 1). "
        f"Fused: every layer cut into T row tiles along its token dim, T in "
        f"{{{', '.join(str(t) for t in (QUICK_TILES if config.quick else FULL_TILES))}}} "
        "dividing M; the best T is the one with the least peak. Peaks are of activation "
        "tensors alone (X and the weights excluded), from `activation-memory,latency` solves "
        f"({lim.memory_s:g} s each, both stages); `opt` = proven least (CP-SAT or the static "
        "floor), else the gap to the best lower bound.",
        "",
        *alpha_table(found),
        "",
        "## What the least-peak schedules cost",
        "",
        "Latency in cycles. The fastest schedules of each mode (`latency` solves, "
        f"{lim.latency_s:g} s each), layer-by-layer also with every layer cut into T tiles "
        "(tiles of a layer run in parallel, no fusion); then the latency and energy of the "
        "least-peak schedules (the fastest at that peak: the second stage of the lexicographic "
        "solve). `≤`: not proven least in the time limit.",
        "",
        *cost_table(found),
        "",
        "## Where and why α differs from the closed forms",
        "",
        "Bytes of each layer's output live at the least peak, against the sets the closed forms "
        "count (bytes at 8 bits):",
        "",
        *live_table(found),
        "",
    ]
    for finding in findings(found):
        lines += [f"- {finding}", ""]
    return "\n".join(lines)


SUITE = SuiteDef(
    name=SUITE_NAME,
    title="Layer fusion and peak activation memory of one attention head (the ISQED 2024 study)",
    description=(
        "The reference study's question (Colleman et al., ISQED 2024): for one attention head "
        f"with embedding N = {EMBED_N} and sequence length M from N/8 to 8N, on the single-core "
        "and the GAP8-like hardware, the least peak activation memory and the least latency of "
        "the layer-by-layer schedule and of the best fused schedule over tile counts, their "
        "ratio α(M/N) against the study's closed forms, and the latency and energy the "
        "least-peak schedules cost."
    ),
    cases=cases,
    report=report,
)
