"""Random layer-fused problems of a chosen size, for property tests and benchmarks.

The shape follows what the problem builder makes from a transformer: a stack of layers, each cut
into tiles; tile t of a layer reads tile t (and sometimes t-1) of the previous layer and the
layer's weight from DRAM; the last layer's outputs are stored. Cores have private memories (or
share one) behind per-core bus links, with DRAM behind one DRAM link.
"""

from __future__ import annotations

import random
from typing import Any

from cpsched.model.problem import Problem


def random_problem(
    seed: int,
    *,
    n_cores: int = 2,
    n_layers: int = 3,
    tiles: int = 2,
    bounded_memory: bool = True,
    shared_memory: bool = False,
    group_layers: float = 0.3,
    barrier_prob: float = 0.2,
    after_prob: float = 0.1,
    restrict_options: float = 0.3,
    capacity_factor: int | None = None,
    causal_prob: float = 0.0,
) -> Problem:
    """A random problem, the same for the same arguments (seeded).

    Bounded local memories hold `capacity_factor` (default: 1 to 3 at random) times the most
    any single task needs at once, so every task fits alone but not everything fits together.
    """
    rng = random.Random(seed)
    mems: list[dict[str, Any]] = [{"id": "dram", "capacity_bytes": None}]
    cores: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = [
        {
            "id": "dram_link",
            "bandwidth_bytes_per_cycle": rng.choice([4, 8, 16]),
            "latency_cycles": rng.randint(0, 3),
            "energy_pj_per_byte": 2.0,
        }
    ]
    routes: list[dict[str, Any]] = []
    core_mem: list[str] = []
    for c in range(n_cores):
        mem = "l1" if shared_memory else f"l1_{c}"
        core_mem.append(mem)
        cores.append({"id": f"c{c}", "memory": mem})
    local_mems = sorted(set(core_mem))
    for m in local_mems:
        links.append(
            {
                "id": f"bus_{m}",
                "bandwidth_bytes_per_cycle": rng.choice([8, 16, 32]),
                "latency_cycles": rng.randint(0, 2),
                "energy_pj_per_byte": 0.5,
            }
        )
        routes.append({"src": "dram", "dst": m, "links": ["dram_link", f"bus_{m}"]})
        routes.append({"src": m, "dst": "dram", "links": [f"bus_{m}", "dram_link"]})
    for a in local_mems:
        for b in local_mems:
            if a != b:
                routes.append({"src": a, "dst": b, "links": [f"bus_{a}", f"bus_{b}"]})

    tensors: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    groups: list[list[str]] = []
    barriers: list[dict[str, Any]] = []
    prev: list[str] = []
    for t in range(tiles):
        tensors.append(
            {"id": f"x{t}", "size_bytes": 16 * rng.randint(1, 8), "kind": "input", "home": "dram"}
        )
        prev.append(f"x{t}")
    need = 0
    for layer in range(n_layers):
        name = f"L{layer}"
        weight = f"w{layer}"
        tensors.append(
            {"id": weight, "size_bytes": 16 * rng.randint(1, 16), "kind": "weight", "home": "dram"}
        )
        grouped = rng.random() < group_layers
        causal = causal_prob > 0 and rng.random() < causal_prob
        layer_cores = sorted(rng.sample(range(n_cores), rng.randint(1, n_cores)))
        ids = []
        for t in range(tiles):
            tid = f"{name}.t{t}"
            ids.append(tid)
            inputs = [prev[t], weight]
            if causal:  # like attention scores: tile t reads every earlier tile too
                inputs += prev[:t]
            elif t > 0 and rng.random() < 0.3:
                inputs.append(prev[t - 1])
            out = f"a{layer}_{t}"
            tensors.append(
                {
                    "id": out,
                    "size_bytes": 16 * rng.randint(1, 8),
                    "kind": "activation",
                    "producer": tid,
                    "store": layer == n_layers - 1,
                }
            )
            if grouped:
                cs = layer_cores
            elif rng.random() < restrict_options:
                cs = sorted(rng.sample(range(n_cores), rng.randint(1, n_cores)))
            else:
                cs = list(range(n_cores))
            base = rng.randint(1, 20)
            options = [
                {
                    "core": f"c{c}",
                    "duration_cycles": base + rng.randint(0, 5),
                    "energy_pj": float(base * 10),
                }
                for c in cs
            ]
            task: dict[str, Any] = {
                "id": tid,
                "layer": name,
                "tile": t,
                "inputs": inputs,
                "outputs": [out],
                "options": options,
            }
            if tasks and rng.random() < after_prob:
                task["after"] = [rng.choice(tasks)["id"]]
            tasks.append(task)
        if grouped and tiles > 1:
            groups.append(ids)
        if layer > 0 and rng.random() < barrier_prob:
            barriers.append({"before": [f"L{layer - 1}.t{t}" for t in range(tiles)], "after": ids})
        prev = [f"a{layer}_{t}" for t in range(tiles)]
    sizes = {t["id"]: t["size_bytes"] for t in tensors}
    for task in tasks:
        need = max(
            need, sum(sizes[x] for x in task["inputs"]) + sum(sizes[x] for x in task["outputs"])
        )
    for m in local_mems:
        cap = None
        if bounded_memory:
            factor = capacity_factor or rng.choice([1, 2, 3])
            cap = need * factor * (n_cores if shared_memory else 1)
        mems.append({"id": m, "capacity_bytes": cap})
    return Problem.model_validate(
        {
            "format": "cpsched-problem/2",
            "name": f"random-{seed}",
            "memories": mems,
            "cores": cores,
            "links": links,
            "routes": routes,
            "tensors": tensors,
            "tasks": tasks,
            "groups": groups,
            "barriers": barriers,
        }
    )
