"""Shared fixtures: one per actor (viewer, reviewer, approver), API clients, examples.

A test that needs real transactions (`django_db(transaction=True)`) must also pass
`serialized_rollback=True`: its flush would otherwise drop the roles the data migrations
made and renumber content types under the tests that follow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_django.fixtures import Settings

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


@pytest.fixture(autouse=True, scope="session")
def _static_root_exists() -> None:
    """The session's live server builds its middleware once, with the default STATIC_ROOT."""
    from django.conf import settings

    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _isolated_services(settings: Settings, tmp_path: Path) -> Iterator[None]:
    """A flushed Redis test database and a private workspace root for every test."""
    from mge_site.redis_connection import get_redis

    settings.MGE_WORKSPACE_ROOT = tmp_path / "workspaces"
    # The engine's tests end plans on their atoms; the acceptance and precision apps'
    # tests turn their post-wave checks on.
    settings.MGE_ACCEPTANCE_AFTER_WAVES = False
    settings.MGE_PRECISION_AFTER_WAVES = False
    settings.MGE_DEPENDENCIES_AFTER_WAVES = False
    # Message Batches hold a request back for company and poll the batch: the tests that
    # batch (caching/tests/test_batches.py) turn them on with fast figures.
    settings.MGE_LLM_BATCH = "off"
    settings.METRICS_CACHE_SECONDS = 0  # each test's scrape sees its own rows
    # A wave job's lane closes with it: no test leaves connections to the next one (the
    # lane's idle time has its own test).
    settings.MGE_DB_LANE_IDLE_SECONDS = 0
    # Transient provider errors are asked again after a backoff: milliseconds in tests.
    settings.MGE_LLM_BACKOFF_BASE_SECONDS = Decimal("0.01")
    settings.MGE_LLM_BACKOFF_MAX_SECONDS = Decimal("0.05")
    # Pages are rendered without a collectstatic run: plain storage, files from the apps.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATIC_ROOT.mkdir()
    settings.WHITENOISE_USE_FINDERS = True
    client = get_redis()
    client.flushdb()
    yield
    client.flushdb()
    client.close()


def _make_user(django_user_model, username: str, role: str | None):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username, f"{username}@example.com", "pw-" + username
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return _make_user(django_user_model, "vera_viewer", "viewer")


@pytest.fixture
def reviewer(db, django_user_model):
    return _make_user(django_user_model, "rita_reviewer", "reviewer")


@pytest.fixture
def approver(db, django_user_model):
    return _make_user(django_user_model, "abel_approver", "budget_approver")


@pytest.fixture
def nobody(db, django_user_model):
    """Logged in, but in no group."""
    return _make_user(django_user_model, "nora_nobody", None)


