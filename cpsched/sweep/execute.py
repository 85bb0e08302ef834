"""Running a sweep's points: in processes on this machine, or on a Dask distributed cluster.

:func:`run_sweep` skips the points already recorded in the folder, runs the others through an
executor, and appends each record as its point ends; Ctrl-C (or SIGTERM, which the command line
turns into the same) stops it with every finished point kept. The local executor is the
standard library's process pool; `dask="local"` starts a `distributed.LocalCluster`, any other
address connects a `distributed.Client` to a running scheduler (Dask's own deployers, SSH,
Kubernetes, SLURM through dask-jobqueue, start those). Points go out and records come back as
plain data; workers need only cpsched installed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpsched.model.errors import input_error
from cpsched.sweep.point import failed_record, run_point
from cpsched.sweep.spec import Point, Sweep
from cpsched.sweep.store import RECORDS_FILE, append_record, open_for_resume

# Seconds a point takes besides its CP-SAT time limit (build, heuristics, metrics), for the
# estimate of --dry-run: measured about 0.2-0.5 s on the bundled attention head.
POINT_OVERHEAD_S = 0.5
TICK_S = 0.5  # how often progress is reported while points run


class SweepCrashed(RuntimeError):
    """The executor itself failed (a local worker process died); finished points are kept."""


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep is: points done (of them failed), running, left; times in seconds."""

    total: int
    done: int  # recorded, including those recorded by an earlier run
    failed: int  # of `done`, with status "error"
    running: int
    skipped: int  # recorded by an earlier run
    elapsed_s: float
    remaining_s: float | None  # None before the first point of this run ends


@dataclass(frozen=True)
class SweepOutcome:
    """What a run of a sweep did: every record of the sweep (earlier ones too), in point order."""

    records: list[dict[str, Any]]
    total: int  # points in the sweep
    ran: int  # points run (and recorded) by this run
    skipped: int  # points recorded by an earlier run
    interrupted: bool
    wall_time_s: float
    executor: str  # e.g. "local, 2 processes", "dask tcp://..."

    @property
    def complete(self) -> bool:
        """Whether every point of the sweep has a record."""
        return len(self.records) == self.total


def default_jobs(workers_per_point: int) -> int:
    """Points to run at once: the cores this process may use, each point's CP-SAT workers
    counted."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, workers_per_point))


def estimate_s(sweep: Sweep, jobs: int, skip: int = 0) -> float:
    """An upper estimate of the wall time: every point to its time limit, `jobs` at a time."""
    per_point = [p.time_limit_s + POINT_OVERHEAD_S for p in sweep.points]
    left = sum(per_point) * (len(per_point) - skip) / max(1, len(per_point))
    return left / max(1, jobs)


def _worker_init() -> None:
    """Local workers leave Ctrl-C to the sweep's process, which ends them (SIGTERM kills)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


Submit = Callable[[Point], Any]


@contextmanager
def _local(jobs: int) -> Iterator[tuple[str, int, Callable[[list[Point]], Iterator[Any]]]]:
    """A process pool; yields its description, slots and a function that runs points and
    yields records as they end."""
    context = multiprocessing.get_context("spawn")  # no threads inherited from this process
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_init)
    stopped = False

    def run(points: list[Point]) -> Iterator[Any]:
        submitted = {pool.submit(run_point, p.model_dump(mode="json")): p for p in points}
        pending: set[Future[Any]] = set(submitted)
        while pending:
            finished, pending = wait(pending, timeout=TICK_S, return_when=FIRST_COMPLETED)
            for future in finished:
                error = future.exception()
                if error is None:
                    yield future.result()
                elif isinstance(error, BrokenProcessPool):
                    # a worker process died (killed, out of memory): the pool is gone, and
                    # with it every point still running; rerunning the sweep resumes
                    raise SweepCrashed(
                        f"a worker process died while running point "
                        f"{submitted[future].index} ({error}); every finished point is "
                        "recorded: run the same command again to resume"
                    ) from None
                else:
                    yield failed_record(submitted[future], f"{type(error).__name__}: {error}")
            if not finished:
                yield None  # a tick, for progress

    try:
        yield f"local, {jobs} process{'es' if jobs > 1 else ''}", jobs, run
    except BaseException:
        stopped = True
        # end the running points now: their work is lost either way, and waiting for a
        # minutes-long solve is no clean stop (Python 3.14 has pool.terminate_workers())
        processes = dict(getattr(pool, "_processes", None) or {})
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes.values():
            if process.is_alive():
                process.terminate()
        for process in processes.values():
            process.join(timeout=5)
        raise
    finally:
        if not stopped:
            pool.shutdown(wait=True)


