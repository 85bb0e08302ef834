"""The sweep's pictures: alpha against M/N, latency against memory with the Pareto points, and
a heat map of the winning mode over two axes. PNG files, written atomically (matplotlib's
object API, no pyplot state)."""

from __future__ import annotations

from collections import defaultdict
from io import BytesIO
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from cpsched.model.io import write_bytes_atomic
from cpsched.sweep.spec import Point
from cpsched.sweep.summary import ModeComparison, compare_modes

DPI = 110
MODE_COLOURS = {"fused": "#1f77b4", "layer-by-layer": "#ff7f0e"}


def _save(fig: Figure, path: Path) -> Path:
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _x_of(c: ModeComparison) -> tuple[str, float] | None:
    """The x of the alpha plot: M/N when both are swept, else the first swept parameter."""
    p = c.workload_params
    if "M" in p and "N" in p:
        return "M / N", p["M"] / p["N"]
    if p:
        name = next(iter(p))
        return name, float(p[name])
    return None


def _strip(label: str, names: set[str]) -> str:
    """A workload label without the parameters on the x axis (the line's own label)."""
    return " ".join(w for w in label.split() if w.split("=")[0] not in names)


# The objective whose schedules alpha is about, when the sweep has it: the study compares the
# live-activation memory of memory-optimal schedules.
ALPHA_OBJECTIVE = "activation-memory"


def alpha_plot(records: list[dict[str, Any]], path: Path) -> Path | None:
    """alpha (fused / layer-by-layer peak activation memory) against M/N, one line per
    hardware and N (and objective and tiling, when several): of the activation-memory
    schedules when the sweep has them. None when there is nothing to plot."""
    lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
    xlabel = ""
    comparisons = [c for c in compare_modes(records) if c.alpha is not None]
    if any(c.objective == ALPHA_OBJECTIVE for c in comparisons):
        comparisons = [c for c in comparisons if c.objective == ALPHA_OBJECTIVE]
    objectives = {c.objective for c in comparisons}
    tilings = {c.tiling for c in comparisons}
    for c in comparisons:
        x = _x_of(c)
        if x is None or c.alpha is None:
            continue
        xlabel = x[0]
        names = {"M"} if x[0] == "M / N" else {x[0]}  # N stays in the line's label
        label = " ".join(
            part
            for part in (
                _strip(c.workload, names),
                c.hardware,
                c.objective if len(objectives) > 1 else "",
                c.tiling if len(tilings) > 1 else "",
            )
            if part
        )
        lines[label].append((x[1], c.alpha))
    if not lines:
        return None
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    for label, values in sorted(lines.items()):
        values.sort()
        ax.plot([v[0] for v in values], [v[1] for v in values], marker="o", label=label)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("alpha = fused / layer-by-layer peak activation memory")
    ax.set_title(f"Live-activation memory of fusion ({', '.join(sorted(objectives))} schedules)")
    ax.legend(fontsize="small")
    return _save(fig, path)


def pareto_points(points: list[tuple[float, float]]) -> set[int]:
    """Indices of the points no other point beats in both coordinates (lower is better)."""
    front = set()
    for i, (a, b) in enumerate(points):
        if not any(
            (c <= a and d <= b) and (c < a or d < b) for j, (c, d) in enumerate(points) if j != i
        ):
            front.add(i)
    return front


