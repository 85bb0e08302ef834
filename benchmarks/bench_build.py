"""How fast problems are built, and how large they are.

1. Builds BERT-base (M=512, 12 heads) at T=16 for the 4x4 mesh (load, tile, cost, Problem
   validation) and prints the median wall time of `--runs` builds (target: under 2 s).
2. Prints the tasks, tensors and edges (task inputs) of every bundled workload at T=8 on the
   default hardware.

    python benchmarks/bench_build.py [--runs 3] [--tiles 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from cpsched.frontend.build import build_problem, load_hardware, load_workload
from cpsched.frontend.catalog import bundled_workloads
from cpsched.frontend.tiling import TilingSpec
from cpsched.model.io import write_text_atomic
from cpsched.model.problem import Problem, Task


def bert_build_s(runs: int) -> tuple[float, Problem]:
    """Median seconds to load and build BERT-base M=512, T=16 on mesh4x4 (and the problem)."""
    times = []
    problem = None
    for _ in range(runs):
        t0 = time.perf_counter()
        w = load_workload("bert_base", {"M": 512})
        hw = load_hardware("mesh4x4")
        problem = build_problem(w, hw, TilingSpec(tiles=16))
        times.append(time.perf_counter() - t0)
    assert problem is not None
    return statistics.median(times), problem


def fits_somewhere(p: Problem, task: Task) -> bool:
    """Whether the task's inputs and outputs fit together in the memory of one of its cores."""
    need = sum(p.tensor_by_id[x].size_bytes for x in (*task.inputs, *task.outputs))
    caps = [p.memory_by_id[p.memory_of(o.core)].capacity_bytes for o in task.options]
    return any(c is None or need <= c for c in caps)


def sizes(tiles: int, hardware: str) -> list[dict[str, Any]]:
    """Tasks, tensors and edges of every bundled workload at `tiles` tiles."""
    hw = load_hardware(hardware)
    rows = []
    for name in bundled_workloads():
        w = load_workload(name, {})
        p = build_problem(w, hw, TilingSpec(tiles=tiles))
        rows.append(
            {
                "workload": name,
                "layers": len(w.layers),
                "tasks": len(p.tasks),
                "tensors": len(p.tensors),
                "edges": sum(len(t.inputs) for t in p.tasks),
                "data_edges": sum(
                    len({p.tensor_by_id[x].producer for x in t.inputs} - {None}) for t in p.tasks
                ),
                "too_big": sum(1 for t in p.tasks if not fits_somewhere(p, t)),
            }
        )
    return rows


def main() -> None:
    """Run both measurements, print tables, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tiles", type=int, default=8)
    parser.add_argument("--hardware", default="quad_bus", help="hardware for the size table")
    parser.add_argument("--json", dest="json_path", default=None, help="also write results here")
    args = parser.parse_args()
    seconds, bert = bert_build_s(args.runs)
    console = Console()
    console.print(
        f"BERT-base M=512, 12 heads, T=16 on mesh4x4: {seconds:.3f} s median of {args.runs} "
        f"({len(bert.tasks)} tasks, {len(bert.tensors)} tensors, {len(bert.routes)} routes)"
    )
    rows = sizes(args.tiles, args.hardware)
    table = Table(title=f"bundled workloads at T={args.tiles} on {args.hardware}")
    cols = ["workload", "layers", "tasks", "tensors", "edges", "data_edges", "too_big"]
    for col in cols:
        table.add_column(col, justify="left" if col == "workload" else "right")
    for r in rows:
        table.add_row(*(str(r[c]) for c in cols))
    console.print(table)
    console.print(
        "edges: tensor reads (task inputs); data_edges: distinct producer -> consumer task pairs;"
        " too_big: tasks whose inputs + outputs fit in none of their cores' memories"
    )
    if args.json_path:
        payload = {
            "bert_base_m512_t16_mesh4x4_build_s": seconds,
            "bert_tasks": len(bert.tasks),
            "bert_tensors": len(bert.tensors),
            "runs": args.runs,
            "sizes": rows,
        }
        write_text_atomic(args.json_path, json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
