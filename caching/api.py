"""`/api/v2/caching/…`: the caches' figures (stats), their hit rate over time (series, from
the scheduler's snapshots) and the keys with the most hits (top-keys)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching import counters
from caching.snapshots import COMBINED, Interval, series
from execution.api.runs import ServiceUnavailable, requires
from execution.models import MasterPlan
from mge_site.query import one_of, read_query

PERMISSION = "execution.view_masterplan"
MAX_HOURS = 7 * 24
"""A week of minutes: some 10,000 intervals per kind."""
NOT_FOUND = OpenApiResponse(description="No masterplan with that id (the answer names it)")
UNAVAILABLE = OpenApiResponse(description="Redis, where the counters are, does not answer")


def masterplan_param() -> serializers.UUIDField:
    return serializers.UUIDField(required=False, help_text="One masterplan's figures.")


def masterplan_of(query: dict[str, Any]) -> str | None:
    """The plan asked for, if any; an unknown one is a 404 that names it."""
    if "masterplan" not in query:
        return None
    if not MasterPlan.objects.filter(pk=query["masterplan"]).exists():
        raise NotFound(f"No masterplan {query['masterplan']}.")
    return str(query["masterplan"])


def redis_down(error: RedisError) -> ServiceUnavailable:
    return ServiceUnavailable(f"the cache (Redis) is not reachable: {error}")


def _rate() -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, min_value=0, max_value=1)


class FiguresSerializer(serializers.Serializer):
    hits = serializers.IntegerField()
    misses = serializers.IntegerField()
    hit_rate = _rate()
    saved_usd = serializers.CharField(help_text="USD, a decimal string.")
    bytes_stored = serializers.IntegerField()
    too_large = serializers.IntegerField(help_text="Answers over the size limit, not kept.")


class StatsQuery(serializers.Serializer):
    masterplan = masterplan_param()


class CacheStatsView(APIView):
    """Overall, or for one masterplan (`?masterplan=<id>`); by cache kind and combined."""

    permission_classes = [IsAuthenticated, requires(PERMISSION)]

    @extend_schema(
        parameters=[StatsQuery],
        responses={
            200: inline_serializer(
                "CacheStats",
                {
                    "masterplan_id": serializers.UUIDField(allow_null=True),
                    "kinds": inline_serializer(
                        "CacheStatsKinds",
                        {kind: FiguresSerializer() for kind in (*counters.KINDS, COMBINED)},
                    ),
                },
            ),
            404: NOT_FOUND,
            503: UNAVAILABLE,
        },
    )
    def get(self, request: Request) -> Response:
        masterplan_id = masterplan_of(read_query(request, StatsQuery))
        try:
            figures = counters.all_stats(masterplan_id)
        except RedisError as error:
            raise redis_down(error) from None
        return Response({"masterplan_id": masterplan_id, "kinds": figures})


class IntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="The earlier snapshot, UTC.")
    end = serializers.DateTimeField(help_text="The later snapshot, UTC.")
    hits = serializers.IntegerField()
    misses = serializers.IntegerField()
    hit_rate = _rate()
    saved_usd = serializers.CharField(help_text="USD, a decimal string.")


class SeriesQuery(serializers.Serializer):
    kind = one_of(
        [(kind, kind) for kind in (*counters.KINDS, COMBINED)],
        "One kind's intervals (all kinds and combined without it).",
    )
    masterplan = masterplan_param()
    hours = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_HOURS, help_text="The last hours (24)."
    )


class CacheSeriesView(APIView):
    """The hit rate over time: an interval per pair of consecutive snapshots (the scheduler
    takes one a minute), with its hits, misses, rate (null without requests) and cost
    saved; a reset of the counters starts again from the new totals."""

    permission_classes = [IsAuthenticated, requires(PERMISSION)]

    @extend_schema(
        parameters=[SeriesQuery],
        responses={
            200: inline_serializer(
                "CacheSeries",
                {
                    "masterplan_id": serializers.UUIDField(allow_null=True),
                    "since": serializers.DateTimeField(),
                    "kinds": serializers.DictField(child=IntervalSerializer(many=True)),
                },
            ),
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request) -> Response:
        query = read_query(request, SeriesQuery)
        masterplan_id = masterplan_of(query)
        since = timezone.now() - dt.timedelta(hours=query.get("hours", 24))
        kinds = series(masterplan_id, since)
        if "kind" in query:
            kinds = {query["kind"]: kinds[query["kind"]]}
        return Response(
            {
                "masterplan_id": masterplan_id,
                "since": since,
                "kinds": {kind: [interval_json(i) for i in rows] for kind, rows in kinds.items()},
            }
        )


def interval_json(interval: Interval) -> dict[str, Any]:
    return {
        "start": interval.start,
        "end": interval.end,
        "hits": interval.hits,
        "misses": interval.misses,
        "hit_rate": interval.hit_rate,
        "saved_usd": str(interval.saved_usd),
    }


TopKeySerializer = inline_serializer(
    "CacheTopKey",
    {
        "key": serializers.CharField(),
        "hits": serializers.IntegerField(),
        "label": serializers.DictField(
            child=serializers.CharField(),
            help_text="What the key was stored for (llm_response: purpose, model, atom_id, "
            "prompt — its `Atom:` line or first line); empty once the entry expired.",
        ),
    },
)


class TopKeysQuery(serializers.Serializer):
    kind = one_of([(kind, kind) for kind in counters.KINDS], "One kind (every kind without it).")
    masterplan = masterplan_param()
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=100, help_text="Keys per kind (20)."
    )


class CacheTopKeysView(APIView):
    """The keys with the most hits per kind, most first (overall or for one plan)."""

    permission_classes = [IsAuthenticated, requires(PERMISSION)]

    @extend_schema(
        parameters=[TopKeysQuery],
        responses={
            200: inline_serializer(
                "CacheTopKeys",
                {
                    "masterplan_id": serializers.UUIDField(allow_null=True),
                    "kinds": serializers.DictField(
                        child=serializers.ListField(child=TopKeySerializer)
                    ),
                },
            ),
            404: NOT_FOUND,
            503: UNAVAILABLE,
        },
    )
    def get(self, request: Request) -> Response:
        query = read_query(request, TopKeysQuery)
        masterplan_id = masterplan_of(query)
        kinds = [query["kind"]] if "kind" in query else list(counters.KINDS)
        try:
            top = {
                kind: counters.top_keys(kind, masterplan_id, query.get("limit", 20))
                for kind in kinds
            }
        except RedisError as error:
            raise redis_down(error) from None
        return Response({"masterplan_id": masterplan_id, "kinds": top})
