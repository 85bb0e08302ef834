"""Where the benchmark layer lives: `cpsched bench` and its MILP peer are ordinary modules of the
installed package, and the root `benchmarks/` folder (results and micro-benchmark scripts) is
neither installed nor imported."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_bench_layer_leaves_sys_path_alone() -> None:
    # in a fresh interpreter, so that nothing imported earlier hides a change
    code = (
        "import json, sys; before = list(sys.path); "
        "import cpsched.bench, cpsched.bench.suites, cpsched.bench.milp, cpsched.bench.milp_peer; "
        "print(json.dumps({'same': sys.path == before, "
        "'benchmarks': sorted(m for m in sys.modules if m.split('.')[0] == 'benchmarks')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == {"same": True, "benchmarks": []}


def test_milp_peer_is_a_normal_module_with_one_error_class() -> None:
    from cpsched.bench import milp, milp_peer

    assert milp.solve_milp is milp_peer.solve_milp
    assert milp.InvalidMilpScheduleError is milp_peer.InvalidMilpScheduleError
    defined = [
        node.name
        for path in (ROOT / "cpsched").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name == "InvalidMilpScheduleError"
    ]
    assert defined == ["InvalidMilpScheduleError"]


def test_root_benchmarks_folder_is_not_a_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == ["cpsched*"]
    assert not list((ROOT / "benchmarks").rglob("__init__.py"))


def test_benchmark_scripts_import_cpsched_only() -> None:
    # scripts run as `python benchmarks/NAME.py`; they reach the library, not each other
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "benchmarks", path.name
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "benchmarks" for a in node.names), path.name


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_heuristics.py", ["speed", "--tasks", "64", "--cores", "4", "--runs", "1"]),
        ("bench_validator.py", ["--tasks", "200"]),
        ("bench_build.py", ["--runs", "1", "--tiles", "2"]),
        ("bench_subsolvers.py", ["--tiles", "2", "--time-limit", "1", "--subsolvers", "core"]),
    ],
)
def test_micro_benchmark_script_runs_at_a_tiny_size(
    script: str, args: list[str], tmp_path: Path
) -> None:
    # run as users run them (`python benchmarks/NAME.py`), against this checkout's cpsched
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, "--json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())
