"""`cpsched sweep`: points from a sweep file, run locally and on a real Dask LocalCluster, with
records that survive (JSONL, resume, failures, Ctrl-C) and the answer at the end.

The sweep here: an attention head (N = H = 64) at M = 16 and 64 on single_core, tiles 2, both
modes, latency; every solved point is proven optimal in well under a second with one CP-SAT
worker, so local and Dask runs must agree exactly. The values are CP-SAT's proven optima:
M=16 1,124 cycles in both modes (a tie); M=64 fused 2,660, layer-by-layer 2,680 cycles. The
hardware grid L1_KIB = [1, 1024] makes half the points fail (no tile fits 1 KiB): they are
recorded as errors and the sweep goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cpsched.cli import app
from cpsched.sweep import load_sweep, run_sweep
from cpsched.sweep.store import RECORDS_FILE, read_records
from cpsched.sweep.summary import best_tilings, compare_modes

ROOT = Path(__file__).resolve().parent.parent
CLI = (sys.executable, "-m", "cpsched", "sweep")

SWEEP = """\
name: tiny
workloads:
  attention_head: {M: [16, 64]}
hardware:
  single_core: {L1_KIB: [1, 1024]}
tilings: [{tiles: 2}]
modes: [fused, layer-by-layer]
objectives: [latency]
time_limit_s: 5
workers: 1
seed: 0
"""
# (M, mode) -> proven optimal latency in cycles (see the module docstring)
OPTIMA = {(16, "fused"): 1124.0, (16, "layer-by-layer"): 1124.0}
OPTIMA |= {(64, "fused"): 2660.0, (64, "layer-by-layer"): 2680.0}


def write_sweep(folder: Path, text: str = SWEEP, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def outcome_of(records: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """What must not depend on the executor: per point key, status and objective value."""
    return {r["key"]: (r["index"], r["status"], r.get("objective_value")) for r in records}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """The tiny sweep run once through the local process pool (2 processes)."""
    folder = tmp_path_factory.mktemp("local")
    sweep_file = write_sweep(folder)
    out = folder / "out"
    outcome = run_sweep(load_sweep(sweep_file), out, jobs=2)
    return sweep_file, out, outcome


def test_points_are_the_cross_product_in_order(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    assert len(sweep.points) == sweep.considered == 8
    first = sweep.points[0]
    assert (first.workload_params, first.hardware_params, first.mode) == (
        {"M": 16},
        {"L1_KIB": 1},
        "fused",
    )
    assert [p.index for p in sweep.points] == list(range(8))
    assert len({p.key() for p in sweep.points}) == 8


def test_an_auto_tiling_axis_builds_the_coarsest_tiling_that_fits(tmp_path: Path) -> None:
    from cpsched.frontend.build import load_hardware
    from cpsched.pipeline import BuildOptions, build_job
    from cpsched.sweep.point import build_point

    text = SWEEP.replace("tilings: [{tiles: 2}]", "tilings: [{tiles: auto}]")
    text = text.replace("L1_KIB: [1, 1024]", "L1_KIB: [64]").replace("M: [16, 64]", "M: [512]")
    [point, _] = load_sweep(write_sweep(tmp_path, text)).points
    assert point.tiling.label() == "T=auto"
    problem = build_point(point)
    # the same as the command line's --tiles auto with the hardware parameter set
    memories = load_hardware("single_core", {"L1_KIB": 64}).memories
    assert [m.capacity_bytes for m in memories if m.id != "dram"] == [65536]
    options = BuildOptions(
        workload="attention_head",
        overrides={"M": 512},
        hardware="single_core",
        hardware_overrides={"L1_KIB": 64},
        tiles="auto",
    )
    built = build_job(options)
    assert built.auto is not None and problem == built.problem
    assert len(problem.tasks) == built.auto.tasks > 7  # one tile per layer does not fit 64 KiB


def test_a_filter_keeps_the_points_it_accepts(tmp_path: Path) -> None:
    # N is not swept: the filter sees its default, 64
    text = SWEEP + "filter: \"M / N < 1 and L1_KIB > 1 and mode == 'fused'\"\n"
    sweep = load_sweep(write_sweep(tmp_path, text))
    assert sweep.considered == 8
    assert [(p.workload_params["M"], p.mode) for p in sweep.points] == [(16, "fused")]


def test_local_run_records_every_point_and_failures_do_not_stop_it(local_run: Any) -> None:
    _, out, outcome = local_run
    assert outcome.complete and not outcome.interrupted
    assert (outcome.ran, outcome.skipped, outcome.total) == (8, 0, 8)
    records, _ = read_records(out / RECORDS_FILE)
    assert len(records) == 8 and len((out / RECORDS_FILE).read_text().splitlines()) == 8
    for r in records:
        point = r["point"]
        if point["hardware_params"]["L1_KIB"] == 1:
            assert r["status"] == "error"
            assert "fit no memory" in r["error"] and "1,024 bytes" in r["error"]
        else:
            assert r["status"] == "optimal" and r["proven"] is True
            key = (point["workload_params"]["M"], point["mode"])
            assert r["objective_value"] == OPTIMA[key] == r["latency_cycles"]
            assert r["peak_activation_bytes"] > 0 and r["bytes_moved"] > 0
            assert r["energy_total_pj"] == pytest.approx(
                r["energy_compute_pj"] + r["energy_transfer_pj"]
            )
            assert r["versions"]["cpsched"] and r["wall_time_s"] > 0
    assert json.loads((out / "sweep.json").read_text())["points"] == 8


def test_the_answer_compares_the_modes_and_names_the_best_tiling(local_run: Any) -> None:
    _, _, outcome = local_run
    comparisons = {c.workload: c for c in compare_modes(outcome.records)}
    m16 = comparisons["attention_head M=16"]
    assert (m16.fused, m16.layer_by_layer, m16.winner, m16.proven) == (1124, 1124, "tie", True)
    m64 = comparisons["attention_head M=64"]
    assert (m64.fused, m64.layer_by_layer, m64.winner, m64.proven) == (2660, 2680, "fused", True)
    assert m64.ratio == pytest.approx(2660 / 2680)
    assert len(comparisons) == 2  # the failed points compare nothing
    best = {b.workload: (b.mode, b.tiling, b.value) for b in best_tilings(outcome.records)}
    assert best["attention_head M=64"] == ("fused", "T=2", 2660)
    assert best["attention_head M=16"] == ("fused", "T=2", 1124)  # a tie: the first point


def test_dask_local_cluster_gives_the_same_records(local_run: Any, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    sweep_file, _, local = local_run
    outcome = run_sweep(load_sweep(sweep_file), tmp_path / "out", jobs=2, dask="local")
    assert outcome.complete and outcome.executor.startswith("dask LocalCluster")
    assert outcome_of(outcome.records) == outcome_of(local.records)
    assert len(read_records(tmp_path / "out" / RECORDS_FILE)[0]) == 8


def test_resume_skips_recorded_points_and_ignores_a_torn_last_line(
    local_run: Any, tmp_path: Path
) -> None:
    sweep_file, done, local = local_run
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_bytes((done / "sweep.json").read_bytes())
    lines = (done / RECORDS_FILE).read_bytes().splitlines(keepends=True)
    # the error points are quick to redo; keep the solved ones and tear a line mid-write
    errors = [ln for ln in lines if b'"status": "error"' in ln]
    kept = [ln for ln in lines if ln not in errors]
    (out / RECORDS_FILE).write_bytes(b"".join(kept) + errors[0][:40])
    assert len(read_records(out / RECORDS_FILE)[0]) == 4  # the torn line is left out
    outcome = run_sweep(load_sweep(sweep_file), out, jobs=1)
    assert (outcome.ran, outcome.skipped) == (4, 4)
    records, size = read_records(out / RECORDS_FILE)
    assert len(records) == 8 and size == (out / RECORDS_FILE).stat().st_size
    assert outcome_of(records) == outcome_of(local.records)
    again = run_sweep(load_sweep(sweep_file), out, jobs=1)
    assert (again.ran, again.skipped) == (0, 8)


def test_a_damaged_line_before_the_last_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n', encoding="utf-8")
    with pytest.raises(Exception, match="line 2"):
        read_records(path)
    path.write_text('{"key": "a"}\n{"key": "b"}\n{"ke', encoding="utf-8")
    assert [r["key"] for r in read_records(path)[0]] == ["a", "b"]


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_sweep_resumes_and_never_rewrites_a_finished_sweep(local_run: Any) -> None:
    sweep_file, out, _ = local_run
    first = run_cli("sweep", str(sweep_file), "--out", str(out), "--quiet")
    assert first.exit_code == 0, first.output
    assert "8 of 8 points recorded" in first.output
    assert (out / "results.csv").exists() and (out / "summary.md").exists()
    summary = (out / "summary.md").read_text()
    assert "| attention_head M=64 | single_core L1_KIB=1024 | T=2 | latency | 2,660 |" in summary
    summary_time = (out / "summary.md").stat().st_mtime_ns
    second = run_cli("sweep", str(sweep_file), "--out", str(out))
    assert second.exit_code == 0 and "nothing rewritten" in second.output
    assert (out / "summary.md").stat().st_mtime_ns == summary_time
    report = run_cli("sweep-report", str(out))
    assert report.exit_code == 0 and "pass --force to rewrite" in report.output
    assert "fused" in report.output and "0.993" in report.output  # 2660 / 2680
    report = run_cli("sweep-report", str(out), "--force", "--heatmap-axes", "M,L1_KIB")
    assert report.exit_code == 0 and "wrote" in report.output
    assert (out / "winner.png").stat().st_size > 0


def test_cli_refuses_another_sweep_in_the_folder(local_run: Any, tmp_path: Path) -> None:
    _, out, _ = local_run
    other = write_sweep(tmp_path, SWEEP.replace("M: [16, 64]", "M: [16]"), "other.yaml")
    result = run_cli("sweep", str(other), "--out", str(out))
    assert result.exit_code == 2
    assert "holds sweep 'tiny'" in result.output and "--force" in result.output


def test_cli_dry_run_counts_the_points_and_estimates(tmp_path: Path) -> None:
    sweep_file = write_sweep(tmp_path, SWEEP + "filter: L1_KIB > 1\n")
    result = run_cli("sweep", str(sweep_file), "--out", str(tmp_path / "o"), "--dry-run", "-j", "2")
    assert result.exit_code == 0
    # 4 points of 5.5 s at most (limit + overhead), 2 at once: 11 s
    assert "4 points (8 in the cross product, less the filter)" in result.output
    assert "0:11" in result.output
    assert not (tmp_path / "o").exists()


BAD_SWEEPS = {
    "unknown axis": (
        SWEEP + "layouts: [a]\n",
        "layouts: unknown field",
    ),
    "bad grid: empty": (
        SWEEP.replace("M: [16, 64]", "M: []"),
        "workloads.attention_head.M: List should have at least 1 item",
    ),
    "bad grid: a string": (
        SWEEP.replace("M: [16, 64]", "M: [16, '64']"),
        "workloads.attention_head.M[1]: Input should be a valid integer (got '64')",
    ),
    "bad grid: twice": (
        SWEEP.replace("M: [16, 64]", "M: [16, 16]"),
        "M: value 16 appears twice",
    ),
    "unknown workload parameter": (
        SWEEP.replace("M: [16, 64]", "SEQ: [16, 64]"),
        "workloads.attention_head.SEQ: unknown parameter 'SEQ' of 'attention_head'",
    ),
    "unknown hardware parameter": (
        SWEEP.replace("L1_KIB", "L2_KIB"),
        "hardware.single_core.L2_KIB: unknown parameter 'L2_KIB' of 'single_core'; its "
        "parameters: L1_KIB (default 1024)",
    ),
    "unknown hardware": (
        SWEEP.replace("single_core:", "tpu_v9:"),
        "hardware.tpu_v9: unknown hardware 'tpu_v9'",
    ),
    "bad objective": (
        SWEEP.replace("objectives: [latency]", "objectives: [speed]"),
        "objectives[0]: unknown metric 'speed'",
    ),
    "bad mode": (
        SWEEP.replace("modes: [fused, layer-by-layer]", "modes: [fused, pipelined]"),
        "modes[1]: Input should be 'fused' or 'layer-by-layer' (got 'pipelined')",
    ),
    "unknown filter name": (
        SWEEP + "filter: K > 2\n",
        "filter: unknown name 'K' in 'K > 2'",
    ),
    "bad filter syntax": (
        SWEEP + "filter: __import__('os')\n",
        "filter: unsupported syntax",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SWEEPS))
def test_bad_sweep_files_exit_2_with_file_field_and_value(tmp_path: Path, case: str) -> None:
    text, expected = BAD_SWEEPS[case]
    sweep_file = write_sweep(tmp_path, text)
    result = run_cli("sweep", str(sweep_file), "--out", str(tmp_path / "o"), "--dry-run")
    assert result.exit_code == 2, result.output
    assert f"error: {sweep_file}" in result.output
    assert expected in result.output


SLOW_TAIL = """\
name: interrupted
workloads:
  attention_head: {M: [16, 256]}
