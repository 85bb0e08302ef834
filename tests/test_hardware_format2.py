# mypy: disable-error-code="index,arg-type"
# (tests look memories, links and routes up by literal ids)
"""Hardware descriptions for format 2: every bundled hardware builds a problem whose links say
their `sharing` and `multicast` and whose memories name their `backing` store, exactly as its
header comment says; gap8 has the staging routes, and a schedule that stages through L2 is
valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpsched.check.validate import validate
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.catalog import hardware_path
from cpsched.frontend.hardware import load_hardware_file
from cpsched.frontend.tiling import TilingSpec
from cpsched.model.errors import InputError
from cpsched.model.problem import Problem, TaskId, TensorId
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer

BUNDLED = ["edge_npu", "gap8", "hetero_quad", "mesh4x4", "quad_bus", "single_core"]


def built(hardware: str) -> Problem:
    """A small attention head on a bundled hardware (one tile per layer: it fits everywhere)."""
    w = load_workload("attention_head", {"M": 32, "N": 16, "H": 16})
    return build_problem(w, load_hardware(hardware), TilingSpec(tiles=1))


def link_fields(p: Problem) -> dict[str, tuple[str, bool]]:
    return {lk.id: (lk.sharing, lk.multicast) for lk in p.links}


def backings(p: Problem) -> dict[str, str | None]:
    return {m.id: m.backing for m in p.memories}


def test_gap8_stages_through_l2_over_exclusive_dma_links() -> None:
    p = built("gap8")
    assert link_fields(p) == {"dma": ("exclusive", False), "hyperbus": ("exclusive", False)}
    assert backings(p) == {"dram": None, "l2": "dram", "l1": "l2"}
    routes = {(r.src, r.dst): r.links for r in p.routes}
    # the two staging hops, each its own route, beside the direct routes the solvers use
    assert routes[("dram", "l2")] == ("hyperbus",)
    assert routes[("l2", "l1")] == ("dma",)
    assert routes[("dram", "l1")] == ("hyperbus", "dma")
    assert routes[("l1", "l2")] == ("dma",)
    assert routes[("l2", "dram")] == ("hyperbus",)
    assert routes[("l1", "dram")] == ("dma", "hyperbus")
    assert len(routes) == 3 * 2


@pytest.mark.parametrize("hardware", ["quad_bus", "hetero_quad"])
def test_bus_hardware_multicasts_on_its_bus_and_dram_port(hardware: str) -> None:
    p = built(hardware)
    # the DRAM port multicasts too: a tensor read from DRAM crosses it once on its way to the bus
    assert link_fields(p) == {"bus": ("bandwidth", True), "dram_port": ("bandwidth", True)}
    scratchpads = [m.id for m in p.memories if m.id != "dram"]
    assert len(scratchpads) == 4
    expected: dict[str, str | None] = {"dram": None, **{m: "dram" for m in scratchpads}}
    assert backings(p) == expected


def test_mesh4x4_shares_links_by_bandwidth_without_multicast() -> None:
    p = built("mesh4x4")
    fields = link_fields(p)
    assert len(fields) == 2 * (3 * 4 + 3 * 4) + 1  # directed neighbour links + the DRAM port
    assert set(fields.values()) == {("bandwidth", False)}
    assert fields["r0_0>r1_0"] == ("bandwidth", False)
    assert fields["dram_port"] == ("bandwidth", False)
    assert backings(p) == {
        "dram": None,
        **{f"l1_{x}_{y}": "dram" for x in range(4) for y in range(4)},
    }


@pytest.mark.parametrize(
    ("hardware", "link", "memory"),
    [("edge_npu", "lpddr", "sram"), ("single_core", "dram_link", "l1")],
)
def test_single_link_hardware_has_one_exclusive_dma_channel(
    hardware: str, link: str, memory: str
) -> None:
    p = built(hardware)
    assert link_fields(p) == {link: ("exclusive", False)}
    assert backings(p) == {"dram": None, memory: "dram"}


def test_every_bundled_hardware_is_covered() -> None:
    bundled = sorted(f.stem for f in Path(hardware_path("quad_bus")).parent.glob("*.yaml"))
    assert bundled == BUNDLED


def test_gap8_schedule_staging_x_through_l2_is_valid() -> None:
    """X goes dram -> l2 -> l1 in two transfers, then the projections read it in l1; everything
    else moves directly. One transfer or task at a time, on pe0, so no link or core overlaps."""
    p = built("gap8")
    x = TensorId("X")
    assert p.tensor_by_id[x].kind == "input" and p.tensor_by_id[x].home == "dram"
    tasks: list[ScheduledTask] = []
    transfers: list[ScheduledTransfer] = []
    in_l1: set[TensorId] = set()
    t = 0

    def move(tensor: TensorId, src: str, dst: str) -> None:
        nonlocal t
        transfers.append(ScheduledTransfer(tensor=tensor, src=src, dst=dst, start=t))
        t += p.transfer_duration_cycles(tensor, src, dst)

    done: set[TaskId] = set()
    while len(done) < len(p.tasks):  # topological order: a task once its producers are done
        task = next(
            k
            for k in p.tasks
            if k.id not in done
            and all(
                p.tensor_by_id[i].producer is None or p.tensor_by_id[i].producer in done
                for i in k.inputs
            )
        )
        for i in task.inputs:
            if i in in_l1:
                continue
            if i == x:
                move(x, "dram", "l2")
                move(x, "l2", "l1")
            else:
                move(i, "dram", "l1")
            in_l1.add(i)
        option = p.option(task.id, "pe0")
        assert option is not None
        tasks.append(ScheduledTask(id=task.id, core="pe0", start=t))
        t += option.duration_cycles
        done.add(task.id)
        for o in task.outputs:
            in_l1.add(o)
            if p.tensor_by_id[o].store:
                move(o, "l1", "dram")
    schedule = Schedule(problem=p.name, tasks=tuple(tasks), transfers=tuple(transfers))
    staged = [(tr.src, tr.dst) for tr in transfers if tr.tensor == x]
    assert staged == [("dram", "l2"), ("l2", "l1")]
    assert validate(p, schedule) == []


BAD_BACKING = """
name: bad
memories:
  - {id: dram, capacity_bytes: null, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0, backing: l1}
  - {id: l1, capacity_bytes: 1024, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0, backing: l2}
  - {id: l2, capacity_bytes: 4096, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0, backing: l1}
  - {id: l3, capacity_bytes: 4096, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0, backing: nowhere}
