"""`cpsched bench --suite format2`: every heuristic with format-1 and with format-2 semantics, on
one small pair (fast), the build and does-not-fit paths and the report (fast), the quick run's
files (slow); never times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpsched.bench import format2
from cpsched.bench.format2 import (
    BEST,
    CALLED_OUT,
    FORMAT_1_LABEL,
    FORMAT_2_LABEL,
    METHODS,
    SEMANTICS,
    build,
    format_1,
    label,
    report,
    run_pair,
)
from cpsched.bench.models import DOES_NOT_FIT
from cpsched.bench.runner import BenchConfig, Record, run_suite
from cpsched.model.errors import input_error
from cpsched.pipeline import DEFAULT_TILES


def _check_pair(records: list[Record], workload: str, hardware: str) -> None:
    """A record per (method, semantics), the flags of each semantics, and `best` the lowest."""
    assert len(records) == len(METHODS) * len(SEMANTICS)
    for semantics in SEMANTICS:
        mine = {r.method: r for r in records if r.instance == label(workload, hardware, semantics)}
        assert set(mine) == set(METHODS)
        on = semantics == FORMAT_2_LABEL
        for r in mine.values():
            assert r.params["semantics"] == semantics
            assert r.params["multicast"] is on and r.params["spill"] is on
            assert r.params["shared_bandwidth"] is on
            assert r.params["workload"] == workload and r.params["hardware"] == hardware
        found = [r for m, r in mine.items() if m != BEST and r.latency_cycles is not None]
        best = mine[BEST]
        if not found:
            assert best.latency_cycles is None
            continue
        assert best.status == "heuristic"
        assert best.latency_cycles == min(r.latency_cycles or 0 for r in found)
        assert best.extra["heuristic"] in {r.method for r in found}
        for r in [*found, best]:
            assert r.peak_memory_bytes and r.extra["peak_bytes"] == max(
                r.peak_memory_bytes.values()
            )
            for key in ("spilled_bytes", "reloaded_bytes", "dram_bytes", "multicast_transfers"):
                assert isinstance(r.extra[key], int), key
            assert r.extra["dram_bytes"] == r.extra["dram_in_bytes"] + r.extra["dram_out_bytes"]
            if semantics == FORMAT_1_LABEL:  # format 1 has no multicast, spill or reload
                assert r.extra["multicast_transfers"] == 0
                assert r.extra["spilled_bytes"] == r.extra["reloaded_bytes"] == 0


def test_one_pair_has_every_heuristic_and_the_best_under_both_semantics() -> None:
    records = run_pair("attention_head", "quad_bus")
    _check_pair(records, "attention_head", "quad_bus")
    for semantics in SEMANTICS:
        best = next(
            r
            for r in records
            if r.method == BEST and r.instance == label("attention_head", "quad_bus", semantics)
        )
        assert best.latency_cycles is not None  # the small head always has a schedule
        assert best.num_tasks == 14  # 7 layers in the pipeline's default 2 token tiles
        assert best.params["tiling"] == f"--tiles {DEFAULT_TILES} --head-tiles 1"
        assert best.params["tiling_why"] == "default"
        assert best.params["M"] == 256  # the workload's default size, recorded


def test_format_1_makes_every_link_exclusive_without_multicast() -> None:
    built = build("attention_head", "quad_bus")
    assert built.problem is not None
    assert any(lk.multicast or lk.sharing == "bandwidth" for lk in built.problem.links)
    old = format_1(built.problem)
    assert all(lk.sharing == "exclusive" and not lk.multicast for lk in old.links)
    assert [lk.id for lk in old.links] == [lk.id for lk in built.problem.links]
    assert old.tasks == built.problem.tasks and old.routes == built.problem.routes


def test_a_default_tiling_that_does_not_fit_is_replaced_and_recorded() -> None:
    built = build("mha", "mesh4x4")  # a tile of the default tiling fits no 128 KiB memory
    assert built.problem is not None and built.reason is None
    assert str(built.params["tiling_why"]).startswith("auto: the default tiling does not fit")
    assert "--split" in str(built.params["tiling"])


def test_a_pair_where_no_tiling_fits_is_recorded_and_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def nothing_fits(options: object) -> object:
        raise input_error("--tiles", "", "no tiling fits: one tile of FF1 needs more")

    monkeypatch.setattr(format2, "build_job", nothing_fits)
    records = run_pair("bert_base", "gap8")
    assert len(records) == len(METHODS) * len(SEMANTICS)
    assert {r.status for r in records} == {DOES_NOT_FIT}
    assert all("no tiling fits" in str(r.extra["reason"]) for r in records)
    md = report(records, BenchConfig(suite="format2"), Path("."))
    assert "| bert_base@gap8 | – | does not fit |" in md
    assert "### bert_base@gap8" in md and "Does not fit:" in md
    assert "1 fit at no tiling (bert_base@gap8)" in md


def test_report_compares_format_1_with_format_2() -> None:
    records = run_pair("attention_head", "quad_bus")
    md = report(records, BenchConfig(suite="format2"), Path("."))
    row = next(line for line in md.splitlines() if line.startswith("| attention_head@quad_bus |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "14" and cells[2].startswith("yes") and cells[5].startswith("yes")
    assert cells[9].endswith("%") and cells[10].endswith("%")  # Δ latency, Δ peak
    assert "## Per heuristic" in md and "## Findings" in md
    assert "Every heuristic schedule passed the validator." in md
    assert "## BERT-base" not in md  # no called-out instance among these records


def test_the_called_out_instances_are_bert_base_on_four_hardware() -> None:
    assert CALLED_OUT == (
        "bert_base@quad_bus",
        "bert_base@hetero_quad",
        "bert_base@mesh4x4",
        "bert_base@gap8",
    )
    assert format2.workload_defaults("bert_base")["M"] == 128


@pytest.mark.slow
def test_quick_suite_writes_records_and_the_summary(tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="format2", quick=True), tmp_path, "test")
    assert path == tmp_path / "format2.json"
    data = json.loads(path.read_text())
    records = [Record.model_validate(r) for r in data["records"]]
    md = (tmp_path / "format2.md").read_text()
    assert len(records) == len(format2.QUICK_PAIRS) * len(METHODS) * len(SEMANTICS)
    for workload, hardware in format2.QUICK_PAIRS:
        mine = [r for r in records if r.instance.startswith(f"{workload}@{hardware} ")]
        _check_pair(mine, workload, hardware)
        assert f"| {workload}@{hardware} |" in md
    assert "## BERT-base, M = 128" in md and "### bert_base@quad_bus" in md
    assert "## Findings" in md
