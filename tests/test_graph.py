"""Graph facts of a problem (cpsched.model.graph) against networkx and hand-worked examples."""

from __future__ import annotations

import pickle
from itertools import pairwise
from typing import Any

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st
from sampling import examples

from cpsched.heuristics.synthetic import random_problem
from cpsched.model.graph import DisjointSets, graph_facts, topological_sort
from cpsched.model.problem import Problem, TaskId


def problem(**fields: Any) -> Problem:
    data: dict[str, Any] = {
        "format": "cpsched-problem/1",
        "name": "graph",
        "memories": [{"id": "dram", "capacity_bytes": None}],
        "cores": [{"id": "c0", "memory": "dram"}, {"id": "c1", "memory": "dram"}],
    }
    data.update(fields)
    return Problem.model_validate(data)


def task(tid: str, **fields: Any) -> dict[str, Any]:
    return {"id": tid, "options": [{"core": "c0", "duration_cycles": 1}], **fields}


def diamond() -> Problem:
    # a -> b (data x), a -> c (after), b, c -> barrier 0 -> d
    return problem(
        tensors=[{"id": "x", "size_bytes": 1, "kind": "activation", "producer": "a"}],
        tasks=[
            task("a", outputs=["x"]),
            task("b", inputs=["x", "x"]),
            task("c", after=["a"]),
            task("d"),
        ],
        barriers=[{"before": ["c", "b"], "after": ["d"]}],
    )


def test_diamond_facts() -> None:
    f = graph_facts(diamond())
    assert f.task_ids == ("a", "b", "c", "d") and f.n_nodes == 5
    assert f.node_preds == ((), (0,), (0,), (4,), (1, 2))
    assert f.node_succs == ((1, 2), (4,), (4,), (), (3,))
    assert f.node_order == (0, 1, 2, 4, 3)
    assert f.depth == (0, 1, 1, 3)  # d waits for the barrier, one step after b and c
    assert f.predecessors == {
        "a": frozenset(),
        "b": {"a"},
        "c": {"a"},
        "d": {"b", "c"},
    }
    assert f.successors == {"a": ("b", "c"), "b": ("d",), "c": ("d",), "d": ()}
    assert f.topological_order == ("a", "b", "c", "d")
    assert f.data_edges == {("a", "b"): ("x", "x")}
    assert f.cyclic_components == ()
    assert [(x, y) for x in f.task_ids for y in f.task_ids if f.precedes(x, y)] == [
        ("a", "b"),
        ("a", "c"),
        ("a", "d"),
        ("b", "d"),
        ("c", "d"),
    ]


def test_cycle_through_a_barrier_and_a_self_barrier() -> None:
    p = problem(
        tasks=[task("a"), task("b", after=["a"]), task("c")],
        barriers=[{"before": ["b"], "after": ["a"]}, {"before": ["c"], "after": ["c"]}],
    )
    f = graph_facts(p)
    assert f.cyclic_components == (("a", "b"), ("c",))
    assert f.cycle_through(TaskId("a")) == ["a", "b", "a"]
    assert f.cycle_through(TaskId("c")) == ["c", "c"]
    assert f.dependency_causes[(TaskId("a"), TaskId("b"))] == "after"
    assert f.dependency_causes[(TaskId("b"), TaskId("a"))] == "barrier 0"
    # the task graph leaves out a barrier's self-loop; the node graph keeps it as a cycle
    assert f.predecessors[TaskId("c")] == frozenset()
    assert f.topological_order is None  # a and b still wait for each other
    # with a cycle no pair is ordered (no schedule exists; the MILP peer orders no pair then)
    assert not any(f.precedes(x, y) for x in f.task_ids for y in f.task_ids)
    assert len(f.node_order) < f.n_nodes


def test_groups_join_through_shared_tasks() -> None:
    p = problem(
        tasks=[task("a"), task("b"), task("c"), task("d")],
        groups=[["c", "b"], ["d", "b"]],
    )
    f = graph_facts(p)
    assert f.group_root == (0, 1, 1, 1)
    cores = {"a": ["c0"], "b": ["c0", "c1"], "c": ["c1"], "d": ["c1"]}
    narrowed = f.intersect_over_groups({TaskId(t): ks for t, ks in cores.items()})
    assert narrowed == {"a": {"c0"}, "b": {"c1"}, "c": {"c1"}, "d": {"c1"}}


