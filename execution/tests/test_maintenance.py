from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from execution.actions import import_masterplan
from execution.runtime.maintenance import remove_orphan_workspaces
from execution.tests.test_masterplan_format import MINIMAL


def make_old(path: Path) -> None:
    an_hour_and_more_ago = time.time() - 3700
    os.utime(path, (an_hour_and_more_ago, an_hour_and_more_ago))


@pytest.mark.django_db
def test_only_old_folders_of_deleted_masterplans_are_removed(settings):
    root = settings.MGE_WORKSPACE_ROOT
    alive = import_masterplan(MINIMAL)
    orphan, fresh_orphan = root / str(uuid.uuid4()), root / str(uuid.uuid4())
    stranger = root / "not-a-masterplan"
    for folder in (root / str(alive.pk), orphan, fresh_orphan, stranger):
        folder.mkdir(parents=True)
        (folder / "a.py").write_text("x = 1\n")
    for folder in (root / str(alive.pk), orphan, stranger):
        make_old(folder)

    assert remove_orphan_workspaces() == [orphan.name]
    assert not orphan.exists()
    assert (root / str(alive.pk) / "a.py").exists()
    assert fresh_orphan.exists()
    assert stranger.exists()


@pytest.mark.django_db
def test_missing_workspace_root_is_not_an_error(settings, tmp_path):
    settings.MGE_WORKSPACE_ROOT = tmp_path / "never-created"
    assert remove_orphan_workspaces() == []
