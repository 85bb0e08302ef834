"""cpsched: provably optimal layer-fused schedules of transformer workloads, with CP-SAT."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # read on first use, not at import time: `import cpsched` stays free
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("cpsched")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