def latency_memory_plot(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Latency against peak activation memory of every schedule, by mode, log-log; circled:
    the Pareto points of each workload and hardware (over its tilings, modes and objectives).
    None without any schedule."""
    solved = [
        r
        for r in records
        if r.get("latency_cycles") is not None and r.get("peak_activation_bytes") is not None
    ]
    if not solved:
        return None
    xy = [(float(r["latency_cycles"]), float(r["peak_activation_bytes"])) for r in solved]
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(solved):
        point = Point.model_validate(r["point"])
        groups[(point.workload_label(), point.hardware_label())].append(i)
    front = {
        members[j] for members in groups.values() for j in pareto_points([xy[i] for i in members])
    }
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    for mode, colour in MODE_COLOURS.items():
        mine = [xy[i] for i, r in enumerate(solved) if r["point"]["mode"] == mode]
        if mine:
            ax.scatter([p[0] for p in mine], [p[1] for p in mine], c=colour, label=mode, s=18)
    pts = [xy[i] for i in sorted(front)]
    ax.scatter(
        [p[0] for p in pts], [p[1] for p in pts], facecolors="none", edgecolors="black", s=70,
        label="Pareto (per workload and hardware)",
    )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (cycles)")
    ax.set_ylabel("peak activation memory (bytes)")
    ax.set_title("Latency against live-activation memory")
    ax.legend(fontsize="small")
    return _save(fig, path)


def _axis_value(c: ModeComparison, axis: str) -> Any:
    if axis == "hardware":
        return c.hardware
    if axis == "workload":
        return c.workload
    return c.workload_params.get(axis, c.hardware_params.get(axis))


def default_heatmap_axes(records: list[dict[str, Any]]) -> tuple[str, str]:
    """The first two swept parameters with more than one value (else hardware, workload)."""
    values: dict[str, set[int]] = defaultdict(set)
    for r in records:
        p = Point.model_validate(r["point"])
        for k, v in {**p.workload_params, **p.hardware_params}.items():
            values[k].add(v)
    varying = [k for k, v in values.items() if len(v) > 1]
    axes = [*varying, "hardware", "workload"]
    return axes[0], axes[1]


def winner_heatmap(
    records: list[dict[str, Any]], path: Path, axes: tuple[str, str] | None = None
) -> Path | None:
    """Per objective, a heat map over two axes of fused / layer-by-layer (the geometric mean
    over the other axes): blue where fusion wins, red where layer-by-layer does."""
    x_axis, y_axis = axes or default_heatmap_axes(records)
    comparisons = [c for c in compare_modes(records) if c.ratio is not None]
    objectives = sorted({c.objective for c in comparisons})
    if not comparisons:
        return None
    fig = Figure(figsize=(5.5 * len(objectives), 4.5))
    for k, objective in enumerate(objectives):
        cells: dict[tuple[Any, Any], list[float]] = defaultdict(list)
        for c in comparisons:
            if c.objective == objective and c.ratio is not None:
                cells[(_axis_value(c, x_axis), _axis_value(c, y_axis))].append(c.ratio)
        xs = sorted({x for x, _ in cells}, key=lambda v: (isinstance(v, str), v))
        ys = sorted({y for _, y in cells}, key=lambda v: (isinstance(v, str), v))
        grid = [[float("nan")] * len(xs) for _ in ys]
        for (x, y), ratios in cells.items():
            product = 1.0
            for ratio in ratios:
                product *= ratio
            grid[ys.index(y)][xs.index(x)] = product ** (1 / len(ratios))
        ax = fig.add_subplot(1, len(objectives), k + 1)
        image = ax.imshow(grid, cmap="coolwarm", vmin=0.5, vmax=1.5, origin="lower", aspect="auto")
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                if value == value:  # not NaN
                    mark = "F" if value < 1 else "L" if value > 1 else "="
                    ax.text(j, i, f"{mark}\n{value:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(xs)), [str(x) for x in xs], fontsize=7, rotation=30)
        ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=7)
        ax.set_xlabel(x_axis)
        ax.set_ylabel(y_axis)
        ax.set_title(f"{objective}: fused / layer-by-layer")
        fig.colorbar(image, ax=ax, shrink=0.8)
    return _save(fig, path)


def write_plots(
    records: list[dict[str, Any]], out: Path, heatmap_axes: tuple[str, str] | None = None
) -> list[Path]:
    """Every plot that the records allow, into `out`; the files written."""
    made = [
        alpha_plot(records, out / "alpha.png"),
        latency_memory_plot(records, out / "latency_memory.png"),
        winner_heatmap(records, out / "winner.png", heatmap_axes),
    ]
    return [p for p in made if p is not None]
