"""Re-sequencing a schedule so that the tasks reading one weight run together
(cpsched.heuristics.share), also on cores balanced so that activations stay where they are made
(cpsched.cpsat.regroup.activation_groups), and its use before the search
(cpsched.cpsat.lns.resequence, cpsched.cpsat.solver)."""

from __future__ import annotations

from hypothesis import given, settings
from sampling import examples
from test_cpsat_lns import FIRST_UNICAST
from test_heuristics_format2 import schedules, tight_format2_problems
from test_reuse import one_at_a_time

from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.cpsat import solve
from cpsched.cpsat.lns import Resequenced, resequence
from cpsched.cpsat.regroup import activation_groups, balanced_cores, weight_groups
from cpsched.heuristics.prepare import prepare
from cpsched.heuristics.share import mates_order, share_weights, weight_mates
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule
from cpsched.pipeline import run_heuristics


def two_cores() -> Problem:
    # one_at_a_time() with a second core: c0 and c1, each with a 150-byte memory of its own
    # (m0, m1: one weight and one input), behind one multicast bus of 10 bytes per cycle from
    # dram. Weights W1, W2 (100 bytes, 10 cycles over the bus) and inputs X1, X2 (50 bytes, 5
    # cycles) in dram. Each task reads one weight and one input, 10 cycles on either core: A1
    # (W1, X1), A2 (W2, X1), B1 (W1, X2), B2 (W2, X2). Weight mates: A1 and B1 (W1), A2 and B2
    # (W2).
    data = one_at_a_time().model_dump(mode="json")
    data["name"] = "share"
    data["memories"][1:] = [{"id": m, "capacity_bytes": 150} for m in ("m0", "m1")]
    data["cores"] = [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}]
    data["links"] = [{"id": "bus", "bandwidth_bytes_per_cycle": 10, "multicast": True}]
    data["routes"] = [{"src": "dram", "dst": m, "links": ["bus"]} for m in ("m0", "m1")]
    for task in data["tasks"]:
        task["options"] = [{"core": c, "duration_cycles": 10} for c in ("c0", "c1")]
    return Problem.model_validate(data)


def mates_apart(w2_multicast: bool = False) -> Schedule:
    # The A tasks on c0, the B tasks on c1 in the other order, so mates run apart and each
    # weight crosses the bus twice: X1 0-5, W1 to m0 5-15, A1 15-25; X2 15-20, W2 to m1 20-30,
    # B2 30-40; W2 to m0 30-40 (W1 released at 25), A2 40-50; W1 to m1 40-50 (W2 released at
    # 40), B1 50-60. Latency 60, 500 bytes over the bus.
    # With `w2_multicast`, W2 goes to both at 30-40 instead: B2 runs 40-50 and A2 41-51 (a
    # cycle late, so B2 still starts before it), W1 to m1 50-60, B1 60-70: latency 70, 400
    # bytes (a multicast, outside the unicast model's space).
    moves = [("X1", "m0", 0), ("W1", "m0", 5), ("X2", "m1", 15)]
    starts = {"A1": 15, "B2": 30, "A2": 40, "B1": 50}
    if w2_multicast:
        moves += [("W2", ("m1", "m0"), 30), ("W1", "m1", 50)]
        starts.update(B2=40, A2=41, B1=60)
    else:
        moves += [("W2", "m1", 20), ("W2", "m0", 30), ("W1", "m1", 40)]
    core = {"A1": "c0", "A2": "c0", "B1": "c1", "B2": "c1"}
    return Schedule.model_validate(
        {
            "problem": "share",
            "tasks": [{"id": t, "core": core[t], "start": s} for t, s in starts.items()],
            "transfers": [{"tensor": x, "src": "dram", "dst": m, "start": s} for x, m, s in moves],
        }
    )


def moved_bytes(p: Problem, schedule: Schedule) -> int:
    return sum(metrics(p, schedule).link_traffic_bytes.values())


