"""Where a masterplan's generated files live, and the rule that keeps them there."""

from __future__ import annotations

import re
import uuid
from pathlib import Path, PurePosixPath

from django.conf import settings

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class WorkspacePathError(ValueError):
    pass


def workspace_dir(masterplan_id: uuid.UUID | str) -> Path:
    return settings.MGE_WORKSPACE_ROOT / str(masterplan_id)


def check_relative_path(path: str) -> str:
    """The normalised form of an atom's target path, or WorkspacePathError saying why not.

    Only the text is judged here (the workspace may not exist yet); `resolve_in_workspace`
    repeats the check against the disk when a file is written.
    """
    if not path or not path.strip():
        raise WorkspacePathError("the file path is empty")
    if "\x00" in path or any(ord(char) < 32 for char in path):
        raise WorkspacePathError("the file path contains control characters")
    if "\\" in path:
        raise WorkspacePathError("use forward slashes in file paths")
    if path.startswith("/") or _WINDOWS_DRIVE.match(path):
        raise WorkspacePathError("the file path must be relative to the workspace, not absolute")
    if path.endswith("/"):
        raise WorkspacePathError("the file path names a directory, not a file")
    parts = PurePosixPath(path).parts
    if ".." in parts:
        raise WorkspacePathError("the file path must not leave the workspace ('..')")
    normalised = str(PurePosixPath(*[part for part in parts if part != "."]))
    if normalised in ("", "."):
        raise WorkspacePathError("the file path is empty")
    if len(normalised) > 255:
        raise WorkspacePathError("the file path is longer than 255 characters")
    return normalised


def resolve_in_workspace(workspace: Path, relative_path: str) -> Path:
    """The absolute path of a file inside `workspace`, following symlinks on disk.

    A symlink planted inside the workspace (say `lib -> /etc`) would let a lexically clean
    path like `lib/passwd` land outside, so the resolved path is checked, not the text.
    """
    candidate = (workspace / check_relative_path(relative_path)).resolve()
    if not candidate.is_relative_to(workspace.resolve()):
        raise WorkspacePathError(
            f"{relative_path!r} resolves outside the workspace (through a symbolic link)"
        )
    return candidate


def workspace_files(workspace: Path) -> list[str]:
    """The files written into a workspace, relative and sorted (temporary files left out)."""
    if not workspace.is_dir():
        return []
    return sorted(
        str(path.relative_to(workspace))
        for path in workspace.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )
