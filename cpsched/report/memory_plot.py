"""Memory occupancy over time: one panel per bounded memory, stacked by tensor kind.

The bytes held follow docs/validity.md, rule 9 exactly as the validator counts them (taken from
:func:`cpsched.check.metrics.memory_timeline`), drawn as steps with the capacity as a dashed line
and the peak marked.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cpsched.check.metrics import MemoryTimeline, PeakMemory, memory_timeline, metrics
from cpsched.model.problem import TENSOR_KINDS, Problem
from cpsched.model.schedule import Schedule
from cpsched.report._common import (
    DPI,
    FIGURE_WIDTH_IN,
    KIND_COLOURS,
    byte_unit,
    format_bytes,
    save_png,
    thousands,
)

PANEL_HEIGHT_IN = 2.2
OFF_SCALE_SHARE = 0.25  # below this share of the capacity, the y axis follows the peak


def _panel(ax: Axes, name: str, timeline: MemoryTimeline, peak: PeakMemory, end: int) -> None:
    capacity = timeline.capacity_bytes or 0
    # When the peak is a small share of the capacity, scale to the peak and note the capacity
    # above the panel, so the occupancy stays visible.
    capacity_shown = peak.peak_bytes >= OFF_SCALE_SHARE * capacity
    top_bytes = max(capacity if capacity_shown else peak.peak_bytes, 1)
    unit, factor = byte_unit(top_bytes)
    # Step function: value i holds on [times[i], times[i+1]); extend the last one to `end`.
    times = [*timeline.times, max(end, timeline.times[-1] if timeline.times else 0)]
    bottom = [0.0] * len(times)
    for kind in TENSOR_KINDS:
        values = [v / factor for v in timeline.bytes_by_kind[kind]]
        values.append(values[-1] if values else 0.0)
        top = [b + v for b, v in zip(bottom, values, strict=True)]
        if any(values):
            ax.fill_between(
                times, bottom, top, step="post", color=KIND_COLOURS[kind], label=kind, linewidth=0
            )
        bottom = top
    ax.step(times, bottom, where="post", color="black", linewidth=0.7)
    if capacity_shown:
        ax.axhline(capacity / factor, color="#c0392b", linestyle="--", linewidth=1.2)
        ax.text(
            0.995,
            capacity / factor,
            f"capacity {format_bytes(capacity)}",
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize=8,
            color="#c0392b",
        )
    else:
        ax.text(
            0.995,
            0.97,
            f"capacity {format_bytes(capacity)} (far above this scale)",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            color="#c0392b",
        )
    if peak.peak_bytes > 0:
        share = f" ({peak.peak_bytes / capacity:.0%} of capacity)" if capacity else ""
        ax.plot([peak.at_cycle], [peak.peak_bytes / factor], marker="v", color="black")
        ax.annotate(
            f"peak {format_bytes(peak.peak_bytes)}{share} at cycle {peak.at_cycle:,}",
            xy=(peak.at_cycle, peak.peak_bytes / factor),
            xytext=(-6, 4) if peak.at_cycle > 0.6 * end else (6, 4),
            textcoords="offset points",
            ha="right" if peak.at_cycle > 0.6 * end else "left",
            fontsize=8,
        )
    ax.set_ylim(0, top_bytes / factor * 1.22)
    ax.set_ylabel(f"{name} ({unit})")
    ax.grid(axis="both", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def memory_figure(problem: Problem, schedule: Schedule) -> Figure:
    """The memory occupancy plot of `schedule` as a matplotlib Figure (see :func:`plot_memory`)."""
    timelines = memory_timeline(problem, schedule)
    result = metrics(problem, schedule)
    bounded = [m.id for m in problem.memories if m.capacity_bytes is not None]
    end = max(result.latency_cycles, 1)
    fig = Figure(
        figsize=(FIGURE_WIDTH_IN, 1.2 + PANEL_HEIGHT_IN * max(len(bounded), 1)),
        dpi=DPI,
        layout="constrained",
    )
    if not bounded:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no bounded memory: nothing to plot", ha="center", va="center")
        ax.set_axis_off()
        return fig
    axes = fig.subplots(len(bounded), 1, sharex=True, squeeze=False)[:, 0]
    for ax, memory in zip(axes, bounded, strict=True):
        _panel(ax, str(memory), timelines[memory], result.peak_memory[memory], end)
    last = axes[-1]
    last.set_xlim(0, end * 1.01)
    last.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    last.xaxis.set_major_formatter(FuncFormatter(thousands))
    last.set_xlabel("time (cycles)")
    fig.suptitle(f"{problem.name}: bytes held in each bounded memory", fontsize=11)
    kinds = [k for k in TENSOR_KINDS if any(any(t.bytes_by_kind[k]) for t in timelines.values())]
    fig.legend(
        handles=[Patch(color=KIND_COLOURS[k], label=k) for k in kinds],
        loc="outside lower center",
        ncol=max(len(kinds), 1),
        fontsize=8,
        frameon=False,
    )
    return fig


def plot_memory(problem: Problem, schedule: Schedule, path: str | Path) -> None:
    """Draw the bytes held over time in every bounded memory, by kind, to a PNG at `path`."""
    save_png(memory_figure(problem, schedule), path)