def assert_kept_only_where_faster(
    p: Problem, schedule: Schedule, kept: Resequenced, name: str
) -> None:
    """`kept` (re-sequenced from `schedule`) is valid, differs from it only where faster, says
    so, and raises no memory peak."""
    assert validate(p, kept.schedule) == [], name
    before, after = metrics(p, schedule), metrics(p, kept.schedule)
    assert kept.schedule == schedule or after.latency_cycles < before.latency_cycles, name
    assert kept.gained == (kept.schedule != schedule), name
    for memory, peak in after.peak_bytes().items():
        assert peak <= before.peak_bytes()[memory], (name, memory)


def test_weight_mates_follow_the_task_that_first_reads_their_weight() -> None:
    p = two_cores()
    assert weight_mates(p) == {"W1": ["A1", "B1"], "W2": ["A2", "B2"]}
    incumbent = mates_apart()
    assert validate(p, incumbent) == []
    assert (metrics(p, incumbent).latency_cycles, moved_bytes(p, incumbent)) == (60, 500)
    prep = prepare(p)
    # by start A1, B2, A2, B1; B1 comes up to follow A1, then B2, then its mate A2
    order = [prep.task_ids[i] for i in mates_order(prep, incumbent)]
    assert order == ["A1", "B1", "B2", "A2"]


def test_mates_on_two_cores_share_one_multicast() -> None:
    # In that order, on the cores where each finishes first: A1 on c0 fetches W1 as it comes,
    # 0-10, and B1 on c1 joins that transfer as a second destination; X1 10-15, A1 15-25; X2
    # 15-20, B1 20-30. B2 stays on c1 (X2 is there; c0 still holds X1 for A2): W2 to m1 30-40
    # (W1 released at 30) and A2 on c0 joins it. B2 and A2 run 40-50. Latency 50 (was 60),
    # 300 bytes over the bus (was 500): each weight crosses once.
    p = two_cores()
    out = share_weights(p, mates_apart())
    assert out is not None and validate(p, out) == []
    assert (metrics(p, out).latency_cycles, moved_bytes(p, out)) == (50, 300)
    placed = {t.id: (t.core, t.start) for t in out.tasks}
    assert placed == {"A1": ("c0", 15), "B1": ("c1", 20), "B2": ("c1", 40), "A2": ("c0", 40)}
    multicasts = {t.tensor: set(t.dst) for t in out.transfers if not isinstance(t.dst, str)}
    assert multicasts == {"W1": {"m0", "m1"}, "W2": {"m0", "m1"}}


def test_resequence_shares_weights_when_asked_and_says_so() -> None:
    p = two_cores()
    incumbent = mates_apart()
    found = resequence(p, incumbent, share=True)
    assert found.shared and not found.regrouped
    assert (found.start_latency_cycles, found.latency_cycles) == (60, 50)
    assert found.how == "re-sequenced to share weights"
    # each memory's peak stays 150 bytes, so it is kept also where peaks must not rise
    assert metrics(p, found.schedule).peak_bytes() == {"m0": 150, "m1": 150}
    assert resequence(p, incumbent, share=True, keep_peaks=False).latency_cycles == 50
    assert resequence(p, incumbent, share=True, keep_peaks=True).latency_cycles == 50
    # under a cap of 45 cycles it is not kept
    capped = resequence(p, incumbent, share=True, caps={"latency": 45})
    assert not capped.gained and capped.schedule == incumbent


