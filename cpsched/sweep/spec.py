"""Sweep files: the axes of a design-space study, and the points they make.

A sweep file (YAML, strict like every input) names workloads with parameter grids, hardware
with parameter grids, tilings, execution modes and objectives, plus the per-point solver
settings; the cross product, less the points its optional `filter` rejects, is the set of
points. A :class:`Point` is plain data (it is sent to other processes and machines as JSON) and
its :meth:`Point.key` says when two runs asked the same question, file contents included.

The file (every field but `name`, `workloads` and `hardware` has a default)::

    name: fusion_study
    workloads:                    # bundled name or file (relative to the sweep file)
      attention_head: {M: [64, 128], N: [64]}   # parameter -> values; {} = the defaults
    hardware:
      quad_bus: {L1_KIB: [64, 256], BUS_BYTES_PER_CYCLE: [16, 32]}
      single_core: {}
    tilings: [{tiles: 2}, {tiles: 4, split: [QKT.j=2]}, {tiles: auto}]   # default [{tiles: 2}]
    modes: [fused, layer-by-layer]                  # the default
    objectives: [latency, activation-memory]        # default [latency]; as --objective
    filter: "M / N <= 8 and mode == 'fused'"        # optional; names: every parameter (its
                                                    # default when not swept), workload,
                                                    # hardware, tiles, head_tiles, mode, objective
    allocation: tile              # tile | layer
    time_limit_s: 10              # CP-SAT per point
    workers: 1                    # CP-SAT workers per point
    seed: 0
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from cpsched.frontend.catalog import hardware_path, workload_path
from cpsched.frontend.hardware import read_hardware_header
from cpsched.frontend.tiling import parse_splits
from cpsched.frontend.workload.load import read_workload_header
from cpsched.model.errors import FieldProblem, InputError
from cpsched.model.io import parse_model, read_data
from cpsched.model.objective import parse_objective

SWEEP_RECORD_FORMAT = "cpsched-sweep-record/1"
Mode = Literal["fused", "layer-by-layer"]
MODES: tuple[Mode, ...] = ("fused", "layer-by-layer")

# A grid: one parameter's values, distinct positive integers.
Grid = Annotated[list[Annotated[StrictInt, Field(ge=1)]], Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _distinct(grids: dict[str, list[int]]) -> dict[str, list[int]]:
    for name, values in grids.items():
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"{name}: value {repeated[0]} appears twice; list each value once")
    return grids


class Tiling(_Strict):
    """One tiling of the `tilings` axis: tiles along the token and head dims, extra splits."""

    # a count, or auto: the coarsest that fits (cpsched.frontend.autotile), as `--tiles auto`
    tiles: Annotated[StrictInt, Field(ge=1)] | Literal["auto"] = 1
    head_tiles: Annotated[StrictInt, Field(ge=1)] | Literal["auto"] = 1
    split: tuple[StrictStr, ...] = ()  # DIM=N or LAYER.DIM=N, or auto, as `--split`

    def label(self) -> str:
        """Short text for tables: "T=2", "T=4 H=2 FF1.f=4"."""
        parts = [f"T={self.tiles}"]
        if self.head_tiles == "auto" or self.head_tiles > 1:
            parts.append(f"H={self.head_tiles}")
        return " ".join([*parts, *self.split])


class SweepFile(_Strict):
    """The sweep file as written (the module docstring shows one)."""

    name: StrictStr = Field(min_length=1)
    description: StrictStr = ""
    # workload name or file -> parameter -> values (an empty mapping: the defaults)
    workloads: dict[str, dict[str, Grid]] = Field(min_length=1)
    hardware: dict[str, dict[str, Grid]] = Field(min_length=1)
    tilings: list[Tiling] = Field(default_factory=lambda: [Tiling(tiles=2)], min_length=1)
    modes: list[Mode] = Field(default_factory=lambda: list(MODES), min_length=1)
    objectives: list[StrictStr] = Field(default_factory=lambda: ["latency"], min_length=1)
    filter: StrictStr | None = None  # a condition on the point, e.g. "M / N <= 8"
    allocation: Literal["tile", "layer"] = "tile"
    time_limit_s: Annotated[StrictFloat | StrictInt, Field(gt=0, le=86400)] = 10.0
    workers: Annotated[StrictInt, Field(ge=1, le=256)] = 1  # CP-SAT workers per point
    seed: Annotated[StrictInt, Field(ge=0, le=2**31 - 1)] = 0

    @field_validator("workloads", "hardware")
    @classmethod
    def _grids_distinct(cls, axes: dict[str, dict[str, list[int]]]) -> Any:
        for grids in axes.values():
            _distinct(grids)
        return axes

    @field_validator("modes", "objectives")
    @classmethod
    def _listed_once(cls, values: list[str]) -> list[str]:
        for v in values:
            if values.count(v) > 1:
                raise ValueError(f"{v!r} appears twice; list each once")
        return values


class Point(_Strict):
    """One point of a sweep: everything a worker needs to build and solve it (plain data)."""

    index: int  # position in the sweep, for stable tables
    workload: str  # bundled name or an absolute file path
    workload_params: dict[str, int]  # the values set by the sweep (others: the file's defaults)
    hardware: str
    hardware_params: dict[str, int]
    tiling: Tiling
    mode: Mode
    objective: str
    allocation: Literal["tile", "layer"]
    time_limit_s: float
    workers: int
    seed: int
    # sha256 of the workload and hardware files: a changed file is a different point
    inputs_sha256: dict[str, str]

    def key(self) -> str:
        """What makes a point the same point on a rerun: every field but its index."""
        data = self.model_dump(mode="json", exclude={"index"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def workload_label(self) -> str:
        """e.g. "attention_head M=64 N=64"."""
        return _label(self.workload, self.workload_params)

    def hardware_label(self) -> str:
        """e.g. "quad_bus L1_KIB=64"."""
        return _label(self.hardware, self.hardware_params)


def _label(name: str, params: Mapping[str, int]) -> str:
    return " ".join([Path(name).stem, *(f"{k}={v}" for k, v in params.items())])


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep file: what it says, where it is, and its points."""

    source: str
    spec: SweepFile
    points: tuple[Point, ...]
    considered: int  # points in the cross product before the filter

    def inputs_key(self) -> str:
        """Identifies the question the whole sweep asks: the keys of its points."""
        keys = "\n".join(p.key() for p in self.points)
        return hashlib.sha256(keys.encode()).hexdigest()[:16]


