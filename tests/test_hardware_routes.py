# mypy: disable-error-code="index,arg-type"
# (tests look tasks, tensors and routes up by literal ids)
"""Hardware files: route derivation on a bus, point-to-point links and a mesh with XY routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.frontend.build import load_hardware
from cpsched.frontend.hardware import derive_routes, hardware_links
from cpsched.model.errors import InputError


def routes(name: str) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(r.src, r.dst): r.links for r in derive_routes(load_hardware(name))}


def test_bus_routes() -> None:
    r = routes("quad_bus")
    assert r[("l1_0", "l1_3")] == ("bus",)
    assert r[("l1_2", "dram")] == ("bus", "dram_port")
    assert r[("dram", "l1_2")] == ("dram_port", "bus")
    assert len(r) == 5 * 4  # every ordered pair of 5 memories


def test_p2p_chain_routes() -> None:
    r = routes("gap8")
    assert r[("l1", "dram")] == ("dma", "hyperbus")
    assert r[("dram", "l1")] == ("hyperbus", "dma")
    assert r[("l1", "l2")] == ("dma",)


def test_mesh_xy_routes() -> None:
    hw = load_hardware("mesh4x4")
    r = {(x.src, x.dst): x.links for x in derive_routes(hw)}
    # From (1, 2) to (3, 0): along x first (1->2->3 at y=2), then y (2->1->0 at x=3).
    assert r[("l1_1_2", "l1_3_0")] == ("r1_2>r2_2", "r2_2>r3_2", "r3_2>r3_1", "r3_1>r3_0")
    # The way back is XY too, so it uses other links (not the reverse path).
    assert r[("l1_3_0", "l1_1_2")] == ("r3_0>r2_0", "r2_0>r1_0", "r1_0>r1_1", "r1_1>r1_2")
    assert r[("dram", "l1_0_1")] == ("dram_port", "r0_0>r0_1")
    assert r[("l1_0_0", "dram")] == ("dram_port",)
    links = hardware_links(hw)
    assert len(links) == 2 * (3 * 4 + 3 * 4) + 1  # directed neighbour links + the DRAM port
    assert len(r) == 17 * 16


def test_shared_memory_needs_no_route() -> None:
    r = routes("edge_npu")
    assert r == {("sram", "dram"): ("lpddr",), ("dram", "sram"): ("lpddr",)}


BAD = """
name: bad
memories:
  - id: l1
    capacity_bytes: 1024
    read_bandwidth_bytes_per_cycle: 8
    write_bandwidth_bytes_per_cycle: 8
    energy_pj_per_byte: 1
  - id: dram
    read_bandwidth_bytes_per_cycle: 8
    write_bandwidth_bytes_per_cycle: 8
    energy_pj_per_byte: 1
cores:
  - {id: c0, kind: mac_array, memory: l1, rows: 4, cols: 4, mac_energy_pj: 1}
  - {id: c1, kind: vector, memory: l9, lanes: 4, mac_energy_pj: 1}
topology:
  kind: p2p
  links: []
"""


def test_hardware_errors(tmp_path: Path) -> None:
    f = tmp_path / "hw.yaml"
    f.write_text(BAD)
    with pytest.raises(InputError, match=r"cores\[1\]\.memory: unknown memory 'l9'"):
        load_hardware(str(f))
    f.write_text(BAD.replace("memory: l9", "memory: l1"))
    with pytest.raises(InputError, match=r"memory 'l1' has no path to and from 'dram'"):
        load_hardware(str(f))
    f.write_text(BAD.replace("rows: 4,", "rows: 4, bandwidth: 3,"))
    with pytest.raises(InputError, match=r"cores\[0\]\.bandwidth: unknown field"):
        load_hardware(str(f))
    with pytest.raises(InputError, match="unknown hardware 'quad'; bundled: edge_npu, gap8"):
        load_hardware("quad")
