"""Design-space sweeps: a sweep file's points run in parallel here or on a Dask cluster, each
recorded as it ends, and summarized as the study's answer (`cpsched sweep`)."""

from cpsched.sweep.execute import SweepOutcome, SweepProgress, default_jobs, estimate_s, run_sweep
from cpsched.sweep.point import build_point, run_point
from cpsched.sweep.spec import Point, Sweep, SweepFile, Tiling, load_sweep

__all__ = [
    "Point",
    "Sweep",
    "SweepFile",
    "SweepOutcome",
    "SweepProgress",
    "Tiling",
    "build_point",
    "default_jobs",
    "estimate_s",
    "load_sweep",
    "run_point",
    "run_sweep",
]
