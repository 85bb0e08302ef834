"""Staging and spill in the CP-SAT model (docs/results.md, "The solver's search space"): a
transfer into a memory may leave from the copy in its backing store (dram -> l2 -> l1, one hop).
Tiny problems whose optima are worked out by hand, each asserted exactly against the space
without them (`SolverParams(staging=False)`), as the MILP peer searches it."""

from __future__ import annotations

from typing import Any

from test_cpsat_multicast import checked

from cpsched.check.validate import validate
from cpsched.cpsat import SolverParams, solve
from cpsched.cpsat.model import build_model
from cpsched.cpsat.space import build_space
from cpsched.model.objective import as_objective
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule, ScheduledTask, ScheduledTransfer
from cpsched.model.space import extend_space, in_space
from cpsched.pipeline import BuildOptions, build_from_options

PARAMS = SolverParams(time_limit_s=10, num_workers=2, seed=0)
NO_STAGING = PARAMS.model_copy(update={"staging": False})


def staged_problem(**extra: Any) -> Problem:
    """A GAP8 in miniature: one core on l1 (10 bytes, backed by l2), l2 (1,000 bytes, backed by
    dram). hyper (dram - l2) carries 1 byte per cycle, dma (l2 - l1) 4; dram -> l1 uses both.
    So an 8-byte weight takes 8 cycles dram -> l1 or dram -> l2, 2 cycles l2 -> l1. A(W1) -> a,
    then B(W2, a) -> b, 8 cycles each; a and b are 1 byte, so l1 holds one weight at a time."""
    link = {"latency_cycles": 0, "energy_pj_per_byte": 1.0, "sharing": "exclusive"}
    task = {"duration_cycles": 8, "energy_pj": 1.0}
    data: dict[str, Any] = {
        "format": "cpsched-problem/2",
        "name": "staged",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l2", "capacity_bytes": 1000, "backing": "dram"},
            {"id": "l1", "capacity_bytes": 10, "backing": "l2"},
        ],
        "cores": [{"id": "c", "memory": "l1"}],
        "links": [
            {"id": "hyper", "bandwidth_bytes_per_cycle": 1, **link},
            {"id": "dma", "bandwidth_bytes_per_cycle": 4, **link},
        ],
        "routes": [
            {"src": "dram", "dst": "l2", "links": ["hyper"]},
            {"src": "l2", "dst": "dram", "links": ["hyper"]},
            {"src": "l2", "dst": "l1", "links": ["dma"]},
            {"src": "l1", "dst": "l2", "links": ["dma"]},
            {"src": "dram", "dst": "l1", "links": ["hyper", "dma"]},
            {"src": "l1", "dst": "dram", "links": ["dma", "hyper"]},
        ],
        "tensors": [
            {"id": "W1", "size_bytes": 8, "kind": "weight", "home": "dram"},
            {"id": "W2", "size_bytes": 8, "kind": "weight", "home": "dram"},
            {"id": "a", "size_bytes": 1, "kind": "activation", "producer": "A"},
            {"id": "b", "size_bytes": 1, "kind": "activation", "producer": "B"},
        ],
        "tasks": [
            {"id": "A", "inputs": ["W1"], "outputs": ["a"], "options": [{"core": "c", **task}]},
            {
                "id": "B",
                "inputs": ["W2", "a"],
                "outputs": ["b"],
                "options": [{"core": "c", **task}],
            },
        ],
    }
    data.update(extra)
    return Problem.model_validate(data)


def moves(schedule: Schedule | None) -> list[tuple[str, str, str, int]]:
    assert schedule is not None
    return [(x.tensor, x.src, x.dsts[0], x.start) for x in schedule.transfers]