# --- the filter -----------------------------------------------------------------------------

_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def parse_filter(text: str) -> ast.Expression:
    """The filter's syntax tree; ValueError for anything but names, numbers, strings, + - * /
    // %, comparisons, and/or/not and parentheses."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {text!r}") from None
    allowed = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp,
        ast.Compare, ast.Name, ast.Load, ast.Constant, *_ARITH, *_COMPARE,
    )  # fmt: skip
    for node in ast.walk(tree):
        if not isinstance(node, allowed) or (
            isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str)
        ):
            raise ValueError(
                f"unsupported syntax in {text!r}; use parameters, numbers, 'strings', "
                "+ - * / // %, < <= > >= == !=, and, or, not"
            )
    return tree


def filter_names(tree: ast.Expression) -> set[str]:
    """The names a filter reads."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def eval_filter(tree: ast.Expression, env: Mapping[str, Any]) -> bool:
    """Whether the point with values `env` passes the filter (ValueError on a division by 0)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BoolOp):
            values = [bool(ev(v)) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return (not value) if isinstance(node.op, ast.Not) else -value
        if isinstance(node, ast.BinOp):
            return _ARITH[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = ev(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise ValueError(f"unsupported syntax {ast.dump(node)}")  # parse_filter let it through

    try:
        return bool(ev(tree))
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    except TypeError as exc:
        raise ValueError(str(exc)) from None


# --- loading --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resolve(name: str, folder: Path, find: Callable[[str, str], Path], field: str) -> Path:
    """The file of a bundled name, or of a path relative to the sweep file's folder."""
    candidate = Path(name)
    if (candidate.suffix or "/" in name) and not candidate.is_absolute():
        candidate = folder / candidate
        return find(str(candidate), field)
    return find(name, field)