@contextmanager
def _dask(
    address: str, jobs: int
) -> Iterator[tuple[str, int, Callable[[list[Point]], Iterator[Any]]]]:
    """A Dask client: on a new LocalCluster ("local", `jobs` single-threaded worker processes)
    or on the scheduler at `address`."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise input_error(
            "--dask", "", "needs Dask: pip install 'cpsched[dask]' (dask[distributed])"
        ) from None
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,  # logging.ERROR: no worker chatter over the progress bar
            )
            client = Client(cluster)
        else:
            client = Client(address, timeout=30)
    except OSError as exc:
        raise input_error("--dask", "", f"cannot reach {address!r}: {exc}") from None
    slots = max(1, sum(client.nthreads().values()))
    futures: list[Any] = []

    def run(points: list[Point]) -> Iterator[Any]:
        by_key = {f"cpsched-point-{p.key()}": p for p in points}
        futures.extend(
            client.submit(run_point, p.model_dump(mode="json"), key=key)
            for key, p in by_key.items()
        )
        for future in as_completed(futures):
            if future.status == "error":  # the cluster's failure, not the point's (run_point
                # records those): e.g. a worker that died, or one without cpsched
                error = future.exception()
                yield failed_record(by_key[future.key], f"dask: {type(error).__name__}: {error}")
            else:
                yield future.result()

    try:
        where = "LocalCluster" if cluster is not None else address
        yield f"dask {where}, {slots} worker thread{'s' if slots > 1 else ''}", slots, run
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    jobs: int | None = None,
    dask: str | None = None,
    force: bool = False,
    on_progress: Callable[[SweepProgress], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> SweepOutcome:
    """Run the points of `sweep` not yet recorded in `out`, appending each record as it ends.

    `jobs`: points at once on this machine (default: the cores over each point's CP-SAT
    workers), or the LocalCluster's workers with `dask="local"`. A KeyboardInterrupt stops
    the run, keeps every record written and returns with `interrupted`.
    """
    started = time.monotonic()
    jobs = jobs or default_jobs(sweep.spec.workers)
    previous = open_for_resume(sweep, out, force)
    done_keys = {r["key"] for r in previous}
    todo = [p for p in sweep.points if p.key() not in done_keys]
    records = list(previous)
    failed = sum(1 for r in previous if r.get("status") == "error")
    ran = 0
    path = out / RECORDS_FILE
    slots = jobs

    def report() -> None:
        if on_progress is None:
            return
        elapsed = time.monotonic() - started
        left = len(todo) - ran
        remaining = elapsed / ran * left if ran else None
        on_progress(
            SweepProgress(
                total=len(sweep.points),
                done=len(records),
                failed=failed,
                running=min(slots, left),
                skipped=len(previous),
                elapsed_s=elapsed,
                remaining_s=remaining,
            )
        )

    interrupted = False
    executor = "nothing to run"
    if todo:
        runner = _dask(dask, jobs) if dask is not None else _local(jobs)
        try:
            with runner as (executor, slots, run):
                report()
                for record in run(todo):
                    if record is not None:
                        append_record(path, record)
                        records.append(record)
                        ran += 1
                        failed += record.get("status") == "error"
                        if on_record is not None:
                            on_record(record)
                    report()
        except KeyboardInterrupt:
            interrupted = True
    report()
    records.sort(key=lambda r: int(r["index"]))
    return SweepOutcome(
        records=records,
        total=len(sweep.points),
        ran=ran,
        skipped=len(previous),
        interrupted=interrupted,
        wall_time_s=time.monotonic() - started,
        executor=executor,
    )
