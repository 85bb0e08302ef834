"""Suite `format2`: what format 2's freedoms (multicast, bandwidth-shared links, spill and
reload) change for the heuristics, on every bundled workload and hardware at the workload's
default size.

Each pair is built once, as `cpsched solve` builds it (:func:`cpsched.pipeline.build_job`: the
default tiling, or the coarsest that fits when a tile of it fits no memory); a pair where no
tiling fits is recorded as `does-not-fit` with the reason. Every heuristic then runs twice on
that problem:

- format 2: the problem as built, with every freedom on (`features=ALL`);
- format 1: the same problem with every link `sharing: exclusive, multicast: false` (how a
  `cpsched-problem/1` file is read) and the freedoms off (`features=FORMAT_1`).

Each run gives one record per heuristic and one for the best of them (lowest latency, method
`best`): whether it found a schedule, its latency, peak memory, bytes spilled and reloaded, DRAM
traffic and wall time. Every schedule is validated (by the heuristics, and again here). No
CP-SAT: the question is what the heuristics do with the freedoms.
"""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cpsched.bench.models import DOES_NOT_FIT
from cpsched.bench.runner import BenchConfig, Case, Record, Scalar, SuiteDef, record_from_schedule
from cpsched.check.metrics import metrics
from cpsched.check.validate import validate
from cpsched.frontend.catalog import bundled_hardware, bundled_workloads, workload_path
from cpsched.frontend.workload.load import read_workload_header
from cpsched.heuristics import ALL, FORMAT_1, HEURISTICS, Features, best_heuristic, run_heuristics
from cpsched.model.errors import InputError
from cpsched.model.problem import Problem
from cpsched.model.result import SolveResult
from cpsched.pipeline import BuildOptions, auto_tiling_record, build_job, check_tiles_fit

FORMAT_1_LABEL = "format-1"
FORMAT_2_LABEL = "format-2"
SEMANTICS: dict[str, Features] = {FORMAT_1_LABEL: FORMAT_1, FORMAT_2_LABEL: ALL}
BEST = "best"  # the method of the record of the best heuristic schedule (lowest latency)
METHODS: tuple[str, ...] = (*HEURISTICS, BEST)
# A heuristic whose schedule the validator rejected (run_heuristics turns it into a warning and
# a result without a schedule): a heuristic bug, reported as such, never as "found none".
INVALID = "invalid-schedule"
# The instances the summary calls out: BERT-base at its default size (M = 128) on these.
CALLED_OUT: tuple[str, ...] = tuple(
    f"bert_base@{h}" for h in ("quad_bus", "hetero_quad", "mesh4x4", "gap8")
)
QUICK_PAIRS: tuple[tuple[str, str], ...] = (
    ("attention_head", "quad_bus"),  # bandwidth-shared, multicast bus
    ("mha", "mesh4x4"),  # default tiling does not fit: the tiling is chosen to fit
    ("bert_base", "quad_bus"),  # one of the called-out instances
)


class InvalidScheduleError(RuntimeError):
    """A heuristic schedule failed the validator here: a bug, never a benchmark result."""


@dataclass(frozen=True)
class Built:
    """A pair's problem as `cpsched solve` builds it, or the reason no tiling fits."""

    workload: str
    hardware: str
    problem: Problem | None
    params: dict[str, Scalar]  # workload, hardware, tiling, why that tiling, workload params
    reason: str | None = None  # why nothing fits (None: it does)


def workload_defaults(workload: str) -> dict[str, int]:
    """The default values of a bundled workload's parameters (e.g. M=128 for bert_base)."""
    header = read_workload_header(workload_path(workload))
    return {k: p.default for k, p in header.params.items()}


