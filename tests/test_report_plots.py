"""The Gantt chart and memory plot: real PNG files, also for a schedule of a few hundred tasks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.heuristics import best_heuristic_schedule
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.io import load_problem, load_schedule
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule, ScheduledTask
from cpsched.report.files import REPORT_FILES, write_reports
from cpsched.report.gantt import gantt_figure, plot_gantt
from cpsched.report.memory_plot import memory_figure, plot_memory

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = Path(__file__).resolve().parent.parent / "models" / "problems"


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def small() -> tuple[Problem, Schedule]:
    return (
        load_problem(MODELS / "two_cores_shared.yaml"),
        load_schedule(MODELS / "two_cores_shared.schedule.yaml"),
    )


@pytest.fixture(scope="module")
def large() -> tuple[Problem, Schedule]:
    # 4 cores x 10 layers x 30 tiles = 300 tasks, scheduled by the heuristics.
    problem = random_problem(7, n_cores=4, n_layers=10, tiles=30, barrier_prob=0.0)
    schedule = best_heuristic_schedule(problem)
    assert schedule is not None
    assert validate(problem, schedule) == []
    return problem, schedule


def test_gantt_of_the_example_is_a_png_14_inches_wide(
    small: tuple[Problem, Schedule], tmp_path: Path
) -> None:
    path = tmp_path / "gantt.png"
    plot_gantt(*small, path)
    width_px, height_px = _png_size(path)
    assert width_px == 14 * 110  # 14 in at 110 dpi
    assert 200 < height_px < 14 * 110


def test_gantt_rows_are_cores_then_links_with_a_cycle_axis(small: tuple[Problem, Schedule]) -> None:
    ax = gantt_figure(*small).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c0 (l1)", "c1 (l1)", "link bus"]
    assert ax.get_xlabel() == "time (cycles)"
    assert "latency 162 cycles" in ax.get_title()


def test_gantt_of_300_tasks_grows_with_rows_not_tasks(
    large: tuple[Problem, Schedule], tmp_path: Path
) -> None:
    problem, schedule = large
    assert len(schedule.tasks) == 300
    path = tmp_path / "gantt.png"
    plot_gantt(problem, schedule, path)
    width_px, height_px = _png_size(path)
    assert width_px == 14 * 110
    assert height_px < 12 * 110  # 4 cores and a few links: a short, wide figure
    legend = gantt_figure(problem, schedule).legends[0]
    assert [t.get_text() for t in legend.get_texts()][:10] == sorted(
        {t.layer for t in problem.tasks}, key=[t.layer for t in problem.tasks].index
    )


def test_memory_plot_has_a_panel_per_bounded_memory_with_capacity_and_peak(
    small: tuple[Problem, Schedule], tmp_path: Path
) -> None:
    path = tmp_path / "memory.png"
    plot_memory(*small, path)
    assert _png_size(path)[0] == 14 * 110
    (ax,) = memory_figure(*small).axes  # dram is unbounded: only l1
    assert ax.get_ylabel() == "l1 (KiB)"
    # The capacity (3072 bytes = 3 KiB) is a dashed line; the peak (2048 bytes at cycle 104,
    # x 512 + w 1024 + a 512) is marked and annotated.
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [np.asarray(line.get_ydata()).tolist() for line in dashed] == [[3.0, 3.0]]
    texts = [t.get_text() for t in ax.texts]
    assert "capacity 3,072 bytes" in texts
    assert "peak 2,048 bytes (67% of capacity) at cycle 104" in texts


def test_memory_plot_scales_to_a_small_peak(tmp_path: Path) -> None:
    # l1 holds at most 512 bytes of its 4096 (12.5% < 25%): the y axis follows the peak.
    problem = Problem.model_validate({
        "format": "cpsched-problem/1",
        "name": "roomy",
        "memories": [{"id": "dram", "capacity_bytes": None}, {"id": "l1", "capacity_bytes": 4096}],
        "cores": [{"id": "c0", "memory": "l1"}],
        "tensors": [{"id": "a", "size_bytes": 512, "kind": "activation", "producer": "A"}],
        "tasks": [{"id": "A", "outputs": ["a"], "options": [{"core": "c0", "duration_cycles": 9}]}],
    })  # fmt: skip
    schedule = Schedule(problem="roomy", tasks=(ScheduledTask(id="A", core="c0", start=0),))
    (ax,) = memory_figure(problem, schedule).axes
    assert ax.get_ylabel() == "l1 (bytes)"
    assert ax.get_ylim()[1] == 512 * 1.22
    assert "capacity 4,096 bytes (far above this scale)" in [t.get_text() for t in ax.texts]


def test_memory_plot_without_bounded_memory_says_so(tmp_path: Path) -> None:
    problem = Problem.model_validate({
        "format": "cpsched-problem/1",
        "name": "flat",
        "memories": [{"id": "dram", "capacity_bytes": None}],
        "cores": [{"id": "c0", "memory": "dram"}],
        "tasks": [{"id": "A", "options": [{"core": "c0", "duration_cycles": 3}]}],
    })  # fmt: skip
    schedule = Schedule(problem="flat", tasks=(ScheduledTask(id="A", core="c0", start=0),))
    path = tmp_path / "memory.png"
    plot_memory(problem, schedule, path)
    assert _png_size(path)[0] == 14 * 110
    (ax,) = memory_figure(problem, schedule).axes
    assert [t.get_text() for t in ax.texts] == ["no bounded memory: nothing to plot"]


def test_memory_plot_of_300_tasks(large: tuple[Problem, Schedule], tmp_path: Path) -> None:
    problem, schedule = large
    path = tmp_path / "memory.png"
    plot_memory(problem, schedule, path)
    assert _png_size(path)[0] == 14 * 110
    bounded = [m.id for m in problem.memories if m.capacity_bytes is not None]
    axes = memory_figure(problem, schedule).axes
    assert [ax.get_ylabel().split(" ")[0] for ax in axes] == bounded


def test_gantt_leaves_out_idle_links(small: tuple[Problem, Schedule]) -> None:
    problem, schedule = small
    data = problem.model_dump(mode="json")
    data["links"].append({"id": "spare", "bandwidth_bytes_per_cycle": 1})
    with_spare = Problem.model_validate(data)
    ax = gantt_figure(with_spare, schedule).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c0 (l1)", "c1 (l1)", "link bus"]
    assert ax.get_title().endswith("(1 idle link not shown)")


def test_write_reports_of_300_tasks(large: tuple[Problem, Schedule], tmp_path: Path) -> None:
    problem, schedule = large
    written = write_reports(problem, schedule, tmp_path / "out")
    assert sorted(written) == sorted(REPORT_FILES)
    assert all(path.parent == tmp_path / "out" for path in written.values())
    for name in ("gantt.png", "memory.png"):
        assert written[name].read_bytes()[:8] == PNG_SIGNATURE
    trace = json.loads(written["trace.json"].read_text())
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    # One slice per task, and one per link of every transfer's route.
    route_links = sum(len(problem.route_by_pair[(t.src, t.dst)].links) for t in schedule.transfers)
    assert len(slices) == 300 + route_links
    latency = metrics(problem, schedule).latency_cycles
    assert f"| latency | {latency:,} cycles |" in written["summary.md"].read_text()
