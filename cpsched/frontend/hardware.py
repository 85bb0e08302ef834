"""Accelerator hardware described in YAML: memories, cores, links, topology; route derivation.

Units live in field names. The topology is either a set of links that each connect two or more
nodes (`bus`: one link shared by many memories; `p2p`: links between pairs), routed by fewest
hops, or a 2D `mesh` of routers `r{x}_{y}` with one directed link per neighbour pair and XY
routing (first along x, then along y). Nodes are memories or named hubs/routers; memories off the
mesh (e.g. DRAM) attach to it through ordinary links. Every pair of memories that has a path gets
a route, as docs/problem.md requires.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    model_validator,
)

from cpsched.frontend.workload.load import Param, eval_size
from cpsched.frontend.workload.spec import OP_KINDS, OpKind
from cpsched.model.errors import FieldProblem, InputError, input_error
from cpsched.model.io import parse_model, read_data
from cpsched.model.problem import (
    DRAM,
    MAX_ENERGY_PJ,
    MAX_INTEGER,
    MIN_BANDWIDTH_BYTES_PER_CYCLE,
    Link,
    LinkId,
    LinkSharing,
    Memory,
    MemoryId,
    Route,
)

# A mesh has at most this many routers along each side (routes are derived router by router).
MAX_MESH_SIDE = 256

# Strict numbers within what the problem format accepts (cpsched.model.problem's limits): a
# string or a boolean is never read as a number.
Count = Annotated[StrictInt, Field(ge=1, le=MAX_INTEGER)]
Cycles = Annotated[StrictInt, Field(ge=0, le=MAX_INTEGER)]
Bandwidth = Annotated[StrictFloat, Field(ge=MIN_BANDWIDTH_BYTES_PER_CYCLE, allow_inf_nan=False)]
Energy = Annotated[StrictFloat, Field(ge=0, le=MAX_ENERGY_PJ, allow_inf_nan=False)]
Coordinate = Annotated[StrictInt, Field(ge=-MAX_INTEGER, le=MAX_INTEGER)]  # off the mesh: reported

CoreKind = Literal["mac_array", "vector"]
MatmulRole = Literal["m", "n", "k"]

# Cycles per output element per lane, by operation kind (overridable per core in YAML).
# elementwise/add: one op; activation (GELU/SiLU): a short polynomial; softmax: max, subtract,
# exp, sum, divide; layernorm: mean, variance, normalize, scale, shift; rmsnorm: square-sum,
# rsqrt-scale, scale. Transpose has no compute: its cost is data movement only.
DEFAULT_CYCLES_PER_ELEMENT: dict[str, int] = {
    "elementwise": 1,
    "add": 1,
    "activation": 4,
    "softmax": 5,
    "layernorm": 6,
    "rmsnorm": 4,
    "transpose": 0,
    "matmul": 1,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemorySpec(_Strict):
    """A memory: capacity (null = unbounded, DRAM), port bandwidths and access energy."""

    id: MemoryId = Field(min_length=1)
    capacity_bytes: StrictInt | None = Field(default=None, ge=0, le=MAX_INTEGER)
    read_bandwidth_bytes_per_cycle: Bandwidth
    write_bandwidth_bytes_per_cycle: Bandwidth
    energy_pj_per_byte: Energy
    # where spills go (e.g. l2 for GAP8's l1); None: dram for a bounded memory (memory_backing)
    backing: MemoryId | None = Field(default=None, min_length=1)


class Unroll(_Strict):
    """Which matmul role each array axis unrolls: m (output rows), n (output cols), k (summed)."""

    rows: MatmulRole = "k"
    cols: MatmulRole = "n"


class CoreSpec(_Strict):
    """A compute core: a MAC array (rows x cols, unrolling two matmul roles) or a vector unit."""

    id: str = Field(min_length=1)
    kind: CoreKind
    memory: MemoryId
    rows: Count = 1
    cols: Count = 1
    unroll: Unroll = Unroll()
    lanes: Count | None = None  # vector lanes; a MAC array defaults to cols
    mac_energy_pj: Energy  # per MAC, or per lane-operation
    ops: tuple[OpKind, ...] = OP_KINDS
    cycles_per_element: dict[OpKind, Cycles] = Field(default_factory=dict)

    def vector_lanes(self) -> int:
        """Lanes used for element-wise work (a MAC array uses one row of `cols` lanes)."""
        if self.lanes is not None:
            return self.lanes
        return self.cols if self.kind == "mac_array" else 1

    def op_cycles(self, op: str) -> int:
        """Cycles per element per lane for `op` on this core."""
        return self.cycles_per_element.get(op, DEFAULT_CYCLES_PER_ELEMENT[op])  # type: ignore[call-overload]


class LinkSpec(_Strict):
    """A link and the nodes (memories or hubs) it connects; more than two nodes make a bus."""

    id: LinkId = Field(min_length=1)
    bandwidth_bytes_per_cycle: Bandwidth
    latency_cycles: Cycles = 0
    energy_pj_per_byte: Energy = 0.0
    connects: tuple[str, ...] = Field(min_length=2)
    # None: the defaults of the module docstring (bus: bandwidth + multicast; p2p pair: exclusive)
    sharing: LinkSharing | None = None
    multicast: StrictBool | None = None


class MeshLink(_Strict):
    """The parameters every mesh link shares (by default bandwidth-shared, no multicast)."""

    bandwidth_bytes_per_cycle: Bandwidth
    latency_cycles: Cycles = 0
    energy_pj_per_byte: Energy = 0.0
    sharing: LinkSharing = "bandwidth"
    multicast: StrictBool = False


class Topology(_Strict):
    """How memories are connected: explicit links (bus / p2p) or a mesh plus explicit links."""

    kind: Literal["bus", "p2p", "mesh"]
    links: tuple[LinkSpec, ...] = ()
    mesh_cols: StrictInt = Field(default=0, ge=0, le=MAX_MESH_SIDE)  # x extent
    mesh_rows: StrictInt = Field(default=0, ge=0, le=MAX_MESH_SIDE)  # y extent
    mesh_link: MeshLink | None = None
    place: dict[MemoryId, tuple[Coordinate, Coordinate]] = Field(
        default_factory=dict
    )  # memory -> (x, y)


class HardwareHeader(BaseModel):
    """The parts of a hardware file read before its expressions are evaluated."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = ""
    description: str = ""
    params: dict[str, Param] = Field(default_factory=dict)


