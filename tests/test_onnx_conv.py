# mypy: disable-error-code="index,arg-type"
"""Conv imports as a windowed matmul-kind layer whose tile reads, halos and gaps included, are
exactly the input elements ONNX says each tile's outputs depend on (found by the reference
evaluator with one-hot inputs), at any stride, padding, dilation and groups; the tensors
between tiles are checked element by element as in tests/test_tiling_exact.py."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from test_tiling_exact import check_exact

from cpsched.frontend.build import build_problem, load_hardware
from cpsched.frontend.costs import tile_bytes
from cpsched.frontend.tiling import TilingSpec, read_runs, tile_dependencies, tile_workload
from cpsched.frontend.workload.onnx_import import workload_from_onnx
from cpsched.model.errors import InputError


def conv_model(
    x: list[int], w: list[int], bias: bool = False, relu: bool = False, **attrs: object
) -> onnx.ModelProto:
    """One Conv node (ones as weights), optionally after a Relu `R` so that its input is a
    layer's output, cut into producer tiles."""
    ins = ["X", "W", "B"] if bias else ["X", "W"]
    inits = [numpy_helper.from_array(np.ones(w, np.float32), "W")]
    if bias:
        inits.append(numpy_helper.from_array(np.zeros(w[0], np.float32), "B"))
    nodes = [helper.make_node("Conv", ins, ["Y"], name="Y", **attrs)]
    if relu:
        nodes.insert(0, helper.make_node("Relu", ["X0"], ["X"], name="R"))
    g = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("X0" if relu else "X", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def influence(
    m: onnx.ModelProto, x_shape: list[int]
) -> dict[tuple[int, ...], set[tuple[int, ...]]]:
    """For every output element, the input elements it depends on (one-hot inputs, ones weights)."""
    ev = ReferenceEvaluator(m)
    out: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
    for index in itertools.product(*(range(s) for s in x_shape)):
        x = np.zeros(x_shape, np.float32)
        x[index] = 1.0
        (y,) = ev.run(None, {"X": x})
        for o in zip(*np.nonzero(y), strict=True):
            out.setdefault(tuple(int(v) for v in o), set()).add(index)
    return out


CASES = [
    ([1, 2, 6, 6], [3, 2, 3, 3], {"pads": [1, 1, 1, 1]}, 3 * 2 * 6 * 6 * 9),
    ([1, 2, 7, 7], [3, 2, 3, 3], {"pads": [1, 1, 1, 1], "strides": [2, 2]}, 3 * 2 * 4 * 4 * 9),
    ([1, 2, 6, 6], [2, 2, 2, 2], {"strides": [2, 2]}, 2 * 2 * 3 * 3 * 4),
    ([1, 3, 6, 6], [3, 1, 3, 3], {"pads": [1, 1, 1, 1], "group": 3}, 3 * 6 * 6 * 9),
    ([1, 2, 6, 6], [4, 2, 1, 1], {}, 4 * 2 * 6 * 6),
    ([2, 2, 9], [3, 2, 3], {"auto_pad": "SAME_UPPER"}, 2 * 3 * 2 * 9 * 3),
    # grouped (ResNeXt): 2 groups of 2 input and 3 output channels
    ([1, 4, 6, 6], [6, 2, 3, 3], {"pads": [1, 1, 1, 1], "group": 2}, 6 * 2 * 6 * 6 * 9),
    # a depthwise conv with channel multiplier 2: 3 groups of 1 input and 2 output channels
    ([1, 3, 6, 6], [6, 1, 3, 3], {"pads": [1, 1, 1, 1], "group": 3}, 6 * 6 * 6 * 9),
    # ResNet's downsampling shortcut: 1x1, stride 2, every other row and column
    ([1, 2, 12, 6], [3, 2, 1, 1], {"strides": [2, 2]}, 3 * 2 * 6 * 3),
    # dilation 2 and 3, 1-D and 2-D, with padding (a one-row tile reads rows 2 or 3 apart)
    ([1, 2, 11], [2, 2, 3], {"dilations": [2], "pads": [2, 2]}, 2 * 2 * 11 * 3),
    ([1, 2, 12], [2, 2, 3], {"dilations": [3], "pads": [1, 3]}, 2 * 2 * 10 * 3),
    ([1, 2, 7, 7], [2, 2, 3, 3], {"dilations": [2, 2], "pads": [2] * 4}, 2 * 2 * 7 * 7 * 9),
    ([1, 2, 6, 6], [2, 2, 3, 3], {"dilations": [2, 2]}, 2 * 2 * 2 * 2 * 9),
    # dilation with groups: 2 groups of 2 (dilation 3 down, 2 across), and depthwise
    (
        [1, 4, 9, 8],
        [4, 2, 3, 3],
        {"dilations": [3, 2], "pads": [3, 3, 2, 2], "group": 2},
        4 * 2 * 8 * 9 * 9,
    ),
    ([1, 3, 8, 8], [3, 1, 3, 3], {"dilations": [2, 2], "pads": [2] * 4, "group": 3}, 3 * 64 * 9),
    # dilation and stride together
    (
        [1, 2, 9, 9],
        [2, 2, 3, 3],
        {"dilations": [2, 2], "strides": [2, 2], "pads": [1] * 4},
        2 * 2 * 4 * 4 * 9,
    ),
    # stride larger than the kernel: 1x1 with stride 2 (padded), 3 and 4; 2x2 with stride 3
    ([1, 2, 7, 7], [2, 2, 1, 1], {"strides": [2, 2], "pads": [1] * 4}, 2 * 2 * 5 * 5),
    ([1, 2, 9, 9], [2, 2, 1, 1], {"strides": [3, 3]}, 2 * 2 * 3 * 3),
    ([1, 2, 6, 6], [2, 2, 1, 1], {"strides": [4, 4]}, 2 * 2 * 2 * 2),
    ([1, 2, 9, 8], [2, 2, 2, 2], {"strides": [3, 2]}, 2 * 2 * 3 * 4 * 4),
    ([1, 2, 11], [3, 2, 2], {"strides": [3], "pads": [1, 0]}, 3 * 2 * 4 * 2),
    # 3-D: dilation 2 in depth and width, stride 2 in height
    (
        [1, 2, 5, 5, 5],
        [2, 2, 3, 3, 3],
        {"dilations": [2, 1, 2], "strides": [1, 2, 1], "pads": [2, 1, 2, 2, 1, 2]},
        2 * 2 * 5 * 3 * 5 * 27,
    ),
]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@pytest.mark.parametrize(("x", "w", "attrs", "macs"), CASES)
def test_conv_tile_reads_are_exactly_the_inputs_onnx_uses(
    x: list[int], w: list[int], attrs: dict[str, object], macs: int
) -> None:
    """At every row tiling (and split across too, in 2-D): each tile reads exactly the input
    elements its outputs depend on in ONNX, the tensors it reads hold nothing else, it depends
    on exactly the Relu tiles that wrote them, and the problem builds."""
    m = conv_model(x, w, bias=True, relu=True, **attrs)
    wl = workload_from_onnx(m, "conv.onnx")
    relu, layer = wl.layers
    assert layer.function == "conv" and layer.macs() == macs
    deps = influence(conv_model(x, w, **attrs), x)
    y_shape = tuple(
        d.dim_value
        for d in onnx.shape_inference.infer_shapes(m).graph.output[0].type.tensor_type.shape.dim
    )
    # Materialized tensors drop size-1 dims and cut channels of groups into (group, per group)
    # in row-major order: flat indices are the same.
    op = layer.inputs[0]
    assert op.tensor == relu.name
    x_mat = wl.tensor_shape(op.tensor)
    y_mat = wl.tensor_shape("Y")
    rows = layer.loops[layer.token_dim]
    r_rows = relu.loops[relu.token_dim]
    specs = [
        TilingSpec(tiles=1, layers={"R": {relu.token_dim: r}, "Y": {layer.token_dim: t}})
        for t in _divisors(rows)
        for r in _divisors(r_rows)
    ]
    if layer.loops.get("o1", 1) % 2 == 0:  # columns cut too
        specs.append(TilingSpec(tiles=1, layers={"Y": {layer.token_dim: rows, "o1": 2}}))
    hardware = load_hardware("quad_bus")
    for spec in specs:
        tw = tile_workload(wl, spec)
        check_exact(tw)
        for tile in tw.tiles_of("Y"):
            runs = read_runs(tile, op, x_mat)
            read: set[tuple[int, ...]] = set()
            if runs is not None:
                elements = [[r for lo, hi in axis for r in range(lo, hi)] for axis in runs]
                read = {
                    tuple(int(v) for v in np.unravel_index(np.ravel_multi_index(idx, x_mat), x))
                    for idx in itertools.product(*elements)
                }
            needed: set[tuple[int, ...]] = set()
            # the outputs the tile writes (its reduced loops do not change which)
            dims = layer.output.dims
            for point in itertools.product(*(range(*tile.ranges[d]) for d in dims)):
                flat = np.ravel_multi_index(point, y_mat)
                full = tuple(int(v) for v in np.unravel_index(flat, y_shape))
                needed |= deps.get(full, set())
            assert read == needed, (spec, tile.task)
        p = build_problem(wl, hardware, spec)
        assert len(p.tasks) == len(tw.tiles)


def test_conv_builds_with_halo_tensors() -> None:
    """Rows 0..5 of a 3x3 conv (pad 1) in 3 tiles read rows 0-2, 1-4 and 3-5 of X: X is cut
    at 1, 3 and 5 and the middle tile reads its two middle parts."""
    wl = workload_from_onnx(conv_model([1, 2, 6, 6], [3, 2, 3, 3], pads=[1, 1, 1, 1]), "c.onnx")
    p = build_problem(wl, load_hardware("quad_bus"), TilingSpec(tiles=3))
    rows = sorted(p.tensor_by_id[t].id for t in p.task_by_id["Y.t1"].inputs if t.startswith("X"))
    assert rows == ["X[0:2,1:3,0:6]", "X[0:2,3:5,0:6]"]


def test_conv_with_groups_not_dividing_the_channels_is_an_error() -> None:
    with pytest.raises(
        InputError,
        match=r"node 'Y': Conv with 2 groups of 1 input channels and 3 outputs: the groups "
        r"must divide the input and output channels",
    ):
        workload_from_onnx(conv_model([1, 2, 6, 6], [3, 1, 3, 3], group=2), "c.onnx")


def resnet_downsampling_block(c: int, rows: int) -> onnx.ModelProto:
    """ResNet's downsampling block: Relu, then a 3x3 stride-2 conv (pad 1), Relu and a 3x3
    conv on one branch, a 1x1 stride-2 shortcut on the other, both reading the Relu's output;
    the branches added."""
    nodes = [
        helper.make_node("Relu", ["X"], ["r"], name="r"),
        helper.make_node("Conv", ["r", "W1"], ["a"], name="main", strides=[2, 2], pads=[1] * 4),
        helper.make_node("Relu", ["a"], ["a2"], name="a2"),
        helper.make_node("Conv", ["a2", "W2"], ["b"], name="second", pads=[1] * 4),
        helper.make_node("Conv", ["r", "W3"], ["s"], name="short", strides=[2, 2]),
        helper.make_node("Add", ["b", "s"], ["y"], name="y"),
    ]
    g = helper.make_graph(
        nodes,
        "resnet_down",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, c, rows, rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[
            numpy_helper.from_array(np.ones((2 * c, c, 3, 3), np.float32), "W1"),
            numpy_helper.from_array(np.ones((2 * c, 2 * c, 3, 3), np.float32), "W2"),
            numpy_helper.from_array(np.ones((2 * c, c, 1, 1), np.float32), "W3"),
        ],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_resnet_downsampling_block_is_exact_at_every_tiling() -> None:
    """The 1x1 stride-2 shortcut reads the same tensor as the 3x3 stride-2 conv: each shortcut
    tile depends on one tensor per producer tile holding exactly its even rows and columns, the
    3x3 conv on those and the odd rows and columns around them, and the problem builds."""
    wl = workload_from_onnx(resnet_downsampling_block(2, 8), "resnet_down.onnx")
    layers = wl.layer_by_name()
    assert list(layers) == ["r", "main", "a2", "second", "short", "y"]  # one per compute node
    assert layers["main"].macs() == 4 * 2 * 4 * 4 * 9
    assert layers["second"].macs() == 4 * 4 * 4 * 4 * 9
    assert layers["short"].macs() == 4 * 2 * 4 * 4
    hardware = load_hardware("quad_bus")
    for spec in [
        TilingSpec(tiles=1),
        TilingSpec(tiles=2),
        TilingSpec(tiles=4),
        TilingSpec(tiles=2, layers={"r": {"a2": 4}}),
        TilingSpec(tiles=4, layers={"r": {"a2": 8}, "short": {"o0": 2, "o1": 2}}),
    ]:
        tw = tile_workload(wl, spec)
        check_exact(tw)
        parts = {p.id: p for p in tw.parts}
        for tile in tw.tiles_of("short"):
            for tid in tw.inputs[tile.task]:
                if parts[tid].source == "r":  # rows and columns of r, all even
                    rows, cols = parts[tid].runs[1], parts[tid].runs[2]
                    assert all(hi - lo == 1 and lo % 2 == 0 for lo, hi in rows + cols), tid
        p = build_problem(wl, hardware, spec)
        assert len(p.tasks) == len(tw.tiles)
    tw = tile_workload(wl, TilingSpec(tiles=2))
    # r.t0 writes rows 0-3; main.t0 (outputs 0-1) reads rows 0-3, main.t1 row 3 (and 4-7),
    # short.t0 rows and columns 0, 2, 4, 6 of rows 0-3: r.t0's output is cut into those (read
    # by main.t0 and short.t0), the odd columns of rows 0-2 and row 1's even columns (main.t0
    # only), and row 3 (both main tiles).
    assert tw.outputs["r.t0"] == [
        "r.t0.o[0:2,0:3:2,0:7:2]",
        "r.t0.o[0:2,0:3,1:8:2]",
        "r.t0.o[0:2,1:2,0:7:2]",
        "r.t0.o[0:2,3:4,0:8]",
    ]
    parts = {p.id: p for p in tw.parts}
    assert parts["r.t0.o[0:2,0:3:2,0:7:2]"].readers == ("main.t0", "short.t0")
    assert parts["r.t0.o[0:2,0:3:2,0:7:2]"].size_bytes == 2 * 2 * 4 * 4  # fp32
    assert tw.inputs["short.t0"] == ["r.t0.o[0:2,0:3:2,0:7:2]", "W3"]
    assert tile_dependencies(tw)["short.t1"] == {"r.t1"}


def test_strided_shortcut_tile_cost_counts_only_the_rows_it_reads() -> None:
    """The cost model's bytes read by a shortcut tile are its elements, not their bounding box:
    short.t0 (outputs rows 0-1 of 4) reads rows 0, 2 and columns 0, 2, 4, 6 of 2 fp32
    channels (64 bytes) and its 4 x 2 fp32 weights (32 bytes); it writes 4 x 2 x 4 fp32."""
    wl = workload_from_onnx(resnet_downsampling_block(2, 8), "resnet_down.onnx")
    tw = tile_workload(wl, TilingSpec(tiles=2))
    (tile,) = (t for t in tw.tiles_of("short") if t.index == 0)
    assert tile_bytes(wl, wl.layer_by_name()["short"], tile) == (64 + 32, 4 * 2 * 4 * 4)
