"""The Gantt chart and the trace of format 2 schedules (docs/schedule.md): transfers sharing a
bandwidth link stacked by rate, a multicast drawn once per link it uses with all its
destinations named, spills and reloads marked. Hand-made problems of test_validate_format2
(bus: 16 B/cycle shared, multicast; dbus: 8 B/cycle shared; xlink: 16 B/cycle exclusive)."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from typing import Any

import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from test_validate_format2 import (
    make_problem,
    make_schedule,
    move,
    multicast_problem,
    multicast_schedule,
    spill_problem,
    spill_schedule,
    task,
)

from cpsched.check.validate import timed_schedule, validate
from cpsched.model.problem import Problem
from cpsched.model.schedule import Schedule
from cpsched.report.gantt import BAR_HEIGHT, gantt_figure
from cpsched.report.trace import LINKS_PID, chrome_trace

Bar = tuple[float, float, float, float, PolyCollection]  # x0, x1, y0 (top), y1 (bottom)


def _row(ax: Axes, label: str) -> int:
    return [t.get_text() for t in ax.get_yticklabels()].index(label)


def _bars(ax: Axes, label: str) -> list[Bar]:
    """Every bar drawn inside the row `label` (whatever collection it belongs to), by x."""
    row = _row(ax, label)
    out: list[Bar] = []
    for coll in ax.collections:
        if not isinstance(coll, PolyCollection):
            continue
        for path in coll.get_paths():
            box = path.get_extents()
            if row - 0.5 <= box.y0 and box.y1 <= row + 0.5:
                out.append((box.x0, box.x1, box.y0, box.y1, coll))
    return sorted(out, key=lambda b: (b[0], b[2]))


def _half_rate_pair() -> tuple[Problem, Schedule]:
    # w dram->l2 [0, 22) on dbus at 8 (its full bandwidth); then w l2->l1a and w l2->l1b at
    # 8 B/cycle each, both ceil(160/8) + 1 = 21 cycles [22, 43): 8 + 8 = 16 on bus exactly.
    schedule = multicast_schedule(
        move("w", "dram", "l2", 0),
        move("w", "l2", "l1a", 22, rate=8),
        move("w", "l2", "l1b", 22, rate=8),
        start=43,
    )
    return multicast_problem(), schedule


def test_half_rate_transfers_on_a_bandwidth_link_are_stacked_at_half_height() -> None:
    problem, schedule = _half_rate_pair()
    assert validate(problem, schedule) == []
    ax = gantt_figure(problem, schedule).axes[0]
    (full,) = _bars(ax, "link dbus")  # at its link's full bandwidth: a full bar
    assert full[3] - full[2] == pytest.approx(BAR_HEIGHT)
    first, second = _bars(ax, "link bus")
    for bar in (first, second):
        assert (bar[0], bar[1]) == (22, 43)
        assert bar[3] - bar[2] == pytest.approx(BAR_HEIGHT / 2)
    # one above the other, touching, and together as tall as a full bar
    assert first[3] <= second[2] + 1e-9 or second[3] <= first[2] + 1e-9
    assert max(first[3], second[3]) - min(first[2], second[2]) == pytest.approx(BAR_HEIGHT)


def test_fractional_rates_fill_the_bar_in_proportion() -> None:
    # 5.5 + 10.5 = 16 B/cycle on bus: l1a's w [22, 53), l1b's w [22, 39) (test_validate_format2)
    problem = multicast_problem()
    transfers = [move("w", "dram", "l2", 0), move("w", "l2", "l1a", 22, rate=5.5),
                 move("w", "l2", "l1b", 22, rate=10.5)]  # fmt: skip
    schedule = make_schedule("multicast", [("P", "c0", 53), ("Q", "c1", 39)], transfers)
    assert validate(problem, schedule) == []
    fast, slow = sorted(_bars(gantt_figure(problem, schedule).axes[0], "link bus"),
                        key=lambda b: b[1])  # fmt: skip
    assert (fast[0], fast[1], slow[0], slow[1]) == (22, 39, 22, 53)
    assert slow[3] - slow[2] == pytest.approx(BAR_HEIGHT * 5.5 / 16)
    assert fast[3] - fast[2] == pytest.approx(BAR_HEIGHT * 10.5 / 16)
    assert slow[3] <= fast[2] + 1e-9 or fast[3] <= slow[2] + 1e-9


def test_a_bar_takes_the_lowest_offset_free_over_its_whole_duration() -> None:
    from cpsched.report.gantt import stack_link  # here, so that the other tests run without it

    # Four tensors from l2 to l1a over bus (16 B/cycle): x at 8 B/cycle, y, z and u at 4.
    tensors = [{"id": t, "size_bytes": n, "kind": "input", "home": "l2"}
               for t, n in (("x", 80), ("y", 16), ("z", 16), ("u", 20))]  # fmt: skip
    problem = make_problem("offsets", tensors, [task("P", "c0", ["x", "y", "z", "u"], [])])
    # x [0, 11), y [0, 5), z [5, 10) (y's place again), u [6, 12) (above z, below nothing).
    schedule = make_schedule(
        "offsets",
        [("P", "c0", 12)],
        [move("x", "l2", "l1a", 0, rate=8), move("y", "l2", "l1a", 0, rate=4),
         move("z", "l2", "l1a", 5, rate=4), move("u", "l2", "l1a", 6, rate=4)],
    )  # fmt: skip
    assert validate(problem, schedule) == []
    bars = stack_link(problem.link_by_id["bus"], timed_schedule(problem, schedule).transfers)
    got = {b.transfer.tensor: (b.transfer.start, b.transfer.end, b.offset, b.height) for b in bars}
    half, quarter = Fraction(1, 2), Fraction(1, 4)
    assert got == {
        "x": (0, 11, 0, half),
        "y": (0, 5, half, quarter),
        "z": (5, 10, half, quarter),
        "u": (6, 12, 3 * quarter, quarter),
    }


def test_a_slow_transfer_fills_an_exclusive_row_and_its_share_of_a_shared_one() -> None:
    tensors = [{"id": "a", "size_bytes": 80, "kind": "activation", "producer": "P"}]
    tasks = [task("P", "c0", [], ["a"]), task("Q", "c1", ["a"], [])]
    # a l1a->l1b over xlink (16 B/cycle) at 8: [10, 20)
    schedule = make_schedule("excl", [("P", "c0", 0), ("Q", "c1", 20)],
                             [move("a", "l1a", "l1b", 10, rate=8)])  # fmt: skip
    exclusive = make_problem("excl", tensors, tasks)
    links = [lk.model_dump() for lk in exclusive.links]
    links[2]["sharing"] = "bandwidth"
    shared = make_problem("excl", tensors, tasks, links=links)
    heights = []
    for problem in (exclusive, shared):
        assert validate(problem, schedule) == []
        (bar,) = _bars(gantt_figure(problem, schedule).axes[0], "link xlink")
        assert (bar[0], bar[1]) == (10, 20)
        heights.append(bar[3] - bar[2])
    # one transfer at a time on an exclusive link: a full bar; half the bandwidth of a shared one
    assert heights == pytest.approx([BAR_HEIGHT, BAR_HEIGHT / 2])


def test_a_multicast_is_one_bar_per_link_labelled_with_every_destination() -> None:
    problem = multicast_problem()
    schedule = multicast_schedule(move("w", "dram", "l2", 0), move("w", "l2", ["l1a", "l1b"], 22))
    assert validate(problem, schedule) == []
    ax = gantt_figure(problem, schedule).axes[0]
    (bar,) = _bars(ax, "link bus")  # once, not once per destination
    assert (bar[0], bar[1]) == (22, 33)
    assert bar[3] - bar[2] == pytest.approx(BAR_HEIGHT)
    bus = _row(ax, "link bus")
    labels = [t.get_text() for t in ax.texts if abs(t.get_position()[1] - bus) < 0.5]
    assert labels == ["w -> l1a+l1b"]


def test_spill_and_reload_are_hatched_with_their_legend_entries() -> None:
    # transfers[0] a l1a->l2 [10, 23) spills, transfers[1] w2 dram->l1a [23, 46) is a plain
    # fetch, transfers[2] a l2->l1a [56, 69) reloads; all three use bus.
    problem, schedule = spill_problem(), spill_schedule()
    assert validate(problem, schedule) == []
    fig = gantt_figure(problem, schedule)
    spill, fetch, reload = _bars(fig.axes[0], "link bus")
    assert [(b[0], b[1]) for b in (spill, fetch, reload)] == [(10, 23), (23, 46), (56, 69)]
    hatches = [b[4].get_hatch() for b in (spill, fetch, reload)]
    assert hatches[1] is None
    assert hatches[0] and hatches[2] and hatches[0] != hatches[2]
    edges = [tuple(b[4].get_edgecolor()[0]) for b in (spill, fetch, reload)]
    assert len(set(edges)) == 3  # each its own edge colour
    legend = fig.legends[0]
    handles = dict(zip([t.get_text() for t in legend.get_texts()], legend.legend_handles,
                       strict=True))  # fmt: skip
    assert handles["spill"].get_hatch() == hatches[0]
    assert handles["reload"].get_hatch() == hatches[2]
    # without spills or reloads, no such entries
    texts = [t.get_text() for t in gantt_figure(*_half_rate_pair()).legends[0].get_texts()]
    assert "transfer: weight" in texts
    assert "spill" not in texts and "reload" not in texts


# --- the trace -------------------------------------------------------------------------------


def _link_slices(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] == LINKS_PID]


def _thread_names(trace: dict[str, Any]) -> dict[int, str]:
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["pid"] == LINKS_PID and e["name"] == "thread_name"}  # fmt: skip


def test_trace_multicast_is_one_slice_per_link_with_every_destination_and_the_rate() -> None:
    problem = multicast_problem()
    schedule = multicast_schedule(move("w", "dram", "l2", 0), move("w", "l2", ["l1a", "l1b"], 22))
    trace = chrome_trace(problem, schedule)
    names = _thread_names(trace)
    on_bus = [e for e in _link_slices(trace) if names[e["tid"]] == "link bus"]
    (only,) = on_bus
    assert (only["name"], only["ts"], only["dur"]) == ("w l2->l1a+l1b", 22, 11)
    assert only["args"]["dst"] == ["l1a", "l1b"]
    assert only["args"]["links"] == ["bus"]
    assert only["args"]["rate_bytes_per_cycle"] == 16


def test_trace_gives_transfers_running_at_once_their_own_threads() -> None:
    # Overlapping slices on one thread break the trace format (Perfetto drops them): the two
    # half-rate transfers on bus get "link bus" and "link bus #2".
    problem, schedule = _half_rate_pair()
    trace = chrome_trace(problem, schedule)
    names = _thread_names(trace)
    on_bus = sorted(
        (names[e["tid"]], e["name"], e["ts"], e["dur"], e["args"]["rate_bytes_per_cycle"])
        for e in _link_slices(trace)
        if names[e["tid"]].startswith("link bus")
    )
    assert on_bus == [
        ("link bus", "w l2->l1a", 22, 21, 8),
        ("link bus #2", "w l2->l1b", 22, 21, 8),
    ]
    by_tid: dict[int, list[tuple[int, int]]] = {}
    for e in _link_slices(trace):
        by_tid.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in by_tid.values():
        spans.sort()
        assert all(end <= nxt for (_, end), (nxt, _) in pairwise(spans))


def test_trace_marks_spills_and_reloads_with_fractional_rates_exact() -> None:
    problem, schedule = spill_problem(), spill_schedule()
    args = {e["ts"]: e["args"] for e in _link_slices(chrome_trace(problem, schedule))
            if e["name"].startswith("a ")}  # fmt: skip
    assert args[10]["movement"] == "spill"
    assert args[56]["movement"] == "reload"
    problem = multicast_problem()
    transfers = [move("w", "dram", "l2", 0), move("w", "l2", "l1a", 22, rate=5.5)]
    trace = chrome_trace(problem, make_schedule("multicast", [], transfers))
    rates = [e["args"]["rate_bytes_per_cycle"] for e in _link_slices(trace)]
    assert rates == [8, 5.5]
