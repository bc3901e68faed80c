from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "The MGE V2 control plane's command line (see: mge --help)."

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        # Each app's CLI module adds its subcommands with `register(subparsers)`; handlers
        # take (command, options). The list is in settings so execution imports no app.
        for path in settings.MGE_CLI_MODULES:
            import_module(path).register(subcommands)

    def handle(self, *args: Any, **options: Any) -> None:
        options["handler"](self, options)
