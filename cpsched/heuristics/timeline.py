"""Resource timelines the heuristics place work on: busy intervals and memory profiles.

These are the heuristics' own bookkeeping, independent of the validator (which must be able
to catch a mistake here). All times are integer cycles; intervals are half-open.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from fractions import Fraction

Rate = int | Fraction  # bytes per cycle, exact


class IntervalTimeline:
    """Busy intervals of one exclusive resource (a core or a link), kept sorted and disjoint.

    Touching intervals are merged, so a resource used back to back costs one entry.
    """

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def earliest(self, t: int, duration: int, rate: Rate = 0) -> int:
        """The earliest start >= t of a free window of `duration` cycles (whatever the rate)."""
        if duration <= 0:
            return t
        starts, ends = self.starts, self.ends
        i = bisect_right(ends, t)
        n = len(starts)
        while i < n:
            if starts[i] >= t + duration:
                return t
            if ends[i] > t:
                t = ends[i]
            i += 1
        return t

    def end(self) -> int:
        """The end of the last busy interval (0 when idle)."""
        return self.ends[-1] if self.ends else 0

    def add(self, start: int, end: int, rate: Rate = 0) -> None:
        """Mark [start, end) busy (whatever the rate); the caller has checked that it is free."""
        if end <= start:
            return
        starts, ends = self.starts, self.ends
        i = bisect_left(starts, start)
        merge_left = i > 0 and ends[i - 1] == start
        merge_right = i < len(starts) and starts[i] == end
        if merge_left and merge_right:
            ends[i - 1] = ends[i]
            del starts[i]
            del ends[i]
        elif merge_left:
            ends[i - 1] = end
        elif merge_right:
            starts[i] = start
        else:
            starts.insert(i, start)
            ends.insert(i, end)


class RateTimeline:
    """The summed rate of the transfers on one bandwidth-shared link over time, as a step
    function of finite steps, and the link's bandwidth (docs/validity.md, rule 8).

    Rates are exact: ints, or Fractions where a bandwidth is fractional, so a window that fits
    here fits in the validator's exact arithmetic too.
    """

    __slots__ = ("capacity", "times", "usage")

    def __init__(self, capacity: Rate) -> None:
        self.capacity = capacity
        self.times: list[int] = [0]  # usage[i] holds on [times[i], times[i+1]); the last: 0
        self.usage: list[Rate] = [0]

    def earliest(self, t: int, duration: int, rate: Rate = 0) -> int:
        """The earliest start >= t of a window of `duration` cycles with `rate` to spare."""
        if duration <= 0:
            return t
        limit = self.capacity - rate
        times, usage = self.times, self.usage
        n = len(times)
        k = max(bisect_right(times, t) - 1, 0)
        while True:
            j = k
            while j < n and (j == k or times[j] < t + duration):
                if usage[j] > limit:
                    break
                j += 1
            else:
                return t
            # usage[j] is too high: the window starts after that step at the earliest
            k = j + 1
            t = max(t, times[k])  # the last step has usage 0, so k < n here

    def end(self) -> int:
        """The end of the last busy step (0 when idle)."""
        return self.times[-1]

    def _split(self, t: int) -> int:
        times, usage = self.times, self.usage
        i = bisect_right(times, t) - 1
        if times[i] != t:
            times.insert(i + 1, t)
            usage.insert(i + 1, usage[i])
            i += 1
        return i

    def add(self, start: int, end: int, rate: Rate = 0) -> None:
        """Use `rate` of the link on [start, end); the caller has checked that it fits."""
        if end <= start or not rate:
            return
        i = self._split(start)
        j = self._split(end)
        times, usage = self.times, self.usage
        for k in range(i, j):
            usage[k] += rate
        # Equal neighbours merge, so a link busy at one level for a while is one step.
        if j < len(usage) and usage[j] == usage[j - 1]:
            del times[j], usage[j]
        if i > 0 and usage[i] == usage[i - 1]:
            del times[i], usage[i]


LinkTimeline = IntervalTimeline | RateTimeline


def common_window(timelines: Sequence[LinkTimeline], t: int, duration: int, rate: Rate = 0) -> int:
    """The earliest start >= t of a window of `duration` cycles free on every timeline (with
    `rate` to spare on the bandwidth-shared ones)."""
    if duration <= 0 or not timelines:
        return t
    if len(timelines) == 1:
        return timelines[0].earliest(t, duration, rate)
    while True:
        moved = False
        for tl in timelines:
            t2 = tl.earliest(t, duration, rate)
            if t2 != t:
                t = t2
                moved = True
        if not moved:
            return t


class MemoryProfile:
    """Bytes held in one bounded memory over time, as a step function.

    Every change is a suffix change: a copy is added as held from its start "until further
    notice" (its readers are not all known yet) and released later by subtracting from its
    release time on. So the profile held while scheduling is an upper bound of the final one.
    """

    __slots__ = ("capacity_bytes", "times", "usage")

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.times: list[int] = [
            0
        ]  # usage[i] holds on [times[i], times[i+1]); the last one forever
        self.usage: list[int] = [0]

    def held_forever(self) -> int:
        """Bytes held from the last change on (copies not yet released, and nothing else)."""
        return self.usage[-1]

    def add_from(self, t: int, amount_bytes: int) -> None:
        """Add `amount_bytes` (negative to release) to every time >= t."""
        if amount_bytes == 0:
            return
        times, usage = self.times, self.usage
        i = bisect_right(times, t) - 1
        if i < 0:  # only for t < 0, which never happens; kept total for safety
            times.insert(0, t)
            usage.insert(0, 0)
            i = 0
        if times[i] != t:
            times.insert(i + 1, t)
            usage.insert(i + 1, usage[i])
            i += 1
        for j in range(i, len(usage)):
            usage[j] += amount_bytes

    def earliest_fit(self, t: int, amount_bytes: int) -> int | None:
        """The earliest time >= t from which `amount_bytes` more can be held forever, or None."""
        limit = self.capacity_bytes - amount_bytes
        times, usage = self.times, self.usage
        if usage[-1] > limit:
            return None
        lo = max(bisect_right(times, t) - 1, 0)
        for j in range(len(usage) - 2, lo - 1, -1):
            if usage[j] > limit:
                return max(t, times[j + 1])
        return t
