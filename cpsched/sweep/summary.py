"""The answer of a sweep, not only its data: fused against layer-by-layer, and the best tiling.

For every workload and hardware variant, tiling and objective swept in both modes,
:func:`compare_modes` gives the ratio fused / layer-by-layer of the objective (below 1: fusion
wins), whether both values are proven optimal, and the study's alpha, the ratio of the two
schedules' peak live-activation memory. :func:`best_tilings` names the tiling and mode with
the best objective per workload, hardware and objective. :func:`summary_markdown` writes both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cpsched.sweep.spec import Point

Winner = str  # "fused", "layer-by-layer" or "tie"


@dataclass(frozen=True)
class ModeComparison:
    """Fused against layer-by-layer at one workload, hardware, tiling and objective."""

    workload: str  # label, e.g. "attention_head M=64 N=64"
    hardware: str
    tiling: str
    objective: str
    fused: float
    layer_by_layer: float
    ratio: float | None  # fused / layer-by-layer (None when layer-by-layer is 0)
    proven: bool  # both values proven optimal
    winner: Winner
    alpha: float | None  # fused / layer-by-layer peak activation memory
    workload_params: dict[str, int]
    hardware_params: dict[str, int]


@dataclass(frozen=True)
class BestTiling:
    """The tiling and mode with the best objective at one workload, hardware and objective."""

    workload: str
    hardware: str
    objective: str
    tiling: str
    mode: str
    value: float
    proven: bool


def _solved(records: Iterable[dict[str, Any]]) -> list[tuple[Point, dict[str, Any]]]:
    return [
        (Point.model_validate(r["point"]), r)
        for r in records
        if r.get("objective_value") is not None
    ]


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def compare_modes(records: Iterable[dict[str, Any]]) -> list[ModeComparison]:
    """Every case solved in both modes, in point order."""
    cases: dict[tuple[str, str, str, str], dict[str, tuple[Point, dict[str, Any]]]] = {}
    for point, record in _solved(records):
        case = (
            point.workload_label(),
            point.hardware_label(),
            point.tiling.label(),
            point.objective,
        )
        cases.setdefault(case, {})[point.mode] = (point, record)
    out = []
    for (workload, hardware, tiling, objective), modes in cases.items():
        if set(modes) != {"fused", "layer-by-layer"}:
            continue
        (point, fused), (_, lbl) = modes["fused"], modes["layer-by-layer"]
        f, lb = float(fused["objective_value"]), float(lbl["objective_value"])
        ratio = _ratio(f, lb)
        out.append(
            ModeComparison(
                workload=workload,
                hardware=hardware,
                tiling=tiling,
                objective=objective,
                fused=f,
                layer_by_layer=lb,
                ratio=ratio,
                proven=bool(fused.get("proven")) and bool(lbl.get("proven")),
                winner="tie" if f == lb else "fused" if f < lb else "layer-by-layer",
                alpha=_ratio(fused.get("peak_activation_bytes"), lbl.get("peak_activation_bytes")),
                workload_params=point.workload_params,
                hardware_params=point.hardware_params,
            )
        )
    return out


def best_tilings(records: Iterable[dict[str, Any]]) -> list[BestTiling]:
    """Per workload, hardware and objective, the (tiling, mode) of the lowest objective
    (ties: the first in point order)."""
    best: dict[tuple[str, str, str], tuple[float, Point, dict[str, Any]]] = {}
    for point, record in sorted(_solved(records), key=lambda pr: pr[0].index):
        case = (point.workload_label(), point.hardware_label(), point.objective)
        value = float(record["objective_value"])
        if case not in best or value < best[case][0]:
            best[case] = (value, point, record)
    return [
        BestTiling(
            workload=w,
            hardware=h,
            objective=o,
            tiling=p.tiling.label(),
            mode=p.mode,
            value=v,
            proven=bool(r.get("proven")),
        )
        for (w, h, o), (v, p, r) in best.items()
    ]


def status_counts(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Points per status (optimal, feasible, infeasible, unknown, error)."""
    return dict(Counter(str(r.get("status")) for r in records))


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_markdown(name: str, records: list[dict[str, Any]], total: int) -> str:
    """The answer as Markdown: statuses, the mode comparison, the best tilings."""
    counts = status_counts(records)
    lines = [
        f"# Sweep {name}",
        "",
        f"{len(records)} of {total} points recorded: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        "",
        "## Fused against layer-by-layer",
        "",
        "ratio = fused / layer-by-layer objective (below 1: fusion wins); alpha = fused / "
        "layer-by-layer peak live-activation memory; proven: both optimal.",
        "",
        "| workload | hardware | tiling | objective | fused | layer-by-layer | ratio | alpha "
        "| proven | winner |",
        "|---|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for c in compare_modes(records):
        lines.append(
            f"| {c.workload} | {c.hardware} | {c.tiling} | {c.objective} | {c.fused:,.6g} | "
            f"{c.layer_by_layer:,.6g} | {_num(c.ratio)} | {_num(c.alpha)} | "
            f"{'yes' if c.proven else 'no'} | {c.winner} |"
        )
    lines += [
        "",
        "## Best tiling per objective",
        "",
        "| workload | hardware | objective | tiling | mode | value | proven |",
        "|---|---|---|---|---|---:|---|",
    ]
    for b in best_tilings(records):
        lines.append(
            f"| {b.workload} | {b.hardware} | {b.objective} | {b.tiling} | {b.mode} | "
            f"{b.value:,.6g} | {'yes' if b.proven else 'no'} |"
        )
    errors = [r for r in records if r.get("status") == "error"]
    if errors:
        lines += ["", "## Failed points", ""]
        for r in sorted(errors, key=lambda r: int(r["index"])):
            p = Point.model_validate(r["point"])
            lines.append(
                f"- {p.index}: {p.workload_label()} on {p.hardware_label()}, "
                f"{p.tiling.label()}, {p.mode}, {p.objective}: {r.get('error')}"
            )
    return "\n".join(lines) + "\n"


__all__ = [
    "BestTiling",
    "ModeComparison",
    "best_tilings",
    "compare_modes",
    "status_counts",
    "summary_markdown",
]
