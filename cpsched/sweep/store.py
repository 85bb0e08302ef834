"""A sweep's folder: its manifest, the records appended one line per point, the final table.

`records.jsonl` is the sweep's memory: each point's record is appended as one JSON line when
the point ends, flushed and fsynced, by the one process that runs the sweep. A crash can leave
at most a torn last line; :func:`read_records` ignores it and :func:`open_for_resume` cuts it
off before anything is appended. `sweep.json` says which sweep the folder holds (the key of its
inputs), so a rerun resumes only the same sweep.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cpsched.model.errors import FieldProblem, InputError, input_error, output_error
from cpsched.model.io import write_text_atomic
from cpsched.model.result import solver_versions
from cpsched.sweep.spec import Sweep

SWEEP_FORMAT = "cpsched-sweep/1"
MANIFEST_FILE = "sweep.json"
RECORDS_FILE = "records.jsonl"
TABLE_FILE = "results.csv"
SUMMARY_FILE = "summary.md"
PLOT_FILES = ("alpha.png", "latency_memory.png", "winner.png")
# every file a sweep writes into its folder (and --force replaces)
SWEEP_FILES = (MANIFEST_FILE, RECORDS_FILE, TABLE_FILE, SUMMARY_FILE, *PLOT_FILES)


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records of a records.jsonl file and the length in bytes of its whole lines.

    A last line that is torn (no newline, or not JSON: a crash while it was written) is left
    out; a bad line before the last is an InputError naming the file and line.
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    good = 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):  # lines[-1]: after the last newline
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "key" not in record:
                raise ValueError("not a record")
        except ValueError:
            if number == len(lines) - 1:  # the last whole line: torn by a crash
                break
            raise input_error(
                str(path), f"line {number}", "is not a sweep record; the file is damaged"
            ) from None
        records.append(record)
        good += len(line) + 1
    return records, good


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one record as a JSON line, on disk before this returns (flush + fsync)."""
    line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
    try:
        with path.open("ab") as fh:
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise output_error(str(path), exc) from None


def manifest(sweep: Sweep) -> dict[str, Any]:
    """What sweep.json says: the sweep's name, file, inputs key and size."""
    return {
        "format": SWEEP_FORMAT,
        "name": sweep.spec.name,
        "source": sweep.source,
        "inputs_key": sweep.inputs_key(),
        "points": len(sweep.points),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": solver_versions(),
    }


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of a sweep folder, or None when there is none."""
    path = out / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise input_error(str(path), "", "is not JSON; the folder is damaged") from None
    if not isinstance(data, dict) or data.get("format") != SWEEP_FORMAT:
        raise input_error(str(path), "format", f"expected {SWEEP_FORMAT!r}")
    return data


def open_for_resume(sweep: Sweep, out: Path, force: bool) -> list[dict[str, Any]]:
    """Prepare `out` for `sweep`; the records already there that belong to it.

    A new or empty folder gets the manifest. A folder of the same sweep is resumed (its torn
    last line, if any, cut off). A folder holding another sweep, or other files, is refused
    unless `force`, which removes the sweep files and starts over.
    """
    if out.exists() and not out.is_dir():
        raise input_error("--out", "", f"{str(out)!r} is a file, expected a folder")
    previous = read_manifest(out) if out.is_dir() else None
    if force:
        for name in SWEEP_FILES:
            (out / name).unlink(missing_ok=True)
        previous = None
    elif previous is not None and previous.get("inputs_key") != sweep.inputs_key():
        raise InputError(
            "--out",
            (
                FieldProblem(
                    "",
                    f"{str(out)!r} holds sweep {previous.get('name')!r} "
                    f"({previous.get('points')} points) with other inputs than "
                    f"{sweep.source!r}; pass --force to replace it, or choose another folder",
                ),
            ),
        )
    elif previous is None and out.is_dir() and any(out.iterdir()):
        raise input_error(
            "--out",
            "",
            f"folder {str(out)!r} is not empty and holds no sweep; pass --force to write "
            "into it anyway, or choose another folder",
        )
    out.mkdir(parents=True, exist_ok=True)
    if previous is None:
        write_text_atomic(out / MANIFEST_FILE, json.dumps(manifest(sweep), indent=2) + "\n")
    path = out / RECORDS_FILE
    records, good = read_records(path)
    if path.exists() and path.stat().st_size != good:
        with path.open("r+b") as fh:  # cut the torn last line before appending after it
            fh.truncate(good)
    keys = {p.key() for p in sweep.points}
    return [r for r in records if r.get("key") in keys]


def load_sweep_folder(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The manifest and records of a sweep folder (for `cpsched sweep-report`)."""
    found = read_manifest(out) if out.is_dir() else None
    if found is None:
        raise input_error(str(out), "", f"no {MANIFEST_FILE}: not a sweep folder")
    return found, read_records(out / RECORDS_FILE)[0]


# --- the table ------------------------------------------------------------------------------

MEASURES = (
    "status", "proven", "method", "objective_value", "bound", "gap", "latency_cycles",
    "energy_total_pj", "energy_compute_pj", "energy_transfer_pj", "peak_memory_bytes",
    "peak_activation_bytes", "peak_weight_bytes", "peak_input_bytes", "bytes_moved",
    "dram_in_bytes", "dram_out_bytes", "tasks", "wall_time_s", "solve_time_s", "host", "error",
)  # fmt: skip


def table_rows(records: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """One flat row per record (sorted by point index): the columns and the rows."""
    wl_params = sorted({k for r in records for k in r["point"]["workload_params"]})
    hw_params = sorted({k for r in records for k in r["point"]["hardware_params"]})
    columns = [
        "index", "key", "workload", *(f"wl.{k}" for k in wl_params), "hardware",
        *(f"hw.{k}" for k in hw_params), "tiles", "head_tiles", "split", "mode", "objective",
        *MEASURES,
    ]  # fmt: skip
    rows = []
    for r in sorted(records, key=lambda r: int(r["index"])):
        p = r["point"]
        row: dict[str, Any] = {
            "index": r["index"],
            "key": r["key"],
            "workload": Path(p["workload"]).stem,
            "hardware": Path(p["hardware"]).stem,
            "tiles": p["tiling"]["tiles"],
            "head_tiles": p["tiling"]["head_tiles"],
            "split": " ".join(p["tiling"]["split"]),
            "mode": p["mode"],
            "objective": p["objective"],
        }
        row.update({f"wl.{k}": p["workload_params"].get(k, "") for k in wl_params})
        row.update({f"hw.{k}": p["hardware_params"].get(k, "") for k in hw_params})
        row.update({k: r.get(k) for k in MEASURES})
        rows.append(row)
    return columns, rows


def write_table(out: Path, records: list[dict[str, Any]]) -> Path:
    """results.csv: one row per point, in point order, written atomically."""
    columns, rows = table_rows(records)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    path = out / TABLE_FILE
    write_text_atomic(path, text.getvalue())
    return path
