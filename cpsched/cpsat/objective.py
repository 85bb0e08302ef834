"""The objective of the CP-SAT model: each metric as an integer linear expression, and the
stages of an :class:`cpsched.model.objective.Objective` built from them.

CP-SAT minimizes integers. Energies (pJ, floats) are multiplied by the least common multiple of
their exact decimal denominators, so the integer objective orders solutions exactly as the real
one does; only if that multiplier would overflow are they rounded at a fixed number of digits.
A weighted stage is scaled the same way: `value = integer objective / scale`, exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from ortools.sat.python import cp_model

from cpsched.cpsat.space import Space
from cpsched.cpsat.variables import Variables
from cpsched.model.errors import input_error
from cpsched.model.objective import Metric, Objective, Stage
from cpsched.model.problem import MemoryId

_MAX_COEFFICIENT = 2**50  # keep every objective comfortably inside int64
_MAX_OBJECTIVE = 2**60  # the most a weighted sum may reach when weights lose digits


@dataclass
class MetricExpr:
    """A metric as `expr / scale` (expr an integer linear expression, scale a positive fraction)."""

    expr: cp_model.LinearExprT
    scale: Fraction
    upper: int  # an upper bound on expr, to keep weighted sums inside int64


@dataclass
class StageExpr:
    """One stage's integer objective; its value in objective units is `integer / scale`."""

    stage: Stage
    expr: cp_model.LinearExprT
    scale: Fraction


@dataclass
class PeakVariables:
    """Peak bytes per bounded memory, in total and of activations alone (created on demand), and
    the largest of each over the memories (`None` when there are no such peaks)."""

    total: dict[MemoryId, cp_model.IntVar]
    activation: dict[MemoryId, cp_model.IntVar]
    largest_total: cp_model.IntVar | None = None
    largest_activation: cp_model.IntVar | None = None


def exact_fraction(value: float) -> Fraction:
    """The decimal a float was written as (0.1 -> 1/10), so scaling keeps it exact."""
    return Fraction(repr(float(value)))


def integer_scale(values: list[Fraction], limit: int = _MAX_COEFFICIENT) -> Fraction:
    """A multiplier that makes every value an integer, or (if that is too large) one that keeps
    about twelve significant digits of the largest value."""
    lcm = 1
    for value in values:
        lcm = math.lcm(lcm, value.denominator)
        if lcm > limit:
            break
    largest = max((abs(v) for v in values), default=Fraction(0))
    if lcm <= limit and largest * lcm * max(1, len(values)) <= limit:
        return Fraction(lcm)
    if largest == 0:
        return Fraction(1)
    return Fraction(10) ** (12 - math.ceil(math.log10(float(largest) * max(1, len(values)))))


def energy_expr(space: Space, v: Variables) -> MetricExpr:
    """Compute energy of the chosen options plus the energy of every transfer made (pJ)."""
    p = space.problem
    terms: list[tuple[cp_model.IntVar, Fraction]] = []
    for (t, k), lit in v.on.items():
        opt = p.option(t, k)
        assert opt is not None
        terms.append((lit, exact_fraction(opt.energy_pj)))
    for key, lit in v.occupies.items():
        # size * sum(pJ/byte): an exact product of decimals. Only a transfer that uses its links
        # counts: a multicast's followers carry no bytes of their own (each link of the leader's
        # route, which holds theirs, carries the bytes once)
        tensor = p.tensor_by_id[key[0]]
        per_byte = sum(
            (
                exact_fraction(p.link_by_id[lk].energy_pj_per_byte)
                for lk in v.transfer_option[key].links
            ),
            Fraction(0),
        )
        terms.append((lit, tensor.size_bytes * per_byte))
    for key, lit in v.reload.items():
        per_byte = sum(
            (
                exact_fraction(p.link_by_id[lk].energy_pj_per_byte)
                for lk in v.reload_option[key].links
            ),
            Fraction(0),
        )
        terms.append((lit, p.tensor_by_id[key[0]].size_bytes * per_byte))
    terms = [(lit, e) for lit, e in terms if e != 0]
    scale = integer_scale([e for _, e in terms])
    coefficients = [round(e * scale) for _, e in terms]
    expr = sum((c * lit for c, (lit, _) in zip(coefficients, terms, strict=True)), 0)
    return MetricExpr(expr, scale, sum(coefficients))


