"""Issue 13: whatever a user's file holds, a loader returns a model or raises an InputError, never
another exception (a traceback). Random JSON values (wrong types, huge and tiny numbers, NaN and
infinities, random dicts), random changes to a valid file, and deep nesting are fed to each public
loader through a real file: problem, schedule, hardware, workload, cost table and result."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sampling import examples

from cpsched.frontend.costs import load_cost_table
from cpsched.frontend.hardware import load_hardware_file
from cpsched.frontend.workload.load import load_workload_file
from cpsched.model.errors import InputError
from cpsched.model.io import load_problem, load_schedule
from cpsched.runs import load_result

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES: dict[str, Path] = {
    "problem": ROOT / "models" / "problems" / "two_cores_shared.yaml",
    "schedule": ROOT / "models" / "problems" / "two_cores_shared.schedule.yaml",
    "hardware": ROOT / "models" / "hardware" / "quad_bus.yaml",
    "workload": ROOT / "models" / "workloads" / "attention_head.yaml",
}
COST_TABLE = [
    {"layer": "Q", "shape": "m=64,e=64,d=64", "core": "c0", "cycles": 100, "energy_pj": 2.5},
    {"op": "softmax", "core": "*", "cycles": 7, "energy_pj": 0.5},
]
LOADERS: dict[str, Callable[[Path], object]] = {
    "problem": load_problem,
    "schedule": load_schedule,
    "hardware": load_hardware_file,
    "workload": load_workload_file,
    "costs": load_cost_table,
    "result": load_result,  # what `cpsched show` reads
}
RESULT = {
    "format": "cpsched-result/2",
    "method": "cpsat",
    "status": "optimal",
    "objective": "latency,memory",
    "objective_value": 162.0,
    "bound": 162.0,
    "gap": 0.0,
    "stages": [{"objective": "latency", "status": "optimal", "value": 162.0, "bound": 162.0}],
    "parameters": {"time_limit_s": 1.0, "num_workers": 2, "seed": 0},
    "interrupted": False,
    "message": "",
}


def example(kind: str) -> Any:
    if kind == "costs":
        return json.loads(json.dumps(COST_TABLE))
    if kind == "result":
        return json.loads(json.dumps(RESULT))
    return yaml.safe_load(EXAMPLES[kind].read_text(encoding="utf-8"))


# field names of every format, so random dicts reach real fields
FIELDS = sorted(
    {
        key
        for kind in LOADERS
        for key in json.dumps(example(kind)).replace('"', " ").split()
        if key.isidentifier()
    }
)

NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**40, 2**40 + 1, 2**62, 2**63, 2**64, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-300, 5e-324, 1e300, 1e30, 0.5, -0.0, float("nan"), float("inf")]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    NUMBERS,
    st.text(max_size=12),
    st.sampled_from(["10", "1e3", "true", "null", "dram", "c0", "l1", "M", "N * 2", "9**9**9"]),
    st.sampled_from(FIELDS),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=20,
)


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value: its dict keys and list indexes, at every depth."""
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += places(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += places(v, (*path, i))
    return out


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    node = value
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return value


def load(tmp_path: Path, kind: str, text: str, suffix: str) -> None:
    """Load `text` with the `kind` loader; anything but a model or an InputError fails."""
    path = tmp_path / f"input{suffix}"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(InputError):
        LOADERS[kind](path)


def dump(value: Any, suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(value)  # NaN and Infinity as Python's json writes and reads them
    return yaml.safe_dump(value)


FUZZ = settings(
    max_examples=examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(
    kind=st.sampled_from(sorted(LOADERS)),
    value=JSON_VALUES,
    suffix=st.sampled_from([".json", ".yaml"]),
)
def test_random_json_values_load_or_are_input_errors(
    tmp_path: Path, kind: str, value: Any, suffix: str
) -> None:
    load(tmp_path, kind, dump(value, suffix), suffix)


@FUZZ
@given(
    kind=st.sampled_from(sorted(LOADERS)),
    data=st.data(),
    suffix=st.sampled_from([".json", ".yaml"]),
)
def test_random_changes_to_a_valid_file_load_or_are_input_errors(
    tmp_path: Path, kind: str, data: st.DataObject, suffix: str
) -> None:
    value = example(kind)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(places(value)), label="path")
        value = replaced(value, path, data.draw(JSON_VALUES, label="value"))
    load(tmp_path, kind, dump(value, suffix), suffix)


@settings(FUZZ, max_examples=examples(20))  # a YAML nesting 1,000 deep takes ~0.6 s to refuse
@given(
    kind=st.sampled_from(sorted(LOADERS)),
    depth=st.sampled_from([10, 500, 900, 990, 1000, 1100, 3000]),  # 100,000: test_hardening_inputs
    opener=st.sampled_from(["[", '{"a": ', '{"tasks": ']),
    suffix=st.sampled_from([".json", ".yaml"]),
)
def test_deep_nesting_loads_or_is_an_input_error(
    tmp_path: Path, kind: str, depth: int, opener: str, suffix: str
) -> None:
    closer = "]" if opener == "[" else "}"
    load(tmp_path, kind, opener * depth + "1" + closer * depth, suffix)


@FUZZ
@given(rows=st.lists(st.lists(st.text(max_size=8), max_size=6), max_size=4))
def test_random_csv_cost_tables_load_or_are_input_errors(
    tmp_path: Path, rows: list[list[str]]
) -> None:
    header = "layer,op,shape,core,cycles,energy_pj\n"
    body = "".join(",".join(cell.replace("\n", " ") for cell in row) + "\n" for row in rows)
    load(tmp_path, "costs", header + body, ".csv")
