# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""ONNX import: the attention head gives the same problem as the bundled YAML; operators; errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import TilingSpec
from cpsched.frontend.workload.onnx_import import load_onnx, workload_from_onnx
from cpsched.model.errors import InputError


def model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, list[int]],
    weights: dict[str, tuple[int, ...]],
    outputs: list[str],
    name: str = "g",
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializer=[
            numpy_helper.from_array(np.zeros(s, np.float32), n) for n, s in weights.items()
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def attention_head(m: int = 256, n: int = 64, h: int = 64) -> onnx.ModelProto:
    nodes = [
        helper.make_node("MatMul", ["X", "Wq"], ["q"], name="Q"),
        helper.make_node("MatMul", ["X", "Wk"], ["k"], name="K"),
        helper.make_node("MatMul", ["X", "Wv"], ["v"], name="V"),
        helper.make_node("Transpose", ["k"], ["kt"], name="KT", perm=[1, 0]),
        helper.make_node("MatMul", ["q", "kt"], ["s"], name="QKT"),
        helper.make_node("Softmax", ["s"], ["p"], name="SM", axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"], name="AV"),
    ]
    return model(nodes, {"X": [m, n]}, {"Wq": (n, h), "Wk": (n, h), "Wv": (n, h)}, ["o"])


@pytest.mark.parametrize(
    ("hw", "tiles", "mode"), [("quad_bus", 4, "fused"), ("hetero_quad", 8, "layer-by-layer")]
)
def test_onnx_attention_head_equals_yaml(tmp_path: Path, hw: str, tiles: int, mode: str) -> None:
    path = tmp_path / "head.onnx"
    onnx.save(attention_head(), str(path))
    from_onnx = load_onnx(path)  # float32 -> 32-bit tensors
    from_yaml = load_workload("attention_head", {"BITS": 32})
    spec = TilingSpec(tiles=tiles, mode=mode)
    a = build_problem(from_onnx, load_hardware(hw), spec).model_dump()
    b = build_problem(from_yaml, load_hardware(hw), spec).model_dump()
    a.pop("name")
    b.pop("name")
    assert a == b


def test_unsupported_operator_names_node_and_lists_supported() -> None:
    nodes = [helper.make_node("MaxPool", ["X"], ["y"], name="pool1", kernel_shape=[2, 2])]
    m = model(nodes, {"X": [1, 1, 4, 4]}, {}, ["y"])
    with pytest.raises(InputError) as err:
        workload_from_onnx(m, "net.onnx")
    msg = str(err.value)
    assert msg.startswith(
        "net.onnx: node 'pool1': unsupported ONNX operator 'MaxPool'; supported: "
    )
    assert "Gemm" in msg and "LayerNormalization" in msg and "Softmax" in msg


def test_layernorm_gelu_gemm_residual_and_shape_only_nodes() -> None:
    d, f, t = 8, 16, 4
    nodes = [
        helper.make_node("Unsqueeze", ["X", "ax"], ["x3"], name="unsq"),
        helper.make_node("Squeeze", ["x3", "ax"], ["x2"], name="sq"),
        helper.make_node("Gemm", ["x2", "W1", "b1"], ["h"], name="FF1", transB=1),
        helper.make_node("Gelu", ["h"], ["g"], name="GELU", domain=""),
        helper.make_node("MatMul", ["g", "W2"], ["y"], name="FF2"),
        helper.make_node("Add", ["y", "X"], ["r"], name="RES"),
        helper.make_node("LayerNormalization", ["r", "gamma", "beta"], ["z"], name="LN", axis=-1),
        helper.make_node("ReduceMean", ["z"], ["mean"], name="MEAN", axes=[1], keepdims=1),
        helper.make_node("Sub", ["z", "mean"], ["c"], name="CENTER"),
        helper.make_node("Mul", ["c", "half"], ["out"], name="SCALE"),
    ]
    m = model(
        nodes,
        {"X": [t, d]},
        {"W1": (f, d), "b1": (f,), "W2": (f, d), "gamma": (d,), "beta": (d,), "half": ()},
        ["out"],
    )
    m.graph.initializer.append(numpy_helper.from_array(np.array([0], np.int64), "ax"))
    m.opset_import[0].version = 20  # Gelu is an ONNX operator from opset 20
    w = workload_from_onnx(m, "ffn.onnx")
    layers = w.layer_by_name()
    assert list(layers) == ["FF1", "GELU", "FF2", "RES", "LN", "MEAN", "CENTER", "SCALE"]
    assert layers["FF1"].op == "matmul" and layers["FF1"].inputs[1].dims == ("n", "k")
    assert layers["FF1"].inputs[0].tensor == "X"  # read through Unsqueeze/Squeeze
    assert layers["LN"].op == "layernorm" and layers["LN"].row_dims == ("a1",)
    assert layers["MEAN"].reduced_dims() == ("a1",)
    assert [op.tensor for op in layers["SCALE"].inputs] == ["CENTER"]  # scalar folded
    assert w.outputs == ("SCALE",)
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=2))
    assert p.task_by_id["FF1.t1"].inputs == ("X[2:4,0:8]", "W1", "b1")
    assert p.task_by_id["CENTER.t0"].inputs == ("LN.t0.o", "MEAN.t0.o")
    assert [t.id for t in p.tensors if t.store] == ["SCALE.t0.o", "SCALE.t1.o"]


