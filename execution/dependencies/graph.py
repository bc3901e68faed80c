"""The atom dependency graph: cycles and topological levels (the waves).

Graphs are given as `{node: dependencies of node}`. Both functions are iterative: a
generated plan may chain thousands of atoms, deeper than Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


class CycleError(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " → ".join(cycle))


def find_cycle(dependencies: Mapping[str, Collection[str]]) -> list[str] | None:
    """A cycle as `[a, b, …, a]` (a depends on b …), or None when the graph is acyclic."""
    unvisited, in_progress, done = 0, 1, 2
    state = dict.fromkeys(dependencies, unvisited)
    for root in dependencies:
        if state[root] != unvisited:
            continue
        path: list[str] = [root]
        iterators = [iter(sorted(dependencies[root]))]
        state[root] = in_progress
        while iterators:
            node = next(iterators[-1], None)
            if node is None:
                state[path.pop()] = done
                iterators.pop()
                continue
            if state.get(node, done) == in_progress:
                return [*path[path.index(node) :], node]
            if state.get(node) == unvisited:
                state[node] = in_progress
                path.append(node)
                iterators.append(iter(sorted(dependencies.get(node, ()))))
    return None


def topological_levels(
    nodes: Sequence[str], dependencies: Mapping[str, Collection[str]]
) -> list[list[str]]:
    """Nodes grouped by level: level 0 depends on nothing, level n on levels < n only.

    Each level keeps the order of `nodes`. Raises CycleError naming a cycle.
    """
    cycle = find_cycle({node: dependencies.get(node, ()) for node in nodes})
    if cycle:
        raise CycleError(cycle)
    dependants: dict[str, list[str]] = {node: [] for node in nodes}
    waiting_on = {node: len(set(dependencies.get(node, ()))) for node in nodes}
    for node in nodes:
        for dep in set(dependencies.get(node, ())):
            dependants[dep].append(node)
    level = {node: 0 for node in nodes if waiting_on[node] == 0}
    settled = list(level)
    for node in settled:  # grows while we walk it: Kahn's algorithm, O(nodes + edges)
        for dependant in dependants[node]:
            level[dependant] = max(level.get(dependant, 0), level[node] + 1)
            waiting_on[dependant] -= 1
            if waiting_on[dependant] == 0:
                settled.append(dependant)
    levels: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for node in nodes:
        levels[level[node]].append(node)
    return levels


def strongly_connected(dependencies: Mapping[str, Collection[str]]) -> list[set[str]]:
    """The strongly connected components (Tarjan's algorithm, without recursion): a
    component of more than one node, or a node that depends on itself, is a cycle."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in dependencies:
        if root in index:
            continue
        work = [(root, iter(sorted(dependencies.get(root, ()))))]
        index[root] = lowlink[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(dependencies.get(successor, ())))))
                elif successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
