"""The Gantt chart of a schedule: one row per core and per link, tasks coloured by layer.

A link row draws each transfer once, however many destinations it has (a multicast's label
names them all). On a link shared by bandwidth (docs/problem.md), a transfer's bar is as tall
as its rate's share of the link's bandwidth (a full-rate transfer fills the row's bar height)
and transfers that run at once are stacked so that no two bars overlap; should the stacking
need more than the row (first-fit can leave gaps, and an invalid schedule can exceed the
bandwidth), that row is scaled down to fit. An exclusive link carries one transfer at a time:
its bars are full height. Spills and reloads (docs/metrics.md) are hatched and edged in their
own colours.

Built on a bare :class:`matplotlib.figure.Figure` (no pyplot, no global state), so it is safe
to call from any thread or test. The figure is 14 inches wide and grows with the number of
rows, so a few hundred tasks on a handful of cores stay readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Literal, NamedTuple

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from cpsched.check.metrics import spills_and_reloads
from cpsched.check.validate import TimedTransfer, derive_copies, exact, timed_schedule
from cpsched.model.problem import CoreId, Link, LinkId, Problem, TensorKind
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
_LABEL_HEIGHT_PX = 9.0  # the least bar height a label fits in

# How a transfer that spills, reloads or does both stands out (hatch, edge colour), by the
# name its legend entry shows.
Movement = Literal["spill", "reload", "spill and reload"]
MOVEMENT_STYLES: dict[Movement, tuple[str, str]] = {
    "spill": ("////", "#d62728"),
    "reload": ("\\\\\\\\", "#1f77b4"),
    "spill and reload": ("xxxx", "#9467bd"),
}


class StackedBar(NamedTuple):
    """A transfer's bar on one link row: `offset` and `height` are shares of the link's
    bandwidth (0 = the bottom of the row's bars, 1 = its top before any scaling)."""

    transfer: TimedTransfer
    offset: Fraction
    height: Fraction


def stack_link(link: Link, transfers: Iterable[TimedTransfer]) -> list[StackedBar]:
    """Where each transfer using `link` is drawn in its row. On an exclusive link every bar
    is full height at offset 0. On a bandwidth link a bar is `rate / bandwidth` tall; sweeping
    by start time (the longer first among those starting together), each is put at the lowest
    offset that is free over its whole duration."""
    ordered = sorted(transfers, key=lambda tr: (tr.start, -tr.end, tr.position))
    if link.sharing == "exclusive":
        return [StackedBar(tr, Fraction(0), Fraction(1)) for tr in ordered]
    bandwidth = exact(link.bandwidth_bytes_per_cycle)
    out: list[StackedBar] = []
    active: list[StackedBar] = []  # placed bars that may still overlap later ones
    for tr in ordered:
        height = tr.rate / bandwidth
        active = [b for b in active if b.transfer.end > tr.start]
        # Later bars start no earlier than this one, so only bars still running at its start
        # can overlap it; their vertical spans are what it must avoid.
        taken = sorted(
            (b.offset, b.offset + b.height)
            for b in active
            if b.transfer.start < tr.end and b.height > 0 and tr.end > tr.start
        )
        offset = Fraction(0)
        for low, high in taken:
            if low >= offset + height:
                break
            offset = max(offset, high)
        bar = StackedBar(tr, offset, height)
        out.append(bar)
        active.append(bar)
    return out


def movements(spills: set[int], reloads: set[int]) -> dict[int, Movement]:
    """The transfers that spill, reload or do both, by position in the schedule."""
    out: dict[int, Movement] = {}
    for position in spills | reloads:
        if position in spills and position in reloads:
            out[position] = "spill and reload"
        else:
            out[position] = "spill" if position in spills else "reload"
    return out


def transfer_label(tr: TimedTransfer) -> str:
    """The bar label of a transfer: the tensor, and every destination of a multicast."""
    if len(tr.dsts) > 1:
        return f"{tr.tensor} -> {'+'.join(tr.dsts)}"
    return str(tr.tensor)


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

    # Transfers: once on every link they use (a multicast too), coloured by the tensor's kind,
    # stacked by rate on links shared by bandwidth; spills and reloads hatched.
    moved = movements(*spills_and_reloads(derive_copies(problem, timing)))
    row_px = row_height_in * DPI
    on_link: dict[LinkId, list[TimedTransfer]] = defaultdict(list)
    for tr in timing.transfers:
        for lk in tr.links:
            on_link[lk].append(tr)
    link_bars: dict[
        tuple[int, float, float, TensorKind, Movement | None], list[tuple[int, int]]
    ] = defaultdict(list)
    for lk in links:
        row = link_row[lk]
        stacked = stack_link(problem.link_by_id[lk], on_link[lk])
        scale = BAR_HEIGHT / max([Fraction(1), *(b.offset + b.height for b in stacked)])
        bottom = row + BAR_HEIGHT / 2  # rows grow downwards: the bars stack up from here
        for bar in stacked:
            tr = bar.transfer
            kind = tensors[tr.tensor].kind
            height = float(bar.height * scale)
            y0 = bottom - float((bar.offset + bar.height) * scale)
            link_bars[(row, y0, height, kind, moved.get(tr.position))].append(
                (tr.start, tr.end - tr.start)
            )
            if height * row_px < _LABEL_HEIGHT_PX:
                continue
            label = _label_for((tr.end - tr.start) * px_per_cycle, transfer_label(tr), "")
            if not label and len(tr.dsts) > 1:
                label = _label_for((tr.end - tr.start) * px_per_cycle, str(tr.tensor), "")
            if label:
                ax.text(
                    (tr.start + tr.end) / 2,
                    y0 + height / 2,
                    label,
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if kind == "activation" else "black",
                    clip_on=True,
                )
    for (row, y0, height, kind, movement), spans in link_bars.items():
        hatch, edge = MOVEMENT_STYLES[movement] if movement else (None, "white")
        ax.broken_barh(
            spans,
            (y0, height),
            facecolors=TRANSFER_COLOURS[kind],
            edgecolors=edge,
            linewidth=0.8 if movement else 0.5,
            hatch=hatch,
            gid=f"transfers on row {row}",
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
    used_kinds = sorted({key[3] for key in link_bars}, key=list(TRANSFER_COLOURS).index)
    handles += [
        Patch(color=TRANSFER_COLOURS[kind], label=f"transfer: {kind}") for kind in used_kinds
    ]
    used_movements = set(moved.values())
    handles += [
        Patch(facecolor="white", edgecolor=edge, hatch=hatch, label=movement)
        for movement, (hatch, edge) in MOVEMENT_STYLES.items()
        if movement in used_movements
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
