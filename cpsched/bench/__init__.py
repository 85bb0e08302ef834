"""`cpsched bench`: benchmark suites with repeatable, recorded runs (see cpsched.bench.runner).

The top layer of cpsched: only the CLI imports it, and it uses the library below it through its
public functions. It holds the runner, one module per suite (listed in cpsched.bench.suites) and
the MILP peer (cpsched.bench.milp_peer, which searches the space of cpsched.model.space as
CP-SAT does), which besides cpsched.cpsat is the only code that imports ortools (MathOpt).
Committed results and micro-benchmark scripts live in the repository's root `benchmarks/`
folder, which is not installed.
"""

from __future__ import annotations

from cpsched.bench.runner import (
    BenchConfig,
    Case,
    Record,
    SuiteDef,
    load_records,
    machine_info,
    record_from_result,
    record_from_schedule,
    run_suite,
)

__all__ = [
    "BenchConfig",
    "Case",
    "Record",
    "SuiteDef",
    "load_records",
    "machine_info",
    "record_from_result",
    "record_from_schedule",
    "run_suite",
]
