"""The concurrency dashboard: limit and load over the last hour, and the adjustment log."""

from __future__ import annotations

import re
import time

import pytest

from execution.pages.charts import time_chart
from execution.runtime.concurrency import ConcurrencyLimiter


@pytest.mark.django_db
def test_the_dashboard_charts_the_last_hour_and_lists_the_adjustments(client, viewer):
    limiter = ConcurrencyLimiter()
    limiter.record_sample()
    slots = [limiter.try_acquire() for _ in range(30)]
    limiter.cut_for_rate_limit(429)
    limiter.release(slots[0])  # type: ignore[arg-type]
    limiter.record_sample()
    client.force_login(viewer)
    page = client.get("/dashboards/concurrency/").content.decode()
    assert 'data-testid="current-limit">27<' in page
    assert 'data-testid="active">29<' in page
    assert "held below 100, the limit when the provider last refused" in page
    assert "(2 points, UTC)" in page
    limit_line = re.search(r'class="series limit" points="([^"]*)"', page)
    assert limit_line and len(limit_line.group(1).split()) == 4  # 100, then a step to 27
    assert "provider answered 429" in page and "rate_limit" in page


@pytest.mark.django_db
def test_the_dashboard_refreshes_its_live_region_only(client, viewer):
    client.force_login(viewer)
    page = client.get("/dashboards/concurrency/", HTTP_HX_REQUEST="true").content.decode()
    assert page.startswith('<div id="concurrency-live"')
    assert "<html" not in page
    assert "The limit has not moved yet." in page


@pytest.mark.django_db
def test_the_dashboard_needs_a_login_and_the_view_permission(client, nobody):
    assert client.get("/dashboards/concurrency/").status_code == 302
    client.force_login(nobody)
    assert client.get("/dashboards/concurrency/").status_code == 403


def test_chart_scales_points_to_the_plot_and_labels_quarter_hours():
    start = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    chart = time_chart(
        {"load": [(start, 0.0), (start + 3600, 40.0)]}, start=start, end=start + 3600
    )
    assert chart.lines["load"] == (
        f"{chart.plot_left:.1f},{chart.plot_bottom:.1f} "
        f"{chart.plot_right:.1f},{chart.plot_top + (chart.plot_bottom - chart.plot_top) * 0.2:.1f}"
    )  # 40 of an axis topped at 50
    assert [tick.label for tick in chart.y_ticks] == ["0", "25", "50"]
    assert [tick.label for tick in chart.x_ticks] == ["08:00", "08:15", "08:30", "08:45", "09:00"]


def test_an_empty_chart_draws_nothing_and_keeps_its_axes():
    now = time.time()
    chart = time_chart({"limit": []}, start=now - 3600, end=now, step_lines=frozenset({"limit"}))
    assert chart.lines["limit"] == ""
    assert len(chart.x_ticks) == 4


@pytest.mark.django_db
def test_the_same_unchanged_adjustment_again_is_one_log_entry():
    limiter = ConcurrencyLimiter()
    for _ in range(3):
        limiter.adjust()  # nothing in flight: "idle", no change
    limiter.set_limit(50, "test")
    limiter.adjust()
    kinds = [entry["kind"] for entry in limiter.stats()["adjustments"]]
    assert kinds == ["idle", "manual", "idle"]
