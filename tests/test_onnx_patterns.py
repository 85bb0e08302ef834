# mypy: disable-error-code="index,arg-type"
# (tests look tasks and tensors up by literal ids)
"""ONNX import of the patterns PyTorch exporters write, on graphs built with onnx.helper.

Each graph: it imports, the layer count is the count of its compute nodes, and the MACs are the
model's, asserted exactly. Where a layer reads through a view (Split, Slice, Gather) or fills a
Concat, its index maps are checked element by element against the onnx reference evaluator:
every movement layer's output element must be the element its index map names.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from cpsched.frontend.build import build_problem, load_hardware
from cpsched.frontend.tiling import TilingSpec, read_box, tile_dependencies, tile_workload
from cpsched.frontend.workload.onnx_fold import fold_constants
from cpsched.frontend.workload.onnx_import import workload_from_onnx
from cpsched.frontend.workload.precision import Precision, parse_precision
from cpsched.frontend.workload.spec import Workload
from cpsched.model.errors import InputError

node = helper.make_node


def graph(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, list[int]],
    weights: dict[str, np.ndarray],
    outputs: list[str],
    opset: int = 17,
) -> onnx.ModelProto:
    """A model with float inputs, the given initializers and outputs of inferred type."""
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
        initializer=[numpy_helper.from_array(v, n) for n, v in weights.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def rand(*shape: int) -> np.ndarray:
    return (
        np.random.default_rng(len(shape) * 7 + sum(shape)).standard_normal(shape).astype(np.float32)
    )


def i64(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def macs(w: Workload) -> int:
    return sum(layer.macs() for layer in w.layers if layer.op == "matmul")


def check_movement(model: onnx.ModelProto, w: Workload) -> int:
    """Every element a movement layer writes is, by its index maps, the element ONNX computes.

    Nodes are named after their outputs, so layer and tensor names are ONNX tensor names. The
    model is evaluated with every tensor as an output (random inputs: distinct values). Returns
    the number of layers checked.
    """
    folded = fold_constants(model)
    names = [o for n in folded.graph.node for o in n.output]
    probe = onnx.ModelProto()
    probe.CopyFrom(folded)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    feeds = {
        i.name: rand(*[d.dim_value for d in i.type.tensor_type.shape.dim])
        for i in folded.graph.input
    }
    values = dict(zip(names, ReferenceEvaluator(probe).run(None, feeds), strict=True))
    values.update(feeds)
    values.update({i.name: numpy_helper.to_array(i) for i in folded.graph.initializer})
    checked = 0
    for layer in w.layers:
        if layer.op != "transpose":
            continue
        out = values[layer.name].reshape(-1)
        out_shape = w.tensor_shape(layer.name)
        loops = list(layer.loops)
        for point in itertools.product(*(range(layer.loops[d]) for d in loops)):
            at = dict(zip(loops, point, strict=True))
            f_out = np.ravel_multi_index(tuple(at[d] for d in layer.output.dims), out_shape)
            found = []
            for op in layer.inputs:
                if any(d in layer.row_dims and d not in op.dims for d in layer.row_dims):
                    # a Concat operand with no dim for the output's outer part: the tile holds
                    # that part whole (a row dim), so it reads the operand whole; match values
                    src = values[op.tensor].reshape(-1)
                    if out[f_out] in src:
                        found.append(out[f_out])
                    continue
                shape = w.tensor_shape(op.tensor)
                offsets = op.offsets or (0,) * len(op.dims)
                index = tuple(at[d] + o for d, o in zip(op.dims, offsets, strict=True))
                if all(0 <= i < s for i, s in zip(index, shape, strict=True)):
                    src = values[op.tensor].reshape(-1)
                    found.append(src[np.ravel_multi_index(index, shape)])
            assert len(found) == 1, (layer.name, at)
            assert found[0] == out[f_out], (layer.name, at)
        checked += 1
    return checked


def test_shape_chain_folds_away() -> None:
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape: the target becomes a constant."""
    s, d, h = 8, 16, 2
    nodes = [
        node("MatMul", ["X", "W"], ["y"], name="y"),
        node("Shape", ["y"], ["shp"], name="shp"),
        node("Gather", ["shp", "zero"], ["n"], name="n", axis=0),
        node("Unsqueeze", ["n", "ax0"], ["n1"], name="n1"),
        node("Concat", ["n1", "heads"], ["target"], name="target", axis=0),
        node("Reshape", ["y", "target"], ["y3"], name="y3"),
        node("Transpose", ["y3"], ["yt"], name="yt", perm=[1, 0, 2]),
        node("Softmax", ["yt"], ["p"], name="p", axis=-1),
    ]
    weights = {"W": rand(d, d), "zero": i64(0), "ax0": i64(0), "heads": i64(h, d // h)}
    weights["zero"] = np.array(0, np.int64)
    m = graph(nodes, {"X": [s, d]}, weights, ["p"])
    w = workload_from_onnx(m, "chain.onnx")
    assert [layer.name for layer in w.layers] == ["y", "yt", "p"]
    assert macs(w) == s * d * d
    assert check_movement(m, w) == 1


def test_packed_in_projection_picks_weight_rows() -> None:
    """nn.MultiheadAttention's in_proj_weight [3D, D]: Gather and Slice pick q, k, v rows."""
    s, d = 4, 8
    nodes = [
        node("Reshape", ["Win", "split3"], ["W3"], name="W3"),
        node("Gather", ["W3", "i0"], ["Wq"], name="Wq", axis=0),
        node("Gather", ["W3", "i1"], ["Wk"], name="Wk", axis=0),
        node("Slice", ["Win", "lo", "hi", "ax0"], ["Wv"], name="Wv"),
        *(node("Transpose", [f"W{c}"], [f"W{c}t"], name=f"W{c}t", perm=[1, 0]) for c in "qkv"),
        *(node("MatMul", ["X", f"W{c}t"], [c], name=c) for c in "qkv"),
        node("Slice", ["bin", "lo", "hi", "ax0"], ["bv"], name="bv"),
        node("Add", ["v", "bv"], ["vb"], name="vb"),
    ]
    weights = {
        "Win": rand(3 * d, d),
        "bin": rand(3 * d),
        "split3": i64(3, d, d),
        "i0": np.array(0, np.int64),
        "i1": np.array(1, np.int64),
        "lo": i64(2 * d),
        "hi": i64(3 * d),
        "ax0": i64(0),
    }
    m = graph(nodes, {"X": [s, d]}, weights, ["q", "k", "vb"])
    w = workload_from_onnx(m, "mha.onnx")
    assert [layer.name for layer in w.layers] == ["q", "k", "v", "vb"]
    assert macs(w) == 3 * s * d * d
    assert "Win" not in w.tensors and "bin" not in w.tensors  # only the picked rows remain
    assert w.tensors["Wqt"].shape == (d, d) and w.tensors["bv"].shape == (d,)


def fused_qkv(s: int = 8, d: int = 16, h: int = 2) -> onnx.ModelProto:
    """nanoGPT attention: one projection to 3D, Split into q, k, v, heads by Reshape."""
    hd = d // h
    nodes = [
        node("MatMul", ["X", "Wqkv"], ["qkv"], name="qkv"),
        node("Split", ["qkv", "sizes"], ["q", "k", "v"], name="split", axis=1),
        *(node("Reshape", [c, "heads"], [f"{c}3"], name=f"{c}3") for c in "qkv"),
        node("Transpose", ["q3"], ["qh"], name="qh", perm=[1, 0, 2]),
        node("Transpose", ["k3"], ["kt"], name="kt", perm=[1, 2, 0]),
        node("Transpose", ["v3"], ["vh"], name="vh", perm=[1, 0, 2]),
        node("MatMul", ["qh", "kt"], ["att"], name="att"),
        node("Softmax", ["att"], ["p"], name="p", axis=-1),
        node("MatMul", ["p", "vh"], ["o"], name="o"),
        node("Transpose", ["o"], ["ot"], name="ot", perm=[1, 0, 2]),
        node("Reshape", ["ot", "flat"], ["o2"], name="o2"),
        node("MatMul", ["o2", "Wo"], ["y"], name="y"),
    ]
    weights = {
        "Wqkv": rand(d, 3 * d),
        "Wo": rand(d, d),
        "sizes": i64(d, d, d),
        "heads": i64(s, h, hd),
        "flat": i64(s, d),
    }
    return graph(nodes, {"X": [s, d]}, weights, ["y"], opset=13)


def test_split_of_fused_qkv_is_a_view_with_exact_head_reads() -> None:
    s, d, h = 8, 16, 2
    m = fused_qkv(s, d, h)
    w = workload_from_onnx(m, "gpt2.onnx")
    layers = w.layer_by_name()
    assert list(layers) == ["qkv", "qh", "kt", "vh", "att", "p", "o", "ot", "y"]
    hd = d // h
    assert macs(w) == s * d * 3 * d + 2 * h * s * s * hd + s * d * d
    # The projection's 3D columns are cut into (3, heads, head size); q reads index 0 of the 3.
    assert w.tensors["Wqkv"].shape == (d, 3, h, hd)
    qh = layers["qh"].inputs[0]
    assert qh.tensor == "qkv" and qh.offsets[1] == 0 and layers["qh"].loops[qh.dims[1]] == 1
    assert layers["kt"].inputs[0].offsets[1] == 1 and layers["vh"].inputs[0].offsets[1] == 2
    assert check_movement(m, w) == 4
    # Tiled by 2 along tokens: q's transpose reads the q columns of its own token rows only.
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=2))
    assert p.task_by_id["qh.t1"].inputs == ("qkv.t1.o[4:8,0:1,0:2,0:8]",)
    assert p.tensor_by_id["qkv.t1.o[4:8,0:1,0:2,0:8]"].size_bytes == 4 * d * 4


