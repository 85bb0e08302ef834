"""Suite `pareto`: the latency / peak-memory Pareto fronts of fused schedules, by the
epsilon-constraint sweep of :mod:`cpsched.analysis.pareto`, with the layer-by-layer extremes of
the same tiling as reference points.

Instances: the single attention head (N = 64) at three sequence lengths M (M/N = 1/2, 1 and 4)
in T = 2 token tiles (14 tasks: small enough for CP-SAT to prove most points in 10 s), the
longest also in T = 4 tiles (28 tasks: less memory, few proofs), and one BERT-base layer, all
on the four-core `quad_bus` hardware, fused tiling. The BERT-base
layer is shortened to M = 32 tokens in one token tile, with its weights cut to fit the 256 KiB
core memories (Q, K, V in 3 head groups, OUT in 3 column blocks, FF1 in 12 and FF2 in 16), the
smallest cut where every tile fits: 49 tasks. Each front point and each reference point is one
record (method `pareto` or `pareto-reference`; `params.cap_bytes` is the memory cap of the solve,
`extra.on_front` whether it survived the dominance filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from cpsched.analysis.pareto import (
    MemoryKind,
    ParetoFront,
    ParetoPoint,
    pareto_front,
    reference_points,
)
from cpsched.bench.runner import BenchConfig, Case, Record, SuiteDef, record_from_result
from cpsched.cpsat import SolverParams
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import ExecutionMode, TilingSpec
from cpsched.model.problem import Problem
from cpsched.report._common import format_bytes, save_png
from cpsched.report.pareto_plot import PlotPoint, front_figure

SUITE_NAME = "pareto"
HARDWARE = "quad_bus"
FULL_TIME_LIMIT_S = 10.0
QUICK_TIME_LIMIT_S = 1.5


@dataclass(frozen=True)
class Instance:
    """One front to compute: a workload, its parameters and tiling, and the sweep's limits."""

    key: str  # short, for file names: "attention-M64"
    workload: str
    overrides: Mapping[str, int]
    tiles: int
    layers: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    memory: MemoryKind = "all"
    max_points: int | None = None  # None: the classic sweep, one byte below each point

    @property
    def name(self) -> str:
        """The instance as records name it (unique within the suite)."""
        sets = " ".join(f"{k}={v}" for k, v in self.overrides.items())
        cut = "".join(
            f" {layer}.{d}={n}" for layer, ds in self.layers.items() for d, n in ds.items()
        )
        return f"{self.workload} {sets} {HARDWARE} T={self.tiles}{cut} fused"

    def problem(self, mode: ExecutionMode) -> Problem:
        """The problem of this instance in `mode` (layer-by-layer only adds barriers)."""
        spec = TilingSpec(
            tiles=self.tiles, layers={k: dict(v) for k, v in self.layers.items()}, mode=mode
        )
        workload = load_workload(self.workload, dict(self.overrides))
        return build_problem(workload, load_hardware(HARDWARE), spec)


_BERT_CUTS: dict[str, dict[str, int]] = {
    "Q": {"g": 3},
    "K": {"g": 3},
    "V": {"g": 3},
    "OUT": {"e": 3},
    "FF1": {"f": 12},
    "FF2": {"e": 16},
}


def instances(quick: bool) -> list[Instance]:
    """The suite's instances (the quick run: two small attention heads, four points each)."""
    if quick:
        return [
            Instance("attention-M32", "attention_head", {"M": 32, "N": 64}, 2, max_points=4),
            Instance("attention-M128", "attention_head", {"M": 128, "N": 64}, 2, max_points=4),
        ]
    return [
        Instance("attention-M32", "attention_head", {"M": 32, "N": 64}, 2),
        Instance("attention-M64", "attention_head", {"M": 64, "N": 64}, 2),
        Instance("attention-M256", "attention_head", {"M": 256, "N": 64}, 2),
        # finer tiling: less memory, but beyond what CP-SAT proves in 10 s per point
        Instance("attention-M256-T4", "attention_head", {"M": 256, "N": 64}, 4, max_points=6),
        Instance("bert-M32", "bert_base", {"M": 32}, 1, _BERT_CUTS, max_points=5),
    ]


def _record(
    instance: Instance,
    problem: Problem,
    point: ParetoPoint,
    method: str,
    mode: ExecutionMode,
    index: int | None,
    front: ParetoFront | None,
) -> Record:
    params: dict[str, str | int | float | bool | None] = {
        "workload": instance.workload,
        "hardware": HARDWARE,
        "T": instance.tiles,
        "mode": mode,
        "memory": instance.memory,
        "cap_bytes": point.cap_bytes,
        **{k: v for k, v in instance.overrides.items()},
    }
    extra: dict[str, str | int | float | bool | None] = {
        "role": point.role,
        "on_front": index is not None,
        "point_index": index,
        "front_peak_bytes": point.peak_bytes,
        "peak_all_bytes": point.peak_all_bytes,
        "peak_activation_bytes": point.peak_activation_bytes,
        "latency_proven": point.latency_proven,
        "note": point.note,
    }
    if front is not None:
        extra.update(front_end=front.end, front_complete=front.complete)
    record = record_from_result(instance.name, problem, point.result, params, extra)
    # the point's own status: a least peak may be proven by the static floor, not by CP-SAT
    return record.model_copy(
        update={"method": method, "status": point.status, "bound": point.bound, "gap": point.gap}
    )


