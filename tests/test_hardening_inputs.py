"""Issue 13, the data side: every bad input is one InputError naming the file, the field and the
value, never a traceback; no number the solvers cannot represent gets past the loaders; a full
disk is one message and leaves the old file as it was.

Each test is named after the defect it guards against.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cpsched.cli import app
from cpsched.cli.common import EXIT_BAD_INPUT
from cpsched.frontend.build import build_problem, load_workload
from cpsched.frontend.costs import load_cost_table
from cpsched.frontend.hardware import load_hardware_file
from cpsched.frontend.tiling import TilingSpec
from cpsched.frontend.workload.load import eval_size, load_workload_file
from cpsched.model.errors import InputError, OutputError, input_error
from cpsched.model.io import load_problem, load_schedule, save_problem, write_text_atomic
from cpsched.model.problem import (
    MAX_HORIZON_CYCLES,
    MAX_INTEGER,
    Problem,
    horizon_cycles_bound,
)

ROOT = Path(__file__).resolve().parent.parent
PROBLEM_FILE = ROOT / "models" / "problems" / "two_cores_shared.yaml"
SCHEDULE_FILE = ROOT / "models" / "problems" / "two_cores_shared.schedule.yaml"
HARDWARE_FILE = ROOT / "models" / "hardware" / "single_core.yaml"
WORKLOAD_FILE = ROOT / "models" / "workloads" / "attention_head.yaml"

runner = CliRunner()


def problem_data() -> dict[str, Any]:
    """two_cores_shared: 2 cores on one 3072-byte l1, a 16 B/cycle bus, a diamond of 4 tasks."""
    data: dict[str, Any] = yaml.safe_load(PROBLEM_FILE.read_text(encoding="utf-8"))
    return data


def load_error(tmp_path: Path, data: Any, name: str = "p.json") -> str:
    """The message of the InputError loading `data` as a problem file raises."""
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_problem(path)
    return str(err.value)


def every_option(data: dict[str, Any], field: str, value: object) -> None:
    for task in data["tasks"]:
        for option in task["options"]:
            option[field] = value


# --- item 1: numbers too large for CP-SAT ---
#
# Each of these loaded, and then crashed CP-SAT with a traceback (reproduced before the fix with
# cpsched.cpsat.solve, 2 workers, 2 s): a duration of 1e30 (TypeError in Domain), a capacity of
# 1e19 (RuntimeError in add_cumulative), a bandwidth of 1e-300 (TypeError in Domain), a link
# latency of 1e18 (MODEL_INVALID: domains do not fit int64), all durations 4e18 (TypeError in
# Domain) and energies of 1e300 with latency+0.001*energy (MODEL_INVALID).

LIMIT = "Input should be less than or equal to 1099511627776"


def _set(path: tuple[Any, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


TOO_LARGE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "duration 1e30": (
        _set(("tasks", 0, "options", 0, "duration_cycles"), 1e30),
        "tasks[0].options[0].duration_cycles: Input should be a valid integer (got 1e+30)",
    ),
    "duration 10**30": (
        _set(("tasks", 0, "options", 0, "duration_cycles"), 10**30),
        f"tasks[0].options[0].duration_cycles: {LIMIT} (got {10**30})",
    ),
    "capacity 1e19": (
        _set(("memories", 1, "capacity_bytes"), 10**19),
        f"memories[1].capacity_bytes: {LIMIT} (got 10000000000000000000)",
    ),
    "bandwidth 1e-300": (
        _set(("links", 0, "bandwidth_bytes_per_cycle"), 1e-300),
        "links[0].bandwidth_bytes_per_cycle: Input should be greater than or equal to "
        "0.00000095367431640625 (got 1e-300)",
    ),
    "latency 1e18": (
        _set(("links", 0, "latency_cycles"), 10**18),
        f"links[0].latency_cycles: {LIMIT} (got 1000000000000000000)",
    ),
}


@pytest.mark.parametrize("case", sorted(TOO_LARGE))
def test_numbers_too_large_for_cpsat_are_input_errors(tmp_path: Path, case: str) -> None:
    mutate, expected = TOO_LARGE[case]
    data = problem_data()
    mutate(data)
    assert load_error(tmp_path, data) == f"{tmp_path / 'p.json'}: {expected}"


def test_all_durations_4e18_name_every_field_and_the_limit(tmp_path: Path) -> None:
    data = problem_data()
    every_option(data, "duration_cycles", 4 * 10**18)
    lines = load_error(tmp_path, data).splitlines()
    assert lines[0].endswith("p.json: 8 problems")
    assert lines[1] == f"  - tasks[0].options[0].duration_cycles: {LIMIT} (got 4000000000000000000)"
    assert all(LIMIT in line for line in lines[1:])  # and no false "too short" line


def test_energies_1e300_are_input_errors(tmp_path: Path) -> None:
    data = problem_data()
    every_option(data, "energy_pj", 1e300)
    lines = load_error(tmp_path, data).splitlines()
    assert lines[1] == f"  - tasks[0].options[0].energy_pj: {LIMIT} (got 1e+300)"
    assert len(lines) == 1 + 8


def test_horizon_sum_too_large_is_an_input_error(tmp_path: Path) -> None:
    # every field is within the limit, but 8 options of 2**39 cycles, the slowest of each of the
    # 4 tasks 2**39: the tasks alone take 2**41 cycles in a row
    data = problem_data()
    every_option(data, "duration_cycles", 2**39)
    total = 4 * 2**39 + sum(  # + each tensor into dram and into l1 over the bus: size/16 + 4
        2 * (-(-t["size_bytes"] // 16) + 4) for t in data["tensors"]
    )
    assert load_error(tmp_path, data) == (
        f"{tmp_path / 'p.json'}: the tasks' slowest options and the tensors' slowest transfers "
        f"sum to {total} cycles; the solvers accept at most 1099511627776 (2**40) (the largest "
        "part: tasks[0].options[0].duration_cycles, 549755813888 cycles)"
    )


def test_total_bytes_too_large_is_an_input_error(tmp_path: Path) -> None:
    data = problem_data()
    data["links"][0]["bandwidth_bytes_per_cycle"] = 2.0**20  # transfers of 2**20 cycles each
    data["links"][0]["energy_pj_per_byte"] = 0.0  # (the energy sum is the next test's)
    data["tensors"] += [
        {"id": f"big{i}", "size_bytes": MAX_INTEGER, "kind": "input", "home": "dram"}
        for i in range(300)
    ]
    total = 2816 + 300 * MAX_INTEGER
    assert load_error(tmp_path, data) == (
        f"{tmp_path / 'p.json'}: tensors: sizes sum to {total} bytes; the solvers accept at "
        f"most 281474976710656 (2**48) (the largest: tensors[6].size_bytes, {MAX_INTEGER})"
    )


def test_total_energy_too_large_is_an_input_error(tmp_path: Path) -> None:
    data = problem_data()
    data["links"][0]["energy_pj_per_byte"] = 2.0**40  # 2816 bytes x 2 routes x 2**40 pJ/byte
    message = load_error(tmp_path, data)
    assert message == (
        f"{tmp_path / 'p.json'}: the energies of every task option (500 pJ) and of every tensor "
        "over every route (6.19245e+15 pJ) sum to 6.19245e+15 pJ; the solvers accept at most "
        "1125899906842624 (2**50) pJ"
    )


def largest_accepted_problem() -> Problem:
    """two_cores_shared with every number as large as the limits let it be at once: tensors of
    2**36 bytes and more, a 2**40-byte l1, a bus latency of 2**30, energies of 2**40 pJ per
    option and 400 pJ per byte, and durations that bring the horizon to within a task count of
    MAX_HORIZON_CYCLES."""
    data = problem_data()
    for tensor in data["tensors"]:
        tensor["size_bytes"] *= 2**27
    data["memories"][1]["capacity_bytes"] = MAX_INTEGER
    data["links"][0]["latency_cycles"] = 2**30
    data["links"][0]["energy_pj_per_byte"] = 400.0
    every_option(data, "energy_pj", 2.0**40)
    every_option(data, "duration_cycles", 0)
    rest = MAX_HORIZON_CYCLES - horizon_cycles_bound(Problem.model_validate(data))[0]
    every_option(data, "duration_cycles", rest // len(data["tasks"]))
    return Problem.model_validate(data)


@pytest.mark.parametrize(
    "objective", ["latency", "memory", "latency+0.001*energy", "energy", "0.001*latency+energy"]
)
def test_largest_accepted_problem_solves_without_overflow(objective: str) -> None:
    from cpsched.cpsat import SolverParams, solve

    problem = largest_accepted_problem()
    assert horizon_cycles_bound(problem)[0] > MAX_HORIZON_CYCLES - len(problem.tasks)
    result = solve(problem, objective, SolverParams(time_limit_s=2, num_workers=2, seed=1))
    assert result.status in ("optimal", "feasible")
    assert result.schedule is not None


def test_weights_too_far_apart_for_cpsat_are_an_input_error() -> None:
    from cpsched.cpsat import SolverParams, solve

    with pytest.raises(InputError, match="too many orders of magnitude"):
        solve(
            largest_accepted_problem(),
            "0.0000000000000000000001*latency+energy",
            SolverParams(time_limit_s=2, num_workers=2, seed=1),
        )


# --- item 10: strict types in every user-facing format ---

INTEGER, NUMBER, BOOLEAN = "a valid integer", "a valid number", "a valid boolean"
PROBLEM_WRONG_TYPES: dict[str, tuple[tuple[Any, ...], object, str]] = {
    "duration string": (("tasks", 0, "options", 0, "duration_cycles"), "10", INTEGER),
    "duration true": (("tasks", 0, "options", 0, "duration_cycles"), True, INTEGER),
    "duration 10.0": (("tasks", 0, "options", 0, "duration_cycles"), 10.0, INTEGER),
    "energy string": (("tasks", 0, "options", 0, "energy_pj"), "1.5", NUMBER),
    "energy true": (("tasks", 0, "options", 0, "energy_pj"), True, NUMBER),
    "capacity string": (("memories", 1, "capacity_bytes"), "3072", INTEGER),
    "capacity true": (("memories", 1, "capacity_bytes"), True, INTEGER),
    "size string": (("tensors", 0, "size_bytes"), "512", INTEGER),
    "store 1": (("tensors", 5, "store"), 1, BOOLEAN),
    "store string": (("tensors", 5, "store"), "true", BOOLEAN),
    "bandwidth string": (("links", 0, "bandwidth_bytes_per_cycle"), "16", NUMBER),
    "bandwidth true": (("links", 0, "bandwidth_bytes_per_cycle"), True, NUMBER),
    "latency string": (("links", 0, "latency_cycles"), "4", INTEGER),
    "link energy true": (("links", 0, "energy_pj_per_byte"), True, NUMBER),
    "tile string": (("tasks", 0, "tile"), "0", INTEGER),
}


@pytest.mark.parametrize("case", sorted(PROBLEM_WRONG_TYPES))
def test_problem_files_coerce_wrong_types_silently(tmp_path: Path, case: str) -> None:
    path, value, kind = PROBLEM_WRONG_TYPES[case]
    data = problem_data()
    _set(path, value)(data)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    assert load_error(tmp_path, data) == (
        f"{tmp_path / 'p.json'}: {field}: Input should be {kind} (got {value!r})"
    )


def test_schedule_starts_stay_strict(tmp_path: Path) -> None:
    data = yaml.safe_load(SCHEDULE_FILE.read_text(encoding="utf-8"))
    for value in ("5", True):
        data["tasks"][0]["start"] = value
        path = tmp_path / "s.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(InputError, match=r"tasks\[0\]\.start: Input should be a valid integer"):
            load_schedule(path)


def hardware_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(HARDWARE_FILE.read_text(encoding="utf-8"))
    return data


HARDWARE_WRONG_TYPES: dict[str, tuple[tuple[Any, ...], object, str]] = {
    "rows string": (("cores", 0, "rows"), "32", "cores[0].rows: Input should be a valid integer"),
    "rows true": (("cores", 0, "rows"), True, "cores[0].rows: Input should be a valid integer"),
    "capacity string": (
        ("memories", 1, "capacity_bytes"),
        "1048576",
        "memories[1].capacity_bytes: Input should be a valid integer",
    ),
    "bandwidth string": (
        ("memories", 1, "read_bandwidth_bytes_per_cycle"),
        "128",
        "memories[1].read_bandwidth_bytes_per_cycle: Input should be a valid number",
    ),
    "mac energy true": (
        ("cores", 0, "mac_energy_pj"),
        True,
        "cores[0].mac_energy_pj: Input should be a valid number",
    ),
    "link latency string": (
        ("topology", "links", 0, "latency_cycles"),
        "20",
        "topology.links[0].latency_cycles: Input should be a valid integer",
    ),
    "cycles per element string": (
        ("cores", 0, "cycles_per_element"),
        {"add": "1"},
        "cores[0].cycles_per_element.add: Input should be a valid integer (got '1')",
    ),
}


@pytest.mark.parametrize("case", sorted(HARDWARE_WRONG_TYPES))
def test_hardware_files_coerce_wrong_types_silently(tmp_path: Path, case: str) -> None:
    path, value, expected = HARDWARE_WRONG_TYPES[case]
    data = hardware_data()
    _set(path, value)(data)
    file = tmp_path / "hw.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_hardware_file(file)
    got = "" if "(got" in expected else f" (got {value!r})"
    assert str(err.value) == f"{file}: {expected}{got}"


def workload_text() -> str:
    return WORKLOAD_FILE.read_text(encoding="utf-8")


WORKLOAD_WRONG_TYPES = {  # (text in attention_head.yaml, replaced by, the message's start)
    "param string": (
        "M: {default: 256",
        "M: {default: '256'",
        f"params.M.default: Input should be {INTEGER}",
    ),
    "param true": (
        "M: {default: 256",
        "M: {default: true",
        f"params.M.default: Input should be {INTEGER}",
    ),
    "shape true": ("shape: [M, N]", "shape: [true, N]", "tensors.X.shape[0]: expected an integer"),
    "bits 8.0": ("bits: BITS}\n  - name: K", "bits: 8.0}\n  - name: K", "layers[0].output.bits"),
}


@pytest.mark.parametrize("case", sorted(WORKLOAD_WRONG_TYPES))
def test_workload_files_coerce_wrong_types_silently(tmp_path: Path, case: str) -> None:
    old, new, expected = WORKLOAD_WRONG_TYPES[case]
    assert old in workload_text()
    file = tmp_path / "w.yaml"
    file.write_text(workload_text().replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_workload_file(file)
    assert str(err.value).startswith(f"{file}: {expected}")


def test_workload_size_expressions_refuse_booleans_and_huge_powers() -> None:
    with pytest.raises(ValueError, match="unsupported syntax"):
        eval_size("True * 4", {})
    with pytest.raises(ValueError, match="is not a size"):
        eval_size("9 ** 9 ** 9", {})  # refused at once, not computed
    with pytest.raises(ValueError, match="too large"):
        eval_size("N * N * N * N", {"N": 2**20})


COST_WRONG_TYPES = {  # (file suffix, text, message)
    "json cycles string": (
        ".json",
        '[{"op": "matmul", "cycles": "10", "energy_pj": 1}]',
        f"[0].cycles: Input should be {INTEGER} (got '10')",
    ),
    "json cycles true": (
        ".json",
        '[{"op": "matmul", "cycles": true, "energy_pj": 1}]',
        f"[0].cycles: Input should be {INTEGER} (got True)",
    ),
    "json energy string": (
        ".json",
        '[{"op": "matmul", "cycles": 10, "energy_pj": "1"}]',
        f"[0].energy_pj: Input should be {NUMBER} (got '1')",
    ),
    "csv cycles 1.5": (
        ".csv",
        "op,cycles,energy_pj\nmatmul,1.5,1\n",
        f"[0].cycles: Input should be {INTEGER} (got '1.5')",
    ),
    "csv cycles true": (
        ".csv",
        "op,cycles,energy_pj\nmatmul,true,1\n",
        f"[0].cycles: Input should be {INTEGER} (got 'true')",
    ),
    "csv energy nan": (
        ".csv",
        "op,cycles,energy_pj\nmatmul,10,nan\n",
        "[0].energy_pj: Input should be a finite number (got nan)",
    ),
    "csv cycles too large": (
        ".csv",
        "op,cycles,energy_pj\nmatmul,2000000000000,1\n",
        f"[0].cycles: {LIMIT} (got 2000000000000)",
    ),
}


@pytest.mark.parametrize("case", sorted(COST_WRONG_TYPES))
def test_cost_tables_coerce_wrong_types_silently(tmp_path: Path, case: str) -> None:
    suffix, text, expected = COST_WRONG_TYPES[case]
    file = tmp_path / f"costs{suffix}"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_cost_table(file)
    assert str(err.value) == f"{file}: {expected}"


def test_csv_cost_table_numbers_still_load(tmp_path: Path) -> None:
    file = tmp_path / "costs.csv"
    file.write_text("op,cycles,energy_pj\nmatmul,10,2.5\n", encoding="utf-8")
    row = load_cost_table(file).rows[0]
    assert (row.cycles, row.energy_pj) == (10, 2.5)


# --- item 5: empty ONNX graphs ---


@pytest.fixture
def onnx_files(tmp_path: Path) -> dict[str, Path]:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    no_nodes = tmp_path / "no_nodes.onnx"
    onnx.save(helper.make_model(helper.make_graph([], "g", [], [])), str(no_nodes))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    identity = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph), str(identity))
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])
    value = helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])
    constant = helper.make_node("Constant", [], ["c"], value=value)
    only_constants = tmp_path / "only_constants.onnx"
    onnx.save(helper.make_model(helper.make_graph([constant], "g", [], [c])), str(only_constants))
    return {
        "empty": empty,
        "no_nodes": no_nodes,
        "identity": identity,
        "only_constants": only_constants,
    }


NO_NODES = (
    "the ONNX graph has no nodes to schedule (none, or only constants, which fold away); a "
    "workload needs at least one operator ("
)
ONNX_MESSAGES = {
    "empty": "empty file (0 bytes); expected an ONNX model",
    "no_nodes": NO_NODES,
    "only_constants": NO_NODES,
    "identity": "the ONNX graph computes nothing (its nodes only rename, reshape or hold "
    "constants); a workload needs at least one operation such as MatMul or Add",
}


@pytest.mark.parametrize("case", sorted(ONNX_MESSAGES))
def test_empty_onnx_graph_is_an_input_error(
    tmp_path: Path, onnx_files: dict[str, Path], case: str
) -> None:
    path = onnx_files[case]
    with pytest.raises(InputError) as err:
        load_workload(str(path))
    assert str(err.value).startswith(f"{path}: {ONNX_MESSAGES[case]}")
    result = runner.invoke(app, ["build", "-w", str(path), "-o", str(tmp_path / "p.json")])
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "Traceback" not in result.output and ONNX_MESSAGES[case] in result.stderr
    assert not (tmp_path / "p.json").exists()


# --- item 6: a full disk ---


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (mounting needs root, as in CI; skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_is_one_message_and_keeps_the_old_file(tiny_disk: Path) -> None:
    path = tiny_disk / "out.txt"
    write_text_atomic(path, "old\n")
    with pytest.raises(OutputError) as err:
        write_text_atomic(path, "x" * 200_000)
    assert str(err.value) == f"{path}: cannot write: no space left on device"
    assert isinstance(err.value, InputError)  # so the CLI reports it in one line, exit 2
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["out.txt"]  # no temporary left


def test_full_disk_in_build_is_exit_2_without_traceback(tiny_disk: Path) -> None:
    out = tiny_disk / "p.json"
    result = runner.invoke(
        app, ["build", "-w", "attention_head", "--hardware", "quad_bus", "-T", "16", "-o", str(out)]
    )
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip() == f"error: {out}: cannot write: no space left on device"
    assert list(tiny_disk.iterdir()) == []


def test_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    problem = load_problem(PROBLEM_FILE)
    target = tmp_path / "missing" / "p.json"
    with pytest.raises(OutputError) as err:
        save_problem(problem, target)
    assert str(err.value) == f"{target}: cannot write: no such file or directory"


# --- item 9: deep nesting ---

DEEP = "[" * 100_000


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
@pytest.mark.parametrize(
    "loader",
    [load_problem, load_schedule, load_hardware_file, load_workload_file, load_cost_table],
    ids=lambda f: f.__name__,
)
def test_deeply_nested_input_is_an_input_error(
    tmp_path: Path, suffix: str, loader: Callable[[Path], object]
) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text(DEEP, encoding="utf-8")
    syntax = "JSON" if suffix == ".json" else "YAML"
    with pytest.raises(InputError) as err:
        loader(path)
    assert str(err.value) == f"{path}: not valid {syntax}: lists or mappings nested too deeply"


def test_deeply_nested_problem_in_validate_exits_2(tmp_path: Path) -> None:
    problem = tmp_path / "deep.json"
    problem.write_text(DEEP, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(problem), str(SCHEDULE_FILE)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"error: {problem}: not valid JSON: lists or mappings nested too deeply"
    )


# --- item 11: messages ---


def test_duplicate_core_id_names_the_id(tmp_path: Path) -> None:
    data = hardware_data()
    data["cores"].append(copy.deepcopy(data["cores"][0]))
    file = tmp_path / "hw.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_hardware_file(file)
    assert str(err.value) == (
        f"{file}: cores[1].id: duplicate core id 'c0' (also cores[0]); ids must be unique"
    )


def test_no_core_can_run_matmul_names_the_hardware_file(tmp_path: Path) -> None:
    data = hardware_data()
    data["cores"][0] = {
        "id": "c0", "kind": "vector", "memory": "l1", "lanes": 4, "mac_energy_pj": 0.2,
        "ops": ["add", "softmax"],
    }  # fmt: skip
    hw = tmp_path / "vector.yaml"
    hw.write_text(yaml.safe_dump(data), encoding="utf-8")
    workload = tmp_path / "one_matmul.yaml"
    workload.write_text(
        "name: one_matmul\n"
        "tensors: {X: {kind: input, shape: [4, 8]}, W: {kind: weight, shape: [8, 2]}}\n"
        "layers:\n"
        "  - {name: Q, op: matmul, loops: {m: 4, e: 8, d: 2}, token_dim: m,\n"
        "     inputs: [{tensor: X, dims: [m, e]}, {tensor: W, dims: [e, d]}],\n"
        "     output: {dims: [m, d]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        build_problem(load_workload(str(workload)), load_hardware_file(hw), TilingSpec(tiles=1))
    assert str(err.value) == (
        f"{workload}: layers.Q.op: no core of 'single_core' ({hw}) supports 'matmul'; "
        "cores support: c0: add, softmax"
    )


def test_nan_capacity_is_one_line(tmp_path: Path) -> None:
    data = problem_data()
    data["memories"] = [{"id": "dram", "capacity_bytes": float("nan")}]
    assert load_error(tmp_path, data) == (
        f"{tmp_path / 'p.json'}: memories[0].capacity_bytes: Input should be a valid integer "
        "(got nan)"
    )


def test_rows_0_is_one_line(tmp_path: Path) -> None:
    data = hardware_data()
    data["cores"][0]["rows"] = 0
    file = tmp_path / "hw.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_hardware_file(file)
    assert str(err.value) == (
        f"{file}: cores[0].rows: Input should be greater than or equal to 1 (got 0)"
    )


def test_unknown_memory_says_memories_not_memorys(tmp_path: Path) -> None:
    data = problem_data()
    data["cores"][0]["memory"] = "l2"
    assert load_error(tmp_path, data) == (
        f"{tmp_path / 'p.json'}: cores[0].memory: unknown memory 'l2'; known memories: 'dram', 'l1'"
    )


# --- item 1 in build: a workload too large for the solvers is an input error, not a traceback ---


def test_built_tile_too_large_for_cpsat_names_the_layer() -> None:
    # attention_head with M = 2**20 tokens in one tile: QKᵀ is 2**20 x 64 x 2**20 MACs
    workload = load_workload("attention_head", {"M": 2**20})
    with pytest.raises(InputError) as err:
        build_problem(workload, load_hardware_file(HARDWARE_FILE), TilingSpec(tiles=1))
    lines = str(err.value).splitlines()
    assert lines[0] == f"{WORKLOAD_FILE}: 3 problems"
    assert lines[1] == (
        "  - layers.QKT: a tile takes 1.47335e+13 pJ on core 'c0'; the solvers accept at most "
        "1.09951e+12 pJ (cut the layer into more tiles, or make it smaller)"
    )


def test_built_horizon_too_large_for_cpsat_is_an_input_error() -> None:
    # 64 tiles of 2**14 tokens: every tile fits, their sum does not
    workload = load_workload("attention_head", {"M": 2**20})
    hardware = load_hardware_file(ROOT / "models" / "hardware" / "quad_bus.yaml")
    with pytest.raises(InputError) as err:
        build_problem(workload, hardware, TilingSpec(tiles=64))
    message = str(err.value)
    assert message.startswith(
        f"the problem of {str(WORKLOAD_FILE)!r} on {str(hardware.source)!r}: the tasks' slowest "
        "options and the tensors' slowest transfers sum to "
    )
    assert "cycles; the solvers accept at most 1099511627776 (2**40)" in message
    assert "\n" not in message


def test_schedule_start_too_large_for_a_cpsat_hint_is_an_input_error(tmp_path: Path) -> None:
    # a hint starting at 10**30 crashed solve (TypeError appending the hint to CP-SAT's model)
    data = yaml.safe_load(SCHEDULE_FILE.read_text(encoding="utf-8"))
    data["tasks"][0]["start"] = 10**30
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_schedule(path)
    assert str(err.value) == f"{path}: tasks[0].start: {LIMIT} (got {10**30})"
    data["tasks"][0]["start"] = -5  # still loads: the validator reports it
    path.write_text(json.dumps(data), encoding="utf-8")
    assert load_schedule(path).tasks[0].start == -5


HUGE_HEX = "0x" + "f" * 5000  # YAML reads it as an int; Python cannot print it in decimal


@pytest.mark.parametrize(
    ("kind", "old"),
    [
        ("problem", "size_bytes: 512"),
        ("problem", "energy_pj: 100.0"),
        ("schedule", "start: 0"),
        ("hardware", "rows: 32"),
        ("hardware", "capacity_bytes: 1048576"),
        ("workload", "default: 256"),
        ("workload", "shape: [M, N]"),
    ],
)
def test_integers_too_long_to_print_are_input_errors(tmp_path: Path, kind: str, old: str) -> None:
    # repr() of a 5000-hex-digit integer raised ValueError while the error message was made
    source = {
        "problem": PROBLEM_FILE,
        "schedule": SCHEDULE_FILE,
        "hardware": HARDWARE_FILE,
        "workload": WORKLOAD_FILE,
    }[kind]
    key, _, _ = old.partition(":")
    new = (
        f"{key}: {HUGE_HEX}"
        if kind != "workload" or key == "default"
        else f"{key}: [{HUGE_HEX}, N]"
    )
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"huge{source.suffix}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    loader: Callable[[Path], object] = {
        "problem": load_problem,
        "schedule": load_schedule,
        "hardware": load_hardware_file,
        "workload": load_workload_file,
    }[kind]
    with pytest.raises(InputError) as err:
        loader(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert "an integer of 5000 hexadecimal digits" in message or "is too large" in message


@pytest.mark.parametrize(
    "text",
    [
        "op,shape,cycles,energy_pj\nmatmul,," + "9" * 5000 + ",1\n",
        "op,shape,cycles,energy_pj\nmatmul,m=" + "9" * 5000 + ",1,1\n",
    ],
    ids=["cycles", "shape"],
)
def test_csv_integers_too_long_are_input_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_cost_table(path)
    assert str(err.value).startswith(f"{path}: [0].")


def test_workload_name_too_long_for_a_file_is_an_input_error() -> None:
    # Path.exists() raised OSError (ENAMETOOLONG) while telling a name from a path
    with pytest.raises(InputError) as err:
        load_workload("a" * 5000)
    assert str(err.value) == f"--workload: {'a' * 57 + '...'!r}: file name too long"


def test_input_error_raised_through_a_with_block_stays_an_input_error() -> None:
    """A frozen InputError turned into FrozenInstanceError when a `with` block set its
    __traceback__ on the way out (contextlib does)."""
    from contextlib import contextmanager

    @contextmanager
    def guard() -> Any:
        yield

    with pytest.raises(InputError, match=r"x\.json: a: bad"), guard():
        raise input_error("x.json", "a", "bad")