def test_split_views_match_enumeration_under_head_tiles() -> None:
    """Reads through a view, tiled along heads, are exactly the elements enumeration finds."""
    w = workload_from_onnx(fused_qkv(), "gpt2.onnx")
    layers = w.layer_by_name()
    spec = TilingSpec(tiles=2, layers={"kt": {"a1": 2}, "vh": {"a1": 2}})
    tw = tile_workload(w, spec)
    for name in ("kt", "vh"):
        layer = layers[name]
        op = layer.inputs[0]
        shape = w.tensor_shape(op.tensor)
        for tile in tw.tiles_of(name):
            box = read_box(tile, op, shape)
            points = {
                tuple(p[d] + o for d, o in zip(op.dims, op.offsets, strict=True))
                for p in (
                    dict(zip(tile.ranges, combo, strict=True))
                    for combo in itertools.product(*(range(*r) for r in tile.ranges.values()))
                )
            }
            assert box is not None
            assert points == set(itertools.product(*(range(lo, hi) for lo, hi in box)))
    deps = tile_dependencies(tw)
    assert deps["kt.t0"] == {"qkv.t0"} and deps["kt.t3"] == {"qkv.t1"}


def rotate_half_graph(s: int = 4, hd: int = 8) -> onnx.ModelProto:
    """RoPE: q * cos + rotate_half(q) * sin, rotate_half = cat(-q[..., h:], q[..., :h])."""
    half = hd // 2
    nodes = [
        node("MatMul", ["X", "Wq"], ["q"], name="q"),
        node("Slice", ["q", "zero", "mid", "last"], ["x1"], name="x1"),
        node("Slice", ["q", "mid", "end", "last"], ["x2"], name="x2"),
        node("Neg", ["x2"], ["nx2"], name="nx2"),
        node("Concat", ["nx2", "x1"], ["rot"], name="rot", axis=-1),
        node("Mul", ["q", "cos"], ["qc"], name="qc"),
        node("Mul", ["rot", "sin"], ["rs"], name="rs"),
        node("Add", ["qc", "rs"], ["qr"], name="qr"),
    ]
    weights = {
        "Wq": rand(hd, hd),
        "cos": rand(s, hd),
        "sin": rand(s, hd),
        "zero": i64(0),
        "mid": i64(half),
        "end": i64(2**62),
        "last": i64(-1),
    }
    return graph(nodes, {"X": [s, hd]}, weights, ["qr"])