def test_facts_are_cached_on_the_problem_and_rebuilt_for_a_changed_copy() -> None:
    p = diamond()
    f = graph_facts(p)
    assert graph_facts(p) is f
    # a copy with other links has the same graph: the cached facts still describe it
    same = p.model_copy(update={"name": "renamed"})
    assert graph_facts(same) is f
    # a copy with other tasks carries the old cache along, which must not be used
    fewer = p.model_copy(update={"tasks": p.tasks[:1], "tensors": (), "barriers": ()})
    assert graph_facts(fewer).task_ids == ("a",)
    assert graph_facts(p) is f
    regrouped = p.model_copy(update={"groups": (("b", "c"),)})
    assert graph_facts(regrouped).group_root == (0, 1, 1, 3)
    assert f.group_root == (0, 1, 2, 3)


def test_cached_facts_stay_out_of_the_problem_data() -> None:
    p = diamond()
    before = p.model_dump_json()
    graph_facts(p)
    assert p.model_dump_json() == before
    assert p == diamond()
    again = pickle.loads(pickle.dumps(p))
    assert again == p and graph_facts(again).task_ids == ("a", "b", "c", "d")


def test_topological_sort_smallest_first_and_cycle() -> None:
    assert topological_sort([[2], [2], []]) == [0, 1, 2]
    assert topological_sort([[], [0], []], smallest_first=True) == [1, 0, 2]
    assert topological_sort([[1], [0], []]) == [2]


def test_disjoint_sets_keep_the_smallest_member_as_root() -> None:
    sets = DisjointSets(range(5))
    sets.union(4, 2)
    sets.union(3, 4)
    sets.union(1, 0)
    assert sets.roots() == [0, 0, 2, 2, 2]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    return random_problem(
        draw(st.integers(0, 10_000)),
        n_cores=draw(st.integers(1, 3)),
        n_layers=draw(st.integers(1, 4)),
        tiles=draw(st.integers(1, 3)),
        barrier_prob=0.4,
        after_prob=0.4,
        group_layers=0.5,
    )


@settings(max_examples=examples(80), deadline=None, derandomize=True)
@given(problems())
def test_task_graph_agrees_with_networkx(p: Problem) -> None:
    # the graph the CP-SAT model and its bounds built before the facts existed
    f = graph_facts(p)
    graph = nx.DiGraph()
    graph.add_nodes_from(t.id for t in p.tasks)
    for t, preds in f.predecessors.items():
        graph.add_edges_from((q, t) for q in preds)
    assert f.topological_order == tuple(nx.topological_sort(graph))
    for t in f.task_ids:
        assert set(f.successors[t]) == set(graph.successors(t))
    node_graph = nx.DiGraph()
    node_graph.add_nodes_from(range(f.n_nodes))
    for v, ps in enumerate(f.node_preds):
        node_graph.add_edges_from((u, v) for u in ps)
    longest = dict.fromkeys(node_graph, 0)
    for v in nx.topological_sort(node_graph):
        for u in node_graph.predecessors(v):
            longest[v] = max(longest[v], longest[u] + 1)
    assert f.depth == tuple(longest[v] for v in range(f.n_tasks))
    assert f.cyclic_components == ()
    closure = nx.transitive_closure_dag(graph)
    for a in f.task_ids:
        for b in f.task_ids:
            assert f.precedes(a, b) == closure.has_edge(a, b)


@settings(max_examples=examples(80), deadline=None, derandomize=True)
@given(st.integers(1, 7), st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=14))
def test_cycles_agree_with_networkx(n: int, pairs: list[tuple[int, int]]) -> None:
    edges = {(a % n, b % n) for a, b in pairs}
    tasks = [
        task(f"t{i}", after=sorted({f"t{a}" for a, b in edges if b == i and a != i}))
        for i in range(n)
    ]
    barriers = [
        {"before": [f"t{i}"], "after": [f"t{i}"]} for i in sorted({a for a, b in edges if a == b})
    ]
    f = graph_facts(problem(tasks=tasks, barriers=barriers))
    graph = nx.DiGraph()
    graph.add_nodes_from(f"t{i}" for i in range(n))
    graph.add_edges_from((f"t{a}", f"t{b}") for a, b in edges)
    expected = sorted(
        tuple(sorted(c, key=f.index.__getitem__))
        for c in nx.strongly_connected_components(graph)
        if len(c) > 1 or graph.has_edge(next(iter(c)), next(iter(c)))
    )
    assert sorted(f.cyclic_components) == expected
    for comp in f.cyclic_components:
        for t in comp:
            cycle = f.cycle_through(t)
            assert cycle[0] == cycle[-1] == t
            assert all(graph.has_edge(a, b) for a, b in pairwise(cycle))
            shortest = min(
                len(nx.shortest_path(graph, s, t)) for s in graph.successors(t) if s in comp
            )
            assert len(cycle) == shortest + 1
