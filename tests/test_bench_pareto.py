"""The `pareto` benchmark suite: its quick run into tmp_path writes the suite's JSON, markdown and
plots, with a record per front point and per layer-by-layer reference (slow); one tiny instance's
records (fast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpsched.bench.pareto import SUITE, Instance, instances, run_instance
from cpsched.bench.runner import BenchConfig, Record, run_suite
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams


def _check_front(front: list[Record]) -> None:
    """Latency ascending, peak strictly descending, every capped point under its cap."""
    front.sort(key=lambda r: r.extra["point_index"] or 0)
    latencies = [r.latency_cycles for r in front]
    peaks = [r.extra["front_peak_bytes"] for r in front]
    assert latencies == sorted(latencies)  # type: ignore[type-var]
    assert peaks == sorted(peaks, reverse=True) and len(set(peaks)) == len(peaks)  # type: ignore[type-var]
    for r in front:
        cap = r.params["cap_bytes"]
        assert cap is None or r.extra["front_peak_bytes"] <= cap  # type: ignore[operator]
        assert r.extra["front_peak_bytes"] == max(r.peak_memory_bytes.values())


def test_tiny_instance_front_and_references() -> None:
    # the slow quick run's record-level checks on a head of M = 8 in 2 token tiles; they hold
    # whether or not a point is proven, so the short limit only makes the test fast
    instance = Instance("attention-M8", "attention_head", {"M": 8, "N": 64}, 2, max_points=2)
    records = run_instance(instance, SolverParams(time_limit_s=0.3, num_workers=2, seed=0))
    assert {r.instance for r in records} == {instance.name}
    front = [r for r in records if r.method == "pareto" and r.extra["on_front"]]
    refs = [r for r in records if r.method == "pareto-reference"]
    assert front
    assert [r.extra["role"] for r in refs] == [
        "layer-by-layer min-latency",
        "layer-by-layer min-memory",
    ]
    assert {r.params["mode"] for r in refs} == {"layer-by-layer"}
    _check_front(front)


@pytest.mark.slow
def test_quick_pareto_suite_writes_files_and_records(tmp_path: Path) -> None:
    config = BenchConfig(suite="pareto", quick=True, time_limit_s=1.0, num_workers=2, seed=0)
    written = run_suite(config, tmp_path, "cpsched bench --suite pareto --quick")
    assert written == tmp_path / "pareto.json"
    data = json.loads(written.read_text())
    records = data["records"]
    quick = instances(quick=True)
    assert {r["instance"] for r in records} == {i.name for i in quick}
    for instance in quick:
        mine = [r for r in records if r["instance"] == instance.name]
        front = [r for r in mine if r["method"] == "pareto" and r["extra"]["on_front"]]
        refs = [r for r in mine if r["method"] == "pareto-reference"]
        assert front, instance.name
        assert [r["extra"]["role"] for r in refs] == [
            "layer-by-layer min-latency",
            "layer-by-layer min-memory",
        ]
        assert {r["params"]["mode"] for r in refs} == {"layer-by-layer"}
        _check_front([Record.model_validate(r) for r in front])
        assert (tmp_path / f"pareto-{instance.key}.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (tmp_path / "pareto.md").read_text()
    for instance in quick:
        assert f"## {instance.name}" in markdown
        assert f"(pareto-{instance.key}.png)" in markdown
    assert SUITE.name == "pareto"


def test_instances_build_valid_problems_with_schedules_in_both_modes() -> None:
    # the full suite's instances build (the BERT-base cut fits every tile into 256 KiB)
    from cpsched.heuristics import best_heuristic_schedule
    from cpsched.pipeline import check_tiles_fit

    for instance in instances(quick=False):
        for mode in ("fused", "layer-by-layer"):
            problem = instance.problem(mode)
            check_tiles_fit(problem)
            schedule = best_heuristic_schedule(problem)
            assert schedule is not None and validate(problem, schedule) == []
