from __future__ import annotations

import os

import pytest

from execution.runtime.workspace import (
    WorkspacePathError,
    check_relative_path,
    resolve_in_workspace,
)


@pytest.mark.parametrize(
    ("path", "normalised"),
    [("pkg/a.py", "pkg/a.py"), ("./pkg/./a.py", "pkg/a.py"), ("a.ts", "a.ts")],
)
def test_relative_paths_are_normalised(path, normalised):
    assert check_relative_path(path) == normalised


@pytest.mark.parametrize(
    "path", ["", "  ", "../a.py", "a/../../b.py", "/abs.py", "D:/x.py", "a\\b.py", "a\x00.py"]
)
def test_paths_that_could_leave_the_workspace_are_refused(path):
    with pytest.raises(WorkspacePathError):
        check_relative_path(path)


def test_a_symlink_inside_the_workspace_cannot_lead_outside(tmp_path):
    workspace = tmp_path / "ws"
    outside = tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    os.symlink(outside, workspace / "lib")
    with pytest.raises(WorkspacePathError, match="resolves outside the workspace"):
        resolve_in_workspace(workspace, "lib/secrets.py")


def test_a_symlink_that_stays_inside_is_fine(tmp_path):
    workspace = tmp_path / "ws"
    (workspace / "real").mkdir(parents=True)
    os.symlink(workspace / "real", workspace / "alias")
    assert resolve_in_workspace(workspace, "alias/a.py") == (workspace / "real" / "a.py").resolve()
