"""The Gantt chart of a schedule: one row per core and per link, tasks coloured by layer.

Built on a bare :class:`matplotlib.figure.Figure` (no pyplot, no global state), so it is safe
to call from any thread or test. The figure is 14 inches wide and grows with the number of
rows, so a few hundred tasks on a handful of cores stay readable.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cpsched.check.validate import timed_schedule
from cpsched.model.problem import CoreId, LinkId, Problem, TensorKind
from cpsched.model.schedule import Schedule
from cpsched.report._common import (
    DPI,
    FIGURE_WIDTH_IN,
    TRANSFER_COLOURS,
    layer_colours,
    save_png,
    thousands,
)

ROW_HEIGHT_IN = 0.42
MANY_ROWS = 24  # above this many rows, rows get thinner
MAX_LEGEND_LAYERS = 24
BAR_HEIGHT = 0.72
_CHAR_WIDTH_PX = 5.6  # about one character of the 7-point label font at 110 dpi


def _label_for(width_px: float, long: str, short: str) -> str | None:
    """The longest label that fits in a bar `width_px` wide, or None."""
    for text in (long, short):
        if len(text) * _CHAR_WIDTH_PX + 4 <= width_px:
            return text
    return None


def gantt_figure(problem: Problem, schedule: Schedule) -> Figure:
    """The Gantt chart of `schedule` as a matplotlib Figure (see :func:`plot_gantt`)."""
    timing = timed_schedule(problem, schedule)
    cores: list[CoreId] = [c.id for c in problem.cores]
    # Links that carry nothing are left out (a 4x4 mesh has dozens); the title says how many.
    used_links = {lk for tr in timing.transfers for lk in tr.links}
    links: list[LinkId] = [lk.id for lk in problem.links if lk.id in used_links]
    idle_links = len(problem.links) - len(links)
    rows = [f"{c} ({problem.memory_of(c)})" for c in cores] + [f"link {lk}" for lk in links]
    core_row = {c: i for i, c in enumerate(cores)}
    link_row = {lk: len(cores) + i for i, lk in enumerate(links)}
    latency = max(
        [p.end for p in timing.placed.values()] + [t.end for t in timing.transfers], default=0
    )
    x_max = max(latency, 1) * 1.01

    colours = layer_colours(problem)
    tasks = problem.task_by_id
    tensors = problem.tensor_by_id

    n_layers_used = len({tasks[t].layer for t in timing.placed})
    legend_rows = 1 + min(n_layers_used, MAX_LEGEND_LAYERS + 1) // 6
    row_height_in = ROW_HEIGHT_IN if len(rows) <= MANY_ROWS else ROW_HEIGHT_IN * 0.75
    height_in = 1.5 + row_height_in * max(len(rows), 2) + 0.25 * legend_rows
    fig = Figure(figsize=(FIGURE_WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()

    # Pixels per cycle, to decide which bars have room for a label.
    axes_px = FIGURE_WIDTH_IN * DPI * 0.88
    px_per_cycle = axes_px / x_max

    # Tasks: one broken_barh call per (row, layer) keeps hundreds of bars cheap.
    bars: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for placed in timing.placed.values():
        task = tasks[placed.task]
        bars[(core_row[placed.core], task.layer)].append((placed.start, placed.end - placed.start))
        label = _label_for(
            (placed.end - placed.start) * px_per_cycle,
            f"{task.layer} t{task.tile}",
            str(task.tile),
        )
        if label is not None:
            ax.text(
                (placed.start + placed.end) / 2,
                core_row[placed.core],
                label,
                ha="center",
                va="center",
                fontsize=7,
                color="black",
                clip_on=True,
            )
    for (row, layer), spans in bars.items():
        ax.broken_barh(
            spans,
            (row - BAR_HEIGHT / 2, BAR_HEIGHT),
            facecolors=colours[layer],
            edgecolors="white",
            linewidth=0.5,
        )

    # Transfers: on every link of their route, coloured by the tensor's kind.
    link_bars: dict[tuple[int, TensorKind], list[tuple[int, int]]] = defaultdict(list)
    for tr in timing.transfers:
        kind = tensors[tr.tensor].kind
        for lk in tr.links:
            link_bars[(link_row[lk], kind)].append((tr.start, tr.end - tr.start))
            label = _label_for((tr.end - tr.start) * px_per_cycle, str(tr.tensor), "")
            if label:
                ax.text(
                    (tr.start + tr.end) / 2,
                    link_row[lk],
                    label,
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if kind == "activation" else "black",
                    clip_on=True,
                )
    for (row, kind), spans in link_bars.items():
        ax.broken_barh(
            spans,
            (row - BAR_HEIGHT / 2, BAR_HEIGHT),
            facecolors=TRANSFER_COLOURS[kind],
            edgecolors="white",
            linewidth=0.5,
        )

    ax.set_yticks(range(len(rows)), rows, fontsize=9)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first core on top
    if cores and links:
        ax.axhline(len(cores) - 0.5, color="black", linewidth=0.8)
    for row in range(0, len(rows), 2):
        ax.axhspan(row - 0.5, row + 0.5, color="#f2f2f2", zorder=0, linewidth=0)
    ax.set_xlim(0, x_max)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_xlabel("time (cycles)")
    ax.grid(axis="x", color="#cccccc", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(
        f"{problem.name}: latency {latency:,} cycles, {len(timing.placed)} tasks, "
        f"{len(timing.transfers)} transfers"
        + (
            f" ({idle_links} idle link{'' if idle_links == 1 else 's'} not shown)"
            if idle_links
            else ""
        ),
        fontsize=11,
    )

    used_layers = [layer for layer in colours if any(lay == layer for _, lay in bars)]
    handles = [Patch(color=colours[layer], label=layer or "(no layer)") for layer in used_layers]
    if len(handles) > MAX_LEGEND_LAYERS:
        extra = len(handles) - MAX_LEGEND_LAYERS
        handles = handles[:MAX_LEGEND_LAYERS]
        handles.append(Patch(color="white", label=f"+{extra} more layers"))
    used_kinds = sorted({kind for _, kind in link_bars}, key=list(TRANSFER_COLOURS).index)
    handles += [
        Patch(color=TRANSFER_COLOURS[kind], label=f"transfer: {kind}") for kind in used_kinds
    ]
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=min(len(handles), 9),
            fontsize=8,
            frameon=False,
        )
    return fig


def plot_gantt(problem: Problem, schedule: Schedule, path: str | Path) -> None:
    """Draw the Gantt chart of `schedule` (cores and links as rows) to a PNG file at `path`."""
    save_png(gantt_figure(problem, schedule), path)
