"""What a hostile generated test cannot do, shown with real sandboxed runs (bwrap and the
unshare fallback): every test here is a generated test file run through `run_tests`, and
the proof is looked for on the host afterwards."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import sandbox
from acceptance.runner import RunReport, TestFile, run_tests
from mge_site.testing import in_ci
from sandbox import kinds

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-test-9f8e7d6c5b4a",
    "DATABASE_URL": "postgres://mge:db-password-31337@db.internal:5432/mge",
    "REDIS_URL": "redis://:redis-password-4242@cache.internal:6379/0",
    "GITHUB_TOKEN": "ghp_testtokentesttokentesttoken",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-0a1b2c3d4e5f",
}

RunOne = Callable[..., RunReport]


def require_isolation(kind: str) -> None:
    """Skip where this machine has no such sandbox; under CI a missing one fails."""
    try:
        if sandbox.select_kind() == kind:
            return
        reason = f"MGE_SANDBOX={kind} resolved to another kind"
    except sandbox.SandboxUnavailable as unavailable:
        reason = str(unavailable)
    if in_ci():
        pytest.fail(f"the {kind} sandbox is required under CI: {reason}")
    pytest.skip(f"no {kind} sandbox here: {reason}")


@pytest.fixture(params=["bwrap", "unshare"])
def isolated(request: pytest.FixtureRequest, settings) -> str:  # type: ignore[no-untyped-def]
    settings.MGE_SANDBOX = request.param
    settings.MGE_ACCEPTANCE_TEST_TIMEOUT_SECONDS = 2
    require_isolation(request.param)
    return str(request.param)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A generated workspace whose files are only readable by their owner (as the engine
    writes them)."""
    root = tmp_path / "workspace"
    (root / "app").mkdir(parents=True)
    module = root / "app" / "calc.py"
    module.write_text("def add(a, b):\n    return a + b\n")
    module.chmod(0o600)
    return root


@pytest.fixture
def run_one(isolated: str, workspace: Path) -> RunOne:
    """Run a generated pytest file in the sandbox, after the `extra` ones (key=code)."""

    def run(code: str, name: str = "test_hostile.py", **extra: str) -> RunReport:
        files = [
            TestFile(key, f"tests/acceptance/{key}.py", source, "pytest")
            for key, source in extra.items()
        ]  # run before the hostile file
        files.append(TestFile("hostile", f"tests/acceptance/{name}", code, "pytest"))
        return run_tests(workspace, files)

    return run


@pytest.fixture
def marker() -> str:
    """A name that only this test's processes carry in their command line."""
    return f"mge_marker_{uuid.uuid4().hex}"


def processes_with(marker: str) -> list[str]:
    """Host processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # it ended while we looked
        if marker in command_line:
            found.append(f"{entry.name}: {command_line}")
    return found


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def loopback_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on every host address; it records who connects."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    connections: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, address = server.accept()
            except TimeoutError:
                continue
            connections.append(str(address))
            client.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def host_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing), or the
    loopback where it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def test_cannot_open_a_network_connection(run_one: RunOne, loopback_listener) -> None:  # type: ignore[no-untyped-def]
    port, connections = loopback_listener
    report = run_one(
        f"""
import socket

def test_reach_out():
    reached = []
    for address in [("127.0.0.1", {port}), ("{host_address()}", {port}), ("1.1.1.1", 53)]:
        try:
            socket.create_connection(address, timeout=1).close()
            reached.append(address)
        except OSError:
            pass
    assert [name for _, name in socket.if_nameindex()] == ["lo"]
    assert reached == []
"""
    )
    outcome = report.outcomes["hostile"]
    assert outcome.status == "passed", outcome.message + outcome.trace
    assert connections == []


def test_cannot_write_outside_its_copy(run_one: RunOne, workspace: Path, marker: str) -> None:
    from django.conf import settings

    before = tree_digest(workspace)
    targets = [
        Path("/tmp") / marker,
        Path("/var/tmp") / marker,
        Path("/dev/shm") / marker,
        Path.home() / marker,
        Path(settings.BASE_DIR) / marker,
        workspace / marker,
        workspace / "app" / "calc.py",
    ]
    report = run_one(
        f"""
import os
from pathlib import Path

def test_write_everywhere():
    for target in {[str(target) for target in targets]!r} + [os.environ["HOME"] + "/x"]:
        try:
            Path(target).write_text("pwned")
        except OSError:
            pass
    Path("app/calc.py").write_text("pwned")  # its own copy: allowed, and thrown away
"""
    )
    assert report.outcomes["hostile"].status == "passed", report.outcomes["hostile"].trace
    assert [target for target in targets[:-1] if target.exists()] == []
    assert tree_digest(workspace) == before


def test_cannot_read_the_runners_secrets(run_one: RunOne, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    report = run_one(
        f"""
import json, os
from pathlib import Path

def read(path):
    try:
        return Path(path).read_bytes().decode(errors="replace")
    except OSError as error:
        return type(error).__name__

def test_steal():
    loot = {{
        "environ": dict(os.environ),
        "parent": read(f"/proc/{{os.getppid()}}/environ"),
        "processes": {{entry.name: read(entry / "environ")
                      for entry in Path("/proc").iterdir() if entry.name.isdigit()}},
        "project": sorted(os.listdir({str(settings.BASE_DIR)!r})),
        "shadow": read("/etc/shadow"),
    }}
    assert False, "LOOT" + json.dumps(loot)