def create_peak_variables(
    model: cp_model.CpModel, space: Space, objective: Objective, extra: Iterable[Metric] = ()
) -> PeakVariables | None:
    """Peak variables for the memory metrics the objective (or `extra`, e.g. capped metrics)
    mentions (None when they mention none)."""
    metrics = objective.metrics | frozenset(extra)
    if not metrics & {"memory", "memory-sum", "activation-memory", "activation-memory-sum"}:
        return None
    p = space.problem
    total: dict[MemoryId, cp_model.IntVar] = {}
    activation: dict[MemoryId, cp_model.IntVar] = {}
    for m in space.bounded:
        capacity = p.memory_by_id[m].capacity_bytes
        assert capacity is not None
        total[m] = model.new_int_var(0, capacity, f"peak[{m}]")
        if metrics & {"activation-memory", "activation-memory-sum"}:
            activation[m] = model.new_int_var(0, capacity, f"activation_peak[{m}]")
            model.add(activation[m] <= total[m])
    upper = max((p.memory_by_id[m].capacity_bytes or 0 for m in space.bounded), default=0)
    return PeakVariables(
        total,
        activation,
        _largest(model, total, "peak_max", upper),
        _largest(model, activation, "activation_peak_max", upper),
    )


def _largest(
    model: cp_model.CpModel, peaks: dict[MemoryId, cp_model.IntVar], name: str, upper: int
) -> cp_model.IntVar | None:
    if not peaks:
        return None
    largest = model.new_int_var(0, upper, name)
    model.add_max_equality(largest, list(peaks.values()))
    return largest


def _max_or_sum(
    peaks: dict[MemoryId, cp_model.IntVar],
    largest: cp_model.IntVar | None,
    use_max: bool,
    upper: int,
) -> MetricExpr:
    if not peaks:
        return MetricExpr(0, Fraction(1), 0)
    if not use_max:
        return MetricExpr(sum(peaks.values()), Fraction(1), upper * len(peaks))
    assert largest is not None
    return MetricExpr(largest, Fraction(1), upper)


def metric_expr(
    model: cp_model.CpModel, space: Space, v: Variables, peaks: PeakVariables | None, metric: Metric
) -> MetricExpr:
    """The integer expression of one metric."""
    if metric == "latency":
        assert v.makespan is not None
        return MetricExpr(v.makespan, Fraction(1), v.horizon_cycles)
    if metric == "energy":
        return energy_expr(space, v)
    assert peaks is not None
    upper = max(
        (space.problem.memory_by_id[m].capacity_bytes or 0 for m in space.bounded), default=0
    )
    if metric in ("memory", "memory-sum"):
        return _max_or_sum(peaks.total, peaks.largest_total, metric == "memory", upper)
    return _max_or_sum(
        peaks.activation, peaks.largest_activation, metric == "activation-memory", upper
    )


def stage_expr(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    peaks: PeakVariables | None,
    stage: Stage,
    cache: dict[Metric, MetricExpr],
) -> StageExpr:
    """A weighted sum of metrics as one integer expression with an exact scale."""
    parts = []
    for term in stage.terms:
        if term.metric not in cache:
            cache[term.metric] = metric_expr(model, space, v, peaks, term.metric)
        parts.append((term.weight, cache[term.metric]))
    if len(parts) == 1 and parts[0][0] == 1:
        return StageExpr(stage, parts[0][1].expr, parts[0][1].scale)
    # value = sum w_i * expr_i / s_i = (sum c_i * K * expr_i) / K with c_i = w_i / s_i
    ratios = [w / m.scale for w, m in parts]
    k = Fraction(1)
    for r in ratios:
        k = Fraction(math.lcm(k.numerator, r.denominator))
    if any(
        r * k * max(1, m.upper) > _MAX_COEFFICIENT for r, (_, m) in zip(ratios, parts, strict=True)
    ):
        smallest = min(ratios)
        k = Fraction(10**6) / smallest  # relative weights kept to six digits
        # ... unless the largest term would then overflow: keep as many digits as fit.
        total = sum(r * max(1, m.upper) for r, (_, m) in zip(ratios, parts, strict=True))
        if total * k > _MAX_OBJECTIVE:
            k = Fraction(_MAX_OBJECTIVE) / total
    coefficients = [round(r * k) for r in ratios]
    if 0 in coefficients:
        raise input_error(
            "objective",
            str(stage),
            "the weights span too many orders of magnitude for CP-SAT's 64-bit objective "
            f"(relative weights {', '.join(f'{float(r / max(ratios)):.3g}' for r in ratios)}); "
            "use weights closer together, or a lexicographic objective (a,b)",
        )
    expr = sum((c * m.expr for c, (_, m) in zip(coefficients, parts, strict=True)), 0)
    return StageExpr(stage, expr, k)


def add_caps(
    model: cp_model.CpModel,
    space: Space,
    v: Variables,
    peaks: PeakVariables | None,
    caps: Mapping[Metric, float],
    cache: dict[Metric, MetricExpr],
) -> None:
    """Upper bounds on metrics, in their units (the epsilon-constraints of a Pareto sweep): every
    schedule of the model has `metric <= cap`."""
    for metric, cap in caps.items():
        if metric not in cache:
            cache[metric] = metric_expr(model, space, v, peaks, metric)
        m = cache[metric]
        model.add(m.expr <= math.floor(exact_fraction(cap) * m.scale))