def run_instance(instance: Instance, params: SolverParams) -> list[Record]:
    """The layer-by-layer extremes, then the fused front, as records."""
    layered = instance.problem("layer-by-layer")
    fused = instance.problem("fused")
    refs = reference_points(layered, params, instance.memory)
    front = pareto_front(
        fused,
        params,
        instance.memory,
        instance.max_points,
        hints=[r.schedule for r in refs],
        references=refs,
    )
    records = [
        _record(instance, fused, p, "pareto", "fused", i, front) for i, p in enumerate(front.points)
    ]
    records += [
        _record(instance, fused, p, "pareto", "fused", None, front) for p in front.dominated
    ]
    records += [
        _record(instance, layered, p, "pareto-reference", "layer-by-layer", None, None)
        for p in refs
    ]
    return records


def cases(config: BenchConfig) -> list[Case]:
    """One case per instance."""
    limit = config.time_limit_s or (QUICK_TIME_LIMIT_S if config.quick else FULL_TIME_LIMIT_S)
    params = SolverParams(time_limit_s=limit, num_workers=config.num_workers, seed=config.seed)
    return [
        Case(instance.name, partial(run_instance, instance, params))
        for instance in instances(config.quick)
    ]


# --- report ---


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _status(record: Record) -> str:
    if record.status == "optimal":
        return "optimal"
    memory_first = str(record.extra.get("role", "")).endswith("min-memory")
    if memory_first and record.gap == 0.0:
        return "least peak proven, latency not"
    gap = "-" if record.gap is None else f"{100 * record.gap:.1f}%"
    return f"{record.status} (gap {gap} on {'peak' if memory_first else 'latency'})"


def _point(record: Record) -> PlotPoint:
    role = str(record.extra.get("role", ""))
    label = role.replace("min-", "min ") if record.method == "pareto-reference" else ""
    return PlotPoint(
        int(record.latency_cycles or 0),
        int(record.extra.get("front_peak_bytes") or 0),
        record.status == "optimal",
        record.gap,
        label,
        "peak" if role.endswith("min-memory") else "latency",
    )


def _findings(front: list[Record], refs: list[Record]) -> list[str]:
    lines: list[str] = []
    if not front:
        return ["No fused schedule was found."]
    fastest, leanest = front[0], front[-1]
    lat0, lat1 = fastest.latency_cycles or 0, leanest.latency_cycles or 0
    peak0 = int(fastest.extra["front_peak_bytes"] or 0)
    peak1 = int(leanest.extra["front_peak_bytes"] or 0)
    if len(front) == 1:
        lines.append(
            f"One point: the fastest fused schedule ({lat0:,} cycles) is also the leanest found "
            f"({format_bytes(peak0)})."
        )
    else:
        lines.append(
            f"{len(front)} points. Going from the fastest to the leanest fused schedule saves "
            f"{format_bytes(peak0 - peak1)} of peak memory ({_pct(peak0 - peak1, peak0)}) "
            f"and costs {lat1 - lat0:,} cycles of latency ({_pct(lat1 - lat0, lat0)})."
        )
    by_role = {str(r.extra.get("role")): r for r in refs}
    lbl_fast = by_role.get("layer-by-layer min-latency")
    lbl_lean = by_role.get("layer-by-layer min-memory")
    if lbl_fast is not None and lbl_fast.latency_cycles:
        lines.append(
            f"Layer-by-layer's fastest takes {lbl_fast.latency_cycles:,} cycles: the fastest "
            f"fused schedule is {_pct(lbl_fast.latency_cycles - lat0, lbl_fast.latency_cycles)} "
            "faster."
        )
    if lbl_lean is not None:
        lean = int(lbl_lean.extra["front_peak_bytes"] or 0)
        if lean == peak1:
            compared = "the leanest fused schedule holds as much"
        else:
            more_or_less = "less" if peak1 < lean else "more"
            compared = f"the leanest fused schedule holds {_pct(abs(lean - peak1), lean)} "
            compared += more_or_less
        lines.append(f"Layer-by-layer's leanest holds {format_bytes(lean)}: {compared}.")
    proven = sum(r.status == "optimal" for r in front)
    end = str(front[0].extra.get("front_end", ""))
    lines.append(
        f"{proven} of {len(front)} points proven optimal; the sweep ended: {end}."
        + (" The front is exact." if front[0].extra.get("front_complete") else "")
    )
    return lines