"""
    )
    outcome = report.outcomes["hostile"]
    assert outcome.status == "failed"
    everything = outcome.message + outcome.trace
    for name, value in SECRETS.items():
        assert value not in everything, f"{name} leaked into the sandbox"
    loot = json.JSONDecoder().raw_decode(outcome.message.split("LOOT", 1)[1])[0]
    assert not set(SECRETS) & set(loot["environ"])
    assert loot["shadow"] == "PermissionError"  # really nobody, not a renamed root
    assert loot["project"] == [".venv"]  # the project's directory is hidden but the venv


def test_an_infinite_loop_times_out(run_one: RunOne) -> None:
    report = run_one("def test_spin():\n    while True:\n        pass\n")
    outcome = report.outcomes["hostile"]
    assert outcome.status == "timeout"
    assert "Timeout" in outcome.message


def test_a_run_past_its_wall_clock_is_killed(run_one: RunOne, settings) -> None:  # type: ignore[no-untyped-def]
    """A test that blocks pytest-timeout's alarm only stops when the whole run is killed;
    the file that finished before keeps its result."""
    settings.MGE_ACCEPTANCE_RUN_TIMEOUT_SECONDS = 4
    report = run_one(
        "import signal\n\ndef test_hang():\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
        "    while True:\n        pass\n",
        quick="def test_quick():\n    pass\n",
    )
    assert report.outcomes["quick"].status == "passed"
    hung = report.outcomes["hostile"]
    assert hung.status == "timeout"
    assert "time limit (4 s)" in hung.message
    assert report.duration_s < 10


def test_sleeping_children_do_not_outlive_the_run(run_one: RunOne, marker: str) -> None:
    report = run_one(
        "import os, time\n\ndef test_children():\n"
        "    for _ in range(300):\n"
        "        try:\n            pid = os.fork()\n"
        "        except OSError:\n            break  # the process cap\n"
        "        if pid == 0:\n            time.sleep(600)\n            os._exit(0)\n",
        name=f"test_{marker}.py",
    )
    assert report.outcomes["hostile"].status == "passed", report.outcomes["hostile"].trace
    assert processes_with(marker) == []


def test_a_setsid_daemon_ignoring_sigterm_does_not_survive(run_one: RunOne, marker: str) -> None:
    report = run_one(
        "import os, signal, time\n\ndef test_daemon():\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "            signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        "            time.sleep(600)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.2)\n",
        name=f"test_{marker}.py",
    )
    assert report.outcomes["hostile"].status == "passed", report.outcomes["hostile"].trace
    assert processes_with(marker) == []


def test_an_allocation_loop_is_stopped_and_reported(run_one: RunOne, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MGE_SANDBOX_MEMORY_MB = 512
    report = run_one(
        "def test_eat():\n    blocks = []\n    while True:\n"
        "        blocks.append(bytearray(64 * 1024 * 1024))\n"
    )
    outcome = report.outcomes["hostile"]
    assert outcome.status == "failed"
    assert "MemoryError" in outcome.message + outcome.trace


def test_a_fork_bomb_stops_at_the_process_cap(run_one: RunOne, settings, marker: str) -> None:  # type: ignore[no-untyped-def]
    settings.MGE_SANDBOX_PROCESSES = 40
    report = run_one(
        "import os, time\n\ndef test_bomb():\n    forked = 0\n    while forked < 10000:\n"
        "        try:\n            pid = os.fork()\n"
        "        except OSError as error:\n"
        "            raise AssertionError(f'forked={forked} {error}')\n"
        "        if pid == 0:\n            time.sleep(600)\n            os._exit(0)\n"
        "        forked += 1\n",
        name=f"test_{marker}.py",
    )
    outcome = report.outcomes["hostile"]
    assert outcome.status == "failed"
    forked = int(outcome.message.split("forked=")[1].split()[0])
    assert 0 < forked < 40
    assert report.isolation.endswith(("+cgroup-pids", "+rlimit-nproc"))
    assert processes_with(marker) == []


def test_no_isolation_is_refused_outside_debug(settings, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MGE_SANDBOX = "none"
    settings.DEBUG = False
    with pytest.raises(sandbox.SandboxUnavailable, match="DJANGO_DEBUG"):
        run_tests(workspace, [TestFile("t", "tests/test_a.py", "def test_a(): pass\n", "pytest")])


def test_no_isolation_runs_with_debug_and_says_so(settings, workspace: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MGE_SANDBOX = "none"
    settings.DEBUG = True
    code = "from app.calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    report = run_tests(workspace, [TestFile("t", "tests/test_a.py", code, "pytest")])
    assert report.isolation == "none"
    assert report.outcomes["t"].status == "passed"


def test_without_bwrap_or_unshare_the_message_says_what_to_install(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither bwrap nor unshare on it
    kinds.bwrap_works.cache_clear()
    kinds.unshare_works.cache_clear()
    try:
        for wanted in ("auto", "bwrap"):
            settings.MGE_SANDBOX = wanted
            with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
                sandbox.select_kind()
    finally:
        kinds.bwrap_works.cache_clear()
        kinds.unshare_works.cache_clear()
