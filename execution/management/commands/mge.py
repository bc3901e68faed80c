from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from execution import cli, run_cli

# Each module adds its subcommands with `register(subparsers)`; handlers take
# (command, options).
SUBCOMMAND_MODULES = [cli, run_cli]


class Command(BaseCommand):
    help = "The MGE V2 control plane's command line (see: mge --help)."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for module in SUBCOMMAND_MODULES:
            module.register(subcommands)

    def handle(self, *args: Any, **options: Any) -> None:
        options["handler"](self, options)
