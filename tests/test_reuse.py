"""Re-sequencing a schedule for reuse (cpsched.heuristics.reuse) and its use before the search
(cpsched.cpsat.lns.resequence, cpsched.cpsat.solver)."""

from __future__ import annotations

from hypothesis import given, settings
from sampling import examples
from test_cpsat_bounds import on_both, two_private_cores
from test_cpsat_lns import FIRST_UNICAST, multicast_at
from test_heuristics_format2 import schedules, tight_format2_problems
from test_run import _broadcast

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.lns import resequence
from cpsched.cpsat.regroup import balanced_cores, weight_groups
from cpsched.heuristics.prepare import prepare
from cpsched.heuristics.reuse import resequence_for_reuse, reuse_order
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule


def one_at_a_time() -> Problem:
    # One core c0 whose memory m holds 150 bytes: one weight (W1, W2: 100 bytes) and one input
    # (X1, X2: 50 bytes), all in dram, over one 10-byte-per-cycle link. Each task reads one
    # weight and one input, 10 cycles: A1 (W1, X1), A2 (W2, X1), B1 (W1, X2), B2 (W2, X2).
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "reuse",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "m", "capacity_bytes": 150},
            ],
            "cores": [{"id": "c0", "memory": "m"}],
            "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 10}],
            "routes": [{"src": "dram", "dst": "m", "links": ["bus"]}],
            "tensors": [
                *(
                    {"id": w, "size_bytes": 100, "kind": "weight", "home": "dram"}
                    for w in ("W1", "W2")
                ),
                *(
                    {"id": x, "size_bytes": 50, "kind": "input", "home": "dram"}
                    for x in ("X1", "X2")
                ),
            ],
            "tasks": [
                {
                    "id": f"{x}{k}",
                    "inputs": [f"W{k}", f"X{i}"],
                    "options": [{"core": "c0", "duration_cycles": 10}],
                }
                for i, x in ((1, "A"), (2, "B"))
                for k in (1, 2)
            ],
        }
    )


def output_stationary() -> Schedule:
    # A1, A2, B1, B2: the weight changes at every task and both tensors at B1. The memory holds
    # one task's data, so every load waits for the task before to end, and a copy read again
    # later is released and loaded again: W1 0-10, X1 10-15, A1 15-25; W2 25-35, A2 35-45; W1
    # 45-55, X2 55-60, B1 60-70; W2 70-80, B2 80-90. Latency 90, 500 bytes moved.
    moves = [("W1", 0), ("X1", 10), ("W2", 25), ("W1", 45), ("X2", 55), ("W2", 70)]
    return Schedule.model_validate(
        {
            "problem": "reuse",
            "tasks": [
                {"id": t, "core": "c0", "start": s}
                for t, s in (("A1", 15), ("A2", 35), ("B1", 60), ("B2", 80))
            ],
            "transfers": [{"tensor": x, "src": "dram", "dst": "m", "start": s} for x, s in moves],
        }
    )


def moved_bytes(p: Problem, schedule: Schedule) -> int:
    return sum(metrics(p, schedule).link_traffic_bytes.values())


def task_order(schedule: Schedule) -> list[str]:
    return [t.id for t in sorted(schedule.tasks, key=lambda t: t.start)]


def test_the_task_that_shares_the_most_goes_next() -> None:
    # Re-sequenced: after A1 (W1, X1), B1 loads only X2 (50 bytes; A2 would load W2, 100), then
    # B2 only W2, then A2 only X1. The list scheduler times it: A1 15-25; X2 25-30 (X1 evicted),
    # B1 30-40; W2 40-50 (W1 released at 40), B2 50-60; X1 60-65, A2 65-75: latency 75, 350
    # bytes moved
    p = one_at_a_time()
    incumbent = output_stationary()
    assert validate(p, incumbent) == []
    assert (metrics(p, incumbent).latency_cycles, moved_bytes(p, incumbent)) == (90, 500)
    prep = prepare(p)
    assert [prep.task_ids[i] for i in reuse_order(prep, incumbent)] == ["A1", "B1", "B2", "A2"]
    out = resequence_for_reuse(p, incumbent)
    assert out is not None and validate(p, out) == []
    assert task_order(out) == ["A1", "B1", "B2", "A2"]
    assert (metrics(p, out).latency_cycles, moved_bytes(p, out)) == (75, 350)
    assert {t.id: t.core for t in out.tasks} == {t.id: t.core for t in incumbent.tasks}


def test_resequence_keeps_the_best_round_and_says_what_each_found() -> None:
    p = one_at_a_time()
    found = resequence(p, output_stationary())
    assert found.gained and (found.start_latency_cycles, found.latency_cycles) == (90, 75)
    assert found.rounds == [75, 75]  # the second round finds the first again: a fixed point
    assert metrics(p, found.schedule).latency_cycles == 75


