"""The shape of the house: imports point one way, down the layers, read from the sources (AST).

The layers of ``cpsched``, lowest first (a module may import from its own layer and the ones
below it, never from one above):

    cpsched (the root package: only __version__)
    model      the formats: problem, schedule, result, objective grammar, io, errors
    frontend   workloads, hardware, tiling, costs -> Problem
    check      validate, metrics, infeasibility
    report     tables, plots, traces of a schedule and its metrics (reads model and check only)
    heuristics list schedulers, HEFT, layer-by-layer
    cpsat      the CP-SAT model and solve (the only importer of ortools)
    pipeline   build -> heuristics -> solve -> validate, the one hint fallback
    analysis   compare, pareto (solving through the pipeline's fallback)
    runs       run folders
    sweep      `cpsched sweep`: sweep files, points run locally or on Dask, records, the answer
    bench      `cpsched bench`: runner, suites, the MILP peer
    cli        the command line

`report` sits just above `check`: it renders a schedule and the checking side's metrics and
needs nothing of the solvers, while `analysis`, the pipeline and `bench` call it to write their
files. On top of the general rule, some rules are stated on their own so that a failure says
what it protects: only `cpsat/` (and the MILP peer in `bench/`) imports ortools; `model/` is
self-contained; `check/` shares no code with any solver; `frontend/` sees only the formats;
only the CLI imports `bench/`; nothing in cpsched imports the root `benchmarks/` folder.

Every import counts: ``import x``, ``from x import y`` (``y`` when it is a module), relative
imports, imports inside functions, imports under ``if TYPE_CHECKING:`` (a type is a dependency
too; the message says so) and ``importlib.import_module("x")`` / ``__import__("x")`` with a
literal name.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "cpsched"

LAYERS: tuple[str, ...] = (
    "cpsched",  # the root package itself
    "model",
    "frontend",
    "check",
    "report",
    "heuristics",
    "cpsat",
    "pipeline",
    "analysis",
    "runs",
    "sweep",
    "bench",
    "cli",
)
RANK = {name: i for i, name in enumerate(LAYERS)}


@dataclass(frozen=True)
class Import:
    """One import statement (or literal dynamic import) of one module, resolved to a module name."""

    path: str  # file, relative to the repository root
    line: int
    module: str  # the importing module, e.g. "cpsched.check.validate"
    target: str  # the imported module, absolute, e.g. "cpsched.model.problem"
    type_checking: bool = False  # under `if TYPE_CHECKING:`
    dynamic: bool = False  # importlib.import_module / __import__

    def where(self) -> str:
        how = " (under TYPE_CHECKING)" if self.type_checking else ""
        how += " (dynamic import)" if self.dynamic else ""
        return f"{self.path}:{self.line}: imports {self.target}{how}"


# --------------------------------------------------------------------------------------------
# Reading the sources
# --------------------------------------------------------------------------------------------


def module_name(path: Path, root: Path = ROOT) -> str:
    """'cpsched/check/validate.py' -> 'cpsched.check.validate'; an __init__.py -> its package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of `from <level dots><name> import ...` inside `module`."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


_DYNAMIC = {"import_module", "__import__"}


def scan_source(
    source: str,
    module: str,
    path: str,
    *,
    is_package: bool = False,
    known_modules: Iterable[str] = (),
) -> list[Import]:
    """Every import in `source` (the text of `module`, found at `path`), resolved to absolute names.

    `from x import y` names `x.y` when that is one of `known_modules`, else `x`.
    """
    known = set(known_modules)
    tree = ast.parse(source, filename=path)
    found: list[Import] = []

    def add(node: ast.AST, target: str, type_checking: bool, dynamic: bool = False) -> None:
        found.append(
            Import(path, getattr(node, "lineno", 0), module, target, type_checking, dynamic)
        )

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                visit(stmt, True)
            for stmt in node.orelse:
                visit(stmt, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name, type_checking)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else (node.module or "")
            )
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            if subs:
                for target in subs:
                    add(node, target, type_checking)
                if len(subs) < len(node.names):  # some names are attributes of `base` itself
                    add(node, base, type_checking)
            else:
                add(node, base, type_checking)
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id if isinstance(func, ast.Name)
                else func.attr if isinstance(func, ast.Attribute)
                else None
            )  # fmt: skip
            first = node.args[0] if node.args else None
            if (
                name in _DYNAMIC
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(".")
            ):
                add(node, first.value, type_checking, dynamic=True)
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(tree, False)
    return found


def _python_files(*folders: str) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        top = ROOT / folder
        if top.is_dir():
            out += sorted(p for p in top.rglob("*.py") if "__pycache__" not in p.parts)
    return out


