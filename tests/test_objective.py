"""Objective specifications: parsing, canonical text, and clear errors."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cpsched.model.errors import InputError
from cpsched.model.objective import Term, parse_objective


def test_plain_lexicographic_and_weighted() -> None:
    assert parse_objective("latency").stages[0].terms == (Term("latency"),)
    lex = parse_objective("latency,memory")
    assert [str(s) for s in lex.stages] == ["latency", "memory"]
    assert lex.latency_first
    weighted = parse_objective("latency + 0.001*energy")
    assert weighted.stages[0].terms == (Term("latency"), Term("energy", Fraction(1, 1000)))
    assert str(weighted) == "latency+0.001*energy"
    assert not weighted.latency_first
    assert parse_objective("activation-memory,memory-sum").metrics == {
        "activation-memory",
        "memory-sum",
    }


def test_units() -> None:
    assert parse_objective("energy").stages[0].unit == "pJ"
    assert parse_objective("memory").stages[0].unit == "bytes"
    assert parse_objective("latency+2*energy").stages[0].unit == "weighted"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty objective"),
        ("latency,", "empty term"),
        ("speed", "unknown metric 'speed'"),
        ("-1*latency", "must be positive"),
        ("0*latency", "must be positive"),
        ("abc*energy", "bad weight 'abc'"),
        ("latency+latency", "appears twice"),
    ],
)
def test_bad_specs_name_the_option(spec: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_objective(spec, "--objective")
    assert str(info.value).startswith("--objective: ")
    assert fragment in str(info.value)
