"""The `cpsched bench` runner: records, suite definitions and the files a suite run writes.

A suite is a list of cases (one instance each, all its methods) and a report function. The
runner runs the cases in order and writes `<suite>.json` (machine, versions, command, config and
one Record per (instance, method)) and `<suite>.md` (the same header and the suite's report
body), both atomically. Ctrl-C keeps what has finished and marks the files "interrupted".
"""

from __future__ import annotations

import json
import os
import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import BaseModel, ConfigDict

from cpsched.check.metrics import metrics
from cpsched.model.errors import input_error
from cpsched.model.io import write_text_atomic
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.model.schedule import Schedule

Scalar = str | int | float | bool | None
VERSIONED_PACKAGES = ("cpsched", "ortools", "numpy", "pydantic", "matplotlib", "highspy")


class BenchConfig(BaseModel):
    """How a suite is run: which suite, reduced or full, solver limits, workers and seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: str
    quick: bool = False
    time_limit_s: float | None = None  # None: the suite's own default per solve
    num_workers: int = 2
    seed: int = 0


class Record(BaseModel):
    """One (instance, method) outcome: status, objective, bound, costs, model size and params."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str
    method: str
    objective: str | None
    status: str
    objective_value: float | None = None
    bound: float | None = None
    gap: float | None = None
    latency_cycles: int | None = None
    energy_total_pj: float | None = None
    energy_compute_pj: float | None = None
    energy_transfer_pj: float | None = None
    peak_memory_bytes: dict[str, int] = {}
    peak_bytes_by_kind: dict[str, dict[str, int]] = {}
    wall_time_s: float = 0.0
    num_tasks: int | None = None
    num_variables: int | None = None
    num_constraints: int | None = None
    params: dict[str, Scalar] = {}
    extra: dict[str, Scalar] = {}


@dataclass(frozen=True)
class Case:
    """One instance of a suite: `run` does all of its methods and returns their records."""

    name: str
    run: Callable[[], list[Record]]


@dataclass(frozen=True)
class SuiteDef:
    """A suite: its cases for a config and the markdown body computed from their records."""

    name: str
    title: str
    description: str
    cases: Callable[[BenchConfig], list[Case]]
    report: Callable[[list[Record], BenchConfig, Path], str]


def _schedule_costs(problem: Problem, schedule: Schedule) -> dict[str, Any]:
    m = metrics(problem, schedule)
    return {
        "latency_cycles": m.latency_cycles,
        "energy_total_pj": m.energy_total_pj,
        "energy_compute_pj": m.energy_compute_pj,
        "energy_transfer_pj": m.energy_transfer_pj,
        "peak_memory_bytes": {str(mem): pk.peak_bytes for mem, pk in m.peak_memory.items()},
        "peak_bytes_by_kind": {
            str(mem): {str(kind): b for kind, b in pk.peak_by_kind.items()}
            for mem, pk in m.peak_memory.items()
        },
    }


def record_from_result(
    instance: str,
    problem: Problem,
    result: SolveResult,
    params: Mapping[str, Scalar] | None = None,
    extra: Mapping[str, Scalar] | None = None,
) -> Record:
    """A Record of a solver result; latency, energy and peaks measured on its schedule if any.

    A CP-SAT solve that kept its hint (the pipeline's fallback names the hint's heuristic as the
    result's method) is still CP-SAT's record: the method column says which solver ran."""
    costs = _schedule_costs(problem, result.schedule) if result.schedule is not None else {}
    kept = result.hint is not None and result.hint.kept
    return Record(
        instance=instance,
        method="cpsat" if kept else result.method,
        objective=result.objective,
        status=result.status,
        objective_value=result.objective_value,
        bound=result.bound,
        gap=result.gap,
        wall_time_s=result.wall_time_s,
        num_tasks=len(problem.tasks),
        num_variables=result.num_variables,
        num_constraints=result.num_constraints,
        params=dict(params or {}),
        extra=dict(extra or {}),
        **costs,
    )


def record_from_schedule(
    instance: str,
    problem: Problem,
    method: str,
    schedule: Schedule,
    wall_time_s: float,
    params: Mapping[str, Scalar] | None = None,
    extra: Mapping[str, Scalar] | None = None,
) -> Record:
    """A Record of a schedule made without a solver (a heuristic): status "heuristic"."""
    return Record(
        instance=instance,
        method=method,
        objective=None,
        status="heuristic",
        wall_time_s=wall_time_s,
        num_tasks=len(problem.tasks),
        params=dict(params or {}),
        extra=dict(extra or {}),
        **_schedule_costs(problem, schedule),
    )


# --- machine and versions ---


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return round(kib / (1 << 20), 1)
    return None


def machine_info() -> dict[str, Scalar]:
    """The machine a suite ran on: usable cores, CPU model, memory (GiB) and platform."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return {
        "cores": cores,
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    """Versions of python and of the packages a benchmark's numbers depend on."""
    found = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


# --- Ctrl-C ---


