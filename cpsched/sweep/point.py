"""One sweep point, built and solved where it runs: in a local process or on a Dask worker.

:func:`run_point` takes and returns plain data (a point as JSON-ready dict, a record as one),
so it can be shipped to any machine that has cpsched installed. It never raises for a point
that fails: the record says `status: "error"` and why, and the sweep goes on.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

from cpsched.check.metrics import metrics
from cpsched.cpsat.params import SolverParams
from cpsched.model.errors import InputError
from cpsched.model.problem import TENSOR_KINDS, Problem
from cpsched.model.result import SolveResult, solver_versions
from cpsched.pipeline import BuildOptions, build_job, check_tiles_fit, solve_from_hint
from cpsched.sweep.spec import SWEEP_RECORD_FORMAT, Point


def build_point(point: Point) -> Problem:
    """The problem of `point` (InputError when it cannot be built, e.g. tiles fit no memory):
    the pipeline's build, with the point's workload and hardware parameters."""
    built = build_job(
        BuildOptions(
            workload=point.workload,
            overrides=point.workload_params,
            hardware=point.hardware,
            hardware_overrides=point.hardware_params,
            tiles=point.tiling.tiles,
            head_tiles=point.tiling.head_tiles,
            split=point.tiling.split,
            mode=point.mode,
            allocation=point.allocation,
        )
    )
    check_tiles_fit(built.problem, built.workload)
    return built.problem


def _base(point: Point) -> dict[str, Any]:
    return {
        "format": SWEEP_RECORD_FORMAT,
        "key": point.key(),
        "index": point.index,
        "point": point.model_dump(mode="json"),
    }


def _measures(problem: Problem, result: SolveResult) -> dict[str, Any]:
    """The study's numbers of a result's schedule (None without one)."""
    out: dict[str, Any] = {"tasks": len(problem.tasks)}
    if result.schedule is None:
        return out
    m = metrics(problem, result.schedule)
    out.update(
        latency_cycles=m.latency_cycles,
        energy_total_pj=m.energy_total_pj,
        energy_compute_pj=m.energy_compute_pj,
        energy_transfer_pj=m.energy_transfer_pj,
        peak_memory_bytes=m.largest_peak_bytes(),
        peak_memory_sum_bytes=sum(m.peak_bytes().values()),
        **{f"peak_{kind}_bytes": m.largest_peak_bytes(kind) for kind in TENSOR_KINDS},
        bytes_moved=sum(m.link_traffic_bytes.values()),
        dram_in_bytes=m.dram_in_bytes,
        dram_out_bytes=m.dram_out_bytes,
    )
    return out


def failed_record(point: Point, error: str) -> dict[str, Any]:
    """The record of a point that the executor could not run (its worker died, say)."""
    return {
        **_base(point),
        "status": "error",
        "error": error,
        "wall_time_s": 0.0,
        "versions": solver_versions(),
    }


def run_point(data: dict[str, Any]) -> dict[str, Any]:
    """Build and solve one point (a :class:`Point` as a dict); its record, as a dict.

    The record holds the point, the status (optimal, feasible, infeasible, unknown, or error),
    objective, bound, gap, the schedule's latency, energy split, peak memory by kind and bytes
    moved, wall time, host and versions.
    """
    started = time.monotonic()
    point = Point.model_validate(data)
    record = _base(point)
    try:
        problem = build_point(point)
        params = SolverParams(
            time_limit_s=point.time_limit_s, num_workers=point.workers, seed=point.seed
        )
        result = solve_from_hint(problem, point.objective, params)
        record.update(
            status=result.status,
            method=result.method,
            objective_value=result.objective_value,
            bound=result.bound,
            gap=result.gap,
            proven=result.status in ("optimal", "infeasible"),
            stages=[s.value for s in result.stages],
            solve_time_s=result.wall_time_s,
            error=None,
            **_measures(problem, result),
        )
    except InputError as exc:
        record.update(status="error", error=str(exc))
    except Exception as exc:  # a bug, not the user's: recorded with where it happened
        where = traceback.extract_tb(exc.__traceback__)[-1]
        record.update(
            status="error",
            error=f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})",
        )
    record.update(
        wall_time_s=time.monotonic() - started,
        host=socket.gethostname(),
        pid=os.getpid(),
        versions=solver_versions(),
    )
    return record
