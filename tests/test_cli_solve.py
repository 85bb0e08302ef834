"""`cpsched solve`: the default job, its seven outputs, --json/--quiet/--out/--force, Ctrl-C and
the exit codes of infeasible and unfinished solves."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cpsched.pipeline
from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cli import app
from cpsched.cli.progress import LiveLine
from cpsched.cpsat.params import Progress
from cpsched.model.io import load_problem, load_schedule
from cpsched.model.result import SolveResult

ALL_FILES = {
    "problem.json",
    "schedule.json",
    "result.json",
    "gantt.png",
    "memory.png",
    "trace.json",
    "summary.md",
}

# One 16x32 by 32x32 matmul (8-bit). On single_core (32x32 array, l1 128 B/cycle, one DRAM link of
# 16 B/cycle and 20 cycles latency, 1 pJ/B) with one tile:
#   transfers: X 512 B -> 512/16 + 20 = 52, W 1024 B -> 64 + 20 = 84, Y 512 B back -> 52 cycles;
#              they share the one link, so they run one after another
#   compute:   k and n (32 each) fill the array: 16*32*32 MACs / 1024 = 16 cycles
#              (reads 1536 B / 128 = 12, writes 512 / 128 = 4: compute bound)
#   latency = 52 + 84 + 16 + 52 = 204 cycles; nothing can overlap (one link, one task)
#   peak l1 = X + W + Y = 512 + 1024 + 512 = 2048 bytes while Y runs (the memory optimum too)
#   energy: compute 16384 MACs * 0.2 + (1536 + 512) B * 0.6 = 3276.8 + 1228.8 = 4505.6 pJ,
#           transfers 2048 B * 1 pJ/B = 2048 pJ
ONE_MATMUL_YAML = """\
name: one_matmul
description: Y = X W, one layer
params:
  M: {default: 16, doc: tokens}
tensors:
  X: {kind: input, shape: [M, 32], bits: 8}
  W: {kind: weight, shape: [32, 32], bits: 8}
layers:
  - name: Y
    op: matmul
    loops: {m: M, k: 32, n: 32}
    token_dim: m
    inputs: [{tensor: X, dims: [m, k]}, {tensor: W, dims: [k, n]}]
    output: {dims: [m, n], bits: 8}
"""

FORK_YAML = """\
name: fork
description: two projections of X joined by an add
params:
  M: {default: 16, doc: tokens}
tensors:
  X: {kind: input, shape: [M, 32], bits: 8}
  W1: {kind: weight, shape: [32, 32], bits: 8}
  W2: {kind: weight, shape: [32, 32], bits: 8}
layers:
  - name: A
    op: matmul
    loops: {m: M, k: 32, n: 32}
    token_dim: m
    inputs: [{tensor: X, dims: [m, k]}, {tensor: W1, dims: [k, n]}]
    output: {dims: [m, n], bits: 8}
  - name: B
    op: matmul
    loops: {m: M, k: 32, n: 32}
    token_dim: m
    inputs: [{tensor: X, dims: [m, k]}, {tensor: W2, dims: [k, n]}]
    output: {dims: [m, n], bits: 8}
  - name: C
    op: add
    loops: {m: M, n: 32}
    token_dim: m
    inputs: [{tensor: A, dims: [m, n]}, {tensor: B, dims: [m, n]}]
    output: {dims: [m, n], bits: 8}