def build(workload: str, hardware: str) -> Built:
    """The pair at the workload's default size, built as `cpsched solve --workload W --hardware
    H` builds it: the pipeline's default tiling, or (when a tile of it fits no memory) the
    coarsest tiling that fits (cpsched.frontend.autotile). The records' params say which."""
    asked = BuildOptions(workload=workload, hardware=hardware, auto_if_too_big=True)
    params: dict[str, Scalar] = {"workload": workload, "hardware": hardware}
    params.update({k: v for k, v in workload_defaults(workload).items() if k not in params})
    try:
        built = build_job(asked)
        check_tiles_fit(built.problem, built.workload)
    except InputError as exc:  # no tiling fits: cores cannot hold one tile of some layer
        params.update(tiling="none fits", tiling_why="no tiling fits")
        return Built(workload, hardware, None, params, reason=str(exc).splitlines()[0])
    opts = built.options
    if built.auto is None:
        tiling = f"--tiles {opts.tiles} --head-tiles {opts.head_tiles}"
        tiling += "".join(f" --split {s}" for s in opts.split)
        why = "default"
    else:
        record = auto_tiling_record(asked, built.auto)
        tiling, why = str(record["options"]), f"auto: {record['why']}"
    params.update(tiling=tiling, tiling_why=why)
    return Built(workload, hardware, built.problem, params)


def format_1(problem: Problem) -> Problem:
    """`problem` with format 1's links: every link exclusive, none multicast."""
    links = [
        lk.model_copy(update={"sharing": "exclusive", "multicast": False}) for lk in problem.links
    ]
    return problem.model_copy(update={"links": links})


def label(workload: str, hardware: str, semantics: str) -> str:
    """The instance name of one pair's records under `semantics` (format-1 or format-2)."""
    return f"{workload}@{hardware} {semantics}"


def _costs(problem: Problem, result: SolveResult) -> dict[str, Scalar]:
    """Traffic of a heuristic schedule: spills, reloads, DRAM bytes, multicasts."""
    assert result.schedule is not None
    m = metrics(problem, result.schedule)
    return {
        "spilled_bytes": m.spilled_bytes,
        "reloaded_bytes": m.reloaded_bytes,
        "dram_in_bytes": m.dram_in_bytes,
        "dram_out_bytes": m.dram_out_bytes,
        "dram_bytes": m.dram_in_bytes + m.dram_out_bytes,
        "transfers": len(result.schedule.transfers),
        "multicast_transfers": sum(1 for t in result.schedule.transfers if t.multicast),
        "peak_bytes": m.largest_peak_bytes(),
    }


def _record(
    instance: str,
    problem: Problem,
    method: str,
    result: SolveResult,
    params: dict[str, Scalar],
    extra: dict[str, Scalar],
) -> Record:
    if result.schedule is None:
        invalid = result.status == "unknown" and (result.message or "").startswith("internal error")
        return Record(
            instance=instance,
            method=method,
            objective=None,
            status=INVALID if invalid else result.status,
            wall_time_s=result.wall_time_s,
            num_tasks=len(problem.tasks),
            params=params,
            extra={**extra, "message": result.message},
        )
    if bad := validate(problem, result.schedule):
        raise InvalidScheduleError(f"{method} on {instance}: {bad[0].message}")
    return record_from_schedule(
        instance,
        problem,
        method,
        result.schedule,
        result.wall_time_s,
        params=params,
        extra={**extra, **_costs(problem, result)},
    )


def run_semantics(
    instance: str, problem: Problem, features: Features, params: dict[str, Scalar]
) -> list[Record]:
    """Every heuristic on `problem` with `features`: a record each, and one for the best (its
    wall time: the whole run of every heuristic, with their shared analysis)."""
    params = {
        **params,
        "multicast": features.multicast,
        "shared_bandwidth": features.shared_bandwidth,
        "spill": features.spill,
    }
    started = time.perf_counter()
    with warnings.catch_warnings():  # an invalid schedule is recorded as INVALID instead
        warnings.simplefilter("ignore", RuntimeWarning)
        results = run_heuristics(problem, features=features)
    wall = time.perf_counter() - started
    records = [_record(instance, problem, name, r, params, {}) for name, r in results.items()]
    best = best_heuristic(results)
    if best is None:
        none = SolveResult(
            method=BEST,
            status="unknown",
            objective="latency",
            wall_time_s=wall,
            message="no heuristic found a schedule",
        )
        records.append(_record(instance, problem, BEST, none, params, {}))
    else:
        mine = results[best].model_copy(update={"wall_time_s": wall})
        records.append(_record(instance, problem, BEST, mine, params, {"heuristic": best}))
    return records


