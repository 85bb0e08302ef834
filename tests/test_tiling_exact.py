# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""Tiling: dependencies and bytes checked against a brute-force, element-by-element enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sampling import examples

from cpsched.frontend.tiling import (
    TensorPart,
    TiledWorkload,
    TilingSpec,
    box_volume,
    parse_splits,
    tile_dependencies,
    tile_workload,
)
from cpsched.frontend.workload.spec import DeclaredTensor, Layer, Operand, Output, Workload
from cpsched.model.errors import InputError


def _layer(
    name: str,
    op: str,
    loops: dict[str, int],
    inputs: list[tuple[str, str]],
    out: str,
    row: str = "",
    token: str | None = None,
) -> Layer:
    return Layer(
        name=name,
        op=op,
        loops=loops,
        inputs=tuple(Operand(tensor=t, dims=tuple(d)) for t, d in inputs),
        output=Output(dims=tuple(out)),
        row_dims=tuple(row),
        token_dim=token,
    )


def attention_like(m: int, k: int, n: int) -> Workload:
    """X·W, its transpose, the QKᵀ pattern, softmax, P·V and a residual add, on tiny shapes."""
    return Workload(
        name="tiny",
        tensors={
            "X": DeclaredTensor(kind="input", shape=(m, k)),
            "W": DeclaredTensor(kind="weight", shape=(k, n)),
        },
        layers=(
            _layer(
                "A", "matmul", {"m": m, "k": k, "n": n}, [("X", "mk"), ("W", "kn")], "mn", token="m"
            ),
            _layer("B", "transpose", {"p": m, "q": n}, [("A", "pq")], "qp", token="p"),
            _layer(
                "C", "matmul", {"i": m, "d": n, "j": m}, [("A", "id"), ("B", "dj")], "ij", token="i"
            ),
            _layer("D", "softmax", {"i": m, "j": m}, [("C", "ij")], "ij", row="j", token="i"),
            _layer(
                "E", "matmul", {"i": m, "j": m, "e": n}, [("D", "ij"), ("A", "je")], "ie", token="i"
            ),
            _layer("F", "add", {"i": m, "e": n}, [("E", "ie"), ("A", "ie")], "ie", token="i"),
        ),
    )


def _points(tw: TiledWorkload, task: str, op: Operand | tuple[str, ...]) -> set[tuple[int, ...]]:
    """Every tensor element a tile touches through an index map, by enumeration: index =
    stride * loop + dilation * kernel loop + offset, kept when inside the tensor."""
    tile = next(t for t in tw.tiles if t.task == task)
    if not isinstance(op, Operand):
        op = Operand(tensor="_", dims=op)
    n = len(op.dims)
    offsets = op.offsets or (0,) * n
    strides = op.strides or (1,) * n
    kernel = op.kernel or ("",) * n
    dilations = op.dilations or (1,) * n
    shape = tw.workload.tensor_shape(op.tensor) if op.tensor != "_" else None
    loops = list(tile.ranges)
    # every point of the tile's loop nest at once (numpy), one row per point
    grid = np.meshgrid(*(np.arange(*tile.ranges[d]) for d in loops), indexing="ij")
    at = {d: g.ravel() for d, g in zip(loops, grid, strict=True)}
    if n == 0:
        return {()} if all(g.size for g in grid) else set()
    index = np.stack(
        [
            strides[k] * at[op.dims[k]]
            + (dilations[k] * at[kernel[k]] if kernel[k] else 0)
            + offsets[k]
            for k in range(n)
        ],
        axis=1,
    )
    if shape is not None:
        index = index[np.all((index >= 0) & (index < np.array(shape)), axis=1)]
    return {tuple(int(v) for v in row) for row in np.unique(index, axis=0)}


def _part_points(part: TensorPart) -> set[tuple[int, ...]]:
    """Every element of a tensor piece (the product of its runs per dim)."""
    rows = [[r for lo, hi in runs for r in range(lo, hi)] for runs in part.runs]
    return set(itertools.product(*rows))


