"""What the report pictures share: row order, layer colours, number formats, PNG output."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from matplotlib.figure import Figure

from cpsched.model.io import write_bytes_atomic
from cpsched.model.problem import TENSOR_KINDS, Problem, TensorKind

DPI = 110
FIGURE_WIDTH_IN = 14.0

# Qualitative colours for layers: tab10, then the light tab20 shades; greys are left out
# because they are the transfers' colours.
_LAYER_COLOURS: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5",
)  # fmt: skip

KIND_COLOURS: dict[TensorKind, str] = {
    "activation": "#4c72b0",
    "weight": "#dd8452",
    "input": "#55a868",
}
TRANSFER_COLOURS: dict[TensorKind, str] = {
    "activation": "#4d4d4d",
    "weight": "#8c8c8c",
    "input": "#b8b8b8",
}
assert set(KIND_COLOURS) == set(TENSOR_KINDS) == set(TRANSFER_COLOURS)


def layer_order(problem: Problem) -> list[str]:
    """Layers in the order their first task appears in the problem (a stable colour order)."""
    seen: dict[str, None] = {}
    for task in problem.tasks:
        seen.setdefault(task.layer, None)
    return list(seen)


def layer_colours(problem: Problem) -> dict[str, str]:
    """A colour per layer, cycling through the qualitative palette when there are many."""
    return {
        layer: _LAYER_COLOURS[i % len(_LAYER_COLOURS)]
        for i, layer in enumerate(layer_order(problem))
    }


def thousands(value: float, _pos: object = None) -> str:
    """12345.0 -> '12,345' (axis tick labels in cycles)."""
    return f"{value:,.0f}"


def byte_unit(largest_bytes: float) -> tuple[str, int]:
    """The unit to show sizes in so that `largest_bytes` reads as a small number."""
    for name, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if largest_bytes >= factor:
            return name, factor
    return "bytes", 1


def format_bytes(size_bytes: float) -> str:
    """Exact below 10 KiB (1152 -> '1,152 bytes'), else 4 digits (245760 -> '240 KiB')."""
    if size_bytes < 10 * 1024:
        return f"{size_bytes:,.0f} bytes"
    unit, factor = byte_unit(size_bytes)
    return f"{size_bytes / factor:,.4g} {unit}"


def save_png(fig: Figure, path: str | Path) -> None:
    """Render `fig` to PNG bytes and write them atomically."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    write_bytes_atomic(path, buffer.getvalue())
