"""The source files of a workspace as the levels read them, and which atom, task and
milestone each belongs to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from execution.document.spec import LANGUAGE_BY_EXTENSION
from execution.models import Atom
from execution.runtime.workspace import workspace_files

MAX_SOURCE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Owner:
    atom_id: uuid.UUID
    atom_name: str
    task_id: uuid.UUID
    milestone_id: uuid.UUID


@dataclass(frozen=True)
class Source:
    path: str
    """Relative to the workspace, with forward slashes."""
    language: str
    text: str | None
    """None when the file could not be read or decoded (`problem` says why)."""
    problem: str = ""


@dataclass(frozen=True)
class Workspace:
    root: Path
    sources: dict[str, Source]
    owners: dict[str, Owner]

    def owner(self, path: str) -> Owner | None:
        return self.owners.get(path)

    def readable(self, language: str | None = None) -> list[Source]:
        return [
            source
            for source in self.sources.values()
            if source.text is not None and (language is None or source.language == language)
        ]

    def same_task(self, first: str, second: str) -> bool:
        """Whether two files are written by atoms of one task (a file no atom writes belongs
        to no task: its links are judged at the task level)."""
        one, other = self.owner(first), self.owner(second)
        return one is None or other is None or one.task_id == other.task_id


def read_workspace(root: Path, masterplan_id: uuid.UUID | str) -> Workspace:
    owners = {
        path: Owner(atom_id, name, task_id, milestone_id)
        for atom_id, name, path, task_id, milestone_id in Atom.objects.filter(
            masterplan_id=masterplan_id
        ).values_list("pk", "name", "file_path", "task_id", "task__milestone_id")
    }
    sources = {}
    for path in workspace_files(root):
        language = LANGUAGE_BY_EXTENSION.get(PurePosixPath(path).suffix)
        if language is None or path.endswith(".d.ts"):
            continue
        sources[path] = _read(root, path, language)
    return Workspace(root, sources, owners)


def _read(root: Path, path: str, language: str) -> Source:
    file = root / path
    try:
        if file.is_symlink():
            return Source(path, language, None, "is a symbolic link: not read")
        if file.stat().st_size > MAX_SOURCE_BYTES:
            return Source(path, language, None, f"is larger than {MAX_SOURCE_BYTES} bytes")
        return Source(path, language, file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        return Source(
            path, language, None, f"is not UTF-8 text ({error.reason} at byte {error.start})"
        )
    except OSError as error:
        return Source(path, language, None, f"cannot be read: {error.strerror}")
