"""Every user mistake given to `cpsched solve`: one `error:` line naming the option, what is wrong
and what would be accepted; exit code 2; no traceback; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpsched.cli import app
from cpsched.frontend.catalog import models_dir

DIVISORS_256 = "use a divisor of 256: 1, 2, 4, 8, 16, 32, 64, 128, 256"


def _files(tmp_path: Path) -> dict[str, Path]:
    """Input files for the error cases, written into tmp_path."""
    tiny = tmp_path / "tiny_hw.yaml"
    tiny.write_text(
        (models_dir() / "hardware" / "quad_bus.yaml")
        .read_text()
        .replace("capacity_bytes: 262144", "capacity_bytes: 4096")
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    alloc = tmp_path / "alloc.yaml"
    alloc.write_text("Q: c9\n")
    return {"tiny": tiny, "broken": broken, "alloc": alloc, "dir": tmp_path}


# (arguments, fragments the one error line must contain); "{x}" is a file from _files
CASES: list[tuple[list[str], list[str]]] = [
    (
        ["--workload", "nope"],
        ["error: --workload: unknown workload 'nope'; bundled: attention_head, bert_base"],
    ),
    (
        ["--hardware", "nope"],
        ["error: --hardware: unknown hardware 'nope'; bundled: edge_npu, gap8", "quad_bus"],
    ),
    (
        ["--set", "Q=3"],
        [
            "error: --set: Q: unknown parameter of workload 'attention_head'; its parameters: "
            "M (default 256), N (default 64), H (default 64), BITS (default 8)"
        ],
    ),
    (["--set", "M=abc"], ["error: --set: M: value 'abc' is not an integer"]),
    (["--set", "M"], ["error: --set: 'M' is not KEY=VALUE (e.g. --set M=512)"]),
    (["--set", "M=0"], ["error: --set: M: value 0 must be >= 1", "default 256"]),
    (["--tiles", "0"], ["error: --tiles: 0; must be >= 1"]),
    (
        ["--head-tiles", "2"],
        [
            "error: --head-tiles: 2, but no layer of workload 'attention_head' has a head dim "
            "(head_dim in its file) to cut; cut other loops with --split LAYER.DIM=N"
        ],
    ),
    (
        ["--split", "SM.j=2"],
        [
            "error: --split: layers.SM.j: layer 'SM' (softmax) normalizes over dim 'j', so it "
            "cannot be split; splittable dims: i"
        ],
    ),
    (
        ["--split", "AV.j=2"],
        ["layer 'AV' (matmul) sums over dim 'j', so it cannot be split; splittable dims: i, d"],
    ),
    (
        ["--hardware", "{tiny}", "--tiles", "2"],  # given: no tiling is chosen instead
        [
            "error: --tiles/--hardware: 14 of 14 tiles (of layers Q, K, V, KT, QKT, SM, AV) fit "
            "no memory they may use; the largest, SM.t0, needs 65,536 bytes for its inputs and "
            "outputs (activation QKT.t0.o: 32,768 bytes), but l1_0 holds 4,096 bytes; cut finer: "
            "--tiles (tokens), --head-tiles, or --split LAYER.DIM=N (SM's splittable loops: i of "
            "256), or let --tiles auto --split auto choose; or use a hardware with larger memories"
        ],
    ),
    (
        ["--workload", "{dir}/missing.yaml"],
        ["error: --workload: file '", "missing.yaml' not found; or use a bundled workload"],
    ),
    (["--workload", "{dir}"], ["error: --workload: '", "' is a folder; expected a name or a file"]),
    (
        ["--hardware", "{dir}/missing.yaml"],
        ["error: --hardware: file '", "missing.yaml' not found; or use a bundled hardware"],
    ),
    (
        ["--allocation", "{dir}/missing.yaml"],
        ["error: --allocation: file '", "missing.yaml' not found; accepted: tile, layer, or a"],
    ),
    (["--allocation", "bogus"], ["error: --allocation: 'bogus' is neither tile, layer nor an"]),
    (["--allocation", "{alloc}"], ["error: --allocation: Q: unknown core 'c9'; cores: c0, c1"]),
    (["--costs", "{dir}/missing.csv"], ["error: --costs: file '", "missing.csv' not found"]),
    (["--mode", "fast"], ["error: --mode: 'fast'; accepted: fused, layer-by-layer"]),
    (
        ["--objective", "speed"],
        ["error: --objective: unknown metric 'speed'", "accepted metrics: latency, energy"],
    ),
    (["--objective", "latency,,memory"], ["error: --objective: empty term"]),
]


@pytest.mark.parametrize(("args", "fragments"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_one_clear_error_line(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    files = _files(tmp_path)
    argv = [a.format(**files) for a in args]
    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["solve", *argv, "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit)  # typer.Exit, not a crash
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    for fragment in fragments:
        assert fragment in r.stderr
    assert r.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("tiles", ["3", "512"])
def test_tile_count_that_does_not_divide_or_exceeds_a_dim(tmp_path: Path, tiles: str) -> None:
    # several layers share the token dim, so the error lists each (one line per layer)
    r = CliRunner().invoke(app, ["solve", "--tiles", tiles, "--out", str(tmp_path / "run")])
    assert r.exit_code == 2
    verb = "do not divide" if tiles == "3" else "exceed"
    assert r.stderr.startswith("error: --tiles: 7 problems\n")
    assert f"layers.Q.m: {tiles} tiles {verb} dim 'm' of layer 'Q' (size 256); " in r.stderr
    assert f"layers.AV.i: {tiles} tiles {verb} dim 'i' of layer 'AV' (size 256); " in r.stderr
    assert DIVISORS_256 in r.stderr
    assert not (tmp_path / "run").exists()


def test_unparsable_workload_file(tmp_path: Path) -> None:
    # the YAML parser's own report (with line, column and a caret) follows the error line
    broken = _files(tmp_path)["broken"]
    r = CliRunner().invoke(app, ["solve", "-w", str(broken), "--out", str(tmp_path / "run")])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert r.stderr.startswith(f"error: {broken}: not valid YAML: while parsing a flow sequence")
    assert "line 1, column 7" in r.stderr
    assert not (tmp_path / "run").exists()


def test_a_folder_named_after_a_bundled_model_does_not_shadow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run folder from `cpsched solve --out gap8` sits in the working directory: --hardware
    # gap8 is still the bundled hardware (a folder is never a hardware file)
    from cpsched.frontend.catalog import hardware_path
    from cpsched.pipeline import BuildOptions, build_from_options

    monkeypatch.chdir(tmp_path)
    (tmp_path / "gap8").mkdir()
    (tmp_path / "attention_head").mkdir()
    assert hardware_path("gap8") == models_dir() / "hardware" / "gap8.yaml"
    p = build_from_options(BuildOptions(workload="attention_head", hardware="gap8", tiles=2))
    assert {c.id for c in p.cores} == {f"pe{i}" for i in range(8)}
