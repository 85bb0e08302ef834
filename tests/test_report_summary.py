"""The summary rows, table and Markdown of the bundled two_cores_shared example."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from cpsched.model.io import load_problem, load_schedule
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule
from cpsched.report.summary import summary_markdown, summary_rows, summary_table

EXAMPLES = Path(__file__).resolve().parent.parent / "models" / "problems"

# Worked by hand from two_cores_shared: tasks A 20 (100 pJ) + B 10 (50) on c0, C 10 (50) on
# c1, D 8 (40) on c0: compute 240 pJ, c0 busy 38, c1 busy 10. Transfers over the bus
# (16 bytes/cycle, latency 4, 2 pJ/byte): x 512 bytes 36 cycles, w 1024 bytes 68 cycles,
# y 256 bytes 20 cycles: 1792 bytes, 3584 pJ, busy 124. Latency 162 (y's store ends).
# l1 peaks at 2048 of 3072 bytes at cycle 104 (x + w + a).
EXPECTED_METRIC_ROWS = [
    ("latency", "162 cycles"),
    ("energy", "3,824 pJ"),
    ("energy, compute", "240 pJ"),
    ("energy, transfers", "3,584 pJ"),
    ("peak memory l1", "2,048 / 3,072 bytes (66.7%) at cycle 104"),
    ("utilization core c0", "23.5% (38 busy cycles)"),  # 38 / 162
    ("utilization core c1", "6.2% (10 busy cycles)"),  # 10 / 162
    ("utilization link bus", "69.1% (124 busy cycles, 1,792 bytes)"),  # 1792 / (16 * 162)
    ("transfers", "3"),
]


@pytest.fixture(scope="module")
def example() -> tuple[Problem, Schedule]:
    return (
        load_problem(EXAMPLES / "two_cores_shared.yaml"),
        load_schedule(EXAMPLES / "two_cores_shared.schedule.yaml"),
    )


def _result(schedule: Schedule | None, status: str = "optimal") -> SolveResult:
    return SolveResult.model_validate({
        "method": "cpsat",
        "status": status,
        "objective": "latency",
        "objective_value": 162.0 if schedule else None,
        "bound": 150.0,
        "gap": (162 - 150) / 162 if schedule else None,
        "wall_time_s": 1.234,
        "schedule": schedule,
    })  # fmt: skip


def test_rows_of_a_given_schedule(example: tuple[Problem, Schedule]) -> None:
    assert summary_rows(*example, None) == [
        ("problem", "two_cores_shared"),
        ("size", "4 tasks, 2 cores, 1 link"),
        ("status", "given schedule"),
        *EXPECTED_METRIC_ROWS,
    ]


def test_rows_of_a_solve(example: tuple[Problem, Schedule]) -> None:
    problem, schedule = example
    rows = summary_rows(problem, schedule, _result(schedule))
    assert rows[2:5] == [
        ("method", "cpsat"),
        ("status", "optimal"),
        ("objective", "latency: 162"),
    ]
    assert rows[5:-3] == EXPECTED_METRIC_ROWS
    # gap = (162 - 150) / 162 = 7.41%
    assert rows[-3:] == [("bound", "150"), ("gap", "7.41%"), ("solve time", "1.23 s")]


def test_rows_take_the_schedule_from_the_result(example: tuple[Problem, Schedule]) -> None:
    problem, schedule = example
    result = _result(schedule)
    assert summary_rows(problem, None, result) == summary_rows(problem, schedule, result)


def test_rows_of_a_solve_without_schedule(example: tuple[Problem, Schedule]) -> None:
    problem, _ = example
    rows = summary_rows(problem, None, _result(None, status="unknown"))
    assert ("status", "unknown") in rows
    assert ("gap", "n/a") in rows
    assert not [what for what, _ in rows if what == "latency"]


def test_table_prints_every_row(example: tuple[Problem, Schedule]) -> None:
    console = Console(width=200, record=True)
    console.print(summary_table(*example, None))
    text = console.export_text()
    for what, value in EXPECTED_METRIC_ROWS:
        assert what in text and value in text


def test_markdown_has_the_table_and_the_pictures(example: tuple[Problem, Schedule]) -> None:
    text = summary_markdown(
        *example,
        None,
        images={"Gantt chart": "gantt.png", "Memory occupancy": "memory.png"},
        files={"Perfetto trace": "trace.json"},
    )
    lines = text.splitlines()
    assert lines[:4] == ["# two_cores_shared", "", "| what | value |", "|---|---|"]
    for what, value in EXPECTED_METRIC_ROWS:
        assert f"| {what} | {value} |" in lines
    assert "![Gantt chart](gantt.png)" in lines
    assert "![Memory occupancy](memory.png)" in lines
    assert "- Perfetto trace: [trace.json](trace.json)" in lines


def test_markdown_escapes_pipes_in_values(example: tuple[Problem, Schedule]) -> None:
    problem, schedule = example
    result = _result(schedule).model_copy(update={"message": "stopped | time limit"})
    text = summary_markdown(problem, schedule, result, images={})
    assert "| message | stopped \\| time limit |" in text.splitlines()
