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
    # backing store) and reload them later; stage inputs through the destination's backing store
    # and fetch each from whichever of its source, spilled or staged copies delivers it first.
    spill: bool = True
    # Fetch an input from any copy that delivers it first (another core's memory too), not only
    # from its source copy, where it was spilled or staged. Off by default: such transfers lie
    # outside CP-SAT's search space (docs/results.md), so the schedule could not be its hint.
    forward: bool = False
    # Place only what CP-SAT's search space holds (docs/results.md), so that the schedule can be
    # its hint: a tensor comes back into a memory at most once (a reloaded copy is not evicted
    # again), a reload and a spill travel alone (no multicast), a spilled copy in an
    # unbounded store stays while the tensor is still to be read, and a tensor is sent only
    # out of its source copy, its spill or a staged copy (never out of another core's copy; a
    # spill nothing read is left out). Off by default (the
    # heuristics then reload as often as they like, which is often faster); the pipeline runs
    # them with it (IN_SPACE) when the best schedule lies outside the space. A run that finds
    # nothing this way runs again without it before it gives up spilling.
    cpsat_space: bool = False


ALL = Features()
FORMAT_1 = Features(multicast=False, shared_bandwidth=False, spill=False, forward=False)
IN_SPACE = Features(cpsat_space=True)

__all__ = ["ALL", "FORMAT_1", "IN_SPACE", "Features"]