def test_rotate_half_slices_neg_concat() -> None:
    s, hd = 4, 8
    m = rotate_half_graph(s, hd)
    w = workload_from_onnx(m, "rope.onnx")
    layers = w.layer_by_name()
    assert list(layers) == ["q", "nx2", "rot", "qc", "rs", "qr"]
    assert macs(w) == s * hd * hd
    assert layers["nx2"].macs() == s * hd // 2  # the negation touches half the row
    assert layers["rot"].function == "concat" and layers["rot"].op == "transpose"
    assert check_movement(m, w) == 1
    # Each concat tile reads the two halves of its own rows of q (one of them through Neg).
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=2))
    assert p.task_by_id["rot.t1"].inputs == ("nx2.t1.o", "q.t1.o[2:4,0:1,0:4]")


def test_reduce_mean_axes_from_constant_node_opset18() -> None:
    """Opset 18 gives ReduceMean's axes as an input; exporters write it as a Constant node."""
    s, d = 4, 8
    nodes = [
        node("Constant", [], ["axes"], name="axes", value=numpy_helper.from_array(i64(-1))),
        node("Pow", ["X", "two"], ["sq"], name="sq"),
        node("ReduceMean", ["sq", "axes"], ["ms"], name="ms", keepdims=1),
        node("Add", ["ms", "eps"], ["mse"], name="mse"),
        node("Sqrt", ["mse"], ["rms"], name="rms"),
        node("Reciprocal", ["rms"], ["inv"], name="inv"),
        node("Mul", ["X", "inv"], ["y"], name="y"),
    ]
    weights = {"two": np.array(2, np.float32), "eps": np.array(1e-6, np.float32)}
    m = graph(nodes, {"X": [s, d]}, weights, ["y"], opset=18)
    w = workload_from_onnx(m, "rms.onnx")
    layers = w.layer_by_name()
    assert list(layers) == ["sq", "ms", "mse", "rms", "inv", "y"]
    assert layers["ms"].reduced_dims() == ("a1",) and layers["ms"].output.dims == ("a0",)
    assert sum(layer.macs() for layer in w.layers) == 2 * s * d + 3 * s + s * d