def test_resequence_keeps_no_schedule_over_a_cap() -> None:
    # caps bound the metrics of a Pareto sweep's solves: the re-sequenced schedule (75 cycles)
    # is kept under a cap of 80 cycles, not under one of 70
    p = one_at_a_time()
    incumbent = output_stationary()
    assert resequence(p, incumbent, caps={"latency": 80}).latency_cycles == 75
    capped = resequence(p, incumbent, caps={"latency": 70})
    assert not capped.gained and capped.schedule == incumbent


def test_resequence_raises_no_peak_where_the_objective_counts_memory() -> None:
    # with 200 bytes, X2 loads while A1 runs (W1 + X1 + X2 = 200): W1 0-10, X1 10-15, X2
    # 15-20, A1 15-25, B1 25-35; W2 35-45 (W1 released at 35), B2 45-55; A2 55-65 (W2 and X1
    # still held). 65 cycles with a peak of 200 bytes, where the start holds 150 at most: kept
    # only when peaks may rise
    data = one_at_a_time().model_dump(mode="json")
    data["memories"][1]["capacity_bytes"] = 200
    p = Problem.model_validate(data)
    incumbent = output_stationary()
    assert validate(p, incumbent) == [] and metrics(p, incumbent).peak_bytes() == {"m": 150}
    free = resequence(p, incumbent, keep_peaks=False)
    assert free.latency_cycles == 65 and metrics(p, free.schedule).peak_bytes() == {"m": 200}
    kept = resequence(p, incumbent, keep_peaks=True)
    assert not kept.gained and kept.schedule == incumbent


@settings(max_examples=examples(20), deadline=None, derandomize=True)
@given(tight_format2_problems())
def test_every_resequenced_schedule_is_valid_and_keeps_its_cores(p: Problem) -> None:
    for name, schedule in schedules(p).items():
        if schedule is None:
            continue
        prep = prepare(p)
        order = reuse_order(prep, schedule)
        assert order is not None and sorted(order) == list(range(prep.n_tasks)), name
        at = {i: k for k, i in enumerate(order)}
        for i in order:  # every task after its predecessors (through barriers too)
            stack, seen = list(prep.preds[i]), set()
            while stack:
                v = stack.pop()
                if v < prep.n_tasks:
                    assert at[v] < at[i], (name, v, i)
                elif v not in seen:
                    seen.add(v)
                    stack.extend(prep.preds[v])
        out = resequence_for_reuse(p, schedule)  # raises on an invalid schedule
        if out is None:
            continue
        assert validate(p, out) == [], name
        assert {t.id: t.core for t in out.tasks} == {t.id: t.core for t in schedule.tasks}
        kept = resequence(p, schedule)
        assert validate(p, kept.schedule) == [], name
        cores = balanced_cores(prep, schedule, time_limit_s=1)
        if cores is not None:  # a weight group on one core it may use, unless it has none
            for group in weight_groups(prep):
                on = {cores[prep.task_ids[i]] for i in group}
                common = set.intersection(*(set(prep.allowed[i]) for i in group))
                assert (len(on) == 1 and on <= common) or not common, (name, group)
            moved = resequence(p, schedule, cores=cores)
            assert validate(p, moved.schedule) == [], name
        assert kept.latency_cycles <= metrics(p, schedule).latency_cycles, name
        old, new = metrics(p, schedule), metrics(p, kept.schedule)
        for memory, peak in new.peak_bytes().items():
            assert peak <= old.peak_bytes()[memory], (name, memory)


def test_solve_starts_its_search_from_the_resequenced_hint() -> None:
    # the unicast model cannot hold the multicast hint (latency 15); re-sequenced, the list
    # scheduler places its multicast at 0: latency 5, where the search then starts
    p = _broadcast()
    params = SolverParams(time_limit_s=4, num_workers=2, seed=0, multicast=False)
    r = solve(p, "latency", params, hint=multicast_at(10))
    assert (r.status, r.objective_value) == ("feasible", 5.0)
    assert r.schedule is not None and validate(p, r.schedule) == []
    assert "15 -> re-sequenced for reuse 5 -> 5 cycles (10 fewer)" in r.message
    lns = r.parameters["lns"]
    assert lns["resequenced"] is True and lns["start_latency_cycles"] == 5
    # the second round finds the first again (a fixed point) and stops
    assert lns["resequencing"][0] == {
        "from": "the hint",
        "start_latency_cycles": 15,
        "rounds": [5, 5],
    }


def test_a_hint_over_a_cap_is_not_searched_from() -> None:
    # the search keeps a start's memory peaks or lowers them, so from a hint over a cap it
    # returned a schedule over the cap. With 100-byte memories every schedule holds X (40 bytes)
    # in m0 and m1: under a cap of 39 there is none, and no search may run from the hint
    data = _broadcast().model_dump(mode="json")
    for memory in data["memories"][1:]:
        memory["capacity_bytes"] = 100
    p = Problem.model_validate(data)
    hint = multicast_at(10)
    assert validate(p, hint) == [] and metrics(p, hint).metric("memory") == 40
    params = SolverParams(time_limit_s=2, num_workers=2, seed=0, multicast=False)
    r = solve(p, "latency,memory", params, hint=hint, caps={"memory": 39})
    assert "lns" not in r.parameters and r.schedule is None


