"""The tools' own answer to "what does this file import", to measure the graph against.

TS/JS: the TypeScript compiler (npm `typescript` 5.9, installed in
execution/dependencies/js) builds its program from the tree's tsconfig/jsconfig and
resolves every module specifier itself (`js/resolve.js`). Python: grimp's static import
graph (dynamic imports are not in it, so they are not compared). Accuracy is
TP / (TP + FP + FN) over (from, to) file pairs; a false negative is *critical* when the
graph does not order the two files anyway (through other edges): a plan scheduled by it
could run the dependant in the same wave as its dependency, or before it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from execution.dependencies.source_graph import PYTHON, SourceGraph, python_module_name

RESOLVE_SCRIPT = Path(__file__).with_name("js") / "resolve.js"
Pair = tuple[str, str]


class GroundTruthUnavailable(RuntimeError):
    """What is missing to ask the compiler (node, the npm package) or grimp."""


@dataclass
class Accuracy:
    true_positives: int
    false_positives: list[Pair] = field(default_factory=list)
    false_negatives: list[Pair] = field(default_factory=list)
    critical: list[Pair] = field(default_factory=list)
    """False negatives the graph does not make up for with another path."""

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_positives)
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + len(self.false_negatives)
        return self.true_positives / real if real else 1.0

    @property
    def accuracy(self) -> float:
        total = self.true_positives + len(self.false_positives) + len(self.false_negatives)
        return self.true_positives / total if total else 1.0

    def as_json(self) -> dict[str, object]:
        return {
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "accuracy": round(self.accuracy, 4), "true_positives": self.true_positives,
            "critical_false_negatives": [list(pair) for pair in self.critical],
            "false_negatives": [list(pair) for pair in self.false_negatives],
            "false_positives": [list(pair) for pair in self.false_positives],
        }  # fmt: skip


def truth(root: Path, graph: SourceGraph, tsconfig: Path | None = None) -> set[Pair]:
    """The (from, to) pairs the compiler and grimp find in the tree."""
    pairs = set()
    if any(not path.endswith(PYTHON) for path in graph.files):
        pairs |= typescript_pairs(root, tsconfig)
    if any(path.endswith(PYTHON) for path in graph.files):
        pairs |= python_pairs(root, [path for path in graph.files if path.endswith(PYTHON)])
    return pairs


def typescript_pairs(root: Path, tsconfig: Path | None = None) -> set[Pair]:
    node = shutil.which("node")
    if node is None:
        raise GroundTruthUnavailable("node is not installed: the TypeScript compiler needs it")
    if not (RESOLVE_SCRIPT.parent / "node_modules" / "typescript").is_dir():
        raise GroundTruthUnavailable(
            f"the typescript package is not installed in {RESOLVE_SCRIPT.parent} (make test "
            "installs it)"
        )
    command = [node, str(RESOLVE_SCRIPT), str(root), *([str(tsconfig)] if tsconfig else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise GroundTruthUnavailable(f"the TypeScript compiler failed: {done.stderr.strip()}")
    return {(edge["from"], edge["to"]) for edge in json.loads(done.stdout)["edges"]}


def python_pairs(root: Path, paths: Iterable[str]) -> set[Pair]:
    """grimp's graph of the tree's top-level packages (folders at the root, or under src/)."""
    import grimp

    files = {python_module_name(path): path for path in paths}
    packages = sorted({name.split(".")[0] for name in files if "." in name})
    if not packages:
        return set()
    roots = [str(root / "src"), str(root)] if (root / "src").is_dir() else [str(root)]
    sys.path[:0] = roots
    try:
        graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    except Exception as error:  # grimp's own errors (a file it cannot parse, …) have no base
        raise GroundTruthUnavailable(f"grimp could not read the tree: {error}") from None
    finally:
        del sys.path[: len(roots)]
    return {
        (files[importer], files[imported])
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if importer in files and imported in files
    }


def measure(graph: SourceGraph, expected: set[Pair]) -> Accuracy:
    """The graph's static edges against `expected` (Python's dynamic imports left out:
    grimp does not see them)."""
    found = {
        (edge.source, edge.target)
        for edge in graph.edges
        if not (edge.kind == "dynamic" and edge.source.endswith(PYTHON))
    }
    missed = sorted(expected - found)
    reachable = _reachability(found)
    return Accuracy(
        true_positives=len(found & expected),
        false_positives=sorted(found - expected),
        false_negatives=missed,
        critical=[pair for pair in missed if pair[1] not in reachable.get(pair[0], set())],
    )


def _reachability(pairs: set[Pair]) -> dict[str, set[str]]:
    """Each file's transitive dependencies in the graph."""
    direct: dict[str, set[str]] = {}
    for source, target in pairs:
        direct.setdefault(source, set()).add(target)
    reach: dict[str, set[str]] = {}
    for start in direct:
        seen: set[str] = set()
        stack = list(direct[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(direct.get(node, ()))
        reach[start] = seen
    return reach
