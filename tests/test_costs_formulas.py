# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""Cost formulas checked by hand on tiny layers; unsupported operations; user cost tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.frontend.build import build_problem
from cpsched.frontend.costs import Cost, CostModel, analytic_cost, load_cost_table
from cpsched.frontend.hardware import CoreSpec, Hardware, MemorySpec, Topology, Unroll
from cpsched.frontend.tiling import TilingSpec, tile_workload
from cpsched.frontend.workload.spec import DeclaredTensor, Layer, Operand, Output, Workload
from cpsched.model.errors import InputError


def mem(read: float = 8, write: float = 4, energy: float = 0.25) -> MemorySpec:
    return MemorySpec(
        id="l1",
        capacity_bytes=1 << 20,
        read_bandwidth_bytes_per_cycle=read,
        write_bandwidth_bytes_per_cycle=write,
        energy_pj_per_byte=energy,
    )


ARRAY = CoreSpec(id="a", kind="mac_array", memory="l1", rows=4, cols=4, mac_energy_pj=0.5)
VECTOR = CoreSpec(
    id="v",
    kind="vector",
    memory="l1",
    lanes=4,
    mac_energy_pj=0.1,
    ops=("softmax", "transpose", "add"),
)


def workload() -> Workload:
    return Workload(
        name="w",
        tensors={
            "X": DeclaredTensor(kind="input", shape=(3, 6)),
            "W": DeclaredTensor(kind="weight", shape=(6, 5)),
        },
        layers=(
            Layer(
                name="A",
                op="matmul",
                loops={"m": 3, "k": 6, "n": 5},
                inputs=(Operand(tensor="X", dims=("m", "k")), Operand(tensor="W", dims=("k", "n"))),
                output=Output(dims=("m", "n")),
            ),
            Layer(
                name="S",
                op="softmax",
                loops={"i": 3, "j": 5},
                row_dims=("j",),
                inputs=(Operand(tensor="A", dims=("i", "j")),),
                output=Output(dims=("i", "j")),
            ),
            Layer(
                name="T",
                op="transpose",
                loops={"i": 3, "j": 5},
                inputs=(Operand(tensor="S", dims=("i", "j")),),
                output=Output(dims=("j", "i")),
            ),
        ),
    )


def tiles() -> dict[str, object]:
    tw = tile_workload(workload(), TilingSpec(tiles=1))
    return {t.layer: t for t in tw.tiles}


def test_matmul_on_array_compute_bound() -> None:
    w = workload()
    t = tiles()
    # rows unroll k=6 on 4 rows: ceil(6/4)=2; cols unroll n=5 on 4 cols: ceil(5/4)=2; m=3
    # temporal: 2*2*3 = 12 cycles. Reads 18 + 30 bytes at 8 B/cycle = 6; writes 15 at 4 = 4.
    # Energy: 90 MACs * 0.5 + (48 + 15) bytes * 0.25 = 45 + 15.75.
    cost = analytic_cost(w, w.layers[0], t["A"], ARRAY, mem())
    assert cost == Cost(cycles=12, energy_pj=60.75)


def test_matmul_on_array_bandwidth_bound() -> None:
    w = workload()
    # Reading 48 bytes at 1 B/cycle takes 48 cycles > 12 compute cycles.
    cost = analytic_cost(w, w.layers[0], tiles()["A"], ARRAY, mem(read=1))
    assert cost.cycles == 48


def test_array_unrolling_output_rows() -> None:
    w = workload()
    core = CoreSpec(
        id="a",
        kind="mac_array",
        memory="l1",
        rows=8,
        cols=2,
        mac_energy_pj=0.5,
        unroll=Unroll(rows="m", cols="n"),
    )
    # rows unroll m=3 on 8: 1; cols unroll n=5 on 2: ceil(5/2)=3; k=6 temporal: 1*3*6 = 18.
    cost = analytic_cost(w, w.layers[0], tiles()["A"], core, mem(read=64, write=64))
    assert cost.cycles == 18