def _split(records: list[Record], instance: Instance) -> tuple[list[Record], list[Record]]:
    """The instance's front (latency ascending) and its reference records."""
    mine = [r for r in records if r.instance == instance.name]
    front = sorted(
        (r for r in mine if r.method == "pareto" and r.extra.get("on_front")),
        key=lambda r: r.latency_cycles or 0,
    )
    return front, [r for r in mine if r.method == "pareto-reference"]


def _peak(record: Record) -> int:
    return int(record.extra.get("front_peak_bytes") or 0)


def summary_table(records: list[Record], config: BenchConfig) -> list[str]:
    """One row per instance: the front's size and proofs, the memory the leanest point saves
    against the fastest and the latency it costs, and fused against layer-by-layer."""
    lines = [
        "| instance | tasks | points (proven) | fastest: cycles / peak | leanest: cycles / peak "
        "| memory saved | latency paid | LbL fastest: cycles / peak | LbL leanest: cycles / peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for instance in instances(config.quick):
        front, refs = _split(records, instance)
        if not front:
            continue
        fast, lean = front[0], front[-1]
        lat0, lat1 = fast.latency_cycles or 0, lean.latency_cycles or 0
        by_role = {str(r.extra.get("role")): r for r in refs}

        def cell(r: Record | None) -> str:
            if r is None:
                return "-"
            return f"{r.latency_cycles or 0:,} / {_peak(r) / 1024:,.4g} KiB"

        proven = sum(r.status == "optimal" for r in front)
        lines.append(
            f"| {instance.name} | {fast.num_tasks} | {len(front)} ({proven}) | {cell(fast)} | "
            f"{cell(lean)} | {_pct(_peak(fast) - _peak(lean), _peak(fast))} | "
            f"{_pct(lat1 - lat0, lat0)} | {cell(by_role.get('layer-by-layer min-latency'))} | "
            f"{cell(by_role.get('layer-by-layer min-memory'))} |"
        )
    return lines


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """A summary row per instance, then per instance a table of the front and the reference
    points, the plot, and what the front shows (memory saved against latency paid), all
    computed from the records."""
    parts: list[str] = ["## Summary", ""]
    parts += summary_table(records, config)
    parts += [
        "",
        "Memory saved and latency paid: from the fastest to the leanest point of the fused "
        "front. LbL: the layer-by-layer schedules of the same tiling. Peaks are the largest "
        "over the four core memories; a point is proven when its latency under its cap (or, "
        "for the leanest, its peak and then its latency) is proven optimal.",
        "",
    ]
    for instance in instances(config.quick):
        mine = [r for r in records if r.instance == instance.name]
        if not mine:
            continue
        front, refs = _split(records, instance)
        which = "peak memory" if instance.memory == "all" else "peak activation memory"
        parts.append(f"## {instance.name}\n")
        parts.append(
            f"{mine[0].num_tasks} tasks; {which} = the largest peak over the core memories "
            f"({'all tensors' if instance.memory == 'all' else 'activations only'}).\n"
        )
        parts.append("| # | point | cap (bytes) | latency (cycles) | peak (bytes) | status |")
        parts.append("|---|---|---:|---:|---:|---|")
        rows = [(str(i), r) for i, r in enumerate(front)] + [
            (f"r{i}", r) for i, r in enumerate(refs)
        ]
        for index, r in rows:
            cap = r.params.get("cap_bytes")
            parts.append(
                f"| {index} | {r.extra.get('role')} | {'-' if cap is None else f'{cap:,}'} | "
                f"{r.latency_cycles or 0:,} | {int(r.extra.get('front_peak_bytes') or 0):,} | "
                f"{_status(r)} |"
            )
        figure = f"{SUITE_NAME}-{instance.key}.png"
        fig = front_figure(
            [_point(r) for r in front],
            [_point(r) for r in refs],
            instance.name,
            which,
        )
        save_png(fig, out_dir / figure)
        parts.append(f"\n![{instance.name}]({figure})\n")
        parts.extend(f"- {line}" for line in _findings(front, refs))
        parts.append("")
    return "\n".join(parts)


SUITE = SuiteDef(
    name=SUITE_NAME,
    title="Latency / peak-memory Pareto fronts (epsilon-constraint with CP-SAT)",
    description=(
        "For each instance, the fused schedules' Pareto front of latency against peak memory: "
        "the fastest schedule, the leanest, and the fastest under each memory cap in between "
        "(one byte below the previous point's peak, or a grid of caps), each proven optimal "
        "or shown with its gap; the layer-by-layer extremes of the same tiling are reference "
        "points. The memory saved by trading latency, and what layer fusion gains over "
        "layer-by-layer at each end, are computed from the records."
    ),
    cases=cases,
    report=report,
)
