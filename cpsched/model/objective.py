"""Objective specifications: what a solver minimizes, parsed from text such as ``latency,memory``.

No solver code here (no ortools): the CLI and reports parse and print objectives cheaply.

Grammar: stages separated by ``,`` are optimized lexicographically (the first, then the next
with the first held at its best value); a stage is a ``+``-separated weighted sum of metrics,
each optionally preceded by a positive decimal weight and ``*`` (``latency+0.001*energy``).
Metrics and their units:

- ``latency``: the latest end of any task or transfer (cycles);
- ``energy``: compute plus transfer energy (pJ);
- ``memory``: the largest peak over bounded memories (bytes);
- ``memory-sum``: the sum of the peaks of the bounded memories (bytes);
- ``activation-memory``: the largest peak of activation tensors alone over bounded memories (bytes);
- ``activation-memory-sum``: the sum over bounded memories of their activation peaks (bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, get_args

from cpsched.model.errors import input_error

Metric = Literal[
    "latency", "energy", "memory", "memory-sum", "activation-memory", "activation-memory-sum"
]
METRICS: tuple[Metric, ...] = get_args(Metric)
METRIC_UNITS: dict[Metric, str] = {
    "latency": "cycles",
    "energy": "pJ",
    "memory": "bytes",
    "memory-sum": "bytes",
    "activation-memory": "bytes",
    "activation-memory-sum": "bytes",
}


@dataclass(frozen=True)
class Term:
    """One metric times a positive weight (exact, as a fraction)."""

    metric: Metric
    weight: Fraction = Fraction(1)

    def __str__(self) -> str:
        if self.weight == 1:
            return self.metric
        w = self.weight
        text = str(w.numerator) if w.denominator == 1 else _decimal(w)
        return f"{text}*{self.metric}"


@dataclass(frozen=True)
class Stage:
    """A weighted sum of metrics, minimized as one objective."""

    terms: tuple[Term, ...]

    def __str__(self) -> str:
        return "+".join(str(t) for t in self.terms)

    @property
    def unit(self) -> str:
        """The unit of the stage's value: the metric's unit, or "weighted" for a mixed sum."""
        units = {METRIC_UNITS[t.metric] for t in self.terms}
        if len(units) == 1 and all(t.weight == 1 for t in self.terms):
            return units.pop()
        return "weighted"


@dataclass(frozen=True)
class Objective:
    """Stages minimized lexicographically (one stage for a plain objective)."""

    stages: tuple[Stage, ...]

    def __str__(self) -> str:
        return ",".join(str(s) for s in self.stages)

    @property
    def metrics(self) -> frozenset[Metric]:
        """Every metric any stage mentions."""
        return frozenset(t.metric for s in self.stages for t in s.terms)

    @property
    def latency_first(self) -> bool:
        """True when the first stage is latency alone (so a known schedule bounds the horizon)."""
        first = self.stages[0].terms
        return len(first) == 1 and first[0].metric == "latency"

    @property
    def cycles_first(self) -> bool:
        """True when the first stage is latency alone with weight 1: its value is the makespan
        in cycles, so a lower bound on the makespan bounds it."""
        return self.latency_first and self.stages[0].terms[0].weight == 1


def _decimal(w: Fraction) -> str:
    text = f"{float(w):.12g}"
    return text if Fraction(text) == w else f"{w.numerator}/{w.denominator}"


def _parse_weight(text: str, source: str, spec: str) -> Fraction:
    try:
        weight = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise input_error(
            source,
            "",
            f"bad weight {text.strip()!r} in objective {spec!r}; "
            "a weight is a positive number such as 0.001 or 2",
        ) from None
    if weight <= 0:
        raise input_error(
            source, "", f"weight {text.strip()!r} in objective {spec!r} must be positive"
        )
    return weight


def parse_objective(spec: str, source: str = "--objective") -> Objective:
    """Parse an objective specification; raise InputError naming `source` when it is malformed."""
    accepted = (
        f"accepted metrics: {', '.join(METRICS)}; combine as 'latency,memory' (lexicographic) "
        "or 'latency+0.001*energy' (weighted)"
    )
    if not spec.strip():
        raise input_error(source, "", f"empty objective; {accepted}")
    stages: list[Stage] = []
    for stage_text in spec.split(","):
        terms: list[Term] = []
        for term_text in stage_text.split("+"):
            text = term_text.strip()
            if not text:
                raise input_error(source, "", f"empty term in objective {spec!r}; {accepted}")
            weight = Fraction(1)
            if "*" in text:
                weight_text, _, text = text.rpartition("*")
                weight = _parse_weight(weight_text, source, spec)
                text = text.strip()
            if text not in METRICS:
                raise input_error(
                    source, "", f"unknown metric {text!r} in objective {spec!r}; {accepted}"
                )
            if any(t.metric == text for t in terms):
                raise input_error(
                    source, "", f"metric {text!r} appears twice in one stage of {spec!r}"
                )
            terms.append(Term(text, weight))
        stages.append(Stage(tuple(terms)))
    return Objective(tuple(stages))


def as_objective(objective: str | Objective, source: str = "objective") -> Objective:
    """Accept either a parsed Objective or its text form."""
    return objective if isinstance(objective, Objective) else parse_objective(objective, source)