"""

FAST = ["--time-limit", "10", "--workers", "2", "--seed", "0"]


def one_matmul(tmp_path: Path) -> Path:
    """The one-matmul workload file, written into tmp_path."""
    path = tmp_path / "one_matmul.yaml"
    path.write_text(ONE_MATMUL_YAML)
    return path


def one_matmul_args(tmp_path: Path, out: Path) -> list[str]:
    """`cpsched solve` arguments for the hand-worked instance, into `out`."""
    return [
        "solve",
        "--workload",
        str(one_matmul(tmp_path)),
        "--hardware",
        "single_core",
        "--tiles",
        "1",
        "--out",
        str(out),
        *FAST,
    ]


def test_default_solve_writes_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["solve"])
    assert r.exit_code == 0, r.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("attention_head-quad_bus-")
    run = runs[0]
    assert {p.name for p in run.iterdir()} == ALL_FILES
    problem = load_problem(run / "problem.json")
    schedule = load_schedule(run / "schedule.json")
    assert validate(problem, schedule) == []
    result = json.loads((run / "result.json").read_text())
    assert result["format"] == "cpsched-result/2" and result["method"] == "cpsat"
    # proven optimum of the bundled default (T=2, fused): latency first, then the peak memory;
    # with multicast (weights broadcast over the DRAM port and bus) 31,472, unicast 32,176
    assert result["status"] == "optimal" and result["objective"] == "latency,memory"
    assert result["objective_value"] == 31472 and result["gap"] == 0.0
    assert [s["value"] for s in result["stages"]] == [31472, 81920]
    assert any(x.multicast for x in schedule.transfers)
    params = result["parameters"]
    assert params["num_workers"] == 2 and params["seed"] == 0 and params["time_limit_s"] == 30
    assert result["hint"]["source"] == "heuristic" and result["hint"]["used"]
    assert params["build"] == {
        "workload": "attention_head",
        "overrides": {},
        "hardware": "quad_bus",
        "hardware_overrides": {},
        "tiles": 2,
        "head_tiles": 1,
        "split": [],
        "mode": "fused",
        "allocation": "tile",
        "costs": None,
        "precision": None,  # --bits, for ONNX workloads
    }
    assert set(result["versions"]) >= {"cpsched", "ortools"}
    # the trace is Chrome trace JSON
    trace = json.loads((run / "trace.json").read_text())
    assert trace["traceEvents"] and all(
        {"ph", "pid", "tid"} <= set(e) for e in trace["traceEvents"]
    )
    assert all("ts" in e for e in trace["traceEvents"] if e["ph"] == "X")
    assert (run / "gantt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the terminal: phases and progress on stderr, the summary and the paths on stdout
    assert "heuristics" in r.stderr and "[latency] incumbent" in r.stderr
    for row in ("status", "optimal", "latency", "31,472 cycles", "peak l1_0", "utilization c0"):
        assert row in r.stdout
    assert f"wrote {run.relative_to(tmp_path) / 'summary.md'}" in r.stdout


def test_hand_worked_instance_as_json(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = CliRunner().invoke(app, [*one_matmul_args(tmp_path, out), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # stdout holds the JSON and nothing else
    assert data["status"] == "optimal" and data["interrupted"] is False
    assert data["run_dir"] == str(out) and set(data["files"]) == ALL_FILES
    m = data["metrics"]
    assert m["latency_cycles"] == 204
    assert m["energy_compute_pj"] == pytest.approx(4505.6)
    assert m["energy_transfer_pj"] == pytest.approx(2048.0)
    assert m["peak_memory"]["l1"]["peak_bytes"] == 2048
    assert data["result"]["objective_value"] == 204
    assert [s["value"] for s in data["result"]["stages"]] == [204, 2048]
    assert "│" not in r.stdout and "status " not in r.stdout  # no table


def test_quiet_prints_only_the_summary(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, [*one_matmul_args(tmp_path, tmp_path / "run"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert (
        "204 cycles" in r.stdout
        and "6,554 pJ (compute 4,506, transfer 2,048)" in r.stdout
        and "wrote" in r.stdout
    )


def test_existing_out_is_refused_before_any_work_and_force_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    runner = CliRunner()
    r = runner.invoke(app, one_matmul_args(tmp_path, out))
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --out:") and "not empty" in r.stderr
    assert "--force" in r.stderr
    assert r.stderr.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    r = runner.invoke(app, [*one_matmul_args(tmp_path, out), "--force"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == ALL_FILES | {"notes.txt"}
    # an empty folder needs no --force; a file is never a run folder
    (tmp_path / "empty").mkdir()
    assert runner.invoke(app, one_matmul_args(tmp_path, tmp_path / "empty")).exit_code == 0
    r = runner.invoke(app, [*one_matmul_args(tmp_path, out / "notes.txt"), "--force"])
    assert r.exit_code == 2 and "is a file, expected a folder" in r.stderr


def _fork_on_a_small_core(tmp_path: Path) -> tuple[Path, Path]:
    workload = tmp_path / "fork.yaml"
    workload.write_text(FORK_YAML)
    hardware = tmp_path / "small_core.yaml"
    source = Path(cpsched.pipeline.__file__).parents[1] / "models" / "hardware" / "single_core.yaml"
    hardware.write_text(source.read_text().replace("1048576", "2048"))
    return workload, hardware


def test_empty_search_space_exits_4_and_says_what_it_proves(tmp_path: Path) -> None:
    # A and B both read X; C adds their outputs. One core, l1 of 2048 bytes: each task fits
    # alone (A: X 512 + W1 1024 + A 512 = 2048), but whichever of A, B runs second also holds
    # the first one's output until C ends: 2560 > 2048 bytes, unless that output is spilled to
    # dram and reloaded. Without spill (--no-spill) CP-SAT proves its space empty, which is no
    # proof that the problem is infeasible (it once said so): exit 4, not 3.
    workload, hardware = _fork_on_a_small_core(tmp_path)
    problem = tmp_path / "fork.json"
    build = ["build", "-w", str(workload), "--hardware", str(hardware), "-T", "1"]
    assert CliRunner().invoke(app, [*build, "-o", str(problem)]).exit_code == 0
    out = tmp_path / "run"
    common = ("solve-problem", str(problem), "--no-spill", "--no-heuristic-hint", *FAST)
    r = CliRunner().invoke(app, [*common, "--out", str(out)])
    assert r.exit_code == 4, r.output
    assert "CP-SAT proved that its search space holds no schedule" in r.output
    assert {p.name for p in out.iterdir()} == {"result.json"}
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "unknown" and result["parameters"]["spill"] is False


def test_cp_sat_spills_and_reloads_what_does_not_fit(tmp_path: Path) -> None:
    # The fork above with spill (the default), no heuristic hint: CP-SAT's own optimum, 424
    # cycles with one output spilled to dram and reloaded (worked out in
    # tests/test_cpsat_staging.py), proven.
    workload, hardware = _fork_on_a_small_core(tmp_path)
    out = tmp_path / "run"
    common = ("solve", "-w", str(workload), "--hardware", str(hardware), "-T", "1")
    r = CliRunner().invoke(app, [*common, "--no-heuristic-hint", "--out", str(out), *FAST])
    assert r.exit_code == 0, r.output
    result = json.loads((out / "result.json").read_text())
    assert (result["status"], result["method"], result["objective_value"]) == (
        "optimal",
        "cpsat",
        424.0,
    )
    problem = load_problem(out / "problem.json")
    m = metrics(problem, load_schedule(out / "schedule.json"))
    assert m.spilled_bytes == 512 and m.reloaded_bytes == 512


def test_a_spilling_heuristic_schedule_is_a_hint_cp_sat_can_use(tmp_path: Path) -> None:
    # The fork above with the heuristics: they spill the first output to dram and reload it for
    # C (once), which CP-SAT's space holds: the hint is used, and CP-SAT proves it optimal.
    workload, hardware = _fork_on_a_small_core(tmp_path)
    out = tmp_path / "run"
    common = ("solve", "-w", str(workload), "--hardware", str(hardware), "-T", "1")
    r = CliRunner().invoke(app, [*common, "--out", str(out), *FAST])
    assert r.exit_code == 0, r.output
    problem = load_problem(out / "problem.json")
    schedule = load_schedule(out / "schedule.json")
    assert validate(problem, schedule) == []
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "optimal" and result["objective_value"] == 424.0
    assert result["hint"]["source"] == "heuristic" and result["hint"]["used"]
    m = metrics(problem, schedule)
    assert m.spilled_bytes == 512 and m.reloaded_bytes == 512  # one output out and back


class _CtrlCAtFirstSchedule(LiveLine):
    """The progress display, pressing Ctrl-C as soon as the first schedule is reported."""

    def __call__(self, p: Progress) -> None:
        super().__call__(p)
        if p.solutions >= 1 and not getattr(self, "sent", False):
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_during_the_solve_writes_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # T=4 is far from proven within the limit (gap ~14 % after a minute), so the search is still
    # running when the interrupt arrives
    monkeypatch.setattr("cpsched.cli.solve.LiveLine", _CtrlCAtFirstSchedule)
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app, ["solve", "--tiles", "4", "--time-limit", "60", "--workers", "2", "--out", str(out)]
    )
    assert r.exit_code == 130, r.output  # interrupted, with every output written
    assert "interrupted: search stopped" in r.stderr and "not proven optimal" in r.stderr
    assert {p.name for p in out.iterdir()} == ALL_FILES
    result = SolveResult.model_validate_json((out / "result.json").read_text())
    assert result.status == "feasible" and result.interrupted
    assert result.schedule is not None
    assert validate(load_problem(out / "problem.json"), result.schedule) == []


def test_ctrl_c_before_any_schedule_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cpsched.pipeline, "run_heuristics", interrupted)
    out = tmp_path / "run"
    r = CliRunner().invoke(app, one_matmul_args(tmp_path, out))
    assert r.exit_code == 130, r.output
    assert "interrupted: stopped before any schedule was found" in r.stderr
    assert {p.name for p in out.iterdir()} == {"problem.json", "result.json"}
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "unknown" and result["schedule"] is None
    assert result["parameters"]["build"]["hardware"] == "single_core"

    # while building there is nothing to keep: nothing is written
    monkeypatch.setattr(cpsched.pipeline, "build_job", interrupted)
    out = tmp_path / "early"
    r = CliRunner().invoke(app, one_matmul_args(tmp_path, out))
    assert r.exit_code == 130
    assert r.stderr == "error: interrupted before the problem was built; nothing written\n"
    assert not out.exists()


def test_ctrl_c_before_cp_sat_has_a_schedule_keeps_the_heuristic_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cpsched.cpsat.solver.solve", interrupted)
    out = tmp_path / "run"
    r = CliRunner().invoke(app, one_matmul_args(tmp_path, out))
    assert r.exit_code == 130, r.output
    assert "interrupted: search stopped" in r.stderr
    assert {p.name for p in out.iterdir()} == ALL_FILES
    result = SolveResult.model_validate_json((out / "result.json").read_text())
    # every heuristic finds the only schedule (204 cycles, worked out above); the first is kept
    assert result.method == "list-depth-first" and result.status == "feasible"
    assert result.objective_value == 204 and result.bound is None
    assert result.message == (
        "interrupted before CP-SAT found a schedule; the best heuristic schedule "
        "(list-depth-first) is kept"
    )
    assert result.schedule is not None
    assert validate(load_problem(out / "problem.json"), result.schedule) == []


def test_no_schedule_in_time_exits_4(tmp_path: Path) -> None:
    # without the heuristic hint and with 10 ms, CP-SAT finds no schedule of 16 tiles
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app,
        ["solve", "-T", "16", "--no-heuristic-hint", "--time-limit", "0.01", "--out", str(out)],
    )
    assert r.exit_code == 4, r.output
    assert json.loads((out / "result.json").read_text())["status"] == "unknown"
    assert not (out / "schedule.json").exists()
