"""The library pipeline behind `cpsched solve`: phases, results, run folders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cpsched.check.validate import validate
from cpsched.cpsat.params import SolverParams
from cpsched.model.errors import InputError
from cpsched.model.problem import Problem
from cpsched.model.result import HintInfo, SolveResult
from cpsched.model.schedule import Schedule
from cpsched.pipeline import BuildOptions, PhaseEvent, build_from_options, run_job
from cpsched.runs import check_out_dir, default_run_dir, load_run, write_run

# every solve here proves its optimum in about a second; the limit only stops a regression, so
# that a loaded machine never turns a proof into a timeout
PARAMS = SolverParams(time_limit_s=60, num_workers=2, seed=0)


def test_run_job_reports_phases_and_returns_every_result(tmp_path: Path) -> None:
    events: list[PhaseEvent] = []
    progress: list[float | None] = []
    options = BuildOptions(overrides={"M": 64}, tiles=1, mode="layer-by-layer")
    problem, heuristics, result = run_job(
        options,
        "latency",
        PARAMS,
        on_phase=events.append,
        on_progress=lambda p: progress.append(p.objective),
    )
    assert [(e.phase, e.done) for e in events] == [
        ("build", False),
        ("build", True),
        ("heuristics", False),
        ("heuristics", True),
        ("solve", False),
        ("solve", True),
    ]
    assert events[1].detail == "7 tasks, 11 tensors, 4 cores"
    assert len(problem.barriers) > 0  # layer-by-layer
    assert set(heuristics) == {"list-depth-first", "list-breadth-first", "heft", "layer-by-layer"}
    assert result.status == "optimal" and result.schedule is not None
    assert validate(problem, result.schedule) == []
    # CP-SAT's optimum is never worse than any heuristic's schedule
    assert result.objective_value is not None
    assert all(
        result.objective_value <= (h.objective_value or float("inf")) for h in heuristics.values()
    )
    assert result.parameters["build"]["overrides"] == {"M": 64}
    assert result.hint is not None and result.hint.used
    assert result.hint.source == "heuristic" and result.hint.method in heuristics
    assert result.parameters["heuristic_latency_cycles"] == {
        name: h.objective_value for name, h in heuristics.items()
    }
    assert progress and progress[-1] == result.objective_value

    written = write_run(tmp_path / "run", problem, result)
    assert len(written) == 7
    again_problem, again = load_run(tmp_path / "run")
    assert again_problem == problem and again == result


def test_run_job_without_hint_skips_the_heuristics() -> None:
    events: list[PhaseEvent] = []
    _, heuristics, result = run_job(
        BuildOptions(tiles=1),
        "latency",
        PARAMS.model_copy(update={"use_hint": False}),
        on_phase=events.append,
    )
    assert heuristics == {} and [e.phase for e in events] == ["build", "build", "solve", "solve"]
    assert result.status == "optimal" and result.hint is None


def test_build_options_match_cpsched_build() -> None:
    # the default of cpsched solve: the bundled attention head on quad_bus, two token tiles
    problem = build_from_options(BuildOptions())
    assert problem.name == "attention_head on quad_bus (T=2, fused, allocation tile)"
    assert len(problem.tasks) == 14 and len(problem.cores) == 4
    grouped = build_from_options(BuildOptions(tiles=4, allocation="layer"))
    assert len(grouped.groups) == 7  # one per layer, each of 4 tiles


def test_default_run_dir_is_new(tmp_path: Path) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = default_run_dir("models/w.yaml", "quad_bus", tmp_path / "runs", now=now)
    assert first == tmp_path / "runs" / "w-quad_bus-20260102T030405Z" and first.is_dir()
    second = default_run_dir("models/w.yaml", "quad_bus", tmp_path / "runs", now=now)
    assert second == tmp_path / "runs" / "w-quad_bus-20260102T030405Z-2" and second.is_dir()


def test_check_out_dir(tmp_path: Path) -> None:
    check_out_dir(tmp_path / "new", force=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(InputError, match="is not empty; pass --force"):
        check_out_dir(tmp_path / "full", force=False)
    check_out_dir(tmp_path / "full", force=True)
    with pytest.raises(InputError, match="is a file, expected a folder"):
        check_out_dir(tmp_path / "full" / "x", force=True)


def test_cp_sat_without_schedule_in_time_keeps_the_heuristic_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_schedule(
        problem: Problem, objective: object, params: SolverParams, **kw: object
    ) -> SolveResult:
        return SolveResult(
            method="cpsat",
            status="unknown",
            objective=str(objective),
            stages=[{"objective": "latency", "status": "unknown", "value": None, "bound": 30000.0}],
            hint=HintInfo(
                source="heuristic",
                method=str(kw["hint_method"]),
                used=False,
                why_not="not completed",
            ),
            message="no schedule found within the time limit",
        )

    monkeypatch.setattr("cpsched.cpsat.solver.solve", no_schedule)
    problem, heuristics, result = run_job(BuildOptions(), "latency,memory", PARAMS)
    best = min(heuristics, key=lambda name: heuristics[name].objective_value or float("inf"))
    assert result.method == best and result.status == "feasible"
    assert result.schedule is not None and result.schedule == heuristics[best].schedule
    latency = heuristics[best].objective_value
    assert latency is not None and result.objective_value == latency
    assert result.bound == 30000.0 and result.gap == pytest.approx((latency - 30000) / latency)
    assert result.message == (
        f"CP-SAT found no schedule within the time limit; the best heuristic schedule ({best}) "
        "is kept"
    )
    assert result.hint == HintInfo(
        source="heuristic", method=best, used=False, why_not="not completed", kept=True
    )
    assert validate(problem, result.schedule) == []


def _two_tasks_on_two_cores() -> Problem:
    # a (10 cycles) and b (6 cycles), independent, each may run on c0 or c1: latency 10
    return Problem.model_validate(
        {
            "format": "cpsched-problem/1",
            "name": "two",
            "memories": [{"id": "dram", "capacity_bytes": None}],
            "cores": [{"id": "c0", "memory": "dram"}, {"id": "c1", "memory": "dram"}],
            "tasks": [
                {"id": t, "options": [{"core": k, "duration_cycles": d} for k in ("c0", "c1")]}
                for t, d in (("a", 10), ("b", 6))
            ],
        }
    )


def _unknown(objective: str, bound: float | None = None) -> SolveResult:
    return SolveResult(
        method="cpsat",
        status="unknown",
        objective=objective,
        bound=bound,
        hint=HintInfo(source="given", used=False, why_not="not completed"),
        message="no schedule found within the time limit",
    )


def test_keep_hint_is_the_one_fallback_never_worse_than_the_hint() -> None:
    # the solver's own copy of this fallback went: when CP-SAT ends with no schedule and no
    # proof, the pipeline keeps a valid hint, measured in the result's objective
    from cpsched.pipeline import keep_hint

    p = _two_tasks_on_two_cores()
    serial = Schedule.model_validate(
        {
            "problem": "two",
            "tasks": [
                {"id": "a", "core": "c0", "start": 0},
                {"id": "b", "core": "c0", "start": 10},
            ],
        }
    )
    kept = keep_hint(p, _unknown("latency", bound=10.0), serial)
    assert (kept.status, kept.schedule, kept.objective_value) == ("feasible", serial, 16.0)
    assert kept.bound == 10.0 and kept.gap == pytest.approx(6 / 16)
    assert kept.hint == HintInfo(source="given", used=False, why_not="not completed", kept=True)
    assert kept.message.endswith("the given hint is kept")
    # a hint over a cap is no schedule of the capped problem; a proof or a schedule stands
    assert keep_hint(p, _unknown("latency"), serial, caps={"latency": 15}).schedule is None
    # a hint outside CP-SAT's space (spills, staging) may beat the bound of that space: none
    outside = _unknown("latency", bound=10.0).model_copy(
        update={
            "hint": HintInfo(
                source="given", used=False, why_not="invalid or outside the search space"
            )
        }
    )
    kept = keep_hint(p, outside, serial)
    assert (kept.status, kept.objective_value, kept.bound, kept.gap) == (
        "feasible",
        16.0,
        None,
        None,
    )
    proven = _unknown("latency").model_copy(update={"status": "infeasible"})
    assert keep_hint(p, proven, serial) == proven
    broken = serial.model_copy(
        update={"tasks": tuple(t.model_copy(update={"start": 0}) for t in serial.tasks)}
    )
    assert keep_hint(p, _unknown("latency"), broken).schedule is None  # invalid: not kept


def test_solve_from_hint_starts_from_the_best_heuristic() -> None:
    from cpsched.pipeline import solve_from_hint

    r = solve_from_hint(_two_tasks_on_two_cores(), "latency", PARAMS)
    assert (r.status, r.objective_value) == ("optimal", 10.0)
    assert r.hint is not None and r.hint.source == "heuristic" and r.hint.method is not None
    alone = solve_from_hint(
        _two_tasks_on_two_cores(), "latency", PARAMS.model_copy(update={"use_hint": False})
    )
    assert (alone.status, alone.objective_value, alone.hint) == ("optimal", 10.0, None)
    # heuristic results at hand are used, not run again
    from cpsched.heuristics import run_heuristics

    heft = run_heuristics(_two_tasks_on_two_cores(), ["heft"])
    again = solve_from_hint(_two_tasks_on_two_cores(), "latency", PARAMS, heuristics=heft)
    assert again.hint is not None and again.hint.method == "heft"


def test_a_format_1_result_reads_as_format_2() -> None:
    # format 1 kept the hint's origin and the interrupt in free text; they become fields
    from cpsched.model.result import upgrade_result

    old = {
        "format": "cpsched-result/1",
        "method": "heft",
        "status": "feasible",
        "objective": "latency",
        "parameters": {"seed": 0, "hint": "heuristic heft (not used by CP-SAT: outside the model)"},
        "message": "interrupted before CP-SAT found a schedule; the best heuristic schedule "
        "(heft) is kept",
    }
    result = SolveResult.model_validate(upgrade_result(old))
    assert result.interrupted and result.parameters == {"seed": 0}
    assert result.hint == HintInfo(
        source="heuristic", method="heft", used=False, why_not="outside the model", kept=True
    )
    given = {**old, "message": "", "parameters": {"hint": "given (unusable: invalid)"}}
    result = SolveResult.model_validate(upgrade_result(given))
    assert not result.interrupted
    assert result.hint == HintInfo(source="given", used=False, why_not="invalid")
    assert (
        SolveResult.model_validate(upgrade_result({**old, "parameters": {"hint": "none"}})).hint
        is None
    )


def _broadcast() -> Problem:
    # X (40 bytes) lies in dram and is read by a on c0 (memory m0) and b on c1 (memory m1),
    # 1 cycle each. One bus link, 10 bytes per cycle, multicast. Unicast (CP-SAT's space):
    # two 4-cycle transfers one after the other, b ends at 9. Multicast: one 4-cycle transfer
    # to both, a and b run at 4, latency 5.
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "broadcast",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "m0", "capacity_bytes": None},
                {"id": "m1", "capacity_bytes": None},
            ],
            "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
            "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 10, "multicast": True}],
            "routes": [
                {"src": "dram", "dst": "m0", "links": ["bus"]},
                {"src": "dram", "dst": "m1", "links": ["bus"]},
            ],
            "tensors": [{"id": "X", "size_bytes": 40, "kind": "input", "home": "dram"}],
            "tasks": [
                {"id": "a", "inputs": ["X"], "options": [{"core": "c0", "duration_cycles": 1}]},
                {"id": "b", "inputs": ["X"], "options": [{"core": "c1", "duration_cycles": 1}]},
            ],
        }
    )


def test_a_better_hint_outside_cpsats_space_is_kept_not_a_worse_optimum() -> None:
    """CP-SAT once reported its space's optimum (9) as 'optimal' although the multicast hint
    it was given (5) is valid and better; its bound holds for its space only. CP-SAT now
    searches this multicast itself, so the space here is the unicast one (`multicast=False`)."""
    from cpsched.pipeline import solve_from_hint

    p = _broadcast()
    own = solve_from_hint(p, "latency", PARAMS.model_copy(update={"use_hint": False}))
    assert (own.status, own.objective_value) == ("optimal", 5.0)  # the multicast, found and proven
    unicast = PARAMS.model_copy(update={"multicast": False})
    multicast = Schedule.model_validate(
        {
            "problem": "broadcast",
            "tasks": [{"id": "a", "core": "c0", "start": 4}, {"id": "b", "core": "c1", "start": 4}],
            "transfers": [{"tensor": "X", "src": "dram", "dst": ["m0", "m1"], "start": 0}],
        }
    )
    assert validate(p, multicast) == []
    alone = solve_from_hint(p, "latency", unicast.model_copy(update={"use_hint": False}))
    assert (alone.status, alone.objective_value) == ("optimal", 9.0)
    r = solve_from_hint(p, "latency", unicast, hint=multicast)
    # the space's bound (9) does not hold for the hint; the one for every schedule (a 1-cycle
    # task: cpsched.cpsat.work) does
    assert (r.status, r.objective_value, r.bound, r.gap) == ("feasible", 5.0, 1.0, 0.8)
    assert r.parameters["bound_every_schedule"] == 1
    assert r.schedule == multicast and r.hint is not None and r.hint.kept
    assert r.message.startswith("a valid schedule outside CP-SAT's search space is better")
