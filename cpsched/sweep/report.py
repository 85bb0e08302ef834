"""A sweep folder's derived files: the table, the summary and the plots, from its records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cpsched.model.io import write_text_atomic
from cpsched.sweep.plots import write_plots
from cpsched.sweep.store import PLOT_FILES, SUMMARY_FILE, TABLE_FILE, write_table
from cpsched.sweep.summary import summary_markdown

REPORT_FILES = (TABLE_FILE, SUMMARY_FILE, *PLOT_FILES)


def report_files_present(out: Path) -> list[str]:
    """The derived files already in `out`."""
    return [name for name in REPORT_FILES if (out / name).exists()]


def write_report(
    out: Path,
    name: str,
    records: list[dict[str, Any]],
    total: int,
    heatmap_axes: tuple[str, str] | None = None,
) -> list[Path]:
    """results.csv, summary.md and the plots of `records` into `out` (each atomically)."""
    written = [write_table(out, records)]
    summary = out / SUMMARY_FILE
    write_text_atomic(summary, summary_markdown(name, records, total))
    written.append(summary)
    for stale in PLOT_FILES:  # a plot the records no longer allow must not stay behind
        (out / stale).unlink(missing_ok=True)
    return [*written, *write_plots(records, out, heatmap_axes)]
