"""`manage.py mge deps PATH [--json] [--tsconfig FILE] [--validate]`: the import graph of a
source tree (execution.dependencies.source_graph), and its accuracy against the
compiler's own resolution."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from execution.cli.commands import EXIT_BAD_INPUT
from execution.dependencies import ground_truth
from execution.dependencies.source_graph import SourceGraph, build_graph
from execution.dependencies.tsconfig import ConfigError


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser("deps", help="the import graph of a source tree")
    parser.add_argument("path", type=Path, help="the tree's root folder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--tsconfig", type=Path, help="default: PATH's tsconfig/jsconfig.json")
    parser.add_argument(
        "--validate", action="store_true",
        help="compare with the TypeScript compiler's and grimp's graph: precision, recall, "
        "accuracy and every false positive and negative",
    )  # fmt: skip
    parser.set_defaults(handler=deps_command)


def deps_command(command: BaseCommand, options: dict[str, Any]) -> None:
    root: Path = options["path"]
    if not root.is_dir():
        raise CommandError(f"{root}: no such folder", returncode=EXIT_BAD_INPUT)
    tsconfig: Path | None = options["tsconfig"]
    if tsconfig is not None and not tsconfig.is_file():
        raise CommandError(f"{tsconfig}: no such file", returncode=EXIT_BAD_INPUT)
    try:
        graph = build_graph(root, tsconfig)
    except ConfigError as error:
        raise CommandError(str(error), returncode=EXIT_BAD_INPUT) from None
    accuracy = None
    if options["validate"]:
        try:
            accuracy = ground_truth.measure(graph, ground_truth.truth(root, graph, tsconfig))
        except ground_truth.GroundTruthUnavailable as error:
            raise CommandError(str(error), returncode=EXIT_BAD_INPUT) from None
    if options["json"]:
        data = graph.as_json()
        if accuracy is not None:
            data["validation"] = accuracy.as_json()
        command.stdout.write(json.dumps(data, indent=2))
        return
    _print(command, graph)
    if accuracy is not None:
        _print_accuracy(command, accuracy)


def _print(command: BaseCommand, graph: SourceGraph) -> None:
    for edge in graph.edges:
        command.stdout.write(f"{edge.source}:{edge.line} → {edge.target} ({edge.kind})")
    for target in graph.barrel_targets:
        command.stdout.write(
            f"{target.source}:{target.line} takes {target.name} from barrel {target.barrel}: "
            f"defined in {target.defined_in}"
        )
    for problem in graph.unresolved:
        command.stdout.write(f"unresolved {problem.path}:{problem.line}: {problem.message}")
    for problem in graph.errors:
        command.stdout.write(f"not analysed {problem.path}:{problem.line}: {problem.message}")
    command.stdout.write(
        f"{len(graph.files)} files, {len(graph.edges)} edges, {len(graph.unresolved)} "
        f"unresolved, {len(graph.errors)} files with errors"
    )


def _print_accuracy(command: BaseCommand, accuracy: ground_truth.Accuracy) -> None:
    command.stdout.write(
        f"precision {accuracy.precision:.4f}  recall {accuracy.recall:.4f}  "
        f"accuracy {accuracy.accuracy:.4f} (TP/(TP+FP+FN) against the compiler)"
    )
    for source, target in accuracy.critical:
        command.stdout.write(f"CRITICAL false negative: {source} → {target} (not ordered)")
    for source, target in accuracy.false_negatives:
        if (source, target) not in accuracy.critical:
            command.stdout.write(f"false negative: {source} → {target}")
    for source, target in accuracy.false_positives:
        command.stdout.write(f"false positive: {source} → {target}")