def run_pair(workload: str, hardware: str) -> list[Record]:
    """Every heuristic on the pair with format-1 semantics, then with format 2's."""
    built = build(workload, hardware)
    if built.problem is None:
        return [
            Record(
                instance=label(workload, hardware, semantics),
                method=method,
                objective=None,
                status=DOES_NOT_FIT,
                params=built.params,
                extra={"reason": built.reason},
            )
            for semantics in SEMANTICS
            for method in METHODS
        ]
    problems = {FORMAT_1_LABEL: format_1(built.problem), FORMAT_2_LABEL: built.problem}
    records: list[Record] = []
    for semantics, features in SEMANTICS.items():
        params = {**built.params, "semantics": semantics}
        instance = label(workload, hardware, semantics)
        records += run_semantics(instance, problems[semantics], features, params)
    return records


def pairs(quick: bool) -> list[tuple[str, str]]:
    """Every bundled workload on every bundled hardware; `quick`: QUICK_PAIRS."""
    if quick:
        return list(QUICK_PAIRS)
    return [(w, h) for w in bundled_workloads() for h in bundled_hardware()]


def cases(config: BenchConfig) -> list[Case]:
    """One case per (workload, hardware) pair."""
    return [Case(f"{w}@{h}", partial(run_pair, w, h)) for w, h in pairs(config.quick)]


# --- report ---


@dataclass(frozen=True)
class Side:
    """One method's outcome on one pair under one semantics."""

    found: bool
    latency: int | None
    peak: int | None
    spilled: int | None
    reloaded: int | None
    dram: int | None
    multicasts: int | None
    wall_s: float
    status: str
    note: str  # the best's heuristic, or why nothing was found


def _int(value: Scalar) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


MISSING = Side(False, None, None, None, None, None, None, 0.0, "missing", "no record")


def side(record: Record | None) -> Side:
    """The outcome a record holds (MISSING: no record)."""
    if record is None:
        return MISSING
    found = record.latency_cycles is not None
    note = record.extra.get("heuristic") if found else record.extra.get("message")
    return Side(
        found=found,
        latency=record.latency_cycles,
        peak=_int(record.extra.get("peak_bytes")),
        spilled=_int(record.extra.get("spilled_bytes")),
        reloaded=_int(record.extra.get("reloaded_bytes")),
        dram=_int(record.extra.get("dram_bytes")),
        multicasts=_int(record.extra.get("multicast_transfers")),
        wall_s=record.wall_time_s,
        status=record.status,
        note="" if note is None else str(note),
    )


@dataclass(frozen=True)
class PairOutcome:
    """One pair: its build and, per method, its format-1 and format-2 outcomes."""

    name: str  # workload@hardware
    tasks: int | None
    tiling: str
    tiling_why: str
    reason: str | None  # does not fit
    sides: dict[tuple[str, str], Side]  # (method, semantics) -> outcome


