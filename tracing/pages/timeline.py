"""An execution's timeline drawn on the server: a bar per step that took time (a wait,
an LLM call, a validation), a tick for each instant (started, cache miss, file written)."""

from __future__ import annotations

from dataclasses import dataclass

from execution.pages.charts import Tick
from tracing.models import TraceEvent

WIDTH, ROW, LEFT, RIGHT, TOP = 720, 22, 130, 16, 8

LANES = {
    "ramp_up_turn": ("waiting", "ramp-up turn"),
    "slot_acquired": ("waiting", "concurrency slot"),
    "budget_reserved": ("waiting", "budget reservation"),
    "budget_refused": ("refused", "budget refused"),
    "llm_call": ("llm", "LLM call"),
    "validation": ("validation", "validation L1"),
}
"""Event kinds drawn as bars: their class (colour) and their label."""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    css: str
    label: str
    title: str


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    ticks: list[Tick]
    axis: list[Tick]
    height: int
    width: int = WIDTH
    left: int = LEFT


def timeline(events: list[TraceEvent]) -> Timeline:
    if not events:
        return Timeline([], [], [], TOP * 2)
    end_ms = max(max(event.offset_ms for event in events), 1.0)

    def x(ms: float) -> float:
        return round(LEFT + max(ms, 0.0) / end_ms * (WIDTH - LEFT - RIGHT), 1)

    bars: list[Bar] = []
    ticks: list[Tick] = []
    for event in events:
        lane = LANES.get(event.kind)
        if lane is None or event.duration_ms is None:
            ticks.append(Tick(x(event.offset_ms), event.kind.replace("_", " ")))
            continue
        css, label = lane
        if event.kind == "llm_call" and event.data.get("error"):
            css = "refused"
        elif event.kind == "llm_call" and event.data.get("cache_hit"):
            css, label = "cached", "LLM call (cache hit)"
        elif event.kind == "validation" and not event.data.get("passed"):
            css = "refused"
        start = event.offset_ms - event.duration_ms
        bars.append(
            Bar(
                x=x(start),
                y=TOP + len(bars) * ROW,
                width=max(x(event.offset_ms) - x(start), 1.0),
                css=css,
                label=label,
                title=f"{label}: {event.duration_ms:.1f} ms, from {start:.1f} ms",
            )
        )
    axis = [Tick(x(end_ms * step / 4), f"{end_ms * step / 4:.0f} ms") for step in range(5)]
    return Timeline(bars, ticks, axis, TOP + (len(bars) + 1) * ROW + 18)
