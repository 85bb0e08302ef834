"""Issue 13, the CLI side: outputs checked before any work, no silent overwrite, --seed in range,
`compare` with no schedule, tiles that fit no memory, and a start-up that loads no solver.

Each test asserts the exit code, the one-line message (no traceback) and that no file was lost
or replaced. Signals to real processes are in test_signals.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cpsched.bench import suites
from cpsched.bench.runner import BenchConfig, Case, Record, SuiteDef
from cpsched.cli import app
from cpsched.cli.common import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_OK
from cpsched.cli.options import SEED_MAX
from cpsched.model.io import load_problem, load_schedule

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = ROOT / "models" / "problems" / "two_cores_shared.yaml"
SCHEDULE = ROOT / "models" / "problems" / "two_cores_shared.schedule.yaml"
FAST = ["--time-limit", "5", "--workers", "2"]
runner = CliRunner()


def one_error_line(r: Result, code: int, *fragments: str) -> str:
    """The error line of a command that had to stop: exit `code`, one line, no traceback."""
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its text: what must stay as it was."""
    return {
        str(p.relative_to(folder)): p.read_text(errors="replace")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every kind of work fail loudly: a check that comes first never gets there."""

    def work(*_: object, **__: object) -> None:
        raise AssertionError("work started before the outputs were checked")

    for target in (
        "cpsched.cpsat.solver.solve",
        "cpsched.pipeline.run_job",
        "cpsched.pipeline.build_from_options",
        "cpsched.analysis.pareto.pareto_front",
        "cpsched.bench.runner.run_suite",
        "cpsched.report.files.write_reports",
        "cpsched.model.io.load_problem",
    ):
        monkeypatch.setattr(target, work)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can create files in, root included (immutable for root, else 0555)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    undo: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr: no way to make a read-only folder")
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i failed: {done.stderr.decode().strip()}")
        undo = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
    try:
        (folder / "probe").write_text("x")
    except OSError:
        pass
    else:
        pytest.skip("the folder is still writable here")
    try:
        yield folder
    finally:
        if undo:
            subprocess.run(undo, check=True)
        else:
            folder.chmod(0o755)


def _toy_suite(name: str, interrupt_first: bool = False) -> SuiteDef:
    def first() -> list[Record]:
        if interrupt_first:
            raise KeyboardInterrupt  # Ctrl-C before the first instance finished
        return [Record(instance="toy 1", method="toy", objective="latency", status="optimal")]

    def cases(config: BenchConfig) -> list[Case]:
        return [Case("case 1", first)]

    def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
        return f"{len(records)} records"

    return SuiteDef(name, "Toy", "A toy suite.", cases, report)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(suites.SUITES, "toy", _toy_suite("toy"))
    monkeypatch.setitem(suites.SUITES, "toy-ctrl-c", _toy_suite("toy-ctrl-c", True))


# --- item 2: an --out that cannot be written is refused before any work ---

OUT_COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "solve": lambda out: ["solve", "--out", str(out)],
    "solve-problem": lambda out: ["solve-problem", str(PROBLEM), "--out", str(out)],
    "plot": lambda out: ["plot", str(PROBLEM), str(SCHEDULE), "--out", str(out)],
    "pareto": lambda out: ["pareto", str(PROBLEM), "--out", str(out)],
    "bench": lambda out: ["bench", "--suite", "toy", "--out", str(out)],
    "build": lambda out: ["build", "-w", "attention_head", "-o", str(out / "p.json")],
    "compare": lambda out: ["compare", str(PROBLEM), "--output", str(out / "c.json")],
}


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_out_under_a_file_is_refused_before_the_work(
    command: str, tmp_path: Path, no_work: None, toy: None
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    r = runner.invoke(app, OUT_COMMANDS[command](a_file / "sub"))
    one_error_line(r, EXIT_BAD_INPUT, str(a_file), "is a file")
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_out_in_a_read_only_folder_is_refused_before_the_work(
    command: str, read_only: Path, no_work: None, toy: None
) -> None:
    before = tree(read_only)
    r = runner.invoke(app, OUT_COMMANDS[command](read_only / "sub"))
    one_error_line(r, EXIT_BAD_INPUT, "cannot write into", str(read_only))
    assert tree(read_only) == before


@pytest.mark.parametrize("command", ["solve", "solve-problem", "plot", "pareto", "bench"])
def test_out_naming_a_file_is_refused_before_the_work(
    command: str, tmp_path: Path, no_work: None, toy: None
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    r = runner.invoke(app, OUT_COMMANDS[command](a_file))
    one_error_line(r, EXIT_BAD_INPUT, "--out", "is a file, expected a folder")
    assert a_file.read_text() == "mine"


def test_build_output_naming_a_folder_is_refused(tmp_path: Path, no_work: None) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    r = runner.invoke(app, ["build", "-w", "attention_head", "-o", str(folder)])
    one_error_line(r, EXIT_BAD_INPUT, "--output", "is a folder, expected a file name")
    assert list(folder.iterdir()) == []


def test_solve_in_a_read_only_working_folder_is_refused_before_the_work(
    read_only: Path, no_work: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(read_only)
    r = runner.invoke(app, ["solve"])
    one_error_line(r, EXIT_BAD_INPUT, "--out (default: a new folder under runs/)", "'runs'")
    assert tree(read_only) == {"keep.txt": "mine"}


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 12 KiB file system: an empty file fits, a Gantt chart does not."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_while_writing_is_one_line_with_the_path(full_disk: Path) -> None:
    out = full_disk / "report"
    r = runner.invoke(app, ["plot", str(PROBLEM), str(SCHEDULE), "--out", str(out)])
    one_error_line(r, EXIT_BAD_INPUT, str(out), "o space left on device")
    assert list(out.iterdir()) == []  # no half-written file, no temporary file left


# --- item 3: no writer replaces files it did not make without --force ---


def test_solve_problem_refuses_to_replace_schedule_and_result(
    tmp_path: Path, no_work: None
) -> None:
    out = tmp_path / "d"
    out.mkdir()
    (out / "schedule.json").write_text("old schedule")
    (out / "result.json").write_text("old result")
    r = runner.invoke(app, ["solve-problem", str(PROBLEM), "--out", str(out)])
    one_error_line(r, EXIT_BAD_INPUT, "already holds schedule.json, result.json", "--force")
    assert tree(out) == {"result.json": "old result", "schedule.json": "old schedule"}


def test_solve_problem_default_out_refuses_to_replace_in_the_working_folder(
    tmp_path: Path, no_work: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "result.json").write_text("old result")
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["solve-problem", str(PROBLEM)])
    one_error_line(r, EXIT_BAD_INPUT, "already holds result.json")
    assert (tmp_path / "result.json").read_text() == "old result"


def test_solve_problem_with_force_replaces_them(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("old result")
    r = runner.invoke(
        app, ["solve-problem", str(PROBLEM), "--out", str(tmp_path), "--force", *FAST]
    )
    assert r.exit_code == EXIT_OK, r.output
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "optimal"
    load_schedule(tmp_path / "schedule.json")


def test_build_refuses_to_replace_a_problem_file(tmp_path: Path, no_work: None) -> None:
    out = tmp_path / "p.json"
    out.write_text("old problem")
    r = runner.invoke(app, ["build", "-w", "attention_head", "-o", str(out)])
    one_error_line(r, EXIT_BAD_INPUT, "already holds p.json", "--force")
    assert out.read_text() == "old problem"


def test_compare_refuses_to_replace_its_report(tmp_path: Path, no_work: None) -> None:
    out = tmp_path / "c.json"
    out.write_text("old report")
    r = runner.invoke(app, ["compare", str(PROBLEM), "--output", str(out)])
    one_error_line(r, EXIT_BAD_INPUT, "already holds c.json")
    assert out.read_text() == "old report"


def test_compare_refuses_to_replace_saved_schedules(tmp_path: Path, no_work: None) -> None:
    (tmp_path / "heft.schedule.json").write_text("old schedule")
    r = runner.invoke(app, ["compare", str(PROBLEM), "--save-schedules", str(tmp_path)])
    one_error_line(r, EXIT_BAD_INPUT, "--save-schedules", "already holds heft.schedule.json")
    assert tree(tmp_path) == {"heft.schedule.json": "old schedule"}


def test_bench_refuses_to_replace_a_suites_files(tmp_path: Path, toy: None) -> None:
    (tmp_path / "toy.json").write_text("old records")
    (tmp_path / "toy.md").write_text("old report")
    r = runner.invoke(app, ["bench", "--suite", "toy", "--out", str(tmp_path)])
    one_error_line(r, EXIT_BAD_INPUT, "already holds toy.json, toy.md", "--force")
    assert tree(tmp_path) == {"toy.json": "old records", "toy.md": "old report"}

    r = runner.invoke(app, ["bench", "--suite", "toy", "--out", str(tmp_path), "--force"])
    assert r.exit_code == EXIT_OK, r.output
    assert len(json.loads((tmp_path / "toy.json").read_text())["records"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.json", "toy.md"]


def test_bench_ctrl_c_before_the_first_instance_keeps_the_old_results(
    tmp_path: Path, toy: None
) -> None:
    (tmp_path / "toy-ctrl-c.json").write_text("old records")
    (tmp_path / "toy-ctrl-c.md").write_text("old report")
    before = tree(tmp_path)
    r = runner.invoke(app, ["bench", "--suite", "toy-ctrl-c", "--out", str(tmp_path), "--force"])
    assert r.exit_code == 130, r.output
    assert "Traceback" not in r.output
    assert "interrupted before the first instance finished: nothing written" in r.stderr
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy-ctrl-c.json", "toy-ctrl-c.md"]


# --- item 4: --seed beyond CP-SAT's 32-bit seed ---


@pytest.mark.parametrize(
    "args",
    [
        ["solve"],
        ["solve-problem", str(PROBLEM)],
        ["compare", str(PROBLEM)],
        ["pareto", str(PROBLEM)],
        ["bench", "--suite", "toy"],
    ],
    ids=lambda args: args[0],
)
def test_seed_3000000000_is_refused_at_the_command_line(
    args: list[str], tmp_path: Path, no_work: None, toy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, [*args, "--seed", "3000000000"])
    assert r.exit_code == EXIT_BAD_INPUT, r.output
    assert "Traceback" not in r.output
    assert "Invalid value for '--seed'" in r.stderr and str(SEED_MAX) in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_largest_seed_reaches_cp_sat(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        ["solve-problem", str(PROBLEM), "--out", str(tmp_path), "--seed", str(SEED_MAX), *FAST],
    )
    assert r.exit_code == EXIT_OK, r.output
    assert json.loads((tmp_path / "result.json").read_text())["parameters"]["seed"] == SEED_MAX


# --- item 11: compare with no schedule, tiles that fit no memory ---


@pytest.fixture
def tiny_memory(tmp_path: Path) -> Path:
    """single_core with a 4 KiB scratchpad: attention_head's tiles at T=8 fit in none."""
    text = (ROOT / "models" / "hardware" / "single_core.yaml").read_text()
    path = tmp_path / "tiny.yaml"
    path.write_text(text.replace("capacity_bytes: 1048576", "capacity_bytes: 4096"))
    return path


def _build_misfit(tmp_path: Path, hardware: Path) -> tuple[Result, Path]:
    out = tmp_path / "p.json"
    r = runner.invoke(
        app,
        ["build", "-w", "attention_head", "--hardware", str(hardware), "-T", "8", "-o", str(out)],
    )
    return r, out


LAYERS = ("Q", "K", "V", "QKT", "SM", "AV")


def test_build_warns_of_tiles_that_fit_no_memory_one_line_per_layer(
    tmp_path: Path, tiny_memory: Path
) -> None:
    r, out = _build_misfit(tmp_path, tiny_memory)
    assert r.exit_code == EXIT_OK, r.output  # written: the file is still a valid problem
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("warning: 48 of 56 tiles fit no memory they may use")
    assert lines[1:] == [
        f"warning: layer {layer}: 8 tiles need {need} bytes for their inputs and outputs, "
        "more than l1 holds (4,096 bytes, the largest memory they may use)"
        for layer, need in zip(
            LAYERS, ("8,192", "8,192", "8,192", "26,624", "16,384", "26,624"), strict=True
        )
    ]
    assert len(load_problem(out).tasks) == 56


def test_solve_problem_groups_tiles_that_fit_no_memory(tmp_path: Path, tiny_memory: Path) -> None:
    _, problem = _build_misfit(tmp_path, tiny_memory)
    r = runner.invoke(app, ["solve-problem", str(problem), "--out", str(tmp_path / "o"), *FAST])
    assert r.exit_code == EXIT_INFEASIBLE, r.output
    assert "Traceback" not in r.output
    reasons = [line for line in r.stderr.splitlines() if line.startswith("infeasible: ")]
    assert [line.split(":")[1].strip() for line in reasons] == [f"layer {x}" for x in LAYERS]


def test_misfits_group_only_the_tasks_that_fit_no_memory() -> None:
    from cpsched.check.fit import Misfit, group_misfits, misfits
    from cpsched.model.problem import Problem
    from cpsched.model.result import InfeasibilityReason

    # l1 of 1,000 bytes: A holds x + w + a = 512 + 1024 + 512 = 2,048 bytes while it runs; B, C
    # and D hold 768 at most, so they fit
    data = load_problem(PROBLEM).model_dump(mode="json")
    data["memories"][1]["capacity_bytes"] = 1000
    problem = Problem.model_validate(data)
    assert misfits(problem) == [Misfit("A", "l1", 1000, ("A",), 2048, 2048)]
    other = InfeasibilityReason(reason="a cycle", resource="barriers", unit="cycles")
    found, rest = group_misfits(problem, [other])
    assert found == [] and rest == [other]


def test_compare_with_no_schedule_says_so_and_exits_non_zero(
    tmp_path: Path, tiny_memory: Path
) -> None:
    _, problem = _build_misfit(tmp_path, tiny_memory)
    r = runner.invoke(app, ["compare", str(problem), "--no-retime", *FAST])
    line = one_error_line(r, EXIT_INFEASIBLE)
    assert line == "error: no method found a schedule: CP-SAT proved the problem infeasible"
    assert r.stdout.count("more than l1 holds") == len(LAYERS)

    r = runner.invoke(app, ["compare", str(problem), "--no-cpsat", "--no-retime"])
    line = one_error_line(r, EXIT_NO_SOLUTION, "no method found a schedule: list-depth-first")


# --- item 8: an interrupt is one line in every command, and start-up loads no solver ---


def test_ctrl_c_in_a_command_without_its_own_handling_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("cpsched.check.validate.validate", interrupted)
    r = runner.invoke(app, ["validate", str(PROBLEM), str(SCHEDULE)])
    assert r.exit_code == 130
    assert r.stderr == "error: interrupted before the command finished\n"


def _modules_after(code: str) -> set[str]:
    script = f"import sys, atexit, json\n{code}"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


HEAVY = {"ortools", "matplotlib", "onnx"}


def test_import_cpsched_cli_loads_no_solver_plotting_or_onnx() -> None:
    loaded = _modules_after(
        "import cpsched.cli, cpsched.cli.commands\nprint(json.dumps(sorted(sys.modules)))"
    )
    assert "cpsched.cli.commands" in loaded
    assert not {m.split(".")[0] for m in loaded} & HEAVY


@pytest.mark.parametrize(
    "args", [["--help"], ["validate", str(PROBLEM), str(SCHEDULE)]], ids=["help", "validate"]
)
def test_help_and_validate_load_no_solver_plotting_or_onnx(args: list[str]) -> None:
    loaded = _modules_after(
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = ['cpsched', *{args!r}]\n"
        "from cpsched.cli import main\nmain()"
    )
    assert "cpsched.cli.commands" in loaded
    assert not {m.split(".")[0] for m in loaded} & HEAVY


def test_the_solve_defaults_are_the_pipelines() -> None:
    from cpsched import pipeline
    from cpsched.cli import solve

    for name in ("WORKLOAD", "HARDWARE", "TILES", "OBJECTIVE", "TIME_LIMIT_S"):
        assert getattr(solve, f"DEFAULT_{name}") == getattr(pipeline, f"DEFAULT_{name}")


def test_plot_checks_the_report_files_it_writes() -> None:
    from cpsched.cli.plot import REPORT_FILES
    from cpsched.report.files import REPORT_FILES as WRITTEN

    assert REPORT_FILES == WRITTEN


def test_force_without_a_schedule_leaves_no_stale_schedule(tmp_path: Path) -> None:
    """A result without a schedule written over an earlier run with --force once kept the old
    schedule.json beside it, which is then read as this result's."""
    problem = tmp_path / "too_big.json"
    problem.write_text(
        json.dumps(
            {
                "format": "cpsched-problem/2",
                "name": "too big",
                "memories": [
                    {"id": "dram", "capacity_bytes": None},
                    {"id": "l1", "capacity_bytes": 8},
                ],
                "cores": [{"id": "c0", "memory": "l1"}],
                "tensors": [{"id": "y", "size_bytes": 16, "kind": "activation", "producer": "a"}],
                "tasks": [
                    {"id": "a", "outputs": ["y"], "options": [{"core": "c0", "duration_cycles": 1}]}
                ],
            }
        )
    )
    out = tmp_path / "d"
    out.mkdir()
    (out / "schedule.json").write_text("an earlier run's schedule")
    (out / "result.json").write_text("an earlier run's result")
    r = runner.invoke(app, ["solve-problem", str(problem), "--out", str(out), "--force"])
    assert r.exit_code == 3, r.output  # proven infeasible: the task's output exceeds l1
    assert json.loads((out / "result.json").read_text())["status"] == "infeasible"
    assert not (out / "schedule.json").exists()
