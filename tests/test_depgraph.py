import itertools

from hypothesis import given
from hypothesis import strategies as st

from regionkit.catalog import depgraph


def test_cycles_are_named_as_closed_paths():
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["d"], "e": ["a"]}
    cycles = sorted(depgraph.find_cycles(graph))
    assert ["d", "d"] in cycles
    [long] = [c for c in cycles if len(c) > 2]
    assert long[0] == long[-1] and sorted(long[:-1]) == ["a", "b", "c"]
    for node, following in itertools.pairwise(long):
        assert following in graph[node]


def test_no_cycles_in_a_dag_and_dangling_edges_are_ignored():
    assert depgraph.find_cycles({"a": ["b", "zzz"], "b": []}) == []


def test_closure_puts_dependencies_first_and_is_stable():
    graph = {"app": ["db", "sso"], "sso": ["db"], "db": [], "other": ["app"]}
    assert depgraph.closure(graph, ["app"]) == ["db", "sso", "app"]
    assert depgraph.closure(graph, ["other", "app"]) == ["db", "sso", "app", "other"]


def test_reverse():
    assert depgraph.reverse({"a": ["b"], "c": ["b"], "b": []}) == {"a": [], "b": ["a", "c"], "c": []}


def test_deep_chain_does_not_hit_the_recursion_limit():
    graph = {f"n{i}": [f"n{i + 1}"] for i in range(5000)}
    graph["n5000"] = ["n0"]
    [cycle] = depgraph.find_cycles(graph)
    assert len(cycle) == 5002
    del graph["n5000"]
    graph["n5000"] = []
    assert depgraph.closure(graph, ["n0"])[0] == "n5000"


@st.composite
def dags(draw):
    size = draw(st.integers(1, 30))
    names = [f"n{i}" for i in range(size)]
    return {name: draw(st.lists(st.sampled_from(names[i + 1:]), unique=True)) if i + 1 < size else []
            for i, name in enumerate(names)}


@given(dags(), st.data())
def test_closure_is_a_topological_order_of_everything_reachable(graph, data):
    roots = data.draw(st.lists(st.sampled_from(list(graph)), min_size=1, unique=True))
    order = depgraph.closure(graph, roots)
    assert len(order) == len(set(order))
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for dep in graph[node]:
            assert position[dep] < position[node]
    assert set(roots) <= set(order)
    assert depgraph.find_cycles(graph) == []
