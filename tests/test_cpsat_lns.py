"""The retiming model (cpsched/cpsat/retime.py) and the large-neighbourhood search on it
(cpsched/cpsat/lns.py): the given schedule is always one of the model's solutions, every
solution is valid with the same cores, transfers and energy, no higher latency and no higher
memory peaks; and `solve` runs the search when its hint lies outside CP-SAT's space.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from ortools.sat.python import cp_model
from sampling import examples
from test_heuristics_format2 import fork, schedules, tight_format2_problems
from test_run import _broadcast

from cpsched.check.metrics import metrics
from cpsched.check.validate import derive_copies, timed_schedule, validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.lns import improve
from cpsched.cpsat.retime import build_retime
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule
from cpsched.pipeline import solve_from_hint


def shifted(schedule: Schedule, by: int) -> Schedule:
    """`schedule` with every start `by` cycles later (still valid: nothing is closer)."""
    tasks = tuple(t.model_copy(update={"start": t.start + by}) for t in schedule.tasks)
    moves = tuple(x.model_copy(update={"start": x.start + by}) for x in schedule.transfers)
    return schedule.model_copy(update={"tasks": tasks, "transfers": moves})


def retimed(p: Problem, schedule: Schedule, *, fix: bool = False, keep_peaks: bool = True):
    """Solve the retiming model of `schedule` (with `fix`: only check that the schedule itself
    is a solution); returns CP-SAT's status and the schedule of its solution."""
    r = build_retime(p, schedule, keep_peaks=keep_peaks)
    for var, value in r.solution_of(schedule).items():
        r.model.add_hint(var, value)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = 20
    solver.parameters.fix_variables_to_their_hinted_value = fix
    # CP-SAT's own Ctrl-C handler would outlive the solve in this test process
    solver.parameters.catch_sigint_signal = False
    status = solver.solve(r.model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE), solver.status_name(status)
    return status, r.schedule_from(solver=solver)


def structure(schedule: Schedule) -> tuple:
    cores = sorted((t.id, t.core) for t in schedule.tasks)
    moves = [(x.tensor, x.src, x.dsts, x.rate_bytes_per_cycle) for x in schedule.transfers]
    return cores, moves


def peaks(p: Problem, schedule: Schedule) -> dict[str, tuple[int, int]]:
    m = metrics(p, schedule)
    return {
        k: (v.peak_bytes, v.peak_by_kind.get("activation", 0)) for k, v in m.peak_memory.items()
    }


def assert_releases_are_the_validators(p: Problem, schedule: Schedule, name: str = "") -> None:
    """The retiming model's copies are the validator's, in its order, each released (or never
    released) where the validator says."""
    r = build_retime(p, schedule)
    starts = r.solution_of(schedule)
    copies = derive_copies(p, timed_schedule(p, schedule)).by_key
    for release in r.releases:
        copy = copies[(release.tensor, release.memory)][release.k]
        assert release.never == copy.never_released, (name, release.tensor)
        if not release.never:
            assert release.value(starts, r.horizon) == copy.release, (name, release.tensor)
    assert len(r.releases) == sum(len(c) for c in copies.values()), name


def multicast_at(start: int) -> Schedule:
    return Schedule.model_validate(
        {
            "problem": "broadcast",
            "tasks": [
                {"id": "a", "core": "c0", "start": start + 4},
                {"id": "b", "core": "c1", "start": start + 4},
            ],
            "transfers": [{"tensor": "X", "src": "dram", "dst": ["m0", "m1"], "start": start}],
        }
    )


def test_retiming_moves_a_late_multicast_to_the_start() -> None:
    # the multicast of _broadcast() starting at 10 ends at 14, a and b end at 15; re-timed it
    # starts at 0 and the latency is 5 (one 4-cycle transfer, then the 1-cycle tasks)
    p = _broadcast()
    late = multicast_at(10)
    assert validate(p, late) == [] and metrics(p, late).latency_cycles == 15
    status, out = retimed(p, late)
    assert status == cp_model.OPTIMAL and out == multicast_at(0)


