"""`/api/v2/caching/stats`: the LLM response cache's hits, misses and the cost saved."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching.counters import all_stats
from execution.api.runs import ServiceUnavailable, requires
from execution.models import MasterPlan
from mge_site.query import read_query


class StatsQuery(serializers.Serializer):
    masterplan = serializers.UUIDField(required=False, help_text="One masterplan's figures.")


class CacheStatsView(APIView):
    """Overall, or for one masterplan (`?masterplan=<id>`); by cache kind."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        parameters=[StatsQuery],
        responses={
            200: OpenApiResponse(description="hits, misses, hit_rate, saved_usd per kind"),
            404: OpenApiResponse(description="No masterplan with that id"),
        },
    )
    def get(self, request: Request) -> Response:
        query = read_query(request, StatsQuery)
        masterplan_id = None
        if "masterplan" in query:
            masterplan_id = str(get_object_or_404(MasterPlan, pk=query["masterplan"]).pk)
        try:
            figures = all_stats(masterplan_id)
        except RedisError as error:
            raise ServiceUnavailable(f"the cache (Redis) is not reachable: {error}") from None
        return Response({"masterplan_id": masterplan_id, "kinds": figures})