class Hardware(_Strict):
    """An accelerator: memories (one is `dram`), cores, and their topology.

    A file may declare integer `params` (name -> {default, doc}) and use them in expressions at
    the numeric fields (``capacity_bytes: L1_KIB * 1024``), as workload files do; they are
    evaluated with the defaults, or with the overrides of :func:`load_hardware_file`.
    """

    name: str
    description: str = ""
    memories: tuple[MemorySpec, ...] = Field(min_length=1)
    cores: tuple[CoreSpec, ...] = Field(min_length=1)
    topology: Topology
    # the file it was read from ("" when built in code), for messages that name it
    _source: str = PrivateAttr(default="")
    # the parameter values its expressions were evaluated with (empty: a file without params)
    _params: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _evaluate_params(cls, data: Any, info: ValidationInfo) -> Any:
        """Data with `params` evaluated at their defaults (or the context's overrides)."""
        if not isinstance(data, dict) or "params" not in data:
            return data
        overrides = (info.context or {}).get("hardware_params", {})
        try:
            return substitute_hardware_params(data, overrides, "hardware")[0]
        except InputError as exc:
            raise ValueError(str(exc)) from None

    @property
    def params(self) -> dict[str, int]:
        """The parameter values this hardware was made with (empty without params)."""
        return dict(self._params)

    @property
    def source(self) -> str:
        """The file this hardware was read from, or "" when it was built in code."""
        return self._source

    def memory_by_id(self) -> dict[MemoryId, MemorySpec]:
        """Memories by id."""
        return {m.id: m for m in self.memories}


def router(x: int, y: int) -> str:
    """Name of the mesh router at column x, row y."""
    return f"r{x}_{y}"


def mesh_link_id(a: tuple[int, int], b: tuple[int, int]) -> LinkId:
    """Id of the directed mesh link from router a to neighbouring router b."""
    return LinkId(f"{router(*a)}>{router(*b)}")


def _duplicates(section: str, ids: Sequence[str], what: str) -> list[FieldProblem]:
    """One problem per repeated id, at its second (third, ...) place, naming the id."""
    out: list[FieldProblem] = []
    first: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x in first:
            out.append(
                FieldProblem(
                    f"{section}[{i}].id",
                    f"duplicate {what} id {x!r} (also {section}[{first[x]}]); ids must be unique",
                )
            )
        else:
            first[x] = i
    return out


