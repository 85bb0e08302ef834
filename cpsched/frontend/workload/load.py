"""Loading workload YAML files: parameters, `--set` overrides, size expressions, cross-checks.

A workload file has `name`, `description`, `params` (name -> {default, doc}), `tensors` (graph
inputs and weights) and `layers`. Loop sizes, tensor shapes and bit widths may be integer
expressions of the parameters (``N / heads``, ``4 * N``), evaluated exactly: a division that
leaves a remainder is an error, not a rounded size.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cpsched.frontend.workload.spec import ROW_REDUCING_OPS, Workload
from cpsched.model.errors import FieldProblem, InputError, input_error
from cpsched.model.io import parse_model, read_data

# No intermediate value of a size expression may pass this (2**62: far above any size the
# problem format accepts, and small enough that `9**9**9` is refused at once, not computed).
MAX_EXPRESSION_VALUE = 2**62


class Param(BaseModel):
    """A workload parameter: its default and what it means."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default: StrictInt = Field(ge=-MAX_EXPRESSION_VALUE, le=MAX_EXPRESSION_VALUE)
    doc: str = ""


class WorkloadHeader(BaseModel):
    """The parts of a workload file read before expressions are evaluated."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = ""
    description: str = ""
    params: dict[str, Param] = Field(default_factory=dict)


_BINOPS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def eval_size(expr: int | str, params: Mapping[str, int]) -> int:
    """Evaluate an integer expression of parameters (+ - * / // % **, parentheses).

    Raises ValueError with a readable reason; `/` must divide exactly.
    """
    if isinstance(expr, bool):
        raise ValueError(f"expected an integer or an expression, got {expr!r}")
    if isinstance(expr, int):
        return _bounded(expr, "")
    if not isinstance(expr, str):
        raise ValueError(f"expected an integer or an expression, got {expr!r}")
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):  # the parser's stack overflows as these
        raise ValueError(f"cannot parse expression {_clip(expr)!r}") from None

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:  # not True/False
            return _bounded(node.value, expr)
        if isinstance(node, ast.Name):
            if node.id not in params:
                known = ", ".join(sorted(params)) or "none"
                raise ValueError(f"unknown parameter {node.id!r} in {expr!r}; parameters: {known}")
            return _bounded(params[node.id], expr)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div):
                if b == 0 or a % b:
                    raise ValueError(f"{expr!r}: {a} / {b} is not a whole number")
                return a // b
            fn = _BINOPS.get(type(node.op))
            if fn is not None:
                if b == 0 and isinstance(node.op, (ast.FloorDiv, ast.Mod)):
                    raise ValueError(f"{expr!r}: division by zero")
                if isinstance(node.op, ast.Pow) and (
                    b < 0 or (abs(a) > 1 and b > MAX_EXPRESSION_VALUE.bit_length())
                ):
                    raise ValueError(f"{expr!r}: {a} ** {b} is not a size")
                return _bounded(fn(a, b), expr)
        raise ValueError(
            f"unsupported syntax in {expr!r}; use integers, parameters, + - * / // % **"
        )

    try:
        return ev(tree)
    except RecursionError:
        raise ValueError(f"expression {_clip(expr)!r} is nested too deeply") from None


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded(value: int, expr: str) -> int:
    if abs(value) > MAX_EXPRESSION_VALUE:
        what = f"{_clip(expr)!r}" if expr else f"an integer of {value.bit_length()} bits"
        raise ValueError(f"{what} is too large; sizes are at most {MAX_EXPRESSION_VALUE}")
    return value


def parse_overrides(items: list[str] | None, source: str = "--set") -> dict[str, int]:
    """Parse `K=V` strings (V an integer) into a dict; errors name the option and the item."""
    out: dict[str, int] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise input_error(source, "", f"{item!r} is not KEY=VALUE (e.g. --set M=512)")
        try:
            out[key] = int(value.strip())
        except ValueError:
            raise input_error(source, key, f"value {value!r} is not an integer") from None
    return out


def resolve_params(
    header: WorkloadHeader, overrides: Mapping[str, int], source: str
) -> dict[str, int]:
    """Defaults with overrides applied; an unknown override key lists the parameters."""
    params = {k: p.default for k, p in header.params.items()}
    for key, value in overrides.items():
        if key not in params:
            known = ", ".join(f"{k} (default {v})" for k, v in params.items()) or "none"
            raise input_error(
                "--set",
                key,
                f"unknown parameter of workload {header.name or source!r}; its parameters: {known}",
            )
        if value < 1:
            raise input_error(
                "--set",
                key,
                f"value {value} must be >= 1 (workload parameters are sizes, counts and bit "
                f"widths; default {params[key]})",
            )
        params[key] = value
    return params


def _substitute(data: Any, params: Mapping[str, int], source: str) -> Any:
    """Evaluate size expressions at the known places: loops, shapes and bits."""
    problems: list[FieldProblem] = []

    def ev(path: str, value: Any) -> Any:
        try:
            return eval_size(value, params)
        except ValueError as exc:
            problems.append(FieldProblem(path, str(exc)))
            return value

    if not isinstance(data, dict):
        raise input_error(source, "", "expected a mapping with name, params, tensors, layers")
    out = dict(data)
    out.pop("params", None)
    tensors = out.get("tensors")
    if isinstance(tensors, dict):
        new_t: dict[str, Any] = {}
        for name, t in tensors.items():
            if isinstance(t, dict):
                t = dict(t)
                if isinstance(t.get("shape"), list):
                    t["shape"] = [
                        ev(f"tensors.{name}.shape[{i}]", s) for i, s in enumerate(t["shape"])
                    ]
                if "bits" in t:
                    t["bits"] = ev(f"tensors.{name}.bits", t["bits"])
            new_t[name] = t
        out["tensors"] = new_t
    layers = out.get("layers")
    if isinstance(layers, list):
        new_l: list[Any] = []
        for i, layer in enumerate(layers):
            if isinstance(layer, dict):
                layer = dict(layer)
                if isinstance(layer.get("loops"), dict):
                    layer["loops"] = {
                        d: ev(f"layers[{i}].loops.{d}", s) for d, s in layer["loops"].items()
                    }
                if isinstance(layer.get("output"), dict) and "bits" in layer["output"]:
                    o = dict(layer["output"])
                    o["bits"] = ev(f"layers[{i}].output.bits", o["bits"])
                    layer["output"] = o
            new_l.append(layer)
        out["layers"] = new_l
    if problems:
        raise InputError(source, tuple(problems))
    return out


def workload_problems(w: Workload) -> list[FieldProblem]:
    """Every inconsistency: unknown tensors and dims, shape mismatches, order, bad row dims."""
    out: list[FieldProblem] = []
    seen: dict[str, int] = {}
    for i, layer in enumerate(w.layers):
        p = f"layers[{i}]"
        if layer.name in seen:
            out.append(FieldProblem(f"{p}.name", f"duplicate layer name {layer.name!r}"))
        if layer.name in w.tensors:
            out.append(FieldProblem(f"{p}.name", f"{layer.name!r} is also a declared tensor"))
        for d, size in layer.loops.items():
            if size < 1:
                out.append(FieldProblem(f"{p}.loops.{d}", f"size {size} must be >= 1"))
        loops = set(layer.loops)
        for j, op in enumerate(layer.inputs):
            for k, d in enumerate(op.dims):
                if d not in loops:
                    out.append(
                        FieldProblem(
                            f"{p}.inputs[{j}].dims[{k}]",
                            f"{d!r} is not a loop of layer {layer.name!r}; loops: {sorted(loops)}",
                        )
                    )
            if op.tensor in w.tensors:
                shape = w.tensors[op.tensor].shape
            elif op.tensor in seen:
                prod = w.layers[seen[op.tensor]]
                shape = tuple(prod.loops.get(d, 0) for d in prod.output.dims)
            else:
                known = sorted([*w.tensors, *seen])
                out.append(
                    FieldProblem(
                        f"{p}.inputs[{j}].tensor",
                        f"unknown tensor {op.tensor!r} (declare it under tensors, or produce "
                        f"it in an earlier layer); known: {known}",
                    )
                )
                continue
            if len(shape) != len(op.dims):
                out.append(
                    FieldProblem(
                        f"{p}.inputs[{j}].dims",
                        f"{len(op.dims)} dims for tensor {op.tensor!r} of rank {len(shape)}",
                    )
                )
                continue
            want = tuple(layer.loops.get(d, 0) for d in op.dims)
            if op.offsets:
                span = list(want)
                for name, count in (("strides", len(op.strides)), ("kernel", len(op.kernel))):
                    if count and count != len(op.dims):
                        out.append(
                            FieldProblem(
                                f"{p}.inputs[{j}].{name}",
                                f"{count} {name} for {len(op.dims)} dims",
                            )
                        )
                if op.strides and len(op.strides) == len(op.dims):
                    span = [st * (n - 1) + 1 for st, n in zip(op.strides, span, strict=True)]
                if op.kernel and len(op.kernel) == len(op.dims):
                    for k, kernel_loop in enumerate(op.kernel):
                        if kernel_loop and kernel_loop not in loops:
                            out.append(
                                FieldProblem(
                                    f"{p}.inputs[{j}].kernel[{k}]",
                                    f"{kernel_loop!r} is not a loop; loops: {sorted(loops)}",
                                )
                            )
                        elif kernel_loop:
                            span[k] += layer.loops[kernel_loop] - 1
                if len(op.offsets) != len(op.dims):
                    out.append(
                        FieldProblem(
                            f"{p}.inputs[{j}].offsets",
                            f"{len(op.offsets)} offsets for {len(op.dims)} dims",
                        )
                    )
                elif any(
                    o >= s or o + n <= 0 for o, n, s in zip(op.offsets, span, shape, strict=True)
                ):
                    out.append(
                        FieldProblem(
                            f"{p}.inputs[{j}]",
                            f"loops {list(op.dims)} (spanning {span}) shifted by "
                            f"{list(op.offsets)} read nothing of tensor {op.tensor!r} of shape "
                            f"{list(shape)}",
                        )
                    )
            elif want != shape:
                out.append(
                    FieldProblem(
                        f"{p}.inputs[{j}]",
                        f"tensor {op.tensor!r} has shape {list(shape)} but loops {list(op.dims)} "
                        f"span {list(want)}",
                    )
                )
        for k, d in enumerate(layer.output.dims):
            if d not in loops:
                out.append(
                    FieldProblem(
                        f"{p}.output.dims[{k}]", f"{d!r} is not a loop; loops: {sorted(loops)}"
                    )
                )
        if len(set(layer.output.dims)) != len(layer.output.dims):
            out.append(FieldProblem(f"{p}.output.dims", "a loop appears twice"))
        for name, field in (("token_dim", layer.token_dim), ("head_dim", layer.head_dim)):
            if field is not None and field not in loops:
                out.append(
                    FieldProblem(f"{p}.{name}", f"{field!r} is not a loop; loops: {sorted(loops)}")
                )
        for k, d in enumerate(layer.row_dims):
            if d not in loops:
                out.append(FieldProblem(f"{p}.row_dims[{k}]", f"{d!r} is not a loop"))
        if layer.op in ROW_REDUCING_OPS and not layer.row_dims:
            out.append(
                FieldProblem(
                    f"{p}.row_dims",
                    f"a {layer.op} layer must name the dims it reduces over (row_dims)",
                )
            )
        seen[layer.name] = i
    for j, name in enumerate(w.outputs):
        if name not in seen:
            out.append(FieldProblem(f"outputs[{j}]", f"unknown layer {name!r}"))
    return out


def check_workload(w: Workload, source: str) -> Workload:
    """Return `w` if it is consistent, else raise an InputError listing every problem."""
    problems = workload_problems(w)
    if problems:
        raise InputError(source, tuple(problems))
    return w


def read_workload_header(path: Path) -> WorkloadHeader:
    """Name, description and parameters of a workload file (for listings)."""
    return parse_model(read_data(path), WorkloadHeader, str(path))


def load_workload_file(path: str | Path, overrides: Mapping[str, int] | None = None) -> Workload:
    """Load a workload YAML file with parameter overrides into a checked, concrete Workload."""
    path = Path(path)
    source = str(path)
    data = read_data(path)
    header = parse_model(data, WorkloadHeader, source)
    params = resolve_params(header, overrides or {}, source)
    concrete = _substitute(data, params, source)
    if params:
        doc = ", ".join(f"{k}={v}" for k, v in params.items())
        description = concrete.get("description")
        if isinstance(description, str) or description is None:  # else the model reports it
            concrete["description"] = (description or "").strip() + f" [{doc}]"
    workload = check_workload(parse_model(concrete, Workload, source), source)
    workload._source = source
    return workload
