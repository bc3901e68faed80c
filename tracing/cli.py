"""`manage.py mge traces prune --older-than 30d [--dry-run]`: delete old traces."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from execution.cli.commands import parse_age
from tracing.service import prunable, prune


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser("traces", help="trace maintenance")
    actions = parser.add_subparsers(dest="traces_action", required=True)
    pruning = actions.add_parser(
        "prune", help="delete the traces (and their events) of executions started long ago"
    )
    pruning.add_argument(
        "--older-than", required=True, type=parse_age, help="an age like 30d or 12h"
    )
    pruning.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    pruning.set_defaults(handler=prune_command)


def prune_command(command: BaseCommand, options: dict[str, Any]) -> None:
    age: dt.timedelta = options["older_than"]
    if options["dry_run"]:
        command.stdout.write(f"{prunable(age)} traces started more than {age} ago would go")
        return
    command.stdout.write(f"{prune(age)} traces started more than {age} ago deleted")