cores:
  - {id: c0, kind: vector, memory: l1, mac_energy_pj: 1.0}
topology:
  kind: p2p
  links:
    - {id: a, bandwidth_bytes_per_cycle: 8, connects: [l1, dram]}
"""


def test_bad_backing_stores_are_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_BACKING)
    with pytest.raises(InputError) as exc:
        load_hardware_file(path)
    text = str(exc.value)
    assert "memories[0].backing" in text and "spills end there" in text
    assert "memories[1].backing" in text and "closes a loop of backing stores" in text
    assert "memories[3].backing" in text and "unknown memory 'nowhere'" in text


UNREACHABLE_BACKING = """
name: unreachable
memories:
  - {id: dram, capacity_bytes: null, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0}
  - {id: l1, capacity_bytes: 1024, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0, backing: l2}
  - {id: l2, capacity_bytes: 4096, read_bandwidth_bytes_per_cycle: 8,
     write_bandwidth_bytes_per_cycle: 8, energy_pj_per_byte: 1.0}
cores:
  - {id: c0, kind: vector, memory: l1, mac_energy_pj: 1.0}
topology:
  kind: p2p
  links:
    - {id: a, bandwidth_bytes_per_cycle: 8, connects: [l1, dram]}
"""


def test_a_backing_store_without_a_route_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unreachable.yaml"
    path.write_text(UNREACHABLE_BACKING)
    with pytest.raises(InputError, match=r"memories\[1\]\.backing.*no path to and from"):
        load_hardware_file(path)


def without_link_fields(hardware: str, tmp_path: Path) -> Problem:
    """`built(hardware)` from a copy of its file whose links omit `sharing` and `multicast`."""
    data = load_hardware(hardware).model_dump(mode="json")
    for lk in data["topology"]["links"]:
        del lk["sharing"], lk["multicast"]
    path = tmp_path / f"{hardware}.json"
    path.write_text(json.dumps(data))
    w = load_workload("attention_head", {"M": 32, "N": 16, "H": 16})
    return build_problem(w, load_hardware_file(path), TilingSpec(tiles=1))


def test_link_defaults_follow_the_link_kind(tmp_path: Path) -> None:
    """Omitted fields: a bus multicasts and shares bandwidth; a pair on a bus topology (a port)
    shares bandwidth without multicast; a p2p pair is an exclusive DMA channel."""
    p = without_link_fields("quad_bus", tmp_path)
    assert link_fields(p) == {"bus": ("bandwidth", True), "dram_port": ("bandwidth", False)}
    p = without_link_fields("gap8", tmp_path)
    assert link_fields(p) == {"dma": ("exclusive", False), "hyperbus": ("exclusive", False)}