def test_causal_mask_by_trilu_where_becomes_a_constant() -> None:
    """ones -> Trilu -> Equal -> Where(mask, -inf, 0): all folded; the scores add one mask."""
    s, d = 4, 8
    nodes = [
        node(
            "ConstantOfShape",
            ["ss"],
            ["ones"],
            name="ones",
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
        node("Trilu", ["ones"], ["tri"], name="tri", upper=0),
        node("Equal", ["tri", "zerof"], ["masked"], name="masked"),
        node("Where", ["masked", "ninf", "zerof"], ["bias"], name="bias"),
        node("Transpose", ["X"], ["xt"], name="xt", perm=[1, 0]),
        node("MatMul", ["X", "xt"], ["sc"], name="sc"),
        node("Add", ["sc", "bias"], ["msc"], name="msc"),
        node("Softmax", ["msc"], ["p"], name="p", axis=-1),
        node("Cast", ["p"], ["p16"], name="p16", to=TensorProto.FLOAT16),
    ]
    weights = {
        "ss": i64(s, s),
        "zerof": np.array(0, np.float32),
        "ninf": np.array(-np.inf, np.float32),
    }
    m = graph(nodes, {"X": [s, d]}, weights, ["p16"])
    w = workload_from_onnx(m, "mask.onnx")
    layers = w.layer_by_name()
    assert list(layers) == ["xt", "sc", "msc", "p", "p16"]
    assert w.tensors["bias"].shape == (s, s) and w.tensors["bias"].kind == "weight"
    assert macs(w) == s * d * s
    assert layers["p16"].function == "cast" and layers["p16"].output.bits == 16


def test_where_with_runtime_mask_and_silu_gating() -> None:
    s, f = 4, 8
    nodes = [
        node("Sigmoid", ["X"], ["sg"], name="sg"),
        node("Mul", ["X", "sg"], ["silu"], name="silu"),
        node("Greater", ["X", "zero"], ["pos"], name="pos"),
        node("Where", ["pos", "silu", "X"], ["y"], name="y"),
        node("Expand", ["b", "shape"], ["bb"], name="bb"),
        node("Add", ["y", "bb"], ["z"], name="z"),
    ]
    weights = {"zero": np.array(0, np.float32), "shape": i64(s, f)}
    m = graph(nodes, {"X": [s, f], "b": [1, f]}, weights, ["z"])
    w = workload_from_onnx(m, "silu.onnx")
    layers = w.layer_by_name()
    assert list(layers) == ["sg", "silu", "pos", "y", "bb", "z"]
    assert [op.tensor for op in layers["y"].inputs] == ["pos", "silu", "X"]
    assert layers["bb"].function == "expand" and layers["bb"].macs() == s * f


def test_every_unsupported_operator_in_one_message() -> None:
    nodes = [
        node("MaxPool", ["X"], ["c1"], name="pool1", kernel_shape=[1, 1]),
        node("MaxPool", ["c1"], ["c2"], name="pool2", kernel_shape=[1, 1]),
        node("TopK", ["c2", "k"], ["v", "i"], name="topk"),
    ]
    m = graph(nodes, {"X": [1, 1, 4, 4]}, {"k": i64(2)}, ["v"])
    with pytest.raises(InputError) as err:
        workload_from_onnx(m, "net.onnx")
    lines = str(err.value).splitlines()
    assert lines[0] == "net.onnx: 2 problems"
    assert lines[1].startswith(
        "  - node 'pool1': unsupported ONNX operator 'MaxPool' (2 nodes, the first named); "
        "supported: "
    )
    assert lines[2] == "  - node 'topk': unsupported ONNX operator 'TopK'"


def test_gather_with_runtime_indices_on_activation_is_an_error() -> None:
    nodes = [
        node("ArgMax", ["X"], ["i"], name="i", axis=1, keepdims=0),
        node("Gather", ["X", "i"], ["g"], name="g", axis=0),
    ]
    m = graph(nodes, {"X": [4, 4]}, {}, ["g"])
    with pytest.raises(InputError, match="unsupported ONNX operator 'ArgMax'"):
        workload_from_onnx(m, "g.onnx")


def test_precision_per_kind_sets_bytes() -> None:
    m = fused_qkv()
    w = workload_from_onnx(m, "gpt2.onnx", precision=Precision(weights=8))
    assert w.tensors["Wqkv"].bits == 8 and w.tensors["X"].bits == 32
    assert {layer.output.bits for layer in w.layers} == {32}
    w = workload_from_onnx(m, "gpt2.onnx", precision=parse_precision("weights=4,a=16"))
    assert w.tensors["Wqkv"].bits == 4 and w.tensors["X"].bits == 16
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=1))
    assert p.tensor_by_id["Wqkv"].size_bytes == 16 * 48 * 4 // 8


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("8", Precision(weights=8, activations=8)),
        ("weights=8", Precision(weights=8)),
        ("w=4, activations=16", Precision(weights=4, activations=16)),
    ],
)
def test_parse_precision(text: str, want: Precision) -> None:
    assert parse_precision(text) == want


