"""The trace dashboard's four charts, laid out on the server as SVG coordinates: the page
loads no chart library. The scatter, the hit rate and the timeline use the site's axes
(execution.pages.charts.Chart and templates/_chart_axes.html) with a title on each axis."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from execution.pages.charts import Chart, Tick, TitledAxes
from tracing.correlations import (
    COMPLEXITIES,
    HeatCell,
    Heatmap,
    HitRate,
    Scatter,
    TimelineExecution,
    WaveTimeline,
)

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 720, 64, 16, 12, 26
PLOT_HEIGHT = 200

BUCKET_LABELS = {"second": "%H:%M:%S", "minute": "%H:%M", "hour": "%d %b %H:00", "day": "%d %b"}


@dataclass(frozen=True)
class Figure(TitledAxes):
    axes: Chart
    x_title: str
    y_title: str


def _axes(x_ticks: list[Tick], y_ticks: list[Tick], plot_height: int = PLOT_HEIGHT) -> Chart:
    height = TOP + plot_height + BOTTOM
    return Chart(
        lines={}, x_ticks=x_ticks, y_ticks=y_ticks, width=WIDTH, height=height,
        plot_left=LEFT, plot_right=WIDTH - RIGHT, plot_top=TOP, plot_bottom=TOP + plot_height,
    )  # fmt: skip


def nice_step(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k at or above `value`: a readable tick step."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def _ticks(top: float, count: int = 5, whole: bool = False) -> list[float]:
    """0, step, 2 step … up to the first at or above `top`."""
    step = nice_step(top / count)
    if whole:
        step = max(1.0, round(step))
    return [step * index for index in range(math.ceil(top / step) + 1)] if top else [0.0, step]


# --- scatter: complexity × retries ------------------------------------------------------


@dataclass(frozen=True)
class Bubble:
    cx: float
    cy: float
    r: float
    count: int
    title: str

    @property
    def label_x(self) -> float:
        """The count goes beside the bubble: its middle is the mean's marker."""
        return self.cx + self.r + 3


@dataclass(frozen=True)
class ScatterFigure(Figure):
    bubbles: list[Bubble]
    means: list[Bubble]
    mean_line: str


def scatter_figure(scatter: Scatter) -> ScatterFigure | None:
    """A bubble per (complexity, retries), its area the number of executions; the mean
    retries of each complexity joined by a line. None without executions."""
    if not scatter.counts:
        return None
    plot_width = WIDTH - LEFT - RIGHT
    pad = 18  # the largest bubble stays inside the plot
    y_values = _ticks(max(count.retries for count in scatter.counts), whole=True)
    top = y_values[-1]

    def x(position: int) -> float:
        return LEFT + (position + 0.5) / len(COMPLEXITIES) * plot_width

    def y(retries: float) -> float:
        return TOP + PLOT_HEIGHT - pad - retries / top * (PLOT_HEIGHT - 2 * pad)

    most = max(count.executions for count in scatter.counts)
    bubbles = [
        Bubble(
            x(count.x),
            y(count.retries),
            round(4 + 14 * math.sqrt(count.executions / most), 1),
            count.executions,
            f"{count.complexity}, {count.retries} retries: {count.executions} executions",
        )
        for count in scatter.counts
    ]
    means = [
        Bubble(
            x(row.x),
            y(row.mean_retries),
            4,
            row.executions,
            f"{row.complexity}: {row.mean_retries:.2f} retries on average",
        )
        for row in scatter.by_complexity
        if row.mean_retries is not None
    ]
    axes = _axes(
        [Tick(x(index), name) for index, name in enumerate(COMPLEXITIES)],
        [Tick(y(value), f"{value:g}") for value in y_values],
    )
    line = " ".join(f"{mean.cx:.1f},{mean.cy:.1f}" for mean in means)
    return ScatterFigure(axes, "atom complexity", "retries (count)", bubbles, means, line)


# --- cache hit rate over time -----------------------------------------------------------


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    title: str


@dataclass(frozen=True)
class HitRateFigure(Figure):
    rate_line: str
    cumulative_line: str
    dots: list[Dot]