@functools.cache
def repository_imports(*folders: str) -> list[Import]:
    """Every import of every Python file under `folders` (relative to the repository root);
    read once per test session."""
    files = _python_files(*folders)
    known = {module_name(p) for p in _python_files(PACKAGE, "benchmarks")}
    out: list[Import] = []
    for p in files:
        out += scan_source(
            p.read_text(encoding="utf-8"),
            module_name(p),
            str(p.relative_to(ROOT)),
            is_package=p.name == "__init__.py",
            known_modules=known,
        )
    return out


# --------------------------------------------------------------------------------------------
# Where a module lives
# --------------------------------------------------------------------------------------------


def layer_of(module: str) -> str | None:
    """The layer of a cpsched module ('cpsched.check.validate' -> 'check'), None outside any."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return PACKAGE
    if parts[1] == "__main__":  # `python -m cpsched`: the command line
        return "cli"
    return parts[1] if parts[1] in RANK and parts[1] != PACKAGE else None


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _top(module: str) -> str:
    return module.split(".")[0]


# --------------------------------------------------------------------------------------------
# The rules: each takes imports and returns one line per offending import
# --------------------------------------------------------------------------------------------

Rule = Callable[[list[Import]], list[str]]


def _milp_peer(module: str) -> bool:
    """The MILP peer, the one module outside cpsched.cpsat that may import ortools (MathOpt)."""
    return module == "cpsched.bench.milp_peer"


def ortools_outside_cpsat(imports: list[Import]) -> list[str]:
    return [
        f"{i.where()}; only cpsched/cpsat/ (and the MILP peer in cpsched/bench/) may import ortools"
        for i in imports
        if _top(i.target) == "ortools"
        and not _inside(i.module, "cpsched.cpsat")
        and not _milp_peer(i.module)
    ]


def model_outside_model(imports: list[Import]) -> list[str]:
    return [
        f"{i.where()}; cpsched/model/ is the lowest layer and imports nothing else of cpsched"
        for i in imports
        if _inside(i.module, "cpsched.model")
        and _top(i.target) == PACKAGE
        and i.target != PACKAGE  # the root package only holds __version__
        and not _inside(i.target, "cpsched.model")
    ]


_ABOVE_CHECK = ("heuristics", "cpsat", "analysis", "pipeline", "runs", "report", "bench", "cli")
_ABOVE_FRONTEND = ("check", *_ABOVE_CHECK)


def _imports_layers(imports: list[Import], where: str, layers: Iterable[str]) -> Iterator[Import]:
    banned = [f"cpsched.{name}" for name in layers]
    for i in imports:
        if _inside(i.module, f"cpsched.{where}") and any(_inside(i.target, b) for b in banned):
            yield i


def check_imports_solvers_or_above(imports: list[Import]) -> list[str]:
    return [
        f"{i.where()}; cpsched/check/ shares no code with the solvers (heuristics, cpsat) and "
        "imports nothing above it"
        for i in _imports_layers(imports, "check", _ABOVE_CHECK)
    ]


def frontend_imports_above(imports: list[Import]) -> list[str]:
    return [
        f"{i.where()}; cpsched/frontend/ builds problems from the formats alone (cpsched.model)"
        for i in _imports_layers(imports, "frontend", _ABOVE_FRONTEND)
    ]


def bench_imported_outside_cli(imports: list[Import]) -> list[str]:
    return [
        f"{i.where()}; cpsched/bench/ is the top of the library, only cpsched/cli/ imports it"
        for i in imports
        if _inside(i.target, "cpsched.bench")
        and not _inside(i.module, "cpsched.bench")
        and not _inside(i.module, "cpsched.cli")
    ]


def root_benchmarks_imported(imports: list[Import]) -> list[str]:
    return [
        f"{i.where()}; cpsched never imports the root benchmarks/ folder (results and "
        "micro-benchmark scripts, not a package)"
        for i in imports
        if _inside(i.module, PACKAGE) and _top(i.target) == "benchmarks"
    ]


def modules_without_layer(imports: list[Import]) -> list[str]:
    modules = {(i.path, i.module) for i in imports}
    return [
        f"{path}: module {module} belongs to no layer; put it in one of "
        f"{', '.join(LAYERS[1:])} (or add its folder to LAYERS in this test)"
        for path, module in sorted(modules)
        if _inside(module, PACKAGE) and layer_of(module) is None
    ]


def imports_against_the_layers(imports: list[Import]) -> list[str]:
    out = []
    for i in imports:
        here = layer_of(i.module)
        if here is None or _top(i.target) != PACKAGE:
            continue
        there = layer_of(i.target)
        if there is None:
            out.append(f"{i.where()}, a module that belongs to no layer")
        elif RANK[there] > RANK[here]:
            out.append(
                f"{i.where()}: layer {here!r} imports layer {there!r}, which is above it "
                f"(order: {' < '.join(LAYERS[1:])})"
            )
    return out


def _fail_on(rule: Rule, imports: list[Import]) -> None:
    problems = rule(imports)
    if problems:
        pytest.fail(f"{len(problems)} imports break the rule:\n" + "\n".join(problems), False)


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


def test_only_cpsat_and_the_milp_peer_import_ortools() -> None:
    _fail_on(ortools_outside_cpsat, repository_imports(PACKAGE, "benchmarks"))


def test_model_imports_nothing_above_it() -> None:
    _fail_on(model_outside_model, repository_imports(PACKAGE))


def test_check_shares_no_code_with_the_solvers() -> None:
    _fail_on(check_imports_solvers_or_above, repository_imports(PACKAGE))


def test_frontend_imports_only_the_formats() -> None:
    _fail_on(frontend_imports_above, repository_imports(PACKAGE))


def test_only_the_cli_imports_bench() -> None:
    _fail_on(bench_imported_outside_cli, repository_imports(PACKAGE))


def test_cpsched_never_imports_the_root_benchmarks_folder() -> None:
    _fail_on(root_benchmarks_imported, repository_imports(PACKAGE))


def test_every_module_belongs_to_a_layer() -> None:
    _fail_on(modules_without_layer, repository_imports(PACKAGE))


def test_imports_point_down_the_layers() -> None:
    _fail_on(imports_against_the_layers, repository_imports(PACKAGE))


# --- the scanner itself -----------------------------------------------------------------------

SYNTHETIC = """
from __future__ import annotations
import importlib
from typing import TYPE_CHECKING
from . import problem
from ..check import validate
from cpsched import cli

