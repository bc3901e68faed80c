"""`/caching/`: the caches' figures, their hit rate over time and the keys with the most
hits, overall or for one masterplan (`?masterplan=<id>`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from redis.exceptions import RedisError

from caching import counters
from caching.charts import hit_rate_chart
from caching.snapshots import COMBINED, Interval, series
from execution.models import Atom, MasterPlan
from mge_site.http import HtmxHttpRequest

RANGES = {"1h": 1, "24h": 24, "7d": 7 * 24}
KIND_NAMES = {
    "llm_response": "LLM responses",
    "retrieval": "retrieval (atom context)",
    COMBINED: "all caches",
}
TOP_KEYS_SHOWN = 20


@login_required
@permission_required("execution.view_masterplan", raise_exception=True)
def cache_stats(request: HtmxHttpRequest) -> HttpResponse:
    masterplan = _masterplan(request.GET.get("masterplan"))
    span = request.GET.get("range", "24h")
    if span not in RANGES:
        return HttpResponseBadRequest(f"range must be one of {', '.join(RANGES)} (got {span!r})")
    end = timezone.now()
    start = end - dt.timedelta(hours=RANGES[span])
    masterplan_id = None if masterplan is None else str(masterplan.pk)
    intervals = series(masterplan_id, start)
    if "csv" in request.GET:
        return _csv_download(intervals, masterplan)
    context = {
        "masterplan": masterplan,
        "range": span,
        "ranges": list(RANGES),
        "chart": hit_rate_chart(intervals, start, end),
        "legend": [(kind, KIND_NAMES[kind]) for kind in intervals],
        "table": interval_rows(intervals),
        "snapshot_count": sum(len(rows) for kind, rows in intervals.items() if kind != COMBINED),
        **live_figures(masterplan_id),
    }
    template = "caching/_cache_live.html" if request.htmx else "caching/cache.html"
    return render(request, template, context)


def _masterplan(value: str | None) -> MasterPlan | None:
    if value is None:
        return None
    try:
        return MasterPlan.objects.get(pk=uuid.UUID(value))
    except (ValueError, MasterPlan.DoesNotExist):
        raise Http404(f"No masterplan {value!r}.") from None


def live_figures(masterplan_id: str | None) -> dict[str, Any]:
    """The counters and the top keys as Redis has them now; Redis down is said, not a 500."""
    try:
        figures = counters.all_stats(masterplan_id)
        top = {
            kind: counters.top_keys(kind, masterplan_id, TOP_KEYS_SHOWN) for kind in counters.KINDS
        }
    except RedisError as error:
        return {"figures": [], "top_keys": [], "redis_error": str(error)}
    return {
        "figures": [{"kind": kind, "name": KIND_NAMES[kind], **figures[kind]} for kind in figures],
        "top_keys": [(KIND_NAMES[kind], keys) for kind, keys in described(top).items()],
        "redis_error": None,
    }


def described(top: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Each key's atom by name, read in one query (the label keeps only its id), and the
    rest of its label in a line."""
    ids = set()
    for keys in top.values():
        for entry in keys:
            try:
                ids.add(uuid.UUID(entry["label"].get("atom_id", "")))
            except ValueError:
                continue
    names = {
        str(pk): name for pk, name in Atom.objects.filter(pk__in=ids).values_list("pk", "name")
    }
    for keys in top.values():
        for entry in keys:
            label = entry["label"]
            entry["atom"] = names.get(label.get("atom_id", ""))
            entry["summary"] = " · ".join(
                value for name, value in label.items() if name not in ("atom_id", "prompt")
            )
    return top


@dataclass(frozen=True)
class Row:
    kind: str
    interval: Interval

    @property
    def name(self) -> str:
        return KIND_NAMES[self.kind]


def interval_rows(intervals: dict[str, list[Interval]]) -> list[Row]:
    """The chart's points as a table: the intervals with requests, latest first."""
    rows = [
        Row(kind, interval)
        for kind, kind_intervals in intervals.items()
        for interval in kind_intervals
        if interval.requests
    ]
    return sorted(rows, key=lambda row: row.interval.end, reverse=True)


def _csv_download(
    intervals: dict[str, list[Interval]], masterplan: MasterPlan | None
) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "start_utc", "end_utc", "hits", "misses", "hit_rate", "saved_usd"])
    for kind, kind_intervals in intervals.items():
        for i in kind_intervals:
            rate = "" if i.hit_rate is None else i.hit_rate
            row = [
                kind,
                i.start.isoformat(),
                i.end.isoformat(),
                i.hits,
                i.misses,
                rate,
                i.saved_usd,
            ]
            writer.writerow(row)
    plan = "all" if masterplan is None else slugify(masterplan.name) or str(masterplan.pk)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cache-hit-rate-{plan}.csv"'
    return response
