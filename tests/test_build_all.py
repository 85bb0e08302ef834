# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""Every bundled workload on every bundled hardware builds a problem the Problem model accepts;
execution and allocation modes emit barriers, groups and fixed options."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.frontend.build import build_problem, load_allocation, load_hardware, load_workload
from cpsched.frontend.catalog import bundled_hardware, bundled_workloads, models_dir
from cpsched.frontend.tiling import TilingSpec
from cpsched.model.errors import InputError
from cpsched.model.io import dump_model
from cpsched.model.problem import Problem

WORKLOADS = bundled_workloads()
HARDWARE = bundled_hardware()


def test_bundled_names() -> None:
    assert WORKLOADS == [
        "attention_head",
        "bert_base",
        "edge_transformer",
        "gpt2_small",
        "llama_block",
        "mha",
        "vit_b16",
    ]
    assert HARDWARE == ["edge_npu", "gap8", "hetero_quad", "mesh4x4", "quad_bus", "single_core"]
    assert models_dir().name == "models" and (models_dir() / "workloads").is_dir()


@pytest.mark.parametrize("hw_name", HARDWARE)
@pytest.mark.parametrize("wl_name", WORKLOADS)
def test_every_workload_builds_on_every_hardware(wl_name: str, hw_name: str) -> None:
    w = load_workload(wl_name, {})
    hw = load_hardware(hw_name)
    p = build_problem(w, hw, TilingSpec(tiles=4))
    again = Problem.model_validate_json(dump_model(p))
    assert again == p
    assert len(p.tasks) == 4 * len(w.layers)
    mems = {m.id for m in p.memories}
    assert p.memory_by_id["dram"].capacity_bytes is None
    # Every core memory can exchange data with dram and with every other core memory.
    core_mems = {c.memory for c in p.cores}
    for a in core_mems:
        for b in (core_mems | {"dram"}) - {a}:
            assert (a, b) in p.route_by_pair and (b, a) in p.route_by_pair
    for t in p.tensors:
        if t.producer is None:
            assert t.home == "dram" and t.kind in ("weight", "input")
        else:
            assert t.kind == "activation"
    stored = {t.producer for t in p.tensors if t.store}
    assert stored and all(s is not None for s in stored)
    assert mems >= {"dram"}


def test_layer_by_layer_emits_one_barrier_per_layer_with_producers() -> None:
    w = load_workload("attention_head", {})
    p = build_problem(w, load_hardware("quad_bus"), TilingSpec(tiles=2, mode="layer-by-layer"))
    by_after = {b.after[0].split(".")[0]: b for b in p.barriers}
    # Q, K, V read only graph inputs and weights: no barrier. QKT waits for all of Q and KT.
    assert sorted(by_after) == ["AV", "KT", "QKT", "SM"]
    assert by_after["QKT"].before == ("Q.t0", "Q.t1", "KT.t0", "KT.t1")
    assert by_after["QKT"].after == ("QKT.t0", "QKT.t1")
    assert by_after["AV"].before == ("SM.t0", "SM.t1", "V.t0", "V.t1")


def test_fused_mode_has_no_barriers_and_lets_tiles_interleave() -> None:
    p = build_problem(
        load_workload("attention_head", {}), load_hardware("quad_bus"), TilingSpec(tiles=4)
    )
    assert p.barriers == () and p.groups == ()
    # QKT row 0 needs Q.t0 and all KT tiles, but no other Q tile: Q.t1..t3 may run after it.
    producers = {p.tensor_by_id[t].producer for t in p.task_by_id["QKT.t0"].inputs}
    assert producers == {"Q.t0", "KT.t0", "KT.t1", "KT.t2", "KT.t3"}


def test_layer_allocation_groups_the_tiles_of_each_layer() -> None:
    p = build_problem(
        load_workload("attention_head", {}),
        load_hardware("quad_bus"),
        TilingSpec(tiles=2, allocation="layer"),
    )
    assert p.groups[0] == ("Q.t0", "Q.t1") and len(p.groups) == 7


def test_fixed_allocation_restricts_options(tmp_path: Path) -> None:
    f = tmp_path / "alloc.yaml"
    f.write_text("Q: c1\nSM: c2\n")
    fixed = load_allocation(f)
    p = build_problem(
        load_workload("attention_head", {}),
        load_hardware("quad_bus"),
        TilingSpec(tiles=2, allocation="fixed", fixed=fixed),
    )
    assert [o.core for o in p.task_by_id["Q.t1"].options] == ["c1"]
    assert [o.core for o in p.task_by_id["SM.t0"].options] == ["c2"]
    assert len(p.task_by_id["K.t0"].options) == 4  # not in the map: any core


def test_fixed_allocation_errors() -> None:
    spec = TilingSpec(allocation="fixed", fixed={"Q": "c9", "ZZ": "c0"})
    with pytest.raises(InputError) as err:
        build_problem(load_workload("attention_head", {}), load_hardware("quad_bus"), spec)
    msg = str(err.value)
    assert "--allocation" in msg and "unknown core 'c9'" in msg and "ZZ: unknown layer" in msg
    spec = TilingSpec(allocation="fixed", fixed={"SM": "a32"})
    with pytest.raises(InputError, match="core 'a32' does not support 'softmax'"):
        build_problem(load_workload("attention_head", {}), load_hardware("hetero_quad"), spec)


def test_heterogeneous_cores_get_only_their_operations() -> None:
    p = build_problem(
        load_workload("bert_base", {}), load_hardware("hetero_quad"), TilingSpec(tiles=2)
    )
    assert {o.core for o in p.task_by_id["LN1.t0"].options} == {"vec"}
    assert {o.core for o in p.task_by_id["FF1.t0"].options} == {"a32", "a16", "a64x8"}
    assert {o.core for o in p.task_by_id["KT.t0"].options} == {"a32", "a16", "a64x8", "vec"}


def test_heads_and_tokens_tiling() -> None:
    p = build_problem(
        load_workload("mha", {}), load_hardware("quad_bus"), TilingSpec(tiles=2, head_tiles=2)
    )
    # QKT tile 1 = (tokens 0, heads 1): its Q tile and the K^T tiles of head group 1 only.
    assert p.task_by_id["QKT.t1"].inputs == ("Q.t1.o", "KT.t1.o", "KT.t3.o")
    # The output projection sums over heads: each token tile reads both head tiles of AV.
    assert p.task_by_id["OUT.t0"].inputs == ("AV.t0.o", "AV.t1.o", "Wo")
    assert len(p.tasks) == 7 * 4 + 2


@pytest.mark.parametrize("hw_name", ["quad_bus", "hetero_quad", "mesh4x4", "edge_npu"])
def test_built_problem_is_schedulable_and_valid(hw_name: str) -> None:
    from cpsched.check.validate import validate
    from cpsched.heuristics import best_heuristic_schedule

    p = build_problem(
        load_workload("edge_transformer", {}), load_hardware(hw_name), TilingSpec(tiles=2)
    )
    schedule = best_heuristic_schedule(p)
    assert schedule is not None
    assert validate(p, schedule) == []
