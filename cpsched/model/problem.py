"""The scheduling problem of docs/problem.md (`cpsched-problem/2`): plain, frozen, validated data.

Everything downstream (solvers, heuristics, validator, reports) reads a :class:`Problem`;
nothing here knows how it will be solved. Field-level checks are pydantic's; every
cross-reference is checked in one place, :func:`reference_problems`. A `cpsched-problem/1`
file is read as version 2 with every link `exclusive` and not `multicast` (docs/problem.md,
"Version 1"), so it keeps its meaning; everything written is version 2.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from functools import cached_property
from typing import Any, Literal, NewType

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    model_validator,
)

from cpsched.model.errors import FieldProblem

PROBLEM_FORMAT: Literal["cpsched-problem/2"] = "cpsched-problem/2"
PROBLEM_FORMAT_1 = "cpsched-problem/1"  # read as version 2 (upgrade_problem_1), never written

# --- Limits: the largest numbers the solvers represent exactly (docs/problem.md) ---
#
# CP-SAT works on int64 and requires every variable domain within +-2**62 and the sum over all
# variables of their domain sizes below 2**63; its linear constraints and objective must stay
# below 2**62 for every assignment. A problem within these limits cannot break any of that:
#
# - every integer field (cycles, bytes, tile numbers) is at most MAX_INTEGER;
# - the horizon (every task at its slowest option plus, for each tensor and each memory a route
#   leads into, its slowest transfer there, one after another) is at most MAX_HORIZON_CYCLES:
#   time variables range over [0, horizon], so the model holds up to 2**22 (four million) of
#   them before their domains sum past 2**62, far more than a problem Python can hold;
# - link bandwidths are at least MIN_BANDWIDTH_BYTES_PER_CYCLE (so a transfer takes at most
#   2**60 cycles before the horizon check refuses it) and every number is finite;
# - the bytes of all tensors sum to at most MAX_TOTAL_BYTES: a memory's cumulative adds at
#   most two copies of each tensor (2**49), and a peak floor sums one task's bytes over the
#   cores it may run on (under 2**62 for up to 16,384 cores);
# - an energy (per task option, per byte of a link) is at most MAX_ENERGY_PJ, and every energy
#   the CP-SAT energy objective can add (every option, every tensor over every route) sums to
#   at most MAX_TOTAL_ENERGY_PJ, so a weighted objective such as latency+0.001*energy, scaled to
#   integers at six significant digits of its weights (cpsched.cpsat.objective), stays below
#   2**62 (10**6 * 0.001 * 2**50 + 10**6 * 2**40).
MAX_INTEGER = 2**40
MAX_HORIZON_CYCLES = 2**40
MIN_BANDWIDTH_BYTES_PER_CYCLE = 2.0**-20
MAX_TOTAL_BYTES = 2**48
MAX_ENERGY_PJ = float(2**40)
MAX_TOTAL_ENERGY_PJ = float(2**50)

MemoryId = NewType("MemoryId", str)
CoreId = NewType("CoreId", str)
LinkId = NewType("LinkId", str)
TensorId = NewType("TensorId", str)
TaskId = NewType("TaskId", str)

TensorKind = Literal["activation", "weight", "input"]
LinkSharing = Literal["bandwidth", "exclusive"]
TENSOR_KINDS: tuple[TensorKind, ...] = ("activation", "weight", "input")
DRAM = MemoryId("dram")


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Memory(_Data):
    """A memory; `capacity_bytes: null` means unbounded (normally only DRAM)."""

    id: MemoryId = Field(min_length=1)
    capacity_bytes: StrictInt | None = Field(ge=0, le=MAX_INTEGER)
    # where solvers that restrict spill targets spill this memory's copies (no validity meaning)
    backing: MemoryId | None = Field(default=None, min_length=1)


class Core(_Data):
    """A compute core and the memory it reads and writes (possibly shared with other cores)."""

    id: CoreId = Field(min_length=1)
    memory: MemoryId


class Link(_Data):
    """A link: `bandwidth` sharing lets transfers share it as long as their rates add up to at
    most its bandwidth at every cycle; `exclusive` carries one transfer at a time. `multicast`
    says whether a transfer to several memories at once may use it (docs/problem.md)."""

    id: LinkId = Field(min_length=1)
    bandwidth_bytes_per_cycle: StrictFloat = Field(
        ge=MIN_BANDWIDTH_BYTES_PER_CYCLE, allow_inf_nan=False
    )
    latency_cycles: StrictInt = Field(default=0, ge=0, le=MAX_INTEGER)
    energy_pj_per_byte: StrictFloat = Field(
        default=0.0, ge=0, le=MAX_ENERGY_PJ, allow_inf_nan=False
    )
    sharing: LinkSharing = "bandwidth"
    multicast: StrictBool = False


class Route(_Data):
    """The links a transfer from memory `src` to memory `dst` occupies, all at once."""

    src: MemoryId
    dst: MemoryId
    links: tuple[LinkId, ...] = Field(min_length=1)


class Tensor(_Data):
    """The unit of storage and transfer; always moved whole."""

    id: TensorId = Field(min_length=1)
    size_bytes: StrictInt = Field(ge=0, le=MAX_INTEGER)
    kind: TensorKind
    producer: TaskId | None = None
    home: MemoryId | None = None
    store: StrictBool = False


class TaskOption(_Data):
    """Running a task on one core: its precomputed duration and energy there."""

    core: CoreId
    duration_cycles: StrictInt = Field(ge=0, le=MAX_INTEGER)
    energy_pj: StrictFloat = Field(default=0.0, ge=0, le=MAX_ENERGY_PJ, allow_inf_nan=False)


class Task(_Data):
    """One computation node: a tile of one layer."""

    id: TaskId = Field(min_length=1)
    layer: str = ""
    tile: StrictInt = Field(default=0, ge=0, le=MAX_INTEGER)
    inputs: tuple[TensorId, ...] = ()
    outputs: tuple[TensorId, ...] = ()
    after: tuple[TaskId, ...] = ()
    options: tuple[TaskOption, ...] = Field(min_length=1)


class Barrier(_Data):
    """No task of `after` starts before every task of `before` has ended."""

    before: tuple[TaskId, ...] = Field(min_length=1)
    after: tuple[TaskId, ...] = Field(min_length=1)


class Problem(_Data):
    """A complete scheduling problem (docs/problem.md)."""

    format: Literal["cpsched-problem/2"]
    name: str
    memories: tuple[Memory, ...] = Field(min_length=1)
    cores: tuple[Core, ...] = Field(min_length=1)
    links: tuple[Link, ...] = ()
    routes: tuple[Route, ...] = ()
    tensors: tuple[Tensor, ...] = ()
    tasks: tuple[Task, ...] = ()
    groups: tuple[tuple[TaskId, ...], ...] = ()
    barriers: tuple[Barrier, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_version_1(cls, data: Any) -> Any:
        return upgrade_problem_1(data)

    @model_validator(mode="after")
    def _check_references(self) -> Problem:
        problems = reference_problems(self)
        if not problems:
            problems = size_problems(self)
        if problems:
            raise ProblemReferenceError(problems)
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Problem:
        """A copy with `update` applied, without the lookups cached on this problem (they would
        describe the original: a copy with other links would keep the old transfer times)."""
        copy = super().model_copy(update=update, deep=deep)
        for name, attr in vars(Problem).items():
            if isinstance(attr, cached_property):
                copy.__dict__.pop(name, None)
        return copy

    # --- lookups (data access only; no scheduling semantics) ---

    @cached_property
    def memory_by_id(self) -> dict[MemoryId, Memory]:
        return {m.id: m for m in self.memories}

    @cached_property
    def core_by_id(self) -> dict[CoreId, Core]:
        return {c.id: c for c in self.cores}

    @cached_property
    def link_by_id(self) -> dict[LinkId, Link]:
        return {lk.id: lk for lk in self.links}

    @cached_property
    def tensor_by_id(self) -> dict[TensorId, Tensor]:
        return {t.id: t for t in self.tensors}

    @cached_property
    def task_by_id(self) -> dict[TaskId, Task]:
        return {t.id: t for t in self.tasks}

    @cached_property
    def route_by_pair(self) -> dict[tuple[MemoryId, MemoryId], Route]:
        return {(r.src, r.dst): r for r in self.routes}

    @cached_property
    def consumers(self) -> dict[TensorId, tuple[TaskId, ...]]:
        """For every tensor, the tasks that read it (in task order)."""
        readers: dict[TensorId, list[TaskId]] = {t.id: [] for t in self.tensors}
        for task in self.tasks:
            for tensor in task.inputs:
                readers[tensor].append(task.id)
        return {k: tuple(v) for k, v in readers.items()}

    def memory_of(self, core: CoreId) -> MemoryId:
        """The memory that `core` reads and writes."""
        return self.core_by_id[core].memory

    @cached_property
    def _option_by_pair(self) -> dict[tuple[TaskId, CoreId], TaskOption]:
        out: dict[tuple[TaskId, CoreId], TaskOption] = {}
        for task in self.tasks:
            for opt in task.options:
                out.setdefault((task.id, opt.core), opt)  # the first, as a scan would find
        return out

    def option(self, task: TaskId, core: CoreId) -> TaskOption | None:
        """The option of `task` on `core`, or None when the task cannot run there."""
        opt = self._option_by_pair.get((task, core))
        if opt is None and task not in self.task_by_id:
            raise KeyError(task)  # an unknown task, as a scan of its options would fail
        return opt

    def source_memory(self, tensor: TensorId, producer_core: CoreId | None) -> MemoryId:
        """Where a tensor first becomes available: its producer's memory, or its home."""
        t = self.tensor_by_id[tensor]
        if t.producer is None:
            assert t.home is not None  # guaranteed by reference_problems
            return t.home
        assert producer_core is not None
        return self.memory_of(producer_core)

    @cached_property
    def _transfer_cycles(self) -> dict[tuple[int, MemoryId, MemoryId], int]:
        return {}  # (size, src, dst) -> cycles: many tensors share a size and a route

    def transfer_duration_cycles(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> int:
        """Cycles of a transfer of `tensor` from `src` to `dst` (docs/schedule.md), by route."""
        key = (self.tensor_by_id[tensor].size_bytes, src, dst)
        cycles = self._transfer_cycles.get(key)
        if cycles is None:
            route = self.route_by_pair[(src, dst)]
            cycles = route_duration_cycles(key[0], [self.link_by_id[lk] for lk in route.links])
            self._transfer_cycles[key] = cycles
        return cycles

    def transfer_energy_pj(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> float:
        """Energy of a transfer of `tensor` from `src` to `dst` (docs/metrics.md)."""
        route = self.route_by_pair[(src, dst)]
        size = self.tensor_by_id[tensor].size_bytes
        return size * sum(self.link_by_id[lk].energy_pj_per_byte for lk in route.links)


_NEW_IN_2 = {"links": ("sharing", "multicast"), "memories": ("backing",)}


def upgrade_problem_1(data: Any) -> Any:
    """A `cpsched-problem/1` document as version 2: every link `exclusive`, none `multicast`
    (docs/problem.md, "Version 1"). Anything else is returned as it is. A version 1 document
    that uses a field of version 2 is refused, naming the field."""
    if not isinstance(data, Mapping) or data.get("format") != PROBLEM_FORMAT_1:
        return data
    out = dict(data)
    out["format"] = PROBLEM_FORMAT
    problems: list[FieldProblem] = []
    for section, fields in _NEW_IN_2.items():
        items = out.get(section)
        if not isinstance(items, list | tuple):
            continue
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                for name in fields:
                    if name in item:
                        problems.append(
                            FieldProblem(
                                f"{section}[{i}].{name}",
                                f"not part of {PROBLEM_FORMAT_1}; write format: {PROBLEM_FORMAT} "
                                "to use it",
                            )
                        )
    if problems:
        raise ProblemReferenceError(problems)
    links = out.get("links")
    if isinstance(links, list | tuple):
        out["links"] = [
            {**lk, "sharing": "exclusive", "multicast": False} if isinstance(lk, Mapping) else lk
            for lk in links
        ]
    return out


def route_duration_cycles(size_bytes: int, links: Iterable[Link]) -> int:
    """ceil(size / min bandwidth) + sum of link latencies, computed exactly (no float rounding)."""
    links = list(links)
    bandwidth = min(Fraction(repr(lk.bandwidth_bytes_per_cycle)) for lk in links)
    return math.ceil(Fraction(size_bytes) / bandwidth) + sum(lk.latency_cycles for lk in links)


def _pow2(limit: float) -> str:
    """A limit with its power of two, e.g. `1099511627776 (2**40)`."""
    exponent = math.log2(limit)
    text = f"{int(limit)}" if limit >= 1 else f"{limit!r}"
    return f"{text} (2**{exponent:g})" if exponent.is_integer() else text


def horizon_cycles_bound(p: Problem) -> tuple[int, str, int]:
    """An upper bound on the horizon any solver may use: every task at its slowest option plus,
    for each tensor and each memory a route leads into, its slowest transfer there.

    Returns the bound, the field path of its largest single part and that part, so an error
    can say what made it large.
    """
    total = 0
    largest = (0, "")
    for i, task in enumerate(p.tasks):
        j, slowest = max(enumerate(o.duration_cycles for o in task.options), key=lambda x: x[1])
        total += slowest
        if slowest > largest[0]:
            largest = (slowest, f"tasks[{i}].options[{j}].duration_cycles")
    # per destination memory: the smallest bandwidth and the largest latency of a route into it
    into: dict[MemoryId, tuple[Fraction, int]] = {}
    for r in p.routes:
        links = [p.link_by_id[lk] for lk in r.links]
        bandwidth = min(Fraction(repr(lk.bandwidth_bytes_per_cycle)) for lk in links)
        latency = sum(lk.latency_cycles for lk in links)
        old = into.get(r.dst)
        into[r.dst] = (
            (bandwidth, latency) if old is None else (min(old[0], bandwidth), max(old[1], latency))
        )
    slowest_routes = [(b.numerator, b.denominator, lat) for b, lat in into.values()]
    for i, t in enumerate(p.tensors):
        size = t.size_bytes
        worst = 0
        for num, den, lat in slowest_routes:
            cycles = -(-size * den // num) + lat
            total += cycles
            worst = max(worst, cycles)
        if worst > largest[0]:
            largest = (worst, f"tensors[{i}].size_bytes")
    return total, largest[1], largest[0]


def size_problems(p: Problem) -> list[FieldProblem]:
    """Sums too large for the solvers to represent (see the limits at the top of this module):
    the horizon, the bytes of all tensors and the energies the energy objective can add."""
    out: list[FieldProblem] = []
    horizon, part, value = horizon_cycles_bound(p)
    if horizon > MAX_HORIZON_CYCLES:
        out.append(
            FieldProblem(
                "",
                f"the tasks' slowest options and the tensors' slowest transfers sum to {horizon} "
                f"cycles; the solvers accept at most {_pow2(MAX_HORIZON_CYCLES)} "
                f"(the largest part: {part}, {value} cycles)",
            )
        )
    total_bytes = sum(t.size_bytes for t in p.tensors)
    if total_bytes > MAX_TOTAL_BYTES:
        i = max(range(len(p.tensors)), key=lambda k: p.tensors[k].size_bytes)
        out.append(
            FieldProblem(
                "tensors",
                f"sizes sum to {total_bytes} bytes; the solvers accept at most "
                f"{_pow2(MAX_TOTAL_BYTES)} (the largest: tensors[{i}].size_bytes, "
                f"{p.tensors[i].size_bytes})",
            )
        )
    option_pj = sum(o.energy_pj for t in p.tasks for o in t.options)
    route_pj_per_byte = sum(p.link_by_id[lk].energy_pj_per_byte for r in p.routes for lk in r.links)
    energy = option_pj + total_bytes * route_pj_per_byte
    if energy > MAX_TOTAL_ENERGY_PJ:
        out.append(
            FieldProblem(
                "",
                f"the energies of every task option ({option_pj:.6g} pJ) and of every tensor over "
                f"every route ({total_bytes * route_pj_per_byte:.6g} pJ) sum to {energy:.6g} pJ; "
                f"the solvers accept at most {_pow2(MAX_TOTAL_ENERGY_PJ)} pJ",
            )
        )
    return out


class ProblemReferenceError(ValueError):
    """Cross-reference errors found in a problem; carries every one of them."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _plural(noun: str) -> str:
    """memory -> memories, core -> cores."""
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _known(ids: Iterable[str], limit: int = 8) -> str:
    ids = sorted(ids)
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "") if ids else "none"


def reference_problems(p: Problem) -> list[FieldProblem]:
    """Every dangling or duplicated id, and every inconsistency between tensors and tasks."""
    out: list[FieldProblem] = []

    def dupes(section: str, ids: list[str]) -> set[str]:
        counts = Counter(ids)
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if counts[x] > 1 and x in seen:
                out.append(
                    FieldProblem(f"{section}[{i}].id", f"duplicate id {x!r}; ids must be unique")
                )
            seen.add(x)
        return set(ids)

    memories = dupes("memories", [m.id for m in p.memories])
    cores = dupes("cores", [c.id for c in p.cores])
    links = dupes("links", [lk.id for lk in p.links])
    tensors = dupes("tensors", [t.id for t in p.tensors])
    tasks = dupes("tasks", [t.id for t in p.tasks])

    def ref(path: str, value: str, known: set[str], what: str) -> bool:
        if value in known:
            return True
        out.append(
            FieldProblem(path, f"unknown {what} {value!r}; known {_plural(what)}: {_known(known)}")
        )
        return False

    for i, c in enumerate(p.cores):
        ref(f"cores[{i}].memory", c.memory, memories, "memory")

    backing = {m.id: m.backing for m in p.memories if m.backing is not None}
    for i, m in enumerate(p.memories):
        if m.backing is None or not ref(f"memories[{i}].backing", m.backing, memories, "memory"):
            continue
        chain: list[str] = [m.id]
        here: str | None = m.backing
        while here is not None and here not in chain:
            chain.append(here)
            here = backing.get(MemoryId(here))
        if here == m.id:
            out.append(
                FieldProblem(
                    f"memories[{i}].backing",
                    f"{m.backing!r} closes a loop of backing stores "
                    f"({' -> '.join(map(repr, [*chain, m.id]))}); a backing chain must end "
                    "(normally in 'dram')",
                )
            )

    pairs: set[tuple[str, str]] = set()
    for i, r in enumerate(p.routes):
        ref(f"routes[{i}].src", r.src, memories, "memory")
        ref(f"routes[{i}].dst", r.dst, memories, "memory")
        if r.src == r.dst:
            out.append(
                FieldProblem(
                    f"routes[{i}]", f"route from {r.src!r} to itself; src and dst must differ"
                )
            )
        if (r.src, r.dst) in pairs:
            out.append(
                FieldProblem(
                    f"routes[{i}]", f"second route from {r.src!r} to {r.dst!r}; one route per pair"
                )
            )
        pairs.add((r.src, r.dst))
        for j, lk in enumerate(r.links):
            ref(f"routes[{i}].links[{j}]", lk, links, "link")
        if len(set(r.links)) != len(r.links):
            out.append(FieldProblem(f"routes[{i}].links", "a link appears twice in one route"))

    producer_of: dict[str, str] = {}
    for i, task in enumerate(p.tasks):
        for j, out_id in enumerate(task.outputs):
            if ref(f"tasks[{i}].outputs[{j}]", out_id, tensors, "tensor"):
                if out_id in producer_of:
                    out.append(
                        FieldProblem(
                            f"tasks[{i}].outputs[{j}]",
                            f"tensor {out_id!r} is already written by task "
                            f"{producer_of[out_id]!r}; a tensor has one producer",
                        )
                    )
                producer_of[out_id] = task.id

    for i, t in enumerate(p.tensors):
        if t.producer is None:
            if t.home is None:
                out.append(
                    FieldProblem(
                        f"tensors[{i}].home",
                        f"tensor {t.id!r} has no producer and no home; "
                        "give it a home memory (e.g. 'dram')",
                    )
                )
            else:
                ref(f"tensors[{i}].home", t.home, memories, "memory")
            if t.id in producer_of:
                out.append(
                    FieldProblem(
                        f"tensors[{i}].producer",
                        f"null, but task {producer_of[t.id]!r} lists {t.id!r} among its outputs",
                    )
                )
        elif (
            ref(f"tensors[{i}].producer", t.producer, tasks, "task")
            and producer_of.get(t.id) != t.producer
        ):
            out.append(
                FieldProblem(
                    f"tensors[{i}].producer",
                    f"{t.producer!r}, but that task does not list {t.id!r} among its outputs",
                )
            )
        elif t.home is not None:
            ref(f"tensors[{i}].home", t.home, memories, "memory")
        if t.store and DRAM not in memories:
            out.append(
                FieldProblem(
                    f"tensors[{i}].store",
                    f"true, but there is no memory {DRAM!r} to store tensor {t.id!r} in",
                )
            )

    for i, task in enumerate(p.tasks):
        for j, in_id in enumerate(task.inputs):
            ref(f"tasks[{i}].inputs[{j}]", in_id, tensors, "tensor")
            if in_id in task.outputs:
                out.append(
                    FieldProblem(f"tasks[{i}].inputs[{j}]", f"task reads its own output {in_id!r}")
                )
        for j, a in enumerate(task.after):
            ref(f"tasks[{i}].after[{j}]", a, tasks, "task")
            if a == task.id:
                out.append(FieldProblem(f"tasks[{i}].after[{j}]", "a task cannot wait for itself"))
        seen_cores: set[str] = set()
        for j, opt in enumerate(task.options):
            ref(f"tasks[{i}].options[{j}].core", opt.core, cores, "core")
            if opt.core in seen_cores:
                out.append(
                    FieldProblem(
                        f"tasks[{i}].options[{j}].core", f"second option for core {opt.core!r}"
                    )
                )
            seen_cores.add(opt.core)

    for i, group in enumerate(p.groups):
        for j, task_id in enumerate(group):
            ref(f"groups[{i}][{j}]", task_id, tasks, "task")
    for i, b in enumerate(p.barriers):
        for j, task_id in enumerate(b.before):
            ref(f"barriers[{i}].before[{j}]", task_id, tasks, "task")
        for j, task_id in enumerate(b.after):
            ref(f"barriers[{i}].after[{j}]", task_id, tasks, "task")
    return out