hardware:
  single_core: {}
  quad_bus: {}
tilings: [{tiles: 2}, {tiles: 4}]
modes: [fused]
objectives: [latency]
filter: (hardware == 'single_core') == (M == 16)
time_limit_s: 60
workers: 1
"""


def start_until_two_points(
    tmp_path: Path, *options: str, wait_s: float = 60
) -> tuple[subprocess.Popen[str], Path, Path]:
    """Start `cpsched sweep` on the slow-tail sweep in a real process and wait until two points
    are recorded: the process, its output folder and its records file."""
    sweep_file = write_sweep(tmp_path, SLOW_TAIL)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*CLI, str(sweep_file), "--out", str(out), *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    records = out / RECORDS_FILE
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if records.exists() and len(read_records(records)[0]) >= 2:
            break
        time.sleep(0.1)
    return proc, out, records


@pytest.mark.slow  # a real subprocess or cluster: CI's slow run
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_keep_the_finished_points(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    # M=16 on single_core (T=2, T=4) and M=256 on quad_bus at T=2 are proven within a second;
    # at T=4 it is not proven in a minute (pipeline.DEFAULT_TILES): still running when the
    # signal comes, so it must not be recorded
    proc, out, records = start_until_two_points(tmp_path, "-j", "1")
    assert len(read_records(records)[0]) >= 2
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "run the same command again to resume" in err
    kept = read_records(records)[0]
    assert 2 <= len(kept) < 4 and all(r["status"] == "optimal" for r in kept)
    assert json.loads((out / "sweep.json").read_text())["points"] == 4


@pytest.mark.slow
def test_ctrl_c_on_a_dask_local_cluster_keeps_the_finished_points(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    proc, _, records = start_until_two_points(tmp_path, "--dask", "local", "-j", "1", wait_s=90)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    kept = read_records(records)[0]
    assert 2 <= len(kept) < 4 and all(r["status"] == "optimal" for r in kept)


@pytest.mark.slow  # a real subprocess or cluster: CI's slow run
def test_a_worker_process_that_dies_stops_the_sweep_with_the_finished_points_kept(
    tmp_path: Path,
) -> None:
    psutil = pytest.importorskip("psutil")  # installed with distributed
    proc, _, records = start_until_two_points(tmp_path, "-j", "1")
    workers = [
        child
        for child in psutil.Process(proc.pid).children(recursive=True)
        if "spawn_main" in " ".join(child.cmdline())
    ]
    assert workers
    for worker in workers:
        worker.kill()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert "a worker process died while running point" in err and "to resume" in err
    assert len(read_records(records)[0]) >= 2


def test_pareto_points_are_those_no_other_point_beats_in_both() -> None:
    from cpsched.sweep.plots import pareto_points

    # (latency, memory): (1, 5) and (3, 1) are each best in one; (2, 5) loses to (1, 5);
    # (3, 2) loses to (3, 1); a duplicate of a Pareto point is Pareto too
    assert pareto_points([(1, 5), (2, 5), (3, 1), (3, 2), (1, 5)]) == {0, 2, 4}
