"""A sandboxed run: a private copy of the source, the command under its limits, killed with
everything it started at its deadline (the threat model is in the package's docstring)."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sandbox.cgroup import PidsCgroup
from sandbox.kinds import SANDBOX_UID, SETPRIV_CAPS, drop_privileges, select_kind

INSIDE_ROOT = Path("/tmp")
SOURCE_NAME = "mge-source"
OUTPUT_TAIL_BYTES = 32 * 1024
_HIDDEN_TMPFS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_bytes: int
    file_size_bytes: int
    open_files: int
    processes: int
    tmpfs_bytes: int

    @classmethod
    def from_settings(cls) -> Limits:
        mib = 1024 * 1024
        return cls(
            cpu_seconds=settings.MGE_SANDBOX_CPU_SECONDS,
            memory_bytes=settings.MGE_SANDBOX_MEMORY_MB * mib,
            file_size_bytes=settings.MGE_SANDBOX_FILE_SIZE_MB * mib,
            open_files=settings.MGE_SANDBOX_OPEN_FILES,
            processes=settings.MGE_SANDBOX_PROCESSES,
            tmpfs_bytes=settings.MGE_SANDBOX_TMPFS_MB * mib,
        )

    def prlimit(self, *, with_nproc: bool) -> list[str]:
        """The `prlimit` prefix that sets them for a command (soft and hard alike, so the
        command cannot raise them again)."""
        command = [
            "prlimit",
            f"--cpu={self.cpu_seconds}",
            f"--as={self.memory_bytes}",
            f"--fsize={self.file_size_bytes}",
            f"--nofile={self.open_files}",
            "--core=0",
        ]
        if with_nproc:
            command.append(f"--nproc={self.processes}")
        return [*command, "--"]


@dataclass(frozen=True)
class Execution:
    returncode: int | None
    """None when the wall clock ran out and the run was killed."""
    output: str
    """The tail of its stdout and stderr."""
    duration_s: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


@contextmanager
def open_sandbox(limits: Limits | None = None) -> Iterator[Sandbox]:
    """A sandbox for one test run: its host directory and process cap live as long as this."""
    kind = select_kind()
    limits = limits or Limits.from_settings()
    run_dir = Path(tempfile.mkdtemp(prefix="mge-sandbox-"))
    cgroup = PidsCgroup.create(limits.processes) if kind != "none" else None
    try:
        yield Sandbox(kind, limits, run_dir, cgroup)
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(run_dir, ignore_errors=True)


class Sandbox:
    """Runs commands on a private copy of `source` (fill it first), with `tools` (host paths)
    bound read-only beside the copy: a command sees them at `tool_path(name)`."""

    def __init__(self, kind: str, limits: Limits, run_dir: Path, cgroup: PidsCgroup | None):
        self.kind = kind
        self.limits = limits
        self.run_dir = run_dir
        self.cgroup = cgroup
        self.source = self.host_dir("source")
        # As root there is no user namespace: the sandbox really runs as nobody. Either way
        # its uid is not root to the kernel, so RLIMIT_NPROC applies where no cgroup does.
        self._as_nobody = kind != "none" and os.geteuid() == 0
        self._rlimit_nproc = kind != "none" and cgroup is None

    @property
    def isolation(self) -> str:
        if self.cgroup is not None:
            return f"{self.kind}+cgroup-pids"
        if self._rlimit_nproc:
            return f"{self.kind}+rlimit-nproc"
        return self.kind

    @property
    def root(self) -> Path:
        """Where the workspace copy and the tools are, as the command sees them."""
        return INSIDE_ROOT if self.kind != "none" else self.run_dir / "root"

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    def tool_path(self, name: str) -> Path:
        return self.root / name

    def host_dir(self, name: str) -> Path:
        """A directory of this run on the host; the sandbox sees only what is bound."""
        path = self.run_dir / name
        path.mkdir(exist_ok=True)
        return path

    def run(
        self,
        command: Sequence[str],
        *,
        tools: Mapping[str, Path],
        env: Mapping[str, str],
        pass_fd: int | None = None,
        timeout_s: float,
    ) -> Execution:
        """Run `command` in the workspace copy; `pass_fd` stays open in it under its number."""
        if self._as_nobody:
            _give_to_sandbox_user(self.run_dir)
        inside = self._inside_command(command)
        if self.kind == "bwrap":
            argv = self._bwrap_argv(inside, tools)
        elif self.kind == "unshare":
            argv = self._unshare_argv(inside, tools)
        else:
            argv = self._unisolated_argv(inside, tools)
        if self.cgroup is not None:
            # Join the cgroup before the exec, so every process the sandbox forks is counted.
            argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.cgroup.procs), *argv]
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            **env,
        }
        return self._execute(argv, environment, pass_fd, timeout_s)

    # --- what runs inside ------------------------------------------------------------

    def _inside_command(self, command: Sequence[str]) -> list[str]:
        """Copy the workspace onto the private tmpfs, then exec the command under the rlimits.

        The copy is made inside, so its size counts against the tmpfs and not the host disk.
        """
        workspace, home = shlex.quote(str(self.workspace)), shlex.quote(str(self.root / "home"))
        source = shlex.quote(str(self.tool_path(SOURCE_NAME)))
        prelude = (
            f"rm -rf {workspace} && mkdir -p {workspace} {home} && cp -a {source}/. {workspace}"
            f' && cd {workspace} && exec "$@"'
        )
        limits = self.limits.prlimit(with_nproc=self._rlimit_nproc)
        return ["/bin/sh", "-c", prelude, "sh", *limits, *command]

    # --- bwrap -----------------------------------------------------------------------

    def _bwrap_argv(self, inside: list[str], tools: Mapping[str, Path]) -> list[str]:
        argv = [
            "bwrap", "--die-with-parent", "--new-session",
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
        ]  # fmt: skip
        for path, mode, size in self._private_places():
            argv += ["--perms", mode, "--size", str(size), "--tmpfs", str(path)]
        made: set[Path] = set()
        for source, target in self._binds(tools):
            for parent in _parents_below_private(target, self._private_paths()):
                if parent not in made:
                    made.add(parent)
                    argv += ["--perms", "0755", "--dir", str(parent)]
            argv += ["--ro-bind", str(source), str(target)]
        for path in _hidden_paths():
            argv += ["--remount-ro", str(path)]
        if self._as_nobody:
            return [*argv, *SETPRIV_CAPS, "--", *drop_privileges(to_nobody=True), *inside]
        user = ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        return [*argv, *user, "--disable-userns", "--", *inside]

    # --- unshare ---------------------------------------------------------------------

    def _unshare_argv(self, inside: list[str], tools: Mapping[str, Path]) -> list[str]:
        namespaces = ["--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
        if not self._as_nobody:
            namespaces = ["--user", "--map-root-user", *namespaces]
        script = self._mount_script(tools)
        return [
            # unshare has no --die-with-parent: the parent-death signal survives its exec.
            "setpriv", "--pdeathsig", "KILL", "--",
            "unshare", *namespaces, "--propagation", "private", "--",
            "/bin/sh", "-c", script, "sh", *drop_privileges(to_nobody=self._as_nobody), *inside,
        ]  # fmt: skip

    def _mount_script(self, tools: Mapping[str, Path]) -> str:
        """Shell that builds bwrap's filesystem with `mount`, then execs its arguments.

        The new /tmp is assembled on a tmpfs at a staging directory and moved over /tmp at
        the end, because the bound paths (the workspace source, the run's tools) are under
        the old /tmp; paths bound elsewhere wait in it until their hidden parent is mounted.
        """
        quote = shlex.quote
        stage = self.host_dir("stage")
        writable_tmpfs = f"mount -n -t tmpfs -o mode=1777,size={self.limits.tmpfs_bytes} tmpfs"
        hiding_tmpfs = f"mount -n -t tmpfs -o mode=0755,size={_HIDDEN_TMPFS_BYTES} tmpfs"
        lines = [
            "set -eu",
            # Every inherited mount read-only, with the flags the kernel may have locked.
            "while read -r _ _ _ _ point options _; do",
            '  point=$(printf "%b" "$point")',
            '  case "$point" in /proc|/proc/*) continue ;; esac',
            '  mount -n -o "remount,bind,ro,${options#rw}" "$point"',
            "done < /proc/self/mountinfo",
            f"{writable_tmpfs} {quote(str(stage))}",
            f"mkdir {quote(str(stage / '.binds'))}",
        ]
        waiting: list[tuple[Path, Path]] = []
        for index, (source, target) in enumerate(self._binds(tools)):
            if target.is_relative_to(INSIDE_ROOT):
                staged = stage / target.relative_to(INSIDE_ROOT)
            else:
                staged = stage / ".binds" / str(index)
                waiting.append((INSIDE_ROOT / ".binds" / str(index), target))
            lines += [
                f"mkdir -p {quote(str(staged))}",
                f"mount -n --bind {quote(str(source))} {quote(str(staged))}",
            ]
        lines += [
            f"mount -n --move {quote(str(stage))} {INSIDE_ROOT}",
            f"{writable_tmpfs} /dev/shm",
        ]
        hidden = _hidden_paths()
        for path in hidden:
            lines.append(f"{hiding_tmpfs} {quote(str(path))}")
        for staged, target in waiting:
            lines += [
                f"mkdir -p {quote(str(target))}",
                f"mount -n --move {quote(str(staged))} {quote(str(target))}",
            ]
        lines.append(f"rm -rf {INSIDE_ROOT / '.binds'}")
        lines += [f"mount -n -o remount,bind,ro {quote(str(path))}" for path in hidden]
        lines.append('exec "$@"')
        return "\n".join(lines)

    # --- no isolation (DEBUG only) -------------------------------------------------------

    def _unisolated_argv(self, inside: list[str], tools: Mapping[str, Path]) -> list[str]:
        self.root.mkdir(exist_ok=True)
        for name, source in {**tools, SOURCE_NAME: self.source}.items():
            link = self.tool_path(name)
            if not link.is_symlink():
                link.symlink_to(source)
        return inside

    # --- the layout both isolations build ------------------------------------------------

    def _private_places(self) -> list[tuple[Path, str, int]]:
        """(path, mode, size) of every tmpfs: the writable ones first, then the hidden."""
        writable = [(INSIDE_ROOT, "1777", self.limits.tmpfs_bytes)]
        writable.append((Path("/dev/shm"), "1777", self.limits.tmpfs_bytes))
        return writable + [(path, "0755", _HIDDEN_TMPFS_BYTES) for path in _hidden_paths()]

    def _private_paths(self) -> list[Path]:
        return [path for path, _, _ in self._private_places()]

    def _binds(self, tools: Mapping[str, Path]) -> list[tuple[Path, Path]]:
        """(host path, path inside) of every read-only bind."""
        binds = [(self.source, self.tool_path(SOURCE_NAME))]
        binds += [(source, self.tool_path(name)) for name, source in tools.items()]
        private = self._private_paths()
        # The interpreters the commands exec, where a tmpfs covers them.
        for path in _interpreter_prefixes():
            if any(path.is_relative_to(parent) for parent in private):
                binds.append((path, path))
        return binds

    # --- running ---------------------------------------------------------------------------

    def _execute(
        self, argv: list[str], environment: dict[str, str], pass_fd: int | None, timeout_s: float
    ) -> Execution:
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=self.run_dir,
            pass_fds=() if pass_fd is None else (pass_fd,),
            process_group=0,
        )
        tail = _OutputTail(process)
        try:
            returncode: int | None = process.wait(timeout=max(timeout_s, 0.0))
        except subprocess.TimeoutExpired:
            returncode = None
            # Not reaped yet, so the group id is still ours. bwrap's and unshare's child
            # die with them, and the PID namespace with its first process.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if self.cgroup is not None:
            self.cgroup.kill_all()
        return Execution(returncode, tail.text(), time.monotonic() - started)


def _hidden_paths() -> list[Path]:
    """Directories a run must not see: secrets, other masterplans' code, service sockets,
    other runs' staging directories. Those under /tmp go with /tmp."""
    candidates = [
        Path("/run"),
        Path.home(),
        Path(settings.BASE_DIR),
        Path(settings.MGE_WORKSPACE_ROOT),
        Path(tempfile.gettempdir()),
    ]
    hidden: list[Path] = []
    for path in sorted({candidate.resolve() for candidate in candidates}):
        if path == Path("/") or not path.is_dir():
            continue
        if path.is_relative_to(INSIDE_ROOT) or any(path.is_relative_to(h) for h in hidden):
            continue
        hidden.append(path)
    return hidden


def _interpreter_prefixes() -> list[Path]:
    """The virtualenv, the Python installation it points to and Node's installation."""
    prefixes = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()]
    node = shutil.which("node")
    if node:
        prefixes.append(Path(node).resolve().parent.parent)
    return prefixes


