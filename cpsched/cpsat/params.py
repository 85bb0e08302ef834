"""Solver parameters and progress reports: plain data, importable without ortools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SolverParams(BaseModel):
    """How CP-SAT searches: limits, parallelism, and the strengthenings (each can be switched off).

    `time_limit_s` bounds the whole solve; a lexicographic objective shares it among its stages
    (each stage gets the remaining time divided by the number of stages left).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_limit_s: float = Field(default=10.0, gt=0)
    num_workers: int = Field(default=2, ge=1)
    seed: int = Field(default=0, ge=0)
    relative_gap_limit: float = Field(default=0.0, ge=0)
    log: bool = False
    # for callers that build the hint (the pipeline, analysis, bench): start CP-SAT from the best
    # heuristic schedule. `solve` itself reads no heuristics; it uses the hint it is given.
    use_hint: bool = True
    # end each stage at CP-SAT's first schedule: for tests and checks where existence is the point
    stop_after_first_solution: bool = False
    redundant: bool = True  # redundant constraints that tighten the bound
    symmetry_breaking: bool = True  # order interchangeable cores
    # heads/tails counting the transfers a placement needs, energy and link bounds (bounds.py)
    static_bounds: bool = True
    tile_symmetry: bool = True  # order the tiles of a layer when renumbering tiles is a symmetry
    # with static_bounds: cores idle until their first inputs arrive and after their last outputs
    idle_bound: bool = True
    # with static_bounds: heads and tails also count the link crossings of every ancestor's
    # inputs and every descendant's stores, queued on a link every route crosses (the DRAM port);
    # see bounds.compute_heads. Off: no bound change measured. Attention head M=256 N=64 on
    # quad_bus, latency, 2 workers, 60 s, seed 0, bound off -> on: T=4 17,699 -> 17,699,
    # T=8 17,251 -> 17,251, T=16 17,027 -> 17,027 (the static bound, which CP-SAT does not pass
    # in 60 s, is unchanged: it comes from the core idle bound; QKT's head rises 1,644 -> 2,692
    # at T=4 and the link bound 16,282 -> 17,116, both below it). With idle_union_inputs on,
    # also none: T=4 18,047, T=8 17,471, T=16 17,156 with and without it
    port_heads: bool = False
    # with idle_bound: the cores' first starts also count each first input once on a link, a
    # tensor that may be multicast included (it counted nowhere); bounds.first_input_positions.
    # Attention head M=256 N=64 on quad_bus, latency, 2 workers, 60 s, seed 0, bound (gap)
    # off -> on: T=4 17,699 (2.4 %) -> 18,047 (0.7 %), T=8 17,251 (2.8 %) -> 17,471 (1.5 %),
    # T=16 17,027 (4.5 %) -> 17,156 (3.5 %): the static bound, which CP-SAT does not pass in
    # 60 s. No change on BERT-base mesh4x4 (static bounds 4.5 s -> 6.1 s there)
    idle_union_inputs: bool = True
    # a lower bound from a relaxation that sees the cores starve for what the DRAM port delivers
    # (cpsched.cpsat.starvation: tasks with their precedences on the cores; every home input
    # crosses the port before its first reader, every store after its producer), solved by
    # CP-SAT in `starvation_share` of the time limit (half with the cores as a cumulative, the
    # rest with per-core placement) and valid for every schedule (a link shared by bandwidth
    # counts a crossing as size / bandwidth, no latency: slower transfers may share it).
    # Off: it never passes the static bound on the attention head. M=256 N=64 on quad_bus,
    # latency, 2 workers, seed 0 (2 cores shared with another job: times approximate); static
    # bound / relaxation's bound in 6 s, cumulative (none proven; placement: 15,702 at T=4,
    # 8,503 at T=8, 4,902 at T=16) / best relaxation solution found: T=4 18,047 / 17,238 /
    # 17,942, T=8 17,471 / 16,982 / 17,430, T=16 17,156 / 16,854 / 17,344. So its optimum is
    # below the static bound at T=4 and 8 (and, counted at full rate, valid only in CP-SAT's
    # space, at most 18,052 and 17,660). No CP-SAT setting tried raised the T=8 bound past
    # 17,101 in 15 s (max_lp, lb_tree_search, objective shaving, linearization 2, cumulative
    # edge finding). Full solve, 60 s, off -> on: bound 18,047 / 17,471 / 17,156 both ways (the
    # relaxation's 17,238 / 16,982 / 16,854 lies below, so `makespan >= value` is never added);
    # best 18,288 -> 18,394 and 18,140 (two runs: noise), 17,814 -> 17,950 and 17,814, 17,856
    # -> 17,856. On random_problem(seed, 3 cores, 4 layers, 3 tiles), seeds 0-7, it passes the
    # static bound twice (374 vs 365; placement 160 vs 131; optima 394, 199), proven in 0.3 s,
    # with no clear change in time to prove (noise)
    starvation_bound: bool = False
    starvation_share: float = Field(default=0.1, gt=0, le=0.5)
    # with idle_bound: a lower bound from the core idle bound with each core's load made of whole
    # tasks and its first start and tail chosen together (cpsched.cpsat.packing), solved by
    # CP-SAT in `packing_share` of the time limit, in the same space as the static bounds.
    # Attention head M=256 N=64 on quad_bus, latency, 2 workers: the bound 18,047 -> 18,052 at
    # T=4 (the optimum: proven at 4.8-14.4 s with a 40 s limit by 3 of seeds 0-3), 17,471 ->
    # 17,476 at T=8, 17,156 unchanged at T=16; the relaxation proves in 0.4 / 2 / 0.7 s. On
    # BERT-base M=128 on mesh4x4 (411 tasks, 6 classes) it is not proven in its 3 s of a 60 s
    # limit and stays at the static bound
    packing_bound: bool = True
    packing_share: float = Field(default=0.05, gt=0, le=0.5)
    # with symmetry_breaking and static_bounds: order interchangeable cores by first start (and
    # bound each one's first start and load) instead of by first use
    first_start_order: bool = False  # sound, but no measured gain yet (noise on 2 cores)
    # multicast (docs/results.md): a transfer may ride along another of the same tensor from the
    # same source over multicast links (one transfer, several destinations); changes nothing on
    # hardware without multicast links. Off: the unicast space the MILP peer searches
    multicast: bool = True
    # shared bandwidth (docs/results.md): transfers on a `bandwidth` link may overlap while their
    # full rates add up to at most its bandwidth (a cumulative); off: every link carries one
    # transfer at a time, the no-overlap space the MILP peer searches
    shared_bandwidth: bool = True
    # staging (docs/results.md): a transfer into a memory may leave from the copy in its backing
    # store (L2 for GAP8's L1), itself moved in from the source; changes nothing where no memory
    # has a usable backing store. Off: the space the MILP peer searches
    staging: bool = True
    # spill and reload (docs/results.md): in a bounded memory that may overflow, a tensor may be
    # brought in a second time after its first copy there is released, from its source or from
    # the memory's backing store (where a spill may have put it); changes nothing where every
    # memory can hold all it may ever hold (each tensor counted once: one copy of a tensor per
    # memory at a time). Off: the space the MILP peer searches. It grows the model (attention
    # head, T=4: quad_bus 2,078 -> 2,078 variables (its L1s hold every tensor at once; 4,546
    # when each possible copy counted apart), mesh4x4 10,214 -> 26,614, gap8 with staging
    # 689 -> 1,240)
    spill: bool = True
    # leave out the capacity cumulative of a memory that can hold at once every copy it may
    # ever hold (it cannot bind; bound-wall: T=8 attention head, 9,582 -> 6,578 constraints)
    prune_memory: bool = True
    # with no usable hint: branch on task starts, earliest first, to find a first schedule
    start_order: bool = True
    # the full-problem subsolver CP-SAT runs first (None: its default); with 2 workers it runs
    # this one and one LNS worker (docs: bound-wall note). E.g. "max_lp", "lb_tree_search"
    subsolver: str | None = None
    # the share of the time limit spent on the large-neighbourhood search (cpsched.cpsat.lns)
    # when the hint is a valid schedule outside the model's space (e.g. several reloads of a
    # tensor into one memory, common in heuristic schedules of real sizes): the search keeps
    # the hint's cores and transfers and re-times it, the full model gets the rest. 0: off
    lns_share: float = Field(default=0.5, ge=0, le=1)
    # before that search, re-sequence its start schedules for reuse (cpsched.heuristics.reuse:
    # the same cores, each memory's tasks in an order that moves less data) and start from the
    # result where it is faster. BERT-base M=128, latency, 60 s: see docs/results.md
    resequence: bool = True
    # and offer the best start on cores balanced by weight groups (cpsched.cpsat.regroup: a
    # weight read from one core), re-sequenced, where cores have memories of their own and no
    # core is fixed; kept where faster (BERT-base M=128 on mesh4x4: docs/results.md)
    regroup: bool = True
    # offer each start re-sequenced so that the tasks reading one weight run together
    # (cpsched.heuristics.share: one multicast or one load of the weight where a list scheduler
    # fetched it once per task), on the cores the list scheduler picks; only where no core or
    # order is fixed and some weight has several readers, kept where faster (BERT-base M=128:
    # docs/results.md)
    share_weights: bool = True
    # and offer the best start with its weights shared on cores balanced so that each task runs
    # where its largest input is made (cpsched.cpsat.regroup.activation_groups), where cores have
    # memories of their own; kept where faster (BERT-base M=128: docs/results.md)
    stationary: bool = True
    # CP-SAT's presolve: "full" (its default), "light" (no probing, one pass) or "auto" (light
    # for models whose transfers take more than LIGHT_PRESOLVE_ABOVE link places: on the mesh,
    # full presolve alone outlasts a time limit of seconds and the solve ends with no bound)
    presolve: Literal["auto", "full", "light"] = "auto"


