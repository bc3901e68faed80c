"""Housekeeping jobs the scheduler runs on a timer (see mge_site/cron.py)."""

from __future__ import annotations

import logging
import shutil
import time
import uuid

from django.conf import settings

from execution.models import MasterPlan

logger = logging.getLogger(__name__)

ORPHAN_GRACE_SECONDS = 3600


def remove_orphan_workspaces(grace_seconds: float = ORPHAN_GRACE_SECONDS) -> list[str]:
    """Delete workspace folders whose masterplan is gone; returns their names.

    A delete removes its workspace after commit, but a crash between the two, or a
    restored database, leaves folders nobody owns. Only folders named like a masterplan
    id and untouched for `grace_seconds` are considered, so nothing else in the root, and
    no workspace of a plan being created right now, is touched.
    """
    root = settings.MGE_WORKSPACE_ROOT
    if not root.is_dir():
        return []
    candidates = {}
    for folder in root.iterdir():
        try:
            masterplan_id = uuid.UUID(folder.name)
        except ValueError:
            continue
        untouched_for = time.time() - folder.lstat().st_mtime
        if folder.is_dir() and not folder.is_symlink() and untouched_for >= grace_seconds:
            candidates[masterplan_id] = folder
    alive = set(MasterPlan.objects.filter(pk__in=candidates).values_list("pk", flat=True))
    removed = []
    for masterplan_id, folder in candidates.items():
        if masterplan_id not in alive:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
            logger.info("removed orphan workspace %s", folder)
    return removed