@pytest.mark.parametrize("text", ["0", "65", "weights=8,weights=4", "bias=8", "w8", "w=x"])
def test_parse_precision_rejects(text: str) -> None:
    with pytest.raises(InputError, match=r"^--bits: .*expected N or weights=N,activations=M"):
        parse_precision(text)


def test_weights_declared_by_shape_only_import() -> None:
    """Stream's example files give initializers dims and no data: regression for a ValueError
    ("cannot reshape array of size 0") raised while folding, instead of importing."""
    s, d, f = 4, 8, 16
    nodes = [
        node("Gemm", ["X", "W1"], ["h"], name="h"),
        node("Relu", ["h"], ["y"], name="y"),
    ]
    m = graph(nodes, {"X": [s, d]}, {}, ["y"])
    m.graph.initializer.append(TensorProto(name="W1", data_type=TensorProto.FLOAT, dims=[d, f]))
    w = workload_from_onnx(m, "stream.onnx")
    assert [layer.name for layer in w.layers] == ["h", "y"] and macs(w) == s * d * f
    assert w.tensors["W1"].shape == (d, f)


def test_activations_with_parameters_are_one_layer_each() -> None:
    """Clip (bounds as inputs), PRelu (a slope per channel), HardSwish: one layer each; the
    scalar bounds fold into the operation, the slope vector is a weight operand."""
    nodes = [
        node("Clip", ["X", "lo", "hi"], ["c"], name="c"),
        node("PRelu", ["c", "slope"], ["p"], name="p"),
        node("HardSwish", ["p"], ["h"], name="h"),
    ]
    weights = {
        "lo": np.array(0, np.float32),
        "hi": np.array(6, np.float32),
        "slope": rand(8),
    }
    w = workload_from_onnx(graph(nodes, {"X": [4, 8]}, weights, ["h"]), "act.onnx")
    assert [(layer.name, layer.function) for layer in w.layers] == [
        ("c", "clip"),
        ("p", "prelu"),
        ("h", "hard_swish"),
    ]
    assert [op.tensor for op in w.layer_by_name()["p"].inputs] == ["c", "slope"]