# Link places (one per transfer option and link of its route) above which "auto" presolve is
# light. Measured on the models suite: every mesh4x4 instance has over 16,000, the rest under 3,000.
LIGHT_PRESOLVE_ABOVE = 10_000
# Link places above which a model started from a hint searches only the hint's reloads and
# spill stores (docs/results.md): BERT-base M=128 on mesh4x4 (all 9,376 possible reloads and
# 486 spill stores) builds 408k variables in 47 s, beyond what CP-SAT explores in minutes
KEEP_HINT_SPILLS_ABOVE = 10_000
# Seconds at most (and a quarter of the time limit at most) for completing a hint into a full
# assignment of the model: BERT-base M=128 on mesh4x4, its IN_SPACE heft and layer-by-layer
# schedules (hint's spills only, light presolve), took 4.7-5.4 s on one worker, where the
# former 2 s left them unused ("not completed into the model in 2 s")
HINT_COMPLETION_S = 15.0
# Seconds at most (and an eighth of the time left at most) for balancing the weight groups, or
# the activation groups, on the cores (cpsched.cpsat.regroup): BERT-base M=128 on mesh4x4, 123
# weight groups on 16 cores
REGROUP_S = 1.0
# the share of the time limit for sharing the weights of a hint that lies in the model's space,
# before the model (cpsched.cpsat.solver; the first round always runs: 0.1-0.5 s on BERT-base
# M=128 on quad_bus at T=4-16)
SHARE_HINT_SHARE = 0.05
# Seconds at most (and packing_share of the time limit at most) for the load relaxation of the
# bound for every schedule (cpsched.cpsat.work)
WORK_BOUND_S = 1.0
# the share of the time limit within which the pipeline makes alternates (heuristic schedules
# within the space: cpsched.pipeline.space_alternates) for a solve: on BERT-base on gap8 the
# four heuristics take 25 s and none lies in the space
ALTERNATES_SHARE = 0.25


@dataclass(frozen=True)
class Progress:
    """One progress report during a solve (a new incumbent or a better bound)."""

    elapsed_s: float
    objective: float | None  # incumbent value of the current stage, in its units
    bound: float | None
    gap: float | None
    stage: str  # the stage's objective, e.g. "latency"
    solutions: int  # incumbents found so far in this stage
