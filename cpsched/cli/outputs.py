"""Where a command's outputs go, checked before any work starts.

A solve can take minutes; an output that cannot be written must not be found only after it.
Each check raises an InputError naming the option, the path and the reason (exit 2), and never
creates anything: the writable folder is probed by creating and removing a temporary file in it
(or in the nearest folder that exists, where the output folder would be created), the honest
test, since permission bits say nothing for root, read-only mounts or immutable folders.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cpsched.model.errors import input_error


def _nearest_existing(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (`.` for a relative path with none)."""
    current = path
    while not current.exists() and not current.is_symlink():
        if current.parent == current:
            break
        current = current.parent
    return current


def _probe(folder: Path) -> str | None:
    """Why no file can be created in the existing `folder`, or None when one can."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".cpsched-probe-")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    Path(name).unlink(missing_ok=True)
    return None


def check_folder(folder: Path, option: str) -> None:
    """Refuse `folder` unless it is, or can be created as, a folder this process can write in."""
    base = _nearest_existing(folder)
    if not base.is_dir():
        where = (
            "is a file, expected a folder"
            if base == folder
            else f"cannot be created: {str(base)!r} is a file, not a folder"
        )
        raise input_error(option, "", f"{str(folder)!r} {where}")
    why = _probe(base)
    if why is not None:
        which = "" if base == folder else f" (it would be created in {str(base)!r})"
        raise input_error(option, "", f"cannot write into {str(folder)!r}{which}: {why}")


def check_files(folder: Path, names: Iterable[str], option: str, force: bool) -> None:
    """Check that the files `names` can be written into `folder`: the folder as check_folder,
    none of them a folder, and none already there unless `force` (then they are replaced)."""
    check_folder(folder, option)
    paths = [folder / name for name in names]
    folders = [p for p in paths if p.is_dir()]
    if folders:
        raise input_error(option, "", f"{str(folders[0])!r} is a folder; cannot write a file there")
    existing = [p.name for p in paths if p.exists()]
    if existing and not force:
        raise input_error(
            option,
            "",
            f"{str(folder)!r} already holds {', '.join(existing)}; pass --force to replace "
            f"{'it' if len(existing) == 1 else 'them'}, or choose another folder",
        )


def check_file(path: Path, option: str, force: bool) -> None:
    """Check that the file `path` can be written: not a folder, its folder writable (or
    creatable), and not already there unless `force`."""
    if path.is_dir():
        raise input_error(option, "", f"{str(path)!r} is a folder, expected a file name")
    check_files(path.parent, [path.name], option, force)


@contextmanager
def writing(path: Path, option: str = "--out") -> Iterator[None]:
    """Turn an OSError raised while writing `path` (a full disk, a folder removed meanwhile) into
    an InputError on `option` with the path and the reason, for one line and exit 2."""
    try:
        yield
    except OSError as exc:
        raise input_error(
            option, "", f"cannot write into {str(path)!r}: {exc.strerror or exc}"
        ) from None
