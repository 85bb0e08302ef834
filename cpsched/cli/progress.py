"""What the solving commands share on the terminal: live progress, the result table, and the
explanation of an infeasible problem (used by `cpsched solve`, `solve-problem` and `show`)."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # imported where used: `cpsched --help` must not load the library
    from rich.status import Status

    from cpsched.cpsat.params import Progress
    from cpsched.model.problem import Problem
    from cpsched.model.result import SolveResult
    from cpsched.pipeline import PhaseEvent


def number(x: float | None, digits: int = 6) -> str:
    """A value for the table: '-' when missing, integers without a decimal point."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.{digits}g}" if x != int(x) else f"{int(x):,}"


def picojoules(value: float) -> str:
    """Energy for the table: whole pJ with thousands separators from 1,000 pJ on."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


class LiveLine:
    """The incumbent, bound, gap and elapsed time on one stderr line (a line per incumbent when
    stderr is not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.solutions = -1
        self.shown = False

    def __call__(self, p: Progress) -> None:
        gap = "-" if p.gap is None else f"{p.gap:.2%}"
        line = (
            f"[{p.stage}] incumbent {number(p.objective)}  bound {number(p.bound)}  "
            f"gap {gap}  {p.elapsed_s:.1f}s"
        )
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78))
            sys.stderr.flush()
            self.shown = True
        elif p.solutions != self.solutions:
            print(line, file=sys.stderr)
        self.solutions = p.solutions

    def close(self) -> None:
        """End the live line so later output starts on a fresh line."""
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


class PhaseLines:
    """The phases of a job on stderr: a spinner while build and heuristics run (on a terminal),
    a line as each ends, a line as the solve starts and one as it ends."""

    def __init__(
        self, console: Console, solve_note: str = "", live: LiveLine | None = None
    ) -> None:
        self.console = console
        self.solve_note = solve_note
        self.live = live
        self.status: Status | None = None

    def _line(self, phase: str, text: str) -> None:
        self.console.print(f"[bold cyan]{phase:<11}[/] {text}", highlight=False)

    def __call__(self, event: PhaseEvent) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None
        if event.phase == "solve" and not event.done:
            self._line("solve", f"CP-SAT {self.solve_note}".rstrip())
            return
        if not event.done:
            if self.console.is_terminal:
                self.status = self.console.status(f"{event.phase} ...")
                self.status.start()
            return
        if self.live is not None:
            self.live.close()
        self._line(event.phase, f"{event.detail}  [dim]({event.elapsed_s:.1f} s)[/]")


def result_table(problem: Problem, result: SolveResult) -> Table:
    """Status, objective, bound, gap, latency, energy (compute, transfer), peak memory against
    capacity per memory, core utilization, stages and solve time of a solve's result."""
    from cpsched.check.metrics import metrics

    table = Table(
        title=f"{problem.name}: {'CP-SAT' if result.method == 'cpsat' else result.method}, "
        f"objective {result.objective}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_header=False,
    )
    table.add_column("what", no_wrap=True)
    table.add_column("value")
    table.add_row("status", result.status)
    table.add_row("objective", number(result.objective_value))
    table.add_row("bound", number(result.bound))
    table.add_row("gap", "-" if result.gap is None else f"{result.gap:.2%}")
    if result.schedule is not None:
        m = metrics(problem, result.schedule)
        table.add_row("latency", f"{m.latency_cycles:,} cycles")
        table.add_row(
            "energy",
            f"{picojoules(m.energy_total_pj)} pJ (compute {picojoules(m.energy_compute_pj)}, "
            f"transfer {picojoules(m.energy_transfer_pj)})",
        )
        for mem, peak in m.peak_memory.items():
            share = peak.peak_bytes / peak.capacity_bytes if peak.capacity_bytes else 0.0
            table.add_row(
                f"peak {mem}",
                f"{peak.peak_bytes:,} / {peak.capacity_bytes:,} bytes ({share:.0%})",
            )
        for core, busy in m.core_busy_cycles.items():
            table.add_row(
                f"utilization {core}", f"{m.core_utilization[core]:.0%} ({busy:,} busy cycles)"
            )
    heuristic = {
        name: value
        for name, value in result.parameters.get("heuristic_latency_cycles", {}).items()
        if value is not None
    }
    if heuristic:
        best = min(heuristic, key=lambda name: heuristic[name])
        table.add_row("best heuristic", f"{best}: latency {number(heuristic[best])} cycles")
    for i, stage in enumerate(result.stages if len(result.stages) > 1 else []):
        table.add_row(
            f"stage {i + 1}", f"{stage.objective}: {number(stage.value)} ({stage.status})"
        )
    table.add_row("time", f"{result.wall_time_s:.2f} s")
    if result.num_variables is not None:
        table.add_row(
            "model", f"{result.num_variables:,} variables, {result.num_constraints:,} constraints"
        )
    if result.message and result.infeasibility:
        # the reasons follow the table, grouped (print_infeasibility); not all on one line here
        head = result.message.split(":")[0]
        n = len(result.infeasibility)
        table.add_row("note", f"{head} ({n} reason{'s' if n != 1 else ''}, below)")
    elif result.message:
        table.add_row("note", result.message)
    return table


def print_infeasibility(console: Console, problem: Problem, result: SolveResult) -> None:
    """Why the problem has no schedule, with what the user could change: one line per reason,
    except tiles that fit no memory, one line per layer and memory (cpsched.check.fit)."""
    if not result.infeasibility:
        return
    from cpsched.check.fit import reason_lines

    for line in reason_lines(problem, result.infeasibility):
        console.print(f"infeasible: {line}", markup=False, highlight=False)


def interrupted_note(result: SolveResult) -> str:
    """The line that says what an interrupted solve kept."""
    return "interrupted: " + (
        "search stopped; the best schedule so far is written (not proven optimal)"
        if result.schedule is not None
        else "stopped before any schedule was found"
    )


def exit_code(result: SolveResult, interrupted: bool) -> int:
    """A solving command's exit code: 130 / 143 when interrupted (the signal's), else 0 with a
    schedule, 3 when proven infeasible, 4 when none was found."""
    from cpsched.cli.common import EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_OK
    from cpsched.cli.signals import interrupted_exit_code

    if interrupted:
        return interrupted_exit_code()
    if result.schedule is not None:
        return EXIT_OK
    return EXIT_INFEASIBLE if result.status == "infeasible" else EXIT_NO_SOLUTION
