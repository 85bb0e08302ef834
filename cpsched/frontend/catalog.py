"""Bundled models: workloads in models/workloads/*.yaml, hardware in models/hardware/*.yaml.

The models folder is found next to the package (repository root), which holds both for a source
checkout and for an editable install.
"""

from __future__ import annotations

from pathlib import Path

from cpsched.model.errors import input_error


def models_dir() -> Path:
    """The repository's models/ folder."""
    return Path(__file__).resolve().parents[2] / "models"


def bundled_workloads() -> list[str]:
    """Names of the bundled workloads, sorted."""
    return sorted(p.stem for p in (models_dir() / "workloads").glob("*.yaml"))


def bundled_hardware() -> list[str]:
    """Names of the bundled hardware descriptions, sorted."""
    return sorted(p.stem for p in (models_dir() / "hardware").glob("*.yaml"))


def _is_file(path: Path) -> bool | str:
    """Whether `path` is a file, or why it cannot even be looked up (e.g. a name too long)."""
    try:
        return path.is_file()
    except OSError as exc:  # ENAMETOOLONG
        return (exc.strerror or str(exc)).lower()
    except ValueError as exc:  # a NUL byte
        return str(exc)


def _find(name_or_path: str, folder: str, names: list[str], option: str, what: str) -> Path:
    path = Path(name_or_path)
    is_file = _is_file(path)
    if isinstance(is_file, str):
        shown = name_or_path if len(name_or_path) <= 60 else name_or_path[:57] + "..."
        raise input_error(option, "", f"{shown!r}: {is_file}")
    if name_or_path in names and not is_file:  # a folder of that name is not a model file
        return models_dir() / folder / f"{name_or_path}.yaml"
    if path.is_dir():
        raise input_error(option, "", f"{name_or_path!r} is a folder; expected a name or a file")
    if path.suffix or "/" in name_or_path or is_file or path.is_dir():
        if not is_file:
            raise input_error(
                option,
                "",
                f"file {name_or_path!r} not found; or use a bundled {what}: {', '.join(names)}",
            )
        return path
    if name_or_path in names:
        return models_dir() / folder / f"{name_or_path}.yaml"
    raise input_error(
        option,
        "",
        f"unknown {what} {name_or_path!r}; bundled: {', '.join(names)} (or give a file path)",
    )


def workload_path(name_or_path: str, option: str = "--workload") -> Path:
    """The file of a bundled workload by name, or the given path (which must exist)."""
    return _find(name_or_path, "workloads", bundled_workloads(), option, "workload")


def hardware_path(name_or_path: str, option: str = "--hardware") -> Path:
    """The file of a bundled hardware by name, or the given path (which must exist)."""
    return _find(name_or_path, "hardware", bundled_hardware(), option, "hardware")
