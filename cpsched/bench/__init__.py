"""`cpsched bench`: benchmark suites with repeatable, recorded runs (see cpsched.bench.runner)."""

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
