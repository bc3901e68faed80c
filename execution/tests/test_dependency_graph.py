from __future__ import annotations

import pytest

from execution.dependencies.graph import (
    CycleError,
    find_cycle,
    strongly_connected,
    topological_levels,
)


def test_levels_follow_the_longest_dependency_chain():
    dependencies = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}
    assert topological_levels(list("abcde"), dependencies) == [["a", "e"], ["b", "c"], ["d"]]


def test_a_node_waits_for_its_deepest_dependency():
    dependencies = {"a": [], "b": ["a"], "c": ["b"], "d": ["a", "c"]}
    assert topological_levels(list("abcd"), dependencies) == [["a"], ["b"], ["c"], ["d"]]


def test_long_chains_do_not_hit_the_recursion_limit():
    names = [f"n{i}" for i in range(5000)]
    dependencies = {name: [names[i - 1]] if i else [] for i, name in enumerate(names)}
    levels = topological_levels(names, dependencies)
    assert len(levels) == 5000
    assert find_cycle(dependencies) is None


def test_cycle_is_reported_in_order():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]


def test_levels_refuse_a_cycle():
    with pytest.raises(CycleError, match="dependency cycle: x → y → x"):
        topological_levels(["x", "y"], {"x": ["y"], "y": ["x"]})


def test_empty_graph_has_no_levels():
    assert topological_levels([], {}) == []


def test_strongly_connected_components_name_every_cycle_and_nothing_else():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": set(), "f": {"e"}}
    components = sorted(sorted(group) for group in strongly_connected(graph))
    assert components == [["a", "b", "c"], ["d"], ["e"], ["f"]]
    # Deeper than the recursion limit, without recursion.
    chain = {str(n): {str(n + 1)} for n in range(5000)} | {"5000": {"0"}}
    assert [len(group) for group in strongly_connected(chain)] == [5001]
