"""`manage.py mge budget rebuild [ID …]`: Redis counters from the ledger."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from budget.tasks import rebuild_counters
from execution.models import MasterPlan


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser("budget", help="budget maintenance")
    actions = parser.add_subparsers(dest="budget_action", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="set the Redis counters from the ledger (e.g. after Redis lost them)"
    )
    rebuild.add_argument("masterplan_ids", nargs="*", help="default: every masterplan")
    rebuild.set_defaults(handler=rebuild_command)


def rebuild_command(command: BaseCommand, options: dict[str, Any]) -> None:
    masterplans = MasterPlan.objects.all()
    if options["masterplan_ids"]:
        masterplans = masterplans.filter(pk__in=options["masterplan_ids"])
    for masterplan in masterplans:
        spent = rebuild_counters(masterplan.pk)
        command.stdout.write(f"{masterplan.name}: ${spent} spent")