def _grid_points(grids: Mapping[str, list[int]]) -> list[dict[str, int]]:
    names = list(grids)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grids.values())]


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file and make its points; every mistake is an InputError naming the file,
    the field and the value (unknown workload, hardware or parameter, bad grid, objective,
    split or filter)."""
    path = Path(path)
    source = str(path)
    spec = parse_model(read_data(path), SweepFile, source)
    folder = path.resolve().parent
    problems: list[FieldProblem] = []

    axes: dict[str, list[tuple[str, str, dict[str, int], dict[str, int]]]] = {}
    for axis, find, read_header in (
        ("workloads", workload_path, read_workload_header),
        ("hardware", hardware_path, read_hardware_header),
    ):
        entries: list[tuple[str, str, dict[str, int], dict[str, int]]] = []
        for name, grids in getattr(spec, axis).items():
            try:
                file = _resolve(name, folder, find, f"{axis}.{name}")
                header = read_header(file)
            except InputError as exc:
                problems += [FieldProblem(f"{axis}.{name}", str(p)) for p in exc.problems]
                continue
            defaults = {k: p.default for k, p in header.params.items()}
            for param in grids:
                if param not in defaults:
                    known = ", ".join(f"{k} (default {v})" for k, v in defaults.items())
                    problems.append(
                        FieldProblem(
                            f"{axis}.{name}.{param}",
                            f"unknown parameter {param!r} of {name!r}; its parameters: "
                            f"{known or 'none'}",
                        )
                    )
            if any(p not in defaults for p in grids):
                continue
            # a bundled model stays a name (the same on every machine); a file, its full path
            shown = str(file.resolve()) if Path(name).suffix or "/" in name else name
            for values in _grid_points(grids):
                entries.append((shown, _sha256(file), values, defaults))
        axes[axis] = entries
    for i, tiling in enumerate(spec.tilings):
        try:
            parse_splits(list(tiling.split), f"tilings[{i}].split")
        except InputError as exc:
            problems += [FieldProblem(f"tilings[{i}].split", str(p)) for p in exc.problems]
    objectives: list[str] = []
    for i, text in enumerate(spec.objectives):
        try:
            objectives.append(str(parse_objective(text, f"objectives[{i}]")))
        except InputError as exc:
            problems += [FieldProblem(f"objectives[{i}]", p.message) for p in exc.problems]
    tree: ast.Expression | None = None
    if spec.filter is not None:
        try:
            tree = parse_filter(spec.filter)
        except ValueError as exc:
            problems.append(FieldProblem("filter", str(exc)))
    if problems:
        raise InputError(source, tuple(problems))

    points: list[Point] = []
    considered = 0
    for (wl, wl_sha, wl_values, wl_defaults), (
        hw,
        hw_sha,
        hw_values,
        hw_defaults,
    ) in itertools.product(axes["workloads"], axes["hardware"]):
        for tiling, mode, objective in itertools.product(spec.tilings, spec.modes, objectives):
            considered += 1
            if tree is not None:
                env: dict[str, Any] = {
                    **{**hw_defaults, **hw_values},
                    **{**wl_defaults, **wl_values},
                    "workload": Path(wl).stem,
                    "hardware": Path(hw).stem,
                    "tiles": tiling.tiles,
                    "head_tiles": tiling.head_tiles,
                    "mode": mode,
                    "objective": objective,
                }
                unknown = sorted(filter_names(tree) - set(env))
                if unknown:
                    raise InputError(
                        source,
                        (
                            FieldProblem(
                                "filter",
                                f"unknown name {unknown[0]!r} in {spec.filter!r} (point "
                                f"{_label(wl, wl_values)} on {_label(hw, hw_values)}); names: "
                                f"{', '.join(sorted(env))}",
                            ),
                        ),
                    )
                try:
                    keep = eval_filter(tree, env)
                except ValueError as exc:
                    raise InputError(
                        source, (FieldProblem("filter", f"{spec.filter!r}: {exc}"),)
                    ) from None
                if not keep:
                    continue
            points.append(
                Point(
                    index=len(points),
                    workload=wl,
                    workload_params=wl_values,
                    hardware=hw,
                    hardware_params=hw_values,
                    tiling=tiling,
                    mode=mode,
                    objective=objective,
                    allocation=spec.allocation,
                    time_limit_s=float(spec.time_limit_s),
                    workers=spec.workers,
                    seed=spec.seed,
                    inputs_sha256={"workload": wl_sha, "hardware": hw_sha},
                )
            )
    if not points:
        raise InputError(
            source,
            (
                FieldProblem(
                    "filter", f"{spec.filter!r} leaves none of the {considered} points; loosen it"
                ),
            ),
        )
    return Sweep(source, spec, tuple(points), considered)