def mha_onnx(m: int = 8, d: int = 8, h: int = 2) -> onnx.ModelProto:
    """Multi-head attention as exporters write it: 2-D projections, Reshape and Transpose."""
    hd = d // h
    node = helper.make_node
    nodes = [
        node("MatMul", ["X", "Wq"], ["q"], name="Q"),
        node("MatMul", ["X", "Wk"], ["k"], name="K"),
        node("MatMul", ["X", "Wv"], ["v"], name="V"),
        node("Reshape", ["q", "heads"], ["q3"], name="q_split"),
        node("Reshape", ["k", "heads"], ["k3"], name="k_split"),
        node("Reshape", ["v", "heads"], ["v3"], name="v_split"),
        node("Transpose", ["q3"], ["qh"], name="QH", perm=[1, 0, 2]),
        node("Transpose", ["k3"], ["kt"], name="KT", perm=[1, 2, 0]),
        node("Transpose", ["v3"], ["vh"], name="VH", perm=[1, 0, 2]),
        node("MatMul", ["qh", "kt"], ["s"], name="QKT"),
        node("Softmax", ["s"], ["p"], name="SM", axis=-1),
        node("MatMul", ["p", "vh"], ["o"], name="AV"),
        node("Transpose", ["o"], ["o2"], name="OT", perm=[1, 0, 2]),
        node("Reshape", ["o2", "flat"], ["o3"], name="merge"),
        node("MatMul", ["o3", "Wo"], ["y"], name="OUT"),
    ]
    m_ = model(nodes, {"X": [m, d]}, {w: (d, d) for w in ("Wq", "Wk", "Wv", "Wo")}, ["y"])
    m_.graph.initializer.append(numpy_helper.from_array(np.array([m, h, hd], np.int64), "heads"))
    m_.graph.initializer.append(numpy_helper.from_array(np.array([m, d], np.int64), "flat"))
    return m_


def test_reshape_to_heads_cuts_dims_and_stays_exact() -> None:
    w = workload_from_onnx(mha_onnx(), "mha.onnx")
    layers = w.layer_by_name()
    # D = 8 is cut into (heads 2, head size 4) wherever the Reshape reaches (Wq cols, Wo rows).
    assert w.tensors["Wq"].shape == (8, 2, 4) and w.tensors["Wo"].shape == (2, 4, 8)
    assert w.tensors["X"].shape == (8, 8)  # X's columns are summed over, never reshaped
    assert layers["Q"].loops == {"m": 8, "k": 8, "n_0": 2, "n_1": 4}
    assert layers["OUT"].inputs[0].dims == ("m", "k_0", "k_1")
    assert layers["QKT"].token_dim == "m" and layers["SM"].row_dims == ("a2",)
    assert "q_split" not in layers and "merge" not in layers  # shape-only: no task
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=2))
    assert p.task_by_id["QKT.t1"].inputs == ("QH.t1.o", "KT.t0.o", "KT.t1.o")
    assert p.task_by_id["OUT.t0"].inputs == ("OT.t0.o", "Wo")
    # Output projection row tile: 4 tokens x 8 columns of 32-bit floats.
    assert p.tensor_by_id["OUT.t0.o"].size_bytes == 4 * 8 * 4


def test_reshape_that_cannot_stay_exact_is_an_error() -> None:
    nodes = [
        helper.make_node("Reshape", ["X", "shape"], ["y"], name="odd"),
        helper.make_node("Relu", ["y"], ["z"], name="R"),
    ]
    m = model(nodes, {"X": [6, 4]}, {}, ["z"])
    m.graph.initializer.append(numpy_helper.from_array(np.array([4, 6], np.int64), "shape"))
    with pytest.raises(InputError, match=r"node 'odd': a Reshape cuts a dim of 6 at 4"):
        workload_from_onnx(m, "r.onnx")


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(InputError, match=r"x\.onnx"):
        load_onnx(bad)
