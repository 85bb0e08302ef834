"""`cpsched bench --suite milp --quick`: CP-SAT and both MILP backends agree, schedules valid."""

from __future__ import annotations

import json
from pathlib import Path

from cpsched.bench.runner import BenchConfig, run_suite


def test_quick_suite_all_sides_prove_the_same_optimum(tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="milp", quick=True), tmp_path, "test")
    records = json.loads(path.read_text())["records"]
    md = (tmp_path / "milp.md").read_text()
    for instance in ("two_cores_private", "rand-s6-2c-6t-nomem"):
        mine = {r["method"]: r for r in records if r["instance"] == instance}
        assert set(mine) == {"milp-scip", "milp-highs", "cpsat"}
        assert {r["status"] for r in mine.values()} == {"optimal"}
        assert len({r["latency_cycles"] for r in mine.values()}) == 1
        assert {r["objective_value"] for r in mine.values()} == {mine["cpsat"]["latency_cycles"]}
        assert {r["gap"] for r in mine.values()} == {0.0}
    # the bundled example's hand-made schedule takes 272 cycles; the optimum is no longer
    private = [r for r in records if r["instance"] == "two_cores_private"]
    assert all(r["latency_cycles"] <= 272 for r in private)
    assert "Proven optima agree on every instance." in md
    assert "10× on every instance both solve" in md
