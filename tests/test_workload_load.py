"""Workload files: parameters, --set overrides, size expressions and consistency errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpsched.frontend.build import load_workload
from cpsched.frontend.workload.load import eval_size, parse_overrides
from cpsched.model.errors import InputError

HEAD = """
name: tiny
params:
  M: {default: 8, doc: tokens}
  D: {default: 4, doc: width}
tensors:
  X: {kind: input, shape: [M, D]}
  W: {kind: weight, shape: [D, 2 * D], bits: 16}
layers:
  - name: A
    op: matmul
    loops: {m: M, e: D, f: 2 * D}
    token_dim: m
    inputs: [{tensor: X, dims: [m, e]}, {tensor: W, dims: [e, f]}]
    output: {dims: [m, f]}
"""


def write(tmp_path: Path, text: str) -> str:
    f = tmp_path / "w.yaml"
    f.write_text(text)
    return str(f)


def test_parameters_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD)
    w = load_workload(path, {})
    assert w.layers[0].loops == {"m": 8, "e": 4, "f": 8}
    assert w.tensors["W"].shape == (4, 8) and w.tensors["W"].bits == 16
    w = load_workload(path, parse_overrides(["M=32", "D=6"]))
    assert w.layers[0].loops == {"m": 32, "e": 6, "f": 12}


def test_bundled_defaults_and_set() -> None:
    w = load_workload("bert_base", {"M": 512})
    qkt = w.layer_by_name()["QKT"]
    assert qkt.loops == {"g": 12, "i": 512, "j": 512, "d": 64}
    assert load_workload("attention_head", {}).layer_by_name()["Q"].loops == {
        "m": 256,
        "e": 64,
        "d": 64,
    }


def test_unknown_set_key_lists_parameters(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_workload(write(tmp_path, HEAD), {"Q": 3})
    assert str(err.value) == (
        "--set: Q: unknown parameter of workload 'tiny'; "
        "its parameters: M (default 8), D (default 4)"
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("M", "'M' is not KEY=VALUE (e.g. --set M=512)"),
        ("M=x", "M: value 'x' is not an integer"),
    ],
)
def test_bad_set_syntax(item: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_overrides([item])
    assert str(err.value) == f"--set: {message}"


def test_expressions() -> None:
    assert eval_size("N / H * 2 + 1", {"N": 768, "H": 12}) == 129
    assert eval_size(7, {}) == 7
    with pytest.raises(ValueError, match="10 / 4 is not a whole number"):
        eval_size("A / 4", {"A": 10})
    with pytest.raises(ValueError, match="unknown parameter 'Z'"):
        eval_size("Z + 1", {"A": 1})
    with pytest.raises(ValueError, match="unsupported syntax"):
        eval_size("__import__('os')", {})


def test_inexact_division_in_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"layers\[0\]\.loops\.f: .*not a whole number"):
        load_workload(write(tmp_path, HEAD.replace("f: 2 * D", "f: D / 3")), {})


def test_consistency_errors_name_fields(tmp_path: Path) -> None:
    text = HEAD.replace("{tensor: W, dims: [e, f]}", "{tensor: Wz, dims: [e, f]}")
    with pytest.raises(InputError, match=r"layers\[0\]\.inputs\[1\]\.tensor: unknown tensor 'Wz'"):
        load_workload(write(tmp_path, text), {})
    text = HEAD.replace("{tensor: W, dims: [e, f]}", "{tensor: W, dims: [f, e]}")
    with pytest.raises(
        InputError, match=r"tensor 'W' has shape \[4, 8\] but loops \['f', 'e'\] span \[8, 4\]"
    ):
        load_workload(write(tmp_path, text), {})
    text = HEAD.replace("output: {dims: [m, f]}", "output: {dims: [m, q]}")
    with pytest.raises(InputError, match=r"layers\[0\]\.output\.dims\[1\]: 'q' is not a loop"):
        load_workload(write(tmp_path, text), {})
    text = HEAD.replace("op: matmul", "op: softmax")
    with pytest.raises(InputError, match=r"must name the dims it reduces over \(row_dims\)"):
        load_workload(write(tmp_path, text), {})
    with pytest.raises(InputError, match=r"layers\[0\]\.op: .*matmul"):
        load_workload(write(tmp_path, HEAD.replace("op: matmul", "op: conv")), {})


def test_unknown_workload_lists_bundled() -> None:
    with pytest.raises(InputError) as err:
        load_workload("bert", {})
    assert "unknown workload 'bert'; bundled: attention_head, bert_base," in str(err.value)
    with pytest.raises(InputError, match=r"file 'nope\.yaml' not found"):
        load_workload("nope.yaml", {})
