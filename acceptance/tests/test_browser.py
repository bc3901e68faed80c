"""A reviewer reads a plan's acceptance results and the concurrency dashboard in Chromium."""

from __future__ import annotations

import pytest

from execution.runtime.lifecycle import start_masterplan
from execution.tests.test_browser import log_in, page, pytestmark  # noqa: F401


# serialized_rollback: a transactional test flushes the roles the data migration made.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reviewer_reads_the_gate_the_tests_and_the_dashboard(
    page,  # noqa: F811 (the fixture imported above)
    live_server,
    reviewer,
    imported,
    fast_offline,
    run_jobs,
    settings,
):
    settings.MGE_ACCEPTANCE_AFTER_WAVES = True
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()  # the atoms, then the tests after each wave, in the sandbox

    log_in(page, live_server, reviewer)
    assert page.locator("table.list .gate.passed").count() == 1
    page.click("text=slugkit")
    page.click("text=tests and results")
    page.wait_for_selector("h1:has-text('Acceptance tests')")
    assert page.inner_text("[data-testid=gate]").lower() == "gate passed"
    results = page.locator("[data-testid=result]")
    assert results.count() == 7
    assert {text.lower() for text in results.all_inner_texts()} == {"passed"}
    code = page.locator("details pre.code").first
    assert not code.is_visible()
    page.locator("details summary:has(code)").first.click()
    assert code.is_visible() and "slugify" in code.inner_text()
    assert page.locator("button:has-text('Run tests')").is_visible()

    page.click("nav >> text=Dashboards")
    page.wait_for_selector("h1:has-text('Concurrency of LLM calls')")
    assert page.locator("svg.chart").is_visible()
    assert int(page.inner_text("[data-testid=current-limit]")) >= 10
