"""`cpsched validate` through typer's CliRunner: exit codes 0 / 1 / 2 and clear messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cpsched.cli import app
from cpsched.cli.common import EXIT_BAD_INPUT, EXIT_INVALID, EXIT_OK

EXAMPLES = Path(__file__).resolve().parent.parent / "models" / "problems"
BUNDLED = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".schedule.yaml"))

runner = CliRunner()

PROBLEM = """\
format: cpsched-problem/1
name: p
memories:
  - {id: dram, capacity_bytes: null}
  - {id: l1, capacity_bytes: 100}
cores:
  - {id: c0, memory: l1}
links:
  - {id: bus, bandwidth_bytes_per_cycle: 10}
routes:
  - {src: dram, dst: l1, links: [bus]}
tensors:
  - {id: x, size_bytes: 50, kind: input, home: dram}
tasks:
  - {id: A, inputs: [x], options: [{core: c0, duration_cycles: 5}]}
"""
# x dram->l1 takes ceil(50/10) = 5 cycles: [0, 5); A on c0 at 5 is valid, at 4 it is not.
SCHEDULE = """\
format: cpsched-schedule/1
problem: p
tasks:
  - {id: A, core: c0, start: START}
transfers:
  - {tensor: x, src: dram, dst: l1, start: 0}