@pytest.fixture
def api_client_for() -> Callable:
    """An API client that authenticates with the user's real token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    def make(user) -> APIClient:  # type: ignore[no-untyped-def]
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def example_text() -> Callable[[str], str]:
    def read(name: str) -> str:
        return (EXAMPLES_DIR / f"{name}.md").read_text(encoding="utf-8")

    return read


@pytest.fixture
def imported(db, example_text):
    """Import an example masterplan by name: `imported("slugkit")`."""
    from execution.actions import import_masterplan

    return lambda name: import_masterplan(example_text(name))


@pytest.fixture
def fast_offline(settings):
    """The offline provider without its demo latency."""
    settings.MGE_LLM_PROVIDER = "offline"
    settings.MGE_OFFLINE_LATENCY_MS = 0


@pytest.fixture
def stub_server(settings):
    """The loopback Anthropic API stub, with the real SDK pointed at it."""
    from execution.llm.offline import OfflineResponder
    from execution.llm.stub_server import StubServer

    stub = StubServer(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)).start()
    settings.MGE_LLM_PROVIDER = "anthropic"
    settings.ANTHROPIC_API_KEY = "test-key"
    settings.ANTHROPIC_BASE_URL = stub.url
    settings.MGE_LLM_MAX_RETRIES = 2
    settings.MGE_LLM_TIMEOUT_SECONDS = 20
    yield stub
    stub.stop()


@pytest.fixture
def run_jobs() -> Callable[[], None]:
    """Drain the queues with a real RQ worker in burst mode, in this process and thread:
    a test's transaction is seen by its jobs (the Procfile's worker, which runs jobs in
    threads of their own, has tests in execution/tests/test_concurrent_worker.py)."""
    import django_rq
    from rq import SimpleWorker

    def drain() -> None:
        queues = [django_rq.get_queue(name) for name in ("waves", "tests", "default")]
        SimpleWorker(queues, connection=queues[0].connection).work(burst=True)

    return drain


def independent_atoms(count: int, hard_cap: str, soft_cap: str | None = None) -> str:
    """A masterplan document of `count` atoms in one wave, none depending on another."""
    atoms = "\n".join(
        f"              - name: a{n}\n                file: gen/a{n}.py\n"
        f"                complexity: low\n                spec: Define a{n}()."
        for n in range(count)
    )
    soft = f"\n  soft_cap_usd: {soft_cap}" if soft_cap else ""
    return (
        f"---\nname: budget-{count}\nbudget:\n  hard_cap_usd: {hard_cap}{soft}\n---\n\n"
        "## Plan\n\n```yaml\nphases:\n  - name: P\n    milestones:\n      - name: M\n"
        f"        tasks:\n          - name: T\n            atoms:\n{atoms}\n```\n"
    )


def billed_usd(stub: object) -> Decimal:
    """What the API stub charged for every answer it gave, at our prices (a batch item's at
    the batch price)."""
    from budget.pricing import cost_of

    billed = stub.stats.billed  # type: ignore[attr-defined]
    return sum((cost_of(bill.model, bill.usage, batch=bill.batch) for bill in billed), Decimal(0))


# Engine tests need committed rows: the wave job's threads use their own connections.
engine_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def spawn_worker(stub_server, settings):
    """Start a real RQ worker process (burst, on the `waves` queue) that shares this test's
    PostgreSQL database and Redis, and calls the stub through the SDK. PostgreSQL only:
    a worker process cannot see SQLite's in-memory test database."""
    import subprocess
    import sys

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a worker process shares the test database only on PostgreSQL")
    database = settings.DATABASES["default"]
    database_url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database['NAME']}"
    )
    started: list[subprocess.Popen[bytes]] = []

    def spawn(
        worker_class: str = "rq.worker.SimpleWorker", **environment: str
    ) -> subprocess.Popen[bytes]:
        # Both classes run the job in the worker process itself: a SIGKILL hits the
        # process doing the work (RQ's default forks a work horse that calls setsid()).
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "waves", "--burst",
             "--worker-class", worker_class],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "REDIS_URL": settings.REDIS_URL,
                "MGE_LLM_PROVIDER": "anthropic",
                "ANTHROPIC_API_KEY": "test-key",
                "ANTHROPIC_BASE_URL": stub_server.url,
                "MGE_WORKSPACE_ROOT": str(settings.MGE_WORKSPACE_ROOT),
                "MGE_ACCEPTANCE_AFTER_WAVES": str(settings.MGE_ACCEPTANCE_AFTER_WAVES),
                "MGE_PRECISION_AFTER_WAVES": str(settings.MGE_PRECISION_AFTER_WAVES),
                "MGE_DEPENDENCIES_AFTER_WAVES": str(settings.MGE_DEPENDENCIES_AFTER_WAVES),
                **environment,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


@pytest.fixture
def plan_with_files(db, tmp_path):
    """A masterplan whose atoms have written the given files: `plan_with_files({"M1":
    {"T1": {"pkg/a.py": "code"}}})` (milestones of tasks of files), every atom completed."""
    import textwrap

    import yaml

    from execution.actions import import_masterplan
    from execution.models import Atom

    def make(layout: dict[str, dict[str, dict[str, str]]], name: str = "written") -> object:
        milestones = []
        for milestone, tasks in layout.items():
            milestones.append({"name": milestone, "tasks": [
                {"name": task, "atoms": [
                    {"name": path.replace("/", "_").replace(".", "_"), "file": path,
                     "spec": f"Write {path}."}
                    for path in files
                ]}
                for task, files in tasks.items()
            ]})  # fmt: skip
        plan = yaml.safe_dump({"phases": [{"name": "Build", "milestones": milestones}]})
        front = f"---\nname: {name}\nlanguage: python\n---\n\n# {name}\n\n"
        document = f"{front}## Plan\n\n```yaml\n{plan}```\n"
        masterplan = import_masterplan(document)
        root = Path(masterplan.workspace_path)
        for tasks in layout.values():
            for files in tasks.values():
                for path, code in files.items():
                    (root / path).parent.mkdir(parents=True, exist_ok=True)
                    (root / path).write_text(textwrap.dedent(code), encoding="utf-8")
        masterplan.atoms.update(status=Atom.Status.COMPLETED)
        return masterplan

    return make


@pytest.fixture
def webhook(settings):
    """A loopback HTTP endpoint set as MGE_ALERT_WEBHOOK_URL; yields the JSON bodies it got."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None: ...

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MGE_ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/"
    yield received
    server.shutdown()
    server.server_close()