def hardware_problems(hw: Hardware) -> list[FieldProblem]:
    """Every inconsistency: dangling memories and nodes, a missing dram, bad mesh placement."""
    out: list[FieldProblem] = []
    mems = [m.id for m in hw.memories]
    out += _duplicates("memories", mems, "memory")
    if DRAM not in mems:
        out.append(FieldProblem("memories", f"no memory {DRAM!r}; weights and inputs live in DRAM"))
    for i, m in enumerate(hw.memories):
        if m.id == DRAM and m.capacity_bytes is not None:
            out.append(
                FieldProblem(f"memories[{i}].capacity_bytes", "must be null (unbounded) for dram")
            )
    backing = {m.id: m.backing for m in hw.memories if m.backing is not None}
    for i, m in enumerate(hw.memories):
        if m.backing is None:
            continue
        path = f"memories[{i}].backing"
        if m.id == DRAM:
            out.append(FieldProblem(path, f"{DRAM!r} has no backing store: spills end there"))
        elif m.backing not in mems:
            out.append(FieldProblem(path, f"unknown memory {m.backing!r}; memories: {mems}"))
        else:
            chain: list[str] = [m.id]
            here: str | None = m.backing
            while here is not None and here not in chain:
                chain.append(here)
                here = backing.get(MemoryId(here))
            if here == m.id:
                loop = " -> ".join(map(repr, [*chain, m.id]))
                out.append(
                    FieldProblem(
                        path, f"closes a loop of backing stores ({loop}); it must end in {DRAM!r}"
                    )
                )
    out += _duplicates("cores", [c.id for c in hw.cores], "core")
    for i, c in enumerate(hw.cores):
        if c.memory not in mems:
            out.append(
                FieldProblem(f"cores[{i}].memory", f"unknown memory {c.memory!r}; memories: {mems}")
            )
        for op in c.cycles_per_element:
            if op not in c.ops:
                out.append(
                    FieldProblem(
                        f"cores[{i}].cycles_per_element.{op}", "the core does not support this op"
                    )
                )
    t = hw.topology
    out += _duplicates("topology.links", [lk.id for lk in t.links], "link")
    if t.kind == "mesh":
        if t.mesh_cols < 1 or t.mesh_rows < 1 or t.mesh_link is None:
            out.append(
                FieldProblem("topology", "a mesh needs mesh_cols, mesh_rows >= 1 and mesh_link")
            )
        for mem, (x, y) in t.place.items():
            if mem not in mems:
                out.append(
                    FieldProblem(f"topology.place.{mem}", f"unknown memory; memories: {mems}")
                )
            if not (0 <= x < t.mesh_cols and 0 <= y < t.mesh_rows):
                out.append(FieldProblem(f"topology.place.{mem}", f"({x}, {y}) is outside the mesh"))
    elif t.place:
        out.append(
            FieldProblem("topology.place", f"only a mesh places memories (kind is {t.kind!r})")
        )
    return out


def _explicit_paths(links: tuple[LinkSpec, ...], start: str) -> dict[str, list[LinkId]]:
    """Fewest-hop link paths from `start` to every node reachable over explicit links (BFS)."""
    adj: dict[str, list[tuple[str, LinkId]]] = {}
    for lk in links:
        for a in lk.connects:
            for b in lk.connects:
                if a != b:
                    adj.setdefault(a, []).append((b, lk.id))
    paths: dict[str, list[LinkId]] = {start: []}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt, link_id in adj.get(node, []):
            if nxt not in paths:
                paths[nxt] = [*paths[node], link_id]
                queue.append(nxt)
    return paths


def _xy_route(a: tuple[int, int], b: tuple[int, int]) -> list[LinkId]:
    """Directed mesh links from router a to router b: along x first, then along y."""
    out: list[LinkId] = []
    x, y = a
    while x != b[0]:
        nx = x + (1 if b[0] > x else -1)
        out.append(mesh_link_id((x, y), (nx, y)))
        x = nx
    while y != b[1]:
        ny = y + (1 if b[1] > y else -1)
        out.append(mesh_link_id((x, y), (x, ny)))
        y = ny
    return out


def link_sharing(hw: Hardware, lk: LinkSpec) -> tuple[LinkSharing, bool]:
    """`sharing` and `multicast` of an explicit link, its file's or the defaults: a bus (more
    than two nodes) is shared by bandwidth and multicasts; a pair of a `p2p` topology is a DMA
    channel, exclusive; any other link is shared by bandwidth without multicast."""
    bus = len(set(lk.connects)) > 2
    dma = not bus and hw.topology.kind == "p2p"
    sharing: LinkSharing = lk.sharing or ("exclusive" if dma else "bandwidth")
    multicast = lk.multicast if lk.multicast is not None else bus
    return sharing, multicast