"""


def invoke(*args: str) -> Result:
    """Run `cpsched validate ARGS`. While `validate` is the only command registered, typer runs
    it as the whole application, without the command name."""
    command = ["validate"] if len(app.registered_commands) > 1 else []
    return runner.invoke(app, [*command, *args])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("problem", BUNDLED, ids=lambda p: p.stem)
def test_bundled_examples_are_valid(problem: Path) -> None:
    schedule = problem.with_name(problem.stem + ".schedule.yaml")
    result = invoke(str(problem), str(schedule))
    assert result.exit_code == EXIT_OK, result.output
    assert "valid" in result.stdout and "latency" in result.stdout


def test_bundled_examples_exist() -> None:
    assert {p.stem for p in BUNDLED} >= {"two_cores_shared", "two_cores_private", "ft06"}


def test_ft06_schedule_is_optimal() -> None:
    result = invoke(str(EXAMPLES / "ft06.yaml"), str(EXAMPLES / "ft06.schedule.yaml"), "--json")
    assert json.loads(result.stdout)["metrics"]["latency_cycles"] == 55


def test_valid_schedule_json(tmp_path: Path) -> None:
    problem = write(tmp_path, "p.yaml", PROBLEM)
    schedule = write(tmp_path, "s.yaml", SCHEDULE.replace("START", "5"))
    result = invoke(str(problem), str(schedule), "--json")
    assert result.exit_code == EXIT_OK
    payload = json.loads(result.stdout)
    assert payload["valid"] is True and payload["violations"] == []
    assert payload["metrics"]["latency_cycles"] == 10  # A ends at 5 + 5
    assert payload["metrics"]["peak_memory"]["l1"]["peak_bytes"] == 50


def test_invalid_schedule_exits_1_and_lists_violations(tmp_path: Path) -> None:
    problem = write(tmp_path, "p.yaml", PROBLEM)
    schedule = write(tmp_path, "s.yaml", SCHEDULE.replace("START", "4"))
    result = invoke(str(problem), str(schedule))
    assert result.exit_code == EXIT_INVALID
    assert "inputs" in result.stdout and "only from cycle 5" in result.stdout

    result = invoke(str(problem), str(schedule), "--json")
    assert result.exit_code == EXIT_INVALID
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    (v,) = payload["violations"]
    assert (v["rule"], v["rule_name"], v["tasks"], v["times"]) == (4, "inputs", ["A"], [5, 4])


# --- malformed input: exit 2, one message naming the file, the field and the bad value --------

BAD_PROBLEMS = {
    "missing field": (PROBLEM.replace("name: p\n", ""), "name: missing required field"),
    "unknown field": (
        PROBLEM.replace("{id: c0, memory: l1}", "{id: c0, memory: l1, colour: red}"),
        "cores[0].colour: unknown field",
    ),
    "dangling reference": (
        PROBLEM.replace("inputs: [x]", "inputs: [nope]"),
        "tasks[0].inputs[0]: unknown tensor 'nope'",
    ),
    "negative size": (
        PROBLEM.replace("size_bytes: 50", "size_bytes: -1"),
        "tensors[0].size_bytes: Input should be greater than or equal to 0 (got -1)",
    ),
    "duplicate id": (
        PROBLEM.replace("  - {id: c0, memory: l1}\n", "  - {id: c0, memory: l1}\n" * 2),
        "cores[1].id: duplicate id 'c0'",
    ),
    "duplicate yaml key": (PROBLEM + "name: q\n", "duplicate key 'name'"),
    # issue 13: numbers the solvers cannot represent, and strings or booleans as numbers
    "duration too large for cp-sat": (
        PROBLEM.replace("duration_cycles: 5", "duration_cycles: 1000000000000000000000000000000"),
        "tasks[0].options[0].duration_cycles: Input should be less than or equal to "
        "1099511627776 (got 1000000000000000000000000000000)",
    ),
    "capacity too large for cp-sat": (
        PROBLEM.replace("capacity_bytes: 100", "capacity_bytes: 10000000000000000000"),
        "memories[1].capacity_bytes: Input should be less than or equal to 1099511627776",
    ),
    "duration as a string": (
        PROBLEM.replace("duration_cycles: 5", "duration_cycles: '5'"),
        "tasks[0].options[0].duration_cycles: Input should be a valid integer (got '5')",
    ),
    "size as a boolean": (
        PROBLEM.replace("size_bytes: 50", "size_bytes: true"),
        "tensors[0].size_bytes: Input should be a valid integer (got True)",
    ),
    "deeply nested": ("[" * 100_000, "not valid YAML: lists or mappings nested too deeply"),
    "wrong format": (
        PROBLEM.replace("cpsched-problem/1", "cpsched-problem/3"),
        "format: Input should be 'cpsched-problem/2' (got 'cpsched-problem/3')",
    ),
    "a format 2 field in a format 1 file": (
        PROBLEM.replace(
            "bandwidth_bytes_per_cycle: 10}", "bandwidth_bytes_per_cycle: 10, multicast: true}"
        ),
        "links[0].multicast: not part of cpsched-problem/1; write format: cpsched-problem/2 "
        "to use it",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PROBLEMS))
def test_malformed_problem(tmp_path: Path, case: str) -> None:
    text, expected = BAD_PROBLEMS[case]
    problem = write(tmp_path, "bad.yaml", text)
    schedule = write(tmp_path, "s.yaml", SCHEDULE.replace("START", "5"))
    result = invoke(str(problem), str(schedule))
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert str(problem) in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.output


BAD_SCHEDULES = {
    "missing start": (
        SCHEDULE.replace(", start: START", ""), "tasks[0].start: missing required field"
    ),
    "wrong format": (
        SCHEDULE.replace("cpsched-schedule/1", "cpsched-problem/1"),
        "format: Input should be 'cpsched-schedule/2'",
    ),
    "non-integer start": (SCHEDULE.replace("START", "1.5"), "tasks[0].start"),
    "repeated destination": (
        SCHEDULE.replace("cpsched-schedule/1", "cpsched-schedule/2").replace(
            "dst: l1", "dst: [l1, l1]"
        ),
        "transfers[0].dst: Value error, memory 'l1' appears twice; destinations must be distinct",
    ),
    "unknown field": (
        SCHEDULE.replace("problem: p", "problem: p\nowner: me"), "owner: unknown field"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_SCHEDULES))
def test_malformed_schedule(tmp_path: Path, case: str) -> None:
    text, expected = BAD_SCHEDULES[case]
    problem = write(tmp_path, "p.yaml", PROBLEM)
    schedule = write(tmp_path, "bad.yaml", text)
    result = invoke(str(problem), str(schedule))
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert str(schedule) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.output


def test_missing_file(tmp_path: Path) -> None:
    problem = write(tmp_path, "p.yaml", PROBLEM)
    result = invoke(str(problem), str(tmp_path / "absent.json"))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "absent.json: file not found" in result.stderr


def test_duplicate_json_key(tmp_path: Path) -> None:
    problem = write(tmp_path, "p.yaml", PROBLEM)
    schedule = write(tmp_path, "s.json", '{"problem": "p", "problem": "q"}')
    result = invoke(str(problem), str(schedule))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "duplicate key 'problem'" in result.stderr
