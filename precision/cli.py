"""`manage.py mge validate ID_OR_NAME [--json]`: L1–L4 now, in this process (generated code
only in the sandbox), stored as a run with its snapshot; the checks by level and the score."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from execution.cli.commands import EXIT_BAD_INPUT
from execution.models import MasterPlan
from precision.models import ValidationCheck
from precision.reports import check_json, run_json, snapshot_json
from precision.scoring import take_snapshot
from precision.validation import ALL_LEVELS, validate


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser(
        "validate", help="run the L1–L4 validation of a masterplan's workspace and score it"
    )
    parser.add_argument("masterplan", help="the masterplan's id or its exact name")
    parser.add_argument("--json", action="store_true", help="print the run, score and checks")
    parser.set_defaults(handler=validate_command)


def find_masterplan(target: str) -> MasterPlan:
    """By id, else by exact name; CommandError (exit 2) naming what was looked for."""
    try:
        return MasterPlan.objects.get(pk=uuid.UUID(target))
    except (ValueError, MasterPlan.DoesNotExist):
        pass
    named = list(MasterPlan.objects.filter(name=target)[:2])
    if len(named) == 1:
        return named[0]
    if named:
        raise CommandError(
            f"{MasterPlan.objects.filter(name=target).count()} masterplans are named {target!r}: "
            "give the id",
            returncode=EXIT_BAD_INPUT,
        )
    raise CommandError(f"no masterplan has the id or name {target!r}", returncode=EXIT_BAD_INPUT)


def validate_command(command: BaseCommand, options: dict[str, Any]) -> None:
    masterplan = find_masterplan(options["masterplan"])
    run = validate(masterplan, ALL_LEVELS)
    snapshot = take_snapshot(masterplan, run=run)
    checks = list(run.checks.select_related("atom").order_by("level", "file", "line"))
    score = snapshot_json(snapshot)
    if options["json"]:
        command.stdout.write(
            json.dumps(
                {
                    "masterplan": {"id": str(masterplan.pk), "name": masterplan.name},
                    "run": run_json(run),
                    "score": score,
                    "checks": [check_json(check) for check in checks],
                },
                indent=2,
            )
        )
        return
    write = command.stdout.write
    write(
        f"{masterplan.name}: {run.message} ({run.files} files, {run.duration_s:.1f} s, "
        f"sandbox {run.isolation or 'not used'})"
    )
    for level, label in ValidationCheck.Level.choices:
        at_level = [check for check in checks if check.level == level]
        passed = sum(check.passed for check in at_level)
        write(f"\n{label}: {passed} of {len(at_level)} passed")
        for check in at_level:
            if check.passed and not check.severity:
                continue
            where = f"{check.file}:{check.line}" if check.line else check.file or "(workspace)"
            mark = {"passed": "  note", "failed": "  FAIL", "error": "  ERROR"}[check.status]
            write(f"{mark} {check.severity or '-':8} {check.category:20} {where}: {check.message}")
    write(
        f"\nprecision {score['score']:.1%} (target 98%: "
        f"{'met' if score['meets_target'] else 'not met'}) = 0.5 × spec conformance "
        f"{score['spec_conformance']:.1%} + 0.3 × integration {score['integration_pass']:.1%} "
        f"+ 0.2 × validation {score['validation_pass']:.1%}"
    )
    if score["no_data"]:
        write(f"no data (counted as 100%): {', '.join(score['no_data'])}")