class _Interrupt:
    """SIGINT while a suite runs: remember it, and keep interrupting until the case gives up.

    CP-SAT solves catch Ctrl-C and return their best schedule, so one Ctrl-C would only end the
    running solve; repeating the interrupt ends every later solve of the case at once too.
    """

    def __init__(self) -> None:
        self.requested = False
        self._stop = threading.Event()
        self._repeater: threading.Thread | None = None

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            return  # the cases are over: the files are being written
        if not self.requested:
            self.requested = True
            self._repeater = threading.Thread(target=self._repeat, daemon=True)
            self._repeater.start()
        raise KeyboardInterrupt

    def _repeat(self) -> None:
        import _thread

        while not self._stop.wait(0.2):
            _thread.interrupt_main()

    def stop(self) -> None:
        self._stop.set()
        if self._repeater is not None:
            self._repeater.join()


def _quiet(signum: int, frame: FrameType | None) -> None:
    """Ignore interrupts still pending while the files are written."""


@contextmanager
def _catch_interrupts() -> Iterator[_Interrupt]:
    state = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.signal(signal.SIGINT, state.handler)
    try:
        yield state
    finally:
        state.stop()
        signal.signal(signal.SIGINT, _quiet)
        time.sleep(0.01)  # let a pending interrupt reach the quiet handler
        signal.signal(signal.SIGINT, previous)


# --- running a suite ---


def suite_def(name: str) -> SuiteDef:
    """The suite called `name`, or an InputError on `--suite` listing the suites there are."""
    from cpsched.bench.suites import SUITES

    if name not in SUITES:
        raise input_error(
            "--suite", "", f"unknown suite {name!r}; the suites are: {', '.join(sorted(SUITES))}"
        )
    return SUITES[name]


def _header(suite: SuiteDef, document: Mapping[str, Any]) -> str:
    machine = document["machine"]
    memory = machine["memory_gib"]
    memory_text = f", {memory} GiB memory" if memory is not None else ""
    versions_text = ", ".join(f"{k} {v}" for k, v in document["versions"].items())
    lines = [
        f"# {suite.title}",
        "",
        suite.description.strip(),
        "",
        f"- Command: `{document['command']}`",
        f"- Date: {document['date']}",
        f"- Machine: {machine['cores']} cores, {machine['cpu_model']}{memory_text}"
        f" ({machine['platform']})",
        f"- Versions: {versions_text}",
    ]
    if document["interrupted"]:
        lines.append("- **Interrupted**: only the instances that finished are reported.")
    return "\n".join(lines) + "\n"


def suite_paths(suite: str, out_dir: Path) -> tuple[Path, Path]:
    """Where a suite's .json and .md go in `out_dir`."""
    return out_dir / f"{suite}.json", out_dir / f"{suite}.md"


def run_suite(
    config: BenchConfig,
    out_dir: Path,
    command: str,
    on_case: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Run every case of the suite in order, write `<suite>.json` and `<suite>.md` into `out_dir`.

    Returns the .json path. On Ctrl-C the records of the cases that finished are written
    (marked "interrupted") and KeyboardInterrupt is raised again afterwards.
    """
    suite = suite_def(config.suite)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cases = suite.cases(config)
    records: list[Record] = []
    with _catch_interrupts() as interrupt:
        try:
            for i, case in enumerate(cases, start=1):
                if on_case is not None:
                    on_case(i, len(cases), case.name)
                found = case.run()
                if interrupt.requested:
                    break  # the case ended early: its solves were cut short
                records.extend(found)
        except KeyboardInterrupt:
            interrupt.requested = True
        try:
            interrupt.stop()
        except KeyboardInterrupt:  # one the repeater sent before it stopped
            interrupt.stop()
    document: dict[str, Any] = {
        "suite": suite.name,
        "title": suite.title,
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "config": config.model_dump(mode="json"),
        "interrupted": interrupt.requested,
        "records": [r.model_dump(mode="json") for r in records],
    }
    json_path, md_path = suite_paths(suite.name, out_dir)
    write_text_atomic(json_path, json.dumps(document, indent=2) + "\n")
    try:
        body = suite.report(records, config, out_dir)
    except Exception as exc:
        if not interrupt.requested:
            raise
        # a report may need instances that did not finish; the records are in the .json
        body = f"No report for the unfinished run ({type(exc).__name__}: {exc})."
    write_text_atomic(md_path, _header(suite, document) + "\n" + body.strip() + "\n")
    if interrupt.requested:
        raise KeyboardInterrupt
    return json_path


def render_suite(json_path: Path) -> Path:
    """Write `<suite>.md` (and the suite's figures) again from a `<suite>.json`, without running
    anything: the report of recorded results, e.g. after the report code changed."""
    json_path = Path(json_path)
    document, records = load_records(json_path)
    suite = suite_def(document["suite"])
    config = BenchConfig.model_validate(document["config"])
    body = suite.report(records, config, json_path.parent)
    md_path = json_path.with_suffix(".md")
    write_text_atomic(md_path, _header(suite, document) + "\n" + body.strip() + "\n")
    return md_path


def load_records(path: Path) -> tuple[dict[str, Any], list[Record]]:
    """Read a suite's .json back: the document and its records as Record values."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    return document, [Record.model_validate(r) for r in document["records"]]
