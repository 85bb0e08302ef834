"""`cpsched validate PROBLEM SCHEDULE`: check a schedule against the validity rules, show metrics.

Exit code 0 when the schedule is valid, 1 when it breaks a rule, 2 when a file cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cpsched.cli.common import EXIT_INVALID, EXIT_OK, app, stdout, user_errors
from cpsched.cli.options import AsJson

if TYPE_CHECKING:
    from cpsched.check.metrics import Metrics
    from cpsched.check.validate import Violation


def _metrics_table(m: Metrics) -> Table:
    table = Table(title="metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value")
    table.add_row("latency", f"{m.latency_cycles} cycles")
    table.add_row("energy (compute)", f"{m.energy_compute_pj:.6g} pJ")
    table.add_row("energy (transfers)", f"{m.energy_transfer_pj:.6g} pJ")
    table.add_row("energy (total)", f"{m.energy_total_pj:.6g} pJ")
    for mem, peak in m.peak_memory.items():
        kinds = ", ".join(f"{k} {v}" for k, v in peak.by_kind.items() if v)
        table.add_row(
            f"peak memory {mem}",
            f"{peak.peak_bytes} / {peak.capacity_bytes} bytes at cycle {peak.at_cycle}"
            + (f" ({kinds})" if kinds else ""),
        )
    table.add_row("dram in / out", f"{m.dram_in_bytes} / {m.dram_out_bytes} bytes")
    if m.spilled_bytes or m.reloaded_bytes:
        table.add_row("spilled / reloaded", f"{m.spilled_bytes} / {m.reloaded_bytes} bytes")
    for link, traffic in m.link_traffic_bytes.items():
        table.add_row(
            f"link {link}",
            f"{traffic} bytes, busy {m.link_busy_cycles[link]} cycles "
            f"({m.link_utilization[link]:.1%})",
        )
    for core, busy in m.core_busy_cycles.items():
        table.add_row(f"core {core}", f"busy {busy} cycles ({m.core_utilization[core]:.1%})")
    return table


def _violations_table(violations: list[Violation]) -> Table:
    table = Table(title=f"{len(violations)} violations", show_header=True)
    table.add_column("rule", justify="right")
    table.add_column("name")
    table.add_column("message", overflow="fold")
    for v in violations:
        table.add_row(str(v.rule), v.rule_name, v.message, style=None)
    return table


@app.command("validate")
def validate_command(
    problem: Annotated[
        Path, typer.Argument(help="Problem file (cpsched-problem/2 or /1, JSON or YAML).")
    ],
    schedule: Annotated[
        Path, typer.Argument(help="Schedule file (cpsched-schedule/2 or /1, JSON or YAML).")
    ],
    as_json: AsJson = False,
) -> None:
    """Check that SCHEDULE is a valid schedule of PROBLEM (docs/validity.md); show its metrics."""
    from cpsched.check.metrics import metrics
    from cpsched.check.validate import validate
    from cpsched.model.io import load_problem, load_schedule

    with user_errors():
        prob = load_problem(problem)
        sched = load_schedule(schedule)
    violations = validate(prob, sched)
    result = metrics(prob, sched)
    if as_json:
        payload = {
            "valid": not violations,
            "metrics": result.model_dump(mode="json"),
            "violations": [v.model_dump(mode="json") for v in violations],
        }
        print(json.dumps(payload, indent=2))
    else:
        out = stdout()
        out.print(_metrics_table(result))
        if violations:
            out.print(_violations_table(violations))
            out.print(f"[bold red]invalid[/]: {len(violations)} violations of docs/validity.md")
        else:
            out.print("[bold green]valid[/]: the schedule meets every rule of docs/validity.md")
    raise typer.Exit(EXIT_INVALID if violations else EXIT_OK)