def test_retiming_keeps_a_spill_and_its_reload() -> None:
    # every heuristic schedule of the fork spills a or b to l2 and reloads it (100 B each way);
    # re-timed from 500 cycles later, it comes back to the same latency or better, with the
    # same cores and transfers (so the spill and reload) and the same energy
    p = fork()
    for name, schedule in schedules(p).items():
        late = shifted(schedule, 500)
        _, out = retimed(p, late)
        assert validate(p, out) == [], name
        before, after = metrics(p, schedule), metrics(p, out)
        assert after.latency_cycles <= before.latency_cycles, name
        assert (after.spilled_bytes, after.reloaded_bytes) == (100, 100), name
        assert after.energy_total_pj == before.energy_total_pj, name
        assert structure(out) == structure(schedule), name


@settings(max_examples=examples(20), deadline=None, derandomize=True)
@given(tight_format2_problems())
def test_every_heuristic_schedule_is_a_solution_and_retiming_never_hurts(p: Problem) -> None:
    for name, schedule in schedules(p).items():
        if schedule is None:
            continue
        _, same = retimed(p, schedule, fix=True)
        assert same == schedule, name  # the given schedule is in the model, exactly
        _, out = retimed(p, schedule)
        assert validate(p, out) == [], name
        assert structure(out) == structure(schedule), name
        before, after = metrics(p, schedule), metrics(p, out)
        assert after.latency_cycles <= before.latency_cycles, name
        assert after.energy_total_pj == before.energy_total_pj, name
        old = peaks(p, schedule)
        for memory, (total, acts) in peaks(p, out).items():
            assert total <= old[memory][0] and acts <= old[memory][1], (name, memory)


@settings(max_examples=examples(20), deadline=None, derandomize=True)
@given(tight_format2_problems())
def test_each_release_is_where_the_validator_puts_it(p: Problem) -> None:
    # a neighbourhood fixes the releases of copies whose maker and readers stay (lns._solve):
    # at the value Release.value derives from the starts, which must be the validator's own
    for name, schedule in schedules(p).items():
        if schedule is not None:
            assert_releases_are_the_validators(p, schedule, name)


def test_without_kept_peaks_memories_are_bounded_by_capacity_only() -> None:
    p = fork()
    schedule = next(s for s in schedules(p).values() if s is not None)
    _, out = retimed(p, shifted(schedule, 500), keep_peaks=False)
    assert validate(p, out) == []
    assert metrics(p, out).latency_cycles <= metrics(p, schedule).latency_cycles


def test_the_search_finds_the_retimed_optimum_from_a_late_schedule() -> None:
    p = fork()
    schedule = next(s for s in schedules(p).values() if s is not None)
    _, best = retimed(p, schedule)
    target = metrics(p, best).latency_cycles
    seen: list[int] = []
    out = improve(p, shifted(schedule, 500), time_limit_s=5, on_improve=lambda _, x: seen.append(x))
    assert validate(p, out.schedule) == []
    assert out.start_latency_cycles == metrics(p, schedule).latency_cycles + 500
    assert out.latency_cycles == metrics(p, out.schedule).latency_cycles == target
    assert seen and seen[-1] == target and seen == sorted(seen, reverse=True)
    assert structure(out.schedule) == structure(schedule)


# the unicast model stopped at its first schedule (9 on _broadcast(), not proven): without the
# packing bound, which proves that schedule optimal in its space, and a proven schedule is not
# searched again
FIRST_UNICAST = SolverParams(
    time_limit_s=4,
    num_workers=2,
    seed=0,
    multicast=False,
    stop_after_first_solution=True,
    packing_bound=False,
)


