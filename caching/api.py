"""`/api/v2/caching/stats`: the LLM response cache's hits, misses and the cost saved."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching.llm_cache import stats
from execution.api.runs import ServiceUnavailable, requires
from execution.models import MasterPlan


class CacheStatsView(APIView):
    """Overall, or for one masterplan (`?masterplan=<id>`); by cache kind."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        parameters=[OpenApiParameter("masterplan", str, description="a masterplan's id")],
        responses={200: OpenApiResponse(description="hits, misses, hit_rate, saved_usd per kind")},
    )
    def get(self, request: Request) -> Response:
        masterplan_id = request.query_params.get("masterplan")
        if masterplan_id is not None:
            try:
                uuid.UUID(masterplan_id)
            except ValueError:
                raise ValidationError({"masterplan": ["not a masterplan id (a UUID)"]}) from None
            masterplan_id = str(get_object_or_404(MasterPlan, pk=masterplan_id).pk)
        try:
            figures = stats(masterplan_id)
        except RedisError as error:
            raise ServiceUnavailable(f"the cache (Redis) is not reachable: {error}") from None
        return Response({"masterplan_id": masterplan_id, "kinds": {"llm_response": figures}})
