"""The cache page's hit rate over time, laid out on the server as SVG coordinates (the
site's axes: execution.pages.charts.Chart and templates/_chart_axes.html)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from caching.snapshots import COMBINED, Interval
from execution.pages.charts import Chart, Tick, TitledAxes

WIDTH, LEFT, RIGHT, TOP, PLOT_HEIGHT, BOTTOM = 720, 64, 16, 12, 200, 26
TICK_STEPS = [60 * minutes for minutes in (1, 5, 15, 30, 60, 180, 360, 720, 1440)]
MAX_TICKS = 8


@dataclass(frozen=True)
class Line:
    kind: str
    segments: list[str]
    """The `points` of each polyline: an interval without requests has no rate and breaks
    the line; a lone point is given twice, so its round cap draws a dot."""


@dataclass(frozen=True)
class HitRateChart(TitledAxes):
    axes: Chart
    lines: list[Line]
    x_title: str
    y_title: str = "cache hit rate per interval (%)"


def hit_rate_chart(
    series: dict[str, list[Interval]], start: dt.datetime, end: dt.datetime
) -> HitRateChart | None:
    """A line per kind through each interval's rate, at the interval's end; y 0–100 %, x from
    the first snapshot (or `start`, if later) to `end`. None when no interval had a request."""
    if not any(interval.requests for intervals in series.values() for interval in intervals):
        return None
    start = max(start, min(intervals[0].start for intervals in series.values() if intervals))
    first, span = start.timestamp(), max((end - start).total_seconds(), 60.0)
    plot_width = WIDTH - LEFT - RIGHT

    def x(moment: dt.datetime) -> float:
        return LEFT + (moment.timestamp() - first) / span * plot_width

    def y(rate: float) -> float:
        return TOP + PLOT_HEIGHT - rate * PLOT_HEIGHT

    lines = []
    # The combined line first: each kind's own line is drawn over it.
    for kind, intervals in sorted(series.items(), key=lambda item: item[0] != COMBINED):
        segments: list[list[str]] = [[]]
        for interval in intervals:
            if interval.hit_rate is None:
                segments.append([])
            else:
                segments[-1].append(f"{x(interval.end):.1f},{y(interval.hit_rate):.1f}")
        kept = [" ".join(points * (2 if len(points) == 1 else 1)) for points in segments if points]
        lines.append(Line(kind, kept))
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    label = "%H:%M" if span <= 86400 else "%d %b %H:%M"
    moment = (int(first) // step + 1) * step
    x_ticks = []
    while moment <= first + span:
        at = dt.datetime.fromtimestamp(moment, dt.UTC)
        x_ticks.append(Tick(x(at), f"{at:{label}}"))
        moment += step
    y_ticks = [Tick(y(rate), f"{rate:.0%}") for rate in (0, 0.25, 0.5, 0.75, 1)]
    axes = Chart(
        lines={}, x_ticks=x_ticks, y_ticks=y_ticks, width=WIDTH, height=TOP + PLOT_HEIGHT + BOTTOM,
        plot_left=LEFT, plot_right=WIDTH - RIGHT, plot_top=TOP, plot_bottom=TOP + PLOT_HEIGHT,
    )  # fmt: skip
    return HitRateChart(axes, lines, "time (UTC), at the end of each minute's interval")
