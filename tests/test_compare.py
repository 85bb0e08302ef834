"""compare(): heuristics vs CP-SAT vs given schedules, re-timing and the gap split; its CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples
from typer.testing import CliRunner

from cpsched.analysis.compare import CompareParams, CompareReport, compare, cores_and_order, retime
from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cli import app
from cpsched.cpsat import SolverParams
from cpsched.heuristics import run_heuristic, run_heuristics
from cpsched.heuristics.synthetic import random_problem
from cpsched.model.io import dump_model, load_schedule, save_problem, save_schedule
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule

FAST = CompareParams(time_limit_s=10, retime_time_limit_s=10, num_workers=2, seed=0)


def problem(**fields: Any) -> Problem:
    """Two cores c0/c1 on private unbounded memories m0/m1 joined by a 1 B/cycle bus."""
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "case",
        "memories": [{"id": "m0", "capacity_bytes": None}, {"id": "m1", "capacity_bytes": None}],
        "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
        "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 1}],
        "routes": [
            {"src": "m0", "dst": "m1", "links": ["bus"]},
            {"src": "m1", "dst": "m0", "links": ["bus"]},
        ],
    }
    data.update(fields)
    return Problem.model_validate(data)


def only(core: str, duration: int) -> list[dict[str, Any]]:
    return [{"core": core, "duration_cycles": duration}]


# A (c0, 10) writes a (5 bytes) for B (c1, 10); C (c1, 5) is independent and placed last.
GAP = problem(
    tensors=[{"id": "a", "size_bytes": 5, "kind": "activation", "producer": "A"}],
    tasks=[
        {"id": "A", "layer": "LA", "outputs": ["a"], "options": only("c0", 10)},
        {"id": "B", "layer": "LB", "inputs": ["a"], "options": only("c1", 10)},
        {"id": "C", "layer": "LC", "options": only("c1", 5)},
    ],
)

# A is 1 cycle faster on c1, but its 20-byte output must reach B, which only runs on c0.
MYOPIC = problem(
    tensors=[{"id": "a", "size_bytes": 20, "kind": "activation", "producer": "A"}],
    tasks=[
        {
            "id": "A",
            "layer": "LA",
            "outputs": ["a"],
            "options": [
                {"core": "c0", "duration_cycles": 11},
                {"core": "c1", "duration_cycles": 10},
            ],
        },
        {"id": "B", "layer": "LB", "inputs": ["a"], "options": only("c0", 10)},
    ],
)


def row(report: CompareReport, method: str) -> Any:
    return next(r for r in report.rows if r.method == method)


def split(report: CompareReport, method: str) -> Any:
    return next(s for s in report.splits if s.method == method)


def test_gap_from_order_on_a_core() -> None:
    # Depth-first: A [0,10) c0, a [10,15), B [15,25) c1, C [25,30) c1 -> 30. Keeping the cores and
    # the order B, C on c1 cannot do better (30); freeing the order puts C first, [0,5) -> 25,
    # the optimum. So its 5 cycles come from the order, none from timing or allocation.
    report = compare(GAP, {}, FAST)
    assert report.optimum == 25
    assert report.best_bound == 25
    assert row(report, "cpsat").status == "optimal"
    depth = row(report, "list-depth-first")
    assert (depth.valid, depth.latency_cycles) == (True, 30)
    assert depth.gap_to_bound == (30 - 25) / 30  # docs/results.md relative gap
    assert depth.over_optimum == 30 / 25 - 1
    s = split(report, "list-depth-first")
    assert (s.latency_cycles, s.retimed_order_kept_cycles, s.retimed_cores_kept_cycles) == (
        30,
        30,
        25,
    )
    assert (s.from_timing_cycles, s.from_order_cycles, s.from_allocation_cycles) == (0, 5, 0)
    assert s.exact
    h = split(report, "heft")
    assert (h.latency_cycles, h.from_timing_cycles, h.from_order_cycles) == (25, 0, 0)
    assert {r.method for r in report.rows if r.source == "retimed"} >= {
        "heft re-timed (cores kept)",
        "heft re-timed (cores+order kept)",
    }


def test_gap_from_allocation() -> None:
    # Every heuristic puts A on c1: A [0,10), a [10,30), B [30,40) -> 40. With A on c1 nothing
    # better exists (re-timings: 40); the optimum puts A on c0: 11 + 10 = 21. All 19 cycles
    # come from the allocation.
    report = compare(MYOPIC, {}, FAST)
    assert report.optimum == 21
    for name in ("list-depth-first", "list-breadth-first", "heft", "layer-by-layer"):
        s = split(report, name)
        assert (s.latency_cycles, s.retimed_order_kept_cycles, s.retimed_cores_kept_cycles) == (
            40,
            40,
            40,
        )
        assert (s.from_timing_cycles, s.from_order_cycles, s.from_allocation_cycles) == (0, 0, 19)


def test_gap_from_timing() -> None:
    # A given schedule with idle time it does not need: A [0,10) c0, a [10,15), B [20,30) c1
    # (5 idle cycles), C [30,35) c1 -> 35. Order kept: B [15,25), C [25,30) -> 30 (5 cycles from
    # timing); order free: C first -> 25 (5 cycles from the order).
    late = Schedule.model_validate(
        {
            "problem": "case",
            "tasks": [
                {"id": "A", "core": "c0", "start": 0},
                {"id": "B", "core": "c1", "start": 20},
                {"id": "C", "core": "c1", "start": 30},
            ],
            "transfers": [{"tensor": "a", "src": "m0", "dst": "m1", "start": 10}],
        }
    )
    assert validate(GAP, late) == []
    report = compare(GAP, {"late": late}, FAST.model_copy(update={"heuristics": ()}))
    assert [r.method for r in report.rows if r.source != "retimed"] == ["late", "cpsat"]
    s = split(report, "late")
    assert (s.latency_cycles, s.retimed_order_kept_cycles, s.retimed_cores_kept_cycles) == (
        35,
        30,
        25,
    )
    assert (s.from_timing_cycles, s.from_order_cycles, s.from_allocation_cycles) == (5, 5, 0)


def test_invalid_given_schedule_is_reported_not_retimed() -> None:
    # B starts at 0 on c1 before a exists (rule 4), and C overlaps it on c1 (rule 2).
    broken = Schedule.model_validate(
        {
            "problem": "case",
            "tasks": [
                {"id": "A", "core": "c0", "start": 0},
                {"id": "B", "core": "c1", "start": 0},
                {"id": "C", "core": "c1", "start": 0},
            ],
        }
    )
    report = compare(GAP, {"broken": broken}, FAST.model_copy(update={"heuristics": ("heft",)}))
    r = row(report, "broken")
    assert r.valid is False
    assert r.violations == len(validate(GAP, broken))
    assert r.violations >= 2
    assert r.gap_to_bound is None and r.over_optimum is None
    assert [s.method for s in report.splits] == ["heft"]


def test_without_cpsat_there_is_no_bound() -> None:
    report = compare(GAP, {}, FAST.model_copy(update={"cpsat": False, "retime": False}))
    assert report.best_bound is None and report.optimum is None
    assert report.splits == []
    assert all(r.gap_to_bound is None for r in report.rows)
    assert {r.method for r in report.rows} == {
        "list-depth-first",
        "list-breadth-first",
        "heft",
        "layer-by-layer",
    }


@st.composite
def small_problems(draw: st.DrawFn) -> Problem:
    return random_problem(
        draw(st.integers(0, 10_000)),
        n_cores=draw(st.integers(1, 3)),
        n_layers=draw(st.integers(1, 3)),
        tiles=draw(st.integers(1, 3)),
        bounded_memory=draw(st.booleans()),
    )


@settings(max_examples=examples(15), deadline=None, derandomize=True)
@given(small_problems(), st.booleans(), st.sampled_from([0.05, 5.0]))
def test_retiming_is_never_worse_than_the_schedule_given(
    p: Problem, keep_order: bool, limit_s: float
) -> None:
    params = SolverParams(time_limit_s=limit_s, num_workers=2, seed=0)
    for result in run_heuristics(p).values():
        if result.schedule is None:
            continue
        retimed = retime(p, result.schedule, keep_order=keep_order, params=params)
        assert retimed.schedule is not None
        assert validate(p, retimed.schedule) == []
        before = metrics(p, result.schedule).latency_cycles
        assert metrics(p, retimed.schedule).latency_cycles <= before
        cores, order = cores_and_order(result.schedule)
        new_cores, new_order = cores_and_order(retimed.schedule)
        assert new_cores == cores
        if keep_order:
            assert new_order == order


def test_cores_and_order() -> None:
    s = run_heuristic(GAP, "list-depth-first").schedule
    assert s is not None
    assert cores_and_order(s) == (
        {"A": "c0", "B": "c1", "C": "c1"},
        {"c0": ["A"], "c1": ["B", "C"]},
    )


# --- CLI ---

runner = CliRunner()


def write_problem(tmp_path: Path, p: Problem) -> Path:
    path = tmp_path / "problem.json"
    save_problem(p, path)
    return path


def test_cli_json_report(tmp_path: Path) -> None:
    path = write_problem(tmp_path, GAP)
    out = tmp_path / "report.json"
    result = runner.invoke(
        app, ["compare", str(path), "--time-limit", "10", "--json", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = CompareReport.model_validate_json(result.stdout)
    assert report.optimum == 25
    assert json.loads(out.read_text()) == json.loads(dump_model(report))


def test_cli_saves_every_schedule(tmp_path: Path) -> None:
    path = write_problem(tmp_path, GAP)
    folder = tmp_path / "schedules"
    result = runner.invoke(
        app, ["compare", str(path), "--heuristic", "heft", "--save-schedules", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(f.name for f in folder.iterdir()) == [
        "cpsat.schedule.json",
        "heft.retimed-cores-order.schedule.json",
        "heft.retimed-cores.schedule.json",
        "heft.schedule.json",
    ]
    for f in folder.iterdir():
        assert validate(GAP, load_schedule(f)) == []


def test_cli_table_and_outside_schedule(tmp_path: Path) -> None:
    # An outside tool's schedule: the docs/schedule.md format, written by hand.
    path = write_problem(tmp_path, GAP)
    outside = tmp_path / "outside.yaml"
    outside.write_text(
        "format: cpsched-schedule/1\n"
        "problem: case\n"
        "tasks:\n"
        "  - {id: A, core: c0, start: 0}\n"
        "  - {id: C, core: c1, start: 0}\n"
        "  - {id: B, core: c1, start: 15}\n"
        "transfers:\n"
        "  - {tensor: a, src: m0, dst: m1, start: 10}\n"
    )
    result = runner.invoke(app, ["compare", str(path), "-s", str(outside), "--time-limit", "10"])
    assert result.exit_code == 0, result.output
    assert "outside.yaml" in result.stdout
    assert "optimum (proven by CP-SAT): 25 cycles" in result.stdout
    assert "where the gap to the optimum comes from" in result.stdout


def test_cli_invalid_schedule_exits_1(tmp_path: Path) -> None:
    path = write_problem(tmp_path, GAP)
    bad = tmp_path / "bad.json"
    # A on c1, where it has no option; B and C missing.
    save_schedule(
        Schedule.model_validate(
            {"problem": "case", "tasks": [{"id": "A", "core": "c1", "start": 0}]}
        ),
        bad,
    )
    result = runner.invoke(app, ["compare", str(path), "-s", str(bad), "--no-cpsat", "--no-retime"])
    assert result.exit_code == 1
    assert "INVALID" in result.stdout


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    path = write_problem(tmp_path, GAP)
    result = runner.invoke(app, ["compare", str(path), "--heuristic", "nope"])
    assert result.exit_code == 2
    assert "unknown heuristic 'nope'" in result.stderr
    result = runner.invoke(app, ["compare", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr
    result = runner.invoke(app, ["compare", str(path), "-s", str(path)])
    assert result.exit_code == 2
    assert "problem" in result.stderr  # a problem file is not a schedule