def test_the_search_runs_after_the_model_from_both_schedules() -> None:
    # the model (stopped at its first schedule, not proven; the unicast optimum is 9) and then
    # the search, from the better start first (CP-SAT's: at best 9) and then from the hint (105,
    # a multicast the unicast model cannot hold), which re-times to 5
    p = _broadcast()
    # re-sequenced, both start at 5 (test_reuse.py)
    params = FIRST_UNICAST.model_copy(update={"resequence": False})
    r = solve(p, "latency", params, hint=multicast_at(100))
    # the only bound that holds outside the space: a 1-cycle task (cpsched.cpsat.work)
    assert (r.status, r.objective_value, r.bound) == ("feasible", 5.0, 1.0)
    searches = r.parameters["lns"]["searches"]
    assert [s["from"] for s in searches] == ["CP-SAT's schedule", "the hint"]
    assert [(s["start_latency_cycles"], s["latency_cycles"]) for s in searches] == [
        (9, 9),
        (105, 5),
    ]
    assert r.parameters["lns"]["from"] == "the hint"


def test_solve_searches_from_a_hint_outside_its_space() -> None:
    # the unicast model cannot hold the multicast hint; the search re-times it from 10 to 0 (the
    # re-sequencing, off here, would find it at 0 alone: tested apart)
    p = _broadcast()
    params = SolverParams(time_limit_s=4, num_workers=2, seed=0, multicast=False, resequence=False)
    r = solve(p, "latency", params, hint=multicast_at(10))
    assert (r.status, r.objective_value, r.bound) == ("feasible", 5.0, 1.0)
    assert r.schedule == multicast_at(0)
    assert r.hint is not None and not r.hint.used
    assert "large-neighbourhood search" in r.message
    assert r.parameters["lns"]["start_latency_cycles"] == 15
    assert r.parameters["lns"]["latency_cycles"] == 5
    off = solve(p, "latency", params.model_copy(update={"lns_share": 0}), hint=multicast_at(10))
    assert off.objective_value == 9.0 and "lns" not in off.parameters  # the unicast optimum


def test_the_unicast_start_is_skipped_once_building_took_the_models_share() -> None:
    # a limit far below any model build: the unicast start is skipped (it would take the
    # search's time; here none is left for it either), and the pipeline still returns a valid
    # schedule no worse than the hint
    p = _broadcast()
    params = SolverParams(time_limit_s=1e-6, num_workers=2, seed=0, multicast=False)
    r = solve_from_hint(p, "latency", params, hint=multicast_at(10))
    assert r.parameters["first_schedule"] == "none: the model's share of the time was gone"
    assert r.schedule is not None and validate(p, r.schedule) == []
    assert r.objective_value is not None and r.objective_value <= 15


def _problem(data: dict) -> Problem:
    return Problem.model_validate({"format": "cpsched-problem/2", **data})


def _link(name: str, latency: int = 0) -> dict:
    return {"id": name, "bandwidth_bytes_per_cycle": 8, "latency_cycles": latency}


def _task(tid: str, core: str, duration: int, **kw: Any) -> dict:
    return {"id": tid, "options": [{"core": core, "duration_cycles": duration}], **kw}


def test_the_search_cuts_latency_even_when_every_other_start_moves_later() -> None:
    # c0 runs S0-S2 (1 cycle each) and then X (100), whose output D reads on c1: 104. Running X
    # first ends at 103 but moves every S 100 cycles later: a weighted sum of latency and
    # starts preferred 104; latency first, the search finds 103, the re-timed optimum
    p = _problem(
        {
            "name": "lex",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "l", "capacity_bytes": None},
            ],
            "cores": [{"id": "c0", "memory": "l"}, {"id": "c1", "memory": "l"}],
            "links": [_link("bus")],
            "routes": [{"src": "dram", "dst": "l", "links": ["bus"]}],
            "tensors": [{"id": "y", "size_bytes": 8, "kind": "activation", "producer": "X"}],
            "tasks": [
                _task("X", "c0", 100, outputs=["y"]),
                _task("D", "c1", 1, inputs=["y"]),
                *(_task(f"S{i}", "c0", 1) for i in range(3)),
            ],
        }
    )
    tasks = [{"id": f"S{i}", "core": "c0", "start": i} for i in range(3)]
    tasks += [{"id": "X", "core": "c0", "start": 3}, {"id": "D", "core": "c1", "start": 103}]
    late = Schedule.model_validate({"problem": "lex", "tasks": tasks})
    assert validate(p, late) == [] and metrics(p, late).latency_cycles == 104
    out = improve(p, late, time_limit_s=5, seed=0)
    assert validate(p, out.schedule) == []
    assert out.latency_cycles == metrics(p, out.schedule).latency_cycles == 103


