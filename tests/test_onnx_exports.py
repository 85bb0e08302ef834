# mypy: disable-error-code="index,arg-type"
"""Real PyTorch exports (tests/data/onnx, made by tools/export_onnx_blocks.py) import exactly.

The committed blocks have d_model 64, 4 heads of 16, an MLP of width 64 and 16 tokens, exported
by the TorchScript exporter (folding on and off, onnxsim) and the dynamo exporter. Their
weights are zeros (only shapes matter). For each: one layer per compute node of the folded
graph, and the model's MACs: a projection is 16 x 64 x 64, QKᵀ and PV are 4 heads x 16 x 16 x
16 each, an MLP matmul 16 x 64 x 64.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from cpsched.check.validate import validate
from cpsched.cli import app
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import TilingSpec
from cpsched.frontend.workload.onnx_fold import fold_constants
from cpsched.frontend.workload.onnx_import import load_onnx
from cpsched.frontend.workload.onnx_ops import SHAPE_ONLY, VIEWS
from cpsched.frontend.workload.precision import Precision
from cpsched.model.errors import InputError
from cpsched.model.io import load_problem, load_schedule

DATA = Path(__file__).parent / "data" / "onnx"
S, D, H, HD, FF = 16, 64, 4, 16, 64
PROJ = S * D * D
ATTN = 2 * H * S * S * HD  # QKᵀ and PV
MLP = S * D * FF

# file -> (layers, MACs of the matmuls)
EXPECTED = {
    "encoder_post_ts17_d64_s16.onnx": (25, 4 * PROJ + 2 * MLP + ATTN),
    "encoder_pre_dynamo20_d64_s16.onnx": (25, 4 * PROJ + 2 * MLP + ATTN),
    "mha_ts17_nofold_d64_s16.onnx": (16, 4 * PROJ + ATTN),
    "gpt2_dynamo18_d64_s16.onnx": (29, 4 * PROJ + 2 * MLP + ATTN),
    "gpt2_ts17_sim_d64_s16.onnx": (26, 4 * PROJ + 2 * MLP + ATTN),
    "llama_ts17_nofold_d64_s16.onnx": (51, 4 * PROJ + 3 * MLP + ATTN),
    "llama_dynamo20_d64_s16.onnx": (47, 4 * PROJ + 3 * MLP + ATTN),
}


def test_every_committed_export_is_expected() -> None:
    assert sorted(p.name for p in DATA.glob("*.onnx")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_export_imports_with_exact_layers_and_macs(name: str) -> None:
    layers, macs = EXPECTED[name]
    w = load_onnx(DATA / name)
    folded = fold_constants(onnx.load(str(DATA / name))).graph
    compute = [n for n in folded.node if n.op_type not in (*SHAPE_ONLY, *VIEWS, "Constant")]
    assert len(w.layers) == len(compute) == layers
    assert sum(layer.macs() for layer in w.layers if layer.op == "matmul") == macs
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=4))
    assert len(p.tasks) == 4 * layers


def test_gpt2_split_reads_one_third_of_the_fused_projection() -> None:
    """q, k and v read their own index of the 3 in the biased projection [tokens, 3, 4, 16]."""
    w = load_onnx(DATA / "gpt2_dynamo18_d64_s16.onnx")
    views = [(op.tensor, op.offsets) for layer in w.layers for op in layer.inputs if op.offsets]
    assert len({tensor for tensor, _ in views}) == 1
    assert w.tensor_shape(views[0][0]) == (S, 3, H, HD)
    assert sorted(offsets for _, offsets in views) == [(0, k, 0, 0) for k in range(3)]


def test_int8_weights_shrink_bytes_fourfold() -> None:
    path = str(DATA / "llama_dynamo20_d64_s16.onnx")
    fp32 = load_workload(path)
    int8 = load_workload(path, precision=Precision(weights=8))
    weights = [n for n, t in fp32.tensors.items() if t.kind == "weight" and len(t.shape) > 1]
    assert weights and all(fp32.tensors[n].bits == 32 for n in weights)
    assert all(int8.tensors[n].bits == 8 for n in weights)
    assert {layer.output.bits for layer in int8.layers} == {
        layer.output.bits for layer in fp32.layers
    }


def test_bits_on_a_yaml_workload_is_refused() -> None:
    with pytest.raises(InputError, match=r"^--bits: applies to ONNX workloads"):
        load_workload("attention_head", precision=Precision(weights=8))


@pytest.mark.slow  # a real subprocess or cluster: CI's slow run
def test_cli_solves_an_exported_encoder_layer(tmp_path: Path) -> None:
    """End to end: the exported post-LN encoder layer, int8 weights, a short CP-SAT solve."""
    out = tmp_path / "run"
    args = ["solve", "-w", str(DATA / "encoder_post_ts17_d64_s16.onnx"), "--bits", "weights=8"]
    args += ["-T", "2", "--time-limit", "3", "--seed", "1", "--workers", "1", "--out", str(out)]
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["status"] in ("optimal", "feasible")
    assert data["metrics"]["latency_cycles"] > 0
    problem = load_problem(out / "problem.json")
    assert len(problem.tasks) == 2 * 25
    assert validate(problem, load_schedule(out / "schedule.json")) == []


def test_cli_rejects_bad_bits(tmp_path: Path) -> None:
    path = str(DATA / "mha_ts17_nofold_d64_s16.onnx")
    r = CliRunner().invoke(
        app, ["build", "-w", path, "-o", str(tmp_path / "p.json"), "--bits", "w=0"]
    )
    assert r.exit_code == 2
    assert "--bits: 'w=0' in 'w=0'; expected N or weights=N,activations=M" in r.output


def test_models_states_which_onnx_ops_import() -> None:
    r = CliRunner().invoke(app, ["models"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "ONNX (--workload FILE.onnx, --bits): Constants are folded first" in text
    assert "views, read in place through offset index maps: Split, Slice, Gather" in text
