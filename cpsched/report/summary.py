"""The summary of a schedule or a solve: a rich table for the terminal, Markdown for reports.

Both come from the same rows (:func:`summary_rows`): status, latency, energy (compute and
transfer), peak memory against capacity per bounded memory, core and link utilization,
gap and solve time. Numbers are the validator side's metrics (docs/metrics.md).
"""

from __future__ import annotations

from rich.table import Table

from cpsched.check.metrics import metrics
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _pj(value: float) -> str:
    return f"{value:,.0f} pJ" if abs(value) >= 1000 else f"{value:,.4g} pJ"


def summary_rows(
    problem: Problem, schedule: Schedule | None, result: SolveResult | None
) -> list[tuple[str, str]]:
    """(what, value) pairs summarising a schedule and, when given, the solve that made it."""
    if schedule is None and result is not None:
        schedule = result.schedule
    rows: list[tuple[str, str]] = [
        ("problem", problem.name),
        (
            "size",
            f"{_count(len(problem.tasks), 'task')}, {_count(len(problem.cores), 'core')}, "
            f"{_count(len(problem.links), 'link')}",
        ),
    ]
    if result is not None:
        rows.append(("method", result.method))
        rows.append(("status", result.status))
        if result.objective_value is not None:
            rows.append(("objective", f"{result.objective}: {result.objective_value:,.6g}"))
        else:
            rows.append(("objective", result.objective))
    else:
        rows.append(("status", "given schedule" if schedule is not None else "no schedule"))
    if schedule is not None:
        m = metrics(problem, schedule)
        rows.append(("latency", f"{m.latency_cycles:,} cycles"))
        rows.append(("energy", _pj(m.energy_total_pj)))
        rows.append(("energy, compute", _pj(m.energy_compute_pj)))
        rows.append(("energy, transfers", _pj(m.energy_transfer_pj)))
        for memory, peak in m.peak_memory.items():
            share = f" ({peak.peak_bytes / peak.capacity_bytes:.1%})" if peak.capacity_bytes else ""
            rows.append(
                (
                    f"peak memory {memory}",
                    f"{peak.peak_bytes:,} / {peak.capacity_bytes:,} bytes{share}"
                    f" at cycle {peak.at_cycle:,}",
                )
            )
        for core, busy in m.core_busy_cycles.items():
            rows.append(
                (
                    f"utilization core {core}",
                    f"{m.core_utilization[core]:.1%} ({busy:,} busy cycles)",
                )
            )
        for link, busy in m.link_busy_cycles.items():
            rows.append(
                (
                    f"utilization link {link}",
                    f"{m.link_utilization[link]:.1%} ({busy:,} busy cycles,"
                    f" {m.link_traffic_bytes[link]:,} bytes)",
                )
            )
        rows.append(("transfers", f"{len(schedule.transfers)}"))
    if result is not None:
        if result.bound is not None:
            rows.append(("bound", f"{result.bound:,.6g}"))
        rows.append(("gap", f"{result.gap:.2%}" if result.gap is not None else "n/a"))
        rows.append(("solve time", f"{result.wall_time_s:,.2f} s"))
        if result.message:
            rows.append(("message", result.message))
    return rows


def summary_table(problem: Problem, schedule: Schedule | None, result: SolveResult | None) -> Table:
    """The summary as a rich table, for the terminal at the end of a solve or a plot."""
    table = Table(title="summary", show_header=True)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for what, value in summary_rows(problem, schedule, result):
        table.add_row(what, value)
    return table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(
    problem: Problem,
    schedule: Schedule | None,
    result: SolveResult | None,
    images: dict[str, str],
    files: dict[str, str] | None = None,
) -> str:
    """The summary table and the pictures (`images`: caption -> relative path) as Markdown.

    `files` (description -> relative path) lists other outputs, such as the trace.
    """
    lines = [f"# {problem.name}", "", "| what | value |", "|---|---|"]
    lines += [f"| {_cell(w)} | {_cell(v)} |" for w, v in summary_rows(problem, schedule, result)]
    for caption, path in images.items():
        lines += ["", f"## {caption}", "", f"![{caption}]({path})"]
    if files:
        lines += ["", "## Files", ""]
        lines += [f"- {description}: [{path}]({path})" for description, path in files.items()]
    return "\n".join(lines) + "\n"
