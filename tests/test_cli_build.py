# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""`cpsched build` and `cpsched models` through the CLI: outputs, exit codes and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from cpsched.cli import app
from cpsched.model.io import load_problem

runner = CliRunner()


def attention_head_onnx(m: int, n: int, h: int) -> onnx.ModelProto:
    """The attention head of models/workloads/attention_head.yaml, as an ONNX graph."""
    nodes = [
        helper.make_node("MatMul", ["X", "Wq"], ["q"], name="Q"),
        helper.make_node("MatMul", ["X", "Wk"], ["k"], name="K"),
        helper.make_node("MatMul", ["X", "Wv"], ["v"], name="V"),
        helper.make_node("Transpose", ["k"], ["kt"], name="KT", perm=[1, 0]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="QKT"),
        helper.make_node("Softmax", ["s"], ["p"], name="SM", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"], name="AV"),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [m, n])],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, None)],
        initializer=[
            numpy_helper.from_array(np.zeros((n, h), np.float32), w) for w in ("Wq", "Wk", "Wv")
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_build_writes_a_loadable_problem(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    r = runner.invoke(
        app,
        [
            "build",
            "--workload",
            "attention_head",
            "--set",
            "M=128",
            "--hardware",
            "single_core",
            "--tiles",
            "2",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "14 tasks" in r.output
    p = load_problem(out)
    assert p.task_by_id["Q.t1"].inputs == ("X[64:128,0:64]", "Wq")
    assert json.loads(out.read_text())["format"] == "cpsched-problem/2"


def test_build_modes_and_allocation_file(tmp_path: Path) -> None:
    alloc = tmp_path / "alloc.yaml"
    alloc.write_text("SM: c3\n")
    out = tmp_path / "p.yaml"
    r = runner.invoke(
        app,
        [
            "build",
            "-w",
            "attention_head",
            "--tiles",
            "2",
            "--mode",
            "layer-by-layer",
            "--allocation",
            str(alloc),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    p = load_problem(out)
    assert len(p.barriers) == 4
    assert [o.core for o in p.task_by_id["SM.t0"].options] == ["c3"]
    r = runner.invoke(
        app, ["build", "-w", "attention_head", "--allocation", "layer", "-o", str(out), "--force"]
    )
    assert r.exit_code == 0 and len(load_problem(out).groups) == 7


def test_build_from_onnx_and_cost_table(tmp_path: Path) -> None:
    f = tmp_path / "head.onnx"
    onnx.save(attention_head_onnx(m=64, n=16, h=16), str(f))
    costs = tmp_path / "c.json"
    costs.write_text('[{"op": "softmax", "cycles": 9, "energy_pj": 3.5}]')
    out = tmp_path / "p.json"
    r = runner.invoke(
        app, ["build", "-w", str(f), "--tiles", "4", "--costs", str(costs), "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    sm = load_problem(out).task_by_id["SM.t2"]
    assert {(o.duration_cycles, o.energy_pj) for o in sm.options} == {(9, 3.5)}


def run_error(args: list[str], tmp_path: Path) -> str:
    r = runner.invoke(app, ["build", *args, "-o", str(tmp_path / "p.json")])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "p.json").exists()
    return r.output


def test_build_errors(tmp_path: Path) -> None:
    out = run_error(["-w", "nope"], tmp_path)
    assert "error: --workload: unknown workload 'nope'; bundled: attention_head, bert_base" in out
    out = run_error(["-w", "attention_head", "--hardware", "nope"], tmp_path)
    assert "error: --hardware: unknown hardware 'nope'; bundled: edge_npu" in out
    out = run_error(["-w", "attention_head", "--set", "T=3"], tmp_path)
    assert (
        "--set: T: unknown parameter of workload 'attention_head'; its parameters: M (default 256)"
        in out
    )
    out = run_error(["-w", "attention_head", "--tiles", "3"], tmp_path)
    assert "--tiles: 7 problems" in out and "layers.Q.m: 3 tiles do not divide dim 'm'" in out
    out = run_error(["-w", "attention_head", "--tiles", "512"], tmp_path)
    assert "512 tiles exceed dim 'm' of layer 'Q' (size 256)" in out
    out = run_error(["-w", "attention_head", "--mode", "eager"], tmp_path)
    assert "error: --mode: 'eager'; accepted: fused, layer-by-layer" in out
    out = run_error(["-w", "attention_head", "--allocation", "core"], tmp_path)
    assert "--allocation: 'core' is neither tile, layer nor an existing file" in out
    out = run_error(
        ["-w", "attention_head", "--hardware", "hetero_quad", "--set", "M=100", "--tiles", "8"],
        tmp_path,
    )
    assert "do not divide dim" in out


def test_models_lists_bundled_workloads_and_hardware() -> None:
    r = runner.invoke(app, ["models"])
    assert r.exit_code == 0, r.output
    for name in [
        "attention_head",
        "bert_base",
        "edge_transformer",
        "gpt2_small",
        "llama_block",
        "mha",
        "vit_b16",
        "edge_npu",
        "gap8",
        "hetero_quad",
        "mesh4x4",
        "quad_bus",
        "single_core",
    ]:
        assert name in r.output
    assert "M=256" in r.output and "HEADS=12" in r.output
