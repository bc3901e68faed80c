"""The import graph of a source tree (execution.dependencies): every construct of the
suite's projects as the compiler resolves it, the CLI, and trees that are partly broken."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from execution.dependencies import ground_truth, source_graph
from execution.dependencies.source_graph import Edge, SourceGraph, build_graph
from execution.dependencies.tsconfig import ConfigError

PROJECTS = Path(__file__).resolve().parents[2] / "benchmarks" / "dependency_projects"
SUITE = sorted(path.name for path in PROJECTS.iterdir() if path.is_dir())


def expected(name: str) -> set[tuple[str, str]]:
    data = json.loads((PROJECTS / name / "expected.json").read_text())
    return {(edge["from"], edge["to"]) for edge in data["edges"]}


def pairs(graph: SourceGraph) -> set[tuple[str, str]]:
    return {(edge.source, edge.target) for edge in graph.edges if edge.kind != "dynamic"}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("name", SUITE)
def test_each_suite_project_gets_exactly_the_compilers_edges(name):
    measured = ground_truth.measure(build_graph(PROJECTS / name), expected(name))
    assert (measured.false_positives, measured.false_negatives) == ([], [])
    assert measured.accuracy == 1.0


@pytest.mark.parametrize("name", ["node16-esm-cjs", "paths-two-extends-up", "py-type-checking"])
def test_the_expected_files_are_what_the_compiler_and_grimp_say_now(name):
    root = PROJECTS / name
    assert ground_truth.truth(root, build_graph(root)) == expected(name)


def test_each_edge_has_its_kind_and_line():
    graph = build_graph(PROJECTS / "mixed-js-ts")
    edges = {(edge.source, edge.target, edge.kind, edge.line) for edge in graph.edges}
    assert ("lib/modern.ts", "lib/legacy.js", "require", 1) in edges  # import x = require()
    assert ("lib/modern.ts", "lib/format.ts", "import", 2) in edges
    assert ("lib/modern.ts", "lib/lazy.ts", "dynamic", 4) in edges  # .ts before .mjs
    assert ("lib/legacy.js", "lib/template.js", "require", 2) in edges  # a template literal
    # require() in a .ts file is not an import to the compiler: no edge to template.js.
    assert ("lib/modern.ts", "lib/template.js") not in {(e.source, e.target) for e in graph.edges}
    unresolved = {(problem.path, problem.line) for problem in graph.unresolved}
    assert unresolved == {("lib/legacy.js", 3), ("lib/modern.ts", 5)}  # computed specifiers

    types = build_graph(PROJECTS / "py-type-checking")
    kinds = {(edge.source, edge.target): edge.kind for edge in types.edges}
    assert kinds[("shop/models.py", "shop/services/pricing.py")] == "type_import"
    assert kinds[("shop/services/discounts.py", "shop/plugins/basic.py")] == "dynamic"
    barrels = build_graph(PROJECTS / "barrels-of-barrels")
    assert Edge("src/index.ts", "src/models/index.ts", "reexport", 1) in barrels.edges


def test_a_node16_esm_import_without_its_extension_names_no_file():
    graph = build_graph(PROJECTS / "node16-esm-cjs")
    messages = {(problem.path, problem.message) for problem in graph.unresolved}
    assert ("src/index.ts", "'./b' names no file") in messages
    assert ("cjs/req.js", "'./only' names no file") in messages  # require never probes .cjs


def test_the_json_output_is_sorted_relative_and_complete(capsys):
    call_command("mge", "deps", str(PROJECTS / "paths-two-extends-up"), "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == sorted(data["files"])
    assert data["edges"][0] == {
        "from": "packages/app/main.ts", "to": "packages/core/src/engine.ts", "kind": "import",
        "line": 1,
    }  # fmt: skip
    assert set(data) == {"files", "edges", "unresolved", "errors", "barrel_targets"}


def test_validate_prints_precision_recall_and_accuracy(capsys):
    call_command("mge", "deps", str(PROJECTS / "react-vite-alias"), "--validate")
    out = capsys.readouterr().out
    assert "precision 1.0000  recall 1.0000  accuracy 1.0000" in out
    assert "src/main.tsx:1 → src/App.tsx (import)" in out
    assert "src/App.tsx:1 takes Button from barrel src/components/index.ts: defined in " in out


def test_a_missed_edge_the_graph_does_not_order_otherwise_is_critical():
    graph = SourceGraph(
        edges=[Edge("a.ts", "b.ts", "import", 1), Edge("b.ts", "c.ts", "import", 1)]
    )
    measured = ground_truth.measure(
        graph, {("a.ts", "b.ts"), ("b.ts", "c.ts"), ("a.ts", "c.ts"), ("c.ts", "d.ts")}
    )
    # a → c is missed but a already comes after c through b; c → d is not ordered at all.
    assert measured.false_negatives == [("a.ts", "c.ts"), ("c.ts", "d.ts")]
    assert measured.critical == [("c.ts", "d.ts")]
    assert measured.accuracy == 0.5


def test_broken_files_are_reported_and_the_rest_is_analysed(tmp_path):
    write(tmp_path, {
        "good.ts": 'import { b } from "./broken";\nimport { c } from "./c";\n',
        "broken.ts": "export const b = ;;; {\n", "c.ts": "export const c = 1;\n",
        "py/ok.py": "from py import bad\n", "py/bad.py": "def (:\n", "py/__init__.py": "",
    })  # fmt: skip
    (tmp_path / "latin1.ts").write_bytes(b"export const caf\xe9 = 1;\n")
    graph = build_graph(tmp_path)
    assert {(edge.source, edge.target) for edge in graph.edges} == {
        ("good.ts", "broken.ts"), ("good.ts", "c.ts"), ("py/ok.py", "py/bad.py"),
    }  # fmt: skip
    errors = {problem.path: problem.message for problem in graph.errors}
    assert errors["broken.ts"] == "syntax error"
    assert errors["py/bad.py"].startswith("syntax error: ")
    assert errors["latin1.ts"].startswith("cannot be read: ")


def test_a_symlink_loop_is_read_once_and_reported(tmp_path):
    write(tmp_path, {"a/x.ts": 'import "../b";\n', "b.ts": ""})
    os.symlink("..", tmp_path / "a" / "up")
    graph = build_graph(tmp_path)
    assert graph.files == ["a/x.ts", "b.ts"]
    assert [problem.path for problem in graph.errors] == ["a/up"]
    assert "symlink loop" in graph.errors[0].message


def test_a_huge_file_is_skipped_in_bounded_time(tmp_path):
    write(tmp_path, {"main.ts": 'import "./bundle";\n'})
    (tmp_path / "bundle.js").write_text("var x = 1;\n" * (source_graph.MAX_FILE_BYTES // 8))
    started = time.perf_counter()
    graph = build_graph(tmp_path)
    assert time.perf_counter() - started < 5  # a bound on a pathological input, not a benchmark
    assert graph.errors[0].path == "bundle.js"
    assert "not analysed" in graph.errors[0].message


def test_a_bad_extends_is_a_clear_error(tmp_path, capsys):
    write(tmp_path, {"tsconfig.json": '{ "extends": "./missing.json" }', "a.ts": ""})
    with pytest.raises(ConfigError, match="`extends` names './missing.json', which is not a file"):
        build_graph(tmp_path)
    with pytest.raises(CommandError, match="which is not a file") as refused:
        call_command("mge", "deps", str(tmp_path))
    assert refused.value.returncode == 2
    write(
        tmp_path,
        {
            "tsconfig.json": '{ "extends": "./b.json" }',
            "b.json": '{ "extends": "./tsconfig.json" }',
        },
    )
    with pytest.raises(ConfigError, match="`extends` loops"):
        build_graph(tmp_path)
    write(tmp_path, {"tsconfig.json": '{ "compilerOptions": { "paths": } }'})
    with pytest.raises(ConfigError, match="tsconfig.json: not JSON at line 1"):
        build_graph(tmp_path)


def test_the_cli_names_a_path_that_is_not_a_folder(tmp_path):
    with pytest.raises(CommandError, match="no such folder") as refused:
        call_command("mge", "deps", str(tmp_path / "nowhere"))
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="no such file"):
        call_command("mge", "deps", str(tmp_path), "--tsconfig", str(tmp_path / "x.json"))


def test_jsdoc_imports_in_javascript_and_export_type_star_match_the_compiler(tmp_path):
    write(tmp_path, {
        "jsconfig.json": "{}",
        "src/use.js": (
            '/**\n * @param {import("./types.js").Shape} s\n * @import { Area } from "./area.js"\n'
            ' */\nexport const f = (s) => s;\n// import("./not-jsdoc.js") is no import here\n'
        ),
        "src/types.d.ts": 'export type * from "./more";\nexport interface Shape { w: number }\n',
        "src/more.d.ts": "export type More = 1;\n", "src/area.js": "export const Area = 1;\n",
        "src/not-jsdoc.js": "",
    })  # fmt: skip
    graph = build_graph(tmp_path)
    assert graph.errors == []  # `export type *` is TypeScript 5.0 syntax, not an error
    assert {(edge.source, edge.target, edge.kind, edge.line) for edge in graph.edges} == {
        ("src/use.js", "src/types.d.ts", "type_import", 2),
        ("src/use.js", "src/area.js", "type_import", 3),
        ("src/types.d.ts", "src/more.d.ts", "reexport", 1),
    }  # fmt: skip
    assert ground_truth.typescript_pairs(tmp_path) == pairs(graph)


def test_names_taken_through_barrels_lead_to_the_files_that_define_them():
    graph = build_graph(PROJECTS / "barrels-of-barrels")
    found = {(t.source, t.barrel, t.name): t.defined_in for t in graph.barrel_targets}
    # Two barrels deep: index.ts → models/index.ts → models/user/index.ts → user.ts.
    assert found[("src/consumer.ts", "src/index.ts", "User")] == "src/models/user/user.ts"
    assert found[("src/consumer.ts", "src/index.ts", "Order")] == "src/models/order.ts"
    # `export { default as version } from "./version"`: the default export of version.ts.
    assert found[("src/consumer.ts", "src/index.ts", "version")] == "src/version.ts"
    # `export * as api`: the namespace is the barrel's own, no other file to name.
    assert ("src/consumer.ts", "src/index.ts", "api") not in found
    # The edge itself still goes to the barrel, as the compiler resolves it.
    assert Edge("src/consumer.ts", "src/index.ts", "import", 1) in graph.edges
