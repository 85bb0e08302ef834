"""The latency / peak-memory Pareto front as a picture: the front as a staircase with markers
(filled when proven, hollow with the gap when not) and the layer-by-layer reference points.

The plot takes plain points (:class:`PlotPoint`), so that the `pareto` command (a front's
points, by :func:`cpsched.analysis.pareto.plot_point`) and the benchmark report (its records)
draw alike, and the report layer needs nothing from the analysis layer above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from cpsched.report._common import DPI, byte_unit, save_png, thousands

FRONT_COLOUR = "#1f77b4"
REFERENCE_COLOUR = "#d62728"
FIGURE_SIZE_IN = (8.0, 5.2)


@dataclass(frozen=True)
class PlotPoint:
    """One point to draw: latency, peak, and whether (and how far) it is proven."""

    latency_cycles: int
    peak_bytes: int
    proven: bool
    gap: float | None = None  # relative gap of the point's first objective, when not proven
    label: str = ""  # for reference points: what they are ("layer-by-layer min latency")
    gap_of: str = "latency"  # what the gap is on: latency, or peak for a min-memory point


def front_figure(
    points: Sequence[PlotPoint],
    references: Sequence[PlotPoint] = (),
    title: str = "",
    memory_label: str = "peak memory",
) -> Figure:
    """The figure of a front (non-dominated points, any order) and its reference points."""
    front = sorted(points, key=lambda p: (p.latency_cycles, p.peak_bytes))
    every = [*front, *references]
    fig = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    unit, factor = byte_unit(max((p.peak_bytes for p in every), default=1))
    if front:
        right = max(p.latency_cycles for p in every)
        span = max(1, right - min(p.latency_cycles for p in every))
        xs = [p.latency_cycles for p in front] + [right + 0.04 * span]
        ys = [p.peak_bytes / factor for p in front] + [front[-1].peak_bytes / factor]
        ax.step(xs, ys, where="post", color=FRONT_COLOUR, linewidth=1.5, label="Pareto front")
        proven = [p for p in front if p.proven]
        unproven = [p for p in front if not p.proven]
        if proven:
            ax.plot(
                [p.latency_cycles for p in proven],
                [p.peak_bytes / factor for p in proven],
                "o",
                color=FRONT_COLOUR,
                markersize=8,
                label="proven optimal",
            )
        if unproven:
            ax.plot(
                [p.latency_cycles for p in unproven],
                [p.peak_bytes / factor for p in unproven],
                "o",
                markerfacecolor="white",
                markeredgecolor=FRONT_COLOUR,
                markeredgewidth=1.6,
                markersize=8,
                label="not proven (gap shown)",
            )
            for p in unproven:
                if p.gap is not None:
                    ax.annotate(
                        f"{p.gap_of} gap {100 * p.gap:.1f}%",
                        (p.latency_cycles, p.peak_bytes / factor),
                        textcoords="offset points",
                        xytext=(7, 5),
                        fontsize=8,
                        color="#444444",
                    )
    for i, ref in enumerate(references):
        ax.plot(
            [ref.latency_cycles],
            [ref.peak_bytes / factor],
            "D" if "latency" in ref.label else "s",
            markersize=8,
            color=REFERENCE_COLOUR,
            markerfacecolor=REFERENCE_COLOUR if ref.proven else "white",
            markeredgewidth=1.6,
            label=ref.label or f"reference {i + 1}",
        )
    ax.set_xlabel("latency (cycles)")
    ax.set_ylabel(f"{memory_label} ({unit})")
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.4g}"))
    ax.set_ylim(bottom=0, top=max((p.peak_bytes for p in every), default=1) / factor * 1.12)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_front(
    points: Sequence[PlotPoint],
    references: Sequence[PlotPoint],
    path: str | Path,
    title: str = "",
    memory_label: str = "peak memory",
) -> None:
    """Write the PNG of a Pareto front and its reference points."""
    save_png(front_figure(points, references, title, memory_label), path)