def test_embedding_lookup_is_refused_with_the_reason() -> None:
    nodes = [node("Gather", ["emb", "ids"], ["e"], name="embed", axis=0)]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [4])],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(rand(10, 8), "emb")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(InputError, match=r"node 'embed': Gather with indices 'ids' computed at"):
        workload_from_onnx(m, "embed.onnx")


def test_qdq_model_keeps_int8_weights() -> None:
    """A QDQ-quantized MatMul (onnxruntime's format): the int8 weight is read as stored, 8 bits,
    through its DequantizeLinear (not folded to float32); activation Q/DQ are vector ops."""
    s, d, f = 4, 8, 16
    nodes = [
        node("QuantizeLinear", ["X", "sx", "zx"], ["xq"], name="xq"),
        node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="xd"),
        node("DequantizeLinear", ["Wq", "sw", "zw"], ["Wd"], name="Wd"),
        node("MatMul", ["xd", "Wd"], ["y"], name="y"),
    ]
    weights = {
        "Wq": np.ones((d, f), np.int8),
        "sw": np.array(0.1, np.float32),
        "zw": np.array(0, np.int8),
        "sx": np.array(0.1, np.float32),
        "zx": np.array(0, np.int8),
    }
    w = workload_from_onnx(graph(nodes, {"X": [s, d]}, weights, ["y"]), "qdq.onnx")
    layers = w.layer_by_name()
    assert [(n, layer.function, layer.output.bits) for n, layer in layers.items()] == [
        ("xq", "quantize", 8),
        ("xd", "dequantize", 32),
        ("y", "", 32),
    ]
    assert [op.tensor for op in layers["y"].inputs] == ["xd", "Wq"]
    assert w.tensors["Wq"].bits == 8 and macs(w) == s * d * f
