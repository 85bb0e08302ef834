"""`cpsched bench --suite scaling`: the quick run's model sizes, ablation rows and targets table
(slow); the ablation and the BERT target's fit check on their own (fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpsched.bench.runner import BenchConfig, run_suite
from cpsched.bench.scaling import (
    BERT_TARGET,
    DOES_NOT_FIT,
    ScalingInstance,
    available_switches,
    instances,
    run_instance,
)
from cpsched.cpsat import SolverParams

SOLVER = SolverParams(num_workers=2, seed=0)


def test_ablation_of_a_tiny_head_keeps_the_optimum() -> None:
    # an attention head of M = 64 in one tile on one core: 7 tasks, proven at once
    tiny = ScalingInstance("attention_head", "single_core", {"M": 64}, 1, 10.0, ablation=True)
    switches = available_switches()[:3]
    records = run_instance(tiny, SOLVER, switches)
    assert [r.params["config"] for r in records] == ["all on", *(f"no {s}" for s in switches)]
    for r in records:
        assert r.objective == "latency" and r.method == "cpsat"
        assert r.num_tasks == 7
        assert r.num_variables and r.num_constraints
    proven = {r.latency_cycles for r in records if r.status == "optimal"}
    assert len(proven) <= 1  # switching a strengthening off never changes the optimum


def test_bert_target_does_not_fit_the_mesh() -> None:
    bert = next(i for i in instances(quick=True, time_limit_s=None) if i.target == BERT_TARGET)
    (record,) = run_instance(bert, SOLVER, ())
    assert record.status == DOES_NOT_FIT
    assert "131072 bytes" in str(record.extra["reason"])  # a mesh4x4 core's memory


@pytest.mark.slow
def test_quick_suite_ablation_and_targets(tmp_path: Path) -> None:
    path = run_suite(BenchConfig(suite="scaling", quick=True), tmp_path, "test")
    records = json.loads(path.read_text())["records"]
    md = (tmp_path / "scaling.md").read_text()
    assert (tmp_path / "scaling-time.png").stat().st_size > 0
    t2 = [r for r in records if r["instance"] == "attention_head M=64 T=2 @quad_bus"]
    configs = {r["params"]["config"]: r for r in t2}
    assert set(configs) == {"all on", "no use_hint", "no redundant", "no symmetry_breaking"}
    for r in t2:
        assert r["objective"] == "latency" and r["method"] == "cpsat"
        assert r["num_tasks"] == 14  # 7 layers x 2 token tiles
        assert r["num_variables"] > 0 and r["num_constraints"] > 0
    proven = {r["latency_cycles"] for r in t2 if r["status"] == "optimal"}
    assert len(proven) <= 1  # switching a strengthening off never changes the optimum
    t4 = [r for r in records if r["instance"] == "attention_head M=64 T=4 @quad_bus"]
    assert len(t4) == 1 and t4[0]["num_tasks"] == 28
    assert t4[0]["num_variables"] > configs["all on"]["num_variables"]
    (bert,) = [r for r in records if r["params"]["workload"] == "bert_base"]
    assert bert["status"] == "does-not-fit"
    assert bert["params"]["target"] == BERT_TARGET
    assert "131072 bytes" in bert["extra"]["reason"]  # a mesh4x4 core's memory
    assert "**not measurable**" in md
    assert "| instance | all on | no use_hint | no redundant | no symmetry_breaking |" in md