def test_staging_through_l2_beats_a_second_dram_fetch_into_l1() -> None:
    # l1 holds W1 until A ends, and W2 cannot be allocated there before. Staged: W1 dram -> l1
    # 0-8 (8 cycles; staged it would arrive at 10), A 8-16; meanwhile W2 dram -> l2 8-16 on
    # hyper, then l2 -> l1 16-18 (allocated in l1 at A's end), B 18-26 -> 26. A lower bound
    # says the same: A ends >= 16, W2's l1 copy starts >= 16 and takes >= 2 cycles, B 8 -> 26.
    # Without staging: W2 dram -> l1 16-24, B 24-32 -> 32.
    p = staged_problem()
    r = checked(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 26.0, 26.0)
    assert moves(r.schedule) == [
        ("W1", "dram", "l1", 0),
        ("W2", "dram", "l2", 8),
        ("W2", "l2", "l1", 16),
    ]
    off = checked(p, "latency", NO_STAGING)
    assert (off.status, off.objective_value) == ("optimal", 32.0)
    assert moves(off.schedule) == [("W1", "dram", "l1", 0), ("W2", "dram", "l1", 16)]


def test_a_staged_hint_is_kept_in_the_space() -> None:
    # the optimum above by hand: the projection keeps both hops, and CP-SAT starts from it
    p = staged_problem()
    hint = Schedule(
        problem="staged",
        tasks=(ScheduledTask(id="A", core="c", start=8), ScheduledTask(id="B", core="c", start=18)),
        transfers=(
            ScheduledTransfer(tensor="W1", src="dram", dst="l1", start=0),
            ScheduledTransfer(tensor="W2", src="dram", dst="l2", start=8),
            ScheduledTransfer(tensor="W2", src="l2", dst="l1", start=16),
        ),
    )
    assert validate(p, hint) == []
    space = extend_space(build_space(p), staging=True)
    assert in_space(space, hint) == hint
    assert in_space(build_space(p), hint).transfers == hint.transfers[:1]  # no staging: dropped
    r = checked(p, "latency", PARAMS, hint=hint)
    assert r.hint is not None and r.hint.used
    assert (r.status, r.objective_value) == ("optimal", 26.0)


def test_staging_changes_no_model_without_a_usable_backing_store() -> None:
    # l1's backing store dram is the weights' home: nothing to stage, the same model either way
    p = staged_problem()
    data = p.model_dump(mode="json")
    data["memories"][2]["backing"] = "dram"
    q = Problem.model_validate(data)
    space = build_space(q)
    assert extend_space(space, staging=True) is space
    on = build_model(space, as_objective("latency"), 100, staging=True).model.proto
    off = build_model(space, as_objective("latency"), 100, staging=False).model.proto
    assert str(on) == str(off)


def small_gap8_head() -> Problem:
    """The attention head (M=16, N=32, H=32, one tile) on GAP8 with a 4 KiB L1: the four 1 KiB
    and 512-byte inputs cannot all sit in L1 while the slow dram -> l1 route (hyperbus, then
    DMA) brings them in."""
    options = BuildOptions(
        workload="attention_head",
        overrides={"M": 16, "N": 32, "H": 32},
        hardware="gap8",
        hardware_overrides={"L1_KIB": 4},
        tiles=1,
    )
    return build_from_options(options)


def test_gap8_head_stages_weights_through_l2_when_that_is_better() -> None:
    # CP-SAT's proven optima: 11,582 cycles staging weights dram -> l2 -> l1 (each l1 copy is
    # then allocated for the short DMA hop only; the space holds optima of equal latency that
    # stage one or two of them, and CP-SAT may return either), 12,016 without staging
    p = small_gap8_head()
    r = checked(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 11582.0, 11582.0)
    assert r.schedule is not None
    hops = {(x.tensor, x.src, x.dsts[0]) for x in r.schedule.transfers}
    staged = {t for t, s, d in hops if (s, d) == ("l2", "l1") and (t, "dram", "l2") in hops}
    assert staged
    off = checked(p, "latency", NO_STAGING)
    assert (off.status, off.objective_value) == ("optimal", 12016.0)
    assert off.schedule is not None and all(x.src != "l2" for x in off.schedule.transfers)