def _parents_below_private(target: Path, private: list[Path]) -> list[Path]:
    """The directories between the tmpfs that holds `target` and `target`: the bind needs
    them, and they must be traversable by the sandbox user (bwrap makes them 0700)."""
    holder = max((p for p in private if target.is_relative_to(p)), key=lambda p: len(p.parts))
    return [parent for parent in reversed(target.parents) if parent.is_relative_to(holder)][1:]


def _give_to_sandbox_user(path: Path) -> None:
    """The run's staged files belong to nobody, who reads and copies them inside."""
    os.lchown(path, SANDBOX_UID, SANDBOX_UID)
    for directory, names, files in os.walk(path):
        for name in names + files:
            os.lchown(os.path.join(directory, name), SANDBOX_UID, SANDBOX_UID)


class _OutputTail:
    """Reads a process's output as it comes and keeps the last OUTPUT_TAIL_BYTES: a test
    that prints gigabytes must not fill the runner's memory."""

    def __init__(self, process: subprocess.Popen[bytes]):
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        # A binary pipe with the default buffering: a BufferedReader (typeshed says IO[bytes],
        # which has no read1).
        stdout = process.stdout
        assert isinstance(stdout, io.BufferedReader)
        for chunk in iter(lambda: stdout.read1(65536), b""):
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size - len(self._chunks[0]) >= OUTPUT_TAIL_BYTES:
                self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        # Whatever the sandbox left holding the pipe is dead; do not wait on it forever.
        self._thread.join(timeout=5)
        data = b"".join(self._chunks)[-OUTPUT_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")
