"""Every `cpsched bench` suite by name, built from each suite module's `SUITE` constant.

Adding a suite: one line in SUITE_MODULES (the module exports `SUITE: SuiteDef`).
"""

from __future__ import annotations

from importlib import import_module

from cpsched.bench.runner import SuiteDef

SUITE_MODULES: tuple[str, ...] = (
    "cpsched.bench.fusion_memory",
    "cpsched.bench.models",
    "cpsched.bench.pareto",
    "cpsched.bench.scaling",
    "cpsched.bench.heuristics",
    "cpsched.bench.milp",
    "cpsched.bench.format2",
)


def _load(modules: tuple[str, ...]) -> dict[str, SuiteDef]:
    suites: dict[str, SuiteDef] = {}
    for module in modules:
        suite = import_module(module).SUITE
        if not isinstance(suite, SuiteDef) or suite.name in suites:
            raise TypeError(f"{module}.SUITE is not a SuiteDef with a name of its own")
        suites[suite.name] = suite
    return suites


SUITES: dict[str, SuiteDef] = _load(SUITE_MODULES)
