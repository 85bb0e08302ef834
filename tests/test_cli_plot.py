"""`cpsched plot` through typer's CliRunner: the four files, no silent overwrite, invalid input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from cpsched.cli import app
from cpsched.cli.common import EXIT_BAD_INPUT, EXIT_INVALID, EXIT_OK

EXAMPLES = Path(__file__).resolve().parent.parent / "models" / "problems"
PROBLEM = EXAMPLES / "two_cores_shared.yaml"
SCHEDULE = EXAMPLES / "two_cores_shared.schedule.yaml"
FILES = ["gantt.png", "memory.png", "summary.md", "trace.json"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


def plot(*args: str) -> Result:
    return runner.invoke(app, ["plot", *args])


def test_plot_writes_the_four_reports(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report"
    result = plot(str(PROBLEM), str(SCHEDULE), "--out", str(out))
    assert result.exit_code == EXIT_OK, result.output
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert (out / "gantt.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (out / "memory.png").read_bytes()[:8] == PNG_SIGNATURE
    trace = json.loads((out / "trace.json").read_text())
    assert len([e for e in trace["traceEvents"] if e["ph"] == "X"]) == 4 + 3  # tasks + transfers
    summary = (out / "summary.md").read_text()
    assert "| latency | 162 cycles |" in summary
    assert "![Gantt chart](gantt.png)" in summary
    assert "![Memory occupancy](memory.png)" in summary
    assert "162 cycles" in result.stdout
    for name in FILES:
        assert f"wrote {out / name}" in result.stdout


def test_plot_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "trace.json").write_text("mine")
    result = plot(str(PROBLEM), str(SCHEDULE), "--out", str(tmp_path))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "already holds trace.json; pass --force to replace it" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.json"]  # nothing written
    assert (tmp_path / "trace.json").read_text() == "mine"

    forced = plot(str(PROBLEM), str(SCHEDULE), "--out", str(tmp_path), "--force")
    assert forced.exit_code == EXIT_OK, forced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == FILES
    assert json.loads((tmp_path / "trace.json").read_text())["otherData"]["latency_cycles"] == 162


def test_plot_rejects_an_invalid_schedule(tmp_path: Path) -> None:
    # A at cycle 0 starts before x (in l1 from 36) and w (from 104): two violations of rule 4.
    text = SCHEDULE.read_text().replace(
        "{id: A, core: c0, start: 104}", "{id: A, core: c0, start: 0}"
    )
    assert text != SCHEDULE.read_text()
    bad = tmp_path / "bad.schedule.yaml"
    bad.write_text(text)
    out = tmp_path / "out"
    result = plot(str(PROBLEM), str(bad), "--out", str(out))
    assert result.exit_code == EXIT_INVALID
    assert "invalid schedule (2 violations of docs/validity.md)" in result.stderr
    assert f"run 'cpsched validate {PROBLEM} {bad}'" in result.stderr
    assert not out.exists()


def test_plot_reports_an_unreadable_file_in_one_line(tmp_path: Path) -> None:
    result = plot(str(tmp_path / "missing.yaml"), str(SCHEDULE), "--out", str(tmp_path))
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.yaml'}: file not found"


def test_plot_out_must_be_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("")
    result = plot(str(PROBLEM), str(SCHEDULE), "--out", str(target))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "is a file, expected a folder" in result.stderr