def fork_problem() -> Problem:
    """The fork of tests/test_cli_solve.py by hand: one core on l1 (2,048 bytes, backed by dram),
    one exclusive link dram <-> l1 of 16 bytes per cycle and 20 cycles latency. A(X, W1) -> a,
    B(X, W2) -> b, C(a, b) -> c (stored), 16 cycles each; X, a, b, c are 512 bytes (52-cycle
    transfers), W1, W2 1,024 (84 cycles)."""
    task = {"duration_cycles": 16, "energy_pj": 1.0}
    act = {"size_bytes": 512, "kind": "activation"}
    data: dict[str, Any] = {
        "format": "cpsched-problem/2",
        "name": "fork",
        "memories": [
            {"id": "dram", "capacity_bytes": None},
            {"id": "l1", "capacity_bytes": 2048, "backing": "dram"},
        ],
        "cores": [{"id": "c0", "memory": "l1"}],
        "links": [
            {
                "id": "port",
                "bandwidth_bytes_per_cycle": 16,
                "latency_cycles": 20,
                "energy_pj_per_byte": 1.0,
                "sharing": "exclusive",
            }
        ],
        "routes": [
            {"src": "dram", "dst": "l1", "links": ["port"]},
            {"src": "l1", "dst": "dram", "links": ["port"]},
        ],
        "tensors": [
            {"id": "X", "size_bytes": 512, "kind": "input", "home": "dram"},
            {"id": "W1", "size_bytes": 1024, "kind": "weight", "home": "dram"},
            {"id": "W2", "size_bytes": 1024, "kind": "weight", "home": "dram"},
            {"id": "a", "producer": "A", **act},
            {"id": "b", "producer": "B", **act},
            {"id": "c", "producer": "C", "store": True, **act},
        ],
        "tasks": [
            {
                "id": "A",
                "inputs": ["X", "W1"],
                "outputs": ["a"],
                "options": [{"core": "c0", **task}],
            },
            {
                "id": "B",
                "inputs": ["X", "W2"],
                "outputs": ["b"],
                "options": [{"core": "c0", **task}],
            },
            {
                "id": "C",
                "inputs": ["a", "b"],
                "outputs": ["c"],
                "options": [{"core": "c0", **task}],
            },
        ],
    }
    return Problem.model_validate(data)


NO_SPILL = PARAMS.model_copy(update={"spill": False})


def test_fork_spills_one_output_and_reloads_it() -> None:
    # Whichever of A, B runs second must not hold the other's output: A and B each fill l1
    # (512 + 1,024 + 512), so the first output goes out to dram and comes back for C. The link
    # carries W1, W2 (84 each), X, the spill, the reload and the store of c (52 each): 376
    # cycles, one at a time; and it idles while each task runs (during A and B l1 is full, so
    # nothing can be allocated for a transfer in, and the only copies to send out are not
    # produced yet; c goes out after C). 376 + 3 * 16 = 424, which this order reaches:
    # W 0-84, X 84-136, first task 136-152, spill 152-204, other W 204-288, second task
    # 288-304, reload 304-356, C 356-372, store 372-424.
    p = fork_problem()
    r = checked(p, "latency", PARAMS)
    assert (r.status, r.objective_value, r.bound) == ("optimal", 424.0, 424.0)
    got = moves(r.schedule)
    weight = {got[0][0], got[1][0]} - {"X"}
    assert weight in ({"W1"}, {"W2"}) and got[0][3] == 0  # X and W in either order, by 136
    assert got[1][3] + (52 if got[1][0] == "X" else 84) == 136
    first, other = ("a", "W2") if weight == {"W1"} else ("b", "W1")
    assert got[2:] == [
        (first, "l1", "dram", 152),
        (other, "dram", "l1", 204),
        (first, "dram", "l1", 304),
        ("c", "l1", "dram", 372),
    ]
    # energy: 3 tasks of 1 pJ, and every byte over the link once at 1 pJ, the spill and the
    # reload included: 512 + 2 * 1,024 + 4 * 512 + 3 = 4,099, CP-SAT's own value as measured
    both = checked(p, "latency,energy", PARAMS)
    assert [(s.status, s.value) for s in both.stages] == [("optimal", 424.0), ("optimal", 4099.0)]
    off = solve(p, "latency", NO_SPILL)
    assert off.status == "unknown" and off.schedule is None
    assert "CP-SAT proved that its search space holds no schedule" in off.message


