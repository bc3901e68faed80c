"""A viewer opens the trace dashboard of a plan that really ran (and of every plan) in
the real Chromium: four charts drawn, each with marks, and a screenshot to look at."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from execution.runtime.lifecycle import start_masterplan
from execution.tests.test_browser import log_in, page, pytestmark  # noqa: F401
from tracing.models import AtomExecutionTrace

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHARTS = {
    "scatter": "circle.bubble",
    "hit-rate": "polyline.hit-rate, circle.hit-rate",
    "heatmap": "rect.heat",
    "waves-timeline": "rect.run",
}
"""Each chart's class and the marks it draws."""


def marks_of_each_chart(browser_page: Page) -> dict[str, int]:
    return {
        chart: browser_page.locator(f"svg.chart.correlation.{chart}").locator(marks).count()
        for chart, marks in CHARTS.items()
    }


# serialized_rollback: a transactional test flushes the roles the data migration made.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_viewer_sees_the_four_charts_of_a_plan_that_ran_twice(
    page,  # noqa: F811 (the fixture imported above)
    live_server,
    viewer,
    imported,
    fast_offline,
    run_jobs,
    tmp_path,
    settings,
):
    settings.MGE_ACCEPTANCE_AFTER_WAVES = True  # the heatmap's acceptance half
    first = imported("slugkit")
    start_masterplan(first.pk)
    run_jobs()
    again = imported("slugkit")  # the same atoms again: answered from the cache
    start_masterplan(again.pk)
    run_jobs()
    assert AtomExecutionTrace.objects.filter(masterplan=again, cache_hits__gt=0).exists()

    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip
    log_in(page, live_server, viewer)
    page.goto(f"{live_server.url}/masterplans/{again.pk}/")
    page.click("#plan-traces")
    page.wait_for_selector("h1:has-text('Trace correlations')")
    assert page.url.endswith(f"/masterplans/{again.pk}/traces/")
    page.screenshot(path=str(tmp_path / "trace-dashboard.png"), full_page=True)
    counts = marks_of_each_chart(page)
    assert all(count > 0 for count in counts.values()), counts
    assert counts["scatter"] >= 1 and counts["waves-timeline"] == again.atoms.count()
    for chart in CHARTS:
        box = page.locator(f"svg.chart.correlation.{chart}").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, (chart, box)
    # Every bucket of the re-run came from the cache.
    rates = page.locator("#table-hit_rate tbody td:nth-child(4)").all_text_contents()
    assert rates and set(rates) == {"100.0%"}
    assert page.locator("a.csv").count() == 4
    assert "No traces yet" not in page.inner_text("main")
    acceptance = page.locator("svg.heatmap text.heat-label:has-text('acc.')").all_text_contents()
    assert acceptance and all(text.endswith("%") for text in acceptance), acceptance

    page.click("nav >> text=Traces")
    page.wait_for_selector("h1:has-text('across all masterplans')")
    page.screenshot(path=str(tmp_path / "trace-dashboard-all.png"), full_page=True)
    counts = marks_of_each_chart(page)
    assert all(count > 0 for count in counts.values()), counts
    assert counts["waves-timeline"] == 2 * again.atoms.count()
    assert violations == []