def test_solve_searches_from_the_shared_start() -> None:
    # the unicast model cannot hold the hint (its W2 multicast; latency 70), so the search runs
    # after the model, which stops at its first schedule. Shared, the best start becomes the
    # 50-cycle schedule above, and re-timing it (cores and transfers kept) gains nothing: A1
    # and B1 need W1 and one input each over the one bus, so the later ends at 30 at the
    # earliest, and the W2 multicast waits for room in both memories until then: A2 and B2 end
    # at 50. (Re-sequencing for reuse and both balanced cores are off: from CP-SAT's schedule
    # they find 50 too.)
    p = two_cores()
    hint = mates_apart(w2_multicast=True)
    assert validate(p, hint) == []
    assert (metrics(p, hint).latency_cycles, moved_bytes(p, hint)) == (70, 400)
    params = FIRST_UNICAST.model_copy(
        update={"resequence": False, "regroup": False, "stationary": False}
    )
    r = solve(p, "latency", params, hint=hint)
    assert r.schedule is not None and validate(p, r.schedule) == []
    assert r.objective_value == 50.0
    lns = r.parameters["lns"]
    assert lns["shared"] is True and lns["start_latency_cycles"] == 50
    assert "re-sequenced to share weights 50 -> 50 cycles" in r.message
    # each start is shared, the better first; the hint's gains in its first round (the second,
    # from that one's order, does not; the best is kept). CP-SAT's first schedule depends on
    # which of its workers ends first (59 cycles alone, others under load), so only its source
    # is checked, and only when it was not proven optimal at once (then no search runs from it)
    records = lns["resequencing"]
    ours = {
        "from": "the hint",
        "resequenced": False,
        "start_latency_cycles": 70,
        "rounds": [50, 60, 60],
        "shared": True,
    }
    assert ours in records
    if r.stages[0].status != "optimal":
        assert {(step["from"], step["shared"]) for step in records} == {
            ("CP-SAT's schedule", True),
            ("the hint", True),
        }
    off = solve(p, "latency", params.model_copy(update={"share_weights": False}), hint=hint)
    assert off.objective_value is not None and off.objective_value > 50.0
    assert "resequencing" not in off.parameters["lns"]


def test_no_weights_are_shared_on_fixed_cores() -> None:
    # the shared schedule moves tasks to other cores: with the hint's cores fixed, no start is
    # shared (the search re-times the hint on its cores, which gains nothing on the unicast
    # model's schedule here)
    p = two_cores()
    hint = mates_apart(w2_multicast=True)
    params = FIRST_UNICAST.model_copy(update={"resequence": False, "regroup": False})
    fixed = {t.id: t.core for t in hint.tasks}
    r = solve(p, "latency", params, hint=hint, fixed_cores=fixed)
    assert r.schedule is not None and validate(p, r.schedule) == []
    assert {t.id: t.core for t in r.schedule.tasks} == fixed
    assert "resequencing" not in r.parameters.get("lns", {})
    assert r.objective_value is not None and r.objective_value > 50.0


@settings(max_examples=examples(20), deadline=None, derandomize=True)
@given(tight_format2_problems())
def test_every_shared_schedule_is_valid_and_kept_only_where_faster(p: Problem) -> None:
    for name, schedule in schedules(p).items():
        if schedule is None:
            continue
        prep = prepare(p)
        order = mates_order(prep, schedule)
        assert sorted(order) == list(range(prep.n_tasks)), name
        out = share_weights(p, schedule, prep)  # raises on an invalid schedule
        if out is not None:
            assert validate(p, out) == [], name
        kept = resequence(p, schedule, share=True, prep=prep)
        assert_kept_only_where_faster(p, schedule, kept, name)


def test_a_hint_in_the_space_is_shared_before_the_model() -> None:
    # the multicast model holds the 60-cycle hint, so no search runs after the model; shared
    # first, the model starts from the 50-cycle schedule (in its space too) and proves it
    p = two_cores()
    params = FIRST_UNICAST.model_copy(
        update={"multicast": True, "stop_after_first_solution": False, "time_limit_s": 10}
    )
    r = solve(p, "latency", params, hint=mates_apart())
    assert r.schedule is not None and validate(p, r.schedule) == []
    shared = r.parameters["shared_hint"]
    assert (shared["start_latency_cycles"], shared["rounds"][0], shared["in_space"]) == (
        60,
        50,
        True,
    )
    assert r.hint is not None and r.hint.used
    assert (r.status, r.objective_value) == ("optimal", 50.0) and "lns" not in r.parameters
    off = solve(
        p, "latency", params.model_copy(update={"share_weights": False}), hint=mates_apart()
    )
    assert "shared_hint" not in off.parameters


