"""A reviewer's first visit, in the real Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.db import connections

from execution.models import MasterPlan
from execution.tests.test_masterplan_format import MINIMAL, replace_in
from mge_site.testing import in_ci

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from playwright.sync_api import ConsoleMessage, Dialog, Page
    from pytest_django.live_server_helper import LiveServer

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not in_ci(),
        reason="Debian's chromium is not installed (make test installs it where it can)",
    ),
]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls
    # are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert CHROMIUM, "chromium is required under CI"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        page.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
        browser.close()
        # ORM calls made while Playwright's loop is active keep their connection in that
        # context's storage; close it here, or the test database cannot be dropped.
        connections.close_all()


def log_in(page: Page, live_server: LiveServer, user: User) -> None:
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", f"pw-{user.username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


# serialized_rollback: a transactional test flushes the roles the data migration made.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reviewer_logs_in_browses_the_examples_and_uploads_a_plan(
    page, live_server, reviewer, imported, tmp_path
):
    for name in ("slugkit", "typed-event-bus", "inventory-service"):
        imported(name)
    log_in(page, live_server, reviewer)

    names = page.locator("table.list tbody td:first-child a").all_inner_texts()
    assert sorted(names) == ["inventory-service", "slugkit", "typed-event-bus"]

    page.click("text=slugkit")
    page.wait_for_selector("h1:has-text('slugkit')")
    assert page.locator(".waves li").count() == 4
    assert page.locator(".requirements li").count() == 7

    # The status filter swaps the atoms table in place (htmx) and keeps the URL shareable.
    page.locator("#atoms").evaluate("table => table.dataset.original = 'yes'")
    page.click(".filters >> text=pending (6)")
    page.wait_for_url("**/?status=pending")
    assert page.locator("#atoms tbody tr").count() == 6
    assert page.evaluate("document.querySelector('h1') !== null")

    bad = tmp_path / "broken.md"
    bad.write_text(replace_in(MINIMAL, "depends_on: [a]", "depends_on: [ghost]"))
    page.click("nav >> text=Upload")
    page.set_input_files("input[name=file]", str(bad))
    page.click("button:has-text('Import')")
    problems = page.locator(".problems")
    problems.wait_for()
    assert "line 21: atom 'b' depends on unknown atom 'ghost'" in problems.inner_text()
    assert "/masterplans/new/" in page.url

    good = tmp_path / "uploaded.md"
    good.write_text(replace_in(MINIMAL, "name: tiny", "name: uploaded-in-the-browser"))
    page.set_input_files("input[name=file]", str(good))
    page.click("button:has-text('Import')")
    page.wait_for_selector("h1:has-text('uploaded-in-the-browser')")
    created = MasterPlan.objects.get(name="uploaded-in-the-browser")
    assert page.url.endswith(f"/masterplans/{created.pk}/")
    assert "Imported masterplan 'uploaded-in-the-browser'" in page.inner_text("main")


# serialized_rollback: a transactional test flushes the roles the data migration made.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pages_load_no_asset_from_another_host(page, live_server, viewer, imported):
    imported("slugkit")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, live_server, viewer)
    page.click("text=slugkit")
    page.wait_for_selector("h1:has-text('slugkit')")
    assert requested
    assert all(url.startswith(live_server.url) for url in requested), requested
    assert page.evaluate("typeof htmx") == "object"
    assert os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE") == "true"


# serialized_rollback: a transactional test flushes the roles the data migration made.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reviewer_starts_a_plan_watches_it_finish_and_reads_a_file(
    page, live_server, reviewer, imported, fast_offline, run_jobs
):
    masterplan = imported("typed-event-bus")
    log_in(page, live_server, reviewer)
    page.click("text=typed-event-bus")
    page.click("button.control.start")
    page.wait_for_selector("h1 .status-running")
    assert page.locator("button.control.pause").is_visible()

    run_jobs()  # the worker, while the page polls

    page.wait_for_selector("h1 .status-completed", timeout=15_000)
    assert page.locator("button.control").count() == 0
    files = page.locator(".files a").all_inner_texts()
    assert files == [
        "src/bus.ts",
        "src/index.ts",
        "src/middleware.ts",
        "src/registry.ts",
        "src/types.ts",
    ]
    page.click(".files a:has-text('src/bus.ts')")
    code = page.locator("pre.code").inner_text()
    stored = (settings.MGE_OFFLINE_RESPONSES_DIR / "typed-event-bus/src/bus.ts").read_text()
    assert code.strip() == stored.strip()
    assert "event_bus" in page.inner_text("main")
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED


# serialized_rollback: a transactional test flushes the roles the data migration made.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_page_works_under_the_content_security_policy(page, live_server, reviewer, imported):
    masterplan = imported("slugkit")
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    log_in(page, live_server, reviewer)
    urls = [
        "/", f"/masterplans/{masterplan.pk}/", "/masterplans/new/", "/dashboards/concurrency/",
        f"/masterplans/{masterplan.pk}/acceptance/", f"/masterplans/{masterplan.pk}/budget/",
        "/api/v2/docs/",
    ]  # fmt: skip
    for url in urls:
        response = page.goto(f"{live_server.url}{url}")
        assert response is not None and response.ok, url
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-eval" not in policy, url
        page.wait_for_load_state("networkidle")
    assert page.locator("#swagger-ui .information-container").count() == 1  # Swagger UI ran
    # htmx works under it: the status filter swaps the table in place.
    page.goto(f"{live_server.url}/masterplans/{masterplan.pk}/")
    page.click(".filters >> text=pending (6)")
    page.wait_for_url("**/?status=pending")
    # The delete button asks first (a script file now, not an inline handler).
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.click("button.danger:has-text('Delete')")
    assert asked == ["Delete this masterplan, its atoms and its workspace?"]
    assert MasterPlan.objects.filter(pk=masterplan.pk).exists()
    assert violations == []
