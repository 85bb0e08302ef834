"""`cpsched bench --suite heuristics`: every heuristic against CP-SAT and the gap split, on the
quick run (slow) and on one instance (fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cpsched.bench.heuristics import run_instance
from cpsched.bench.models import Tiling
from cpsched.bench.runner import BenchConfig, run_suite
from cpsched.heuristics import HEURISTICS


def _check_instance(records: list[dict[str, Any]], instance: str) -> None:
    """CP-SAT is never worse than a heuristic, and each heuristic's gap splits exactly."""
    mine = {r["method"]: r for r in records if r["instance"] == instance}
    assert set(mine) == {*HEURISTICS, "cpsat"}
    cpsat = mine.pop("cpsat")
    assert cpsat["status"] in ("optimal", "feasible")
    for name, r in mine.items():
        assert r["status"] == "heuristic", name
        assert cpsat["latency_cycles"] <= r["latency_cycles"], name
        extra = r["extra"]
        parts = (
            extra["from_timing_cycles"]
            + extra["from_order_cycles"]
            + extra["from_allocation_cycles"]
        )
        # L - L* = timing + order + allocation, exactly, by construction
        assert parts == r["latency_cycles"] - cpsat["latency_cycles"], name
        # a re-timing never makes a schedule worse: keeping the cores only frees more
        assert (
            extra["retimed_cores_kept_cycles"]
            <= extra["retimed_order_kept_cycles"]
            <= r["latency_cycles"]
        )


def test_one_instance_cpsat_never_worse_and_gap_split_adds_up() -> None:
    pair = ("attention_head", "single_core", Tiling({"M": 64}, 2))
    records = run_instance(pair, BenchConfig(suite="heuristics", quick=True))
    _check_instance([r.model_dump() for r in records], "attention_head@single_core fused")


@pytest.mark.slow
def test_quick_suite_cpsat_never_worse_and_gap_split_adds_up(tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="heuristics", quick=True), tmp_path, "test")
    records = json.loads(path.read_text())["records"]
    md = (tmp_path / "heuristics.md").read_text()
    for instance in ["attention_head@single_core fused", "attention_head@quad_bus fused"]:
        _check_instance(records, instance)
    misfit = [r for r in records if r["instance"] == "bert_base@gap8 fused"]
    assert {r["method"] for r in misfit} == {*HEURISTICS, "cpsat"}
    assert {r["status"] for r in misfit} == {"does-not-fit"}
    assert "Holds on all 2 instances that fit" in md
    for name in HEURISTICS:
        assert f"| {name} | 2 | 0 |" in md