def test_copies_available_at_one_cycle_keep_the_validators_order() -> None:
    # two 0-byte copies of x reach m2 at cycle 10: from dram over a 5-cycle link (start 5) and
    # from m1 in no time (start 10). The validator orders them by allocation (5 first) and R,
    # starting at 10, reads the second; the model must agree, or it holds the incumbent
    # infeasible (it once required the first transfer's start to be at least 10)
    p = _problem(
        {
            "name": "tie",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "m1", "capacity_bytes": 100},
                {"id": "m2", "capacity_bytes": 100},
            ],
            "cores": [{"id": "c2", "memory": "m2"}],
            "links": [_link("slow", 5), _link("fast"), _link("f2")],
            "routes": [
                {"src": "dram", "dst": "m2", "links": ["slow"]},
                {"src": "dram", "dst": "m1", "links": ["fast"]},
                {"src": "m1", "dst": "m2", "links": ["f2"]},
            ],
            "tensors": [{"id": "x", "size_bytes": 0, "kind": "input", "home": "dram"}],
            "tasks": [_task("R", "c2", 3, inputs=["x"])],
        }
    )
    schedule = Schedule.model_validate(
        {
            "problem": "tie",
            "tasks": [{"id": "R", "core": "c2", "start": 10}],
            "transfers": [
                {"tensor": "x", "src": "m1", "dst": "m2", "start": 10},
                {"tensor": "x", "src": "dram", "dst": "m2", "start": 5},
                {"tensor": "x", "src": "dram", "dst": "m1", "start": 0},
            ],
        }
    )
    assert validate(p, schedule) == []
    _, same = retimed(p, schedule, fix=True)
    assert same == schedule
    assert_releases_are_the_validators(p, schedule)


def test_a_copy_moved_into_dram_of_a_tensor_homed_elsewhere_is_released() -> None:
    # w lives in m1; a copy moved into dram is released after its last reader, as the
    # validator says (only a home copy in dram, or a stored tensor's, is never released)
    mems = ["dram", "m1", "m2"]
    p = _problem(
        {
            "name": "nv",
            "memories": [{"id": m, "capacity_bytes": None if m == "dram" else 100} for m in mems],
            "cores": [{"id": "c2", "memory": "m2"}],
            "links": [_link("bus")],
            "routes": [
                {"src": a, "dst": b, "links": ["bus"]} for a in mems for b in mems if a != b
            ],
            "tensors": [{"id": "w", "size_bytes": 8, "kind": "weight", "home": "m1"}],
            "tasks": [_task("R", "c2", 3, inputs=["w"])],
        }
    )
    schedule = Schedule.model_validate(
        {
            "problem": "nv",
            "tasks": [{"id": "R", "core": "c2", "start": 2}],
            "transfers": [
                {"tensor": "w", "src": "m1", "dst": "dram", "start": 0},
                {"tensor": "w", "src": "dram", "dst": "m2", "start": 1},
            ],
        }
    )
    assert validate(p, schedule) == []
    assert not any(release.never for release in build_retime(p, schedule).releases)
    assert_releases_are_the_validators(p, schedule)
