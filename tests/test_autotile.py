"""Choosing the coarsest tiling that fits (`--tiles auto`, `--head-tiles auto`, `--split auto`,
and `cpsched solve` when the default tiling does not fit): exact on a hand-made case, and on
the bundled workloads that do not fit at their default tiling."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpsched.check.infeasibility import task_too_big
from cpsched.cli import app
from cpsched.frontend.autotile import (
    choose_tiling,
    layer_candidates,
    layer_fit,
    layer_misfits,
    search_candidates,
    tile_need_bytes,
)
from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.catalog import models_dir
from cpsched.frontend.costs import CostModel
from cpsched.frontend.tiling import TilingSpec, tile_workload
from cpsched.model.errors import InputError
from cpsched.pipeline import BuildOptions, build_job, check_tiles_fit

# MM: Y = X W (X 8x4, W 4x8, 8-bit), then ACT: an activation of Y; both cut along tokens m.
# Bytes a tile holds (inputs + output), with MM cut into t token tiles and n column tiles:
#   MM(t, n) = 32/t (X rows) + 32/n (W columns) + 64/(t n) (Y), ACT(t, n) = 2 * 64/(t n).
# On a 50-byte memory, by tile count (ties: more token tiles first):
#   MM: (1,1) 128, (2,1) 80, (1,2) 80, (4,1) 56, (2,2) 48 <= 50: MM.m=2, MM.n=2, 4 tiles
#   ACT: (1,1) 128, (2,1) 64, (1,2) 64, (4,1) 32 <= 50: ACT.m=4, 4 tiles
# Token tiles 2 (MM) and 4 (ACT) tie as the most common count: the smaller, 2, is --tiles.
TWO_LAYERS_YAML = """\
name: two_layers
description: a matmul and an activation
tensors:
  X: {kind: input, shape: [8, 4], bits: 8}
  W: {kind: weight, shape: [4, 8], bits: 8}
layers:
  - name: MM
    op: matmul
    loops: {m: 8, k: 4, n: 8}
    token_dim: m
    inputs: [{tensor: X, dims: [m, k]}, {tensor: W, dims: [k, n]}]
    output: {dims: [m, n], bits: 8}
  - name: ACT
    op: activation
    loops: {m: 8, n: 8}
    token_dim: m
    inputs: [{tensor: MM, dims: [m, n]}]
    output: {dims: [m, n], bits: 8}
