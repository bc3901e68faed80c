"""The score and its components over the plan's snapshots, as an SVG line chart."""

from __future__ import annotations

from collections.abc import Sequence

from execution.pages.charts import HEIGHT, LEFT, RIGHT, TOP, WIDTH, Chart, Tick
from precision.models import PrecisionSnapshot
from precision.scoring import TARGET

BOTTOM = 26
SERIES = ("score", "spec_conformance", "integration_pass", "validation_pass")


def history_chart(snapshots: Sequence[PrecisionSnapshot]) -> Chart:
    """Snapshots oldest first, evenly spaced; y is 0–100 %. The target is a line of its own."""
    count = len(snapshots)

    def x(index: int) -> float:
        return LEFT + (index / (count - 1) if count > 1 else 0.5) * (WIDTH - LEFT - RIGHT)

    def y(fraction: float) -> float:
        return HEIGHT - BOTTOM - fraction * (HEIGHT - TOP - BOTTOM)

    lines = {
        name: " ".join(
            f"{x(index):.1f},{y(getattr(snapshot, name)):.1f}"
            for index, snapshot in enumerate(snapshots)
        )
        for name in SERIES
    }
    lines["target"] = f"{LEFT:.1f},{y(TARGET):.1f} {WIDTH - RIGHT:.1f},{y(TARGET):.1f}"
    step = max(1, count // 8)
    x_ticks = [
        Tick(x(index), f"w{snapshot.wave.number}" if snapshot.wave else f"#{index + 1}")
        for index, snapshot in enumerate(snapshots)
        if index % step == 0 or index == count - 1
    ]
    y_ticks = [Tick(y(value), f"{value:.0%}") for value in (0, 0.5, 1.0)]
    return Chart(lines, x_ticks, y_ticks, plot_bottom=HEIGHT - BOTTOM)