def test_softmax_on_vector_unit() -> None:
    w = workload()
    # 15 elements on 4 lanes: ceil(15/4) = 4, times 5 cycles per softmax element = 20.
    # Energy: 15 * 5 * 0.1 + (15 + 15) * 0.25 = 7.5 + 7.5.
    cost = analytic_cost(w, w.layers[1], tiles()["S"], VECTOR, mem())
    assert cost == Cost(cycles=20, energy_pj=15.0)


def test_transpose_costs_data_movement_only() -> None:
    w = workload()
    # No compute: reads 15 bytes at 8 B/cycle = 2 cycles, writes 15 at 4 = 4; energy 30 * 0.25.
    cost = analytic_cost(w, w.layers[2], tiles()["T"], VECTOR, mem())
    assert cost == Cost(cycles=4, energy_pj=7.5)


def hardware(*cores: CoreSpec) -> Hardware:
    return Hardware(
        name="hw",
        memories=(
            MemorySpec(
                id="dram",
                read_bandwidth_bytes_per_cycle=4,
                write_bandwidth_bytes_per_cycle=4,
                energy_pj_per_byte=10,
            ),
            mem(),
        ),
        cores=cores,
        topology=Topology(
            kind="p2p",
            links=({"id": "d", "bandwidth_bytes_per_cycle": 4, "connects": ["l1", "dram"]},),
        ),
    )


def test_core_without_the_operation_is_no_candidate() -> None:
    array_mm = ARRAY.model_copy(update={"ops": ("matmul",)})
    p = build_problem(workload(), hardware(array_mm, VECTOR), TilingSpec(tiles=1))
    assert [o.core for o in p.task_by_id["A.t0"].options] == ["a"]
    assert [o.core for o in p.task_by_id["S.t0"].options] == ["v"]


def test_operation_no_core_supports_is_an_error() -> None:
    with pytest.raises(InputError) as err:
        build_problem(workload(), hardware(VECTOR), TilingSpec(tiles=1))
    msg = str(err.value)
    assert "layers.A.op" in msg and "no core of 'hw' supports 'matmul'" in msg
    assert "v: softmax, transpose, add" in msg


def test_costs_are_computed_once_per_shape_and_core_type() -> None:
    w = workload()
    twin = ARRAY.model_copy(update={"id": "b"})
    model = CostModel(w, hardware(ARRAY, twin))
    tw = tile_workload(w, TilingSpec(tiles=1, layers={"A": {"m": 3}}))
    for t in tw.tiles_of("A"):
        for core in (ARRAY, twin):
            model.cost(w.layers[0], t, core)
    assert len(model.cache) == 1  # three equal tiles on two identical cores


def test_cost_table_overrides_most_specific_first(tmp_path: Path) -> None:
    table = tmp_path / "costs.csv"
    table.write_text(
        "layer,op,shape,core,cycles,energy_pj\n,matmul,,,100,1.0\nA,,m=3,k=6,n=5,a,7,2.5\n".replace(
            "m=3,k=6,n=5", '"m=3,k=6,n=5"'
        )
    )
    costs = load_cost_table(table)
    twin = ARRAY.model_copy(update={"id": "b"})
    p = build_problem(workload(), hardware(ARRAY, twin), TilingSpec(tiles=1), costs)
    a, b = p.task_by_id["A.t0"].options
    assert (a.duration_cycles, a.energy_pj) == (7, 2.5)  # layer + shape + core row
    assert (b.duration_cycles, b.energy_pj) == (100, 1.0)  # op row, any core


def test_cost_table_errors_name_the_row(tmp_path: Path) -> None:
    table = tmp_path / "costs.json"
    table.write_text(
        '[{"op": "matmul", "cycles": -1, "energy_pj": 1}, {"cycles": 1, "energy_pj": 1}]'
    )
    with pytest.raises(InputError) as err:
        load_cost_table(table)
    msg = str(err.value)
    assert "[0].cycles" in msg and "[1]: give a layer or an op" in msg
