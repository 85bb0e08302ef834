"""`cpsched bench --suite milp`: CP-SAT and both MILP backends prove the same optimum, schedules
valid, on the quick run (slow) and on one bundled example (fast). Neither depends on wall time:
the quick limits are far beyond what these instances need, and the MILP's node limit is the same
on every machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpsched.bench.milp import QUICK_NODE_LIMIT, QUICK_TIME_LIMIT_S, instances, run_instance
from cpsched.bench.runner import BenchConfig, run_suite
from cpsched.cpsat import SolverParams


def test_two_cores_private_all_sides_prove_the_same_optimum() -> None:
    (inst,) = [i for i in instances(quick=True) if i.name == "two_cores_private"]
    solver = SolverParams(time_limit_s=QUICK_TIME_LIMIT_S, num_workers=2, seed=0)
    records = {r.method: r for r in run_instance(inst, solver, QUICK_NODE_LIMIT)}
    assert set(records) == {"milp-scip", "milp-highs", "cpsat"}
    assert {r.status for r in records.values()} == {"optimal"}
    assert {r.gap for r in records.values()} == {0.0}
    (latency,) = {r.latency_cycles for r in records.values()}
    assert {r.objective_value for r in records.values()} == {latency}
    # the bundled example's hand-made schedule takes 272 cycles; the optimum is no longer
    assert latency is not None and latency <= 272


@pytest.mark.slow
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
