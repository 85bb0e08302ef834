"""The options the commands share, each defined once as a typer `Annotated` type.

A command declares `time_limit: TimeLimit = 10.0` and gets the same flag, range check and help
as every other command; ranges are checked by typer before any work starts (exit 2). Defaults
stay with the commands, since they differ (`solve` gives CP-SAT 30 s, `solve-problem` 10 s).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from cpsched.cpsat.params import SolverParams

# CP-SAT's random seed is a 32-bit signed integer (sat_parameters.proto: random_seed)
SEED_MAX = 2**31 - 1

OBJECTIVE_HELP = (
    "latency, energy, memory, memory-sum, activation-memory, activation-memory-sum; "
    "'a,b' lexicographic, 'a+0.5*b' weighted."
)

# --- solver options ---

Objective = Annotated[str, typer.Option("--objective", help=OBJECTIVE_HELP)]
TimeLimit = Annotated[
    float, typer.Option("--time-limit", min=0.01, help="Seconds for the CP-SAT solve.")
]
PointTimeLimit = Annotated[
    float, typer.Option("--time-limit", min=0.01, help="Seconds for each point's CP-SAT solve.")
]
SuiteTimeLimit = Annotated[
    float | None,
    typer.Option("--time-limit", min=0.01, help="Seconds per solve (default: the suite's own)."),
]
# CP-SAT's workers by default: every core of this machine (the benchmarks keep 2, to compare)
MACHINE_CORES = max(1, os.cpu_count() or 1)
Workers = Annotated[
    int,
    typer.Option("--workers", min=1, help="CP-SAT workers (default: this machine's cores)."),
]
BenchWorkers = Annotated[int, typer.Option("--workers", min=1, help="CP-SAT workers.")]
Seed = Annotated[
    int, typer.Option("--seed", min=0, max=SEED_MAX, help="CP-SAT random seed (32-bit).")
]
Gap = Annotated[
    float, typer.Option("--gap", min=0.0, help="Stop at this relative gap (0: prove optimal).")
]
Log = Annotated[bool, typer.Option("--log/--no-log", help="CP-SAT search log.")]
HeuristicHint = Annotated[
    bool,
    typer.Option("--heuristic-hint/--no-heuristic-hint", help="Start from a heuristic schedule."),
]

# --- outputs ---

Force = Annotated[
    bool,
    typer.Option("--force", help="Replace output files that already exist (never done without)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON (no tables).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress; only the final summary.")]

# --- building a problem (build, solve) ---

Workload = Annotated[
    str, typer.Option("--workload", "-w", help="Bundled workload name, or a .yaml / .onnx file.")
]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a workload parameter, e.g. --set M=512."),
]
Hardware = Annotated[
    str, typer.Option("--hardware", help="Bundled hardware name, or a .yaml file.")
]
AUTO_HELP = "auto: the coarsest (fewest tasks) whose every tile fits a memory it may use."
Tiles = Annotated[
    str | None,
    typer.Option("--tiles", "-T", help=f"Tiles along the token dimension, or {AUTO_HELP}"),
]
HeadTiles = Annotated[
    str | None,
    typer.Option("--head-tiles", help=f"Tiles along the head dimension, or {AUTO_HELP}"),
]
Split = Annotated[
    list[str] | None,
    typer.Option(
        "--split",
        help="Also split a loop dim: DIM=N in every layer that can, or LAYER.DIM=N in one "
        "(e.g. --split FF1.f=4; LAYER.m=1 leaves a layer's tokens whole); auto: split each "
        "layer whose tiles fit no memory, the fewest tiles that fit.",
    ),
]
Mode = Annotated[str, typer.Option("--mode", help="fused | layer-by-layer")]
Allocation = Annotated[
    str, typer.Option("--allocation", help="tile | layer | FILE (a map from layer to core).")
]
Costs = Annotated[
    Path | None,
    typer.Option("--costs", help="Cost table (CSV or JSON) overriding the analytic model."),
]
Bits = Annotated[
    str | None,
    typer.Option(
        "--bits",
        help="Precision of an ONNX workload: N bits for every tensor, or "
        "weights=N,activations=M (either may be left out; default: the model's element types).",
    ),
]


def tile_count(value: str | None, option: str) -> int | Literal["auto"] | None:
    """A tile count option as given: a whole number, `auto`, or None (not given)."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        from cpsched.model.errors import input_error

        raise input_error(option, "", f"{value!r} is neither a whole number nor auto") from None


def solver_params(
    time_limit: float,
    workers: int,
    seed: int,
    gap: float = 0.0,
    log: bool = False,
    use_hint: bool = True,
    **strengthenings: bool,
) -> SolverParams:
    """The SolverParams the shared options stand for (`strengthenings`: e.g. redundant=False)."""
    from cpsched.cpsat.params import SolverParams

    return SolverParams(
        time_limit_s=time_limit,
        num_workers=workers,
        seed=seed,
        relative_gap_limit=gap,
        log=log,
        use_hint=use_hint,
        **strengthenings,
    )