def token_tiles() -> Problem:
    # Two token tiles on two cores c0, c1 with 110-byte memories m0, m1 of their own, one
    # multicast bus of 10 bytes per cycle between dram, m0 and m1. G0 and G1 (10 cycles) read an
    # input X0 / X1 (10 bytes) and make an activation A0 / A1 (60 bytes); Fij (20 cycles) reads
    # Ai and weight Wj (40 bytes) and makes Oij (10 bytes): its memory is full while it runs.
    # Weight mates: F00 and F10 (W0), F01 and F11 (W1).
    memories = ("m0", "m1")
    two = {"options": [{"core": c, "duration_cycles": 10} for c in ("c0", "c1")]}
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "token-tiles",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                *({"id": m, "capacity_bytes": 110} for m in memories),
            ],
            "cores": [{"id": "c0", "memory": "m0"}, {"id": "c1", "memory": "m1"}],
            "links": [{"id": "bus", "bandwidth_bytes_per_cycle": 10, "multicast": True}],
            "routes": [
                {"src": a, "dst": b, "links": ["bus"]}
                for a in ("dram", *memories)
                for b in memories
                if a != b
            ],
            "tensors": [
                *({"id": f"X{i}", "size_bytes": 10, "kind": "input", "home": "dram"} for i in "01"),
                *(
                    {"id": f"W{j}", "size_bytes": 40, "kind": "weight", "home": "dram"}
                    for j in "01"
                ),
                *(
                    {"id": f"A{i}", "size_bytes": 60, "kind": "activation", "producer": f"G{i}"}
                    for i in "01"
                ),
                *(
                    {
                        "id": f"O{i}{j}",
                        "size_bytes": 10,
                        "kind": "activation",
                        "producer": f"F{i}{j}",
                    }
                    for i in "01"
                    for j in "01"
                ),
            ],
            "tasks": [
                *({"id": f"G{i}", "inputs": [f"X{i}"], "outputs": [f"A{i}"], **two} for i in "01"),
                *(
                    {
                        "id": f"F{i}{j}",
                        "inputs": [f"A{i}", f"W{j}"],
                        "outputs": [f"O{i}{j}"],
                        "options": [{"core": c, "duration_cycles": 20} for c in ("c0", "c1")],
                    }
                    for i in "01"
                    for j in "01"
                ),
            ],
        }
    )


def names(groups: list[list[int]], task_ids: tuple[str, ...]) -> list[list[str]]:
    return sorted(sorted(task_ids[i] for i in g) for g in groups)


def test_activation_groups_follow_each_tasks_largest_input() -> None:
    # Fij's largest input is Ai (60 bytes against 40), made by Gi: each tile's tasks are one
    # group. Gi's only input is in dram at the start, so it joins nothing for it. By weights,
    # the groups cut the other way: the mates of each weight.
    prep = prepare(token_tiles())
    assert names(activation_groups(prep), prep.task_ids) == [
        ["F00", "F01", "G0"],
        ["F10", "F11", "G1"],
    ]
    assert names(weight_groups(prep), prep.task_ids) == [
        ["F00", "F10"],
        ["F01", "F11"],
        ["G0"],
        ["G1"],
    ]


