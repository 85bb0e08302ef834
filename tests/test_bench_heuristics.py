"""`cpsched bench --suite heuristics --quick`: every heuristic against CP-SAT, gap split."""

from __future__ import annotations

import json
from pathlib import Path

from cpsched.bench.runner import BenchConfig, run_suite
from cpsched.heuristics import HEURISTICS


def test_quick_suite_cpsat_never_worse_and_gap_split_adds_up(tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="heuristics", quick=True), tmp_path, "test")
    records = json.loads(path.read_text())["records"]
    md = (tmp_path / "heuristics.md").read_text()
    solved = ["attention_head@single_core fused", "attention_head@quad_bus fused"]
    for instance in solved:
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
    misfit = [r for r in records if r["instance"] == "bert_base@gap8 fused"]
    assert {r["method"] for r in misfit} == {*HEURISTICS, "cpsat"}
    assert {r["status"] for r in misfit} == {"does-not-fit"}
    assert "Holds on all 2 instances that fit" in md
    for name in HEURISTICS:
        assert f"| {name} | 2 | 0 |" in md
