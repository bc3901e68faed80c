"""Line charts drawn on the server as SVG: the pages load no chart library (nor a CDN)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 26


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    lines: dict[str, str]
    """Series name → the `points` attribute of its SVG polyline."""
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM


AXIS_TITLE = 18
"""Room under the tick labels for the x axis's title."""


class TitledAxes:
    """A chart with a title on each axis: its height with the x title's room, and where
    the titles go (the subclass, a dataclass, has `axes`)."""

    axes: Chart

    @property
    def height(self) -> int:
        return self.axes.height + AXIS_TITLE

    @property
    def x_title_at(self) -> float:
        return (self.axes.plot_left + self.axes.plot_right) / 2

    @property
    def y_title_at(self) -> float:
        return (self.axes.plot_top + self.axes.plot_bottom) / 2


def _nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 × 10^k at or above `value` (a readable axis top)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def time_chart(
    series: dict[str, list[tuple[float, float]]],
    *,
    start: float,
    end: float,
    step_lines: frozenset[str] = frozenset(),
    tick_seconds: int = 900,
) -> Chart:
    """`series` maps a name to (unix time, value) points. Names in `step_lines` hold their
    value until the next point (a limit changes in steps; a load is sampled)."""
    top_value = _nice_ceiling(max((value for points in series.values() for _, value in points),
                                  default=1))  # fmt: skip
    span = max(end - start, 1.0)

    def x(t: float) -> float:
        return LEFT + (t - start) / span * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return HEIGHT - BOTTOM - value / top_value * (HEIGHT - TOP - BOTTOM)

    lines = {}
    for name, points in series.items():
        coordinates: list[tuple[float, float]] = []
        for index, (t, value) in enumerate(points):
            if name in step_lines and index:
                coordinates.append((x(t), coordinates[-1][1]))
            coordinates.append((x(t), y(value)))
        if name in step_lines and points:
            coordinates.append((x(end), y(points[-1][1])))
        lines[name] = " ".join(f"{px:.1f},{py:.1f}" for px, py in coordinates)
    first_tick = math.ceil(start / tick_seconds) * tick_seconds
    x_ticks = [
        Tick(x(t), datetime.fromtimestamp(t, UTC).strftime("%H:%M"))
        for t in range(first_tick, int(end) + 1, tick_seconds)
    ]
    y_ticks = [Tick(y(value), f"{value:g}") for value in (0, top_value / 2, top_value)]
    return Chart(lines, x_ticks, y_ticks)
