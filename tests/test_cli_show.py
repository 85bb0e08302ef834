"""`cpsched show RUN_DIR`: the summary of a past run, from its files alone."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_solve import ALL_FILES, one_matmul_args
from typer.testing import CliRunner

from cpsched.cli import app


def _run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    r = CliRunner().invoke(app, [*one_matmul_args(tmp_path, out), "--quiet"])
    assert r.exit_code == 0, r.output
    return out


def test_show_prints_the_summary_of_a_run(tmp_path: Path) -> None:
    run = _run(tmp_path)
    r = CliRunner().invoke(app, ["show", str(run)])
    assert r.exit_code == 0, r.output
    # the hand-worked instance of test_cli_solve: 204 cycles, 2048 bytes in l1
    for row in ("status", "optimal", "204 cycles", "2,048 / 1,048,576 bytes", "utilization c0"):
        assert row in r.stdout
    assert "6,554 pJ (compute 4,506, transfer 2,048)" in r.stdout
    for name in ALL_FILES:
        assert f"file {run / name}" in r.stdout
    # the command that made it (run from tmp_path, so the workload path is relative to it)
    workload = tmp_path / "one_matmul.yaml"
    assert (
        f"made by: cpsched solve --workload {workload} --hardware single_core --tiles 1 --mode "
        "fused --allocation tile --objective latency,memory --time-limit 10 --workers 2 --seed 0"
    ) in r.stdout
    assert r.stderr == ""


def test_show_json(tmp_path: Path) -> None:
    run = _run(tmp_path)
    r = CliRunner().invoke(app, ["show", str(run), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["run_dir"] == str(run) and set(data["files"]) == ALL_FILES
    assert data["status"] == "optimal" and data["metrics"]["latency_cycles"] == 204
    assert data["result"]["parameters"]["build"]["hardware"] == "single_core"
    assert data["command"].startswith("cpsched solve --workload ")


def test_show_a_run_without_schedule(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "schedule.json").unlink()
    result = json.loads((run / "result.json").read_text())
    result.update(status="unknown", schedule=None, objective_value=None, bound=None, gap=None)
    (run / "result.json").write_text(json.dumps(result))
    r = CliRunner().invoke(app, ["show", str(run)])
    assert r.exit_code == 0, r.output
    rows = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert "unknown" in r.stdout and "latency" not in rows and "peak" not in rows


def test_show_refuses_what_is_not_a_run_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["show", str(tmp_path / "nowhere")])
    assert r.exit_code == 2
    assert r.stderr == (
        f"error: {tmp_path / 'nowhere'}: not a folder; expected a run folder of cpsched solve\n"
    )
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "result.json").write_text("{}")
    r = runner.invoke(app, ["show", str(tmp_path / "other")])
    assert r.exit_code == 2
    assert r.stderr == (
        f"error: {tmp_path / 'other'}: not a run folder: problem.json missing (a run folder of "
        "cpsched solve holds problem.json, schedule.json, result.json)\n"
    )
    # a damaged result file: the loader names the file and the field
    run = _run(tmp_path)
    (run / "result.json").write_text('{"format": "cpsched-result/1"}')
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {run / 'result.json'}: ")
    assert "method: missing required field" in r.stderr


def test_show_reads_a_run_folder_of_result_format_1(tmp_path: Path) -> None:
    # result.json became cpsched-result/2 (typed hint, interrupted, stages); a run folder
    # written before must still show, its hint and interrupt read from the old texts
    run = _run(tmp_path)
    result = json.loads((run / "result.json").read_text())
    old = {k: v for k, v in result.items() if k not in ("hint", "interrupted")}
    old["format"] = "cpsched-result/1"
    old["parameters"] = {**result["parameters"], "hint": "heuristic heft (not used by CP-SAT: x)"}
    (run / "result.json").write_text(json.dumps(old))
    r = CliRunner().invoke(app, ["show", str(run), "--json"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.stdout)["result"]
    assert shown["format"] == "cpsched-result/2" and shown["interrupted"] is False
    assert shown["hint"] == {
        "source": "heuristic",
        "method": "heft",
        "used": False,
        "why_not": "x",
        "kept": False,
    }
    assert "hint" not in shown["parameters"]
    assert CliRunner().invoke(app, ["show", str(run)]).exit_code == 0
