"""Measure the exported blocks: does each import, its tasks at T=1 and T=4, and a CP-SAT solve.

Not part of the package. Run from the repository root on a folder made by
tools/export_onnx_blocks.py (e.g. ``--all --d-model 256 --seq 64 128``)::

    PYTHONPATH=. python tools/measure_onnx_blocks.py /tmp/onnx256 --out /tmp/onnx256.json

Each file is built on quad_bus with int8 weights (``--bits weights=8``); the solve is the CLI's
``cpsched solve -w FILE --hardware quad_bus --bits weights=8 -T 4 --time-limit 10 --json``.
Files whose T=4 problems are identical (exporter variants that differ only in names) are solved
once and share the result. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cpsched.frontend.build import build_problem, load_hardware
from cpsched.frontend.tiling import TilingSpec
from cpsched.frontend.workload.onnx_import import load_onnx
from cpsched.frontend.workload.precision import Precision
from cpsched.model.errors import InputError

NAME = re.compile(
    r"(?P<block>[a-z0-9_]+?)_(?P<exporter>ts|dynamo)(?P<opset>\d+)(?P<nofold>_nofold)?"
    r"(?P<sim>_sim)?_d(?P<d>\d+)_s(?P<seq>\d+)\.onnx"
)


def solve(path: Path, time_limit: float) -> dict[str, object]:
    """`cpsched solve` on one file through the CLI, as a user runs it; its JSON summary."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-c",
            "from cpsched.cli import app; app()",
            "solve",
            "-w",
            str(path),
            "--hardware",
            "quad_bus",
            "--bits",
            "weights=8",
            "-T",
            "4",
            "--time-limit",
            str(time_limit),
            "--json",
            "--out",
            str(Path(out) / "run"),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode == 2 and "fit no memory" in done.stderr:
            return {"status": "no fit at T=4 (needs --split)", "latency_cycles": None}
        if done.returncode not in (0, 3, 4):
            first = (done.stderr.strip().splitlines() or [""])[0][:120]
            return {"status": f"exit {done.returncode}: {first}", "latency_cycles": None}
        data = json.loads(done.stdout)
        metrics = data.get("metrics") or {}
        return {"status": data["status"], "latency_cycles": metrics.get("latency_cycles")}


def main() -> None:
    """Measure every .onnx file of a folder; write JSON and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    solved: dict[str, dict[str, object]] = {}
    hardware = load_hardware("quad_bus")
    for path in sorted(args.folder.glob("*.onnx")):
        match = NAME.fullmatch(path.name)
        assert match, path.name
        row: dict[str, object] = {
            "file": path.name,
            "block": match["block"],
            "exporter": f"{match['exporter']}{match['opset']}",
            "fold": not match["nofold"],
            "onnxsim": bool(match["sim"]),
            "seq": int(match["seq"]),
        }
        try:
            workload = load_onnx(path, precision=Precision(weights=8))
            row["builds"] = True
            row["layers"] = len(workload.layers)
            row["macs"] = sum(layer.macs() for layer in workload.layers if layer.op == "matmul")
            for tiles in (1, 4):
                problem = build_problem(workload, hardware, TilingSpec(tiles=tiles))
                row[f"tasks_t{tiles}"] = len(problem.tasks)
            dump = problem.model_dump(mode="json")
            dump.pop("name", None)
            key = hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()
            if key not in solved:
                solved[key] = solve(path, args.time_limit)
                solved[key]["solved_as"] = path.name
            row.update(solved[key])
        except InputError as exc:
            row["builds"] = False
            row["error"] = str(exc).splitlines()[0][:200]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(
        "| block | seq | exporter | fold | onnxsim | builds | layers | tasks T=1 | tasks T=4 "
        "| status | latency (cycles) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['block']} | {r['seq']} | {r['exporter']} | {'on' if r['fold'] else 'off'} "
            f"| {'yes' if r['onnxsim'] else 'no'} | {'yes' if r['builds'] else 'no'} "
            f"| {r.get('layers', '')} | {r.get('tasks_t1', '')} | {r.get('tasks_t4', '')} "
            f"| {r.get('status', r.get('error', ''))} | {r.get('latency_cycles', '')} |"
        )


if __name__ == "__main__":
    main()