def test_weights_shared_on_given_cores_keep_each_activation_where_it_is_made() -> None:
    # Tile 0 on c0, tile 1 on c1, mates one after the other (G0, G1, F00, F10, F01, F11): X0 to
    # m0 0-1, X1 to m1 1-2; G0 1-11, G1 2-12; W0 to both memories in one multicast 2-6 (each
    # holds 70 bytes then). F00 11-31 and F10 12-32 fill both memories; W0 and O00 go at 31, W1
    # to m0 31-35, F01 35-55; m1 has room at 32 but the bus is busy until 35: W1 to m1 35-39,
    # F11 39-59. No activation crosses the bus; latency 59.
    p = token_tiles()
    heft = run_heuristics(p)["heft"].schedule
    assert heft is not None
    prep = prepare(p)
    order = [prep.task_ids[i] for i in mates_order(prep, heft)]
    assert order == ["G0", "G1", "F00", "F10", "F01", "F11"]
    cores = {
        t: "c0" if t in ("G0", "F00", "F01") else "c1"
        for t in ("G0", "G1", "F00", "F01", "F10", "F11")
    }
    out = share_weights(p, heft, cores=cores)
    assert out is not None and validate(p, out) == []
    placed = {t.id: (t.core, t.start) for t in out.tasks}
    assert placed == {
        "G0": ("c0", 1),
        "G1": ("c1", 2),
        "F00": ("c0", 11),
        "F10": ("c1", 12),
        "F01": ("c0", 35),
        "F11": ("c1", 39),
    }
    moved = sorted(
        (t.tensor, t.src, t.dst if isinstance(t.dst, str) else tuple(sorted(t.dst)), t.start)
        for t in out.transfers
    )
    assert moved == [
        ("W0", "dram", ("m0", "m1"), 2),
        ("W1", "dram", "m0", 31),
        ("W1", "dram", "m1", 35),
        ("X0", "dram", "m0", 0),
        ("X1", "dram", "m1", 1),
    ]
    assert metrics(p, out).latency_cycles == 59
    # the balanced activation groups are those cores, up to which core is which
    balanced = balanced_cores(prep, heft, time_limit_s=5, groups=activation_groups(prep))
    assert balanced is not None
    assert {frozenset(t for t in cores if balanced[t] == c) for c in ("c0", "c1")} == {
        frozenset({"G0", "F00", "F01"}),
        frozenset({"G1", "F10", "F11"}),
    }
    found = resequence(p, heft, share=True, cores=cores)
    assert found.stationary and found.shared and not found.regrouped
    assert found.how == "activations kept where they are made, weights shared"
    assert found.rounds[0] == 59


def test_solve_offers_the_stationary_start() -> None:
    # the hint (heft's, with a multicast) lies outside the unicast model, so the search runs
    # after the model and is offered the best start on the cores balanced by activation groups,
    # weights shared; switched off, it is not. Which start is best depends on CP-SAT's first
    # schedule (which worker ends first, under load), so the step's outcome is not asserted.
    p = token_tiles()
    heft = run_heuristics(p)["heft"].schedule
    assert heft is not None and any(not isinstance(t.dst, str) for t in heft.transfers)
    params = FIRST_UNICAST.model_copy(update={"resequence": False})
    r = solve(p, "latency", params, hint=heft)
    assert r.schedule is not None and validate(p, r.schedule) == []
    steps = [step for step in r.parameters["lns"]["resequencing"] if step.get("stationary")]
    assert len(steps) == 1 and steps[0]["rounds"][0] is not None
    off = solve(p, "latency", params.model_copy(update={"stationary": False}), hint=heft)
    assert not any(step.get("stationary") for step in off.parameters["lns"]["resequencing"])


@settings(max_examples=examples(20), deadline=None, derandomize=True)
@given(tight_format2_problems())
def test_every_stationary_schedule_is_valid_on_its_cores_and_kept_only_where_faster(
    p: Problem,
) -> None:
    prep = prepare(p)
    for name, schedule in schedules(p).items():
        if schedule is None:
            continue
        cores = balanced_cores(prep, schedule, time_limit_s=1, groups=activation_groups(prep))
        if cores is None:
            continue
        for group in activation_groups(prep):
            allowed = [set(prep.allowed[i]) for i in group]
            if set.intersection(*allowed):  # a group with a common core runs whole on one
                assert len({cores[prep.task_ids[i]] for i in group}) == 1, name
        out = share_weights(p, schedule, prep, cores)  # raises on an invalid schedule
        if out is not None:
            assert validate(p, out) == [], name
            assert {t.id: t.core for t in out.tasks} == cores, name
        kept = resequence(p, schedule, share=True, cores=cores, prep=prep)
        assert kept.stationary and kept.shared, name
        assert_kept_only_where_faster(p, schedule, kept, name)
