"""Dependency graphs between apps: cycles, closures and install order. Iterative, so 10,000 apps are fine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


def find_cycles(graph: Graph) -> list[list[str]]:
    """Every dependency cycle, one per strongly connected component, as `[a, b, ..., a]`.

    Edges to nodes missing from the graph are ignored (they are reported as dangling elsewhere).
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [t for t in graph[node] if t in graph]
            if edge < len(targets):
                work.append((node, edge + 1))
                target = targets[edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    cycles.append(_cycle_through(graph, set(component), node))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def _cycle_through(graph: Graph, component: set[str], start: str) -> list[str]:
    """A concrete closed path from `start` back to itself inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in graph[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if target in component and target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError("a strongly connected component always holds a cycle")


def closure(graph: Graph, roots: Iterable[str]) -> list[str]:
    """`roots` and everything they depend on, dependencies before dependents (stable, deterministic)."""
    order: list[str] = []
    done: set[str] = set()
    for root in roots:
        if root in done:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        entered = {root}
        while work:
            node, edge = work.pop()
            targets = graph.get(node, ())
            if edge < len(targets):
                work.append((node, edge + 1))
                target = targets[edge]
                if target not in done and target not in entered:
                    entered.add(target)
                    work.append((target, 0))
                continue
            done.add(node)
            order.append(node)
    return order


def reverse(graph: Graph) -> dict[str, list[str]]:
    """Who depends on each node."""
    dependents: dict[str, list[str]] = {node: [] for node in graph}
    for node, targets in graph.items():
        for target in targets:
            dependents.setdefault(target, []).append(node)
    return dependents