def test_a_hint_keeps_one_reload_per_tensor_and_memory() -> None:
    # CP-SAT's optimum above as a hint is kept whole and used; a third transfer of the spilled
    # output into l1 (after the store, 424-476: valid, read by nothing) is outside the space and
    # dropped by the projection
    p = fork_problem()
    r = checked(p, "latency", PARAMS)
    assert r.schedule is not None
    space = extend_space(build_space(p), staging=True, spill=True)
    assert set(space.reloads) == {("X", "l1"), ("a", "l1"), ("b", "l1")}
    assert in_space(space, r.schedule) == r.schedule
    spilled = r.schedule.transfers[2].tensor
    extra = ScheduledTransfer(tensor=spilled, src="dram", dst="l1", start=424)
    third = r.schedule.model_copy(update={"transfers": (*r.schedule.transfers, extra)})
    assert validate(p, third) == []
    assert in_space(space, third) == r.schedule
    again = checked(p, "latency", PARAMS, hint=third)
    assert again.hint is not None and again.hint.used


def test_the_horizon_without_a_hint_counts_reloads() -> None:
    # regression: the horizon of every transfer in a row once left reloads out (11 here), and
    # CP-SAT "proved" its space empty. One core, l0 of 8 bytes, 1 byte per cycle: t0(w1) -> y0,
    # t1(y0, w0) -> y1, t2(y1, w1) -> y2 stored, 1 cycle each; w1 4 bytes, w0 3, y 1. w1 cannot
    # stay from t0 to t2 (4 + 3 + 1 + 1 > 8 during t1): w1 0-4, t0 4-5 (or later), w0 4-7,
    # t1 7-8, w1 again 8-12, t2 12-13, store 13-14 -> 14.
    task = {"duration_cycles": 1, "energy_pj": 1.0}
    tensors = [
        {"id": "w0", "size_bytes": 3, "kind": "weight", "home": "dram"},
        {"id": "w1", "size_bytes": 4, "kind": "weight", "home": "dram"},
    ] + [
        {"id": f"y{i}", "size_bytes": 1, "kind": "activation", "producer": f"t{i}"}
        for i in range(3)
    ]
    tensors[-1]["store"] = True
    inputs = [["w1"], ["y0", "w0"], ["y1", "w1"]]
    p = Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": "reload",
            "memories": [
                {"id": "dram", "capacity_bytes": None},
                {"id": "l0", "capacity_bytes": 8},
            ],
            "cores": [{"id": "c0", "memory": "l0"}],
            "links": [
                {
                    "id": "k0",
                    "bandwidth_bytes_per_cycle": 1,
                    "latency_cycles": 0,
                    "energy_pj_per_byte": 1.0,
                }
            ],
            "routes": [
                {"src": "dram", "dst": "l0", "links": ["k0"]},
                {"src": "l0", "dst": "dram", "links": ["k0"]},
            ],
            "tensors": tensors,
            "tasks": [
                {
                    "id": f"t{i}",
                    "inputs": inputs[i],
                    "outputs": [f"y{i}"],
                    "options": [{"core": "c0", **task}],
                }
                for i in range(3)
            ],
        }
    )
    r = checked(p, "latency", PARAMS)
    assert (r.status, r.objective_value) == ("optimal", 14.0)
    assert [x for x in moves(r.schedule) if x[0] == "w1"] == [
        ("w1", "dram", "l0", 0),
        ("w1", "dram", "l0", 8),
    ]
