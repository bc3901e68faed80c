"""The trace dashboard, of one masterplan (`/masterplans/<id>/traces/`) or of every plan
(`/traces/`): four charts, each with a table of its figures and its data as CSV
(`?csv=scatter|hit_rate|heatmap|timeline`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.text import slugify

from execution.models import MasterPlan
from tracing.correlations import (
    MAX_BUCKETS,
    Correlation,
    Heatmap,
    HitRate,
    Scatter,
    WaveTimeline,
    correlation,
)
from tracing.pages.correlation_charts import (
    heatmap_figure,
    hit_rate_figure,
    scatter_figure,
    timeline_figure,
)


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def plan_dashboard(request: HttpRequest, masterplan_id: UUID) -> HttpResponse:
    return _dashboard(request, get_object_or_404(MasterPlan, pk=masterplan_id))


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def all_dashboard(request: HttpRequest) -> HttpResponse:
    return _dashboard(request, None)


def _dashboard(request: HttpRequest, masterplan: MasterPlan | None) -> HttpResponse:
    data = correlation(masterplan)
    panel = request.GET.get("csv")
    if panel is not None:
        if panel not in CSV:
            raise Http404(f"csv must be one of {', '.join(CSV)} (got {panel!r})")
        return _csv_download(data, panel, masterplan)
    return render(
        request,
        "tracing/dashboard.html",
        {
            "masterplan": masterplan,
            "data": data,
            "scatter": scatter_figure(data.scatter),
            "hit_rate": hit_rate_figure(data.hit_rate),
            "heatmap": heatmap_figure(data.heatmap),
            "timeline": timeline_figure(data.timeline),
            "tables": {
                "scatter": scatter_table(data.scatter),
                "hit_rate": hit_rate_table(data.hit_rate),
                "heatmap": heatmap_table(data.heatmap),
                "timeline": timeline_table(data.timeline),
            },
            "hit_rate_overall": _percent(data.hit_rate.rate),
            "max_buckets": MAX_BUCKETS,
        },
    )


# --- the tables under the charts (figures as the page shows them) -----------------------


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _of(part: int, whole: int) -> str:
    return f"{part} of {whole}" if whole else "—"


def scatter_table(scatter: Scatter) -> Table:
    """Executions per complexity (rows) and number of retries (columns)."""
    retries = sorted({count.retries for count in scatter.counts})
    cells = {(count.complexity, count.retries): count.executions for count in scatter.counts}
    rows = [
        [row.complexity, str(row.executions),
         "—" if row.mean_retries is None else f"{row.mean_retries:.2f}"]
        + [str(cells.get((row.complexity, value), 0)) for value in retries]
        for row in scatter.by_complexity
    ]  # fmt: skip
    header = ["complexity", "executions", "mean retries"]
    return Table(header + [f"{value} retries" for value in retries], rows)


def hit_rate_table(hit_rate: HitRate) -> Table:
    return Table(
        ["bucket start (UTC)", "answered LLM calls", "cache hits", "hit rate", "cumulative"],
        [
            [f"{bucket.start:%Y-%m-%d %H:%M:%S}", str(bucket.calls), str(bucket.hits),
             _percent(bucket.rate), _percent(bucket.cumulative_rate)]
            for bucket in hit_rate.buckets
        ],
    )  # fmt: skip


def heatmap_table(heatmap: Heatmap) -> Table:
    return Table(
        ["language", "task", "atoms", "executions", "L1 passed", "L1 pass rate",
         "first answer passed", "first-try rate", "acceptance passed", "acceptance rate"],
        [
            [cell.language, cell.task, str(cell.atoms), str(cell.executions),
             _of(cell.validations_passed, cell.validations), _percent(cell.l1_pass_rate),
             _of(cell.first_try_passed, cell.answered_executions), _percent(cell.first_try_rate),
             _of(cell.acceptance_passed, cell.acceptance_atoms), _percent(cell.acceptance_rate)]
            for cell in heatmap.cells
        ],
    )  # fmt: skip


def timeline_table(waves: list[WaveTimeline]) -> Table:
    return Table(
        ["wave", "executions", "first start (s)", "last end (s)", "events by kind"],
        [
            ["—" if wave.wave is None else str(wave.wave), str(len(wave.executions)),
             f"{wave.start_s:.3f}", "running" if wave.end_s is None else f"{wave.end_s:.3f}",
             " · ".join(f"{kind} {count}" for kind, count in wave.events.items())]
            for wave in waves
        ],
    )  # fmt: skip


# --- CSV downloads (the figures as the API gives them) ---------------------------------


def _scatter_rows(data: Correlation) -> list[list[Any]]:
    header = ["masterplan", "atom", "atom_name", "execution", "complexity", "complexity_position",
              "retries"]  # fmt: skip
    return [header] + [
        [point.masterplan, point.atom, point.atom_name, point.execution, point.complexity,
         point.x, point.retries]
        for point in data.scatter.points
    ]  # fmt: skip


def _hit_rate_rows(data: Correlation) -> list[list[Any]]:
    header = ["bucket_start_utc", "bucket", "calls", "hits", "rate", "cumulative_calls",
              "cumulative_hits", "cumulative_rate"]  # fmt: skip
    return [header] + [
        [bucket.start.isoformat(), data.hit_rate.bucket, bucket.calls, bucket.hits, bucket.rate,
         bucket.cumulative_calls, bucket.cumulative_hits, bucket.cumulative_rate]
        for bucket in data.hit_rate.buckets
    ]  # fmt: skip


def _heatmap_rows(data: Correlation) -> list[list[Any]]:
    header = ["language", "task", "atoms", "executions", "validations", "validations_passed",
              "l1_pass_rate", "answered_executions", "first_try_passed", "first_try_rate",
              "acceptance_atoms", "acceptance_passed", "acceptance_rate"]  # fmt: skip
    return [header] + [
        [cell.language, cell.task, cell.atoms, cell.executions, cell.validations,
         cell.validations_passed, cell.l1_pass_rate, cell.answered_executions,
         cell.first_try_passed, cell.first_try_rate, cell.acceptance_atoms,
         cell.acceptance_passed, cell.acceptance_rate]
        for cell in data.heatmap.cells
    ]  # fmt: skip


def _timeline_rows(data: Correlation) -> list[list[Any]]:
    header = ["wave", "masterplan", "atom", "atom_name", "execution", "status", "start_s",
              "end_s"]  # fmt: skip
    return [header] + [
        [wave.wave, execution.masterplan, execution.atom, execution.atom_name,
         execution.execution, execution.status, execution.start_s, execution.end_s]
        for wave in data.timeline
        for execution in wave.executions
    ]  # fmt: skip


CSV: dict[str, Callable[[Correlation], list[list[Any]]]] = {
    "scatter": _scatter_rows,
    "hit_rate": _hit_rate_rows,
    "heatmap": _heatmap_rows,
    "timeline": _timeline_rows,
}


def _csv_download(data: Correlation, panel: str, masterplan: MasterPlan | None) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in CSV[panel](data):
        writer.writerow("" if value is None else value for value in row)
    plan = "all" if masterplan is None else slugify(masterplan.name) or str(masterplan.pk)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="traces-{plan}-{panel}.csv"'
    return response
