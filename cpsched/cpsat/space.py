"""The search space of the CP-SAT model: the shared one of :mod:`cpsched.model.space`, with the
tasks a solve fixes pinned to their cores (no ortools here).

The space itself (candidate cores, transfer options, the horizon no schedule needs to pass) is
worked out once per problem in :mod:`cpsched.model.space`, which the MILP peer reads too. CP-SAT
adds multicast to it (:attr:`~cpsched.model.space.Space.leaders`, switched by
`SolverParams.multicast`): a transfer may follow another of the same tensor from the same source
whose route holds its links; the MILP peer does not. It also stages through a destination's
backing store (:func:`~cpsched.model.space.with_staging`, switched by `SolverParams.staging`)
and reloads a tensor once into a memory that may overflow, after a spill to its backing store
(:func:`~cpsched.model.space.with_spill`, `SolverParams.spill`).
On top
of it the CP-SAT model holds a copy from its allocation (producer start, transfer start, or 0 at
home) until a release time the solver chooses no earlier than the release of docs/validity.md,
rule 9, so a model's memory use over-approximates the schedule's; at an optimum they coincide.

Every transfer runs at the full rate of its route (the least bandwidth of its links; a
multicast's, that of its leader's route, which holds the others'): the space never chooses a
slower rate. With `SolverParams.shared_bandwidth`, transfers on a `bandwidth` link may overlap
while their rates add up to at most its bandwidth (:class:`LinkShares`); without it, and on
`exclusive` links, a link carries one transfer at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from cpsched.model.errors import input_error
from cpsched.model.problem import CoreId, LinkId, Problem, TaskId
from cpsched.model.space import Space, TransferOption, search_space


def build_space(
    problem: Problem,
    fixed_cores: Mapping[TaskId, CoreId] | None = None,
    fixed_order: Mapping[CoreId, Sequence[TaskId]] | None = None,
) -> Space:
    """The search space with the tasks of `fixed_cores` and `fixed_order` pinned to their cores;
    bad ids in either are an InputError."""
    forced: dict[TaskId, CoreId] = dict(fixed_cores or {})
    for core, seq in (fixed_order or {}).items():
        if core not in problem.core_by_id:
            raise input_error("fixed_order", str(core), f"unknown core {core!r}")
        for t in seq:
            if forced.get(t, core) != core:
                raise input_error(
                    "fixed_order", str(core), f"task {t!r} is fixed to core {forced[t]!r}"
                )
            forced[t] = core
    for t, core in forced.items():
        if t not in problem.task_by_id:
            raise input_error("fixed_cores", str(t), f"unknown task {t!r}")
        if problem.option(t, core) is None:
            raise input_error(
                "fixed_cores", str(t), f"core {core!r} is not among the options of task {t!r}"
            )
    return search_space(problem, forced)


def exact(value: float) -> Fraction:
    """A bandwidth as the exact rational it is written as (the validator reads it the same way)."""
    return Fraction(repr(value))


class LinkShares:
    """What part of a link's bandwidth a transfer at its route's full rate takes.

    A transfer over `links` runs at their least bandwidth `r`; on a link of bandwidth `B` it uses
    `r / B` of it. Only a `bandwidth` link with `shared_bandwidth` on lets transfers share: there
    the share is `r / B`; on an `exclusive` link, or with sharing off (one transfer at a time on
    every link), a transfer takes the whole link and the share is 1.
    """

    def __init__(self, problem: Problem, shared_bandwidth: bool = True) -> None:
        self.problem = problem
        self.shared_bandwidth = shared_bandwidth
        self._bandwidth = {lk.id: exact(lk.bandwidth_bytes_per_cycle) for lk in problem.links}
        self._shares: dict[tuple[LinkId, ...], dict[LinkId, Fraction]] = {}

    def bandwidth(self, link: LinkId) -> Fraction:
        """The link's bandwidth in bytes per cycle, exactly."""
        return self._bandwidth[link]

    def rate(self, links: Sequence[LinkId]) -> Fraction:
        """The full rate of a transfer over `links`: their least bandwidth."""
        return min(self._bandwidth[lk] for lk in links)

    def shares(self, links: tuple[LinkId, ...]) -> dict[LinkId, Fraction]:
        """Per link of a route, the share of its bandwidth a transfer over the route takes."""
        out = self._shares.get(links)
        if out is None:
            rate = self.rate(links)
            out = {
                lk: rate / self._bandwidth[lk] if self.shares_bandwidth(lk) else Fraction(1)
                for lk in links
            }
            self._shares[links] = out
        return out

    def shares_bandwidth(self, link: LinkId) -> bool:
        """Whether transfers on `link` may overlap (a `bandwidth` link, sharing switched on)."""
        return self.shared_bandwidth and self.problem.link_by_id[link].sharing == "bandwidth"

    def work(self, links: tuple[LinkId, ...], link: LinkId, duration_cycles: int) -> int | Fraction:
        """Link-cycles a transfer of `duration_cycles` over `links` takes of `link`'s capacity
        (its duration times its share: the whole duration when it takes the whole link)."""
        share = self.shares(links)[link]
        return duration_cycles if share == 1 else duration_cycles * share


__all__ = ["LinkShares", "Space", "TransferOption", "build_space", "exact"]
