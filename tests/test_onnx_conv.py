# mypy: disable-error-code="index,arg-type"
"""Conv imports as a windowed matmul-kind layer whose tile reads, halos included, are exactly
the input elements ONNX says each tile's outputs depend on (found by the reference evaluator
with one-hot inputs)."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from cpsched.frontend.build import build_problem, load_hardware
from cpsched.frontend.tiling import TilingSpec, read_box, tile_workload
from cpsched.frontend.workload.onnx_import import workload_from_onnx
from cpsched.model.errors import InputError


def conv_model(x: list[int], w: list[int], bias: bool = False, **attrs: object) -> onnx.ModelProto:
    ins = ["X", "W", "B"] if bias else ["X", "W"]
    inits = [numpy_helper.from_array(np.ones(w, np.float32), "W")]
    if bias:
        inits.append(numpy_helper.from_array(np.zeros(w[0], np.float32), "B"))
    g = helper.make_graph(
        [helper.make_node("Conv", ins, ["Y"], name="Y", **attrs)],
        "conv",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, x)],
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
]


@pytest.mark.parametrize(("x", "w", "attrs", "macs"), CASES)
def test_conv_tile_reads_are_exactly_the_inputs_onnx_uses(
    x: list[int], w: list[int], attrs: dict[str, object], macs: int
) -> None:
    m = conv_model(x, w, bias=True, **attrs)
    wl = workload_from_onnx(m, "conv.onnx")
    (layer,) = wl.layers
    assert layer.function == "conv" and layer.macs() == macs
    deps = influence(conv_model(x, w, **attrs), x)
    y_shape = tuple(
        d.dim_value
        for d in onnx.shape_inference.infer_shapes(m).graph.output[0].type.tensor_type.shape.dim
    )
    # Materialized tensors drop size-1 dims and may cut dims into parts (rows as (row / s,
    # row % s) for a strided 1x1 conv), in row-major order: flat indices are the same.
    spec = TilingSpec(tiles=3 if layer.loops[layer.token_dim] % 3 == 0 else 2)
    tw = tile_workload(wl, spec)
    op = layer.inputs[0]
    x_mat = wl.tensor_shape(op.tensor)
    y_mat = wl.tensor_shape("Y")
    for tile in tw.tiles_of("Y"):
        box = read_box(tile, op, x_mat)
        assert box is not None
        read = {
            tuple(int(v) for v in np.unravel_index(np.ravel_multi_index(idx, x_mat), x))
            for idx in itertools.product(*(range(lo, hi) for lo, hi in box))
        }
        needed: set[tuple[int, ...]] = set()
        for point in itertools.product(*(range(*r) for r in tile.ranges.values())):
            at = dict(zip(tile.ranges, point, strict=True))
            flat = np.ravel_multi_index(tuple(at[d] for d in layer.output.dims), y_mat)
            full = tuple(int(v) for v in np.unravel_index(flat, y_shape))
            needed |= deps.get(full, set())
        assert read == needed, tile.task


def test_conv_builds_with_halo_tensors() -> None:
    """Rows 0..5 of a 3x3 conv (pad 1) in 3 tiles read rows 0-2, 1-4 and 3-5 of X: X is cut
    at 1, 3 and 5 and the middle tile reads its two middle parts."""
    wl = workload_from_onnx(conv_model([1, 2, 6, 6], [3, 2, 3, 3], pads=[1, 1, 1, 1]), "c.onnx")
    p = build_problem(wl, load_hardware("quad_bus"), TilingSpec(tiles=3))
    rows = sorted(p.tensor_by_id[t].id for t in p.task_by_id["Y.t1"].inputs if t.startswith("X"))
    assert rows == ["X[0:2,1:3,0:6]", "X[0:2,3:5,0:6]"]


@pytest.mark.parametrize(
    ("w", "attrs", "message"),
    [
        ([2, 2, 3, 3], {"dilations": [2, 2]}, "reads rows with gaps"),
        ([2, 2, 1, 1], {"strides": [4, 4]}, "reads rows with gaps"),  # 4 does not divide 6
        ([3, 1, 3, 3], {"group": 2}, "Conv with 2 groups of 1 input channels and 3 outputs"),
    ],
)
def test_conv_that_cannot_stay_exact_is_an_error(
    w: list[int], attrs: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        workload_from_onnx(conv_model([1, 2, 6, 6], w, **attrs), "c.onnx")


def test_strided_shortcut_beside_a_windowed_conv_is_refused() -> None:
    """ResNet's downsampling block: a 3x3 stride-2 conv and a 1x1 stride-2 shortcut read the
    same tensor; the shortcut's every-other-row view would cut the rows the 3x3 windows, so the
    import refuses (naming the shortcut) rather than over-read."""
    nodes = [
        helper.make_node("Conv", ["X", "W1"], ["a"], name="main", strides=[2, 2], pads=[1] * 4),
        helper.make_node("Conv", ["X", "W2"], ["b"], name="short", strides=[2, 2]),
        helper.make_node("Add", ["a", "b"], ["y"], name="y"),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[
            numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "W1"),
            numpy_helper.from_array(np.ones((4, 2, 1, 1), np.float32), "W2"),
        ],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(InputError, match=r"node 'short': Conv with kernel 1, stride 2"):
        workload_from_onnx(m, "resnet_block.onnx")


def test_grouped_conv_tile_per_group_reads_only_its_channels() -> None:
    """2 groups: split along the group loop, each tile reads its 2 of the 4 input channels
    (X is cut into [group, channel in group, rows, columns]) and its group's weights."""
    wl = workload_from_onnx(
        conv_model([1, 4, 6, 6], [6, 2, 3, 3], pads=[1, 1, 1, 1], group=2), "g.onnx"
    )
    (layer,) = wl.layers
    assert wl.tensors["X"].shape == (2, 2, 6, 6) and wl.tensors["W"].shape == (2, 3, 2, 3, 3)
    assert layer.loops == {"m_0": 2, "m_1": 3, "c": 2, "o0": 6, "k0": 3, "o1": 6, "k1": 3}
    p = build_problem(wl, load_hardware("quad_bus"), TilingSpec(tiles=1, layers={"Y": {"m_0": 2}}))
    assert p.task_by_id["Y.t0"].inputs == ("X[0:1,0:2,0:6,0:6]", "W[0:1,0:3,0:2,0:3,0:3]")
    assert p.task_by_id["Y.t1"].inputs == ("X[1:2,0:2,0:6,0:6]", "W[1:2,0:3,0:2,0:3,0:3]")