def hit_rate_figure(hit_rate: HitRate) -> HitRateFigure | None:
    """Each bucket's rate (a dot at its middle, joined) and the cumulative rate; y 0–100 %.
    Buckets without a call have no rate: the line goes from one bucket with calls to the
    next. None without calls."""
    if hit_rate.bucket is None or hit_rate.bucket_seconds is None:
        return None
    seconds = hit_rate.bucket_seconds
    first = hit_rate.buckets[0].start.timestamp()
    span = hit_rate.buckets[-1].start.timestamp() + seconds - first
    plot_width = WIDTH - LEFT - RIGHT

    def x(offset: float) -> float:
        return LEFT + offset / span * plot_width

    def y(rate: float) -> float:
        return TOP + PLOT_HEIGHT - rate * PLOT_HEIGHT

    middles = [
        (bucket.start.timestamp() - first + seconds / 2, bucket) for bucket in hit_rate.buckets
    ]
    dots = [
        Dot(
            x(offset),
            y(bucket.rate),
            f"{bucket.start:%Y-%m-%d %H:%M:%S} UTC: {bucket.hits} of {bucket.calls} calls",
        )
        for offset, bucket in middles
    ]
    every = max(1, math.ceil(span / seconds / 6)) * seconds
    label = BUCKET_LABELS[hit_rate.bucket]
    x_ticks = [
        Tick(x(offset), f"{datetime.fromtimestamp(first + offset, UTC):{label}}")
        for offset in range(0, int(span), every)
    ]
    axes = _axes(x_ticks, [Tick(y(rate), f"{rate:.0%}") for rate in (0, 0.25, 0.5, 0.75, 1)])
    return HitRateFigure(
        axes,
        f"time (UTC), per {hit_rate.bucket}",
        "cache hit rate (%)",
        rate_line=" ".join(f"{dot.cx:.1f},{dot.cy:.1f}" for dot in dots),
        cumulative_line=" ".join(
            f"{x(offset):.1f},{y(bucket.cumulative_rate):.1f}" for offset, bucket in middles
        ),
        dots=dots,
    )


# --- heatmap: atom type × precision -----------------------------------------------------


