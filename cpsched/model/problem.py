"""The scheduling problem of SPEC.md §2 (`cpsched-problem/1`): plain, frozen, validated data.

Everything downstream (solvers, heuristics, validator, reports) reads a :class:`Problem`;
nothing here knows how it will be solved. Field-level checks are pydantic's; every
cross-reference is checked in one place, :func:`reference_problems`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from functools import cached_property
from typing import Any, Literal, NewType

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cpsched.model.errors import FieldProblem

PROBLEM_FORMAT = "cpsched-problem/1"

MemoryId = NewType("MemoryId", str)
CoreId = NewType("CoreId", str)
LinkId = NewType("LinkId", str)
TensorId = NewType("TensorId", str)
TaskId = NewType("TaskId", str)

TensorKind = Literal["activation", "weight", "input"]
TENSOR_KINDS: tuple[TensorKind, ...] = ("activation", "weight", "input")
DRAM = MemoryId("dram")


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Memory(_Data):
    """A memory; `capacity_bytes: null` means unbounded (normally only DRAM)."""

    id: MemoryId = Field(min_length=1)
    capacity_bytes: int | None = Field(ge=0)


class Core(_Data):
    """A compute core and the memory it reads and writes (possibly shared with other cores)."""

    id: CoreId = Field(min_length=1)
    memory: MemoryId


class Link(_Data):
    """A link that carries one transfer at a time at full bandwidth."""

    id: LinkId = Field(min_length=1)
    bandwidth_bytes_per_cycle: float = Field(gt=0, allow_inf_nan=False)
    latency_cycles: int = Field(default=0, ge=0)
    energy_pj_per_byte: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class Route(_Data):
    """The links a transfer from memory `src` to memory `dst` occupies, all at once."""

    src: MemoryId
    dst: MemoryId
    links: tuple[LinkId, ...] = Field(min_length=1)


class Tensor(_Data):
    """The unit of storage and transfer; always moved whole."""

    id: TensorId = Field(min_length=1)
    size_bytes: int = Field(ge=0)
    kind: TensorKind
    producer: TaskId | None = None
    home: MemoryId | None = None
    store: bool = False


class TaskOption(_Data):
    """Running a task on one core: its precomputed duration and energy there."""

    core: CoreId
    duration_cycles: int = Field(ge=0)
    energy_pj: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class Task(_Data):
    """One computation node: a tile of one layer."""

    id: TaskId = Field(min_length=1)
    layer: str = ""
    tile: int = Field(default=0, ge=0)
    inputs: tuple[TensorId, ...] = ()
    outputs: tuple[TensorId, ...] = ()
    after: tuple[TaskId, ...] = ()
    options: tuple[TaskOption, ...] = Field(min_length=1)


class Barrier(_Data):
    """No task of `after` starts before every task of `before` has ended."""

    before: tuple[TaskId, ...] = Field(min_length=1)
    after: tuple[TaskId, ...] = Field(min_length=1)


class Problem(_Data):
    """A complete scheduling problem (SPEC.md §2)."""

    format: Literal["cpsched-problem/1"]
    name: str
    memories: tuple[Memory, ...] = Field(min_length=1)
    cores: tuple[Core, ...] = Field(min_length=1)
    links: tuple[Link, ...] = ()
    routes: tuple[Route, ...] = ()
    tensors: tuple[Tensor, ...] = ()
    tasks: tuple[Task, ...] = ()
    groups: tuple[tuple[TaskId, ...], ...] = ()
    barriers: tuple[Barrier, ...] = ()

    @model_validator(mode="after")
    def _check_references(self) -> Problem:
        problems = reference_problems(self)
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

    def option(self, task: TaskId, core: CoreId) -> TaskOption | None:
        """The option of `task` on `core`, or None when the task cannot run there."""
        for opt in self.task_by_id[task].options:
            if opt.core == core:
                return opt
        return None

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
        """Cycles a transfer of `tensor` from `src` to `dst` takes (SPEC.md §3); needs a route."""
        key = (self.tensor_by_id[tensor].size_bytes, src, dst)
        cycles = self._transfer_cycles.get(key)
        if cycles is None:
            route = self.route_by_pair[(src, dst)]
            cycles = route_duration_cycles(key[0], [self.link_by_id[lk] for lk in route.links])
            self._transfer_cycles[key] = cycles
        return cycles

    def transfer_energy_pj(self, tensor: TensorId, src: MemoryId, dst: MemoryId) -> float:
        """Energy of a transfer of `tensor` from `src` to `dst` (SPEC.md §5)."""
        route = self.route_by_pair[(src, dst)]
        size = self.tensor_by_id[tensor].size_bytes
        return size * sum(self.link_by_id[lk].energy_pj_per_byte for lk in route.links)


def route_duration_cycles(size_bytes: int, links: Iterable[Link]) -> int:
    """ceil(size / min bandwidth) + sum of link latencies, computed exactly (no float rounding)."""
    links = list(links)
    bandwidth = min(Fraction(repr(lk.bandwidth_bytes_per_cycle)) for lk in links)
    return math.ceil(Fraction(size_bytes) / bandwidth) + sum(lk.latency_cycles for lk in links)


class ProblemReferenceError(ValueError):
    """Cross-reference errors found in a problem; carries every one of them."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


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
        out.append(FieldProblem(path, f"unknown {what} {value!r}; known {what}s: {_known(known)}"))
        return False

    for i, c in enumerate(p.cores):
        ref(f"cores[{i}].memory", c.memory, memories, "memory")

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
