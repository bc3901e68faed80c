"""Dependency ground truth: accuracy on the suite of small projects, and speed against
dependency-cruiser on the same generated tree.

1. Each project in benchmarks/dependency_projects/ has the compiler's edges in
   expected.json (TypeScript 5.9's own resolution and grimp, checked by hand); the graph
   of `execution.dependencies.source_graph` is measured against it: accuracy =
   TP / (TP + FP + FN) per project, the lowest, the pooled one, and the critical false
   negatives (missed edges the graph does not order otherwise). The expected files are
   checked against the live compiler in the same run.
2. A generated tree of 400 TypeScript files (folders with barrels, a `@/*` alias,
   relative imports) and 100 Python files: the graph is built 3 times alternating with
   dependency-cruiser 17 (`depcruise --ts-config`, JSON output) on the same tree; files
   per second from the median, and the ratio of the medians.

Prints one figure per line.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mge_site.settings")

import django  # noqa: E402

django.setup()

from execution.dependencies import ground_truth  # noqa: E402
from execution.dependencies.source_graph import build_graph  # noqa: E402

PROJECTS = Path(__file__).resolve().parent / "dependency_projects"
DEPCRUISE = ground_truth.RESOLVE_SCRIPT.parent / "node_modules" / ".bin" / "depcruise"
TS_FILES, PY_FILES, FOLDERS = 400, 100, 20


def accuracy_of_the_suite() -> None:
    pooled = ground_truth.Accuracy(true_positives=0)
    lowest = 1.0
    mismatches = 0
    for project in sorted(path for path in PROJECTS.iterdir() if path.is_dir()):
        expected = {
            (edge["from"], edge["to"])
            for edge in json.loads((project / "expected.json").read_text())["edges"]
        }
        graph = build_graph(project)
        measured = ground_truth.measure(graph, expected)
        print(f"dependency_accuracy[{project.name}]: {measured.accuracy:.4f}")
        lowest = min(lowest, measured.accuracy)
        pooled.true_positives += measured.true_positives
        pooled.false_positives += measured.false_positives
        pooled.false_negatives += measured.false_negatives
        pooled.critical += measured.critical
        if ground_truth.truth(project, graph) != expected:
            mismatches += 1
    print(f"dependency_accuracy_min: {lowest:.4f}")
    print(f"dependency_accuracy_overall: {pooled.accuracy:.4f}")
    print(f"critical_false_negatives: {len(pooled.critical)}")
    print(f"expected_files_differing_from_the_compiler: {mismatches}")


def generated_tree(root: Path) -> None:
    (root / "tsconfig.json").write_text(
        json.dumps(
            {"compilerOptions": {"module": "commonjs", "baseUrl": ".", "paths": {"@/*": ["src/*"]}}}
        )  # fmt: skip
    )
    per_folder = TS_FILES // FOLDERS
    for folder in range(FOLDERS):
        base = root / "src" / f"area{folder}"
        base.mkdir(parents=True)
        exports = []
        for number in range(per_folder - 1):
            lines = []
            if number:
                lines.append(f'import {{ f{number - 1} }} from "./m{number - 1}";')
            if folder:
                lines.append(f'import {{ f0 as g }} from "@/area{folder - 1}";')
                lines.append(f'import type {{ T }} from "../area{folder - 1}/m1";')
            lines.append(f"export type T = number;\nexport const f{number} = (): number => 1;")
            (base / f"m{number}.ts").write_text("\n".join(lines) + "\n")
            exports.append(f'export * from "./m{number}";')
        (base / "index.ts").write_text("\n".join(exports) + "\n")
    package = root / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for number in range(PY_FILES - 1):
        imports = f"from pkg import p{number - 1}\nfrom .p0 import *\n" if number else ""
        (package / f"p{number}.py").write_text(imports + f"def f{number}():\n    return 1\n")


def timed(command: list[str] | None, root: Path) -> float:
    started = time.perf_counter()
    if command is None:
        build_graph(root)
    else:
        subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started


def speed() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        generated_tree(root)
        files = len(build_graph(root).files)
        cruiser = (
            [str(DEPCRUISE), "--no-config", "--ts-config", "tsconfig.json", "--output-type",
             "json", "src", "pkg"]
            if DEPCRUISE.exists() and shutil.which("node") else None
        )  # fmt: skip
        ours, theirs = [], []
        for _ in range(3):
            ours.append(timed(None, root))
            if cruiser:
                theirs.append(timed(cruiser, root))
        print(f"files: {files}")
        print(f"files_per_second: {files / statistics.median(ours):.0f}")
        if theirs:
            ratio = statistics.median(theirs) / statistics.median(ours)
            print(f"dependency_cruiser_seconds: {statistics.median(theirs):.3f}")
            print(f"speed_vs_dependency_cruiser: {ratio:.2f}")
        else:
            print("speed_vs_dependency_cruiser: not measured (dependency-cruiser not installed)")


if __name__ == "__main__":
    accuracy_of_the_suite()
    speed()
