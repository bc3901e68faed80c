"""`manage.py mge import|export|load-examples|demo-user` — the masterplan CLI."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from execution.actions import import_masterplan
from execution.document.export import export_masterplan
from execution.document.format import MasterPlanFormatError
from execution.models import MasterPlan

EXIT_BAD_INPUT = 2
DEMO_USERNAME = "demo"


def parse_age(text: str) -> dt.timedelta:
    """An argument like 7d or 36h (days or hours)."""
    match = re.fullmatch(r"(\d+)([dh])", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age like 7d or 36h")
    number, unit = int(match[1]), match[2]
    return dt.timedelta(days=number) if unit == "d" else dt.timedelta(hours=number)


def register(subcommands: argparse._SubParsersAction[CommandParser]) -> None:
    parser = subcommands.add_parser("import", help="import a masterplan document")
    parser.add_argument("file", type=Path, help="the masterplan document (.md)")
    parser.add_argument("--json", action="store_true", help='print {"masterplan_id": "…"}')
    parser.set_defaults(handler=import_command)

    parser = subcommands.add_parser("export", help="print a masterplan's document")
    parser.add_argument("masterplan_id", help="the masterplan's id")
    parser.set_defaults(handler=export_command)

    parser = subcommands.add_parser(
        "load-examples", help="import every example masterplan not loaded yet"
    )
    parser.add_argument("directory", type=Path, nargs="?", default=settings.BASE_DIR / "examples")
    parser.set_defaults(handler=load_examples_command)

    parser = subcommands.add_parser(
        "demo-user", help=f"create the demo superuser {DEMO_USERNAME!r} unless it exists"
    )
    parser.set_defaults(handler=demo_user_command)


def read_document(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", returncode=EXIT_BAD_INPUT) from None
    except IsADirectoryError:
        raise CommandError(
            f"{path} is a directory, not a file", returncode=EXIT_BAD_INPUT
        ) from None
    except UnicodeDecodeError:
        raise CommandError(f"{path} is not UTF-8 text", returncode=EXIT_BAD_INPUT) from None
    except OSError as error:
        raise CommandError(f"{path}: {error.strerror}", returncode=EXIT_BAD_INPUT) from None


def import_file(path: Path) -> MasterPlan:
    """Import a document file, or raise CommandError (exit 2) listing its problems."""
    try:
        return import_masterplan(read_document(path))
    except MasterPlanFormatError as error:
        lines = "\n".join(f"  {path}:{problem}" for problem in error.problems)
        raise CommandError(
            f"{path} was not imported ({len(error.problems)} problem"
            f"{'s' * (len(error.problems) != 1)}):\n{lines}",
            returncode=EXIT_BAD_INPUT,
        ) from None


def import_command(command: BaseCommand, options: dict[str, Any]) -> None:
    masterplan = import_file(options["file"])
    if options["json"]:
        command.stdout.write(json.dumps({"masterplan_id": str(masterplan.pk)}))
    else:
        command.stdout.write(str(masterplan.pk))


def export_command(command: BaseCommand, options: dict[str, Any]) -> None:
    masterplan = _find_masterplan(options["masterplan_id"])
    command.stdout.write(export_masterplan(masterplan), ending="")


def _find_masterplan(masterplan_id: str) -> MasterPlan:
    try:
        return MasterPlan.objects.get(pk=uuid.UUID(masterplan_id))
    except (ValueError, MasterPlan.DoesNotExist):
        raise CommandError(
            f"no masterplan with id {masterplan_id!r}", returncode=EXIT_BAD_INPUT
        ) from None


def load_examples_command(command: BaseCommand, options: dict[str, Any]) -> None:
    directory: Path = options["directory"]
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise CommandError(f"no masterplan documents (*.md) in {directory}", returncode=2)
    existing = set(MasterPlan.objects.values_list("name", flat=True))
    for path in paths:
        masterplan_name = _front_matter_name(path)
        if masterplan_name in existing:
            command.stdout.write(f"{path.name}: already loaded")
            continue
        masterplan = import_file(path)
        command.stdout.write(f"{path.name}: loaded as {masterplan.name} ({masterplan.pk})")


def _front_matter_name(path: Path) -> str | None:
    for line in read_document(path).splitlines()[1:]:
        if line.strip() == "---":
            return None
        if line.startswith("name:"):
            return line.partition(":")[2].strip().strip("'\"")
    return None


def demo_user_command(command: BaseCommand, options: dict[str, Any]) -> None:
    user_model = get_user_model()
    if user_model.objects.filter(username=DEMO_USERNAME).exists():
        command.stdout.write(
            f"Log in as {DEMO_USERNAME!r} (its password was printed when it was created; "
            f"reset it with: python manage.py changepassword {DEMO_USERNAME})"
        )
        return
    password = secrets.token_urlsafe(12)
    user_model.objects.create_superuser(DEMO_USERNAME, f"{DEMO_USERNAME}@localhost", password)
    command.stdout.write(
        f"Created the demo superuser. Log in as {DEMO_USERNAME!r} with password {password!r} "
        "(shown only this once)."
    )