"""


def _files(tmp_path: Path, capacity: int, layers: int = 2) -> tuple[str, str]:
    workload = tmp_path / f"layers_{layers}.yaml"
    text = TWO_LAYERS_YAML if layers == 2 else TWO_LAYERS_YAML.split("  - name: ACT")[0]
    workload.write_text(text)
    hardware = tmp_path / f"l1_{capacity}.yaml"
    hardware.write_text(
        (models_dir() / "hardware" / "single_core.yaml")
        .read_text()
        .replace("capacity_bytes: 1048576", f"capacity_bytes: {capacity}")
    )
    return str(workload), str(hardware)


def test_hand_case_chooses_the_coarsest_tiling_exactly(tmp_path: Path) -> None:
    wl, hw = _files(tmp_path, 50)
    workload, hardware = load_workload(wl, {}), load_hardware(hw)
    auto = choose_tiling(
        workload, hardware, TilingSpec(), tiles_auto=True, head_auto=True, split_auto=True
    )
    assert (auto.tiles, auto.head_tiles, auto.split) == (2, 1, ("MM.n=2", "ACT.m=4"))
    assert auto.splits == {"MM": {"m": 2, "n": 2}, "ACT": {"m": 4}}
    assert auto.tasks == 8
    assert auto.options() == "--tiles 2 --head-tiles 1 --split MM.n=2 --split ACT.m=4"
    built = build_job(
        BuildOptions(workload=wl, hardware=hw, tiles="auto", head_tiles="auto", split=("auto",))
    )
    assert len(built.problem.tasks) == 8
    check_tiles_fit(built.problem, built.workload)  # does not raise
    needs = {t.layer: 0 for t in built.problem.tasks}
    for t in built.problem.tasks:
        size = sum(built.problem.tensor_by_id[x].size_bytes for x in {*t.inputs, *t.outputs})
        needs[t.layer] = max(needs[t.layer], size)
    assert needs == {"MM": 48, "ACT": 32}


def test_hand_case_no_strictly_coarser_candidate_fits(tmp_path: Path) -> None:
    # every candidate the search tries before the chosen one, built as a whole problem, leaves
    # that layer with a tile too big (checked with check/'s rule, not the search's own)
    wl, hw = _files(tmp_path, 50)
    workload, hardware = load_workload(wl, {}), load_hardware(hw)
    chosen = {"MM": {"m": 2, "n": 2}, "ACT": {"m": 4}}
    searched = search_candidates(
        workload, TilingSpec(), tiles_auto=True, head_auto=True, split_auto=True
    )
    assert searched["MM"][0] == ["m", "n"] and searched["ACT"][0] == ["m", "n"]
    for layer, (_, candidates) in searched.items():
        before = candidates[: candidates.index(chosen[layer])]
        assert before, layer
        for candidate in before:
            full = {d: candidate.get(d, 1) for d in ("m", "n")}
            other = {n: s for n, s in chosen.items() if n != layer}
            spec = TilingSpec(tiles=1, layers={layer: full, **other})
            problem = build_problem(workload, hardware, spec)
            cores = {t.id: tuple(o.core for o in t.options) for t in problem.tasks}
            too_big = {problem.task_by_id[r.tasks[0]].layer for r in task_too_big(problem, cores)}
            assert layer in too_big, (layer, candidate)


def test_candidates_are_ordered_by_tile_count_then_tokens_first() -> None:
    workload = load_workload("attention_head", {})
    q = workload.layer_by_name()["Q"]
    got = layer_candidates(q, {}, ["m", "d"])[:6]
    # Q: m=256, d=64 (its output columns); 2 tiles: m first; 4 tiles: (4,1), (2,2), (1,4)
    assert got == [{}, {"m": 2}, {"d": 2}, {"m": 4}, {"m": 2, "d": 2}, {"d": 4}]
    # a count given stays: tokens cut in 2, the others searched
    assert layer_candidates(q, {"m": 2}, ["d"])[:3] == [
        {"m": 2},
        {"m": 2, "d": 2},
        {"m": 2, "d": 4},
    ]


def test_tiles_auto_alone_cuts_tokens_only(tmp_path: Path) -> None:
    # tokens only: MM(t, 1) = 32/t + 32 + 64/t fits 50 at t=8 (44); ACT at t=4 (32)
    wl, hw = _files(tmp_path, 50)
    built = build_job(BuildOptions(workload=wl, hardware=hw, tiles="auto"))
    assert built.auto is not None
    assert built.auto.splits == {"MM": {"m": 8}, "ACT": {"m": 4}}
    assert (built.auto.tiles, built.auto.split, built.auto.tasks) == (4, ("MM.m=8",), 12)
    assert (built.options.tiles, built.options.split) == (4, ("MM.m=8",))


def test_split_auto_keeps_the_given_token_count(tmp_path: Path) -> None:
    # --tiles 2 --split auto: MM(2, n) = 16 + 32/n + 32/n: n=2 gives 48; ACT(2, n) = 64/n: n=2
    wl, hw = _files(tmp_path, 50)
    built = build_job(BuildOptions(workload=wl, hardware=hw, tiles=2, split=("auto",)))
    assert built.auto is not None
    assert built.auto.splits == {"MM": {"m": 2, "n": 2}, "ACT": {"m": 2, "n": 2}}
    assert built.auto.split == ("MM.n=2", "ACT.n=2")


def test_nothing_fits_names_layer_memory_and_smallest_need(tmp_path: Path) -> None:
    # tokens only: MM at its finest (m=8) still holds all of W: 4 + 32 + 8 = 44 > 40
    wl, hw = _files(tmp_path, 40)
    with pytest.raises(InputError) as info:
        build_job(BuildOptions(workload=wl, hardware=hw, tiles="auto"))
    message = str(info.value)
    assert "layer MM at its finest tiling searching m (m=8) needs 44 bytes per tile" in message
    assert "more than l1 holds (40 bytes" in message
    assert "it sums or normalizes over k of 4, which cannot be split" in message
    # every dim cut: MM at m=8, n=8 holds 4 + 4 + 1 = 9 bytes; k (summed) cannot be cut
    wl, hw = _files(tmp_path, 8)
    with pytest.raises(InputError, match=r"layer MM .*\(m=8, n=8\) needs 9 bytes"):
        build_job(BuildOptions(workload=wl, hardware=hw, tiles="auto", split=("auto",)))


def test_default_that_fits_is_kept(tmp_path: Path) -> None:
    wl, hw = _files(tmp_path, 1 << 20)
    built = build_job(BuildOptions(workload=wl, hardware=hw, auto_if_too_big=True))
    assert built.auto is None and built.options.tiles == 2 and len(built.problem.tasks) == 4


TOO_BIG = [(w, h) for w in ("bert_base", "gpt2_small") for h in ("quad_bus", "mesh4x4", "gap8")]


@pytest.mark.parametrize(
    ("wl_name", "hw_name"),
    # one pair by default, the rest in CI's slow run (seconds each)
    [TOO_BIG[0], *(pytest.param(*pair, marks=pytest.mark.slow) for pair in TOO_BIG[1:])],
)
def test_bundled_workload_that_does_not_fit_gets_a_tiling_that_does(
    wl_name: str, hw_name: str
) -> None:
    with pytest.raises(InputError, match="fit no memory they may use"):
        check_tiles_fit(build_job(BuildOptions(workload=wl_name, hardware=hw_name)).problem)
    built = build_job(BuildOptions(workload=wl_name, hardware=hw_name, auto_if_too_big=True))
    assert built.auto is not None
    problem = built.problem
    assert len(problem.tasks) == built.auto.tasks
    check_tiles_fit(problem, built.workload)  # does not raise
    cores = {t.id: tuple(o.core for o in t.options) for t in problem.tasks}
    assert task_too_big(problem, cores) == [] and layer_misfits(problem) == {}
    # no candidate the search tries before a layer's chosen split fits that layer
    workload, hardware = built.workload, load_hardware(hw_name)
    model = CostModel(workload, hardware)
    capacity = {m.id: m.capacity_bytes for m in hardware.memories}
    searched = search_candidates(
        workload, TilingSpec(tiles=1), tiles_auto=True, head_auto=True, split_auto=True
    )
    by_name = workload.layer_by_name()
    for name, (_, candidates) in searched.items():
        chosen = built.auto.splits[name]
        for candidate in candidates[: candidates.index(chosen)]:
            assert layer_fit(workload, by_name[name], candidate, hardware.cores, model, capacity)
        assert math.prod(chosen.values()) == sum(t.layer == name for t in problem.tasks)


@pytest.mark.parametrize("tiles", [1, 4])
def test_search_estimate_equals_the_problem_need(tiles: int) -> None:
    # the search's per-tile need (no problem built) is the problem's, task by task
    workload = load_workload("bert_base", {})
    hardware = load_hardware("quad_bus")
    spec = TilingSpec(tiles=tiles, head_tiles=2, layers={"FF1": {"f": 4}})
    tiled = tile_workload(workload, spec)
    problem = build_problem(workload, hardware, spec, tiled=tiled)
    by_name = workload.layer_by_name()
    for tile in tiled.tiles:
        task = problem.task_by_id[tile.task]
        size = sum(problem.tensor_by_id[x].size_bytes for x in {*task.inputs, *task.outputs})
        assert tile_need_bytes(workload, by_name[tile.layer], tile) == size, tile.task


def test_fit_rule_agrees_with_check() -> None:
    # frontend restates check/'s task_too_big (all option cores): same layers, same bytes
    problem = build_job(BuildOptions(workload="bert_base", hardware="quad_bus")).problem
    cores = {t.id: tuple(o.core for o in t.options) for t in problem.tasks}
    worst: dict[str, int] = {}
    for r in task_too_big(problem, cores):
        layer = problem.task_by_id[r.tasks[0]].layer
        worst[layer] = max(worst.get(layer, 0), int(r.demand or 0))
    assert worst and {k: m.need_bytes for k, m in layer_misfits(problem).items()} == worst


# --- command line ---


def test_cli_build_tiles_auto(tmp_path: Path) -> None:
    wl, hw = _files(tmp_path, 50)
    out = tmp_path / "p.json"
    argv = ["build", "-w", wl, "--hardware", hw, "--tiles", "auto", "--split", "auto"]
    r = CliRunner().invoke(app, [*argv, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stderr == (
        "tiling: chose --tiles 2 --head-tiles 1 --split MM.n=2 --split ACT.m=4 (8 tasks), the "
        "coarsest whose every tile fits a memory it may use\n"
    )
    assert "8 tasks" in r.stdout
    assert len(json.loads(out.read_text())["tasks"]) == 8


def test_cli_solve_chooses_a_tiling_when_the_default_does_not_fit(tmp_path: Path) -> None:
    # MM alone on a 72-byte memory: the default T=2 needs 16 + 32 + 32 = 80 bytes a tile;
    # by count, (2,1) 80 and (1,2) 80 do not fit, (4,1) 8 + 32 + 16 = 56 does: --tiles 4.
    # (Fitting every tile alone is necessary, not sufficient: this one also has a schedule.)
    wl, hw = _files(tmp_path, 72, layers=1)
    out = tmp_path / "run"
    fast = ["--time-limit", "10", "--workers", "2", "--seed", "0", "-q"]
    r = CliRunner().invoke(app, ["solve", "-w", wl, "--hardware", hw, "--out", str(out), *fast])
    assert r.exit_code == 0, r.output
    line = (
        "tiling: the default tiling does not fit, so chose --tiles 4 --head-tiles 1 (4 tasks), "
        "the coarsest whose every tile fits a memory it may use"
    )
    assert r.stderr.splitlines().count(line) == 1, r.stderr
    assert (out / "schedule.json").is_file()
    result = json.loads((out / "result.json").read_text())
    build = result["parameters"]["build"]
    assert (build["tiles"], build["head_tiles"], build["split"]) == (4, 1, [])
    assert "auto_if_too_big" not in build
    assert result["parameters"]["auto_tiling"] == {
        "asked": {"tiles": 2, "head_tiles": 1, "split": []},
        "why": "the default tiling does not fit",
        "options": "--tiles 4 --head-tiles 1",
        "tasks": 4,
    }
    assert len(json.loads((out / "problem.json").read_text())["tasks"]) == 4


def test_cli_given_tiling_is_not_replaced(tmp_path: Path) -> None:
    # a tiling the user gave that does not fit stays an error, not a silent change
    wl, hw = _files(tmp_path, 50)
    out = tmp_path / "run"
    r = CliRunner().invoke(
        app, ["solve", "-w", wl, "--hardware", hw, "--tiles", "2", "--out", str(out)]
    )
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --tiles/--hardware: ") and not out.exists()


@pytest.mark.parametrize("command", ["build", "solve"])
def test_cli_nothing_fits_is_one_error_line(tmp_path: Path, command: str) -> None:
    wl, hw = _files(tmp_path, 40)
    out = tmp_path / "out.json"
    r = CliRunner().invoke(
        app, [command, "-w", wl, "--hardware", hw, "--tiles", "auto", "-o", str(out)]
    )
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: --tiles: "), r.stderr
    assert "layer MM" in r.stderr and "44 bytes" in r.stderr and "l1 holds (40 bytes" in r.stderr
    assert not out.exists()


def test_cli_tile_count_neither_number_nor_auto(tmp_path: Path) -> None:
    argv = ["build", "-w", "mha", "--tiles", "many", "-o", str(tmp_path / "p.json")]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2
    assert r.stderr == "error: --tiles: 'many' is neither a whole number nor auto\n"


def test_head_tiles_auto_keeps_a_tiling_that_already_fits() -> None:
    # mha on quad_bus fits at T=2 with whole heads: searching heads from 1 up stops at once
    given = build_job(BuildOptions(workload="mha", hardware="quad_bus", tiles=2))
    built = build_job(BuildOptions(workload="mha", hardware="quad_bus", tiles=2, head_tiles="auto"))
    assert built.auto is not None
    assert (built.auto.tiles, built.auto.head_tiles, built.auto.split) == (2, 1, ())
    assert built.problem == given.problem