def memory_backing(m: MemorySpec) -> MemoryId | None:
    """Where `m`'s copies spill: its `backing`, else dram for a bounded memory other than dram,
    else None (dram and unbounded memories spill nowhere)."""
    if m.backing is not None:
        return m.backing
    if m.id == DRAM or m.capacity_bytes is None:
        return None
    return DRAM


def hardware_memories(hw: Hardware) -> list[Memory]:
    """Every memory of the problem, with its capacity and its backing store resolved."""
    return [
        Memory(id=m.id, capacity_bytes=m.capacity_bytes, backing=memory_backing(m))
        for m in hw.memories
    ]


def hardware_links(hw: Hardware) -> list[Link]:
    """Every link of the problem: the explicit ones and, on a mesh, the directed mesh links."""
    out = []
    for lk in hw.topology.links:
        sharing, multicast = link_sharing(hw, lk)
        out.append(
            Link(
                id=lk.id,
                bandwidth_bytes_per_cycle=lk.bandwidth_bytes_per_cycle,
                latency_cycles=lk.latency_cycles,
                energy_pj_per_byte=lk.energy_pj_per_byte,
                sharing=sharing,
                multicast=multicast,
            )
        )
    t = hw.topology
    if t.kind == "mesh" and t.mesh_link is not None:
        for y in range(t.mesh_rows):
            for x in range(t.mesh_cols):
                for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                    if 0 <= nx < t.mesh_cols and 0 <= ny < t.mesh_rows:
                        out.append(
                            Link(
                                id=mesh_link_id((x, y), (nx, ny)),
                                bandwidth_bytes_per_cycle=t.mesh_link.bandwidth_bytes_per_cycle,
                                latency_cycles=t.mesh_link.latency_cycles,
                                energy_pj_per_byte=t.mesh_link.energy_pj_per_byte,
                                sharing=t.mesh_link.sharing,
                                multicast=t.mesh_link.multicast,
                            )
                        )
    return out


def _dedupe(links: list[LinkId]) -> tuple[LinkId, ...]:
    seen: list[LinkId] = []
    for lk in links:
        if lk not in seen:
            seen.append(lk)
    return tuple(seen)


def derive_routes(hw: Hardware) -> list[Route]:
    """A route for every ordered pair of distinct memories connected by the topology.

    bus/p2p: the fewest-hop path over the links (a bus is one hop between any two of its
    nodes). mesh: from the source memory to its router (placed there, or over explicit links to
    the nearest router), XY through the mesh, then out to the destination memory.
    """
    t = hw.topology
    mems = [m.id for m in hw.memories]
    routes: list[Route] = []
    if t.kind != "mesh":
        for a in mems:
            paths = _explicit_paths(t.links, a)
            for b in mems:
                if b != a and b in paths:
                    routes.append(Route(src=a, dst=b, links=_dedupe(paths[b])))
        return routes
    routers = {router(x, y): (x, y) for x in range(t.mesh_cols) for y in range(t.mesh_rows)}
    attach: dict[MemoryId, tuple[tuple[int, int], list[LinkId]]] = {}
    for m in mems:
        if m in t.place:
            attach[m] = (t.place[m], [])
            continue
        paths = _explicit_paths(t.links, m)
        near = sorted((len(p), name) for name, p in paths.items() if name in routers)
        if near:
            name = near[0][1]
            attach[m] = (routers[name], paths[name])
    for a in mems:
        direct = _explicit_paths(t.links, a)
        for b in mems:
            if a == b:
                continue
            if a in attach and b in attach:
                (ra, pa), (rb, pb) = attach[a], attach[b]
                links = [*pa, *_xy_route(ra, rb), *reversed(pb)]
                if links:
                    routes.append(Route(src=a, dst=b, links=_dedupe(links)))
            elif b in direct:
                routes.append(Route(src=a, dst=b, links=_dedupe(direct[b])))
    return routes


