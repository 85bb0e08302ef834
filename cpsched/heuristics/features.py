"""Which of format 2's freedoms the heuristics use (docs/validity.md).

All on by default. Off, the heuristics place exactly as they did for format 1: one transfer per
tensor and destination, from the tensor's source copy, at full rate with every link used by one
transfer at a time, and a copy held until its last reader ends. The benchmarks turn them off to
show what format 2 changes (``cpsched bench --suite format2``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Features:
    """The format-2 freedoms a heuristic run may use."""

    # A copy sent over multicast links may also be delivered to another memory that needs it,
    # by adding that memory to a transfer already placed (same source, same links, same time).
    multicast: bool = True
    # Transfers share a `bandwidth` link when their rates add up to at most its bandwidth.
    shared_bandwidth: bool = True
    # When a memory is full: evict copies (spilling the only copy of a tensor to the memory's
    # backing store), reload them later, and fetch every input from the nearest copy.
    spill: bool = True


ALL = Features()
FORMAT_1 = Features(multicast=False, shared_bandwidth=False, spill=False)

__all__ = ["ALL", "FORMAT_1", "Features"]
