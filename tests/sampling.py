"""How many random examples each property test tries.

The default run (the README's `python3 -m pytest`) tries a quarter of each property's examples,
so that it stays near a minute; with `CPSCHED_THOROUGH=1` every property tries its full count.
CI runs both: the default run, then `CPSCHED_THOROUGH=1 python3 -m pytest -m "hypothesis or
slow"` (every property test, which hypothesis marks `hypothesis`, and the slow tests).
"""

from __future__ import annotations

import os

THOROUGH = os.environ.get("CPSCHED_THOROUGH", "") not in ("", "0")


def examples(full: int) -> int:
    """The examples a property tries in this run: `full` when thorough, else a quarter (>= 5)."""
    return full if THOROUGH else max(5, full // 4)
