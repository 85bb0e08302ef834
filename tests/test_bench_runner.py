"""The `cpsched bench` runner: files, header, records, interrupts and the CLI (with a tiny suite
registered for the test, so nothing here solves anything big)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpsched.bench import suites
from cpsched.bench.runner import (
    BenchConfig,
    Case,
    Record,
    SuiteDef,
    load_records,
    machine_info,
    record_from_result,
    record_from_schedule,
    render_suite,
    run_suite,
)
from cpsched.check.metrics import metrics
from cpsched.cli import app
from cpsched.cpsat import SolverParams, solve
from cpsched.model.io import load_problem, load_schedule

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _record(i: int) -> Record:
    return Record(
        instance=f"toy {i}",
        method="toy",
        objective="latency",
        status="optimal",
        objective_value=float(i),
        latency_cycles=i,
        peak_memory_bytes={"l1": 10 * i},
        peak_bytes_by_kind={"l1": {"activation": 10 * i}},
        params={"i": i, "name": "x", "ok": True, "none": None},
        extra={"ratio": i / 4},
    )


def _interrupt_at_case_two(how: str) -> Case:
    def run() -> list[Record]:
        if how == "raise":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGINT)  # like Ctrl-C on the terminal
        time.sleep(30)  # interrupted at once by the runner's handler
        return [_record(99)]

    return Case("case 2", run)


def _toy_suite(name: str, interrupt: str | None = None) -> SuiteDef:
    def cases(config: BenchConfig) -> list[Case]:
        found = [Case("case 1", lambda: [_record(1), _record(2)])]
        if interrupt is not None:
            found.append(_interrupt_at_case_two(interrupt))
        found.append(Case("case 3", lambda: [_record(3)]))
        return found

    def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
        return f"## Toy body\n\n{len(records)} records, quick={config.quick}"

    return SuiteDef(name, "Toy suite title", "What the toy suite measures.", cases, report)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(suites.SUITES, "toy", _toy_suite("toy"))
    monkeypatch.setitem(suites.SUITES, "toy-raise", _toy_suite("toy-raise", "raise"))
    monkeypatch.setitem(suites.SUITES, "toy-sigint", _toy_suite("toy-sigint", "signal"))


def test_run_suite_writes_json_and_md_that_round_trip(toy: None, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    config = BenchConfig(suite="toy", quick=True, seed=3)
    path = run_suite(
        config, tmp_path / "out", "cpsched bench --suite toy", lambda *a: seen.append(a)
    )
    assert path == tmp_path / "out" / "toy.json"
    assert seen == [(1, 2, "case 1"), (2, 2, "case 3")]
    document, records = load_records(path)
    assert records == [_record(1), _record(2), _record(3)]
    assert document["suite"] == "toy" and document["title"] == "Toy suite title"
    assert document["command"] == "cpsched bench --suite toy"
    assert document["interrupted"] is False
    assert BenchConfig.model_validate(document["config"]) == config
    assert document["machine"]["cores"] >= 1 and document["machine"]["cpu_model"]
    assert {"cpsched", "ortools", "python", "numpy", "pydantic"} <= set(document["versions"])
    assert document["date"].endswith("+00:00")  # UTC
    md = (tmp_path / "out" / "toy.md").read_text()
    assert md.startswith("# Toy suite title\n\nWhat the toy suite measures.\n")
    for field in (
        "- Command: `cpsched bench --suite toy`",
        "- Date: ",
        "- Machine: ",
        "- Versions: ",
    ):
        assert field in md
    assert "ortools " in md and "cores" in md
    assert md.rstrip().endswith("## Toy body\n\n3 records, quick=True")
    # written by rename: no temporary file is left next to them
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["toy.json", "toy.md"]


def test_ctrl_c_raised_in_a_case_keeps_the_finished_cases(toy: None, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_suite(BenchConfig(suite="toy-raise"), tmp_path, "test")
    document, records = load_records(tmp_path / "toy-raise.json")
    assert document["interrupted"] is True
    assert records == [_record(1), _record(2)]  # case 2 broke off, case 3 never ran
    md = (tmp_path / "toy-raise.md").read_text()
    assert "**Interrupted**" in md and "2 records" in md


def test_sigint_stops_the_running_case_and_drops_its_records(toy: None, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_suite(BenchConfig(suite="toy-sigint"), tmp_path, "test")
    document, records = load_records(tmp_path / "toy-sigint.json")
    assert document["interrupted"] is True
    assert [r.instance for r in records] == ["toy 1", "toy 2"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_record_from_result_measures_the_schedule() -> None:
    problem = load_problem(ROOT / "models/problems/two_cores_private.yaml")
    result = solve(problem, "latency", SolverParams(time_limit_s=5, num_workers=2, seed=0))
    assert result.schedule is not None
    m = metrics(problem, result.schedule)
    record = record_from_result("two cores", problem, result, {"n": 1}, {"note": "x"})
    assert record.method == "cpsat" and record.status == result.status == "optimal"
    assert record.objective == "latency" and record.objective_value == m.latency_cycles
    assert record.latency_cycles == m.latency_cycles and record.gap == 0.0
    assert record.energy_total_pj == m.energy_total_pj
    assert record.peak_memory_bytes == {k: v.peak_bytes for k, v in m.peak_memory.items()}
    assert record.num_tasks == len(problem.tasks) and record.num_variables
    assert record.params == {"n": 1} and record.extra == {"note": "x"}

    given = load_schedule(ROOT / "models/problems/two_cores_private.schedule.yaml")
    plain = record_from_schedule("two cores", problem, "given", given, 0.5)
    assert plain.status == "heuristic" and plain.objective is None
    assert plain.latency_cycles == metrics(problem, given).latency_cycles
    assert plain.wall_time_s == 0.5


def test_machine_info_reads_cores_cpu_and_memory() -> None:
    info = machine_info()
    assert isinstance(info["cores"], int) and info["cores"] >= 1
    assert isinstance(info["cpu_model"], str) and info["cpu_model"]
    memory = info["memory_gib"]
    assert memory is None or (isinstance(memory, float) and memory > 0)


def test_cli_unknown_suite_exits_2_listing_the_suites() -> None:
    result = runner.invoke(app, ["bench", "--suite", "nope"])
    assert result.exit_code == 2
    assert "unknown suite 'nope'" in result.output
    assert "fusion-memory" in result.output and "models" in result.output


def test_cli_runs_a_suite_and_prints_files_and_table(toy: None, tmp_path: Path) -> None:
    out = tmp_path / "res"
    result = runner.invoke(app, ["bench", "--suite", "toy", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'toy.json'}" in result.output
    assert f"wrote {out / 'toy.md'}" in result.output
    assert "toy: 3 records" in result.output
    document = json.loads((out / "toy.json").read_text())
    # the command in the header repeats the run
    assert document["command"] == f"cpsched bench --suite toy --quick --workers 2 --out {out}"


def test_cli_interrupted_run_exits_130_with_the_finished_records(toy: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "--suite", "toy-raise", "--out", str(tmp_path)])
    assert result.exit_code == 130
    assert "toy-raise: 2 records" in result.output
    assert "interrupted" in result.output


def test_cli_lists_the_suites() -> None:
    result = runner.invoke(app, ["bench", "--list"])
    assert result.exit_code == 0
    for name in ("fusion-memory", "models", "pareto", "scaling", "heuristics", "milp"):
        assert name in result.output


def test_render_suite_writes_the_same_md_from_the_json(toy: None, tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="toy"), tmp_path, "cpsched bench --suite toy")
    written = (tmp_path / "toy.md").read_text()
    (tmp_path / "toy.md").unlink()
    assert render_suite(path) == tmp_path / "toy.md"
    assert (tmp_path / "toy.md").read_text() == written


def test_a_cpsat_record_that_kept_its_hint_is_still_cpsats() -> None:
    """The pipeline names the hint's heuristic as a kept hint's method; the heuristics suite
    then lost CP-SAT's record on bert_base@mesh4x4 and reported 'never worse' violated."""
    from cpsched.model.io import load_problem
    from cpsched.model.result import HintInfo, SolveResult

    problem = load_problem(ROOT / "models" / "problems" / "two_cores_shared.yaml")
    kept = SolveResult(
        method="heft",
        status="feasible",
        objective="latency",
        hint=HintInfo(source="heuristic", method="heft", used=False, kept=True),
    )
    assert record_from_result("x", problem, kept).method == "cpsat"
    plain = kept.model_copy(update={"hint": None})
    assert record_from_result("x", problem, plain).method == "heft"
