"""`cpsched bench --suite models`: the quick run's files, records and findings (slow), one pair's
records (fast), never times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpsched.bench.models import MODES, OBJECTIVES, Tiling, choose, run_pair, winner
from cpsched.bench.runner import BenchConfig, run_suite


@pytest.mark.slow
def test_quick_suite_writes_records_for_every_mode_and_objective(tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="models", quick=True), tmp_path, "cpsched bench --quick")
    assert path == tmp_path / "models.json"
    data = json.loads(path.read_text())
    records = data["records"]
    md = (tmp_path / "models.md").read_text()
    for hardware in ("single_core", "quad_bus"):
        latency = {}
        for mode in MODES:
            mine = [r for r in records if r["instance"] == f"attention_head@{hardware} {mode}"]
            assert sorted(r["objective"] for r in mine) == sorted(OBJECTIVES)
            for r in mine:
                assert r["method"] == "cpsat"
                assert r["status"] in ("optimal", "feasible")
                # 7 layers (Q, K, V, Kt, QKt, softmax, xV) cut into 2 token tiles
                assert r["num_tasks"] == 14
                assert r["params"]["M"] == 64 and r["params"]["mode"] == mode
            latency[mode] = next(r for r in mine if r["objective"] == "latency")["latency_cycles"]
        # a layer-by-layer schedule is also a fused one, and it hints the fused solve
        assert latency["fused"] <= latency["layer-by-layer"]
        assert f"| attention_head@{hardware} | 14 |" in md
    misfit = [r for r in records if r["instance"].startswith("bert_base@gap8")]
    assert len(misfit) == 2
    for r in misfit:
        assert r["status"] == "does-not-fit"
        assert "fit no memory" in r["extra"]["reason"]
        assert "65536 bytes" in r["extra"]["reason"]  # GAP8's L1
    assert "bert_base@gap8 | – | does not fit" in md
    assert "## Findings" in md


def test_one_tiny_pair_has_every_mode_and_objective_and_fusion_never_loses_latency() -> None:
    # the slow quick run's record-level check on one pair: a head of M = 8 in 2 token tiles
    config = BenchConfig(suite="models", quick=True)
    records = run_pair(("attention_head", "single_core", Tiling({"M": 8}, 2)), config)
    latency = {}
    for mode in MODES:
        mine = [r for r in records if r.instance == f"attention_head@single_core {mode}"]
        assert sorted(str(r.objective) for r in mine) == sorted(OBJECTIVES)
        for r in mine:
            assert r.method == "cpsat" and r.status in ("optimal", "feasible")
            assert r.num_tasks == 14  # 7 layers in 2 token tiles
        latency[mode] = next(r for r in mine if r.objective == "latency").latency_cycles
    # the layer-by-layer schedule is a fused one too, and it hints the fused solve
    assert latency["fused"] is not None and latency["layer-by-layer"] is not None
    assert latency["fused"] <= latency["layer-by-layer"]


def test_winner_names_the_smaller_value() -> None:
    assert winner(10.0, 8.0) == "fused"
    assert winner(8.0, 10.0) == "lbl"
    assert winner(8.0, 8.0) == "tie"
    assert winner(None, 8.0) == "–"


def test_ladder_picks_the_first_tiling_that_fits() -> None:
    # edge_transformer tiles easily: the first rung (token tiles only) fits quad_bus
    fits = choose("edge_transformer", "quad_bus")
    assert fits.reason is None
    assert fits.tiling == Tiling({}, 4)
    assert fits.build("fused").name.startswith("edge_transformer on")