if TYPE_CHECKING:
    from cpsched.analysis.pareto import ParetoFront

def solve():
    import ortools.sat.python.cp_model as cp
    from ortools.math_opt.python import mathopt
    peer = importlib.import_module("benchmarks.peers.milp")
    return cp, mathopt, peer
"""


def _synthetic(module: str = "cpsched.model.fake") -> list[Import]:
    known = {"cpsched.model.problem", "cpsched.check.validate", "cpsched.cli"}
    return scan_source(SYNTHETIC, module, "cpsched/model/fake.py", known_modules=known)


def test_the_scanner_reads_every_kind_of_import() -> None:
    found = {(i.line, i.target, i.type_checking, i.dynamic) for i in _synthetic()}
    assert found == {
        (2, "__future__", False, False),
        (3, "importlib", False, False),
        (4, "typing", False, False),
        (5, "cpsched.model.problem", False, False),  # relative, to a module
        (6, "cpsched.check.validate", False, False),  # two dots up
        (7, "cpsched.cli", False, False),  # `from package import module`
        (10, "cpsched.analysis.pareto", True, False),
        (13, "ortools.sat.python.cp_model", False, False),  # inside a function
        (14, "ortools.math_opt.python", False, False),
        (15, "benchmarks.peers.milp", False, True),
    }


def test_the_rules_catch_forbidden_imports_in_a_synthetic_source() -> None:
    imports = _synthetic()
    ortools = ortools_outside_cpsat(imports)
    assert [line.split(": ")[0] for line in ortools] == [
        "cpsched/model/fake.py:13",
        "cpsched/model/fake.py:14",
    ]
    assert "only cpsched/cpsat/" in ortools[0]
    model = model_outside_model(imports)
    assert [line.split(": ")[0] for line in model] == [
        "cpsched/model/fake.py:6",
        "cpsched/model/fake.py:7",
        "cpsched/model/fake.py:10",
    ]
    assert "(under TYPE_CHECKING)" in model[2]
    assert len(root_benchmarks_imported(imports)) == 1
    layered = imports_against_the_layers(imports)
    assert len(layered) == 3 and "layer 'model' imports layer 'cli'" in layered[1]
    # The same source where it is allowed: the MILP peer may import ortools, cpsat too.
    for allowed in ("cpsched.bench.milp_peer", "cpsched.cpsat.x"):
        assert ortools_outside_cpsat(_synthetic(allowed)) == []
    # ... but not the milp suite or any other module of bench
    for forbidden in ("cpsched.bench.milp", "cpsched.bench.peers.mip"):
        assert ortools_outside_cpsat(_synthetic(forbidden)) != []
    # The same source in check/ and frontend/: the import of cli is above both.
    assert len(check_imports_solvers_or_above(_synthetic("cpsched.check.fake"))) == 2
    assert len(frontend_imports_above(_synthetic("cpsched.frontend.fake"))) == 3
    # bench imported from the pipeline, not from the CLI.
    bench = scan_source("from cpsched.bench import runner\n", "cpsched.pipeline", "p.py")
    assert len(bench_imported_outside_cli(bench)) == 1
    assert (
        bench_imported_outside_cli(
            scan_source("from cpsched.bench import runner\n", "cpsched.cli.bench", "b.py")
        )
        == []
    )
    assert modules_without_layer(scan_source("import os\n", "cpsched.stray", "cpsched/stray.py"))