def outcomes(records: list[Record]) -> list[PairOutcome]:
    """Per pair, in record order."""
    names = list(dict.fromkeys(r.instance.rsplit(" ", 1)[0] for r in records))
    out = []
    for name in names:
        mine = [r for r in records if r.instance.rsplit(" ", 1)[0] == name]
        by_key = {(r.method, r.instance.rsplit(" ", 1)[1]): r for r in mine}
        reason = next((str(r.extra.get("reason")) for r in mine if r.status == DOES_NOT_FIT), None)
        out.append(
            PairOutcome(
                name=name,
                tasks=mine[0].num_tasks,
                tiling=str(mine[0].params.get("tiling", "")),
                tiling_why=str(mine[0].params.get("tiling_why", "")),
                reason=reason,
                sides={(m, s): side(by_key.get((m, s))) for m in METHODS for s in SEMANTICS},
            )
        )
    return out


def change(before: int | None, after: int | None) -> float | None:
    """after / before - 1, or None when either is missing (or before is 0)."""
    if before is None or after is None or before == 0:
        return None
    return after / before - 1


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f}%"


def _cycles(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _bytes(value: int | None) -> str:
    if value is None:
        return "–"
    return "0" if value == 0 else f"{value / 1024:,.1f} KiB"


def _found(p: PairOutcome, semantics: str) -> str:
    n = sum(1 for m in HEURISTICS if p.sides[m, semantics].found)
    return f"no (0/{len(HEURISTICS)})" if n == 0 else f"yes ({n}/{len(HEURISTICS)})"


def _median(values: list[float]) -> str:
    return "–" if not values else _pct(statistics.median(values))


def summary_table(pairs: list[PairOutcome]) -> list[str]:
    """The workload x hardware table of the best heuristic schedule, format 1 against 2."""
    lines = [
        "| workload @ hardware | tasks | F1 found | F1 latency | F1 peak | F2 found | F2 latency "
        "| F2 peak | F2 spilled | Δ latency | Δ peak |",
        "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for p in pairs:
        if p.reason is not None:
            lines.append(f"| {p.name} | – | does not fit | | | | | | | | {p.reason} |")
            continue
        f1, f2 = p.sides[BEST, FORMAT_1_LABEL], p.sides[BEST, FORMAT_2_LABEL]
        cells = [p.name, str(p.tasks)]
        for sem, s in ((FORMAT_1_LABEL, f1), (FORMAT_2_LABEL, f2)):
            cells += [_found(p, sem), _cycles(s.latency), _bytes(s.peak)]
        cells.append(_bytes(f2.spilled))
        cells.append(_pct(change(f1.latency, f2.latency)))
        cells.append(_pct(change(f1.peak, f2.peak)))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def detail_table(p: PairOutcome) -> list[str]:
    """Every method on one pair, both semantics: what it found and what it cost."""
    lines = [
        "| heuristic | semantics | latency | peak | spilled | reloaded | DRAM traffic "
        "| multicasts | wall s | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in METHODS:
        for sem in SEMANTICS:
            s = p.sides[m, sem]
            note = s.note.replace("|", "\\|")
            if not s.found:
                lines.append(
                    f"| {m} | {sem} | none ({s.status}) | | | | | | {s.wall_s:.2f} | {note} |"
                )
                continue
            lines.append(
                f"| {m} | {sem} | {_cycles(s.latency)} | {_bytes(s.peak)} | {_bytes(s.spilled)} "
                f"| {_bytes(s.reloaded)} | {_bytes(s.dram)} | {s.multicasts or 0} "
                f"| {s.wall_s:.2f} | {note} |"
            )
    return lines


def heuristic_table(pairs: list[PairOutcome]) -> list[str]:
    """Per heuristic over the pairs that fit: found under each semantics, latency and peak
    changes where both found one, format 2's spills and the wall times."""
    lines = [
        "| heuristic | F1 found | F2 found | F2 faster / slower / equal | Δ latency median "
        "| Δ latency min / max | Δ peak median | F2 spilling | F1 wall s | F2 wall s |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|",
    ]
    fits = [p for p in pairs if p.reason is None]
    for m in METHODS:
        f1 = [p.sides[m, FORMAT_1_LABEL] for p in fits]
        f2 = [p.sides[m, FORMAT_2_LABEL] for p in fits]
        both = [(a, b) for a, b in zip(f1, f2, strict=True) if a.found and b.found]
        lat = [c for a, b in both if (c := change(a.latency, b.latency)) is not None]
        peak = [c for a, b in both if (c := change(a.peak, b.peak)) is not None]
        faster = sum(1 for c in lat if c < 0)
        slower = sum(1 for c in lat if c > 0)
        spilling = sum(1 for s in f2 if s.found and (s.spilled or s.reloaded))
        span = "–" if not lat else f"{_pct(min(lat))} / {_pct(max(lat))}"
        wall1 = sum(s.wall_s for s in f1)
        wall2 = sum(s.wall_s for s in f2)
        found1 = sum(1 for s in f1 if s.found)
        found2 = sum(1 for s in f2 if s.found)
        lines.append(
            f"| {m} | {found1} | {found2} "
            f"| {faster} / {slower} / {len(lat) - faster - slower} | {_median(lat)} | {span} "
            f"| {_median(peak)} | {spilling} | {wall1:.2f} | {wall2:.2f} |"
        )
    return lines


def findings(pairs: list[PairOutcome]) -> list[str]:
    """Counts computed from the records: what format 2 won, lost, and every heuristic bug."""
    fits = [p for p in pairs if p.reason is None]
    misfits = [p for p in pairs if p.reason is not None]
    out = [
        f"- {len(pairs)} workload × hardware pairs; {len(fits)} fit, {len(misfits)} fit at no "
        f"tiling ({', '.join(p.name for p in misfits) or 'none'}); "
        f"{sum(1 for p in fits if p.tiling_why != 'default')} of those that fit use a tiling "
        "chosen to fit (the default one does not)."
    ]
    found = {sem: [p.name for p in fits if p.sides[BEST, sem].found] for sem in SEMANTICS}
    gained = [n for n in found[FORMAT_2_LABEL] if n not in found[FORMAT_1_LABEL]]
    lost = [n for n in found[FORMAT_1_LABEL] if n not in found[FORMAT_2_LABEL]]
    out.append(
        f"- A heuristic schedule exists for {len(found[FORMAT_1_LABEL])} pairs with format-1 "
        f"semantics and for {len(found[FORMAT_2_LABEL])} with format 2's; found only with "
        f"format 2: {', '.join(gained) or 'none'}; only with format 1: {', '.join(lost) or 'none'}."
    )
    best = [
        (p.name, c)
        for p in fits
        if (
            c := change(
                p.sides[BEST, FORMAT_1_LABEL].latency, p.sides[BEST, FORMAT_2_LABEL].latency
            )
        )
        is not None
    ]
    if best:
        changes = [c for _, c in best]
        out.append(
            f"- Best heuristic latency, format 2 against format 1 on the {len(best)} pairs where "
            f"both found one: faster on {sum(1 for c in changes if c < 0)}, slower on "
            f"{sum(1 for c in changes if c > 0)}, equal on {sum(1 for c in changes if c == 0)}; "
            f"median {_pct(statistics.median(changes))}, from {_pct(min(changes))} to "
            f"{_pct(max(changes))}."
        )
        worse = [f"{n} ({_pct(c)})" for n, c in best if c > 0]
        if worse:
            out.append(
                "- Format 2 slower (more freedom, greedy choices): " + ", ".join(worse) + "."
            )
    spills = [p.name for p in fits if (s := p.sides[BEST, FORMAT_2_LABEL]).spilled or s.reloaded]
    multicasts = [p.name for p in fits if (p.sides[BEST, FORMAT_2_LABEL].multicasts or 0) > 0]
    out.append(
        f"- The best format-2 schedule spills or reloads on {len(spills)} pairs"
        + (f" ({', '.join(spills)})" if spills else "")
        + f" and multicasts on {len(multicasts)}"
        + (f" ({', '.join(multicasts)})" if multicasts else "")
        + "."
    )
    called = sorted(
        (p for p in pairs if p.name in CALLED_OUT), key=lambda p: CALLED_OUT.index(p.name)
    )
    if called:
        cells = []
        for p in called:
            if p.reason is not None:
                cells.append(f"{p.name} does not fit")
                continue
            f1, f2 = p.sides[BEST, FORMAT_1_LABEL], p.sides[BEST, FORMAT_2_LABEL]
            cells.append(
                f"{p.name} ({p.tasks} tasks) format 1 {_cycles(f1.latency) if f1.found else 'none'}"
                f", format 2 {_cycles(f2.latency) if f2.found else 'none'}"
            )
        out.append("- BERT-base M = 128, best heuristic latency: " + "; ".join(cells) + ".")
    bugs = [
        f"{p.name} {m} {sem}"
        for p in fits
        for m in HEURISTICS
        for sem in SEMANTICS
        if p.sides[m, sem].status == INVALID
    ]
    out.append(
        "- **Invalid heuristic schedules (heuristic bugs)**: " + ", ".join(bugs) + "."
        if bugs
        else "- Every heuristic schedule passed the validator."
    )
    return out


def report(records: list[Record], config: BenchConfig, out_dir: Path) -> str:
    """The summary table, the called-out BERT-base instances, per-heuristic changes, findings."""
    pairs = outcomes(records)
    lines = [
        "Best heuristic schedule (lowest latency of the four) per pair, format-1 semantics (F1: "
        "links exclusive, no multicast, no spill/reload) against format 2's (F2: the hardware's "
        "links, every freedom on). Found: a schedule (how many heuristics found one). Peak: the "
        "largest peak over bounded memories. Spilled: bytes moved by spills. Δ: F2 / F1 - 1, "
        "where both found one (negative: format 2 better).",
        "",
        *summary_table(pairs),
        "",
        "Tilings (options of `cpsched solve`; `auto` where the default tiling does not fit):",
        "",
        *[f"- {p.name}: `{p.tiling}` ({p.tiling_why})" for p in pairs if p.reason is None],
    ]
    called = sorted(
        (p for p in pairs if p.name in CALLED_OUT), key=lambda p: CALLED_OUT.index(p.name)
    )
    if called:
        lines += [
            "",
            "## BERT-base, M = 128 (its default sequence length)",
            "",
            "The instances of the grid above asked for by name: every heuristic, both semantics "
            "(DRAM traffic: bytes into and out of DRAM; multicasts: transfers to several "
            "memories; wall s of `best`: the whole run of the four).",
            "",
        ]
        for p in called:
            lines += [f"### {p.name}", ""]
            if p.reason is not None:
                lines += [f"Does not fit: {p.reason}", ""]
                continue
            lines += [f"{p.tasks} tasks, tiling `{p.tiling}` ({p.tiling_why}).", ""]
            lines += [*detail_table(p), ""]
    lines += ["", "## Per heuristic (pairs that fit)", "", *heuristic_table(pairs)]
    lines += ["", "## Findings", "", *findings(pairs)]
    return "\n".join(lines) + "\n"


SUITE = SuiteDef(
    name="format2",
    title="What format 2 changes for the heuristics: format-1 against format-2 semantics",
    description=(
        "Every bundled workload at its default size on every bundled hardware, built as "
        "`cpsched solve` builds it (the default tiling, or the coarsest that fits), scheduled by "
        "every heuristic twice: with format-1 semantics (every link exclusive, no multicast, "
        "no spill or reload: `Features` FORMAT_1) and with format 2's (the hardware's "
        "bandwidth-shared and multicast links, spill and reload: `Features` ALL). Per heuristic "
        "and for the best: whether it found a schedule, latency, peak memory, bytes spilled and "
        "reloaded, DRAM traffic and wall time; every schedule validated. Heuristics only, no "
        "CP-SAT."
    ),
    cases=cases,
    report=report,
)
