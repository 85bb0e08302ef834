"""Every report of one schedule written into one folder: pictures, trace and summary."""

from __future__ import annotations

from pathlib import Path

from cpsched.model.io import write_text_atomic
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule
from cpsched.report.gantt import plot_gantt
from cpsched.report.memory_plot import plot_memory
from cpsched.report.summary import summary_markdown
from cpsched.report.trace import write_trace

GANTT_FILE = "gantt.png"
MEMORY_FILE = "memory.png"
TRACE_FILE = "trace.json"
SUMMARY_FILE = "summary.md"
REPORT_FILES: tuple[str, ...] = (GANTT_FILE, MEMORY_FILE, TRACE_FILE, SUMMARY_FILE)


def existing_report_files(out_dir: str | Path) -> list[Path]:
    """The report files that already exist in `out_dir` (and would be overwritten)."""
    return [Path(out_dir) / name for name in REPORT_FILES if (Path(out_dir) / name).exists()]


def write_reports(
    problem: Problem,
    schedule: Schedule,
    out_dir: str | Path,
    result: SolveResult | None = None,
) -> dict[str, Path]:
    """Write gantt.png, memory.png, trace.json and summary.md into `out_dir` (created if missing).

    Returns what was written, by name. Existing files are replaced; callers that must not
    overwrite check :func:`existing_report_files` first.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in REPORT_FILES}
    plot_gantt(problem, schedule, paths[GANTT_FILE])
    plot_memory(problem, schedule, paths[MEMORY_FILE])
    write_trace(problem, schedule, paths[TRACE_FILE])
    markdown = summary_markdown(
        problem,
        schedule,
        result,
        images={"Gantt chart": GANTT_FILE, "Memory occupancy": MEMORY_FILE},
        files={"Perfetto trace (open in https://ui.perfetto.dev)": TRACE_FILE},
    )
    write_text_atomic(paths[SUMMARY_FILE], markdown)
    return paths
