"""`cpsched pareto`: the files it writes, --json, and one clear line + exit 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_pareto import parallel_outputs
from typer.testing import CliRunner

from cpsched.check.validate import validate
from cpsched.cli import app
from cpsched.model.io import load_schedule, save_problem

runner = CliRunner()
FAST = ["--time-limit", "5", "--workers", "2", "--seed", "0"]


@pytest.fixture
def problems(tmp_path: Path) -> tuple[Path, Path]:
    fused, reference = tmp_path / "fused.json", tmp_path / "lbl.json"
    save_problem(parallel_outputs(3), fused)
    save_problem(parallel_outputs(3, name="sibling"), reference)
    return fused, reference


def test_writes_front_schedules_plot_and_a_table(problems: tuple[Path, Path], tmp_path: Path):
    fused, reference = problems
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["pareto", str(fused), "--layer-by-layer", str(reference), "--out", str(out), *FAST]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "front.json",
        "pareto.png",
        "reference-0.json",
        "reference-1.json",
        "schedule-0.json",
        "schedule-1.json",
        "schedule-2.json",
    ]
    front = json.loads((out / "front.json").read_text())
    assert front["format"] == "cpsched-pareto/1" and front["complete"] is True
    assert [(p["latency_cycles"], p["peak_bytes"]) for p in front["points"]] == [
        (10, 300),
        (20, 200),
        (30, 100),
    ]
    for point in front["points"]:
        assert validate(parallel_outputs(3), load_schedule(out / point["schedule"])) == []
    assert "Pareto front of parallel" in result.stdout
    assert "LbL min-memory" in result.stdout


def test_json_prints_the_front(problems: tuple[Path, Path], tmp_path: Path) -> None:
    fused, _ = problems
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["pareto", str(fused), "--json", "--memory", "activation", "--out", str(out), *FAST]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["memory"] == "activation" and data["metric"] == "activation-memory"
    assert [p["schedule"] for p in data["points"]] == [
        "schedule-0.json",
        "schedule-1.json",
        "schedule-2.json",
    ]
    assert data["references"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory", "weights"], "--memory: 'weights'; accepted: all, activation"),
        (["--points", "1"], "--points: 1; at least 2"),
        (["--layer-by-layer", "missing.json"], "missing.json"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(
    problems: tuple[Path, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    fused, _ = problems
    out = tmp_path / "out"
    result = runner.invoke(app, ["pareto", str(fused), "--out", str(out), *args, *FAST])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_problem_and_non_empty_out(problems: tuple[Path, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["pareto", str(tmp_path / "nope.json"), *FAST])
    assert result.exit_code == 2 and "nope.json" in result.stderr
    fused, _ = problems
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["pareto", str(fused), "--out", str(full), *FAST])
    assert result.exit_code == 2 and "pass --force" in result.stderr
    assert sorted(p.name for p in full.iterdir()) == ["keep.txt"]
    forced = runner.invoke(app, ["pareto", str(fused), "--out", str(full), "--force", *FAST])
    assert forced.exit_code == 0 and (full / "front.json").is_file()
