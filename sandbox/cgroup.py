"""A pids cgroup that caps how many processes one sandboxed run may start."""

from __future__ import annotations

import os
import signal
import time
import uuid
from contextlib import suppress
from pathlib import Path


class PidsCgroup:
    """A child of our own pids cgroup (v1 or v2) whose pids.max caps the sandbox's tasks."""

    def __init__(self, path: Path):
        self.path = path
        self.procs = path / "cgroup.procs"

    @classmethod
    def create(cls, limit: int) -> PidsCgroup | None:
        """None where no pids cgroup can be written (no controller, not root, not delegated)."""
        parent = own_pids_cgroup()
        if parent is None:
            return None
        path = parent / f"mge-sandbox-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            return None
        try:
            (path / "pids.max").write_text(str(limit))
        except OSError:
            path.rmdir()
            return None
        return cls(path)

    def pids(self) -> list[int]:
        try:
            return [int(line) for line in self.procs.read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):  # the last tasks leave the cgroup a moment after they die
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def own_pids_cgroup() -> Path | None:
    """The directory of this process's pids cgroup, from /proc/self/cgroup and mountinfo."""
    try:
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    own: dict[str, str] = {}
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            own["cgroup"] = path
        elif controllers == "":
            own["cgroup2"] = path
    for line in mounts:
        fields, _, tail = line.partition(" - ")
        fstype, _, options = [*tail.split(" ", 2), "", ""][:3]
        mount_point = Path(fields.split()[4])
        if fstype == "cgroup" and "pids" in options.split(",") and "cgroup" in own:
            directory = mount_point / own["cgroup"].lstrip("/")
        elif fstype == "cgroup2" and "cgroup2" in own:
            directory = mount_point / own["cgroup2"].lstrip("/")
            if "pids" not in _read(directory / "cgroup.subtree_control").split():
                continue
        else:
            continue
        if directory.is_dir():
            return directory
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
