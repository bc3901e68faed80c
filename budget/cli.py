"""`manage.py mge budget rebuild [ID …]`: Redis counters from the ledger.
`manage.py mge budget reconcile [--since 7d] [--dry-run]`: estimated entries corrected
from the provider's usage report (budget.reconcile)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from budget.reconcile import ReconcileUnavailable, reconcile
from budget.tasks import rebuild_counters
from execution.cli.commands import EXIT_BAD_INPUT, parse_age
from execution.models import MasterPlan


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser("budget", help="budget maintenance")
    actions = parser.add_subparsers(dest="budget_action", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="set the Redis counters from the ledger (e.g. after Redis lost them)"
    )
    rebuild.add_argument("masterplan_ids", nargs="*", help="default: every masterplan")
    rebuild.set_defaults(handler=rebuild_command)
    correct = actions.add_parser(
        "reconcile",
        help="correct estimated entries (calls of a worker that died) from the provider's "
        "usage report; needs ANTHROPIC_ADMIN_API_KEY and MGE_USAGE_REPORT_API_KEY_ID",
    )
    correct.add_argument(
        "--since", default="7d", type=parse_age, help="calls sent this long ago or later: 7d, 36h"
    )
    correct.add_argument("--dry-run", action="store_true", help="show, change nothing")
    correct.set_defaults(handler=reconcile_command)


def rebuild_command(command: BaseCommand, options: dict[str, Any]) -> None:
    masterplans = MasterPlan.objects.all()
    if options["masterplan_ids"]:
        masterplans = masterplans.filter(pk__in=options["masterplan_ids"])
    for masterplan in masterplans:
        spent = rebuild_counters(masterplan.pk)
        command.stdout.write(f"{masterplan.name}: ${spent} spent")


def reconcile_command(command: BaseCommand, options: dict[str, Any]) -> None:
    try:
        corrections = reconcile(timezone.now() - options["since"], dry_run=options["dry_run"])
    except ReconcileUnavailable as error:
        raise CommandError(str(error), returncode=EXIT_BAD_INPUT) from None
    if not corrections:
        command.stdout.write(
            "nothing to correct: no estimated entry, or the report shows no usage beyond "
            "the settled calls yet (it lags by minutes)"
        )
    verb = "would become" if options["dry_run"] else "now"
    for correction in corrections:
        command.stdout.write(
            f"{correction.hour:%Y-%m-%d %H:00} UTC {correction.model}: {correction.entries} "
            f"estimated entries, ${correction.estimated_usd} {verb} ${correction.reported_usd}"
        )