def check_exact(tw: TiledWorkload) -> None:
    """Every task reads exactly the elements its index maps touch; deps are exactly the overlaps."""
    w = tw.workload
    part = {p.id: p for p in tw.parts}
    written: dict[str, dict[str, set[tuple[int, ...]]]] = {}
    for layer in w.layers:
        for t in tw.tiles_of(layer.name):
            written.setdefault(layer.name, {})[t.task] = _points(tw, t.task, layer.output.dims)
    deps = tile_dependencies(tw)
    for layer in w.layers:
        for t in tw.tiles_of(layer.name):
            need: dict[str, set[tuple[int, ...]]] = {}
            for op in layer.inputs:
                if pts := _points(tw, t.task, op):  # a tile may read only padding
                    need.setdefault(op.tensor, set()).update(pts)
            got: dict[str, set[tuple[int, ...]]] = {}
            for tid in tw.inputs[t.task]:
                pts = _part_points(part[tid])
                assert not (got.get(part[tid].source, set()) & pts), "parts overlap"
                got.setdefault(part[tid].source, set()).update(pts)
            assert got == need  # exactly the needed elements, no byte more
            expected = {
                p
                for src, pts in need.items()
                if src in written
                for p, wrote in written[src].items()
                if wrote & pts
            }
            assert deps[t.task] == expected
    # Byte conservation: the parts of each tile's output partition its output box.
    for layer in w.layers:
        for t in tw.tiles_of(layer.name):
            pieces = [part[i] for i in tw.outputs[t.task]]
            bits = layer.output.bits
            assert sum(p.size_bytes for p in pieces) == sum(
                -(-len(_part_points(p)) * bits // 8) for p in pieces
            )
            assert sum(len(_part_points(p)) for p in pieces) == len(written[layer.name][t.task])
            covered: set[tuple[int, ...]] = set()
            for p in pieces:
                assert not covered & _part_points(p), "output parts overlap"
                covered |= _part_points(p)
            assert covered == written[layer.name][t.task]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def tilings(draw: st.DrawFn) -> tuple[Workload, TilingSpec]:
    m, k, n = (
        draw(st.sampled_from([2, 3, 4, 6])),
        draw(st.sampled_from([1, 2, 3])),
        draw(st.sampled_from([2, 4, 6])),
    )
    w = attention_like(m, k, n)
    layers: dict[str, dict[str, int]] = {}
    for layer in w.layers:
        split = {}
        for d in layer.loops:
            if d not in layer.reduced_dims() and draw(st.booleans()):
                split[d] = draw(st.sampled_from(_divisors(layer.loops[d])))
        layers[layer.name] = split
    return w, TilingSpec(tiles=draw(st.sampled_from(_divisors(m))), layers=layers)


@settings(max_examples=examples(120), deadline=None, derandomize=True)
@given(tilings())
def test_dependencies_and_bytes_match_brute_force(case: tuple[Workload, TilingSpec]) -> None:
    w, spec = case
    check_exact(tile_workload(w, spec))


def test_mismatched_boundaries_split_producer_outputs() -> None:
    # A (6x4) in 2 row tiles of 3; its transpose B in 3 tiles of 2 along p (A's rows): B.t1 reads
    # rows 2:4, which cross A's boundary at 3, so A.t0's output is cut at rows 2 and A.t1's at 4.
    w = attention_like(6, 2, 4)
    spec = TilingSpec(tiles=1, layers={"A": {"m": 2}, "B": {"p": 3}})
    tw = tile_workload(w, spec)
    check_exact(tw)
    b1 = tw.inputs["B.t1"]
    assert b1 == ["A.t0.o[2:3,0:4]", "A.t1.o[3:4,0:4]"]
    assert {p.size_bytes for p in tw.parts if p.id in b1} == {4}  # one 4-wide row each, 8 bit


def test_qkt_row_tile_needs_every_key_tile() -> None:
    tw = tile_workload(
        attention_like(4, 2, 2),
        TilingSpec(tiles=1, layers={"A": {"m": 4}, "B": {"p": 4}, "C": {"i": 2}}),
    )
    deps = tile_dependencies(tw)
    assert deps["C.t0"] == {"A.t0", "A.t1", "B.t0", "B.t1", "B.t2", "B.t3"}


def test_softmax_row_cannot_be_split() -> None:
    w = attention_like(4, 2, 2)
    with pytest.raises(InputError) as err:
        tile_workload(w, TilingSpec(tiles=1, layers={"D": {"j": 2}}))
    msg = str(err.value)
    assert "layers.D.j" in msg and "normalizes over dim 'j'" in msg and "splittable dims: i" in msg


def test_summed_dim_cannot_be_split() -> None:
    with pytest.raises(InputError, match=r"layers\.C\.d: .*sums over dim 'd'"):
        tile_workload(attention_like(4, 2, 2), TilingSpec(tiles=1, layers={"C": {"d": 2}}))


def test_tile_count_must_divide_the_dim() -> None:
    with pytest.raises(InputError, match=r"3 tiles do not divide dim 'm' of layer 'A' \(size 4\)"):
        tile_workload(attention_like(4, 2, 2), TilingSpec(tiles=1, layers={"A": {"m": 3}}))
    with pytest.raises(
        InputError,
        match=r"8 tiles exceed dim 'm' of layer 'A' \(size 4\); use a divisor of 4: 1, 2, 4",
    ):
        tile_workload(attention_like(4, 2, 2), TilingSpec(tiles=1, layers={"A": {"m": 8}}))


def test_unknown_layer_and_dim_are_named() -> None:
    with pytest.raises(InputError) as err:
        tile_workload(attention_like(4, 2, 2), TilingSpec(layers={"Z": {"m": 2}, "A": {"zz": 2}}))
    msg = str(err.value)
    assert "layers.Z: unknown layer" in msg and "layers.A.zz" in msg and "loops: m, k, n" in msg


def test_whole_tensor_keeps_its_name_and_volume() -> None:
    tw = tile_workload(attention_like(4, 2, 2), TilingSpec(tiles=1))
    assert [p.id for p in tw.parts if p.source == "W"] == ["W"]
    assert all(box_volume(p.box) == p.size_bytes for p in tw.parts)  # 8-bit everywhere


def test_split_options_add_to_the_token_split() -> None:
    dims, layers = parse_splits(["n=2", "C.i=1"])
    assert (dims, layers) == ({"n": 2}, {"C": {"i": 1}})
    w = attention_like(4, 2, 4)
    tw = tile_workload(w, TilingSpec(tiles=2, dims=dims, layers=layers))
    # Tokens in 2 everywhere; n also in A, the only layer with a loop n; C keeps its rows whole.
    assert tw.splits == {
        "A": {"m": 2, "n": 2},
        "B": {"p": 2},
        "C": {},
        "D": {"i": 2},
        "E": {"i": 2},
        "F": {"i": 2},
    }
    check_exact(tw)
    with pytest.raises(InputError, match=r"--split: 'A\.m' is not DIM=N or LAYER\.DIM=N"):
        parse_splits(["A.m"])
    with pytest.raises(InputError, match=r"dims\.zz: no layer can split a loop 'zz'"):
        tile_workload(w, TilingSpec(dims={"zz": 2}))


def strided_pair(
    rows: int, kernel: int, stride: int, dilation: int, pad: int, short_stride: int
) -> Workload:
    """P (rows x 2) read by a 1-D conv C (kernel, stride, dilation, padding before and after)
    and by a 1-wide strided shortcut S, as in ResNet's downsampling block."""
    out = (rows + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    short = (rows - 1) // short_stride + 1
    return Workload(
        name="strided",
        tensors={
            "X": DeclaredTensor(kind="input", shape=(rows, 2)),
            "W": DeclaredTensor(kind="weight", shape=(kernel, 2, 2)),
        },
        layers=(
            _layer("P", "elementwise", {"r": rows, "c": 2}, [("X", "rc")], "rc", token="r"),
            Layer(
                name="C",
                op="matmul",
                loops={"o": out, "k": kernel, "c": 2, "m": 2},
                inputs=(
                    Operand(
                        tensor="P",
                        dims=("o", "c"),
                        offsets=(-pad, 0),
                        strides=(stride, 1),
                        kernel=("k", ""),
                        dilations=(dilation, 1),
                    ),
                    Operand(tensor="W", dims=("k", "c", "m")),
                ),
                output=Output(dims=("o", "m")),
                token_dim="o",
            ),
            Layer(
                name="S",
                op="elementwise",
                loops={"o": short, "c": 2},
                inputs=(
                    Operand(tensor="P", dims=("o", "c"), offsets=(0, 0), strides=(short_stride, 1)),
                ),
                output=Output(dims=("o", "c")),
                token_dim="o",
            ),
        ),
    )


@settings(max_examples=examples(150), deadline=None, derandomize=True)
@given(
    st.integers(4, 13),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_strided_and_dilated_reads_match_brute_force(
    rows: int,
    kernel: int,
    stride: int,
    dilation: int,
    pad: int,
    short_stride: int,
    tp: int,
    tc: int,
    ts: int,
) -> None:
    """Any stride, dilation and padding, any row tiles of producer and consumers: every tile
    reads exactly the elements its index maps touch, no tensor it reads holds an element it
    does not use, and it depends on exactly the producer tiles that wrote them."""
    assume(rows + 2 * pad > dilation * (kernel - 1))
    w = strided_pair(rows, kernel, stride, dilation, pad, short_stride)
    sizes = {layer.name: layer.loops[layer.token_dim or ""] for layer in w.layers}
    counts = {"P": tp, "C": tc, "S": ts}
    layers = {name: {"r" if name == "P" else "o": min(counts[name], sizes[name])} for name in sizes}
    layers = {
        name: {d: c if sizes[name] % c == 0 else 1 for d, c in split.items()}
        for name, split in layers.items()
    }
    check_exact(tile_workload(w, TilingSpec(tiles=1, layers=layers)))


def test_resnet_downsampling_pieces_are_strided_boxes() -> None:
    """8 rows in 2 producer tiles; a 3-tap stride-2 conv (pad 1) and a 1x1 stride-2 shortcut,
    2 tiles each (outputs 0-1 and 2-3). C.t0 reads rows 0..4 (row -1 is padding), C.t1 rows
    3..7; S.t0 the even rows 0, 2 and S.t1 rows 4, 6. P.t0 (rows 0-3) is cut into its even rows
    (read by C.t0 and S.t0), row 1 (C.t0 only) and row 3 (both C tiles): the shortcut depends
    on one tensor of exactly the rows it uses, not on the odd rows between them."""
    w = strided_pair(8, 3, 2, 1, 1, 2)
    spec = TilingSpec(tiles=1, layers={"P": {"r": 2}, "C": {"o": 2}, "S": {"o": 2}})
    tw = tile_workload(w, spec)
    check_exact(tw)
    parts = {p.id: p for p in tw.parts}
    assert tw.outputs["P.t0"] == ["P.t0.o[0:3:2,0:2]", "P.t0.o[1:2,0:2]", "P.t0.o[3:4,0:2]"]
    assert parts["P.t0.o[0:3:2,0:2]"].readers == ("C.t0", "S.t0")
    assert parts["P.t0.o[0:3:2,0:2]"].size_bytes == 4  # rows 0 and 2, 2 columns, 8 bits
    assert tw.inputs["S.t0"] == ["P.t0.o[0:3:2,0:2]"]
    assert tw.inputs["S.t1"] == ["P.t1.o[4:7:2,0:2]"]
    assert tile_dependencies(tw)["S.t1"] == {"P.t1"}


def test_pieces_with_gaps_are_named_by_their_rows() -> None:
    """A 2-tap stride-3 conv reads rows 0, 1, 3, 4, 6, 7 of 9 (`0:8:3/2`: 2 rows every 3), the
    rest (`2:9:3`) only the 1-wide shortcut reads; padded by 1 it reads rows 0, 2, 3, 5, 6 and
    8, runs that are not evenly spaced (named by the runs)."""
    tw = tile_workload(strided_pair(9, 2, 3, 1, 0, 1), TilingSpec(tiles=1))
    check_exact(tw)
    assert tw.outputs["P.t0"] == ["P.t0.o[0:8:3/2,0:2]", "P.t0.o[2:9:3,0:2]"]
    assert [p.size_bytes for p in tw.parts if p.producer == "P.t0"] == [12, 6]
    tw = tile_workload(strided_pair(9, 2, 3, 1, 1, 1), TilingSpec(tiles=1))
    check_exact(tw)
    assert tw.outputs["P.t0"] == ["P.t0.o[0:1+2:4+5:7+8:9,0:2]", "P.t0.o[1:8:3,0:2]"]


def test_dilations_are_one_per_dim() -> None:
    with pytest.raises(ValidationError, match=r"Value error, 1 dilations for 2 dims"):
        Operand(tensor="X", dims=("o", "c"), offsets=(0, 0), kernel=("k", ""), dilations=(2,))
