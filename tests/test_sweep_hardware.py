"""Parametric hardware files: `params` with defaults, expressions at the numeric fields.

Every bundled file loads at its defaults to the hardware it described before it had
parameters (the literal values below are those of the files before); overrides change exactly
the fields written with the parameter; mistakes name the file or option, field and value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.frontend.build import load_hardware
from cpsched.frontend.catalog import bundled_hardware, hardware_path
from cpsched.frontend.hardware import Hardware, load_hardware_file
from cpsched.model.errors import InputError
from cpsched.model.io import load_model
from cpsched.model.problem import LinkId, MemoryId

QUAD_BUS = hardware_path("quad_bus")


def test_every_bundled_hardware_has_parameters_and_loads_the_same_without_overrides() -> None:
    for name in bundled_hardware():
        hw = load_hardware(name)
        assert hw.params, name
        # `cpsched models` reads the files with load_model: the defaults apply there too
        assert load_model(hardware_path(name), Hardware).model_dump() == hw.model_dump()


def test_the_defaults_are_the_old_literal_values() -> None:
    hw = load_hardware("quad_bus")
    memories = hw.memory_by_id()
    assert [memories[MemoryId(f"l1_{i}")].capacity_bytes for i in range(4)] == [262144] * 4
    assert memories[MemoryId("l1_0")].read_bandwidth_bytes_per_cycle == 64
    assert memories[MemoryId("dram")].read_bandwidth_bytes_per_cycle == 16
    assert {(c.rows, c.cols) for c in hw.cores} == {(16, 16)}
    links = {lk.id: lk.bandwidth_bytes_per_cycle for lk in hw.topology.links}
    assert links == {"bus": 32, "dram_port": 16}
    assert load_hardware("single_core").memory_by_id()[MemoryId("l1")].capacity_bytes == 1048576
    assert load_hardware("mesh4x4").topology.mesh_link.bandwidth_bytes_per_cycle == 32  # type: ignore[union-attr]


def test_overrides_change_the_fields_written_with_the_parameter() -> None:
    hw = load_hardware_file(QUAD_BUS, {"L1_KIB": 64, "BUS_BYTES_PER_CYCLE": 8, "ARRAY": 32})
    assert hw.params["L1_KIB"] == 64 and hw.params["DRAM_BYTES_PER_CYCLE"] == 16
    assert hw.memory_by_id()[MemoryId("l1_3")].capacity_bytes == 64 * 1024
    assert {lk.id: lk.bandwidth_bytes_per_cycle for lk in hw.topology.links}[LinkId("bus")] == 8
    assert {(c.rows, c.cols) for c in hw.cores} == {(32, 32)}
    assert {c.unroll.rows for c in hw.cores} == {"k"}  # `rows` under unroll is no number


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"L3_KIB": 4}, "--set: L3_KIB: unknown parameter of hardware 'quad_bus'; its parameters: "
         "L1_KIB (default 256)"),
        ({"L1_KIB": 0}, "--set: L1_KIB: value 0 must be an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_overrides_name_the_parameter(overrides: dict[str, int], expected: str) -> None:
    with pytest.raises(InputError) as err:
        load_hardware_file(QUAD_BUS, overrides)
    assert str(err.value).startswith(expected)


def test_an_expression_with_an_unknown_name_names_the_field(tmp_path: Path) -> None:
    text = QUAD_BUS.read_text().replace("BUS_BYTES_PER_CYCLE, latency_cycles: 2", "BUS_BW, "
                                        "latency_cycles: 2")  # fmt: skip
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_hardware_file(path)
    assert str(err.value).startswith(
        f"{path}: topology.links[0].bandwidth_bytes_per_cycle: unknown parameter 'BUS_BW'"
    )


def test_a_file_without_parameters_refuses_overrides(tmp_path: Path) -> None:
    text = "\n".join(
        line for line in QUAD_BUS.read_text().splitlines() if "{default:" not in line
    ).replace("params:\n", "")
    text = text.replace("262144 * L1_KIB / 256", "262144")
    for name, value in (("L1_KIB", "256"), ("L1_BYTES_PER_CYCLE", "64"), ("ARRAY", "16"),
                        ("BUS_BYTES_PER_CYCLE", "32"), ("DRAM_BYTES_PER_CYCLE", "16")):  # fmt: skip
        text = text.replace(name, value)
    path = tmp_path / "plain.yaml"
    path.write_text(text)
    assert load_hardware_file(path).model_dump() == load_hardware("quad_bus").model_dump()
    with pytest.raises(InputError, match="declares no parameters"):
        load_hardware_file(path, {"L1_KIB": 64})