def test_a_resequenced_schedule_of_cpsat_keeps_only_the_bound_for_every_schedule() -> None:
    # the model (unicast, stopped at its first schedule: 9) and the hint (105) both re-sequence
    # to the multicast at 0 (5); CP-SAT's goes first on the tie and wins. It has left the
    # model's space, so the model's bound (for its space only) is not reported: only the work
    # bound, which holds for every schedule (a 1-cycle task)
    p = _broadcast()
    r = solve(p, "latency", FIRST_UNICAST, hint=multicast_at(100))
    assert (r.status, r.objective_value, r.bound) == ("feasible", 5.0, 1.0)
    assert r.parameters["lns"]["from"] == "CP-SAT's schedule"
    assert r.parameters["lns"]["resequenced"] is True
    assert "its bound holds for its space only): latency 9 -> re-sequenced" in r.message


def test_a_cycle_of_instant_tasks_is_left_as_it_is() -> None:
    # a and b (0 cycles) wait for each other, valid at one cycle; no order holds both, so there
    # is no re-sequencing (it once raised StopIteration in the middle of a solve)
    p = two_private_cores(
        [on_both("a", 0, after=["b"]), on_both("b", 0, after=["a"]), on_both("c", 7, after=["a"])],
        [],
    )
    schedule = Schedule.model_validate(
        {
            "problem": p.name,
            "tasks": [
                {"id": "a", "core": "c0", "start": 0},
                {"id": "b", "core": "c1", "start": 0},
                {"id": "c", "core": "c0", "start": 0},
            ],
        }
    )
    assert validate(p, schedule) == []
    assert reuse_order(prepare(p), schedule) is None
    assert resequence_for_reuse(p, schedule) is None
    found = resequence(p, schedule)
    assert not found.gained and found.rounds == [None]


def two_weights() -> Problem:
    # Two cores with memories of their own behind one 10-byte-per-cycle DRAM port; weights W
    # and V (100 bytes: 10 cycles over the port) in dram. A1 and A2 read W, B1 and B2 read V,
    # 10 cycles each on either core.
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "weights",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "m0", "capacity_bytes": None},
                {"id": "m1", "capacity_bytes": None},
            ],
            "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
            "links": [{"id": "port", "bandwidth_bytes_per_cycle": 10}],
            "routes": [
                {"src": "dram", "dst": "m0", "links": ["port"]},
                {"src": "dram", "dst": "m1", "links": ["port"]},
            ],
            "tensors": [
                {"id": w, "size_bytes": 100, "kind": "weight", "home": "dram"} for w in ("W", "V")
            ],
            "tasks": [
                {
                    "id": t,
                    "inputs": [w],
                    "options": [{"core": c, "duration_cycles": 10} for c in ("c0", "c1")],
                }
                for t, w in (("A1", "W"), ("A2", "W"), ("B1", "V"), ("B2", "V"))
            ],
        }
    )


def each_weight_on_both_cores() -> Schedule:
    # A1 and B1 on c0, A2 and B2 on c1: each weight crosses the port twice. W to m0 0-10, to
    # m1 10-20, V to m0 20-30, to m1 30-40; A1 10-20, A2 20-30, B1 30-40, B2 40-50: 50 cycles
    moves = [("W", "m0", 0), ("W", "m1", 10), ("V", "m0", 20), ("V", "m1", 30)]
    return Schedule.model_validate(
        {
            "problem": "weights",
            "tasks": [
                {"id": t, "core": c, "start": s}
                for t, c, s in (
                    ("A1", "c0", 10),
                    ("A2", "c1", 20),
                    ("B1", "c0", 30),
                    ("B2", "c1", 40),
                )
            ],
            "transfers": [{"tensor": x, "src": "dram", "dst": m, "start": s} for x, m, s in moves],
        }
    )


def test_balanced_weight_groups_load_each_weight_once() -> None:
    # the weight groups are {A1, A2} and {B1, B2}; balanced, one core takes each (20 cycles of
    # work each). Re-sequenced on those cores: W to one core 0-10 and V to the other 10-20; the
    # A tasks run 10-30 and the B tasks 20-40: 40 cycles, each weight moved once. On the
    # schedule's own cores re-sequencing gains nothing (each core's two tasks share nothing)
    p = two_weights()
    incumbent = each_weight_on_both_cores()
    assert validate(p, incumbent) == [] and metrics(p, incumbent).latency_cycles == 50
    prep = prepare(p)
    groups = sorted(sorted(prep.task_ids[i] for i in g) for g in weight_groups(prep))
    assert groups == [["A1", "A2"], ["B1", "B2"]]
    cores = balanced_cores(prep, incumbent, time_limit_s=5)
    assert cores is not None
    assert cores["A1"] == cores["A2"] != cores["B1"] == cores["B2"]
    assert not resequence(p, incumbent).gained
    found = resequence(p, incumbent, cores=cores)
    assert found.regrouped and found.latency_cycles == 40
    assert validate(p, found.schedule) == [] and moved_bytes(p, found.schedule) == 200
    assert {t.id: t.core for t in found.schedule.tasks} == cores