@dataclass(frozen=True)
class HeatRect:
    x: float
    y: float
    width: float
    height: float
    css: str
    text: str
    title: str

    @property
    def text_x(self) -> float:
        return self.x + self.width / 2

    @property
    def text_y(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    title: str


@dataclass(frozen=True)
class HeatmapFigure:
    width: float
    height: float
    rects: list[HeatRect]
    rows: list[Label]
    columns: list[Label]


ROW_LABELS, COLUMN_LABELS, HALF, GAP = 96, 96, 22, 6
LABEL_OVERHANG = 80
"""The last column's task name, slanted, runs past its cell."""
HEAT_STEPS = 5


def heat_class(rate: float | None) -> str:
    """One of five colour steps (0–20 %, …, 80–100 %), or none for nothing counted."""
    if rate is None:
        return "heat-none"
    return f"heat-{min(int(rate * HEAT_STEPS), HEAT_STEPS - 1)}"


def heatmap_figure(heatmap: Heatmap) -> HeatmapFigure | None:
    """A cell per language × task, split: L1 pass rate above, acceptance pass below. None
    when no cell has anything counted yet."""
    if not any(cell.validations or cell.acceptance_atoms for cell in heatmap.cells):
        return None
    columns = max(len(heatmap.tasks), 1)
    cell_width = max(min(140.0, (WIDTH - ROW_LABELS - LABEL_OVERHANG) / columns), 64.0)
    width = max(WIDTH, ROW_LABELS + columns * cell_width + LABEL_OVERHANG)
    row_height = 2 * HALF + GAP
    cells = {(cell.language, cell.task): cell for cell in heatmap.cells}
    rects: list[HeatRect] = []
    for row, language in enumerate(heatmap.languages):
        for column, task in enumerate(heatmap.tasks):
            cell = cells.get((language, task))
            if cell is not None:
                left = ROW_LABELS + column * cell_width + 2
                top = COLUMN_LABELS + row * row_height
                rects += _heat_halves(cell, left, top, cell_width - 4)
    rows = [
        Label(ROW_LABELS - 8, COLUMN_LABELS + index * row_height + HALF + 4, language, language)
        for index, language in enumerate(heatmap.languages)
    ]
    column_labels = [
        Label(ROW_LABELS + (index + 0.5) * cell_width, COLUMN_LABELS - 8, _clip(task), task)
        for index, task in enumerate(heatmap.tasks)
    ]
    height = COLUMN_LABELS + len(heatmap.languages) * row_height + GAP
    return HeatmapFigure(width, height, rects, rows, column_labels)


def _heat_halves(cell: HeatCell, left: float, top: float, width: float) -> list[HeatRect]:
    where = f"{cell.language} × {cell.task}"
    return [
        HeatRect(
            left, top, width, HALF, heat_class(cell.l1_pass_rate),
            f"L1 {_percent(cell.l1_pass_rate)}",
            f"{where}: L1 passed {cell.validations_passed} of {cell.validations} validations; "
            f"first answer passed in {cell.first_try_passed} of {cell.answered_executions} "
            "executions",
        ),
        HeatRect(
            left, top + HALF, width, HALF, heat_class(cell.acceptance_rate),
            f"acc. {_percent(cell.acceptance_rate)}",
            f"{where}: {cell.acceptance_passed} of {cell.acceptance_atoms} atoms passed every "
            f"acceptance test that imports them ({cell.atoms} atoms in all)",
        ),
    ]  # fmt: skip


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _clip(text: str, length: int = 18) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --- timeline of each wave's executions -------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class TimelineFigure(Figure):
    bars: list[Bar]


RUN_CLASSES = {
    "completed": "run-completed",
    "failed": "run-failed",
    "abandoned": "run-failed",
    "blocked": "run-failed",
    "running": "run-open",
}
"""An execution's bar by its status; the others (waiting, released, requires review) are
`run-other`."""


def _run_title(execution: TimelineExecution) -> str:
    end = "still running" if execution.end_s is None else f"{execution.end_s:.3f} s"
    return (
        f"{execution.atom_name} #{execution.execution} {execution.status}: "
        f"{execution.start_s:.3f} s → {end}"
    )


UNITS = [("s", 1.0), ("min", 60.0), ("h", 3600.0)]


def timeline_figure(waves: list[WaveTimeline]) -> TimelineFigure | None:
    """A band per wave, a bar per execution from its start to its end (an open one to the
    latest time known). None without executions."""
    if not waves:
        return None
    latest = max(
        execution.start_s if execution.end_s is None else execution.end_s
        for wave in waves
        for execution in wave.executions
    )
    unit, per = next(((name, size) for name, size in reversed(UNITS) if latest >= 10 * size),
                     UNITS[0])  # fmt: skip
    x_values = _ticks(latest / per)
    span = x_values[-1] * per
    bands = [min(max(6 * len(wave.executions), 24), 96) for wave in waves]
    plot_height = sum(bands)

    def x(seconds: float) -> float:
        return LEFT + seconds / span * (WIDTH - LEFT - RIGHT)

    bars: list[Bar] = []
    y_ticks: list[Tick] = []
    top = TOP
    for wave, band in zip(waves, bands, strict=True):
        y_ticks.append(
            Tick(top + band / 2, "no wave" if wave.wave is None else f"wave {wave.wave}")
        )
        row = (band - 4) / len(wave.executions)
        for index, execution in enumerate(wave.executions):
            end = execution.end_s if execution.end_s is not None else latest
            bars.append(
                Bar(
                    x(execution.start_s),
                    top + 2 + index * row,
                    max(x(end) - x(execution.start_s), 2.0),
                    max(row - 1, 1.0),
                    RUN_CLASSES.get(execution.status, "run-other"),
                    _run_title(execution),
                )
            )
        top += band
    x_ticks = [Tick(x(value * per), f"{value:g} {unit}") for value in x_values]
    axes = _axes(x_ticks, y_ticks, plot_height)
    return TimelineFigure(
        axes, f"time since the plan's first execution started ({unit})", "wave", bars
    )
