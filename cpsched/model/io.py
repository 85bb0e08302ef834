"""Reading and writing cpsched files: strict JSON/YAML in, complete files out.

Readers reject duplicate keys and turn every pydantic error into an :class:`InputError`
naming the file, the field path and the bad value. Writers are atomic: a file is written
completely or not at all (temporary file in the same folder, then rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cpsched.model.errors import FieldProblem, InputError, input_error, output_error
from cpsched.model.problem import Problem, ProblemReferenceError
from cpsched.model.schedule import Schedule

M = TypeVar("M", bound=BaseModel)

YAML_SUFFIXES = (".yaml", ".yml")


class _StrictYamlLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(
    loader: _StrictYamlLoader, node: yaml.MappingNode, deep: bool = False
) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            continue  # a list or mapping as a key: construct_mapping reports it as unhashable
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]}, again on line {line})",
                key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictYamlLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _reject_duplicate_json_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_text(text: str, source: str, *, yaml_syntax: bool) -> Any:
    """Parse JSON or YAML text strictly (no duplicate keys); errors name `source`."""
    try:
        if yaml_syntax:
            return yaml.load(text, Loader=_StrictYamlLoader)
        return json.loads(text, object_pairs_hook=_reject_duplicate_json_keys)
    except RecursionError:
        syntax = "YAML" if yaml_syntax else "JSON"
        raise input_error(
            source, "", f"not valid {syntax}: lists or mappings nested too deeply"
        ) from None
    except yaml.YAMLError as exc:
        raise input_error(source, "", f"not valid YAML: {exc}") from None
    except ValueError as exc:  # json.JSONDecodeError; an integer with more than 4300 digits
        syntax = "YAML" if yaml_syntax else "JSON"
        raise input_error(source, "", f"not valid {syntax}: {exc}") from None


def read_data(path: str | Path) -> Any:
    """Read a JSON or YAML file (by suffix; `.json` is JSON, anything else YAML, a superset)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise input_error(str(path), "", "file not found") from None
    except IsADirectoryError:
        raise input_error(str(path), "", "is a folder, expected a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(str(path), "", f"cannot read: {exc}") from None
    return parse_text(text, str(path), yaml_syntax=path.suffix.lower() != ".json")


def field_path(loc: tuple[int | str, ...]) -> str:
    """('tasks', 3, 'options', 0, 'core') -> 'tasks[3].options[0].core'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any, limit: int = 80) -> str:
    """A value as the user wrote it, cut to `limit` characters."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's 4300-digit conversion limit (e.g. YAML 0xfff...)
        if isinstance(value, int):
            return f"an integer of {len(format(value, 'x'))} hexadecimal digits"
        return "a value holding an integer too long to print"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_problems(exc: ValidationError) -> list[FieldProblem]:
    """Turn a pydantic ValidationError into field problems with paths and bad values."""
    out: list[FieldProblem] = []
    errors = exc.errors()
    failed_items = {  # lists and tuples with an item that failed
        tuple(e["loc"][:k])
        for e in errors
        for k, part in enumerate(e["loc"])
        if isinstance(part, int)
    }
    for err in errors:
        if err["type"] == "too_short" and tuple(err["loc"]) in failed_items:
            # pydantic counts only the items that validated: a list whose one item is wrong is
            # "too short" too, which is false; the item's own error says what is wrong
            continue
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, ProblemReferenceError):
            out.extend(ctx_error.problems)
            continue
        msg = err["msg"]
        if err["type"] == "missing":
            message = "missing required field"
        elif err["type"] == "extra_forbidden":
            message = "unknown field (not part of the format); remove it or check its spelling"
        else:
            message = f"{msg} (got {_short(err.get('input'))})"
        out.append(FieldProblem(field_path(tuple(err["loc"])), message))
    return out


def parse_model(data: Any, cls: type[M], source: str) -> M:
    """Validate already-parsed data into `cls`; errors name `source` and the field path."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, tuple(validation_problems(exc))) from None


def load_model(path: str | Path, cls: type[M]) -> M:
    """Load a JSON or YAML file into the pydantic model `cls`."""
    return parse_model(read_data(path), cls, str(path))


def load_problem(path: str | Path) -> Problem:
    """Load a problem file (JSON or YAML): `cpsched-problem/2`, or `/1` read as version 2."""
    return load_model(path, Problem)


def load_schedule(path: str | Path) -> Schedule:
    """Load a schedule file (JSON or YAML): `cpsched-schedule/2`, or `/1` read as version 2."""
    return load_model(path, Schedule)


def dump_model(model: BaseModel, *, yaml_syntax: bool = False) -> str:
    """Serialize a model to JSON (default) or YAML text."""
    data = model.model_dump(mode="json")
    if yaml_syntax:
        return yaml.safe_dump(data, sort_keys=False)
    return json.dumps(data, indent=2) + "\n"


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` completely or not at all."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _new_file_mode() -> int:
    """0666 less the process's umask: the mode open() gives a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` completely or not at all (temp file + rename in one folder).

    A write that fails (a full disk, a read-only folder) raises an :class:`OutputError` naming
    the path and the reason; the old file, if any, is left as it was and no temporary remains.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise output_error(str(path), exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _new_file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise output_error(str(path), exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: BaseModel, path: str | Path) -> None:
    """Save a model as JSON, or YAML when the suffix says so; atomically."""
    path = Path(path)
    write_text_atomic(path, dump_model(model, yaml_syntax=path.suffix.lower() in YAML_SUFFIXES))


def save_problem(problem: Problem, path: str | Path) -> None:
    """Save a problem (JSON or YAML by suffix), atomically."""
    save_model(problem, path)


def save_schedule(schedule: Schedule, path: str | Path) -> None:
    """Save a schedule (JSON or YAML by suffix), atomically."""
    save_model(schedule, path)
