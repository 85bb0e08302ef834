"""cpsched: provably optimal layer-fused schedules of transformer workloads, with CP-SAT."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cpsched")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
