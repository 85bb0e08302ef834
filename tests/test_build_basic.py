# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""Building problems from the bundled models: conventions of the problem and the attention head."""

from __future__ import annotations

from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.tiling import TilingSpec
from cpsched.model.problem import Problem


def test_attention_head_on_quad_bus_has_exact_dependencies() -> None:
    w = load_workload("attention_head", {})
    hw = load_hardware("quad_bus")
    p = build_problem(w, hw, TilingSpec(tiles=4))
    Problem.model_validate(p.model_dump())
    assert len(p.tasks) == 7 * 4
    qkt = p.task_by_id["QKT.t1"]
    # Row tile 1 of QKᵀ needs Q tile 1 and all of Kᵀ, i.e. all four Kᵀ tiles.
    assert set(qkt.inputs) == {"Q.t1.o", "KT.t0.o", "KT.t1.o", "KT.t2.o", "KT.t3.o"}
    # X (256x64, 8 bit) is split along the token tiles: four 64x64 parts of 4096 bytes.
    x_parts = [t for t in p.tensors if t.id.startswith("X")]
    assert [t.size_bytes for t in x_parts] == [4096] * 4
    assert all(t.home == "dram" and t.kind == "input" for t in x_parts)
    assert p.tensor_by_id["Wq"].kind == "weight"
    assert [t.id for t in p.tensors if t.store] == [f"AV.t{i}.o" for i in range(4)]
    # Q tile: m=64, e=64, d=64 on a 16x16 array unrolling e (rows) and d (cols):
    # ceil(64/16) * ceil(64/16) * 64 = 1024 cycles; energy 64^3 * 0.2 + (3 * 4096) * 0.5 pJ.
    opt = p.option("Q.t0", "c0")
    assert opt is not None
    assert opt.duration_cycles == 1024
    assert opt.energy_pj == 64**3 * 0.2 + 3 * 4096 * 0.5