def check_hardware(hw: Hardware, source: str) -> Hardware:
    """Return `hw` if consistent (including: every core's memory reaches dram), else raise."""
    problems = hardware_problems(hw)
    if not problems:
        pairs = {(r.src, r.dst) for r in derive_routes(hw)}
        for i, c in enumerate(hw.cores):
            if c.memory != DRAM and (
                (c.memory, DRAM) not in pairs or (DRAM, c.memory) not in pairs
            ):
                problems.append(
                    FieldProblem(
                        f"cores[{i}].memory",
                        f"memory {c.memory!r} has no path to and from {DRAM!r} in the topology",
                    )
                )
        for i, m in enumerate(hw.memories):
            if m.backing is not None and (
                (m.id, m.backing) not in pairs or (m.backing, m.id) not in pairs
            ):
                problems.append(
                    FieldProblem(
                        f"memories[{i}].backing",
                        f"memory {m.id!r} has no path to and from its backing store "
                        f"{m.backing!r} in the topology",
                    )
                )
    if problems:
        raise InputError(source, tuple(problems))
    return hw


# The numeric fields where a hardware file may write an expression of its parameters.
PARAMETRIC_FIELDS = frozenset(
    {
        "capacity_bytes",
        "read_bandwidth_bytes_per_cycle",
        "write_bandwidth_bytes_per_cycle",
        "rows",
        "cols",
        "lanes",
        "bandwidth_bytes_per_cycle",
        "latency_cycles",
        "mesh_cols",
        "mesh_rows",
    }
)


def read_hardware_header(path: str | Path) -> HardwareHeader:
    """Name, description and parameters of a hardware file (for listings and sweeps)."""
    return parse_model(read_data(path), HardwareHeader, str(path))


def resolve_hardware_params(
    header: HardwareHeader, overrides: Mapping[str, int], source: str, option: str = "--set"
) -> dict[str, int]:
    """The defaults with `overrides` applied; an unknown name lists the parameters."""
    params = {k: p.default for k, p in header.params.items()}
    for key, value in overrides.items():
        if key not in params:
            known = ", ".join(f"{k} (default {v})" for k, v in params.items()) or "none"
            raise input_error(
                option,
                key,
                f"unknown parameter of hardware {header.name or source!r}; its parameters: {known}",
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise input_error(
                option,
                key,
                f"value {value!r} must be an integer >= 1 (hardware parameters are sizes, "
                f"bandwidths and counts; default {params[key]})",
            )
        params[key] = value
    return params


def substitute_hardware_params(
    data: dict[str, Any], overrides: Mapping[str, int], source: str
) -> tuple[dict[str, Any], dict[str, int]]:
    """`data` without `params`, its expressions evaluated; and the parameter values used."""
    header = parse_model(data, HardwareHeader, source)
    params = resolve_hardware_params(header, overrides, source)
    problems: list[FieldProblem] = []

    def walk(value: Any, path: str, key: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}" if path else str(k), str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}[{i}]", key) for i, v in enumerate(value)]
        parent = path.split(".")[-2:-1]
        numeric = (key in PARAMETRIC_FIELDS and parent != ["unroll"]) or parent == [
            "cycles_per_element"
        ]
        # a number written as a string ("128") stays a string, refused as the format says
        if isinstance(value, str) and numeric and not value.strip().lstrip("-").isdigit():
            try:
                return eval_size(value, params)
            except ValueError as exc:
                problems.append(FieldProblem(path, str(exc)))
        return value

    out = {k: walk(v, k, k) for k, v in data.items() if k != "params"}
    if problems:
        raise InputError(source, tuple(problems))
    return out, params


def load_hardware_file(path: str | Path, overrides: Mapping[str, int] | None = None) -> Hardware:
    """Load and check a hardware YAML file with parameter overrides (it remembers the file and
    the parameter values, for messages and records)."""
    source = str(path)
    data = read_data(path)
    params: dict[str, int] = {}
    if isinstance(data, dict) and "params" in data:
        data, params = substitute_hardware_params(data, overrides or {}, source)
    elif overrides:
        raise input_error(
            "--set", next(iter(overrides)), f"hardware {source!r} declares no parameters"
        )
    hw = check_hardware(parse_model(data, Hardware, source), source)
    hw._source = source
    hw._params = params
    return hw


def core_type_key(hw: Hardware, core: CoreSpec) -> str:
    """What makes two cores cost the same: their spec (without id) and their memory's ports."""
    mem: Mapping[MemoryId, MemorySpec] = hw.memory_by_id()
    spec = core.model_dump(mode="json", exclude={"id", "memory"})
    m = mem[core.memory].model_dump(mode="json", exclude={"id", "capacity_bytes", "backing"})
    return repr((sorted(spec.items()), sorted(m.items())))
